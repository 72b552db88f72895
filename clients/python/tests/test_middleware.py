"""Middleware behaviour beyond the shared case file: middleware-level policies, guards without the
middleware, failing input builders, WebSockets, configuration from settings, and trace propagation
to the sidecar (its exported span is the child of the app's)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import pytest
from django.test import override_settings
from fastapi import Depends, FastAPI, Request
from flask import Flask, g
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from conftest import SETUP, World
from coresdk import CoreSDKClient, SDKConfig
from coresdk.middleware.fastapi import CoreSDKMiddleware, ProblemException, coresdk_user, problem_exception_handler, require_policy
from coresdk.middleware.flask import CoreSDK
from coresdk.middleware.flask import require_policy as flask_policy
from support.apps import configure_django, django_handler, fastapi_app, flask_app
from support.http import raw_request
from support.servers import serve_asgi, serve_wsgi
from support.sidecar import Sidecar
from support.tokens import jwks_of

configure_django(SETUP["routes"])


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def test_fastapi_middleware_level_policy_and_dependencies(world: World) -> None:
    with world.client() as sdk:
        app = FastAPI()
        app.add_middleware(
            CoreSDKMiddleware, client=sdk, query="data.authz.allow", input=lambda r: {"action": r.query_params.get("a", "read")}
        )

        @app.get("/me")
        async def me(claims: Annotated[dict[str, Any] | None, Depends(coresdk_user)]) -> dict[str, Any]:
            return {"claims": claims}

        with serve_asgi(app) as port:
            r = raw_request(port, "GET", "/me", bearer(world.tokens["valid"]))
            assert r.status == 200
            assert r.json()["claims"]["sub"] == "user-1"
            r = raw_request(port, "GET", "/me?a=write", bearer(world.tokens["valid"]))
            assert r.status == 403
            assert r.json()["detail"] == "the policy denied this request"
            r = raw_request(port, "GET", "/me?a=write", bearer(world.tokens["admin"]))
            assert r.status == 200
            sdk.close()


def test_fastapi_guard_without_the_middleware(world: World) -> None:
    with world.client() as sdk:
        app = FastAPI()
        app.add_exception_handler(ProblemException, problem_exception_handler)

        @app.get("/open", dependencies=[Depends(require_policy("data.authz.allow", input=lambda r: {"action": "read"}, client=sdk))])
        async def open_route() -> dict[str, str]:
            return {"ok": "yes"}

        @app.get("/unguarded", dependencies=[Depends(require_policy("data.authz.allow"))])
        async def unguarded() -> dict[str, str]:
            return {"ok": "yes"}

        with serve_asgi(app) as port:
            r = raw_request(port, "GET", "/open", [])
            assert r.status == 403  # no middleware, so no claims: the policy denies
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "ERR_POLICY_DENIED"
            r = raw_request(port, "GET", "/unguarded", [])
            assert r.status == 500  # a guard with neither a middleware nor a client is a programming error
            sdk.close()


def test_failing_input_builders_are_500_problems(world: World) -> None:
    def broken(_r: Any) -> dict[str, Any]:
        raise KeyError("nope")

    with world.client() as sdk:
        app = FastAPI()
        app.add_middleware(CoreSDKMiddleware, client=sdk)

        @app.get("/x", dependencies=[Depends(require_policy("data.authz.allow", input=broken))])
        async def x() -> dict[str, str]:
            return {}

        flask = Flask("broken")
        CoreSDK(flask, client=sdk)

        @flask.get("/x")
        @flask_policy("data.authz.allow", input=broken)
        def fx() -> dict[str, str]:
            return {}

        with serve_asgi(app) as aport, serve_wsgi(flask) as wport:
            for port in (aport, wport):
                r = raw_request(port, "GET", "/x", bearer(world.tokens["valid"]))
                assert r.status == 500
                body = r.json()
                assert body["code"] == "ERR_INPUT_INVALID"
                assert body["type"] == "https://coresdk.dev/problems/authorization-error"
            sdk.close()


def test_fastapi_websockets_are_authenticated(world: World) -> None:
    with world.client() as sdk:
        app = FastAPI()
        app.add_middleware(CoreSDKMiddleware, client=sdk)

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_json({"sub": websocket.state.coresdk_user["sub"]})
            await websocket.close()

        with TestClient(app) as tc:
            with tc.websocket_connect("/ws", headers={"Authorization": f"Bearer {world.tokens['valid']}"}) as conn:
                assert conn.receive_json() == {"sub": "user-1"}
            with pytest.raises(WebSocketDisconnect) as e, tc.websocket_connect("/ws", headers={}) as conn:
                conn.receive_json()
            assert e.value.code == 1008
            sdk.close()


def test_flask_reads_app_config(world: World) -> None:
    app = Flask("configured")
    cfg = world.config()
    app.config["CORESDK"] = {
        "sidecar_addr": cfg.sidecar_addr,
        "tls_ca_file": cfg.tls_ca_file,
        "tls_cert_file": cfg.tls_cert_file,
        "tls_key_file": cfg.tls_key_file,
        "tls_server_name": "localhost",
        "tenant_id": "acme-corp",
    }
    ext = CoreSDK()
    ext.init_app(app)

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"claims": g.claims, "degraded": g.coresdk_degraded}

    with serve_wsgi(app) as port:
        r = raw_request(port, "GET", "/me", bearer(world.tokens["valid"]))
        assert r.status == 200
        assert r.json() == {"claims": r.json()["claims"], "degraded": False}
        assert r.json()["claims"]["sub"] == "user-1"
    assert ext.client is not None
    ext.client.close()


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_django_reads_settings_coresdk_fields(world: World, kind: str) -> None:
    cfg = world.config()
    fields = {
        "sidecar_addr": cfg.sidecar_addr,
        "tls_ca_file": cfg.tls_ca_file,
        "tls_cert_file": cfg.tls_cert_file,
        "tls_key_file": cfg.tls_key_file,
        "tls_server_name": "localhost",
        "fail_mode": "closed",
    }
    urls = "support.django_urls" if kind == "wsgi" else "support.django_urls_async"
    with override_settings(CORESDK=fields, ROOT_URLCONF=urls):
        handler = django_handler(kind)
        with (serve_wsgi if kind == "wsgi" else serve_asgi)(handler) as port:
            r = raw_request(port, "GET", "/orders/1", bearer(world.tokens["valid"]))
            assert r.status == 200
            assert r.json()["claims"]["sub"] == "user-1"
            r = raw_request(port, "GET", "/orders/1", bearer(world.tokens["expired"]))
            assert r.status == 401
    with override_settings(CORESDK={"fail_mode": "sometimes"}), pytest.raises(Exception, match="fail_mode"):
        django_handler(kind)


class OtlpReceiver:
    """A loopback OTLP/HTTP endpoint that keeps every /v1/traces body."""

    def __init__(self) -> None:
        self.traces: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    body = b""
                    while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                        body += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path == "/v1/traces":
                    outer.traces.append(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def traced_sidecar(world: World, tmp_path: Path) -> Iterator[tuple[Sidecar, OtlpReceiver]]:
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(world.key)))
    receiver = OtlpReceiver()
    sidecar = Sidecar(
        {
            "CORESDK_SIDECAR_ADDR": "127.0.0.1:0",
            "CORESDK_SIDECAR_INSECURE_DEV": "true",
            "CORESDK_POLICY_DIR": str(world.dir / "bundle"),
            "CORESDK_JWKS_FILE": str(tmp_path / "jwks.json"),
            "CORESDK_ISSUER": SETUP["issuer"],
            "CORESDK_AUDIENCE": SETUP["audience"],
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
        }
    )
    try:
        yield sidecar, receiver
    finally:
        sidecar.stop()
        receiver.close()


def test_the_sidecar_span_is_a_child_of_the_middleware_span(world: World, traced_sidecar: tuple[Sidecar, OtlpReceiver]) -> None:
    sidecar, receiver = traced_sidecar
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    # The middleware uses the global tracer provider; set it once for this process.
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another test set a global tracer provider first"
    with CoreSDKClient(SDKConfig(sidecar_addr=sidecar.addr, timeout_ms=2000)) as sdk:
        app = FastAPI()
        app.add_middleware(CoreSDKMiddleware, client=sdk)

        @app.get("/me")
        async def me(request: Request) -> dict[str, Any]:
            return {"claims": request.state.coresdk_user}

        with serve_asgi(app) as port, tracer.start_as_current_span("test-root"):
            r = raw_request(port, "GET", "/me", bearer(world.tokens["valid"]))
            assert r.status == 200
            sdk.close()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    verify = spans["coresdk.verify"]
    assert verify.attributes is not None
    assert verify.attributes["coresdk.decision"] == "allow"
    assert verify.attributes["coresdk.tenant"] == "acme-corp"
    ctx = verify.get_span_context()
    assert ctx is not None
    trace_id = ctx.trace_id.to_bytes(16, "big")
    parent = ctx.span_id.to_bytes(8, "big")
    deadline = time.monotonic() + 10
    # OTLP Span: trace_id is field 1 (bytes, 16), parent_span_id field 4 (bytes, 8).
    want = (b"\x0a\x10" + trace_id, b"\x22\x08" + parent)
    while not any(all(w in body for w in want) for body in receiver.traces):
        assert time.monotonic() < deadline, f"no exported sidecar span with parent {parent.hex()} in {len(receiver.traces)} exports"
        time.sleep(0.05)


def test_flask_async_views_are_guarded(world: World) -> None:
    with world.client() as sdk:
        app = Flask("async-views")
        CoreSDK(app, client=sdk)

        @app.get("/read")
        @flask_policy("data.authz.allow", input=lambda _r: {"action": "read"})
        async def read() -> dict[str, Any]:
            return {"sub": g.claims["sub"]}

        @app.post("/write")
        @flask_policy("data.authz.allow", input=lambda _r: {"action": "write"})
        async def write() -> dict[str, Any]:
            return {}

        with serve_wsgi(app) as port:
            assert raw_request(port, "GET", "/read", bearer(world.tokens["valid"])).json() == {"sub": "user-1"}
            assert raw_request(port, "POST", "/write", bearer(world.tokens["valid"])).status == 403


def test_no_token_in_results_logs_or_answers(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with world.client() as up, world.client("down", "open", warn=None) as down:
        for token in world.tokens.values():
            for r in (up.authorize(token), up.verify_token(token), down.authorize(token)):
                assert token not in repr(r)
                assert token not in str(r.error)
    for token in world.tokens.values():
        assert token not in caplog.text
    assert 'fail_mode "open" is allowing requests' in caplog.text  # the warning went to the coresdk logger


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_concurrent_requests_each_get_their_own_answer(world: World, framework: str) -> None:
    with world.client() as sdk:
        app: Any = fastapi_app(sdk, SETUP["routes"]) if framework == "fastapi" else flask_app(sdk, SETUP["routes"])
        with (serve_asgi if framework == "fastapi" else serve_wsgi)(app) as port:
            kinds = ["valid" if i % 2 == 0 else "expired" for i in range(40)]
            with ThreadPoolExecutor(16) as pool:
                rs = list(pool.map(lambda k: raw_request(port, "GET", "/orders/1", bearer(world.tokens[k])), kinds))
            assert [r.status for r in rs] == [200 if k == "valid" else 401 for k in kinds]
            assert all(r.json()["claims"]["sub"] == "user-1" for r, k in zip(rs, kinds, strict=True) if k == "valid")
            sdk.close()
