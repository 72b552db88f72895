"""FastAPI / Starlette: a pure ASGI ``CoreSDKMiddleware`` and the ``require_policy`` dependency.

Example::

    from fastapi import Depends, FastAPI, Request
    from coresdk import CoreSDKClient, SDKConfig
    from coresdk.middleware.fastapi import CoreSDKMiddleware, require_policy

    _sdk = CoreSDKClient(SDKConfig(sidecar_addr="[::1]:50051", tenant_id="acme-corp", fail_mode="open"))
    app = FastAPI()
    app.add_middleware(CoreSDKMiddleware, client=_sdk)  # claims on request.state.coresdk_user

    @app.get("/documents/{doc_id}", dependencies=[Depends(require_policy(
        "data.authz.allow", input=lambda r: {"action": "read", "resource": {"type": "document", "id": r.path_params["doc_id"]}}))])
    async def read(request: Request) -> dict[str, object]:
        return {"user": request.state.coresdk_user}

The middleware is plain ASGI, not Starlette's ``BaseHTTPMiddleware`` (which
breaks contextvars propagation and streaming). A sync ``CoreSDKClient`` is
used through its asyncio twin (:attr:`CoreSDKClient.aio`), so no call blocks
the event loop. WebSocket connections are authenticated too; a refused one
is closed with code 1008 (policy violation).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ..client import AsyncCoreSDKClient, CoreSDKClient
from ._core import (
    AuthOptions,
    Claims,
    ProblemException,
    ProblemResponse,
    RequestFacts,
    authenticate_async,
    guard_async,
    input_error_problem,
)

__all__ = ["CoreSDKMiddleware", "ProblemException", "coresdk_user", "problem_exception_handler", "require_policy"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _facts(scope: Scope) -> RequestFacts:
    auth: list[str] = []
    traceparent: str | None = None
    for k, v in scope.get("headers", ()):
        if k == b"authorization":
            auth.append(v.decode("latin-1"))
        elif k == b"traceparent" and traceparent is None:
            traceparent = v.decode("latin-1")
    return RequestFacts(authorization=auth, path=scope.get("path", "/"), traceparent=traceparent)


async def _send_problem(send: Send, p: ProblemResponse) -> None:
    body = p.body_bytes()
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in p.headers.items()]
    headers.append((b"content-length", str(len(body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": p.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _async_client(client: CoreSDKClient | AsyncCoreSDKClient) -> AsyncCoreSDKClient:
    if isinstance(client, CoreSDKClient):
        return client.aio
    if isinstance(client, AsyncCoreSDKClient):
        return client
    raise TypeError("client must be a coresdk.CoreSDKClient or coresdk.AsyncCoreSDKClient")


class CoreSDKMiddleware:
    """Verifies the bearer token of every HTTP request and WebSocket; claims land on ``request.state.coresdk_user``.

    Failures answer ``application/problem+json`` (RFC 9457) with RFC 6750
    challenges, exactly as the Node middleware does. ``query`` (with ``input``)
    makes every request an ``authorize`` call instead of token verification
    alone; per-route policies are :func:`require_policy` dependencies.
    """

    def __init__(
        self,
        app: ASGIApp,
        client: CoreSDKClient | AsyncCoreSDKClient,
        *,
        require_token: bool = True,
        query: str | None = None,
        input: Callable[[Request], Mapping[str, Any]] | None = None,
        realm: str | None = None,
    ) -> None:
        """Wraps ``app``; ``client`` is a sync or asyncio CoreSDK client."""
        self.app = app
        self.client = _async_client(client)
        self.options = AuthOptions(require_token=require_token, query=query, input=input, realm=realm)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        facts = _facts(scope)
        request: HTTPConnection = Request(scope) if kind == "http" else HTTPConnection(scope)
        out = await authenticate_async(self.client, facts, request, self.options)
        if not out.ok:
            assert out.problem is not None
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": str(out.problem.body["code"])})
            else:
                await _send_problem(send, out.problem)
            return
        state = scope.setdefault("state", {})
        state["coresdk_user"] = out.claims
        state["coresdk_client"] = self.client
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ProblemException as e:
            if started or kind != "http":
                raise
            await _send_problem(send, e.response)


def coresdk_user(request: Request) -> Claims | None:
    """A dependency returning the verified claims (``None`` for fail-open or an anonymous request)."""
    claims: Claims | None = getattr(request.state, "coresdk_user", None)
    return claims


def require_policy(
    query: str,
    input: Callable[[Request], Mapping[str, Any] | Awaitable[Mapping[str, Any]]] | None = None,
    *,
    client: CoreSDKClient | AsyncCoreSDKClient | None = None,
    realm: str | None = None,
) -> Callable[[Request], Awaitable[None]]:
    """A route guard dependency: 403 (RFC 9457) unless ``query`` is exactly ``true`` for ``input(request)`` plus the claims.

    ``client`` defaults to the one of the :class:`CoreSDKMiddleware` that
    authenticated the request. The problem is raised as
    :class:`ProblemException`, which the middleware answers (without the
    middleware, register :func:`problem_exception_handler`).
    """
    fixed = None if client is None else _async_client(client)

    async def dependency(request: Request) -> None:
        c: AsyncCoreSDKClient | None = fixed or getattr(request.state, "coresdk_client", None)
        if c is None:
            raise RuntimeError("require_policy needs CoreSDKMiddleware on the app, or client=")
        facts = _facts(request.scope)
        built: Mapping[str, Any] = {}
        if input is not None:
            try:
                value = input(request)
                built = await value if inspect.isawaitable(value) else value
            except Exception:  # noqa: BLE001 - an input builder that fails is a 500 problem
                raise ProblemException(input_error_problem(facts, realm)) from None
        p = await guard_async(c, query, built, getattr(request.state, "coresdk_user", None), facts, realm)
        if p is not None:
            raise ProblemException(p)

    return dependency


async def problem_exception_handler(request: Request, exc: Exception) -> Response:
    """Answers a :class:`ProblemException` (``app.add_exception_handler(ProblemException, ...)``)."""
    if not isinstance(exc, ProblemException):
        raise exc
    p = exc.response
    return Response(content=p.body_bytes(), status_code=p.status, headers=p.headers)
