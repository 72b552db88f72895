package dev.coresdk;

/** The circuit breaker's state, in {@link ClientStats}. */
public enum BreakerState {
  /** Calls go through. */
  CLOSED,
  /** Calls fail at once (the sidecar failed repeatedly). */
  OPEN,
  /** One probe call may go through. */
  HALF_OPEN;

  /**
   * The spelling the other clients use: {@code closed}, {@code open}, {@code half-open}.
   *
   * @return the name
   */
  public String value() {
    return this == HALF_OPEN ? "half-open" : name().toLowerCase(java.util.Locale.ROOT);
  }
}
