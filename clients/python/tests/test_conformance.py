"""clients/conformance/cases.json through FastAPI, Flask and Django (WSGI and ASGI), against the real sidecar and in-process.

The Node Express and Fastify middleware run the same file first
(__test__/client-conformance.test.ts): it is the reference, and every
answer here must match it byte for byte in status, problem body and
headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import override_settings

from conftest import CASES, SETUP, World
from coresdk import CoreSDKClient, Engine
from support.apps import configure_django, django_handler, fastapi_app, flask_app
from support.http import raw_request
from support.servers import Switch, serve_asgi, serve_wsgi

configure_django(SETUP["routes"])

RUNS = [(c, fm) for c in CASES["cases"] for fm in c["fail_modes"]]
IN_PROCESS_RUNS = [(c, fm) for c, fm in RUNS if c["sidecar"] in ("up", "keyless")]


def test_case_file_is_well_formed() -> None:
    assert CASES["format"] == 1
    names = [c["name"] for c in CASES["cases"]]
    assert len(set(names)) == len(names)
    assert len(RUNS) > 30
    kinds = {"up", "down", "slow", "keyless"}
    assert {c["sidecar"] for c in CASES["cases"]} == kinds


@dataclass
class Servers:
    """One uvicorn and one werkzeug server for the whole module; each case swaps the app they serve."""

    asgi: Switch
    asgi_port: int
    wsgi: Switch
    wsgi_port: int


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    a, w = Switch(), Switch()
    with serve_asgi(a.asgi) as ap, serve_wsgi(w.wsgi) as wp:
        yield Servers(a, ap, w, wp)


@contextmanager
def _plain(switch: Switch, port: int, app: Any) -> Iterator[int]:
    switch.app = app
    yield port


@contextmanager
def _django(servers: Servers, client: CoreSDKClient, require_token: bool, kind: str) -> Iterator[int]:
    urls = "support.django_urls" if kind == "wsgi" else "support.django_urls_async"
    # The middleware reads settings.CORESDK when the handler loads it: a fresh handler per case.
    with override_settings(CORESDK={"client": client, "require_token": require_token}, ROOT_URLCONF=urls):
        if kind == "wsgi":
            servers.wsgi.app = django_handler(kind)
            yield servers.wsgi_port
        else:
            servers.asgi.app = django_handler(kind)
            yield servers.asgi_port


Serve = Callable[[Servers, CoreSDKClient, bool], AbstractContextManager[int]]
FRAMEWORKS: dict[str, Serve] = {
    "fastapi": lambda s, client, rt: _plain(s.asgi, s.asgi_port, fastapi_app(client, SETUP["routes"], rt)),
    "flask": lambda s, client, rt: _plain(s.wsgi, s.wsgi_port, flask_app(client, SETUP["routes"], rt)),
    "django-wsgi": lambda s, client, rt: _django(s, client, rt, "wsgi"),
    "django-asgi": lambda s, client, rt: _django(s, client, rt, "asgi"),
}


def _fill(value: str, tokens: dict[str, str]) -> str:
    out = value
    for kind, token in tokens.items():
        out = out.replace("{{token:" + kind + "}}", token)
    assert "{{token:" not in out, f"unknown token kind in {value!r}"
    return out


@pytest.fixture(scope="module")
def engines(world: World) -> Iterator[dict[str, Engine]]:
    """In-process engines configured as the up and the keyless sidecars are."""
    made = {"up": world.engine("up"), "keyless": world.engine("keyless")}
    yield made
    for e in made.values():
        e.close()


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
@pytest.mark.parametrize(("case", "fail_mode"), RUNS, ids=[f"{c['name']} [{c['sidecar']}, fail {fm}]" for c, fm in RUNS])
def test_conformance(world: World, servers: Servers, framework: str, case: dict[str, Any], fail_mode: str) -> None:
    check_case(world, servers, framework, case, world.client(case["sidecar"], fail_mode))


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
@pytest.mark.parametrize(
    ("case", "fail_mode"), IN_PROCESS_RUNS, ids=[f"{c['name']} [in-process {c['sidecar']}, fail {fm}]" for c, fm in IN_PROCESS_RUNS]
)
def test_conformance_in_process(
    world: World, servers: Servers, engines: dict[str, Engine], framework: str, case: dict[str, Any], fail_mode: str
) -> None:
    client = world.client(case["sidecar"], fail_mode, mode="in-process", engine=engines[case["sidecar"]])
    check_case(world, servers, framework, case, client)


def check_case(world: World, servers: Servers, framework: str, case: dict[str, Any], client: CoreSDKClient) -> None:
    """Serves the case's request with ``client`` behind ``framework``; the answer must be the case's."""
    try:
        with FRAMEWORKS[framework](servers, client, case.get("require_token", True)) as port:
            req = case["request"]
            headers = [(k, _fill(v, world.tokens)) for k, v in req["headers"]]
            r = raw_request(port, req["method"], req["path"], headers)
            client.close()
    finally:
        client.close()
    e = case["expect"]
    assert r.status == e["status"], r.body
    for k, v in e.get("headers", {}).items():
        assert r.headers.get(k) == v, k
    for k in e.get("absent_headers", []):
        assert k not in r.headers, k
    if "problem" in e:
        assert r.headers["content-type"].split(";")[0] == "application/problem+json"
        assert r.json() == e["problem"]
        assert list(r.json()) == list(e["problem"]), "the members come in the Node middleware's order"
        for t in world.tokens.values():
            assert t.encode() not in r.body
            assert t not in str(r.headers)
    if "claims" in e:
        got = r.json()["claims"]
        if e["claims"] is None:
            assert got is None
        else:
            assert isinstance(got, dict)
            assert {k: got.get(k) for k in e["claims"]} == e["claims"]
