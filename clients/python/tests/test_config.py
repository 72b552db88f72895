"""SDKConfig and SDKConfig.from_env: the Node client's keys, defaults and error messages.

The shared cases are in test_config_conformance.py; these check the messages themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coresdk import CoreSDKClient, CoreSDKError, SDKConfig
from coresdk._generated.config_keys import CLIENT_KEYS, TABLE_KEYS
from coresdk.config import SDK_KEYS


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


def test_mode_is_read_and_checked() -> None:
    assert SDKConfig.from_env({"CORESDK_MODE": "in-process"}).mode == "in-process"
    assert SDKConfig.from_env({"CORESDK_MODE": "sidecar"}) == SDKConfig()
    assert "mode: must be" in config_error(lambda _env: SDKConfig(mode="remote"), {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sdk]\nfail_mode = 1\n", "invalid configuration: sdk.fail_mode: expected a string, got integer"),
        ('[sdk]\ntimeout_ms = "5"\n', "invalid configuration: sdk.timeout_ms: expected an integer, got string"),
        ("[sdk]\nfail_mdoe = 'open'\n", "invalid configuration: sdk.fail_mdoe: unknown key (known keys: algorithms, audience, "),
        ("[sidecar]\ntls_crt = 'x'\n", "invalid configuration: sidecar.tls_crt: unknown key"),
        ("[tenants.b]\npool_size = 2\n", "invalid configuration: tenants.b.pool_size: unknown key"),
        ("[sidecar.clients.'a.example']\nallowed_query = []\n", "invalid configuration: sidecar.clients.a.example.allowed_query: "),
        ("[sidecar]\nauthzen = 1\n", "invalid configuration: sidecar.authzen: must be a table"),
        ("tenants = 1\n", "invalid configuration: tenants: must be a table of tables"),
        ("[sdk]\nsidecar_addr = '10.0.0.1'\n", "invalid configuration: sdk.sidecar_addr: must be host:port, [IPv6]:port or unix:/path"),
        ("[sdk]\nmode = 'local'\n", 'invalid configuration: sdk.mode: must be "sidecar" or "in-process", got "local"'),
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


def test_clients_read_their_own_keys(tmp_path: Path) -> None:
    # Every key the contract lists is accepted in its table, whatever its value; only the client keys are read.
    f = tmp_path / "coresdk.toml"
    lines = ["[sdk]", *(f"{k} = {{ any = 'value' }}" for k in sorted(TABLE_KEYS["sdk"]) if k not in CLIENT_KEYS)]
    lines += ["[sidecar]", *(f"{k} = 1.5" for k in sorted(TABLE_KEYS["sidecar"]))]
    lines += ["[sidecar.authzen]", *(f"{k} = []" for k in sorted(TABLE_KEYS["sidecar.authzen"]))]
    lines += ["[sidecar.clients.'x y']", "allowed_queries = 7", "[tenants.'not a tenant id!']"]
    lines += [f"{k} = false" for k in sorted(TABLE_KEYS["tenants.*"])]
    f.write_text("\n".join(lines) + "\n")
    env = {"CORESDK_CONFIG": str(f), "CORESDK_POLICY_DIR": "/nowhere", "CORESDK_POOL_SIZE": "x", "CORESDK_UNKNOWN": "1"}
    assert SDKConfig.from_env(env) == SDKConfig()


def test_sdk_keys_is_the_contracts_sdk_table() -> None:
    assert set(SDK_KEYS) == TABLE_KEYS["sdk"]
    assert list(SDK_KEYS) == sorted(SDK_KEYS)
    assert {"fast_path", "bundle_url", *CLIENT_KEYS} <= set(SDK_KEYS)


@pytest.mark.parametrize(
    ("addr", "message"),
    [
        ("localhost", 'must be host:port, [IPv6]:port or unix:/path (a port is required), got "localhost"'),
        ("::1:50051", "write an IPv6 address in brackets, [::1]:port"),
        ("[::1]", 'must be host:port, [IPv6]:port or unix:/path, got "[::1]"'),
        ("[::1]:", 'the port must be a number from 0 to 65535, got ""'),
        ("[nope]:1", '"nope" is not an IPv6 address'),
        ("[fe80::1%eth0]:1", '"fe80::1%eth0" is not an IPv6 address'),
        ("host:65536", 'the port must be a number from 0 to 65535, got "65536"'),
        ("host:-1", 'the port must be a number from 0 to 65535, got "-1"'),
        ("host:+1", 'the port must be a number from 0 to 65535, got "+1"'),
        (":50051", 'must be host:port, [IPv6]:port or unix:/path, got ":50051"'),
        ("a b:1", 'must be host:port, [IPv6]:port or unix:/path, got "a b:1"'),
        ("unix:", "a unix: address names a socket path"),
    ],
)
def test_addresses_are_checked_as_the_engine_checks_them(addr: str, message: str) -> None:
    msg = config_error(SDKConfig.from_env, {"CORESDK_SIDECAR_ADDR": addr})
    assert msg.startswith(f"invalid configuration: CORESDK_SIDECAR_ADDR: {message}")
    assert config_error(SDKConfig, sidecar_addr=addr).startswith("sidecar_addr: ")


def test_addresses_every_client_accepts() -> None:
    for addr in ("[::1]:50051", "127.0.0.1:50051", "localhost:50051", "unix:/run/coresdk.sock", "[::]:0", "sidecar.internal:443"):
        assert SDKConfig.from_env({"CORESDK_SIDECAR_ADDR": addr}).sidecar_addr == addr
        assert SDKConfig(sidecar_addr=addr).sidecar_addr == addr


@pytest.mark.parametrize("text", ["1_000", "\u0661\u0660", "1.0", "", "9223372036854775808"])
def test_integer_variables_are_decimal_text(text: str) -> None:
    assert "CORESDK_TIMEOUT_MS: expected an integer" in config_error(SDKConfig.from_env, {"CORESDK_TIMEOUT_MS": text})


def test_integer_variables_take_a_sign_and_spaces() -> None:
    assert SDKConfig.from_env({"CORESDK_TIMEOUT_MS": " +250 "}).timeout_ms == 250
