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

All of that is written once, in the sans-I/O core (:mod:`coresdk._core`):
each method here runs the core's operation with its transport, blocking
gRPC for :class:`CoreSDKClient`, ``grpc.aio`` for :class:`AsyncCoreSDKClient`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from . import _core, _inprocess, _otel
from ._proto.v1 import coresdk_pb2_grpc as pb_grpc
from .config import SDKConfig
from .results import AuthorizeResult, BatchResult, ClientStats, Decision, HealthStatus, IsAllowedResult

if TYPE_CHECKING:
    from ._proto.v1.coresdk_pb2_grpc import CoreSDKAsyncStub

__all__ = ["AsyncCoreSDKClient", "CoreSDKClient"]

_closing: set[asyncio.Task[None]] = set()  # channel closes in flight, kept referenced until done


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
        self._state = _core.State(config if config is not None else SDKConfig())
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
                self._health = ch.unary_unary(
                    _core.HEALTH_CHECK, request_serializer=_core.health_request, response_deserializer=_core.health_response
                )
            return self._stub, self._health

    def _attempt(self, a: _core.Attempt) -> Any:
        engine = self._state.engine
        if engine is not None:
            return _inprocess.perform(engine, a)
        stub, health = self._stubs()
        fn = health if a.rpc == _core.HEALTH else getattr(stub, a.rpc)
        return fn(a.request, timeout=a.timeout, metadata=_otel.trace_metadata())

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
        return _core.run_sync(_core.authorize(self._state, token, query, input, tenant_id, timeout_ms), self._attempt)

    def verify_token(self, token: str, *, tenant_id: str | None = None, timeout_ms: int | None = None) -> AuthorizeResult:
        """Verifies ``token`` alone (no policy); never raises for a verdict, like :meth:`authorize`."""
        return _core.run_sync(_core.verify_token(self._state, token, tenant_id, timeout_ms), self._attempt)

    def evaluate_policy(self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None) -> Decision:
        """Evaluates one query; raises :class:`CoreSDKError` on a bad request or an unreachable sidecar."""
        return _core.run_sync(_core.evaluate_policy(self._state, query, input, tenant_id, timeout_ms), self._attempt)

    def is_allowed(
        self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> IsAllowedResult:
        """Allow-style check, never raising: allowed only when the query is exactly ``true``.

        An unreachable sidecar follows the fail mode.
        """
        return _core.run_sync(_core.is_allowed(self._state, query, input, tenant_id, timeout_ms), self._attempt)

    def evaluate_policies(
        self, batch: Sequence[tuple[str, Any] | Mapping[str, Any]], *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> list[BatchResult]:
        """Evaluates many ``(query, input)`` items (or ``{"query", "input"}`` mappings) in one round trip."""
        return _core.run_sync(_core.evaluate_policies(self._state, batch, tenant_id, timeout_ms), self._attempt)

    def mask_pii(self, values: Sequence[str], *, tenant_id: str | None = None, timeout_ms: int | None = None) -> list[str]:
        """Masks personal data and secrets in strings with the sidecar tenant's masker."""
        return _core.run_sync(_core.mask_pii(self._state, values, tenant_id, timeout_ms), self._attempt)

    def health(self, *, timeout_ms: int | None = None) -> HealthStatus:
        """``SERVING``, ``NOT_SERVING``, or ``UNREACHABLE`` (transport failure)."""
        return _core.run_sync(_core.health(self._state, timeout_ms), self._attempt)

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
        self._state.close_engine()

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

    def __init__(self, config: SDKConfig | None = None, *, _state: _core.State | None = None) -> None:
        """Builds a client; raises ``CoreSDKError("ERR_CONFIG")`` for a bad TLS setup or a plaintext remote address."""
        self._state = _state if _state is not None else _core.State(config if config is not None else SDKConfig())
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
            self._health = ch.unary_unary(
                _core.HEALTH_CHECK, request_serializer=_core.health_request, response_deserializer=_core.health_response
            )
        return self._stub, self._health

    async def _attempt(self, a: _core.Attempt) -> Any:
        engine = self._state.engine
        if engine is not None:
            # The engine releases the GIL: on the loop's thread pool, it never blocks the loop.
            return await asyncio.get_running_loop().run_in_executor(None, _inprocess.perform, engine, a)
        stub, health = self._stubs()
        fn = health if a.rpc == _core.HEALTH else getattr(stub, a.rpc)
        return await fn(a.request, timeout=a.timeout, metadata=_otel.trace_metadata())

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
        return await _core.run_async(_core.authorize(self._state, token, query, input, tenant_id, timeout_ms), self._attempt)

    async def verify_token(self, token: str, *, tenant_id: str | None = None, timeout_ms: int | None = None) -> AuthorizeResult:
        """Verifies ``token`` alone (no policy); never raises for a verdict."""
        return await _core.run_async(_core.verify_token(self._state, token, tenant_id, timeout_ms), self._attempt)

    async def evaluate_policy(
        self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> Decision:
        """Evaluates one query; raises :class:`CoreSDKError` on a bad request or an unreachable sidecar."""
        return await _core.run_async(_core.evaluate_policy(self._state, query, input, tenant_id, timeout_ms), self._attempt)

    async def is_allowed(
        self, query: str, input: object = None, *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> IsAllowedResult:
        """Allow-style check, never raising; an unreachable sidecar follows the fail mode."""
        return await _core.run_async(_core.is_allowed(self._state, query, input, tenant_id, timeout_ms), self._attempt)

    async def evaluate_policies(
        self, batch: Sequence[tuple[str, Any] | Mapping[str, Any]], *, tenant_id: str | None = None, timeout_ms: int | None = None
    ) -> list[BatchResult]:
        """Evaluates many ``(query, input)`` items in one round trip."""
        return await _core.run_async(_core.evaluate_policies(self._state, batch, tenant_id, timeout_ms), self._attempt)

    async def mask_pii(self, values: Sequence[str], *, tenant_id: str | None = None, timeout_ms: int | None = None) -> list[str]:
        """Masks personal data and secrets in strings with the sidecar tenant's masker."""
        return await _core.run_async(_core.mask_pii(self._state, values, tenant_id, timeout_ms), self._attempt)

    async def health(self, *, timeout_ms: int | None = None) -> HealthStatus:
        """``SERVING``, ``NOT_SERVING``, or ``UNREACHABLE`` (transport failure)."""
        return await _core.run_async(_core.health(self._state, timeout_ms), self._attempt)

    def stats(self) -> ClientStats:
        """Fail-mode counters and the breaker's state."""
        return self._state.stats()

    async def close(self) -> None:
        """Closes the channel. Idempotent; for the twin made by :attr:`CoreSDKClient.aio`, closes the whole client."""
        self._state.closed = True
        ch, self._channel, self._stub, self._health = self._channel, None, None, None
        self._state.close_engine()
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
