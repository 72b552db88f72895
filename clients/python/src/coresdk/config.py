"""Client configuration: :class:`SDKConfig` and :meth:`SDKConfig.from_env`.

``from_env`` reads the same sources, keys and defaults as the Node client's
``CoreSDKClient.fromEnv()`` (and the Rust engine's ``SdkConfig::load_client``):
``coresdk.toml`` (``CORESDK_CONFIG``, else ``./coresdk.toml`` when it exists),
its ``[sdk]`` table, and ``CORESDK_<KEY>`` variables, which win over the file.
Errors are ``CoreSDKError("ERR_CONFIG")`` naming the key at fault and its
source, in the engine's words
(``invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "x"``).

Clients read their own keys. The keys, their types, limits, defaults and
variables come from the configuration contract (``proto/contract/config.json``,
generated into :mod:`coresdk._generated.config_keys`): only the ``[sdk]`` keys
whose readers include clients (``sidecar_addr``, ``tenant_id``, ``fail_mode``,
``mode``, ``timeout_ms``, ``tls_*``) are read and validated here. Every other
key the contract lists (the engine's and the sidecar's, in ``[sdk]``,
``[sidecar]``, ``[sidecar.authzen]``, ``[sidecar.clients.<name>]`` and
``[tenants.<id>]``) is accepted without reading its value, so that one file
serves the sidecar and its clients; ``coresdk-sidecar --check --config FILE``
validates those. A key or table the contract does not list is refused.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, Literal

from ._generated.config_keys import CLIENT_KEYS, TABLE_KEYS, ClientKey
from ._native import Engine
from .errors import CoreSDKError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["SDK_KEYS", "FailMode", "Mode", "SDKConfig"]

FailMode = Literal["open", "closed"]
"""What an unreachable sidecar means: ``open`` allows with ``claims=None``, ``closed`` answers 503."""

Mode = Literal["sidecar", "in-process"]
"""Where decisions are made: the sidecar over gRPC, or the engine in this process (:class:`~coresdk.Engine`)."""

SDK_KEYS: Final[tuple[str, ...]] = tuple(sorted(TABLE_KEYS["sdk"]))
"""Every key of ``[sdk]`` the configuration contract lists (``proto/contract/config.json``), sorted.

Derived from the generated contract (:mod:`coresdk._generated.config_keys`). A client reads only
the keys of ``CLIENT_KEYS`` (each from ``CORESDK_<KEY>`` too); it accepts the others without
reading them, as they configure the engine and the sidecar.
"""

_ADDRESS_FORMS: Final = "host:port, [IPv6]:port or unix:/path"

_SECTIONS: Final = ", ".join(
    [f"[{p}]" for p in TABLE_KEYS if "." not in p] + [f"[{p[:-2]}.<id>]" for p in TABLE_KEYS if p.endswith(".*") and p.count(".") == 1]
)
"""The top-level tables, as an error message lists them: ``[sdk], [sidecar], [tenants.<id>]``."""


def _err(key: str, message: str) -> CoreSDKError:
    return CoreSDKError("ERR_CONFIG", f"invalid configuration: {key}: {message}")


def _debug(s: str) -> str:
    """A string quoted as Rust's ``{:?}`` does for plain text."""
    return json.dumps(s, ensure_ascii=False)


def _valid_tenant_id(s: str) -> bool:
    return 0 < len(s) <= 128 and all(c.isascii() and (c.isalnum() or c in "-_.") for c in s)


def _check_address(s: str) -> str | None:
    """Why ``s`` is not a sidecar address, or ``None``: the engine's ``check_address`` rules.

    ``unix:/path``; ``[IPv6]:port``; ``host:port`` split at the last ``:`` (a host
    holding a ``:`` is an IPv6 address without brackets); the port 0-65535.
    """
    if s.strip() == "":
        return "must not be empty"
    if s.startswith("unix:"):
        return None if len(s) > len("unix:") else f"a unix: address names a socket path ({_ADDRESS_FORMS})"
    if s.startswith("["):
        ip, sep, port = s[1:].partition("]:")
        if not sep:
            return f"must be {_ADDRESS_FORMS}, got {_debug(s)}"
        try:
            ipaddress.IPv6Address(ip)
        except ValueError:
            ok = False
        else:
            ok = "%" not in ip  # Rust's Ipv6Addr takes no zone id
        if not ok:
            return f"{_debug(ip)} is not an IPv6 address ({_ADDRESS_FORMS})"
        host = ip
    else:
        host, sep, port = s.rpartition(":")
        if not sep:
            return f"must be {_ADDRESS_FORMS} (a port is required), got {_debug(s)}"
        if ":" in host:
            return f"write an IPv6 address in brackets, [{host}]:port ({_ADDRESS_FORMS})"
    if host == "" or any(c.isspace() for c in host):
        return f"must be {_ADDRESS_FORMS}, got {_debug(s)}"
    if not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return f"the port must be a number from 0 to 65535, got {_debug(port)}"
    return None


def _toml_type(v: object) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "table"
    return "datetime"


class _Raw:
    """One configured value: from the file (TOML-typed) or from a variable (text)."""

    def __init__(self, name: str, value: object, from_env: bool) -> None:
        self.name = name
        self.value = value
        self.from_env = from_env

    def string(self) -> str:
        if isinstance(self.value, str):
            return self.value
        raise _err(self.name, f"expected a string, got {_toml_type(self.value)}")

    def int(self, lo: int, hi: int) -> int:
        v = self.value
        if self.from_env:
            text = str(v).strip()
            # Rust's i64 parse: an optional sign and ASCII digits (no "_", no other digit scripts).
            digits = text[1:] if text[:1] in ("+", "-") else text
            if not (digits.isascii() and digits.isdigit()):
                raise _err(self.name, f"expected an integer, got {_debug(str(v))}")
            n = int(text, 10)
            if not -(2**63) <= n < 2**63:
                raise _err(self.name, f"expected an integer, got {_debug(str(v))}")
        elif isinstance(v, int) and not isinstance(v, bool):
            n = v
        else:
            raise _err(self.name, f"expected an integer, got {_toml_type(v)}")
        if n < lo or n > hi:
            raise _err(self.name, f"must be between {lo} and {hi}, got {n}")
        return n


@dataclass(frozen=True, kw_only=True)
class SDKConfig:
    """How a client reaches the sidecar. Every field has a default.

    Example::

        SDKConfig(sidecar_addr="[::1]:50051", tenant_id="acme-corp", fail_mode="open")
        SDKConfig.from_env()                    # coresdk.toml [sdk] + CORESDK_*
        SDKConfig.from_env(fail_mode="closed")  # overrides win

    Invalid values raise ``CoreSDKError("ERR_CONFIG")`` naming the field.
    """

    mode: Mode = "sidecar"
    """``sidecar`` (gRPC to the sidecar) or ``in-process`` (the engine in this process); ``mode`` / ``CORESDK_MODE``."""
    engine: Engine | None = field(default=None, compare=False, repr=False)
    """In-process mode: the engine to use (the client does not close it); default: ``Engine.from_env()``, owned by the client."""
    sidecar_addr: str = "[::1]:50051"
    """``host:port``, ``[v6]:port`` or ``unix:/path`` (``sidecar_addr`` / ``CORESDK_SIDECAR_ADDR``)."""
    tenant_id: str = "acme-corp"
    """The tenant every call names; ``""`` means the sidecar's default tenant (``CORESDK_TENANT_ID``)."""
    fail_mode: FailMode = "open"
    """What an unreachable sidecar means (``CORESDK_FAIL_MODE``): ``open`` or ``closed``."""
    timeout_ms: int = 1000
    """Deadline of one call, retries included (``CORESDK_TIMEOUT_MS``)."""
    tls_ca_file: str | None = None
    """CA that signed the sidecar's certificate, PEM (``CORESDK_TLS_CA_FILE``)."""
    tls_cert_file: str | None = None
    """The client certificate chain, PEM (``CORESDK_TLS_CERT_FILE``)."""
    tls_key_file: str | None = None
    """The client private key, PEM (``CORESDK_TLS_KEY_FILE``)."""
    tls_server_name: str | None = None
    """The name to verify in the sidecar's certificate (default: the address's host)."""
    retries: int = 2
    """Retries after UNAVAILABLE without the sidecar's ErrorInfo, with jittered backoff, inside the deadline."""
    backoff_ms: int = 25
    """First retry backoff (doubled per retry, full jitter)."""
    breaker_failure_threshold: int = 5
    """Transport failures in a row that open the circuit breaker."""
    breaker_reset_ms: int = 5000
    """How long the breaker stays open before one probe call."""
    warn: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    """Where fail-open warnings go (at most one per 10 s); default: the ``coresdk`` logger."""

    def __post_init__(self) -> None:
        """Validates every field (``ERR_CONFIG`` naming it)."""
        if not isinstance(self.sidecar_addr, str) or self.sidecar_addr.strip() == "":
            raise CoreSDKError("ERR_CONFIG", "sidecar_addr: must be a non-empty string")
        problem = _check_address(self.sidecar_addr)
        if problem is not None:
            raise CoreSDKError("ERR_CONFIG", f"sidecar_addr: {problem}")
        if not isinstance(self.tenant_id, str) or not (self.tenant_id == "" or _valid_tenant_id(self.tenant_id)):
            raise CoreSDKError("ERR_CONFIG", "tenant_id: must be 1-128 characters of letters, digits, '-', '_' or '.'")
        if self.fail_mode not in ("open", "closed"):
            raise CoreSDKError("ERR_CONFIG", f'fail_mode: must be "open" or "closed", got {self.fail_mode!r}')
        if self.mode not in ("sidecar", "in-process"):
            raise CoreSDKError("ERR_CONFIG", f'mode: must be "sidecar" or "in-process", got {self.mode!r}')
        if self.engine is not None and not isinstance(self.engine, Engine):
            raise CoreSDKError("ERR_CONFIG", "engine: must be a coresdk.Engine")
        for name, lo, hi in (
            ("timeout_ms", 1, 600_000),
            ("retries", 0, 10),
            ("backoff_ms", 0, 60_000),
            ("breaker_failure_threshold", 1, 1_000_000),
            ("breaker_reset_ms", 0, 3_600_000),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise CoreSDKError("ERR_CONFIG", f"{name}: must be an integer between {lo} and {hi}, got {v!r}")
        for name in ("tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or v == ""):
                raise CoreSDKError("ERR_CONFIG", f"{name}: must be a non-empty string or None")
        if self.warn is not None and not callable(self.warn):
            raise CoreSDKError("ERR_CONFIG", "warn: must be callable")

    @property
    def uses_tls(self) -> bool:
        """True when any TLS file is set (then all three are required)."""
        return any(v is not None for v in (self.tls_ca_file, self.tls_cert_file, self.tls_key_file))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SDKConfig:
        """Builds a config from a dict of field names (``settings.CORESDK`` in Django)."""
        known = {f.name for f in fields(cls)}
        for k in values:
            if k not in known:
                raise CoreSDKError("ERR_CONFIG", f"{k}: unknown SDKConfig field (known: {', '.join(sorted(known))})")
        return cls(**dict(values))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> SDKConfig:
        """Reads ``coresdk.toml`` ``[sdk]`` and ``CORESDK_*`` like the Node client; ``overrides`` win.

        ``env`` defaults to ``os.environ``; only ``CORESDK_CONFIG`` and the
        client keys' variables (``CORESDK_SIDECAR_ADDR``, ``CORESDK_TENANT_ID``,
        ``CORESDK_FAIL_MODE``, ``CORESDK_MODE``, ``CORESDK_TIMEOUT_MS``,
        ``CORESDK_TLS_*``) are read from it. The file is ``CORESDK_CONFIG``, else
        ``./coresdk.toml`` when it exists. Relative TLS paths in the file resolve
        against the file's directory; those in variables stay as written (the
        working directory). With ``mode = "in-process"`` the client's engine is
        ``Engine.from_env()``: the same file and variables configure its bundle
        and tokens.
        """
        values: dict[str, Any] = {}
        known = {f.name for f in fields(cls)}
        for key, value in _load_client_keys(os.environ if env is None else env).items():
            if key in known:
                values[key] = value
        values.update(overrides)
        return cls.from_mapping(values)

    def replace(self, **changes: Any) -> SDKConfig:
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)


def _load_client_keys(env: Mapping[str, str]) -> dict[str, object]:
    """The client keys set by the file and the variables (``CLIENT_KEYS`` names), validated."""
    file = Path(env["CORESDK_CONFIG"]) if "CORESDK_CONFIG" in env else None
    if file is None and Path("coresdk.toml").is_file():
        file = Path("coresdk.toml")
    raw: dict[str, _Raw] = {}
    base: Path | None = None
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as e:
            raise _err("CORESDK_CONFIG", f"{file}: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise _err("CORESDK_CONFIG", f"{file}: stream did not contain valid UTF-8") from None
        base = file.parent
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise _err("coresdk.toml", str(e)) from None
        _check_tables(doc)
        sdk = doc.get("sdk", {})
        raw.update((k, _Raw(f"sdk.{k}", v, False)) for k, v in sdk.items() if k in CLIENT_KEYS)
    for key, spec in CLIENT_KEYS.items():
        if spec.env in env:
            raw[key] = _Raw(spec.env, env[spec.env], True)
    # In key order, as the engine applies them: with two bad keys, the same one is named.
    return {key: _client_value(key, CLIENT_KEYS[key], raw[key], base) for key in sorted(raw)}


def _client_value(key: str, spec: ClientKey, r: _Raw, base: Path | None) -> object:
    """One client key's value, checked against its contract type (``ERR_CONFIG`` naming ``r.name``)."""
    if spec.type == "int":
        return r.int(spec.min if spec.min is not None else -(2**63), spec.max if spec.max is not None else 2**63 - 1)
    s = r.string()
    if spec.type == "enum":
        if s not in spec.values:
            quoted = [_debug(v) for v in spec.values]
            choices = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
            raise _err(r.name, f"must be {choices}, got {_debug(s)}")
    elif spec.type == "tenant_id":
        if not _valid_tenant_id(s):
            raise _err(r.name, "must be 1-128 characters of letters, digits, '-', '_' or '.'")
    elif spec.type == "address":
        problem = _check_address(s)
        if problem is not None:
            raise _err(r.name, problem)
    elif spec.type == "path":
        p = Path(s)
        return str(base / p) if base is not None and not r.from_env and not p.is_absolute() else s
    elif spec.type != "string":
        raise _err(r.name, f"the configuration contract's type {spec.type!r} is unknown to this client (update coresdk)")
    return s


def _check_tables(doc: Mapping[str, object]) -> None:
    """Refuses a table or key the contract does not list (``TABLE_KEYS``); reads no value."""
    for name, value in doc.items():
        if name in TABLE_KEYS:
            _check_table(value, name, name)
        elif f"{name}.*" in TABLE_KEYS:
            _check_tables_of(value, name, f"{name}.*")
        else:
            raise _err(name, f"unknown section (known: {_SECTIONS})")


def _check_table(value: object, name: str, pattern: str) -> None:
    """``value`` is the table ``name`` (contract table ``pattern``): its keys and its sub-tables."""
    if not isinstance(value, dict):
        raise _err(name, "must be a table")
    keys = TABLE_KEYS[pattern]
    for key, v in value.items():
        sub = f"{pattern}.{key}"
        if sub in TABLE_KEYS:
            _check_table(v, f"{name}.{key}", sub)
        elif f"{sub}.*" in TABLE_KEYS:
            _check_tables_of(v, f"{name}.{key}", f"{sub}.*")
        elif key not in keys:
            raise _err(f"{name}.{key}", f"unknown key (known keys: {', '.join(sorted(keys))})")


def _check_tables_of(value: object, name: str, pattern: str) -> None:
    """A table of tables (``[tenants.<id>]``, ``[sidecar.clients."<name>"]``), any name."""
    if not isinstance(value, dict):
        raise _err(name, "must be a table of tables")
    for inner_name, inner in value.items():
        _check_table(inner, f"{name}.{inner_name}", pattern)
