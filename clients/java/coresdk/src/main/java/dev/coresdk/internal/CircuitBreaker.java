package dev.coresdk.internal;

import dev.coresdk.BreakerState;
import java.util.function.LongSupplier;

/**
 * A circuit breaker, so that a dead sidecar costs one fast failure per request (the Node and Python clients' rules).
 *
 * <p>Closed: calls go through; {@code failureThreshold} transport failures in a row open it. Open: calls fail at
 * once for {@code resetMs}. Half-open: one call goes through as a probe; its success closes the breaker, its failure
 * opens it again. Only transport failures count: any answer from the sidecar, even an error status, is a success.
 */
public final class CircuitBreaker {
  private final int threshold;
  private final long resetNanos;
  private final LongSupplier now;
  private int failures;
  private long openedAt;
  private BreakerState state = BreakerState.CLOSED;
  private boolean probeInFlight;

  /**
   * Makes a closed breaker.
   *
   * @param failureThreshold failures in a row that open it
   * @param resetMs how long it stays open
   * @param now a monotonic clock in nanoseconds (injectable for tests)
   */
  public CircuitBreaker(int failureThreshold, int resetMs, LongSupplier now) {
    this.threshold = Math.max(1, failureThreshold);
    this.resetNanos = Math.max(0, resetMs) * 1_000_000L;
    this.now = now;
  }

  private BreakerState current() {
    if (state == BreakerState.OPEN && now.getAsLong() - openedAt >= resetNanos) {
      return BreakerState.HALF_OPEN;
    }
    return state;
  }

  /**
   * The current state.
   *
   * @return the state
   */
  public synchronized BreakerState state() {
    return current();
  }

  /**
   * Whether a call may go out now (claims the half-open probe if so).
   *
   * @return true when the call may go out
   */
  public synchronized boolean tryAcquire() {
    BreakerState s = current();
    if (s == BreakerState.CLOSED) {
      return true;
    }
    if (s == BreakerState.HALF_OPEN && !probeInFlight) {
      probeInFlight = true;
      return true;
    }
    return false;
  }

  /** The sidecar answered. */
  public synchronized void onSuccess() {
    failures = 0;
    state = BreakerState.CLOSED;
    probeInFlight = false;
  }

  /** The call ended without telling anything about the sidecar (cancelled): frees the half-open probe. */
  public synchronized void release() {
    probeInFlight = false;
  }

  /** The sidecar could not be reached. */
  public synchronized void onFailure() {
    probeInFlight = false;
    failures++;
    if (state != BreakerState.CLOSED || failures >= threshold) {
      state = BreakerState.OPEN;
      openedAt = now.getAsLong();
    }
  }
}
