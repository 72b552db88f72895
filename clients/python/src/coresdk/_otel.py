"""OpenTelemetry glue, active only when ``opentelemetry-api`` is installed (``coresdk[otel]``).

* :func:`trace_metadata`: the active span as W3C ``traceparent`` (and
  ``tracestate``) call metadata, set directly rather than through the global
  propagator: the sidecar reads exactly this header, so its span for the
  call is the application's child.
* :func:`span`: a ``coresdk.verify`` / ``coresdk.authorize`` /
  ``coresdk.evaluate`` span around a middleware decision, with the same
  attributes and metrics as the Node middleware (decision, reason, tenant,
  revision; never the subject, claims or token).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
    from opentelemetry.trace import Status, StatusCode

    HAVE_OTEL = True
except ImportError:  # pragma: no cover - exercised without the otel extra
    HAVE_OTEL = False

__all__ = ["HAVE_OTEL", "span", "trace_metadata"]


def trace_metadata() -> tuple[tuple[str, str], ...] | None:
    """``(("traceparent", ...), ("tracestate", ...))`` for the active span, or ``None``."""
    if not HAVE_OTEL:
        return None
    sc = _trace.get_current_span().get_span_context()
    if not sc.is_valid:
        return None
    md: tuple[tuple[str, str], ...] = (("traceparent", f"00-{sc.trace_id:032x}-{sc.span_id:016x}-0{int(sc.trace_flags) & 1}"),)
    state = sc.trace_state.to_header() if sc.trace_state else ""
    if state:
        md += (("tracestate", state),)
    return md


class Outcome(Protocol):
    """What :func:`span` reads from a result."""

    @property
    def allowed(self) -> bool:
        """Whether it was allowed."""

    @property
    def reason(self) -> str:
        """Why."""

    @property
    def degraded(self) -> bool:
        """Whether it was a fail-open."""

    @property
    def revision(self) -> str | None:
        """Bundle revision."""

    @property
    def error(self) -> Any:
        """A CoreSDKError or None."""


_instruments: list[tuple[Any, Any]] = []
_tracer: list[Any] = []


def _get_instruments() -> tuple[Any, Any]:
    if not _instruments:
        meter = _metrics.get_meter("coresdk")
        _instruments.append(
            (
                meter.create_counter("coresdk.authz.decisions", description="Authorization decisions, by decision and reason"),
                meter.create_histogram("coresdk.authz.decision.duration", unit="s", description="Authorization decision time"),
            )
        )
    return _instruments[0]


class SpanRecorder:
    """Records one decision on the span opened by :func:`span`."""

    def __init__(self, otel_span: Any, tenant: str) -> None:
        """Wraps ``otel_span`` (or ``None`` without OpenTelemetry)."""
        self._span = otel_span
        self._tenant = tenant
        self._started = time.perf_counter()

    def record(self, r: Outcome) -> None:
        """Sets the decision attributes and records the metrics."""
        if self._span is None:
            return
        decision = "fail-open" if r.degraded else "allow" if r.allowed else "deny"
        self._span.set_attributes(
            {"coresdk.decision": decision, "coresdk.reason": r.reason, "coresdk.mode": "sidecar", "coresdk.tenant": self._tenant}
        )
        if r.revision is not None:
            self._span.set_attribute("coresdk.policy.revision", r.revision)
        code = getattr(r.error, "code", None)
        if isinstance(code, str) and not code.startswith("ERR_TOKEN"):
            self._span.set_status(Status(StatusCode.ERROR, code))
        decisions, duration = _get_instruments()
        decisions.add(1, {"decision": decision, "reason": r.reason})
        duration.record(time.perf_counter() - self._started, {"decision": decision})


@contextmanager
def span(name: str, tenant_id: str) -> Iterator[SpanRecorder]:
    """Opens ``name`` as the active span (a no-op without OpenTelemetry)."""
    tenant = tenant_id or "default"
    if not HAVE_OTEL:
        yield SpanRecorder(None, tenant)
        return
    if not _tracer:
        # A ProxyTracer until an SDK is installed, then it delegates: safe to keep.
        _tracer.append(_trace.get_tracer("coresdk"))
    with _tracer[0].start_as_current_span(name) as s:
        yield SpanRecorder(s, tenant)
