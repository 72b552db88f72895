"""One client, two modes: ``SDKConfig(mode="in-process")`` answers every call as ``mode="sidecar"`` does.

The sidecar of the session and an engine configured as it is (same bundle,
issuer, audience and HTTPS key set) get the same calls through the same
client API, sync and asyncio; the results must be equal, errors by code and
message. (The sidecar's query allow-list, ``allowed_queries``, guards the
sidecar's clients; an in-process engine runs any query its caller asks.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import SETUP, World
from coresdk import AsyncCoreSDKClient, CoreSDKClient, CoreSDKError, Engine, SDKConfig


@pytest.fixture(scope="module")
def engine(world: World) -> Iterator[Engine]:
    with world.engine() as e:
        yield e


def plain(r: Any) -> Any:
    """A result with its error as ``(code, message)`` (CoreSDKError compares by identity)."""
    if isinstance(r, list):
        return [plain(x) for x in r]
    if hasattr(r, "__dataclass_fields__"):
        return {k: plain(getattr(r, k)) for k in r.__dataclass_fields__}
    if isinstance(r, CoreSDKError):
        return (r.code, r.message)
    return r


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return plain(fn())
    except CoreSDKError as e:
        return ("raised", e.code, e.message)


def nest(n: int) -> list[Any]:
    v: list[Any] = []
    for _ in range(n):
        v = [v]
    return v


def calls(world: World, sdk: CoreSDKClient) -> list[Callable[[], Any]]:
    valid = world.tokens["valid"]
    good = {"action": "read", "resource": {"type": "document", "id": "d1"}}
    return [
        lambda: sdk.authorize(valid, input=good),
        lambda: sdk.authorize(valid, input={"action": "delete"}),
        lambda: sdk.authorize(world.tokens.get("expired", "x.y.z")),
        lambda: sdk.authorize(""),
        lambda: sdk.authorize("not-a-jwt"),
        lambda: sdk.authorize(valid, input={"claims": {"sub": "smuggled"}}),
        lambda: sdk.authorize(valid, input={"s": {1, 2}}),
        lambda: sdk.verify_token(valid),
        lambda: sdk.verify_token("not-a-jwt"),
        lambda: sdk.evaluate_policy("data.authz.allow", good),
        lambda: sdk.evaluate_policy("data.values.u64_max"),
        lambda: sdk.evaluate_policy("data.authz.allow", {"x": float("nan")}),
        lambda: sdk.is_allowed("data.authz.allow", good),
        lambda: sdk.evaluate_policies([("data.authz.allow", good), ("data.values.big", None), ("data.authz.allow", {"deep": nest(70)})]),
        lambda: sdk.mask_pii(["mail bob@example.com", "plain"]),
        sdk.health,
    ]


def test_sync_answers_are_the_same_in_both_modes(world: World, engine: Engine) -> None:
    with world.client() as sidecar, world.client(mode="in-process", engine=engine) as local:
        for i, (a, b) in enumerate(zip(calls(world, sidecar), calls(world, local), strict=True)):
            assert outcome(a) == outcome(b), f"call {i}"
        assert local.stats() == sidecar.stats()


def test_async_answers_are_the_same_in_both_modes(world: World, engine: Engine) -> None:
    async def both() -> None:
        good = {"action": "read", "resource": {"type": "document", "id": "d1"}}
        async with (
            AsyncCoreSDKClient(world.config()) as sidecar,
            AsyncCoreSDKClient(world.config(mode="in-process", engine=engine)) as local,
        ):
            async_calls: list[Callable[[AsyncCoreSDKClient], Awaitable[Any]]] = [
                lambda s: s.authorize(world.tokens["valid"], input=good),
                lambda s: s.evaluate_policy("data.authz.allow", good),
                lambda s: s.is_allowed("data.authz.allow", {"action": "delete"}),
                lambda s: s.mask_pii(["mail bob@example.com"]),
            ]
            for sdk_calls in async_calls:
                assert plain(await sdk_calls(sidecar)) == plain(await sdk_calls(local))
            # Many calls at once: the engine works on the loop's thread pool, the loop keeps turning.
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            want = plain(await sidecar.is_allowed("data.authz.allow", good))
            ticker = asyncio.create_task(tick())
            results = await asyncio.gather(*[local.is_allowed("data.authz.allow", good) for _ in range(200)])
            ticker.cancel()
            assert all(plain(r) == want for r in results) and ticks > 0

    asyncio.run(both())


def test_in_process_from_env_owns_its_engine(tmp_path: Path, world: World) -> None:
    (tmp_path / "coresdk.toml").write_text(
        f'[sdk]\nmode = "in-process"\npolicy_dir = "{world.dir / "bundle"}"\nwatch_policies = false\n'
        f'issuer = "{SETUP["issuer"]}"\naudience = "{SETUP["audience"]}"\n'
        f'jwks_url = "{world.jwks.url}"\njwks_ca_file = "{world.pki.ca_file}"\n'
        # The sidecar's TLS settings and address are not read in-process.
        'sidecar_addr = "10.1.2.3:50051"\n'
    )
    env = {"CORESDK_CONFIG": str(tmp_path / "coresdk.toml")}
    cfg = SDKConfig.from_env(env)
    assert cfg.mode == "in-process" and cfg.engine is None
    mp = pytest.MonkeyPatch()
    mp.setenv("CORESDK_CONFIG", env["CORESDK_CONFIG"])
    try:
        sdk = CoreSDKClient(cfg)
    finally:
        mp.undo()
    r = sdk.authorize(world.tokens["valid"], input={"action": "read", "resource": {"type": "document", "id": "d1"}})
    assert r.claims is not None and not r.degraded
    assert sdk.health() == "SERVING"
    sdk.close()
    with pytest.raises(CoreSDKError) as err:
        sdk.evaluate_policy("data.authz.allow")
    assert err.value.code == "ERR_ENGINE_CLOSED"


def test_a_given_engine_is_not_closed_by_the_client(engine: Engine, world: World) -> None:
    with world.client(mode="in-process", engine=engine) as sdk:
        assert sdk.health() == "SERVING"
    assert not engine.closed


def test_bad_mode_settings() -> None:
    with pytest.raises(CoreSDKError) as err:
        SDKConfig(mode="local")  # type: ignore[arg-type]
    assert err.value.code == "ERR_CONFIG"
    with pytest.raises(CoreSDKError) as err:
        SDKConfig(mode="in-process", engine="not an engine")  # type: ignore[arg-type]
    assert err.value.code == "ERR_CONFIG"
    # In-process without a bundle: the engine's own error, naming the variable.
    mp = pytest.MonkeyPatch()
    mp.delenv("CORESDK_POLICY_DIR", raising=False)
    mp.delenv("CORESDK_CONFIG", raising=False)
    try:
        with pytest.raises(CoreSDKError) as err:
            CoreSDKClient(SDKConfig(mode="in-process"))
    finally:
        mp.undo()
    assert err.value.code == "ERR_CONFIG" and "CORESDK_POLICY_DIR" in err.value.message
