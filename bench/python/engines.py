"""Policy decisions from Python: CoreSDK in-process, CoreSDK via the sidecar, opa-py-wasm, cedarpy.

``python bench/python/engines.py [--calls N] [--sidecar PATH]``: for each benchmark policy
(bench/policies: rbac, abac, rules100, gateway, rolegraph, denyset), the same inputs through

* ``coresdk.Engine.is_allowed`` and ``evaluate_policy`` in this process, cold (decision cache off)
  and repeated (the cache on, the inputs seen before);
* ``CoreSDKClient.evaluate_policy`` through a ``coresdk-sidecar`` on loopback (plaintext, one
  process per policy; ``--sidecar``, default target/release/coresdk-sidecar);
* opa-py-wasm (PyPI; the bundle compiled by ``opa build -t wasm``: bench/.wasm, made by
  ``node bench/tools/build-wasm.mjs``);
* cedarpy (PyPI) for the RBAC policy, as the equivalent Cedar policies (one ``permit`` per grant).

Every engine's verdict on every input is first checked against OPA's own (bench/.wasm/<name>/
expected.json); then N calls per row, one at a time, cycling over the inputs, with
``time.perf_counter_ns`` around each call: p50, p99 and calls per second. Prints a Markdown table.
Needs the release wheel and the two PyPI packages in one virtualenv (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cedarpy  # type: ignore[import-not-found, unused-ignore]
import opapywasm  # type: ignore[import-not-found, unused-ignore]

from coresdk import CoreSDKClient, Engine, SDKConfig

ROOT = Path(__file__).resolve().parents[2]
POLICIES = [
    ("rbac", "data.authz.allow"),
    ("abac", "data.abac.allow"),
    ("rules100", "data.rules100.allow"),
    ("gateway", "data.gateway.allow"),
    ("rolegraph", "data.rolegraph.allow"),
    ("denyset", "data.denyset.allow"),
]


def measure(fn: Callable[[Any], object], inputs: list[Any], calls: int) -> tuple[float, float, float]:
    """p50 and p99 in µs and calls per second of ``fn`` over ``calls`` calls cycling ``inputs``."""
    for i in range(min(calls // 10, 2000)):
        fn(inputs[i % len(inputs)])
    times = []
    started = time.perf_counter_ns()
    for i in range(calls):
        x = inputs[i % len(inputs)]
        t = time.perf_counter_ns()
        fn(x)
        times.append(time.perf_counter_ns() - t)
    total = (time.perf_counter_ns() - started) / 1e9
    times.sort()
    return times[len(times) // 2] / 1000, times[len(times) * 99 // 100] / 1000, calls / total


def check(name: str, verdict: Callable[[Any], bool], inputs: list[Any], expected: list[dict[str, Any]]) -> None:
    """Every verdict must be OPA's (allowed exactly when OPA's value is true)."""
    for i, (x, e) in enumerate(zip(inputs, expected, strict=True)):
        want = e.get("defined") is True and e.get("value") is True
        if verdict(x) is not want:
            raise SystemExit(f"{name}: input {i} answered {not want}, OPA answered {want}")


@contextmanager
def sidecar(program: Path, policy_dir: Path) -> Iterator[str]:
    """A plaintext loopback sidecar serving ``policy_dir`` (decision cache off); yields its address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORESDK_")}
    env |= {
        "CORESDK_SIDECAR_ADDR": "127.0.0.1:0",
        "CORESDK_SIDECAR_INSECURE_DEV": "true",
        "CORESDK_POLICY_DIR": str(policy_dir),
        "CORESDK_WATCH_POLICIES": "false",
        "CORESDK_DECISION_CACHE_ENTRIES": "0",
    }
    proc = subprocess.Popen([str(program)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        addr = ""
        for line in proc.stdout:
            event = json.loads(line) if line.startswith("{") else {}
            addr = event.get("addr", addr) if event.get("event") == "listening" else addr
            if event.get("event") == "serving":
                break
        if not addr:
            raise SystemExit(f"{program} did not start")
        # Keep reading its log, so that a full pipe never stalls it.
        threading.Thread(target=lambda out=proc.stdout: [None for _ in out], daemon=True).start()
        yield addr
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cedar_rbac(data: dict[str, Any]) -> str:
    """The RBAC policy in Cedar: one ``permit`` per (role, grant); a disabled user is forbidden."""
    out = ["forbid(principal, action, resource) when { context.disabled };"]
    for role, spec in data["rbac"]["roles"].items():
        for g in spec["grants"]:
            conds = [f'context.roles.contains("{role}")']
            if g["type"] != "*":
                conds.append(f'context.type == "{g["type"]}"')
            act = "action" if g["action"] == "*" else f'action == Action::"{g["action"]}"'
            out.append(f"permit(principal, {act}, resource) when {{ {' && '.join(conds)} }};")
    return "\n".join(out)


def cedar_request(x: dict[str, Any]) -> dict[str, Any]:
    """An RBAC benchmark input as a Cedar request (roles, resource type and ``disabled`` in the context)."""
    user = x["user"]
    return {
        "principal": {"type": "User", "id": str(user["id"])},
        "action": {"type": "Action", "id": str(x["action"])},
        "resource": {"type": "Resource", "id": str(x["resource"]["id"])},
        "context": {"roles": list(user.get("roles", [])), "type": x["resource"]["type"], "disabled": bool(user.get("disabled", False))},
    }


Row = tuple[str, str, str, float, float, float]
"""policy, engine, call, p50 µs, p99 µs, calls/s."""


def bench_policy(name: str, query: str, calls: int, program: Path) -> list[Row]:
    """Every engine on one benchmark policy: verdicts checked against OPA's, then measured."""
    bundle = ROOT / "bench" / "policies" / name
    built = ROOT / "bench" / ".wasm" / name
    inputs: list[Any] = json.loads((bundle / "inputs.json").read_text())
    expected: list[dict[str, Any]] = json.loads((built / "expected.json").read_text())
    data: dict[str, Any] = json.loads((built / "data.json").read_text())
    rows: list[Row] = []

    def add(engine: str, call: str, fn: Callable[[Any], object]) -> None:
        p50, p99, rate = measure(fn, inputs, calls)
        rows.append((name, engine, call, p50, p99, rate))
        print(f"{name:10} {engine:24} {call:26} p50 {p50:8.2f} µs  p99 {p99:8.2f} µs  {rate:10.0f}/s", file=sys.stderr)

    with (
        Engine(policy_dir=str(bundle), decision_cache_entries=0, watch_policies=False) as cold,
        Engine(policy_dir=str(bundle), watch_policies=False) as warm,
    ):
        check(f"coresdk {name}", lambda x: cold.is_allowed(query, x), inputs, expected)
        add("CoreSDK in-process", "is_allowed (cold)", lambda x: cold.is_allowed(query, x))
        add("CoreSDK in-process", "evaluate_policy (cold)", lambda x: cold.evaluate_policy(query, x))
        add("CoreSDK in-process", "is_allowed (repeated)", lambda x: warm.is_allowed(query, x))

    entry = query.removeprefix("data.").replace(".", "/")
    opa = opapywasm.OpaWasmPolicy.from_wasm_file(built / "policy.wasm", opapywasm.PolicyConfig(pool_size=1, default_entrypoint=entry))
    opa.set_data(data)
    check(f"opa-py-wasm {name}", lambda x: opa.evaluate(x) is True, inputs, expected)
    add("opa-py-wasm", "evaluate", lambda x: opa.evaluate(x) is True)
    opa.close()

    if name == "rbac":
        policies = cedarpy.PolicySet.from_str(cedar_rbac(data))
        check("cedarpy rbac", lambda x: bool(cedarpy.is_authorized(cedar_request(x), policies, []).allowed), inputs, expected)
        add("cedarpy", "is_authorized (same rule)", lambda x: cedarpy.is_authorized(cedar_request(x), policies, []))

    if program.is_file():
        with sidecar(program, bundle) as addr, CoreSDKClient(SDKConfig(sidecar_addr=addr, tenant_id="")) as sdk:
            check(f"sidecar {name}", lambda x: sdk.evaluate_policy(query, x).allowed, inputs, expected)
            add("CoreSDK via sidecar", "evaluate_policy (cold)", lambda x: sdk.evaluate_policy(query, x))
    return rows


def main() -> None:
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--sidecar", type=Path, default=ROOT / "target" / "release" / "coresdk-sidecar")
    parser.add_argument("--policies", default=",".join(p for p, _ in POLICIES))
    args = parser.parse_args()
    wanted = args.policies.split(",")
    rows = [row for name, query in POLICIES if name in wanted for row in bench_policy(name, query, args.calls, args.sidecar)]
    print(f"\n{args.calls} calls per row, one at a time, after warm-up; CPython {sys.version.split()[0]}\n")
    print("| policy | engine | call | p50 µs | p99 µs | calls/s |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for name, engine, call, p50, p99, rate in rows:
        print(f"| {name} | {engine} | {call} | {p50:.2f} | {p99:.2f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
