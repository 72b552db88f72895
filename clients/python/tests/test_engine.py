"""``coresdk.Engine``, the engine in this process (the PyO3 extension built from native/python).

Real policies, a real key set over HTTPS (the session's JWKS server), real
threads and a real fork. Bad input of every kind gets a typed
:class:`CoreSDKError` with a stable code, never a crash or a hang.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import VALUES, VALUES_BUNDLE, World
from coresdk import CoreSDKError, Engine

if TYPE_CHECKING:
    from coresdk._native import ReloadEvent

RBAC = """package authz
import rego.v1
default allow := false
allow if input.user.role == "admin"
allow if {
  input.user.role == "viewer"
  input.action == "read"
}
"""


@pytest.fixture
def rbac() -> Engine:
    return Engine(policies={"authz.rego": RBAC})


def test_decisions_and_verdicts(rbac: Engine) -> None:
    d = rbac.evaluate_policy("data.authz.allow", {"user": {"role": "admin"}})
    assert d.defined and d.value is True and d.allowed and d.revision == rbac.revision
    assert rbac.is_allowed("data.authz.allow", {"user": {"role": "viewer"}, "action": "read"})
    assert not rbac.is_allowed("data.authz.allow", {"user": {"role": "viewer"}, "action": "write"})
    v = rbac.decide("data.authz.allow", {"user": {"role": "viewer"}, "action": "write"})
    assert (v.allowed, v.reason, v.error, v.revision) == (False, "denied", None, rbac.revision)
    v = rbac.decide("data.authz.missing")
    assert (v.allowed, v.reason) == (False, "ERR_UNKNOWN_RULE") and v.error is not None and v.error.code == "ERR_UNKNOWN_RULE"
    assert rbac.fast_path_plan("data.authz.allow")["evaluator"] in ("tree", "interpreter")
    stats = rbac.fast_path_stats()
    assert stats["vm"] + stats["interpreter"] >= 3
    assert rbac.decision_cache_stats()["enabled"] is True
    assert rbac.key_status() is None


def test_value_corpus_is_exact() -> None:
    """clients/conformance/values.json in-process: the same values the sidecar path gives."""
    from test_values import expected, same

    eng = Engine(policies={"values.rego": (VALUES_BUNDLE / "values.rego").read_text()})
    for c in VALUES["cases"]:
        d = eng.evaluate_policy(c["query"], {})
        assert d.defined is not c.get("undefined", False), c["query"]
        assert same(d.value, expected(c)), f"{c['query']}: {d.value!r}, expected {c.get('json')}"


def test_input_values_cross_exactly() -> None:
    eng = Engine(policies={"echo.rego": "package echo\nimport rego.v1\nv := input.v\nk := object.keys(input.o)\n"})
    for v in [2**63 - 1, -(2**63), 2**64 - 1, 9007199254740993, 0.1, -0.0, 1.5e300, 'é\u2028"\\', [1, [2, [3]]], {"a": None}, True]:
        got = eng.evaluate_policy("data.echo.v", {"v": v}).value
        assert json.dumps(got) == json.dumps(v), v
    # Tuples are arrays; int, bool and None keys become strings, as json.dumps writes them.
    assert eng.evaluate_policy("data.echo.v", {"v": (1, 2)}).value == [1, 2]
    assert eng.evaluate_policy("data.echo.k", {"o": {2: 0, True: 0, None: 0, "s": 0}}).value == ["2", "null", "s", "true"]


def _cycle() -> dict[str, Any]:
    c: dict[str, Any] = {}
    c["self"] = c
    return c


def _deep(n: int) -> list[Any]:
    d: list[Any] = []
    for _ in range(n):
        d = [d]
    return d


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({1, 2}, "ERR_INPUT_INVALID"),
        (b"bytes", "ERR_INPUT_INVALID"),
        (float("nan"), "ERR_INPUT_INVALID"),
        (float("inf"), "ERR_INPUT_INVALID"),
        (object(), "ERR_INPUT_INVALID"),
        ("\ud800", "ERR_INPUT_INVALID"),
        ({(1, 2): 0}, "ERR_INPUT_INVALID"),
        (_cycle(), "ERR_INPUT_INVALID"),
        (_deep(100_000), "ERR_INPUT_TOO_DEEP"),
        ("x" * (5 * 1024 * 1024), "ERR_INPUT_TOO_LARGE"),
        (123456789012345678901234567890, "ERR_INPUT_INVALID"),
    ],
    ids=["set", "bytes", "nan", "inf", "object", "lone-surrogate", "tuple-key", "cycle", "deep", "huge", "inexact-int"],
)
def test_bad_input_is_a_typed_error(rbac: Engine, value: object, code: str) -> None:
    with pytest.raises(CoreSDKError) as err:
        rbac.evaluate_policy("data.authz.allow", {"v": value})
    assert err.value.code == code
    # The allow-style calls never raise: a deny with the reason.
    assert rbac.is_allowed("data.authz.allow", {"v": value}) is False
    v = rbac.decide("data.authz.allow", {"v": value})
    assert (v.allowed, v.reason) == (False, code)


def test_bad_arguments_are_typed_errors(rbac: Engine) -> None:
    with pytest.raises(CoreSDKError) as err:
        rbac.evaluate_policy(42)  # type: ignore[arg-type]
    assert err.value.code == "ERR_QUERY_INVALID"
    with pytest.raises(CoreSDKError) as err:
        rbac.evaluate_policy("data.authz[")
    assert err.value.code == "ERR_QUERY_INVALID"
    with pytest.raises(CoreSDKError) as err:
        rbac.mask_pii("not a list")
    assert err.value.code == "ERR_INPUT_INVALID"
    with pytest.raises(CoreSDKError) as err:
        rbac.verify_token(b"x")  # type: ignore[arg-type]
    assert err.value.code == "ERR_TOKEN_MALFORMED"
    r = rbac.authorize("t", input=["not", "a", "dict"])  # type: ignore[arg-type]
    assert (r.allowed, r.reason) == (False, "ERR_INPUT_INVALID")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"policy_dir": "/nonexistent/coresdk"}, "ERR_POLICY_LOAD"),
        ({"policies": {"a.rego": "package a\nallow if {"}}, "ERR_POLICY_COMPILE"),
        ({"policies": {"a.rego": "package a"}, "no_such_key": 1}, "ERR_CONFIG"),
        ({"policies": {"a.rego": "package a"}, "pool_size": "many"}, "ERR_CONFIG"),
        ({"policies": {"a.rego": "package a"}, "data": {"x": {1, 2}}}, "ERR_CONFIG"),
        ({"policies": {"a.rego": "package a"}, "policy_dir": "."}, "ERR_CONFIG"),
        ({}, "ERR_CONFIG"),
    ],
    ids=["missing-dir", "compile", "unknown-key", "bad-int", "bad-data", "two-sources", "no-bundle"],
)
def test_bad_configuration_is_a_typed_error(kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(CoreSDKError) as err:
        Engine(**kwargs)
    assert err.value.code == code


def test_closed_engine(rbac: Engine) -> None:
    with rbac as eng:
        assert eng.is_allowed("data.authz.allow", {"user": {"role": "admin"}})
    assert rbac.closed
    with pytest.raises(CoreSDKError) as err:
        rbac.evaluate_policy("data.authz.allow")
    assert err.value.code == "ERR_ENGINE_CLOSED"
    assert rbac.is_allowed("data.authz.allow", {"user": {"role": "admin"}}) is False
    assert rbac.decide("data.authz.allow").reason == "ERR_ENGINE_CLOSED"
    rbac.close()  # idempotent


def test_many_threads_share_one_engine(rbac: Engine) -> None:
    def work(i: int) -> tuple[bool, bool]:
        role = "admin" if i % 2 else "viewer"
        return (rbac.is_allowed("data.authz.allow", {"user": {"role": role}, "action": "write"}), i % 2 == 1)

    with ThreadPoolExecutor(max_workers=16) as pool:
        for got, want in pool.map(work, range(4000)):
            assert got is want


def test_close_while_threads_evaluate(rbac: Engine) -> None:
    """Closing under load: every call answers (a decision or ERR_ENGINE_CLOSED); none hangs or crashes."""
    seen: set[str] = set()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            seen.add(rbac.decide("data.authz.allow", {"user": {"role": "admin"}}).reason)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    while "allowed" not in seen:
        threading.Event().wait(0.001)
    rbac.close()
    while "ERR_ENGINE_CLOSED" not in seen:
        threading.Event().wait(0.001)
    stop.set()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert seen <= {"allowed", "ERR_ENGINE_CLOSED"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_fork_after_creating_an_engine(rbac: Engine) -> None:
    """In the child, the parent's engine is refused (ERR_ENGINE_CLOSED); a new one works; the parent's keeps working."""
    assert rbac.is_allowed("data.authz.allow", {"user": {"role": "admin"}})
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's teardown
        out: dict[str, Any] = {}
        try:
            rbac.evaluate_policy("data.authz.allow", {"user": {"role": "admin"}})
        except CoreSDKError as e:
            out["code"] = e.code
        out["is_allowed"] = rbac.is_allowed("data.authz.allow", {"user": {"role": "admin"}})
        out["closed"] = rbac.closed
        out["fresh"] = Engine(policies={"authz.rego": RBAC}).is_allowed("data.authz.allow", {"user": {"role": "admin"}})
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = json.loads(f.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out == {"code": "ERR_ENGINE_CLOSED", "is_allowed": False, "closed": True, "fresh": True}
    assert rbac.is_allowed("data.authz.allow", {"user": {"role": "admin"}})


def test_reload_and_listeners(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "authz.rego").write_text(RBAC)
    eng = Engine(policy_dir=str(tmp_path), watch_policies=False)
    events: list[ReloadEvent] = []
    unsubscribe = eng.on_reload(events.append)
    first = eng.revision
    (tmp_path / "authz.rego").write_text(RBAC.replace('"admin"', '"root"'))
    assert eng.reload() != first
    assert eng.is_allowed("data.authz.allow", {"user": {"role": "root"}})
    (tmp_path / "authz.rego").write_text("package authz\nallow if {")
    with pytest.raises(CoreSDKError) as err:
        eng.reload()
    assert err.value.code == "ERR_POLICY_COMPILE"
    assert eng.is_allowed("data.authz.allow", {"user": {"role": "root"}})  # the last good revision serves
    assert [e["kind"] for e in events] == ["reloaded", "failed"]
    assert events[0]["previous"] == first and events[1]["code"] == "ERR_POLICY_COMPILE" and events[1]["file"] == "authz.rego"
    unsubscribe()
    (tmp_path / "authz.rego").write_text(RBAC)
    eng.reload()
    assert len(events) == 2

    def broken(_e: ReloadEvent) -> None:
        raise RuntimeError("listener bug")

    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
    eng.on_reload(broken)
    eng.reload()  # the listener's exception is reported, never raised into the engine
    assert len(reported) == 1 and isinstance(reported[0], RuntimeError)
    eng.close()


def test_tokens_in_process(world: World) -> None:
    with world.engine() as eng:
        claims = eng.verify_token(world.tokens["valid"])
        assert claims["sub"] and claims["iss"]
        for kind in ("expired", "bad_signature", "unknown_key"):
            if kind in world.tokens:
                with pytest.raises(CoreSDKError) as err:
                    eng.verify_token(world.tokens[kind])
                assert err.value.code.startswith("ERR_TOKEN_")
                assert err.value.rfc6750_error == "invalid_token"
        r = eng.authorize(world.tokens["valid"], input={"action": "read"})
        assert r.claims is not None and r.claims["sub"] == claims["sub"] and r.revision == eng.revision
        assert r.reason in ("allowed", "denied", "undefined")
        bad = eng.authorize("not.a.token")
        assert (bad.allowed, bad.reason, bad.claims) == (False, "ERR_TOKEN_MALFORMED", None)
        assert bad.error is not None and bad.error.code == "ERR_TOKEN_MALFORMED"
        status = eng.key_status()
        assert status is not None and status["keys"] >= 1
    with world.engine("keyless") as eng:
        r = eng.authorize(world.tokens["valid"])
        assert (r.allowed, r.reason) == (False, "ERR_JWKS_UNAVAILABLE")


def test_pii_masking() -> None:
    eng = Engine(policies={"a.rego": "package a"})
    out = eng.mask_pii(["write to bob@example.com", "nothing here"])
    assert "bob@example.com" not in out[0] and out[1] == "nothing here"
    assert eng.mask_pii([]) == []


def test_from_env_reads_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "authz.rego").write_text(RBAC)
    (tmp_path / "coresdk.toml").write_text('[sdk]\npolicy_dir = "policies"\nwatch_policies = false\n')
    monkeypatch.setenv("CORESDK_CONFIG", str(tmp_path / "coresdk.toml"))
    monkeypatch.setenv("CORESDK_DECISION_CACHE_ENTRIES", "0")
    eng = Engine.from_env()
    assert eng.is_allowed("data.authz.allow", {"user": {"role": "admin"}})
    assert eng.decision_cache_stats()["enabled"] is False
    assert Engine.from_env(decision_cache_entries=16).decision_cache_stats()["enabled"] is True
    monkeypatch.setenv("CORESDK_POOL_SIZE", "zero")
    with pytest.raises(CoreSDKError) as err:
        Engine.from_env()
    assert err.value.code == "ERR_CONFIG" and "CORESDK_POOL_SIZE" in err.value.message
