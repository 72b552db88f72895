package dev.coresdk;

/**
 * Per-call options: the tenant and the deadline. {@code null} members take the client's configuration.
 *
 * <pre>{@code
 * sdk.evaluatePolicy("data.authz.allow", input, RequestOptions.timeoutMs(200));
 * sdk.authorize(token, "data.authz.allow", input, RequestOptions.tenant("globex").withTimeoutMs(500));
 * }</pre>
 *
 * @param tenantId the tenant, or {@code null} for {@link SDKConfig#tenantId()}
 * @param timeoutMs the deadline in milliseconds (retries included), or {@code null} for {@link SDKConfig#timeoutMs()}
 */
public record RequestOptions(String tenantId, Integer timeoutMs) {
  /** The client's defaults. */
  public static final RequestOptions DEFAULT = new RequestOptions(null, null);

  /**
   * Options naming a tenant.
   *
   * @param tenantId the tenant
   * @return the options
   */
  public static RequestOptions tenant(String tenantId) {
    return new RequestOptions(tenantId, null);
  }

  /**
   * Options with a deadline.
   *
   * @param timeoutMs milliseconds, positive
   * @return the options
   */
  public static RequestOptions timeoutMs(int timeoutMs) {
    return new RequestOptions(null, timeoutMs);
  }

  /**
   * A copy with a deadline.
   *
   * @param ms milliseconds, positive
   * @return the options
   */
  public RequestOptions withTimeoutMs(int ms) {
    return new RequestOptions(tenantId, ms);
  }

  /**
   * A copy naming a tenant.
   *
   * @param tenant the tenant
   * @return the options
   */
  public RequestOptions withTenant(String tenant) {
    return new RequestOptions(tenant, timeoutMs);
  }
}
