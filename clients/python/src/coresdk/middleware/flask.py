"""Flask: the ``CoreSDK`` extension (claims on ``g.claims``) and the ``require_policy`` decorator.

Example::

    from flask import Flask, g
    from coresdk import CoreSDKClient, SDKConfig
    from coresdk.middleware.flask import CoreSDK, require_policy

    _sdk = CoreSDKClient(SDKConfig(fail_mode="open"))
    app = Flask(__name__)
    CoreSDK(app, client=_sdk)                      # or CoreSDK(client=_sdk).init_app(app)

    @app.get("/documents/<doc_id>")
    @require_policy("data.authz.allow", input=lambda request: {"action": "read", "resource": {"type": "document"}})
    def read(doc_id: str) -> dict[str, object]:
        return {"user": g.claims}

Every request is authenticated in a ``before_request`` hook; failures answer
RFC 9457 problems exactly as the Node middleware does. WSGI servers fold
repeated ``Authorization`` headers into one comma-joined value; a bearer
value with a comma is therefore answered as "more than one Authorization
header" (a b64token cannot contain a comma).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, g, request

from ..client import CoreSDKClient
from ._core import AuthOptions, ProblemResponse, RequestFacts, authenticate_sync, guard_sync, input_error_problem

__all__ = ["CoreSDK", "require_policy"]

F = TypeVar("F", bound=Callable[..., Any])


def _facts() -> RequestFacts:
    auth = request.headers.getlist("Authorization")
    return RequestFacts(authorization=auth, path=request.path, traceparent=request.headers.get("traceparent"), joined=True)


def _response(p: ProblemResponse) -> Response:
    return Response(p.body_bytes(), status=p.status, headers=p.headers, content_type=p.headers["content-type"])


class CoreSDK:
    """The Flask extension: verifies the bearer token of every request; claims on ``g.claims``.

    ``g.claims`` is ``None`` for a fail-open or an anonymous request allowed by
    ``require_token=False``; ``g.coresdk_degraded`` is True for a fail-open.
    Without ``client``, one is built by ``CoreSDKClient.from_env()`` with
    ``app.config["CORESDK"]`` (a dict of :class:`~coresdk.SDKConfig` fields) as overrides.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        client: CoreSDKClient | None = None,
        require_token: bool = True,
        query: str | None = None,
        input: Callable[[Any], Mapping[str, Any]] | None = None,
        realm: str | None = None,
    ) -> None:
        """Configures the extension, and installs it on ``app`` when given."""
        self.client = client
        self.options = AuthOptions(require_token=require_token, query=query, input=input, realm=realm)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, client: CoreSDKClient | None = None) -> None:
        """Installs the ``before_request`` hook on ``app``."""
        if client is not None:
            self.client = client
        if self.client is None:
            self.client = CoreSDKClient.from_env(**dict(app.config.get("CORESDK", {})))
        app.extensions["coresdk"] = self
        app.before_request(self._before_request)

    def _before_request(self) -> Response | None:
        assert self.client is not None
        out = authenticate_sync(self.client, _facts(), request, self.options)
        if not out.ok:
            assert out.problem is not None
            return _response(out.problem)
        g.claims = out.claims
        g.coresdk_degraded = out.degraded
        return None


def require_policy(query: str, input: Callable[[Any], Mapping[str, Any]] | None = None, *, realm: str | None = None) -> Callable[[F], F]:
    """A view decorator: 403 (RFC 9457) unless ``query`` is exactly ``true`` for ``input(request)`` plus ``g.claims``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ext = current_app.extensions.get("coresdk")
            if not isinstance(ext, CoreSDK) or ext.client is None:
                raise RuntimeError("require_policy needs the CoreSDK extension on the app")
            facts = _facts()
            try:
                built = {} if input is None else input(request)
            except Exception:  # noqa: BLE001 - an input builder that fails is a 500 problem
                return _response(input_error_problem(facts, realm))
            p = guard_sync(ext.client, query, built, g.get("claims"), facts, realm)
            if p is not None:
                return _response(p)
            return current_app.ensure_sync(view)(*args, **kwargs)

        return cast("F", wrapper)

    return decorate
