"""The conformance app, as cases.json describes it, in every Python framework.

Routes from ``setup.routes`` (``/orders/{id}``), each guarded by
``require_policy(route.query, input=route.input)``; a 200 answers
``{"claims": <claims or null>}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django
from django.conf import settings
from fastapi import Depends, FastAPI, Request
from flask import Flask, g, jsonify
from flask.typing import ResponseReturnValue

from coresdk import CoreSDKClient
from coresdk.middleware.fastapi import CoreSDKMiddleware
from coresdk.middleware.fastapi import require_policy as fastapi_policy
from coresdk.middleware.flask import CoreSDK
from coresdk.middleware.flask import require_policy as flask_policy

Route = dict[str, Any]


def _fixed(value: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    return lambda _request: value


def fastapi_app(client: CoreSDKClient, routes: list[Route], require_token: bool = True) -> FastAPI:
    """FastAPI + CoreSDKMiddleware (given the sync client, as the README does)."""
    app = FastAPI()
    app.add_middleware(CoreSDKMiddleware, client=client, require_token=require_token)

    async def endpoint(request: Request) -> dict[str, Any]:
        return {"claims": request.state.coresdk_user}

    for r in routes:
        inp: dict[str, Any] = r["input"]
        app.add_api_route(
            r["path"],
            endpoint,
            methods=[r["method"]],
            dependencies=[Depends(fastapi_policy(r["query"], input=_fixed(inp)))],
        )
    return app


def flask_app(client: CoreSDKClient, routes: list[Route], require_token: bool = True) -> Flask:
    """Flask + the CoreSDK extension."""
    app = Flask("conformance")
    CoreSDK(app, client=client, require_token=require_token)
    for i, r in enumerate(routes):
        inp: dict[str, Any] = r["input"]

        def view(id: str) -> ResponseReturnValue:
            return jsonify({"claims": g.claims})

        guarded = flask_policy(r["query"], input=_fixed(inp))(view)
        app.add_url_rule(r["path"].replace("{id}", "<id>"), f"route{i}", guarded, methods=[r["method"]])
    return app


def configure_django(routes: list[Route]) -> None:
    """Django settings for the tests (once per process)."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="coresdk-tests-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="support.django_urls",
        MIDDLEWARE=["coresdk.middleware.django.CoreSDKMiddleware"],
        INSTALLED_APPS=[],
        CORESDK={},
        CORESDK_TEST_ROUTES=routes,
        USE_TZ=True,
    )
    django.setup()


def django_handler(kind: str) -> Callable[..., Any]:
    """A fresh Django WSGI or ASGI handler (its middleware reads settings.CORESDK now)."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler() if kind == "wsgi" else ASGIHandler()
