"""URLs of the Django conformance app with sync views (``django_urls_async``: the same with async views)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import path

from coresdk.middleware.django import require_policy

ROUTES: list[dict[str, Any]] = settings.CORESDK_TEST_ROUTES


def _answer(request: HttpRequest) -> HttpResponse:
    return HttpResponse(json.dumps({"claims": getattr(request, "coresdk_claims", None)}), content_type="application/json")


def _sync_view(request: HttpRequest, id: str) -> HttpResponse:
    for method, view in _SYNC.items():
        if request.method == method:
            return view(request)
    return HttpResponseNotAllowed(list(_SYNC))


async def _async_view(request: HttpRequest, id: str) -> HttpResponse:
    for method, view in _ASYNC.items():
        if request.method == method:
            response: HttpResponse = await view(request)
            return response
    return HttpResponseNotAllowed(list(_ASYNC))


def _sync(request: HttpRequest) -> HttpResponse:
    return _answer(request)


async def _async(request: HttpRequest) -> HttpResponse:
    return _answer(request)


def _fixed(value: dict[str, Any]) -> Callable[[HttpRequest], dict[str, Any]]:
    return lambda _request: value


_SYNC = {r["method"]: require_policy(r["query"], input=_fixed(r["input"]))(_sync) for r in ROUTES}
_ASYNC = {r["method"]: require_policy(r["query"], input=_fixed(r["input"]))(_async) for r in ROUTES}

PATH = ROUTES[0]["path"].lstrip("/").replace("{id}", "<str:id>")
urlpatterns = [path(PATH, _sync_view)]
async_urlpatterns = [path(PATH, _async_view)]
