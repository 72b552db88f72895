"""The value corpus (clients/conformance/values.json) through the real sidecar.

Every call that returns a decision value (``evaluate_policy``,
``evaluate_policies``, ``authorize``, sync and async) must give exactly the
corpus's JSON parsed by ``json.loads``: integers of any size as ``int``
(no digit lost), other numbers as ``float`` (``-0.0`` kept), sets as sorted
lists. The Node, Go and Java suites run the same corpus. Each test runs in
both client modes: through the sidecar and in-process (an engine on the same
bundle and key set).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import VALUES, World
from coresdk import AsyncCoreSDKClient, Engine


def same(a: Any, b: Any) -> bool:
    """Equality that tells ``True`` from ``1``, ``1`` from ``1.0`` and ``-0.0`` from ``0.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def expected(case: dict[str, Any]) -> Any:
    """The value the corpus promises (``None`` for an undefined query)."""
    return None if case.get("undefined") else json.loads(case["json"])


@pytest.fixture(scope="module")
def engine(world: World) -> Iterator[Engine]:
    with world.engine() as e:
        yield e


@pytest.fixture(params=["sidecar", "in-process"])
def mode(request: pytest.FixtureRequest, engine: Engine) -> dict[str, Any]:
    """The client settings of one mode (the in-process engine is shared, not owned by the clients)."""
    return {} if request.param == "sidecar" else {"mode": "in-process", "engine": engine}


def test_values_are_exact_on_every_call(world: World, mode: dict[str, Any]) -> None:
    cases: list[dict[str, Any]] = VALUES["cases"]
    with world.client(**mode) as sdk:
        batch = sdk.evaluate_policies([(c["query"], {}) for c in cases])
        for c, item in zip(cases, batch, strict=True):
            want = expected(c)
            d = sdk.evaluate_policy(c["query"], {})
            a = sdk.authorize(world.tokens["valid"], query=c["query"], input={})
            assert item.ok and item.decision is not None, c["query"]
            for how, defined, value in [
                ("evaluate_policy", d.defined, d.value),
                ("evaluate_policies", item.decision.defined, item.decision.value),
                ("authorize", a.defined, a.value),
            ]:
                assert defined is not c.get("undefined", False), f"{c['query']} via {how}"
                assert same(value, want), f"{c['query']} via {how}: {value!r}, expected {c.get('json')}"


def test_values_are_exact_async(world: World, mode: dict[str, Any]) -> None:
    async def run() -> None:
        async with AsyncCoreSDKClient(world.config(**mode)) as sdk:
            for c in VALUES["cases"]:
                d = await sdk.evaluate_policy(c["query"], {})
                assert same(d.value, expected(c)), c["query"]

    asyncio.run(run())


def test_big_integers_keep_every_digit(world: World, mode: dict[str, Any]) -> None:
    with world.client(**mode) as sdk:
        assert sdk.evaluate_policy("data.values.big").value == 9007199254740993
        assert sdk.evaluate_policy("data.values.u64_max").value == 2**64 - 1
        assert isinstance(sdk.evaluate_policy("data.values.ns").value, int)
        assert math.copysign(1.0, sdk.evaluate_policy("data.values.neg_zero").value) == -1.0
