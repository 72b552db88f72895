"""A mutual-TLS PKI made for the tests by the openssl CLI (as the Node suites do).

A CA, a server certificate for [::1] / 127.0.0.1 / localhost (the sidecar and
the HTTPS JWKS server), a client certificate from the same CA, and a client
certificate from another CA (an intruder).
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "/usr/bin/openssl"


def _run(cwd: Path, *args: str) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _ca(d: Path, name: str) -> None:
    _run(
        d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=coresdk {name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def _issue(d: Path, ca: str, name: str, usage: str) -> None:
    _run(
        d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
    )  # fmt: skip
    san = "subjectAltName=IP:::1,IP:127.0.0.1,DNS:localhost" if usage == "serverAuth" else f"subjectAltName=DNS:{name}"
    (d / f"{name}.ext").write_text(
        f"{san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n"
    )
    _run(
        d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-set_serial", f"0x{secrets.token_hex(8)}", "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
    )  # fmt: skip


@dataclass(frozen=True)
class Pki:
    """File paths of the test PKI."""

    ca_file: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    intruder_cert: str
    intruder_key: str


def make_pki(d: Path) -> Pki:
    """Makes the PKI in ``d``."""
    _ca(d, "ca")
    _ca(d, "other-ca")
    _issue(d, "ca", "server", "serverAuth")
    _issue(d, "ca", "client", "clientAuth")
    _issue(d, "other-ca", "intruder", "clientAuth")

    def p(n: str) -> str:
        return str(d / n)

    return Pki(
        ca_file=p("ca.pem"),
        server_cert=p("server.pem"),
        server_key=p("server.key"),
        client_cert=p("client.pem"),
        client_key=p("client.key"),
        intruder_cert=p("intruder.pem"),
        intruder_key=p("intruder.key"),
    )
