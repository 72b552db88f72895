"""A circuit breaker, so that a dead sidecar costs one fast failure per request.

Closed: calls go through; ``failure_threshold`` transport failures in a row
open it. Open: calls fail at once for ``reset_ms``. Half-open: one call goes
through as a probe; its success closes the breaker, its failure opens it
again. Only transport failures count: any answer from the sidecar, even an
error status, is a success. The same rules as the Node client's breaker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """A thread-safe circuit breaker; ``now`` (seconds, monotonic) is injectable for tests."""

    def __init__(self, failure_threshold: int = 5, reset_ms: int = 5000, now: Callable[[], float] = time.monotonic) -> None:
        """Makes a closed breaker."""
        self._threshold = max(1, failure_threshold)
        self._reset = max(0, reset_ms) / 1000
        self._now = now
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._state: BreakerState = "closed"
        self._probe_in_flight = False

    def _current(self) -> BreakerState:
        if self._state == "open" and self._now() - self._opened_at >= self._reset:
            return "half-open"
        return self._state

    @property
    def state(self) -> BreakerState:
        """The current state."""
        with self._lock:
            return self._current()

    def try_acquire(self) -> bool:
        """Whether a call may go out now (claims the half-open probe if so)."""
        with self._lock:
            s = self._current()
            if s == "closed":
                return True
            if s == "half-open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def on_success(self) -> None:
        """The sidecar answered."""
        with self._lock:
            self._failures = 0
            self._state = "closed"
            self._probe_in_flight = False

    def release(self) -> None:
        """The call ended without telling anything about the sidecar (cancelled): frees the half-open probe."""
        with self._lock:
            self._probe_in_flight = False

    def on_failure(self) -> None:
        """The sidecar could not be reached."""
        with self._lock:
            self._probe_in_flight = False
            self._failures += 1
            if self._state != "closed" or self._failures >= self._threshold:
                self._state = "open"
                self._opened_at = self._now()
