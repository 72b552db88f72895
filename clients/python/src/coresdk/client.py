"""``CoreSDKClient`` (sync) and ``AsyncCoreSDKClient`` (``grpc.aio``) over the sidecar.

Both share one design with the Node client:

* one reused channel (the asyncio one created lazily inside the running
  loop), mutual TLS when TLS files are given, plaintext only to a loopback
  address or a unix socket;
* a deadline on every call (``timeout_ms``, retries included), bounded
  retries with jittered exponential backoff for UNAVAILABLE *without* the
  sidecar's ErrorInfo only, and a circuit breaker;
* the fail mode applies to one situation only, the sidecar could not be
  reached (connection or TLS refused, no answer within the deadline, breaker
  open): ``open`` allows with ``claims=None`` (a warning at most every 10 s,
  a counter), ``closed`` denies with ``ERR_SIDECAR_UNAVAILABLE`` /
  ``ERR_SIDECAR_TIMEOUT``. A status carrying the sidecar's ErrorInfo is an
  answer and is never turned into an allow.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import grpc
import grpc.aio

from . import _otel
from ._breaker import CircuitBreaker
from ._proto.v1 import coresdk_pb2 as pb
from ._proto.v1 import coresdk_pb2_grpc as pb_grpc
from ._status import sidecar_error_info
from .config import SDKConfig
from .errors import CoreSDKError, to_code
from .results import AuthorizeResult, BatchResult, ClientStats, Decision, HealthStatus, IsAllowedResult

if TYPE_CHECKING:
    from ._proto.v1.coresdk_pb2_grpc import CoreSDKAsyncStub

__all__ = ["AsyncCoreSDKClient", "CoreSDKClient"]

_log = logging.getLogger("coresdk")

DEFAULT_QUERY: Final = "data.authz.allow"
_WARN_EVERY_S: Final = 10.0
_MAX_MESSAGE: Final = 16 * 1024 * 1024
_HEALTH_CHECK: Final = "/grpc.health.v1.Health/Check"
_HEALTH: Final = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

T = TypeVar("T")
_closing: set[asyncio.Task[None]] = set()  # channel closes in flight, kept referenced until done


def _is_local(addr: str) -> bool:
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


def _health_request(_: object) -> bytes:
    return b""  # HealthCheckRequest{service: ""}: every field at its default


def _health_response(data: bytes) -> str:
    # HealthCheckResponse{status = 1 (enum)}: one varint field, absent when UNKNOWN.
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


class _State:
    """What the sync and asyncio facets of one client share: config, credentials, breaker, counters."""

    def __init__(self, config: SDKConfig) -> None:
        self.config = config
        cfg = config
        self.options: list[tuple[str, Any]] = [
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            # Retries are ours (UNAVAILABLE only, bounded by the call's deadline).
            ("grpc.enable_retries", 0),
            # A local sidecar that restarts is back within a second or two, not after gRPC's 120 s
            # ceiling. (Not grpc.min_reconnect_backoff_ms: it is also the connect timeout, and a
            # short one would turn a slow handshake into UNAVAILABLE instead of a deadline.)
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2_000),
        ]
        if cfg.sidecar_addr.startswith("unix:"):
            # grpcio sends the socket path as :authority, which the sidecar's HTTP/2 server refuses
            # (RST_STREAM, PROTOCOL_ERROR); name the local host instead, as grpc-js does.
            self.options.append(("grpc.default_authority", "localhost"))
        self.credentials: grpc.ChannelCredentials | None = None
        if cfg.uses_tls:
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
        elif not _is_local(cfg.sidecar_addr):
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

    def check(self) -> None:
        if self.closed:
            raise CoreSDKError("ERR_ENGINE_CLOSED", "the client is closed")

    def tenant(self, tenant_id: str | None) -> str:
        if tenant_id is None:
            return self.config.tenant_id
        if not isinstance(tenant_id, str):
            raise CoreSDKError("ERR_TENANT_INVALID", "tenant_id must be a string")
        return tenant_id

    def budget_s(self, timeout_ms: int | None) -> float:
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
        with self.lock:
            return ClientStats(fail_open=self.fail_open, fail_closed=self.fail_closed, breaker=self.breaker.state)


def _classify(state: _State, e: grpc.RpcError | grpc.aio.AioRpcError, budget_s: float) -> CoreSDKError | None:
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


def _unavailable(details: str) -> CoreSDKError:
    return CoreSDKError("ERR_SIDECAR_UNAVAILABLE", f"the sidecar is unreachable: {details}")


def _breaker_open() -> CoreSDKError:
    return CoreSDKError("ERR_SIDECAR_UNAVAILABLE", "the sidecar is unreachable (circuit open after repeated failures)")


# ---------------------------------------------------------------- requests and results (shared)


def _authorize_request(
    state: _State, token: str, query: str | None, input: Mapping[str, Any] | None, tenant_id: str | None
) -> pb.AuthorizeRequest:
    if not isinstance(token, str):
        raise CoreSDKError("ERR_TOKEN_MALFORMED", "the token must be a string")
    if input is not None and not isinstance(input, Mapping):
        raise CoreSDKError("ERR_INPUT_INVALID", "invalid input: authorize's input must be a mapping (a JSON object)")
    if query is not None and not isinstance(query, str):
        raise CoreSDKError("ERR_QUERY_INVALID", "the query must be a string")
    return pb.AuthorizeRequest(
        tenant_id=state.tenant(tenant_id),
        token=token,
        query=DEFAULT_QUERY if query is None else query,
        input_json="" if input is None else _to_json(input),
    )


def _authorize_result(res: pb.AuthorizeResponse) -> AuthorizeResult:
    claims = _from_json(res.claims_json)
    return AuthorizeResult(
        allowed=res.allowed,
        reason=res.reason,
        claims=claims if isinstance(claims, dict) else None,
        defined=res.decision_json != "",
        value=_from_json(res.decision_json),
        revision=res.revision or None,
    )


def _verify_result(res: pb.VerifyTokenResponse) -> AuthorizeResult:
    claims = _from_json(res.claims_json)
    return AuthorizeResult(allowed=True, reason="allowed", claims=claims if isinstance(claims, dict) else None)


def _failed(state: _State, e: CoreSDKError) -> AuthorizeResult:
    if e.is_transport_failure:
        return state.degrade(e)
    return AuthorizeResult(allowed=False, reason=e.code, claims=None, error=e)


def _decision(res: pb.EvaluatePolicyResponse) -> Decision:
    return Decision(defined=res.defined, value=_from_json(res.value_json), revision=res.revision)


def _is_allowed(d: Decision) -> IsAllowedResult:
    allowed = d.allowed
    return IsAllowedResult(allowed=allowed, reason="allowed" if allowed else "denied" if d.defined else "undefined", revision=d.revision)


def _is_allowed_failed(state: _State, e: CoreSDKError) -> IsAllowedResult:
    if e.is_transport_failure:
        r = state.degrade(e)
        return IsAllowedResult(allowed=r.allowed, reason=r.reason, degraded=r.degraded, error=e)
    return IsAllowedResult(allowed=False, reason=e.code, error=e)


def _batch_request(
    state: _State, batch: Sequence[tuple[str, Any] | Mapping[str, Any]], tenant_id: str | None
) -> pb.EvaluatePoliciesRequest:
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
    return pb.EvaluatePoliciesRequest(tenant_id=state.tenant(tenant_id), items=items)


def _batch_results(res: pb.EvaluatePoliciesResponse) -> list[BatchResult]:
    out = []
    for r in res.results:
        if r.error_code == "":
            out.append(BatchResult(ok=True, decision=Decision(r.defined, _from_json(r.value_json), res.revision)))
        else:
            out.append(BatchResult(ok=False, error=CoreSDKError(to_code(r.error_code), r.error_message)))
    return out


def _mask_request(state: _State, values: Sequence[str], tenant_id: str | None) -> pb.MaskPiiRequest:
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise CoreSDKError("ERR_INPUT_INVALID", "mask_pii takes a sequence of strings")
    return pb.MaskPiiRequest(tenant_id=state.tenant(tenant_id), values=list(values))


def _policy_request(state: _State, query: str, input: object, tenant_id: str | None) -> pb.EvaluatePolicyRequest:
    if not isinstance(query, str):
        raise CoreSDKError("ERR_QUERY_INVALID", "the query must be a string")
    return pb.EvaluatePolicyRequest(tenant_id=state.tenant(tenant_id), query=query, input_json="" if input is None else _to_json(input))


# ---------------------------------------------------------------- the sync client


class CoreSDKClient:
    """The synchronous CoreSDK client (thread-safe; one channel, opened on the first call).

    Example::

        sdk = CoreSDKClient(SDKConfig(sidecar_addr="[::1]:50051", fail_mode="open"))
        r = sdk.authorize(bearer, input={"action": "read", "resource": {"type": "document", "id": "d1"}})
        if r.allowed:
            use(r.claims)  # None when r.degraded (fail-open)

    Use it as a context manager, or call :meth:`close`. An ASGI middleware
    given this client talks through :attr:`aio`, its asyncio twin (same
    configuration, breaker and counters).
    """

    def __init__(self, config: SDKConfig | None = None) -> None:
        """Builds a client; raises ``CoreSDKError("ERR_CONFIG")`` for a bad TLS setup or a plaintext remote address."""
        self._state = _State(config if config is not None else SDKConfig())
        self._channel: grpc.Channel | None = None
        self._stub: pb_grpc.CoreSDKStub | None = None
        self._health: grpc.UnaryUnaryMultiCallable[object, str] | None = None
        self._aio: AsyncCoreSDKClient | None = None
        self._channel_lock = threading.Lock()

    @classmethod
    def from_env(cls, **overrides: Any) -> CoreSDKClient:
        """A client configured by ``coresdk.toml`` ``[sdk]`` and ``CORESDK_*`` (see :meth:`SDKConfig.from_env`)."""
        return cls(SDKConfig.from_env(**overrides))

    @property
    def config(self) -> SDKConfig:
        """The effective configuration."""
        return self._state.config

    @property
    def aio(self) -> AsyncCoreSDKClient:
        """The asyncio twin of this client: same config, breaker and counters, its own ``grpc.aio`` channel."""
        with self._channel_lock:
            if self._aio is None:
                self._aio = AsyncCoreSDKClient(_state=self._state)
            return self._aio

    def _stubs(self) -> tuple[pb_grpc.CoreSDKStub, grpc.UnaryUnaryMultiCallable[object, str]]:
        with self._channel_lock:
            self._state.check()
            if self._stub is None or self._health is None:
                s = self._state
                if s.credentials is not None:
                    ch = grpc.secure_channel(s.config.sidecar_addr, s.credentials, options=s.options)
                else:
                    ch = grpc.insecure_channel(s.config.sidecar_addr, options=s.options)
                self._channel = ch
                self._stub = pb_grpc.CoreSDKStub(ch)
                self._health = ch.unary_unary(_HEALTH_CHECK, request_serializer=_health_request, response_deserializer=_health_response)
            return self._stub, self._health

    def _call(self, pick: Callable[[pb_grpc.CoreSDKStub], Callable[..., T]], request: object, timeout_ms: int | None) -> T:
        s = self._state
        s.check()
        budget = s.budget_s(timeout_ms)
        stub, _ = self._stubs()
        return self._invoke(pick(stub), request, budget)

    def _invoke(self, fn: Callable[..., T], request: object, budget: float) -> T:
        s = self._state
        if not s.breaker.try_acquire():
            raise _breaker_open()
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                s.breaker.on_failure()
                raise CoreSDKError("ERR_SIDECAR_TIMEOUT", f"the sidecar did not answer within {round(budget * 1000)} ms")
            try:
                res = fn(request, timeout=remaining, metadata=_otel.trace_metadata())
            except BaseException as e:
                if not isinstance(e, grpc.RpcError):
                    s.breaker.release()  # interrupted: says nothing about the sidecar
                    raise
                err = _classify(s, e, budget)
                if err is not None:
                    raise err from None
                backoff = random.random() * s.config.backoff_ms / 1000 * 2**attempt
                if attempt < s.config.retries and time.monotonic() + backoff < deadline:
                    time.sleep(backoff)
                    attempt += 1
                    continue
                s.breaker.on_failure()
                raise _unavailable(e.details() or "") from None
            s.breaker.on_success()
            return res

    def authorize(
        self,
        token: str,
        *,
        query: str | None = None,
        input: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        timeout_ms: int | None = None,
    ) -> AuthorizeResult:
        """Verifies ``token`` and evaluates ``query`` (default ``data.authz.allow``) with the claims as ``input.claims``.

        Never raises for a verdict: a rejected token, a deny or an error comes
        back as ``allowed=False`` with ``reason`` and ``error``; an
        unreachable sidecar follows the fail mode.
        """
        s = self._state
        try:
            req = _authorize_request(s, token, query, input, tenant_id)
            return _authorize_result(self._call(lambda st: st.Authorize, req, timeout_ms))
        except CoreSDKError as e:
            return _failed(s, e)

    def verify_token(self, token: str, *, tenant_id: str | None = None, timeout_ms: int | None = None) -> AuthorizeResult:
        """Verifies ``token`` alone (no policy); never raises for a verdict, like :meth:`authorize`."""
        s = self._state
        try:
            if not isinstance(token, str):
                raise CoreSDKError("ERR_TOKEN_MALFORMED", "the token must be a string")
            req = pb.VerifyTokenRequest(tenant_id=s.tenant(tenant_id), token=token)
            return _verify_result(self._call(lambda st: st.VerifyToken, req, timeout_ms))
        except CoreSDKError as e:
            return _failed(s, e)

    def evaluate_policy(self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None) -> Decision:
        """Evaluates one query; raises :class:`CoreSDKError` on a bad request or an unreachable sidecar."""
        req = _policy_request(self._state, query, input, tenant_id)
        return _decision(self._call(lambda st: st.EvaluatePolicy, req, timeout_ms))

    def is_allowed(
        self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> IsAllowedResult:
        """Allow-style check, never raising: allowed only when the query is exactly ``true``.

        An unreachable sidecar follows the fail mode.
        """
        try:
            return _is_allowed(self.evaluate_policy(query, input, tenant_id=tenant_id, timeout_ms=timeout_ms))
        except CoreSDKError as e:
            return _is_allowed_failed(self._state, e)

    def evaluate_policies(
        self, batch: Sequence[tuple[str, Any] | Mapping[str, Any]], *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> list[BatchResult]:
        """Evaluates many ``(query, input)`` items (or ``{"query", "input"}`` mappings) in one round trip."""
        req = _batch_request(self._state, batch, tenant_id)
        return _batch_results(self._call(lambda st: st.EvaluatePolicies, req, timeout_ms))

    def mask_pii(self, values: Sequence[str], *, tenant_id: str | None = None, timeout_ms: int | None = None) -> list[str]:
        """Masks personal data and secrets in strings with the sidecar tenant's masker."""
        req = _mask_request(self._state, values, tenant_id)
        return list(self._call(lambda st: st.MaskPii, req, timeout_ms).values)

    def health(self, *, timeout_ms: int | None = None) -> HealthStatus:
        """``SERVING``, ``NOT_SERVING``, or ``UNREACHABLE`` (transport failure)."""
        s = self._state
        s.check()
        budget = s.budget_s(timeout_ms)
        _, health = self._stubs()
        try:
            status = self._invoke(health, None, budget)
        except CoreSDKError as e:
            if e.is_transport_failure:
                return "UNREACHABLE"
            raise
        return "SERVING" if status == "SERVING" else "NOT_SERVING"

    def stats(self) -> ClientStats:
        """Fail-mode counters and the breaker's state (shared with :attr:`aio`)."""
        return self._state.stats()

    def close(self) -> None:
        """Closes the channel (and the :attr:`aio` twin's). Idempotent."""
        with self._channel_lock:
            if self._state.closed:
                return
            self._state.closed = True
            ch, self._channel, self._stub, self._health = self._channel, None, None, None
            twin = self._aio
        if ch is not None:
            ch.close()
        if twin is not None:
            twin._close_from_any_thread()

    def __enter__(self) -> CoreSDKClient:
        """Context-manager use: closes on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Closes the client."""
        self.close()


# ---------------------------------------------------------------- the asyncio client


class AsyncCoreSDKClient:
    """The asyncio CoreSDK client over ``grpc.aio``.

    The channel is created on first use inside the running event loop (a
    ``grpc.aio`` channel belongs to one loop; used from another loop, the
    client opens a new channel there).

    Example::

        async with AsyncCoreSDKClient(SDKConfig.from_env()) as sdk:
            d = await sdk.evaluate_policy("data.authz.allow", {"action": "read"})
    """

    def __init__(self, config: SDKConfig | None = None, *, _state: _State | None = None) -> None:
        """Builds a client; raises ``CoreSDKError("ERR_CONFIG")`` for a bad TLS setup or a plaintext remote address."""
        self._state = _state if _state is not None else _State(config if config is not None else SDKConfig())
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stub: CoreSDKAsyncStub | None = None
        self._health: grpc.aio.UnaryUnaryMultiCallable[object, str] | None = None
        self._owns_state = _state is None

    @classmethod
    def from_env(cls, **overrides: Any) -> AsyncCoreSDKClient:
        """A client configured by ``coresdk.toml`` ``[sdk]`` and ``CORESDK_*`` (see :meth:`SDKConfig.from_env`)."""
        return cls(SDKConfig.from_env(**overrides))

    @property
    def config(self) -> SDKConfig:
        """The effective configuration."""
        return self._state.config

    def _stubs(self) -> tuple[CoreSDKAsyncStub, grpc.aio.UnaryUnaryMultiCallable[object, str]]:
        self._state.check()
        loop = asyncio.get_running_loop()
        if self._stub is None or self._health is None or self._loop is not loop:
            if self._channel is not None:
                self._close_from_any_thread()  # the previous loop's channel
            s = self._state
            if s.credentials is not None:
                ch = grpc.aio.secure_channel(s.config.sidecar_addr, s.credentials, options=s.options)
            else:
                ch = grpc.aio.insecure_channel(s.config.sidecar_addr, options=s.options)
            self._channel, self._loop = ch, loop
            self._stub = pb_grpc.CoreSDKStub(ch)
            self._health = ch.unary_unary(_HEALTH_CHECK, request_serializer=_health_request, response_deserializer=_health_response)
        return self._stub, self._health

    async def _call(self, pick: Callable[[CoreSDKAsyncStub], Callable[..., Awaitable[T]]], request: object, timeout_ms: int | None) -> T:
        s = self._state
        s.check()
        budget = s.budget_s(timeout_ms)
        stub, _ = self._stubs()
        return await self._invoke(pick(stub), request, budget)

    async def _invoke(self, fn: Callable[..., Awaitable[T]], request: object, budget: float) -> T:
        s = self._state
        if not s.breaker.try_acquire():
            raise _breaker_open()
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                s.breaker.on_failure()
                raise CoreSDKError("ERR_SIDECAR_TIMEOUT", f"the sidecar did not answer within {round(budget * 1000)} ms")
            try:
                res = await fn(request, timeout=remaining, metadata=_otel.trace_metadata())
            except grpc.aio.AioRpcError as e:
                err = _classify(s, e, budget)
                if err is not None:
                    raise err from None
                backoff = random.random() * s.config.backoff_ms / 1000 * 2**attempt
                if attempt < s.config.retries and time.monotonic() + backoff < deadline:
                    await asyncio.sleep(backoff)
                    attempt += 1
                    continue
                s.breaker.on_failure()
                raise _unavailable(e.details() or "") from None
            except asyncio.CancelledError:
                s.breaker.release()  # the caller gave up: says nothing about the sidecar
                raise
            s.breaker.on_success()
            return res

    async def authorize(
        self,
        token: str,
        *,
        query: str | None = None,
        input: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        timeout_ms: int | None = None,
    ) -> AuthorizeResult:
        """Verifies ``token`` and evaluates ``query``; never raises for a verdict (see :meth:`CoreSDKClient.authorize`)."""
        s = self._state
        try:
            req = _authorize_request(s, token, query, input, tenant_id)
            return _authorize_result(await self._call(lambda st: st.Authorize, req, timeout_ms))
        except CoreSDKError as e:
            return _failed(s, e)

    async def verify_token(self, token: str, *, tenant_id: str | None = None, timeout_ms: int | None = None) -> AuthorizeResult:
        """Verifies ``token`` alone (no policy); never raises for a verdict."""
        s = self._state
        try:
            if not isinstance(token, str):
                raise CoreSDKError("ERR_TOKEN_MALFORMED", "the token must be a string")
            req = pb.VerifyTokenRequest(tenant_id=s.tenant(tenant_id), token=token)
            return _verify_result(await self._call(lambda st: st.VerifyToken, req, timeout_ms))
        except CoreSDKError as e:
            return _failed(s, e)

    async def evaluate_policy(
        self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> Decision:
        """Evaluates one query; raises :class:`CoreSDKError` on a bad request or an unreachable sidecar."""
        req = _policy_request(self._state, query, input, tenant_id)
        return _decision(await self._call(lambda st: st.EvaluatePolicy, req, timeout_ms))

    async def is_allowed(
        self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> IsAllowedResult:
        """Allow-style check, never raising; an unreachable sidecar follows the fail mode."""
        try:
            return _is_allowed(await self.evaluate_policy(query, input, tenant_id=tenant_id, timeout_ms=timeout_ms))
        except CoreSDKError as e:
            return _is_allowed_failed(self._state, e)

    async def evaluate_policies(
        self, batch: Sequence[tuple[str, Any] | Mapping[str, Any]], *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> list[BatchResult]:
        """Evaluates many ``(query, input)`` items in one round trip."""
        req = _batch_request(self._state, batch, tenant_id)
        return _batch_results(await self._call(lambda st: st.EvaluatePolicies, req, timeout_ms))

    async def mask_pii(self, values: Sequence[str], *, tenant_id: str | None = None, timeout_ms: int | None = None) -> list[str]:
        """Masks personal data and secrets in strings with the sidecar tenant's masker."""
        req = _mask_request(self._state, values, tenant_id)
        return list((await self._call(lambda st: st.MaskPii, req, timeout_ms)).values)

    async def health(self, *, timeout_ms: int | None = None) -> HealthStatus:
        """``SERVING``, ``NOT_SERVING``, or ``UNREACHABLE`` (transport failure)."""
        s = self._state
        s.check()
        budget = s.budget_s(timeout_ms)
        _, health = self._stubs()
        try:
            status = await self._invoke(health, None, budget)
        except CoreSDKError as e:
            if e.is_transport_failure:
                return "UNREACHABLE"
            raise
        return "SERVING" if status == "SERVING" else "NOT_SERVING"

    def stats(self) -> ClientStats:
        """Fail-mode counters and the breaker's state."""
        return self._state.stats()

    async def close(self) -> None:
        """Closes the channel. Idempotent; for the twin made by :attr:`CoreSDKClient.aio`, closes the whole client."""
        self._state.closed = True
        ch, self._channel, self._stub, self._health = self._channel, None, None, None
        if ch is not None:
            await ch.close(None)

    def _close_from_any_thread(self) -> None:
        ch, loop = self._channel, self._loop
        self._channel, self._stub, self._health = None, None, None
        if ch is None or loop is None or loop.is_closed() or not loop.is_running():
            return  # a loop that is gone took its channel's resources with it
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(ch.close(None))
            _closing.add(task)
            task.add_done_callback(_closing.discard)
        else:
            asyncio.run_coroutine_threadsafe(ch.close(None), loop)

    async def __aenter__(self) -> AsyncCoreSDKClient:
        """``async with`` use: closes on exit."""
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Closes the client."""
        await self.close()
