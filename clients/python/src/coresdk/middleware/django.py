"""Django: ``coresdk.middleware.django.CoreSDKMiddleware`` (sync and async) and the ``require_policy`` view decorator.

Example (``settings.py``)::

    MIDDLEWARE = [..., "coresdk.middleware.django.CoreSDKMiddleware"]
    CORESDK = {"sidecar_addr": "[::1]:50051", "tenant_id": "acme-corp", "fail_mode": "open"}

``CORESDK`` is a dict of :class:`~coresdk.SDKConfig` fields applied over
``SDKConfig.from_env()`` (``coresdk.toml`` and ``CORESDK_*``), plus the
middleware's own keys: ``client`` (a ready ``CoreSDKClient`` instead of the
fields), ``require_token``, ``query``, ``realm``. Claims land on
``request.coresdk_claims`` (``None`` for a fail-open or an anonymous request).

The middleware is sync and async capable: under ASGI with async views it
awaits the asyncio twin of the client, so no call blocks the event loop.
Views::

    from coresdk.middleware.django import require_policy

    @require_policy("data.authz.allow", input=lambda request: {"action": "read"})
    def read(request): ...
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..client import CoreSDKClient
from ._core import AuthOptions, AuthOutcome, ProblemResponse, RequestFacts, authenticate_async, authenticate_sync, guard_async, guard_sync
from ._core import input_error_problem as _input_error

__all__ = ["CoreSDKMiddleware", "require_policy"]

V = TypeVar("V", bound=Callable[..., Any])
_OWN_KEYS = ("client", "require_token", "query", "realm", "input")


def _facts(request: HttpRequest) -> RequestFacts:
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and "headers" in scope:
        # ASGI: the raw header list tells whether Authorization was repeated.
        auth: list[str] = []
        traceparent: str | None = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth.append(v.decode("latin-1"))
            elif k == b"traceparent" and traceparent is None:
                traceparent = v.decode("latin-1")
        return RequestFacts(authorization=auth, path=request.path, traceparent=traceparent)
    value = request.META.get("HTTP_AUTHORIZATION")
    return RequestFacts(
        authorization=[] if value is None else [value], path=request.path, traceparent=request.META.get("HTTP_TRACEPARENT"), joined=True
    )


def _response(p: ProblemResponse) -> HttpResponse:
    r = HttpResponse(p.body_bytes(), status=p.status, content_type=p.headers["content-type"])
    for k, v in p.headers.items():
        if k != "content-type":
            r[k] = v
    return r


def _settings() -> tuple[CoreSDKClient, AuthOptions]:
    conf: dict[str, Any] = dict(getattr(settings, "CORESDK", None) or {})
    own = {k: conf.pop(k) for k in _OWN_KEYS if k in conf}
    client = own.get("client")
    if client is None:
        client = CoreSDKClient.from_env(**conf)
    elif not isinstance(client, CoreSDKClient):
        raise TypeError("settings.CORESDK['client'] must be a coresdk.CoreSDKClient")
    opts = AuthOptions(
        require_token=bool(own.get("require_token", True)), query=own.get("query"), input=own.get("input"), realm=own.get("realm")
    )
    return client, opts


class CoreSDKMiddleware:
    """Verifies the bearer token of every request; claims on ``request.coresdk_claims``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        """Reads ``settings.CORESDK`` (and ``coresdk.toml`` / ``CORESDK_*``) once."""
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.client, self.options = _settings()

    def _apply(self, request: HttpRequest, out: AuthOutcome) -> HttpResponse | None:
        if not out.ok:
            assert out.problem is not None
            return _response(out.problem)
        request.coresdk_claims = out.claims  # type: ignore[attr-defined]
        request.coresdk_degraded = out.degraded  # type: ignore[attr-defined]
        request.coresdk_client = self.client  # type: ignore[attr-defined]
        return None

    def __call__(self, request: HttpRequest) -> Any:
        """Sync entry point (or the coroutine of :meth:`__acall__` under ASGI)."""
        if self.is_async:
            return self.__acall__(request)
        early = self._apply(request, authenticate_sync(self.client, _facts(request), request, self.options))
        return early if early is not None else self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        """Async entry point."""
        out = await authenticate_async(self.client.aio, _facts(request), request, self.options)
        early = self._apply(request, out)
        return early if early is not None else await cast("Callable[[HttpRequest], Awaitable[Any]]", self.get_response)(request)


def _client_of(request: HttpRequest) -> CoreSDKClient:
    client = getattr(request, "coresdk_client", None)
    if not isinstance(client, CoreSDKClient):
        raise RuntimeError("require_policy needs coresdk.middleware.django.CoreSDKMiddleware in MIDDLEWARE")
    return client


def require_policy(
    query: str, input: Callable[[HttpRequest], Mapping[str, Any]] | None = None, *, realm: str | None = None
) -> Callable[[V], V]:
    """A view decorator (sync or async views): 403 (RFC 9457) unless ``query`` is exactly ``true``.

    The policy input is ``input(request)`` plus the claims as ``claims``.
    """

    def decorate(view: V) -> V:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                facts = _facts(request)
                try:
                    built = {} if input is None else input(request)
                except Exception:  # noqa: BLE001 - an input builder that fails is a 500 problem
                    return _response(_input_error(facts, realm))
                claims = getattr(request, "coresdk_claims", None)
                p = await guard_async(_client_of(request).aio, query, built, claims, facts, realm)
                return _response(p) if p is not None else await view(request, *args, **kwargs)

            return cast("V", async_wrapper)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            facts = _facts(request)
            try:
                built = {} if input is None else input(request)
            except Exception:  # noqa: BLE001 - an input builder that fails is a 500 problem
                return _response(_input_error(facts, realm))
            p = guard_sync(_client_of(request), query, built, getattr(request, "coresdk_claims", None), facts, realm)
            return _response(p) if p is not None else view(request, *args, **kwargs)

        return cast("V", wrapper)

    return decorate
