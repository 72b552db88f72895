package dev.coresdk;

/**
 * One item of {@link CoreSDKClient#evaluatePolicies}: {@code ok} with a {@code decision}, or an {@code error}.
 *
 * @param ok true when this item was evaluated
 * @param decision the item's decision, when {@code ok}
 * @param error the item's error, when not {@code ok}
 */
public record BatchResult(boolean ok, Decision decision, CoreSDKException error) {
  /**
   * True only when the item's value is exactly {@code true}.
   *
   * @return whether the item allows
   */
  public boolean allowed() {
    return decision != null && decision.allowed();
  }
}
