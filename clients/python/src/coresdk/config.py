"""Client configuration: :class:`SDKConfig` and :meth:`SDKConfig.from_env`.

``from_env`` reads the same sources, keys and defaults as the Node client's
``CoreSDKClient.fromEnv()`` (and the Rust engine's loader): ``coresdk.toml``
(``CORESDK_CONFIG``, else ``./coresdk.toml`` when it exists), its ``[sdk]``
table, and ``CORESDK_<KEY>`` variables, which win over the file. Errors are
``CoreSDKError("ERR_CONFIG")`` naming the key at fault, in the engine's words
(``invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "x"``).

Only the client's keys are interpreted here (``sidecar_addr``, ``tenant_id``,
``fail_mode``, ``mode``, ``timeout_ms``, ``tls_*``); the other ``[sdk]`` keys
(policy, token and masking settings) configure the sidecar, which validates
them when it loads the same file. Unknown sections and keys are refused here
as they are there.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, Literal

from .errors import CoreSDKError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["SDK_KEYS", "FailMode", "SDKConfig"]

FailMode = Literal["open", "closed"]
"""What an unreachable sidecar means: ``open`` allows with ``claims=None``, ``closed`` answers 503."""

SDK_KEYS: Final[tuple[str, ...]] = (
    "policy_dir",
    "eval_timeout_ms",
    "pool_size",
    "max_input_bytes",
    "max_input_depth",
    "watch_policies",
    "rego_v0",
    "decision_cache_entries",
    "sidecar_addr",
    "tenant_id",
    "fail_mode",
    "jwks_url",
    "jwks_file",
    "oidc_issuer",
    "issuer",
    "audience",
    "algorithms",
    "clock_tolerance_secs",
    "required_claims",
    "token_typ",
    "max_token_bytes",
    "token_cache_entries",
    "jwks_ca_file",
    "jwks_timeout_ms",
    "jwks_refresh_min_secs",
    "jwks_refresh_max_secs",
    "jwks_unknown_kid_cooldown_secs",
    "jwks_stale_max_secs",
    "jwks_allow_insecure_http",
    "offline_cache_dir",
    "offline_cache_key",
    "mode",
    "timeout_ms",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
    "tls_server_name",
    "pii_style",
    "pii_hash_key",
    "pii_entities",
    "pii_dictionary",
    "pii_patterns",
    "pii_sensitive_names",
    "decision_log",
)
"""The allow-listed keys of ``[sdk]`` (the engine's ``SDK_KEYS``); each maps to ``CORESDK_<KEY>``."""

_SIDECAR_KEYS: Final = (
    "tls_cert_file",
    "tls_key_file",
    "tls_client_ca_file",
    "insecure_dev",
    "watch_certs",
    "max_concurrent_calls",
    "max_message_bytes",
    "max_batch",
    "drain_timeout_ms",
    "keepalive_interval_secs",
    "keepalive_timeout_secs",
    "worker_threads",
    "health_addr",
)

_TENANT_KEYS: Final = (
    "policy_dir",
    "rego_v0",
    "jwks_url",
    "jwks_file",
    "oidc_issuer",
    "issuer",
    "audience",
    "algorithms",
    "clock_tolerance_secs",
    "required_claims",
    "token_typ",
    "max_token_bytes",
    "token_cache_entries",
    "jwks_ca_file",
    "jwks_timeout_ms",
    "jwks_refresh_min_secs",
    "jwks_refresh_max_secs",
    "jwks_unknown_kid_cooldown_secs",
    "jwks_stale_max_secs",
    "jwks_allow_insecure_http",
    "offline_cache_dir",
    "offline_cache_key",
)


def _err(key: str, message: str) -> CoreSDKError:
    return CoreSDKError("ERR_CONFIG", f"invalid configuration: {key}: {message}")


def _debug(s: str) -> str:
    """A string quoted as Rust's ``{:?}`` does for plain text."""
    return json.dumps(s, ensure_ascii=False)


def _valid_tenant_id(s: str) -> bool:
    return 0 < len(s) <= 128 and all(c.isascii() and (c.isalnum() or c in "-_.") for c in s)


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
            try:
                n = int(text, 10)
            except ValueError:
                raise _err(self.name, f"expected an integer, got {_debug(str(v))}") from None
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
        if not isinstance(self.tenant_id, str) or not (self.tenant_id == "" or _valid_tenant_id(self.tenant_id)):
            raise CoreSDKError("ERR_CONFIG", "tenant_id: must be 1-128 characters of letters, digits, '-', '_' or '.'")
        if self.fail_mode not in ("open", "closed"):
            raise CoreSDKError("ERR_CONFIG", f'fail_mode: must be "open" or "closed", got {self.fail_mode!r}')
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

        ``env`` defaults to ``os.environ``. The file is ``CORESDK_CONFIG``, else
        ``./coresdk.toml`` when it exists. Relative TLS paths in the file resolve
        against the file's directory; those in variables against the working
        directory.
        """
        env = os.environ if env is None else env
        vars_ = {k: v for k, v in env.items() if k.startswith("CORESDK_")}
        file: Path | None
        if "CORESDK_CONFIG" in vars_:
            file = Path(vars_["CORESDK_CONFIG"])
        else:
            file = Path("coresdk.toml") if Path("coresdk.toml").is_file() else None
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
            for section, value in doc.items():
                if section == "sdk":
                    raw.update(_table(value, "sdk", SDK_KEYS))
                elif section == "sidecar":
                    _table(value, "sidecar", _SIDECAR_KEYS)
                elif section == "tenants":
                    if not isinstance(value, dict):
                        raise _err("tenants", "must be a table of tables ([tenants.<id>])")
                    for tid, t in value.items():
                        if not _valid_tenant_id(tid):
                            raise _err(
                                f"tenants.{tid}",
                                "tenant ids are 1-128 characters of letters, digits, '-', '_' or '.'",
                            )
                        _table(t, f"tenants.{tid}", _TENANT_KEYS)
                else:
                    raise _err(section, "unknown section (known: [sdk], [sidecar], [tenants.<id>])")
        for key in SDK_KEYS:
            var = f"CORESDK_{key.upper()}"
            if var in vars_:
                raw[key] = _Raw(var, vars_[var], True)
        values: dict[str, Any] = {}

        def path(r: _Raw) -> str:
            p = Path(r.string())
            return str(base / p) if base is not None and not r.from_env and not p.is_absolute() else str(p)

        for key in sorted(raw):
            r = raw[key]
            if key == "sidecar_addr":
                s = r.string()
                if s.strip() == "":
                    raise _err(r.name, "must not be empty")
                values["sidecar_addr"] = s
            elif key == "tenant_id":
                s = r.string()
                if not _valid_tenant_id(s):
                    raise _err(r.name, "must be 1-128 characters of letters, digits, '-', '_' or '.'")
                values["tenant_id"] = s
            elif key == "fail_mode":
                s = r.string()
                if s not in ("open", "closed"):
                    raise _err(r.name, f'must be "open" or "closed", got {_debug(s)}')
                values["fail_mode"] = s
            elif key == "mode":
                s = r.string()
                if s == "in-process":
                    raise _err(
                        r.name,
                        'the Python client reaches the engine through the sidecar only; "in-process" is for Node and Rust',
                    )
                if s != "sidecar":
                    raise _err(r.name, f'must be "sidecar" or "in-process", got {_debug(s)}')
            elif key == "timeout_ms":
                values["timeout_ms"] = r.int(1, 600_000)
            elif key in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
                values[key] = path(r)
            elif key == "tls_server_name":
                values["tls_server_name"] = r.string()
        values.update(overrides)
        return cls.from_mapping(values)

    def replace(self, **changes: Any) -> SDKConfig:
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)


def _table(value: object, name: str, keys: tuple[str, ...]) -> dict[str, _Raw]:
    if not isinstance(value, dict):
        raise _err(name, "must be a table")
    out: dict[str, _Raw] = {}
    for key, v in value.items():
        if key not in keys:
            raise _err(f"{name}.{key}", f"unknown key (known keys: {', '.join(keys)})")
        out[key] = _Raw(f"{name}.{key}", v, False)
    return out
