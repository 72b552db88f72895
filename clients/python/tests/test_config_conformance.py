"""The configuration conformance cases (clients/conformance/config.json) in Python.

``SDKConfig.from_env`` resolves each case's file and variables to the same client
settings as the Node, Go and Java clients, or refuses them with ``ERR_CONFIG``
naming the key and its source. The environment is passed explicitly: nothing of
the process environment is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coresdk import CoreSDKError, SDKConfig
from coresdk._generated.config_keys import CLIENT_KEYS
from support.sidecar import REPO

SPEC: dict[str, Any] = json.loads((REPO / "clients" / "conformance" / "config.json").read_text())
CASES: list[dict[str, Any]] = SPEC["cases"]


def fill(value: object, dir: Path) -> object:
    """``{dir}`` replaced by the case's directory in a string value."""
    return value.replace("{dir}", str(dir)) if isinstance(value, str) else value


def settings(c: SDKConfig) -> dict[str, object]:
    """The client settings the cases compare."""
    return {
        "sidecar_addr": c.sidecar_addr,
        "tenant_id": c.tenant_id,
        "fail_mode": c.fail_mode,
        "mode": c.mode,
        "timeout_ms": c.timeout_ms,
        "tls_ca_file": c.tls_ca_file,
        "tls_cert_file": c.tls_cert_file,
        "tls_key_file": c.tls_key_file,
        "tls_server_name": c.tls_server_name,
    }


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_config_case(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "languages" in case and "python" not in case["languages"]:
        pytest.skip(f"for {', '.join(case['languages'])} only")
    # An empty working directory: no ./coresdk.toml but the case's own.
    monkeypatch.chdir(tmp_path)
    env: dict[str, str] = {}
    if "file" in case:
        (tmp_path / "coresdk.toml").write_text(case["file"], encoding="utf-8")
        env["CORESDK_CONFIG"] = str(tmp_path / "coresdk.toml")
    for k, v in case.get("env", {}).items():
        env[k] = str(fill(v, tmp_path))
    if "error" in case:
        with pytest.raises(CoreSDKError) as info:
            SDKConfig.from_env(env)
        assert info.value.code == case["error"]["code"]
        for name in case["error"]["names"]:
            assert name in info.value.message
        return
    want = {k: fill(v, tmp_path) for k, v in {**SPEC["defaults"], **case["expect"]}.items()}
    assert settings(SDKConfig.from_env(env)) == want


def test_every_case_runs_here() -> None:
    """The case file is read whole: names are unique and every case is for Python or says whom it is for."""
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 34
    for c in CASES:
        assert ("error" in c) != ("expect" in c), c["name"]


def test_sdkconfig_defaults_are_the_contracts() -> None:
    """SDKConfig's field defaults are the contract's defaults of the client keys (and the case file's)."""
    got = settings(SDKConfig())
    for key, spec in CLIENT_KEYS.items():
        assert got[key] == spec.default, key
    assert got == SPEC["defaults"]
