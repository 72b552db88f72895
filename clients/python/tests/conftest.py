"""Session fixtures: a test PKI, a real HTTPS JWKS server, the repository's sidecar over mutual TLS, and the conformance tokens."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coresdk import CoreSDKClient, Engine, SDKConfig
from support.jwks import JwksServer
from support.pki import Pki, make_pki
from support.sidecar import REPO, BlackHole, Sidecar, dead_port
from support.tokens import Key, jwks_of, make_key, now, tamper

CASES_FILE = REPO / "clients" / "conformance" / "cases.json"
CASES: dict[str, Any] = json.loads(CASES_FILE.read_text())
SETUP: dict[str, Any] = CASES["setup"]
VALUES: dict[str, Any] = json.loads((REPO / "clients" / "conformance" / "values.json").read_text())
VALUES_BUNDLE = REPO / "clients" / "conformance" / VALUES["bundle"]


@dataclass
class World:
    """Everything the tests share."""

    dir: Path
    pki: Pki
    key: Key
    jwks: JwksServer
    sidecar: Sidecar
    keyless: Sidecar
    dead_port: int
    slow: BlackHole
    tokens: dict[str, str]

    def config(self, state: str = "up", fail_mode: str = "open", **extra: Any) -> SDKConfig:
        """A client config for the sidecar in ``state`` (up / down / slow / keyless)."""
        addr = {
            "up": self.sidecar.addr,
            "keyless": self.keyless.addr,
            "down": f"127.0.0.1:{self.dead_port}",
            "slow": f"127.0.0.1:{self.slow.port}",
        }[state]
        c = SETUP["client"]
        values: dict[str, Any] = {
            "sidecar_addr": addr,
            "fail_mode": fail_mode,
            "tls_ca_file": self.pki.ca_file,
            "tls_cert_file": self.pki.client_cert,
            "tls_key_file": self.pki.client_key,
            "tls_server_name": "localhost",
            "timeout_ms": c["slow_timeout_ms"] if state == "slow" else c["timeout_ms"],
            "retries": c["retries"],
            "warn": lambda _m: None,
        }
        values.update(extra)
        return SDKConfig(**values)

    def client(self, state: str = "up", fail_mode: str = "open", **extra: Any) -> CoreSDKClient:
        """A sync client (see :meth:`config`)."""
        return CoreSDKClient(self.config(state, fail_mode, **extra))

    def engine(self, state: str = "up", **settings: Any) -> Engine:
        """An in-process engine configured as the sidecar in ``state`` (up / keyless) is: same bundle, issuer, audience, key set."""
        url = self.jwks.url if state == "up" else f"https://127.0.0.1:{self.dead_port}/jwks"
        values: dict[str, Any] = {
            "policy_dir": str(self.dir / "bundle"),
            "issuer": SETUP["issuer"],
            "audience": SETUP["audience"],
            "jwks_url": url,
            "jwks_ca_file": self.pki.ca_file,
        }
        values.update(settings)
        return Engine(**values)


def mint_tokens(key: Key, other: Key) -> dict[str, str]:
    """Every token kind of cases.json, minted now."""
    out: dict[str, str] = {}
    for kind, spec in CASES["tokens"].items():
        t = now()
        exp = t + spec.get("exp_offset_s", 600)
        claims = {"iss": SETUP["issuer"], "aud": SETUP["audience"], "iat": min(t, exp - 3600), "exp": exp, **spec["claims"]}
        token = (other if "kid" in spec else key).mint(claims)
        if "tamper" in spec:
            token = tamper(token, {**claims, **spec["tamper"]})
        out[kind] = token
    return out


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """The shared sidecar and friends (started once per session)."""
    with tempfile.TemporaryDirectory(prefix="coresdk-py-") as tmp, contextlib.ExitStack() as stack:
        d = Path(tmp)
        (d / "pki").mkdir()
        pki = make_pki(d / "pki")
        key = make_key(SETUP["kid"])
        other = make_key(CASES["tokens"]["unknown_key"]["kid"])
        bundle = d / "bundle"
        bundle.mkdir()
        for name, text in SETUP["policy"].items():
            (bundle / name).write_text(text)
        # The value corpus (values.json) is served by the same sidecar.
        shutil.copy(VALUES_BUNDLE / "values.rego", bundle / "values.rego")
        jwks = JwksServer(jwks_of(key), pki.server_cert, pki.server_key)
        stack.callback(jwks.close)
        tls = {
            "CORESDK_SIDECAR_TLS_CERT_FILE": pki.server_cert,
            "CORESDK_SIDECAR_TLS_KEY_FILE": pki.server_key,
            "CORESDK_SIDECAR_TLS_CLIENT_CA_FILE": pki.ca_file,
        }
        common = {"CORESDK_SIDECAR_ADDR": "127.0.0.1:0", "CORESDK_POLICY_DIR": str(bundle), "CORESDK_ISSUER": SETUP["issuer"]}
        common |= {"CORESDK_AUDIENCE": SETUP["audience"], "CORESDK_JWKS_CA_FILE": pki.ca_file, **tls}
        sidecar = Sidecar({**common, "CORESDK_JWKS_URL": jwks.url})
        stack.callback(sidecar.stop)
        slow = BlackHole()
        stack.callback(slow.close)
        dead = dead_port()
        # A real sidecar whose key set cannot be fetched: it answers ERR_JWKS_UNAVAILABLE (never SERVING).
        keyless = Sidecar({**common, "CORESDK_JWKS_URL": f"https://127.0.0.1:{dead}/jwks"}, wait_serving=False)
        stack.callback(keyless.stop)
        yield World(d, pki, key, jwks, sidecar, keyless, dead, slow, mint_tokens(key, other))
