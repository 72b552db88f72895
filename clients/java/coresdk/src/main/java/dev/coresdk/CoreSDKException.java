package dev.coresdk;

import dev.coresdk.internal.contract.Contract;
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

  /** Every error code CoreSDK can raise (generated from {@code proto/contract/errors.json}, as in every language). */
  public static final Set<String> ERROR_CODES = Set.copyOf(Contract.ERROR_CODES);

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
    Contract.ErrorSpec spec = Contract.ERRORS.get(code);
    return spec == null ? null : spec.rfc6750();
  }

  /**
   * True when the sidecar could not be reached (the only case a fail mode applies to).
   *
   * @return whether this is a transport failure
   */
  public boolean isTransportFailure() {
    Contract.ErrorSpec spec = Contract.ERRORS.get(code);
    return spec != null && spec.transport();
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
