"""Reads the sidecar's ``google.rpc.ErrorInfo`` from a gRPC status.

Every status a sidecar handler returns carries a ``google.rpc.Status`` in
the ``grpc-status-details-bin`` trailer, with one ``ErrorInfo`` whose domain
is ``coresdk.dev`` and whose reason is the engine's error code. A status
without it did not come from the sidecar's handlers (refused connection, TLS
failure, a proxy, a client-side deadline): only those are "unreachable".

The two messages are decoded here from the protobuf wire format directly
(three fields each), so that the package needs neither
googleapis-common-protos nor a second copy of ``google/rpc/*.proto`` in the
default descriptor pool, where it could clash with the application's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

SIDECAR_ERROR_DOMAIN: Final = "coresdk.dev"
_ERROR_INFO_URL: Final = "type.googleapis.com/google.rpc.ErrorInfo"
_MAX_DETAILS: Final = 64 * 1024


@dataclass(frozen=True)
class ErrorInfo:
    """The ``google.rpc.ErrorInfo`` of a sidecar status."""

    reason: str
    """The engine's stable error code, e.g. ``ERR_TOKEN_EXPIRED``."""
    domain: str
    """``coresdk.dev``."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Extra facts, e.g. ``rfc6750_error``, ``limit``."""


class _Malformed(Exception):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    n = 0
    shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise _Malformed
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited; others skipped."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            yield num, v
        elif wire == 2:
            ln, i = _varint(buf, i)
            if i + ln > len(buf):
                raise _Malformed
            yield num, buf[i : i + ln]
            i += ln
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise _Malformed
        if i > len(buf):
            raise _Malformed


def _text(v: int | bytes) -> str:
    if not isinstance(v, bytes):
        raise _Malformed
    return v.decode("utf-8")


def _error_info(buf: bytes) -> ErrorInfo:
    reason = domain = ""
    metadata: dict[str, str] = {}
    for num, v in _fields(buf):
        if num == 1:
            reason = _text(v)
        elif num == 2:
            domain = _text(v)
        elif num == 3 and isinstance(v, bytes):
            k = val = ""
            for n2, v2 in _fields(v):
                if n2 == 1:
                    k = _text(v2)
                elif n2 == 2:
                    val = _text(v2)
            metadata[k] = val
    return ErrorInfo(reason, domain, metadata)


def parse_status_details(raw: bytes) -> ErrorInfo | None:
    """The sidecar's ErrorInfo in a serialized ``google.rpc.Status``, or ``None``."""
    if len(raw) > _MAX_DETAILS:
        return None
    try:
        for num, v in _fields(raw):
            if num != 3 or not isinstance(v, bytes):
                continue
            url = ""
            value = b""
            for n2, v2 in _fields(v):
                if n2 == 1:
                    url = _text(v2)
                elif n2 == 2 and isinstance(v2, bytes):
                    value = v2
            if url != _ERROR_INFO_URL:
                continue
            info = _error_info(value)
            if info.domain == SIDECAR_ERROR_DOMAIN:
                return info
    except (_Malformed, UnicodeDecodeError):
        return None
    return None


def sidecar_error_info(trailing_metadata: Iterable[Any] | None) -> ErrorInfo | None:
    """The sidecar's ErrorInfo in a call's trailing metadata, or ``None``."""
    for key, value in trailing_metadata or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            return parse_status_details(value)
    return None
