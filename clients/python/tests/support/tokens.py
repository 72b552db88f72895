"""Signing keys, their JWKS, and tokens minted with PyJWT (the tests' independent second opinion)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Key:
    """An ES256 signing key and its public JWK."""

    kid: str
    private: ec.EllipticCurvePrivateKey

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK."""
        n = self.private.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big")),
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
        }

    def mint(self, claims: dict[str, Any]) -> str:
        """A JWT signed by this key (header alg ES256, kid, typ JWT)."""
        return jwt.encode(claims, self.private, algorithm="ES256", headers={"kid": self.kid, "typ": "JWT"})


def make_key(kid: str) -> Key:
    """A fresh P-256 key."""
    return Key(kid, ec.generate_private_key(ec.SECP256R1()))


def jwks_of(*keys: Key) -> dict[str, Any]:
    """A key set of the keys' public JWKs."""
    return {"keys": [k.jwk for k in keys]}


def now() -> int:
    """Seconds since the epoch."""
    return int(time.time())


def tamper(token: str, claims: dict[str, Any]) -> str:
    """``token`` with its payload replaced by ``claims`` (signature kept)."""
    h, _, s = token.split(".")
    return f"{h}.{b64u(json.dumps(claims, separators=(',', ':')).encode())}.{s}"
