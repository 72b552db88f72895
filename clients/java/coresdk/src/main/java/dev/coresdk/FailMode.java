package dev.coresdk;

/** What an unreachable sidecar means (and only that: an answer from the sidecar is never subject to it). */
public enum FailMode {
  /** Allow the request with {@code null} claims (a warning at most every 10 s, a counter). */
  OPEN,
  /** Deny with {@code ERR_SIDECAR_UNAVAILABLE} / {@code ERR_SIDECAR_TIMEOUT} (a 503 in the filter). */
  CLOSED;

  /**
   * The configuration spelling, {@code "open"} or {@code "closed"}.
   *
   * @return the lower-case name
   */
  public String value() {
    return this == OPEN ? "open" : "closed";
  }
}
