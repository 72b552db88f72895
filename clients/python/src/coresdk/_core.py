"""The sans-I/O core that :class:`~coresdk.CoreSDKClient` and :class:`~coresdk.AsyncCoreSDKClient` share.

Everything a call decides lives here, once: request building and checks,
the deadline, retries with jittered backoff (UNAVAILABLE without the
sidecar's ErrorInfo only), the circuit breaker, the mapping of gRPC statuses
to :class:`CoreSDKError`, result mapping, and the fail mode. Nothing here
does I/O.

Each client operation is a generator (an :data:`Op`) that yields the I/O it
needs as *effects*: :class:`Attempt` (send one RPC with this much time left)
and :class:`Sleep` (wait before a retry). A transport runs it
(:func:`run_sync` with blocking gRPC and ``time.sleep``,
:func:`run_async` with ``grpc.aio`` and ``asyncio.sleep``): it performs each
effect and sends the response back into the generator, or throws the
exception the effect raised into it (the core maps gRPC errors, and frees the
breaker's probe for anything else, a cancellation or an interrupt, before
re-raising it). The operation's return value is the call's result.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import grpc
import grpc.aio

from ._breaker import CircuitBreaker
from ._native import Engine
from ._proto.v1 import coresdk_pb2 as pb
from ._status import sidecar_error_info
from .config import SDKConfig
from .errors import CoreSDKError, to_code
from .results import AuthorizeResult, BatchResult, ClientStats, Decision, HealthStatus, IsAllowedResult

_log = logging.getLogger("coresdk")

DEFAULT_QUERY: Final = "data.authz.allow"
"""The query of :meth:`CoreSDKClient.authorize` when none is given."""
HEALTH: Final = "Health"
"""The :attr:`Attempt.rpc` of a ``grpc.health.v1.Health/Check`` call (every other name is a ``CoreSDK`` method)."""
HEALTH_CHECK: Final = "/grpc.health.v1.Health/Check"
"""The health method's full name."""
MAX_MESSAGE: Final = 16 * 1024 * 1024
"""gRPC's message size limit, both ways."""
_WARN_EVERY_S: Final = 10.0
_HEALTH: Final = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

T = TypeVar("T")


# ---------------------------------------------------------------- effects


@dataclass(frozen=True)
class Attempt:
    """Effect: send ``request`` to the sidecar's ``rpc`` method with ``timeout`` seconds left.

    The transport sends the response back into the operation, or throws in
    the exception the call raised.
    """

    rpc: str
    """A ``CoreSDK`` method name (``Authorize``, ``EvaluatePolicy``...) or :data:`HEALTH`."""
    request: object
    """The request message (``None`` for the health check)."""
    timeout: float
    """Seconds left before the call's deadline."""


@dataclass(frozen=True)
class Sleep:
    """Effect: wait ``seconds`` before the next attempt (the retry backoff)."""

    seconds: float
    """How long."""


Effect = Attempt | Sleep
"""What an operation asks its transport to do."""

Op = Generator[Effect, Any, T]
"""A client operation: yields effects, receives their results, returns the call's result."""


def run_sync(op: Op[T], attempt: Callable[[Attempt], Any]) -> T:
    """Runs ``op`` with blocking I/O: ``attempt`` sends one RPC, ``time.sleep`` waits."""
    sent: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = op.send(sent) if error is None else op.throw(error)
        except StopIteration as done:
            return cast("T", done.value)
        sent, error = None, None
        try:
            if isinstance(effect, Sleep):
                time.sleep(effect.seconds)
            else:
                sent = attempt(effect)
        except BaseException as e:  # noqa: BLE001 - thrown into the operation, which re-raises what is not a gRPC error
            error = e


async def run_async(op: Op[T], attempt: Callable[[Attempt], Awaitable[Any]]) -> T:
    """Runs ``op`` on the running event loop: ``attempt`` sends one RPC, ``asyncio.sleep`` waits."""
    sent: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = op.send(sent) if error is None else op.throw(error)
        except StopIteration as done:
            return cast("T", done.value)
        sent, error = None, None
        try:
            if isinstance(effect, Sleep):
                await asyncio.sleep(effect.seconds)
            else:
                sent = await attempt(effect)
        except BaseException as e:  # noqa: BLE001 - thrown into the operation (a cancellation is re-raised there)
            error = e


# ---------------------------------------------------------------- helpers


def is_local(addr: str) -> bool:
    """Whether ``addr`` is a unix socket or a loopback address (where plaintext is allowed)."""
    if addr.startswith("unix:"):
        return True
    host = addr[1 : addr.find("]")] if addr.startswith("[") else addr.rsplit(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path: str, key: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CoreSDKError("ERR_CONFIG", f"{key}: cannot read {path}: {e.strerror or e}") from None


def _to_json(value: object) -> str:
    """Serializes a policy input; refuses what JSON cannot carry with a typed error."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise CoreSDKError("ERR_INPUT_TOO_DEEP", "input nested too deeply to serialize") from None
    except (TypeError, ValueError) as e:
        reason = str(e).split("\n")[0]
        raise CoreSDKError("ERR_INPUT_INVALID", f"invalid input: {reason}") from None


def _from_json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        raise CoreSDKError("ERR_INTERNAL", "the sidecar answered with JSON that does not parse") from None


def health_request(_: object) -> bytes:
    """Serializes ``HealthCheckRequest{service: ""}``: every field at its default."""
    return b""


def health_response(data: bytes) -> str:
    """Parses ``HealthCheckResponse{status = 1 (enum)}``: one varint field, absent when UNKNOWN."""
    status = 0
    i = 0
    while i < len(data):
        key = data[i]
        i += 1
        if key == 0x08:
            n = shift = 0
            while i < len(data):
                b = data[i]
                i += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            status = n
        else:
            break
    return _HEALTH.get(status, "UNKNOWN")


# ---------------------------------------------------------------- the shared state


class State:
    """What the sync and asyncio facets of one client share: config, channel settings, breaker, counters."""

    def __init__(self, config: SDKConfig) -> None:
        """Checks the TLS setup (``ERR_CONFIG``) and makes the channel options and credentials."""
        self.config = config
        cfg = config
        self.options: list[tuple[str, Any]] = [
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
            # Retries are ours (UNAVAILABLE only, bounded by the call's deadline).
            ("grpc.enable_retries", 0),
            # A local sidecar that restarts is back within a second or two, not after gRPC's 120 s
            # ceiling. (Not grpc.min_reconnect_backoff_ms: it is also the connect timeout, and a
            # short one would turn a slow handshake into UNAVAILABLE instead of a deadline.)
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2_000),
        ]
        self.engine: Engine | None = None
        """In-process mode: the engine that answers every call."""
        self.owns_engine = False
        """Whether the client made :attr:`engine` (and closes it)."""
        self.credentials: grpc.ChannelCredentials | None = None
        if cfg.mode == "in-process":
            self.owns_engine = cfg.engine is None
            self.engine = cfg.engine if cfg.engine is not None else Engine.from_env()
        elif cfg.sidecar_addr.startswith("unix:"):
            # grpcio sends the socket path as :authority, which the sidecar's HTTP/2 server refuses
            # (RST_STREAM, PROTOCOL_ERROR); name the local host instead, as grpc-js does.
            self.options.append(("grpc.default_authority", "localhost"))
        if self.engine is not None:
            pass  # no channel: the TLS settings and the address are not read
        elif cfg.uses_tls:
            if cfg.tls_ca_file is None or cfg.tls_cert_file is None or cfg.tls_key_file is None:
                raise CoreSDKError(
                    "ERR_CONFIG",
                    "CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE and CORESDK_TLS_KEY_FILE go together: "
                    "the sidecar requires a client certificate",
                )
            self.credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(cfg.tls_ca_file, "CORESDK_TLS_CA_FILE"),
                private_key=_read(cfg.tls_key_file, "CORESDK_TLS_KEY_FILE"),
                certificate_chain=_read(cfg.tls_cert_file, "CORESDK_TLS_CERT_FILE"),
            )
            if cfg.tls_server_name is not None:
                self.options.append(("grpc.ssl_target_name_override", cfg.tls_server_name))
        elif not is_local(cfg.sidecar_addr):
            raise CoreSDKError(
                "ERR_CONFIG",
                f"CORESDK_SIDECAR_ADDR: {cfg.sidecar_addr} is not loopback; the sidecar there needs mutual TLS "
                "(set CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE, CORESDK_TLS_KEY_FILE)",
            )
        self.breaker = CircuitBreaker(cfg.breaker_failure_threshold, cfg.breaker_reset_ms)
        self.lock = threading.Lock()
        self.fail_open = 0
        self.fail_closed = 0
        self.last_warn = -_WARN_EVERY_S
        self.closed = False

    def close_engine(self) -> None:
        """Closes the in-process engine if the client made it."""
        if self.engine is not None and self.owns_engine:
            self.engine.close()

    def check(self) -> None:
        """Raises ``ERR_ENGINE_CLOSED`` once the client is closed."""
        if self.closed:
            raise CoreSDKError("ERR_ENGINE_CLOSED", "the client is closed")

    def tenant(self, tenant_id: str | None) -> str:
        """The tenant a call names: ``tenant_id``, else the configured one."""
        if tenant_id is None:
            return self.config.tenant_id
        if not isinstance(tenant_id, str):
            raise CoreSDKError("ERR_TENANT_INVALID", "tenant_id must be a string")
        return tenant_id

    def budget_s(self, timeout_ms: int | None) -> float:
        """A call's whole budget in seconds: ``timeout_ms``, else the configured one."""
        if timeout_ms is None:
            return self.config.timeout_ms / 1000
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise CoreSDKError("ERR_CONFIG", f"timeout_ms: must be a positive integer, got {timeout_ms!r}")
        return timeout_ms / 1000

    def degrade(self, e: CoreSDKError) -> AuthorizeResult:
        """The fail mode, for a transport failure."""
        if self.config.fail_mode == "open":
            with self.lock:
                self.fail_open += 1
                n = self.fail_open
                now = time.monotonic()
                warn = now - self.last_warn >= _WARN_EVERY_S
                if warn:
                    self.last_warn = now
            if warn:
                msg = f'coresdk: sidecar unreachable ({e.code}); fail_mode "open" is allowing requests with null claims ({n} so far)'
                try:
                    (self.config.warn or _log.warning)(msg)
                except Exception:  # noqa: BLE001 - a broken warn hook must not fail the request
                    _log.exception("coresdk: the warn callback raised")
            return AuthorizeResult(allowed=True, reason="fail-open", claims=None, error=e, degraded=True)
        with self.lock:
            self.fail_closed += 1
        return AuthorizeResult(allowed=False, reason=e.code, claims=None, error=e)

    def stats(self) -> ClientStats:
        """The fail-mode counters and the breaker's state."""
        with self.lock:
            return ClientStats(fail_open=self.fail_open, fail_closed=self.fail_closed, breaker=self.breaker.state)


# ---------------------------------------------------------------- one call: deadline, retries, breaker


def _classify(state: State, e: grpc.RpcError | grpc.aio.AioRpcError, budget_s: float) -> CoreSDKError | None:
    """Maps a failed attempt to the error to raise, or ``None`` for "UNAVAILABLE, may retry"."""
    code: grpc.StatusCode = e.code()
    details: str = e.details() or ""
    info = sidecar_error_info(e.trailing_metadata())
    if info is not None:
        state.breaker.on_success()
        return CoreSDKError(to_code(info.reason), details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        state.breaker.on_failure()
        return CoreSDKError("ERR_SIDECAR_TIMEOUT", f"the sidecar did not answer within {round(budget_s * 1000)} ms")
    if code == grpc.StatusCode.UNAVAILABLE:
        return None
    state.breaker.on_success()
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        # No ErrorInfo: refused by gRPC itself (client- or server-side message size limit).
        return CoreSDKError("ERR_MESSAGE_TOO_LARGE", f"the message is over a gRPC size limit: {details}")
    if code == grpc.StatusCode.CANCELLED:
        return CoreSDKError("ERR_ABORTED", "the call was cancelled")
    return CoreSDKError("ERR_INTERNAL", f"unexpected gRPC status {code.name}: {details}")


def call(state: State, rpc: str, request: object, timeout_ms: int | None) -> Op[Any]:
    """One RPC within its deadline: bounded retries with full-jitter backoff, under the circuit breaker.

    Only UNAVAILABLE without the sidecar's ErrorInfo is retried; any status
    carrying it is an answer (a success for the breaker). Raises
    :class:`CoreSDKError`; an exception that is not a gRPC error (a
    cancellation, an interrupt) frees the breaker's probe and propagates.
    """
    state.check()
    budget = state.budget_s(timeout_ms)
    breaker, cfg = state.breaker, state.config
    if not breaker.try_acquire():
        raise CoreSDKError("ERR_SIDECAR_UNAVAILABLE", "the sidecar is unreachable (circuit open after repeated failures)")
    deadline = time.monotonic() + budget
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            breaker.on_failure()
            raise CoreSDKError("ERR_SIDECAR_TIMEOUT", f"the sidecar did not answer within {round(budget * 1000)} ms")
        try:
            res = yield Attempt(rpc, request, remaining)
        except grpc.RpcError as e:
            err = _classify(state, e, budget)
            if err is not None:
                raise err from None
            backoff = random.random() * cfg.backoff_ms / 1000 * 2**attempt
            if attempt >= cfg.retries or time.monotonic() + backoff >= deadline:
                breaker.on_failure()
                raise CoreSDKError("ERR_SIDECAR_UNAVAILABLE", f"the sidecar is unreachable: {e.details() or ''}") from None
        except BaseException:
            breaker.release()  # interrupted or cancelled: says nothing about the sidecar
            raise
        else:
            breaker.on_success()
            return res
        try:
            yield Sleep(backoff)
        except BaseException:
            breaker.release()
            raise
        attempt += 1


# ---------------------------------------------------------------- the operations


def _failed(state: State, e: CoreSDKError) -> AuthorizeResult:
    if e.is_transport_failure:
        return state.degrade(e)
    return AuthorizeResult(allowed=False, reason=e.code, claims=None, error=e)


def _claims(text: str) -> dict[str, Any] | None:
    claims = _from_json(text)
    return claims if isinstance(claims, dict) else None


def authorize(
    state: State, token: str, query: str | None, input: Mapping[str, Any] | None, tenant_id: str | None, timeout_ms: int | None
) -> Op[AuthorizeResult]:
    """``Authorize``: never raises for a verdict; an unreachable sidecar follows the fail mode."""
    try:
        if not isinstance(token, str):
            raise CoreSDKError("ERR_TOKEN_MALFORMED", "the token must be a string")
        if input is not None and not isinstance(input, Mapping):
            raise CoreSDKError("ERR_INPUT_INVALID", "invalid input: authorize's input must be a mapping (a JSON object)")
        if query is not None and not isinstance(query, str):
            raise CoreSDKError("ERR_QUERY_INVALID", "the query must be a string")
        req = pb.AuthorizeRequest(
            tenant_id=state.tenant(tenant_id),
            token=token,
            query=DEFAULT_QUERY if query is None else query,
            input_json="" if input is None else _to_json(input),
        )
        res: pb.AuthorizeResponse = yield from call(state, "Authorize", req, timeout_ms)
        return AuthorizeResult(
            allowed=res.allowed,
            reason=res.reason,
            claims=_claims(res.claims_json),
            defined=res.decision_json != "",
            value=_from_json(res.decision_json),
            revision=res.revision or None,
        )
    except CoreSDKError as e:
        return _failed(state, e)


def verify_token(state: State, token: str, tenant_id: str | None, timeout_ms: int | None) -> Op[AuthorizeResult]:
    """``VerifyToken``: never raises for a verdict; an unreachable sidecar follows the fail mode."""
    try:
        if not isinstance(token, str):
            raise CoreSDKError("ERR_TOKEN_MALFORMED", "the token must be a string")
        req = pb.VerifyTokenRequest(tenant_id=state.tenant(tenant_id), token=token)
        res: pb.VerifyTokenResponse = yield from call(state, "VerifyToken", req, timeout_ms)
        return AuthorizeResult(allowed=True, reason="allowed", claims=_claims(res.claims_json))
    except CoreSDKError as e:
        return _failed(state, e)


def evaluate_policy(state: State, query: str, input: object, tenant_id: str | None, timeout_ms: int | None) -> Op[Decision]:
    """``EvaluatePolicy``: raises :class:`CoreSDKError` on a bad request or an unreachable sidecar."""
    if not isinstance(query, str):
        raise CoreSDKError("ERR_QUERY_INVALID", "the query must be a string")
    req = pb.EvaluatePolicyRequest(tenant_id=state.tenant(tenant_id), query=query, input_json="" if input is None else _to_json(input))
    res: pb.EvaluatePolicyResponse = yield from call(state, "EvaluatePolicy", req, timeout_ms)
    return Decision(defined=res.defined, value=_from_json(res.value_json), revision=res.revision)


def is_allowed(state: State, query: str, input: object, tenant_id: str | None, timeout_ms: int | None) -> Op[IsAllowedResult]:
    """Allow-style ``EvaluatePolicy``, never raising: allowed only for exactly ``true``; the fail mode applies."""
    try:
        d = yield from evaluate_policy(state, query, input, tenant_id, timeout_ms)
    except CoreSDKError as e:
        if e.is_transport_failure:
            r = state.degrade(e)
            return IsAllowedResult(allowed=r.allowed, reason=r.reason, degraded=r.degraded, error=e)
        return IsAllowedResult(allowed=False, reason=e.code, error=e)
    allowed = d.allowed
    return IsAllowedResult(allowed=allowed, reason="allowed" if allowed else "denied" if d.defined else "undefined", revision=d.revision)


def evaluate_policies(
    state: State, batch: Sequence[tuple[str, Any] | Mapping[str, Any]], tenant_id: str | None, timeout_ms: int | None
) -> Op[list[BatchResult]]:
    """``EvaluatePolicies``: one result per item; raises :class:`CoreSDKError` for a request-level problem."""
    items = []
    if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence):
        raise CoreSDKError("ERR_INPUT_INVALID", "evaluate_policies takes a sequence of (query, input) items")
    for item in batch:
        if isinstance(item, Mapping):
            query, value = item.get("query"), item.get("input")
        elif isinstance(item, tuple) and len(item) == 2:
            query, value = item
        else:
            raise CoreSDKError("ERR_INPUT_INVALID", "every batch item is a (query, input) pair or a {'query', 'input'} mapping")
        if not isinstance(query, str):
            raise CoreSDKError("ERR_QUERY_INVALID", "every batch item needs a query string")
        items.append(pb.PolicyQuery(query=query, input_json="" if value is None else _to_json(value)))
    req = pb.EvaluatePoliciesRequest(tenant_id=state.tenant(tenant_id), items=items)
    res: pb.EvaluatePoliciesResponse = yield from call(state, "EvaluatePolicies", req, timeout_ms)
    out = []
    for r in res.results:
        if r.error_code == "":
            out.append(BatchResult(ok=True, decision=Decision(r.defined, _from_json(r.value_json), res.revision)))
        else:
            out.append(BatchResult(ok=False, error=CoreSDKError(to_code(r.error_code), r.error_message)))
    return out


def mask_pii(state: State, values: Sequence[str], tenant_id: str | None, timeout_ms: int | None) -> Op[list[str]]:
    """``MaskPii``: the strings masked by the sidecar tenant's masker."""
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise CoreSDKError("ERR_INPUT_INVALID", "mask_pii takes a sequence of strings")
    req = pb.MaskPiiRequest(tenant_id=state.tenant(tenant_id), values=list(values))
    res: pb.MaskPiiResponse = yield from call(state, "MaskPii", req, timeout_ms)
    return list(res.values)


def health(state: State, timeout_ms: int | None) -> Op[HealthStatus]:
    """``grpc.health.v1.Health/Check``: ``SERVING``, ``NOT_SERVING``, or ``UNREACHABLE`` (transport failure)."""
    try:
        status: str = yield from call(state, HEALTH, None, timeout_ms)
    except CoreSDKError as e:
        if e.is_transport_failure:
            return "UNREACHABLE"
        raise
    return "SERVING" if status == "SERVING" else "NOT_SERVING"
