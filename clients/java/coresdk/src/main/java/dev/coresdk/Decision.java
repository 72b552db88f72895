package dev.coresdk;

/**
 * The value of one policy query ({@link CoreSDKClient#evaluatePolicy}).
 *
 * @param defined true when the query has a value
 * @param value the value ({@code null} when undefined): a {@code Map}, {@code List}, {@code String}, {@code Boolean},
 *     {@code Long}, {@code Double} or {@code null}
 * @param revision the policy bundle revision that decided
 */
public record Decision(boolean defined, Object value, String revision) {
  /**
   * Allow-style reading: true only when the value is exactly {@code true}.
   *
   * @return whether the decision allows
   */
  public boolean allowed() {
    return defined && Boolean.TRUE.equals(value);
  }
}
