"""The typed results of :class:`~coresdk.CoreSDKClient` calls, mirroring the Node client's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ._breaker import BreakerState
from .errors import CoreSDKError

__all__ = ["AuthorizeResult", "BatchResult", "ClientStats", "Decision", "HealthStatus", "IsAllowedResult"]

Claims = dict[str, Any]
"""Verified token claims (a JSON object)."""

HealthStatus = Literal["SERVING", "NOT_SERVING", "UNREACHABLE"]
"""What :meth:`~coresdk.CoreSDKClient.health` reports."""


@dataclass(frozen=True)
class AuthorizeResult:
    """The outcome of ``authorize`` and ``verify_token``: never raised, always returned.

    ``reason`` is ``allowed``, ``denied``, ``undefined``, ``fail-open`` or an
    error code; ``error`` is set for anything but a plain allow or deny.
    """

    allowed: bool
    """True only when the token verified and the policy (if any) was exactly ``true``, or on fail-open."""
    reason: str
    """``allowed``, ``denied``, ``undefined``, ``fail-open`` or the error code."""
    claims: Claims | None
    """The verified claims; ``None`` on fail-open and on any failure."""
    defined: bool = False
    """True when the policy query had a value."""
    value: Any = None
    """The policy query's value (``None`` when undefined or for ``verify_token``)."""
    revision: str | None = None
    """The policy bundle revision that decided."""
    error: CoreSDKError | None = None
    """Why it failed (a rejected token: ``error.rfc6750_error == "invalid_token"``)."""
    degraded: bool = False
    """True when the sidecar was unreachable and ``fail_mode="open"`` allowed the request (claims are None)."""


@dataclass(frozen=True)
class Decision:
    """The value of one policy query (``evaluate_policy``)."""

    defined: bool
    """True when the query has a value."""
    value: Any
    """The value (``None`` when undefined)."""
    revision: str
    """The policy bundle revision that decided."""

    @property
    def allowed(self) -> bool:
        """Allow-style reading: True only when the value is exactly ``true``."""
        return self.defined and self.value is True


@dataclass(frozen=True)
class IsAllowedResult:
    """The outcome of ``is_allowed``: never raised, always returned."""

    allowed: bool
    """True when the query was exactly ``true`` (or fail-open)."""
    reason: str
    """``allowed``, ``denied``, ``undefined``, ``fail-open`` or an error code."""
    degraded: bool = False
    """True when allowed by ``fail_mode="open"`` because the sidecar was unreachable."""
    error: CoreSDKError | None = None
    """Why it failed, when it did."""
    revision: str | None = None
    """The policy bundle revision that decided."""


@dataclass(frozen=True)
class BatchResult:
    """One item of ``evaluate_policies``: ``ok`` with a ``decision``, or an ``error``."""

    ok: bool
    """True when this item was evaluated."""
    decision: Decision | None = None
    """The item's decision, when ``ok``."""
    error: CoreSDKError | None = None
    """The item's error, when not ``ok``."""

    @property
    def allowed(self) -> bool:
        """True only when the item's value is exactly ``true``."""
        return self.decision is not None and self.decision.allowed


@dataclass(frozen=True)
class ClientStats:
    """Counters for dashboards."""

    fail_open: int
    """Requests allowed by ``fail_mode="open"`` because the sidecar was unreachable."""
    fail_closed: int
    """Requests denied by ``fail_mode="closed"`` because the sidecar was unreachable."""
    breaker: BreakerState
    """The circuit breaker's state."""
