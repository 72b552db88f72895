"""SDKConfig and SDKConfig.from_env: the Node client's keys, defaults and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from coresdk import CoreSDKClient, CoreSDKError, SDKConfig


def config_error(fn: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(CoreSDKError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    assert info.value.code == "ERR_CONFIG"
    return info.value.message


def test_defaults_match_the_node_client() -> None:
    c = SDKConfig.from_env({})
    assert c == SDKConfig()
    assert (c.sidecar_addr, c.tenant_id, c.fail_mode, c.timeout_ms) == ("[::1]:50051", "acme-corp", "open", 1000)
    assert (c.retries, c.breaker_failure_threshold, c.breaker_reset_ms) == (2, 5, 5000)
    assert c.tls_ca_file is None and not c.uses_tls


def test_variables_override_the_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    f = tmp_path / "coresdk.toml"
    f.write_text(
        '[sdk]\nsidecar_addr = "127.0.0.1:6000"\nfail_mode = "closed"\ntimeout_ms = 250\ntls_ca_file = "certs/ca.pem"\n'
        'policy_dir = "./policies"\n[sidecar]\nmax_batch = 10\n[tenants.globex]\npolicy_dir = "g"\n'
    )
    c = SDKConfig.from_env({"CORESDK_CONFIG": str(f), "CORESDK_TIMEOUT_MS": "400", "CORESDK_TENANT_ID": "globex"})
    assert c.sidecar_addr == "127.0.0.1:6000"
    assert c.fail_mode == "closed"
    assert c.timeout_ms == 400
    assert c.tenant_id == "globex"
    # Relative paths in the file resolve against the file's directory; in variables, against the cwd.
    assert c.tls_ca_file == str(tmp_path / "certs" / "ca.pem")
    c = SDKConfig.from_env({"CORESDK_CONFIG": str(f), "CORESDK_TLS_CA_FILE": "rel/ca.pem"})
    assert c.tls_ca_file == "rel/ca.pem"
    # Overrides win over both.
    assert SDKConfig.from_env({"CORESDK_CONFIG": str(f)}, fail_mode="open").fail_mode == "open"


def test_reads_coresdk_toml_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "coresdk.toml").write_text('[sdk]\ntenant_id = "from-cwd"\n')
    monkeypatch.chdir(tmp_path)
    assert SDKConfig.from_env({}).tenant_id == "from-cwd"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CORESDK_FAIL_MODE": "maybe"}, 'invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "maybe"'),
        ({"CORESDK_TIMEOUT_MS": "soon"}, 'invalid configuration: CORESDK_TIMEOUT_MS: expected an integer, got "soon"'),
        ({"CORESDK_TIMEOUT_MS": "0"}, "invalid configuration: CORESDK_TIMEOUT_MS: must be between 1 and 600000, got 0"),
        ({"CORESDK_SIDECAR_ADDR": " "}, "invalid configuration: CORESDK_SIDECAR_ADDR: must not be empty"),
        (
            {"CORESDK_TENANT_ID": "no spaces"},
            "invalid configuration: CORESDK_TENANT_ID: must be 1-128 characters of letters, digits, '-', '_' or '.'",
        ),
        ({"CORESDK_MODE": "remote"}, 'invalid configuration: CORESDK_MODE: must be "sidecar" or "in-process", got "remote"'),
        ({"CORESDK_CONFIG": "/nonexistent/coresdk.toml"}, "invalid configuration: CORESDK_CONFIG: /nonexistent/coresdk.toml:"),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    assert config_error(SDKConfig.from_env, env).startswith(message)


def test_in_process_mode_is_refused_with_a_reason() -> None:
    assert "through the sidecar only" in config_error(SDKConfig.from_env, {"CORESDK_MODE": "in-process"})
    assert SDKConfig.from_env({"CORESDK_MODE": "sidecar"}) == SDKConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sdk]\nfail_mode = 1\n", "invalid configuration: sdk.fail_mode: expected a string, got integer"),
        ('[sdk]\ntimeout_ms = "5"\n', "invalid configuration: sdk.timeout_ms: expected an integer, got string"),
        ("[sdk]\nfail_mdoe = 'open'\n", "invalid configuration: sdk.fail_mdoe: unknown key (known keys: policy_dir, "),
        ("[sidecar]\ntls_crt = 'x'\n", "invalid configuration: sidecar.tls_crt: unknown key"),
        ("[tenants.b]\npool_size = 2\n", "invalid configuration: tenants.b.pool_size: unknown key"),
        ("[clients]\nx = 1\n", "invalid configuration: clients: unknown section (known: [sdk], [sidecar], [tenants.<id>])"),
        ("[sdk\n", "invalid configuration: coresdk.toml: "),
    ],
)
def test_file_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "coresdk.toml"
    f.write_text(text)
    assert config_error(SDKConfig.from_env, {"CORESDK_CONFIG": str(f)}).startswith(message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fail_mode": "sometimes"}, 'fail_mode: must be "open" or "closed", got \'sometimes\''),
        ({"timeout_ms": 0}, "timeout_ms: must be an integer between 1 and 600000, got 0"),
        ({"timeout_ms": 1.5}, "timeout_ms: must be an integer between 1 and 600000, got 1.5"),
        ({"retries": -1}, "retries: must be an integer between 0 and 10, got -1"),
        ({"sidecar_addr": ""}, "sidecar_addr: must be a non-empty string"),
        ({"tenant_id": "a b"}, "tenant_id: must be 1-128 characters"),
        ({"tls_ca_file": ""}, "tls_ca_file: must be a non-empty string or None"),
        ({"warn": "print"}, "warn: must be callable"),
    ],
)
def test_constructor_validates_every_field(kwargs: dict[str, object], message: str) -> None:
    assert config_error(SDKConfig, **kwargs).startswith(message)


def test_from_mapping_refuses_unknown_fields() -> None:
    assert config_error(SDKConfig.from_mapping, {"fail_mod": "open"}).startswith("fail_mod: unknown SDKConfig field")


def test_plaintext_only_to_loopback_or_unix() -> None:
    for addr in ("[::1]:50051", "127.0.0.1:1", "127.9.9.9:1", "localhost:50051", "unix:/tmp/coresdk.sock"):
        CoreSDKClient(SDKConfig(sidecar_addr=addr)).close()
    for addr in ("10.0.0.5:50051", "sidecar.internal:50051", "[2001:db8::1]:50051"):
        msg = config_error(CoreSDKClient, SDKConfig(sidecar_addr=addr))
        assert msg.startswith(f"CORESDK_SIDECAR_ADDR: {addr} is not loopback; the sidecar there needs mutual TLS")


def test_tls_files_go_together_and_must_be_readable(tmp_path: Path) -> None:
    msg = config_error(CoreSDKClient, SDKConfig(tls_ca_file=str(tmp_path / "ca.pem")))
    assert "go together" in msg
    missing = str(tmp_path / "missing.pem")
    msg = config_error(CoreSDKClient, SDKConfig(tls_ca_file=missing, tls_cert_file=missing, tls_key_file=missing))
    assert msg.startswith(f"CORESDK_TLS_CA_FILE: cannot read {missing}")
