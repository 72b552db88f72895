package dev.coresdk;

import java.util.Map;

/**
 * The outcome of {@link CoreSDKClient#authorize} and {@link CoreSDKClient#verifyToken}: never thrown, always returned.
 *
 * @param allowed true only when the token verified and the policy (if any) was exactly {@code true}, or on fail-open
 * @param reason {@code allowed}, {@code denied}, {@code undefined}, {@code fail-open} or the error code
 * @param claims the verified claims; {@code null} on fail-open and on any failure
 * @param defined true when the policy query had a value
 * @param value the policy query's value ({@code null} when undefined or for {@code verifyToken})
 * @param revision the policy bundle revision that decided, or {@code null}
 * @param error why it failed ({@code null} for a plain allow or deny)
 * @param degraded true when the sidecar was unreachable and fail mode {@code OPEN} allowed the request
 */
public record AuthorizeResult(
    boolean allowed,
    String reason,
    Map<String, Object> claims,
    boolean defined,
    Object value,
    String revision,
    CoreSDKException error,
    boolean degraded) {}
