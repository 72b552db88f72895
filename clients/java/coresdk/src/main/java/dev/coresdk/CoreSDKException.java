package dev.coresdk;

import java.util.Set;

/**
 * The error every CoreSDK API throws (or returns in a result's {@code error()}), with the stable {@link #code()}
 * strings the Node package, the Python SDK and the Rust engine use.
 *
 * <p>Branch on {@link #code()}, never on the message. Messages never contain a token, claims or policy input.
 *
 * <pre>{@code
 * try {
 *   sdk.evaluatePolicy("data.authz.allow", Map.of("action", "read"));
 * } catch (CoreSDKException e) {
 *   if (e.code().equals("ERR_SIDECAR_UNAVAILABLE")) {
 *     // deny and alert
 *   }
 * }
 * }</pre>
 */
public class CoreSDKException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Every error code CoreSDK can raise (the Node package's {@code ERROR_CODES}). */
  public static final Set<String> ERROR_CODES =
      Set.of(
          "ERR_CONFIG",
          "ERR_POLICY_LOAD",
          "ERR_POLICY_COMPILE",
          "ERR_QUERY_INVALID",
          "ERR_UNKNOWN_RULE",
          "ERR_INPUT_INVALID",
          "ERR_INPUT_TOO_LARGE",
          "ERR_INPUT_TOO_DEEP",
          "ERR_EVAL_TIMEOUT",
          "ERR_EVAL",
          "ERR_ENGINE_CLOSED",
          "ERR_BUNDLE_NOT_ACTIVE",
          "ERR_BUNDLE_REFUSED",
          "ERR_BUNDLE_FETCH",
          "ERR_TOKEN_MISSING",
          "ERR_TOKEN_MALFORMED",
          "ERR_TOKEN_ALGORITHM",
          "ERR_TOKEN_UNKNOWN_KEY",
          "ERR_TOKEN_SIGNATURE",
          "ERR_TOKEN_EXPIRED",
          "ERR_TOKEN_NOT_YET_VALID",
          "ERR_TOKEN_CLAIM",
          "ERR_JWKS_UNAVAILABLE",
          "ERR_JWKS_INVALID",
          "ERR_INTERNAL",
          "ERR_TLS",
          "ERR_BIND",
          "ERR_RUNTIME",
          "ERR_UNKNOWN_TENANT",
          "ERR_TENANT_INVALID",
          "ERR_OVERLOADED",
          "ERR_MESSAGE_TOO_LARGE",
          "ERR_BATCH_TOO_LARGE",
          "ERR_QUERY_NOT_ALLOWED",
          "ERR_TOKENS_NOT_CONFIGURED",
          "ERR_PII_UNAVAILABLE",
          "ERR_SIDECAR_UNAVAILABLE",
          "ERR_SIDECAR_TIMEOUT",
          "ERR_ABORTED");

  private static final Set<String> INVALID_TOKEN =
      Set.of(
          "ERR_TOKEN_MALFORMED",
          "ERR_TOKEN_ALGORITHM",
          "ERR_TOKEN_UNKNOWN_KEY",
          "ERR_TOKEN_SIGNATURE",
          "ERR_TOKEN_EXPIRED",
          "ERR_TOKEN_NOT_YET_VALID",
          "ERR_TOKEN_CLAIM");

  private static final Set<String> TRANSPORT = Set.of("ERR_SIDECAR_UNAVAILABLE", "ERR_SIDECAR_TIMEOUT");

  private final String code;

  /**
   * Makes an error; {@code message} must never contain a token, claims or input values.
   *
   * @param code the stable error code (one of {@link #ERROR_CODES})
   * @param message the human-readable description
   */
  public CoreSDKException(String code, String message) {
    super(message);
    this.code = code;
  }

  /**
   * The stable error code, e.g. {@code ERR_TOKEN_EXPIRED}.
   *
   * @return the code
   */
  public String code() {
    return code;
  }

  /**
   * The RFC 6750 {@code error} value: {@code invalid_token} for a rejected token, else {@code null}.
   *
   * @return {@code "invalid_token"} or {@code null}
   */
  public String rfc6750Error() {
    return INVALID_TOKEN.contains(code) ? "invalid_token" : null;
  }

  /**
   * True when the sidecar could not be reached (the only case a fail mode applies to).
   *
   * @return whether this is a transport failure
   */
  public boolean isTransportFailure() {
    return TRANSPORT.contains(code);
  }

  /**
   * A sidecar {@code ErrorInfo.reason} as an error code (unknown reasons are {@code ERR_INTERNAL}).
   *
   * @param reason the reason
   * @return the code
   */
  public static String toCode(String reason) {
    return ERROR_CODES.contains(reason) ? reason : "ERR_INTERNAL";
  }

  /**
   * {@code [CODE] message}.
   *
   * @return the text
   */
  @Override
  public String toString() {
    return "[" + code + "] " + getMessage();
  }
}
