"""Raw HTTP/1.1 over a socket, so that tests send exactly the header lines they mean (two Authorization headers...)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    """A parsed response (header names lower-cased; repeated headers joined with ", ")."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while True:
        nl = body.index(b"\r\n")
        size = int(body[:nl].split(b";")[0], 16)
        if size == 0:
            return out
        out += body[nl + 2 : nl + 2 + size]
        body = body[nl + 2 + size + 2 :]


def raw_request(port: int, method: str, path: str, headers: list[tuple[str, str]], timeout: float = 20.0) -> RawResponse:
    """Sends one request with exactly these header lines and reads the whole response."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *(f"{k}: {v}" for k, v in headers)]
    if method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *hl = head.decode("latin-1").split("\r\n")
    hs: dict[str, str] = {}
    for line in hl:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        hs[k] = f"{hs[k]}, {v.strip()}" if k in hs else v.strip()
    if hs.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return RawResponse(int(status_line.split(" ")[1]), hs, body)
