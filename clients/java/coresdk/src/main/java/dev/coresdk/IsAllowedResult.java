package dev.coresdk;

/**
 * The outcome of {@link CoreSDKClient#isAllowed}: never thrown, always returned.
 *
 * @param allowed true when the query was exactly {@code true} (or fail-open)
 * @param reason {@code allowed}, {@code denied}, {@code undefined}, {@code fail-open} or an error code
 * @param degraded true when allowed by fail mode {@code OPEN} because the sidecar was unreachable
 * @param error why it failed, when it did
 * @param revision the policy bundle revision that decided, or {@code null}
 */
public record IsAllowedResult(
    boolean allowed, String reason, boolean degraded, CoreSDKException error, String revision) {}
