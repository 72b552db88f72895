"""Issue 27: the documented default address, ``[::1]:50051``, and the documented dev flow, as written.

``coresdk-sidecar --dev`` with no ``--addr`` (the README's and docs/python.md's command), and
clients with the defaults: ``SDKConfig()``, ``SDKConfig.from_env()`` with nothing set,
``CoreSDKClient()``, the asyncio twin, and the README's Python sample unmodified. No test may swap
the address for ``127.0.0.1`` (which is how Java's default went unseen).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresdk import AsyncCoreSDKClient, CoreSDKClient, SDKConfig
from support.http import raw_request
from support.servers import serve_asgi
from support.sidecar import DEFAULT_ADDR, Sidecar, dev_sidecar, dev_token
from test_example import load, readme_sample

VIEWER_READS = {"action": "read", "user": {"id": "alice", "roles": ["viewer"]}, "resource": {"type": "document"}}
READ_DOC_1 = {"action": "read", "resource": {"type": "document", "id": "doc-1"}}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    d = tmp_path_factory.mktemp("dev")
    (d / "home").mkdir()
    sidecar = dev_sidecar(d / "home", d)
    try:
        yield sidecar
    finally:
        sidecar.stop()


def await_serving(sdk: CoreSDKClient) -> None:
    """The first call opens the connection, which on a loaded machine may outlast the 1 s default deadline."""
    deadline = time.monotonic() + 20
    while (status := sdk.health(timeout_ms=5000)) != "SERVING":
        assert time.monotonic() < deadline, f"{sdk.config.sidecar_addr}: never SERVING ({status})"
        time.sleep(0.1)


def test_the_defaults_reach_coresdk_sidecar_dev(dev: Sidecar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dev.addr == DEFAULT_ADDR
    token = dev_token(dev)
    monkeypatch.chdir(tmp_path)  # no ./coresdk.toml
    configs = [
        SDKConfig(),
        SDKConfig.from_env({}),
        SDKConfig(sidecar_addr="[::1]:50051", tenant_id="acme-corp", fail_mode="open"),
        SDKConfig(fail_mode="closed"),
    ]
    for cfg in configs:
        assert cfg.sidecar_addr == DEFAULT_ADDR
        with CoreSDKClient(cfg) as sdk:
            await_serving(sdk)
            assert sdk.evaluate_policy("data.authz.allow", VIEWER_READS).allowed
            r = sdk.authorize(token, input=READ_DOC_1)
            assert r.allowed and not r.degraded, (r.reason, r.error)
            assert r.claims is not None and r.claims["sub"] == "dev-user"
            assert sdk.is_allowed("data.authz.allow", VIEWER_READS).allowed

            async def aio(client: AsyncCoreSDKClient) -> None:
                r = await client.authorize(token, input=READ_DOC_1)
                assert r.claims is not None and r.claims["sub"] == "dev-user", (r.reason, r.error)
                assert (await client.is_allowed("data.authz.allow", VIEWER_READS)).allowed

            asyncio.run(aio(sdk.aio))
            assert sdk.stats().fail_open == 0 and sdk.stats().fail_closed == 0
    with CoreSDKClient() as sdk:
        await_serving(sdk)
        claims = sdk.verify_token(token).claims
        assert claims is not None and claims["sub"] == "dev-user"


def test_the_readme_sample_as_written(dev: Sidecar) -> None:
    token = dev_token(dev)
    mod = load(readme_sample(), "readme_default")  # sidecar_addr="[::1]:50051", untouched
    try:
        await_serving(mod._sdk)
        with serve_asgi(mod.app) as port:
            r = raw_request(port, "GET", "/me", [("Authorization", f"Bearer {token}")])
            assert r.status == 200
            assert r.json()["claims"]["sub"] == "dev-user"
            r = raw_request(port, "GET", "/documents/doc-1", [("Authorization", f"Bearer {token}")])
            assert r.status == 200
            assert r.json()["allowed"] is True and r.json()["revision"]
            assert raw_request(port, "GET", "/me", []).status == 401
    finally:
        mod._sdk.close()
