package dev.coresdk;

import dev.coresdk.v1.AuthorizeRequest;
import dev.coresdk.v1.CoreSDKGrpc;
import dev.coresdk.v1.EvaluatePoliciesRequest;
import dev.coresdk.v1.EvaluatePolicyRequest;
import dev.coresdk.v1.MaskPiiRequest;
import dev.coresdk.v1.VerifyTokenRequest;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The CoreSDK client: token verification, policy decisions and PII masking through the sidecar (gRPC over mutual
 * TLS). Thread-safe; one channel, opened on the first call. Blocking methods, and {@code *Async} twins returning
 * {@link CompletableFuture}s.
 *
 * <pre>{@code
 * try (CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().failMode(FailMode.OPEN).build())) {
 *   AuthorizeResult r = sdk.authorize(bearer, "data.authz.allow", Map.of("action", "read"));
 *   if (r.allowed()) {
 *     use(r.claims()); // null when r.degraded() (fail-open)
 *   }
 * }
 * }</pre>
 *
 * <p>The same design as the Node and Python clients:
 *
 * <ul>
 *   <li>a deadline on every call ({@code timeoutMs}, retries included); bounded retries with jittered exponential
 *       backoff for UNAVAILABLE <em>without</em> the sidecar's {@code ErrorInfo} only; a circuit breaker;
 *   <li>the fail mode applies to one situation only, the sidecar could not be reached (connection or TLS refused, no
 *       answer within the deadline, breaker open): {@code OPEN} allows with {@code null} claims (a warning at most
 *       every 10 s, a counter), {@code CLOSED} denies with {@code ERR_SIDECAR_UNAVAILABLE} /
 *       {@code ERR_SIDECAR_TIMEOUT}. A status carrying the sidecar's {@code ErrorInfo} is an answer and is never
 *       turned into an allow;
 *   <li>mutual TLS 1.3 when TLS files are given; plaintext only to a loopback address or a unix socket.
 * </ul>
 *
 * <p>The client is a thin facade: {@code ChannelBuilder} makes the channel (address kinds, TLS), {@code Transport}
 * makes the calls (deadlines, retries, breaker, status to {@link CoreSDKException}), {@code Marshalling} turns Java
 * values into protobuf messages and back, and {@code FailModePolicy} turns an unreachable sidecar into a verdict.
 *
 * <p>{@link #authorize}, {@link #verifyToken} and {@link #isAllowed} never throw for a verdict;
 * {@link #evaluatePolicy}, {@link #evaluatePolicies} and {@link #maskPii} throw {@link CoreSDKException}.
 */
public final class CoreSDKClient implements AutoCloseable {
  /** The query {@link #authorize} evaluates when none is given. */
  public static final String DEFAULT_QUERY = "data.authz.allow";

  private final SDKConfig config;
  private final Transport transport;
  private final Marshalling marshal;
  private final FailModePolicy failModes;

  private CoreSDKClient(SDKConfig config) {
    this.config = config;
    this.transport = new Transport(config, ChannelBuilder.forConfig(config));
    this.marshal = new Marshalling(config.tenantId());
    this.failModes = new FailModePolicy(config);
  }

  /**
   * Builds a client (the channel opens on the first call).
   *
   * @param config the configuration ({@code null}: every default)
   * @return the client
   * @throws CoreSDKException {@code ERR_CONFIG} for an address grpc-java cannot dial, a bad TLS setup or a plaintext
   *     remote address
   */
  public static CoreSDKClient create(SDKConfig config) {
    return new CoreSDKClient(config == null ? SDKConfig.builder().build() : config);
  }

  /**
   * A client configured by {@code coresdk.toml} {@code [sdk]} and {@code CORESDK_*} (see {@link SDKConfig#fromEnv()}).
   *
   * @return the client
   */
  public static CoreSDKClient fromEnv() {
    return create(SDKConfig.fromEnv());
  }

  /**
   * The effective configuration.
   *
   * @return the configuration
   */
  public SDKConfig config() {
    return config;
  }

  // ------------------------------------------------------------------ the API (blocking)

  /**
   * Verifies {@code token} and evaluates {@code data.authz.allow} with the claims as {@code input.claims}.
   *
   * @param token the compact JWS, without {@code Bearer }
   * @return the verdict (never thrown)
   */
  public AuthorizeResult authorize(String token) {
    return authorize(token, null, null, RequestOptions.DEFAULT);
  }

  /**
   * Verifies {@code token} and evaluates {@code query} with the claims as {@code input.claims}.
   *
   * @param token the compact JWS, without {@code Bearer }
   * @param query the Rego query ({@code null}: {@code data.authz.allow})
   * @param input the input document ({@code null}: {@code {}}); its {@code claims} member is reserved
   * @return the verdict (never thrown)
   */
  public AuthorizeResult authorize(String token, String query, Map<String, ?> input) {
    return authorize(token, query, input, RequestOptions.DEFAULT);
  }

  /**
   * Verifies {@code token} and evaluates {@code query}. Never throws for a verdict: a rejected token, a deny or an
   * error comes back as {@code allowed=false} with {@code reason} and {@code error}; an unreachable sidecar follows
   * the fail mode.
   *
   * @param token the compact JWS, without {@code Bearer }
   * @param query the Rego query ({@code null}: {@code data.authz.allow})
   * @param input the input document ({@code null}: {@code {}})
   * @param options tenant and deadline
   * @return the verdict
   */
  public AuthorizeResult authorize(String token, String query, Map<String, ?> input, RequestOptions options) {
    try {
      AuthorizeRequest req = marshal.authorizeRequest(token, query, input, options);
      return Marshalling.authorizeResult(transport.call(CoreSDKGrpc.getAuthorizeMethod(), req, transport.budgetNanos(options)));
    } catch (CoreSDKException e) {
      return failModes.failed(e);
    }
  }

  /**
   * Verifies {@code token} alone (no policy); never throws for a verdict, like {@link #authorize}.
   *
   * @param token the compact JWS
   * @return the verdict; {@code claims()} holds the verified claims
   */
  public AuthorizeResult verifyToken(String token) {
    return verifyToken(token, RequestOptions.DEFAULT);
  }

  /**
   * Verifies {@code token} alone (no policy); never throws for a verdict.
   *
   * @param token the compact JWS
   * @param options tenant and deadline
   * @return the verdict
   */
  public AuthorizeResult verifyToken(String token, RequestOptions options) {
    try {
      VerifyTokenRequest req = marshal.verifyRequest(token, options);
      return Marshalling.verifyResult(transport.call(CoreSDKGrpc.getVerifyTokenMethod(), req, transport.budgetNanos(options)));
    } catch (CoreSDKException e) {
      return failModes.failed(e);
    }
  }

  /**
   * Evaluates one query.
   *
   * @param query the Rego query
   * @param input the input document ({@code null} for none)
   * @return the decision
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public Decision evaluatePolicy(String query, Object input) {
    return evaluatePolicy(query, input, RequestOptions.DEFAULT);
  }

  /**
   * Evaluates one query.
   *
   * @param query the Rego query
   * @param input the input document ({@code null} for none)
   * @param options tenant and deadline
   * @return the decision
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public Decision evaluatePolicy(String query, Object input, RequestOptions options) {
    EvaluatePolicyRequest req = marshal.policyRequest(query, input, options);
    return Marshalling.decision(transport.call(CoreSDKGrpc.getEvaluatePolicyMethod(), req, transport.budgetNanos(options)));
  }

  /**
   * Allow-style check, never throwing: allowed only when the query is exactly {@code true}; an unreachable sidecar
   * follows the fail mode.
   *
   * @param query the Rego query
   * @param input the input document
   * @return the verdict
   */
  public IsAllowedResult isAllowed(String query, Object input) {
    return isAllowed(query, input, RequestOptions.DEFAULT);
  }

  /**
   * Allow-style check, never throwing.
   *
   * @param query the Rego query
   * @param input the input document
   * @param options tenant and deadline
   * @return the verdict
   */
  public IsAllowedResult isAllowed(String query, Object input, RequestOptions options) {
    try {
      return Marshalling.isAllowedOf(evaluatePolicy(query, input, options));
    } catch (CoreSDKException e) {
      return failModes.isAllowedFailed(e);
    }
  }

  /**
   * Evaluates many queries in one round trip; items succeed or fail on their own.
   *
   * @param items the queries and inputs (at most the sidecar's {@code max_batch}, default 128)
   * @return one result per item, in order
   * @throws CoreSDKException for a request-level problem or an unreachable sidecar
   */
  public List<BatchResult> evaluatePolicies(List<BatchItem> items) {
    return evaluatePolicies(items, RequestOptions.DEFAULT);
  }

  /**
   * Evaluates many queries in one round trip.
   *
   * @param items the queries and inputs
   * @param options tenant and deadline
   * @return one result per item, in order
   * @throws CoreSDKException for a request-level problem or an unreachable sidecar
   */
  public List<BatchResult> evaluatePolicies(List<BatchItem> items, RequestOptions options) {
    EvaluatePoliciesRequest req = marshal.batchRequest(items, options);
    return Marshalling.batchResults(transport.call(CoreSDKGrpc.getEvaluatePoliciesMethod(), req, transport.budgetNanos(options)));
  }

  /**
   * Masks personal data and secrets in strings with the sidecar tenant's masker.
   *
   * @param values the strings
   * @return the masked strings, in order
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public List<String> maskPii(List<String> values) {
    return maskPii(values, RequestOptions.DEFAULT);
  }

  /**
   * Masks personal data and secrets in strings.
   *
   * @param values the strings
   * @param options tenant and deadline
   * @return the masked strings, in order
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public List<String> maskPii(List<String> values, RequestOptions options) {
    MaskPiiRequest req = marshal.maskRequest(values, options);
    return Marshalling.masked(transport.call(CoreSDKGrpc.getMaskPiiMethod(), req, transport.budgetNanos(options)));
  }

  /**
   * The sidecar's health ({@code grpc.health.v1}).
   *
   * @return {@code SERVING}, {@code NOT_SERVING}, or {@code UNREACHABLE} (transport failure)
   */
  public HealthStatus health() {
    return health(RequestOptions.DEFAULT);
  }

  /**
   * The sidecar's health.
   *
   * @param options the deadline
   * @return {@code SERVING}, {@code NOT_SERVING}, or {@code UNREACHABLE}
   * @throws CoreSDKException {@code ERR_ENGINE_CLOSED} after {@link #close()}
   */
  public HealthStatus health(RequestOptions options) {
    try {
      long budget = transport.budgetNanos(options);
      return Marshalling.healthOf(transport.call(Marshalling.HEALTH_CHECK, Marshalling.HEALTH_REQUEST, budget));
    } catch (CoreSDKException e) {
      if (e.isTransportFailure()) {
        return HealthStatus.UNREACHABLE;
      }
      if (e.code().equals("ERR_ENGINE_CLOSED") || e.code().equals("ERR_CONFIG")) {
        throw e;
      }
      return HealthStatus.NOT_SERVING;
    }
  }

  // ------------------------------------------------------------------ the API (CompletableFuture)

  /**
   * {@link #authorize(String, String, Map, RequestOptions)}, asynchronously; the future never fails for a verdict.
   *
   * @param token the compact JWS
   * @param query the Rego query ({@code null}: {@code data.authz.allow})
   * @param input the input document
   * @param options tenant and deadline
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> authorizeAsync(
      String token, String query, Map<String, ?> input, RequestOptions options) {
    try {
      AuthorizeRequest req = marshal.authorizeRequest(token, query, input, options);
      return Futures.derive(
          transport.callAsync(CoreSDKGrpc.getAuthorizeMethod(), req, transport.budgetNanos(options)),
          (res, t) -> t == null ? Marshalling.authorizeResult(res) : failModes.failed(Futures.unwrap(t)));
    } catch (CoreSDKException e) {
      return CompletableFuture.completedFuture(failModes.failed(e));
    }
  }

  /**
   * {@link #authorize(String, String, Map)}, asynchronously.
   *
   * @param token the compact JWS
   * @param query the Rego query
   * @param input the input document
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> authorizeAsync(String token, String query, Map<String, ?> input) {
    return authorizeAsync(token, query, input, RequestOptions.DEFAULT);
  }

  /**
   * {@link #verifyToken(String, RequestOptions)}, asynchronously; the future never fails for a verdict.
   *
   * @param token the compact JWS
   * @param options tenant and deadline
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> verifyTokenAsync(String token, RequestOptions options) {
    try {
      VerifyTokenRequest req = marshal.verifyRequest(token, options);
      return Futures.derive(
          transport.callAsync(CoreSDKGrpc.getVerifyTokenMethod(), req, transport.budgetNanos(options)),
          (res, t) -> t == null ? Marshalling.verifyResult(res) : failModes.failed(Futures.unwrap(t)));
    } catch (CoreSDKException e) {
      return CompletableFuture.completedFuture(failModes.failed(e));
    }
  }

  /**
   * {@link #verifyToken(String)}, asynchronously.
   *
   * @param token the compact JWS
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> verifyTokenAsync(String token) {
    return verifyTokenAsync(token, RequestOptions.DEFAULT);
  }

  /**
   * {@link #evaluatePolicy(String, Object, RequestOptions)}, asynchronously; fails with a {@link CoreSDKException}.
   *
   * @param query the Rego query
   * @param input the input document
   * @param options tenant and deadline
   * @return the decision
   */
  public CompletableFuture<Decision> evaluatePolicyAsync(String query, Object input, RequestOptions options) {
    try {
      EvaluatePolicyRequest req = marshal.policyRequest(query, input, options);
      return Futures.derive(
          transport.callAsync(CoreSDKGrpc.getEvaluatePolicyMethod(), req, transport.budgetNanos(options)),
          (res, t) -> t == null ? Marshalling.decision(res) : Futures.rethrow(t));
    } catch (CoreSDKException e) {
      return Futures.failed(e);
    }
  }

  /**
   * {@link #evaluatePolicy(String, Object)}, asynchronously.
   *
   * @param query the Rego query
   * @param input the input document
   * @return the decision
   */
  public CompletableFuture<Decision> evaluatePolicyAsync(String query, Object input) {
    return evaluatePolicyAsync(query, input, RequestOptions.DEFAULT);
  }

  /**
   * {@link #isAllowed(String, Object, RequestOptions)}, asynchronously; the future never fails.
   *
   * @param query the Rego query
   * @param input the input document
   * @param options tenant and deadline
   * @return the verdict
   */
  public CompletableFuture<IsAllowedResult> isAllowedAsync(String query, Object input, RequestOptions options) {
    return Futures.derive(
        evaluatePolicyAsync(query, input, options),
        (d, t) -> t == null ? Marshalling.isAllowedOf(d) : failModes.isAllowedFailed(Futures.unwrap(t)));
  }

  /**
   * {@link #isAllowed(String, Object)}, asynchronously.
   *
   * @param query the Rego query
   * @param input the input document
   * @return the verdict
   */
  public CompletableFuture<IsAllowedResult> isAllowedAsync(String query, Object input) {
    return isAllowedAsync(query, input, RequestOptions.DEFAULT);
  }

  /**
   * {@link #evaluatePolicies(List, RequestOptions)}, asynchronously.
   *
   * @param items the queries and inputs
   * @param options tenant and deadline
   * @return one result per item
   */
  public CompletableFuture<List<BatchResult>> evaluatePoliciesAsync(List<BatchItem> items, RequestOptions options) {
    try {
      EvaluatePoliciesRequest req = marshal.batchRequest(items, options);
      return Futures.derive(
          transport.callAsync(CoreSDKGrpc.getEvaluatePoliciesMethod(), req, transport.budgetNanos(options)),
          (res, t) -> t == null ? Marshalling.batchResults(res) : Futures.rethrow(t));
    } catch (CoreSDKException e) {
      return Futures.failed(e);
    }
  }

  /**
   * {@link #evaluatePolicies(List)}, asynchronously.
   *
   * @param items the queries and inputs
   * @return one result per item
   */
  public CompletableFuture<List<BatchResult>> evaluatePoliciesAsync(List<BatchItem> items) {
    return evaluatePoliciesAsync(items, RequestOptions.DEFAULT);
  }

  /**
   * {@link #maskPii(List, RequestOptions)}, asynchronously.
   *
   * @param values the strings
   * @param options tenant and deadline
   * @return the masked strings
   */
  public CompletableFuture<List<String>> maskPiiAsync(List<String> values, RequestOptions options) {
    try {
      MaskPiiRequest req = marshal.maskRequest(values, options);
      return Futures.derive(
          transport.callAsync(CoreSDKGrpc.getMaskPiiMethod(), req, transport.budgetNanos(options)),
          (res, t) -> t == null ? Marshalling.masked(res) : Futures.rethrow(t));
    } catch (CoreSDKException e) {
      return Futures.failed(e);
    }
  }

  /**
   * {@link #maskPii(List)}, asynchronously.
   *
   * @param values the strings
   * @return the masked strings
   */
  public CompletableFuture<List<String>> maskPiiAsync(List<String> values) {
    return maskPiiAsync(values, RequestOptions.DEFAULT);
  }

  /**
   * {@link #health()}, asynchronously.
   *
   * @return the health
   */
  public CompletableFuture<HealthStatus> healthAsync() {
    try {
      long budget = transport.budgetNanos(RequestOptions.DEFAULT);
      return Futures.derive(
          transport.callAsync(Marshalling.HEALTH_CHECK, Marshalling.HEALTH_REQUEST, budget),
          (res, t) -> {
            if (t == null) {
              return Marshalling.healthOf(res);
            }
            CoreSDKException e = Futures.unwrap(t);
            if (e.isTransportFailure()) {
              return HealthStatus.UNREACHABLE;
            }
            if (e.code().equals("ERR_ENGINE_CLOSED")) {
              throw e;
            }
            return HealthStatus.NOT_SERVING;
          });
    } catch (CoreSDKException e) {
      return Futures.failed(e);
    }
  }

  /**
   * Fail-mode counters and the breaker's state.
   *
   * @return the counters
   */
  public ClientStats stats() {
    return failModes.stats(transport.breakerState());
  }

  /** Closes the channel. Idempotent; later calls fail with {@code ERR_ENGINE_CLOSED}. */
  @Override
  public void close() {
    transport.close();
  }
}
