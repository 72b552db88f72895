"""CoreSDKClient and AsyncCoreSDKClient against the repository's real sidecar (mutual TLS, HTTPS JWKS)."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import SETUP, World
from coresdk import AsyncCoreSDKClient, CoreSDKClient, CoreSDKError, SDKConfig
from support.sidecar import Sidecar, dead_port
from support.tokens import jwks_of


def test_authorize_allows_with_claims(world: World) -> None:
    with world.client() as sdk:
        r = sdk.authorize(world.tokens["valid"], input={"action": "read"})
        assert r.allowed and r.reason == "allowed" and not r.degraded
        assert r.claims is not None and r.claims["sub"] == "user-1"
        assert r.defined and r.value is True
        assert r.revision and r.error is None


def test_authorize_denies_as_an_answer(world: World) -> None:
    with world.client() as sdk:
        r = sdk.authorize(world.tokens["valid"], query="data.authz.allow", input={"action": "write"})
        assert not r.allowed and r.reason == "denied" and r.error is None
        assert r.claims is not None and r.claims["sub"] == "user-1"


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("expired", "ERR_TOKEN_EXPIRED"),
        ("wrong_audience", "ERR_TOKEN_CLAIM"),
        ("wrong_issuer", "ERR_TOKEN_CLAIM"),
        ("tampered", "ERR_TOKEN_SIGNATURE"),
        ("unknown_key", "ERR_TOKEN_UNKNOWN_KEY"),
    ],
)
@pytest.mark.parametrize("fail_mode", ["open", "closed"])
def test_a_rejected_token_is_never_allowed(world: World, kind: str, code: str, fail_mode: str) -> None:
    with world.client(fail_mode=fail_mode) as sdk:
        for r in (sdk.authorize(world.tokens[kind]), sdk.verify_token(world.tokens[kind])):
            assert not r.allowed and not r.degraded and r.claims is None
            assert r.reason == code
            assert r.error is not None and r.error.code == code and r.error.rfc6750_error == "invalid_token"
            assert world.tokens[kind] not in f"{r.error} {r.error!r}"
        assert sdk.stats().fail_open == 0


def test_verify_token(world: World) -> None:
    with world.client() as sdk:
        r = sdk.verify_token(world.tokens["admin"])
        assert r.allowed and r.claims is not None and r.claims["role"] == "admin"
        assert sdk.verify_token("not-a-jwt").reason == "ERR_TOKEN_MALFORMED"


def test_evaluate_policy_is_allowed_and_batches(world: World) -> None:
    with world.client() as sdk:
        d = sdk.evaluate_policy("data.authz.allow", {"action": "read", "claims": {"role": "reader"}})
        assert d.allowed and d.defined and d.value is True and d.revision
        d = sdk.evaluate_policy("data.authz.allow", {"action": "write", "claims": {"role": "reader"}})
        assert not d.allowed and d.defined and d.value is False
        r = sdk.is_allowed("data.authz.allow", {"claims": {"role": "admin"}})
        assert r.allowed and r.reason == "allowed" and r.revision
        r = sdk.is_allowed("data.authz.allow", {})
        assert not r.allowed and r.reason == "denied"
        items = sdk.evaluate_policies(
            [
                ("data.authz.allow", {"claims": {"role": "admin"}}),
                {"query": "data.authz.allow", "input": {"claims": {"role": "nobody"}}},
                ("data.authz.allow", "not an object"),
            ]
        )
        assert [i.ok for i in items][:2] == [True, True]
        assert items[0].allowed and not items[1].allowed
        assert items[0].decision is not None and items[0].decision.revision == d.revision


def test_evaluate_policy_errors_are_typed(world: World) -> None:
    with world.client() as sdk:
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("not a query ((", {})
        # Outside --dev the sidecar serves its bundle's rules only: a general
        # query (malformed or not) is refused before it is parsed.
        assert e.value.code == "ERR_QUERY_NOT_ALLOWED"
        assert e.value.message and "((" not in e.value.message
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("x := data", {})
        assert e.value.code == "ERR_QUERY_NOT_ALLOWED"
        d = sdk.evaluate_policy("data.authz.allow", "a string input is JSON too")
        assert d.defined and d.value is False
        assert sdk.health() == "SERVING"


class Opaque:
    pass


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"x": Opaque()}, "ERR_INPUT_INVALID"),
        ({"x": {1, 2}}, "ERR_INPUT_INVALID"),
        ({"x": float("nan")}, "ERR_INPUT_INVALID"),
    ],
)
def test_inputs_json_cannot_carry_are_typed_errors(world: World, value: Any, code: str) -> None:
    with world.client() as sdk:
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("data.authz.allow", value)
        assert e.value.code == code
        r = sdk.authorize(world.tokens["valid"], input=value)
        assert not r.allowed and r.reason == code and not r.degraded


def test_deep_input_is_a_typed_error(world: World) -> None:
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(100_000):
        cur["a"] = {}
        cur = cur["a"]
    with world.client() as sdk:
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("data.authz.allow", deep)
        assert e.value.code == "ERR_INPUT_TOO_DEEP"
        nested: list[Any] = [1]
        for _ in range(300):
            nested = [nested]
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("data.authz.allow", {"a": nested})  # JSON can carry it; the sidecar's depth limit refuses it
        assert e.value.code == "ERR_INPUT_TOO_DEEP"


@pytest.mark.parametrize("size", [5 * 1024 * 1024, 20 * 1024 * 1024])
def test_oversized_input_is_a_typed_error(world: World, size: int) -> None:
    with world.client() as sdk:
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("data.authz.allow", {"blob": "x" * size})
        assert e.value.code in ("ERR_INPUT_TOO_LARGE", "ERR_MESSAGE_TOO_LARGE")
        r = sdk.authorize(world.tokens["valid"], input={"blob": "x" * size})
        assert not r.allowed and r.reason in ("ERR_INPUT_TOO_LARGE", "ERR_MESSAGE_TOO_LARGE") and not r.degraded
        assert sdk.health() == "SERVING" and sdk.stats().breaker == "closed"


def test_claims_in_authorize_input_are_refused(world: World) -> None:
    with world.client() as sdk:
        r = sdk.authorize(world.tokens["valid"], input={"claims": {"role": "admin"}, "action": "write"})
        assert not r.allowed and r.reason == "ERR_INPUT_INVALID"


def test_unknown_tenant_is_an_answer(world: World) -> None:
    with world.client(fail_mode="open", tenant_id="globex") as sdk:
        r = sdk.authorize(world.tokens["valid"])
        assert not r.allowed and r.reason == "ERR_UNKNOWN_TENANT" and not r.degraded
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("data.authz.allow", {})
        assert e.value.code == "ERR_UNKNOWN_TENANT"


def test_mask_pii(world: World) -> None:
    with world.client() as sdk:
        out = sdk.mask_pii(["write to alice@example.com", "nothing here"])
        assert out[1] == "nothing here"
        assert "alice@example.com" not in out[0]
        with pytest.raises(CoreSDKError) as e:
            sdk.mask_pii("a string, not a list")
        assert e.value.code == "ERR_INPUT_INVALID"


def test_intruder_certificate_and_plaintext_are_transport_failures(world: World) -> None:
    intruder = world.config(fail_mode="closed", tls_cert_file=world.pki.intruder_cert, tls_key_file=world.pki.intruder_key)
    with CoreSDKClient(intruder) as sdk:
        r = sdk.authorize(world.tokens["valid"])
        assert not r.allowed and r.reason == "ERR_SIDECAR_UNAVAILABLE"
        assert sdk.stats().fail_closed == 1
    plain = SDKConfig(sidecar_addr=world.sidecar.addr, fail_mode="open", timeout_ms=2000, warn=lambda _m: None)
    with CoreSDKClient(plain) as sdk:
        r = sdk.authorize(world.tokens["valid"])
        assert r.allowed and r.degraded and r.claims is None and r.reason == "fail-open"


def test_fail_open_warns_at_most_every_ten_seconds_and_counts(world: World) -> None:
    warnings: list[str] = []
    with world.client("down", "open", warn=warnings.append, breaker_failure_threshold=100) as sdk:
        for _ in range(3):
            r = sdk.authorize(world.tokens["valid"])
            assert r.allowed and r.degraded and r.claims is None and r.reason == "fail-open"
            assert r.error is not None and r.error.code == "ERR_SIDECAR_UNAVAILABLE"
        assert sdk.stats().fail_open == 3
        assert len(warnings) == 1
        assert "ERR_SIDECAR_UNAVAILABLE" in warnings[0] and world.tokens["valid"] not in warnings[0]
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policy("data.authz.allow", {})
        assert e.value.code == "ERR_SIDECAR_UNAVAILABLE"
        assert sdk.is_allowed("data.authz.allow", {}).degraded
        assert sdk.health() == "UNREACHABLE"


def test_the_breaker_opens_and_fails_fast(world: World) -> None:
    with world.client("down", "closed", retries=0) as sdk:
        for _ in range(5):
            assert sdk.authorize(world.tokens["valid"]).reason == "ERR_SIDECAR_UNAVAILABLE"
        assert sdk.stats().breaker == "open"
        t = time.perf_counter()
        r = sdk.authorize(world.tokens["valid"])
        assert time.perf_counter() - t < 0.2  # no network wait (the timeout is 2 s)
        assert r.error is not None and "circuit open" in r.error.message


def test_a_slow_sidecar_costs_one_deadline(world: World) -> None:
    with world.client("slow", "closed", timeout_ms=300) as sdk:
        t = time.perf_counter()
        r = sdk.authorize(world.tokens["valid"])
        elapsed = time.perf_counter() - t
        assert r.reason == "ERR_SIDECAR_TIMEOUT" and not r.allowed
        assert 0.25 < elapsed < 1.5
        t = time.perf_counter()
        r = sdk.verify_token(world.tokens["valid"], timeout_ms=100)
        assert r.reason == "ERR_SIDECAR_TIMEOUT"
        assert time.perf_counter() - t < 1.0


def test_closed_client_and_bad_call_options(world: World) -> None:
    sdk = world.client()
    assert sdk.health() == "SERVING"
    with pytest.raises(CoreSDKError) as e:
        sdk.evaluate_policy("data.authz.allow", {}, timeout_ms=0)
    assert e.value.code == "ERR_CONFIG"
    sdk.close()
    sdk.close()
    with pytest.raises(CoreSDKError) as e:
        sdk.evaluate_policy("data.authz.allow", {})
    assert e.value.code == "ERR_ENGINE_CLOSED"
    assert sdk.authorize(world.tokens["valid"]).reason == "ERR_ENGINE_CLOSED"


def test_async_client(world: World) -> None:
    sdk = AsyncCoreSDKClient(world.config())

    async def run() -> None:
        r = await sdk.authorize(world.tokens["valid"], input={"action": "read"})
        assert r.allowed and r.claims is not None and r.claims["sub"] == "user-1"
        r = await sdk.verify_token(world.tokens["expired"])
        assert r.reason == "ERR_TOKEN_EXPIRED"
        assert (await sdk.evaluate_policy("data.authz.allow", {"claims": {"role": "admin"}})).allowed
        assert (await sdk.is_allowed("data.authz.allow", {})).reason == "denied"
        assert len(await sdk.evaluate_policies([("data.authz.allow", {})] * 3)) == 3
        assert (await sdk.mask_pii(["x"])) == ["x"]
        assert await sdk.health() == "SERVING"
        rs = await asyncio.gather(
            *(sdk.authorize(world.tokens["valid" if i % 2 else "expired"], input={"action": "read"}) for i in range(40))
        )
        assert [r.allowed for r in rs] == [i % 2 == 1 for i in range(40)]

    asyncio.run(run())
    asyncio.run(run())  # a second event loop gets its own channel
    asyncio.run(sdk.close())


def test_async_client_fail_modes(world: World) -> None:
    async def run() -> None:
        async with AsyncCoreSDKClient(world.config("down", "open")) as sdk:
            r = await sdk.authorize(world.tokens["valid"])
            assert r.allowed and r.degraded and sdk.stats().fail_open == 1
        async with AsyncCoreSDKClient(world.config("slow", "closed")) as sdk:
            r = await sdk.authorize(world.tokens["valid"])
            assert r.reason == "ERR_SIDECAR_TIMEOUT"

    asyncio.run(run())


def test_the_aio_twin_shares_counters(world: World) -> None:
    with world.client("down", "open") as sdk:
        assert sdk.authorize(world.tokens["valid"]).degraded
        twin = sdk.aio
        assert sdk.aio is twin
        assert asyncio.run(twin.authorize(world.tokens["valid"])).degraded
        assert sdk.stats().fail_open == 2


@pytest.mark.parametrize("batch", [[("data.authz.allow",)], [("q", {}, "extra")], ["data.authz.allow"], "data.authz.allow", [(1, {})]])
def test_malformed_batches_are_typed_errors(world: World, batch: Any) -> None:
    with world.client() as sdk:
        with pytest.raises(CoreSDKError) as e:
            sdk.evaluate_policies(batch)
        assert e.value.code in ("ERR_INPUT_INVALID", "ERR_QUERY_INVALID")


def test_a_cancelled_call_frees_the_half_open_probe(world: World) -> None:
    async def run() -> None:
        async with AsyncCoreSDKClient(
            world.config("slow", "closed", timeout_ms=5000, breaker_reset_ms=0, breaker_failure_threshold=1)
        ) as sdk:
            # One timeout opens the breaker (threshold 1); with reset 0 it is half-open at once.
            assert (await sdk.authorize(world.tokens["valid"], timeout_ms=100)).reason == "ERR_SIDECAR_TIMEOUT"
            assert sdk.stats().breaker == "half-open"
            probe = asyncio.ensure_future(sdk.authorize(world.tokens["valid"]))
            await asyncio.sleep(0.1)
            probe.cancel()
            with pytest.raises(asyncio.CancelledError):
                await probe
            assert sdk.stats().breaker == "half-open", "a cancelled probe proves nothing: the breaker must not close"
            # The probe slot is free again: the next call goes out (and times out) instead of failing fast.
            t = time.perf_counter()
            assert (await sdk.authorize(world.tokens["valid"], timeout_ms=100)).reason == "ERR_SIDECAR_TIMEOUT"
            assert time.perf_counter() - t >= 0.09

    asyncio.run(run())


def test_plaintext_over_a_unix_socket(world: World, tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(world.key)))
    sock = tmp_path / "sidecar.sock"
    sidecar = Sidecar(
        {
            "CORESDK_SIDECAR_ADDR": f"unix:{sock}",
            "CORESDK_SIDECAR_INSECURE_DEV": "true",
            "CORESDK_POLICY_DIR": str(world.dir / "bundle"),
            "CORESDK_JWKS_FILE": str(tmp_path / "jwks.json"),
            "CORESDK_ISSUER": SETUP["issuer"],
            "CORESDK_AUDIENCE": SETUP["audience"],
        }
    )
    try:
        with CoreSDKClient(SDKConfig(sidecar_addr=f"unix:{sock}")) as sdk:
            r = sdk.authorize(world.tokens["valid"], input={"action": "read"})
            assert r.allowed
            assert sdk.health() == "SERVING"
    finally:
        sidecar.stop()


def test_recovers_when_the_sidecar_comes_back(world: World, tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(world.key)))
    port = dead_port()
    env = {
        "CORESDK_SIDECAR_ADDR": f"127.0.0.1:{port}",
        "CORESDK_SIDECAR_INSECURE_DEV": "true",
        "CORESDK_POLICY_DIR": str(world.dir / "bundle"),
        "CORESDK_JWKS_FILE": str(tmp_path / "jwks.json"),
        "CORESDK_ISSUER": SETUP["issuer"],
        "CORESDK_AUDIENCE": SETUP["audience"],
    }
    warnings: list[str] = []
    config = SDKConfig(sidecar_addr=f"127.0.0.1:{port}", breaker_reset_ms=200, timeout_ms=500, warn=warnings.append)
    sidecar = Sidecar(env)
    with CoreSDKClient(config) as sdk:
        try:
            assert not sdk.verify_token(world.tokens["valid"]).degraded
            sidecar.stop()
            for _ in range(6):
                assert sdk.verify_token(world.tokens["valid"]).degraded
            assert sdk.stats().breaker == "open"
            sidecar = Sidecar(env)
            started = time.monotonic()
            while sdk.verify_token(world.tokens["valid"]).degraded:
                assert time.monotonic() - started < 5, "the client did not reconnect within 5 s of the sidecar's return"
                time.sleep(0.05)
            assert sdk.stats().breaker == "closed"
            assert len(warnings) == 1
        finally:
            sidecar.stop()


def test_wrong_argument_types_are_typed_errors(world: World) -> None:
    with world.client() as sdk:
        bad: Any = 42
        assert sdk.authorize(bad).reason == "ERR_TOKEN_MALFORMED"
        assert sdk.authorize(world.tokens["valid"], query=bad).reason == "ERR_QUERY_INVALID"
        assert sdk.authorize(world.tokens["valid"], input=bad).reason == "ERR_INPUT_INVALID"
        assert sdk.authorize(world.tokens["valid"], tenant_id=bad).reason == "ERR_TENANT_INVALID"
        assert sdk.verify_token(world.tokens["valid"], tenant_id=bad).reason == "ERR_TENANT_INVALID"
        assert sdk.is_allowed(bad).reason == "ERR_QUERY_INVALID"
        for call in (lambda: sdk.evaluate_policy(bad), lambda: sdk.mask_pii([bad]), lambda: sdk.evaluate_policy("q", tenant_id=bad)):
            with pytest.raises(CoreSDKError):
                call()
        assert sdk.stats().fail_open == 0


def test_a_cancelled_call_gives_the_breaker_probe_back(world: World) -> None:
    # The one retry loop (coresdk._core.call) serves both clients: a call cancelled while it waits
    # out a retry's backoff frees the half-open probe, so the next call is let through.
    config = SDKConfig(
        sidecar_addr=f"127.0.0.1:{world.dead_port}",
        breaker_failure_threshold=1,
        breaker_reset_ms=0,
        retries=10,
        backoff_ms=60_000,
        timeout_ms=600_000,
        warn=lambda _m: None,
    )

    async def main() -> None:
        async with AsyncCoreSDKClient(config) as sdk:
            assert await sdk.health(timeout_ms=50) == "UNREACHABLE"  # opens the breaker (reset at once: half-open)
            assert sdk.stats().breaker == "half-open"
            probe = asyncio.create_task(sdk.health())  # refused, then a backoff of up to a minute
            await asyncio.sleep(0.3)
            probe.cancel()
            with pytest.raises(asyncio.CancelledError):
                await probe
            with pytest.raises(CoreSDKError) as info:
                await sdk.evaluate_policy("data.authz.allow", timeout_ms=50)
            assert "circuit open" not in info.value.message

    asyncio.run(main())


def test_the_sync_and_async_clients_have_the_same_methods() -> None:
    # Both are thin transports over coresdk._core's operations; their public surface must not drift apart.
    def public(cls: type) -> dict[str, inspect.Signature]:
        members = {n: f.__func__ if isinstance(f, classmethod) else f for n, f in vars(cls).items() if not n.startswith("_")}
        return {n: inspect.signature(f) for n, f in members.items() if inspect.isfunction(f)}

    sync, aio = public(CoreSDKClient), public(AsyncCoreSDKClient)
    assert set(sync) == set(aio)
    for name in sync:
        assert str(sync[name]).replace("CoreSDKClient", "") == str(aio[name]).replace("AsyncCoreSDKClient", ""), name
        if name not in ("stats", "from_env"):
            assert inspect.iscoroutinefunction(getattr(AsyncCoreSDKClient, name)), name
