package dev.coresdk.servlet;

import dev.coresdk.AuthorizeResult;
import dev.coresdk.CoreSDKClient;
import dev.coresdk.IsAllowedResult;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A Jakarta Servlet 6 filter that verifies the bearer token of every request through the sidecar and answers
 * exactly what the Node (Express, Fastify) and Python middleware answer: the same RFC 9457 problem bodies, RFC 6750
 * {@code WWW-Authenticate} challenges, one-{@code Authorization}-header rule and fail-mode table, checked by the
 * shared case file {@code clients/conformance/cases.json}.
 *
 * <pre>{@code
 * CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.fromEnv());
 * context.addFilter(new FilterHolder(new CoreSDKFilter(sdk)), "/*", EnumSet.of(DispatcherType.REQUEST));
 *
 * // in a servlet or controller:
 * Map<String, Object> claims = CoreSDKFilter.claims(request);   // null on fail-open
 * if (!CoreSDKFilter.requirePolicy(request, response, "data.authz.allow", Map.of("action", "read"))) {
 *   return;                                                     // a 403 (or 401/503) problem was sent
 * }
 * }</pre>
 *
 * <p>On success the verified claims are in the request attribute {@value #CLAIMS_ATTRIBUTE} ({@code null} for a
 * fail-open, or for an anonymous request let through by {@code requireToken(false)}), and
 * {@value #DEGRADED_ATTRIBUTE} is {@code Boolean.TRUE} for a fail-open. Declared in {@code web.xml} without a
 * client, the filter builds one with {@link CoreSDKClient#fromEnv()} and reads the init parameters
 * {@code require-token}, {@code query} and {@code realm}.
 */
public class CoreSDKFilter implements Filter {
  /** The request attribute holding the verified claims ({@code Map<String, Object>}, or {@code null}). */
  public static final String CLAIMS_ATTRIBUTE = "coresdk.claims";
  /** The request attribute that is {@code Boolean.TRUE} when the request was let through by a fail-open. */
  public static final String DEGRADED_ATTRIBUTE = "coresdk.degraded";
  /** The request attribute holding the filter's {@link CoreSDKClient}, for {@link #requirePolicy}. */
  public static final String CLIENT_ATTRIBUTE = "coresdk.client";
  /** The request attribute holding the filter's realm, for {@link #requirePolicy}. */
  public static final String REALM_ATTRIBUTE = "coresdk.realm";

  private CoreSDKClient client;
  private Options options;
  private boolean ownsClient;

  /** A filter configured by {@link #init(FilterConfig)} ({@code web.xml}): the client comes from the environment. */
  public CoreSDKFilter() {
    this.options = options().build();
  }

  /**
   * A filter over {@code client} with the default options (token required, verification only).
   *
   * @param client the client (not closed by the filter)
   */
  public CoreSDKFilter(CoreSDKClient client) {
    this(client, options().build());
  }

  /**
   * A filter over {@code client}.
   *
   * @param client the client (not closed by the filter)
   * @param options what to require
   */
  public CoreSDKFilter(CoreSDKClient client, Options options) {
    this.client = client;
    this.options = options;
  }

  /**
   * A builder of filter options.
   *
   * @return a builder
   */
  public static Options.Builder options() {
    return new Options.Builder();
  }

  /**
   * The client this filter talks through.
   *
   * @return the client
   */
  public CoreSDKClient client() {
    return client;
  }

  /**
   * Builds the client from the environment when the filter was made without one; reads the init parameters.
   *
   * @param config the filter's configuration
   */
  @Override
  public void init(FilterConfig config) {
    if (client == null) {
      client = CoreSDKClient.fromEnv();
      ownsClient = true;
      Options.Builder b = options();
      String require = config.getInitParameter("require-token");
      if (require != null) {
        b.requireToken(Boolean.parseBoolean(require.strip()));
      }
      b.query(config.getInitParameter("query"));
      b.realm(config.getInitParameter("realm"));
      options = b.build();
    }
  }

  /** Closes the client if the filter built it. */
  @Override
  public void destroy() {
    if (ownsClient && client != null) {
      client.close();
    }
  }

  /**
   * Authenticates the request; sends the problem, or goes on with the claims in {@value #CLAIMS_ATTRIBUTE}.
   *
   * @param req the request
   * @param res the response
   * @param chain the rest of the chain
   * @throws IOException from the chain or when writing a problem
   * @throws ServletException from the chain
   */
  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    if (!(req instanceof HttpServletRequest) || !(res instanceof HttpServletResponse)) {
      chain.doFilter(req, res);
      return;
    }
    HttpServletRequest request = (HttpServletRequest) req;
    HttpServletResponse response = (HttpServletResponse) res;
    request.setAttribute(CLIENT_ATTRIBUTE, client);
    request.setAttribute(REALM_ATTRIBUTE, options.realm);
    ProblemResponse problem = authenticate(request);
    if (problem != null) {
      problem.writeTo(response);
      return;
    }
    chain.doFilter(request, response);
  }

  /**
   * Authenticates one request without sending anything: sets the claims attributes and returns {@code null} to go
   * on, or the problem to answer. Never throws.
   *
   * @param request the request
   * @return the problem, or {@code null}
   */
  public ProblemResponse authenticate(HttpServletRequest request) {
    String path = request.getRequestURI();
    String traceparent = request.getHeader("traceparent");
    Bearer creds = Bearer.of(Collections.list(request.getHeaders("Authorization")));
    String traceId = Problems.traceIdOf(traceparent);
    if (creds.kind == Bearer.Kind.MALFORMED) {
      return Problems.problem(
          Problems.Kind.INVALID_REQUEST, creds.detail, "ERR_TOKEN_MALFORMED", path, traceId, options.realm);
    }
    if (creds.kind == Bearer.Kind.NONE) {
      if (!options.requireToken) {
        request.setAttribute(CLAIMS_ATTRIBUTE, null);
        request.setAttribute(DEGRADED_ATTRIBUTE, Boolean.FALSE);
        return null;
      }
      return Problems.problem(
          Problems.Kind.MISSING_CREDENTIALS,
          "a bearer token is required",
          "ERR_TOKEN_MISSING",
          path,
          traceId,
          options.realm);
    }
    Map<String, ?> input = null;
    if (options.input != null) {
      try {
        input = options.input.apply(request);
      } catch (RuntimeException e) {
        return inputError(path, traceparent, options.realm);
      }
    }
    AuthorizeResult r =
        options.query == null
            ? client.verifyToken(creds.token)
            : client.authorize(creds.token, options.query, input);
    if (r.allowed()) {
      request.setAttribute(CLAIMS_ATTRIBUTE, r.claims());
      request.setAttribute(DEGRADED_ATTRIBUTE, r.degraded());
      return null;
    }
    return Problems.problemFor(r.error(), path, traceparent, options.realm, "the policy denied this request");
  }

  private static ProblemResponse inputError(String path, String traceparent, String realm) {
    return Problems.problem(
        Problems.Kind.AUTHORIZATION_ERROR,
        "the policy input could not be built",
        "ERR_INPUT_INVALID",
        path,
        Problems.traceIdOf(traceparent),
        realm);
  }

  /**
   * The verified claims the filter put on the request ({@code null} for a fail-open or an anonymous request).
   *
   * @param request the request
   * @return the claims, or {@code null}
   */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> claims(HttpServletRequest request) {
    Object v = request.getAttribute(CLAIMS_ATTRIBUTE);
    return v instanceof Map ? (Map<String, Object>) v : null;
  }

  /**
   * Evaluates a route's policy with the claims as {@code input.claims}; the problem to answer, or {@code null} when
   * allowed. Never throws. An unreachable sidecar follows the client's fail mode.
   *
   * @param client the client
   * @param query the Rego query
   * @param input the route's input ({@code claims} is added)
   * @param claims the verified claims, or {@code null}
   * @param request the request (for {@code instance} and {@code trace_id})
   * @param realm the realm, or {@code null}
   * @return the problem, or {@code null}
   */
  public static ProblemResponse guard(
      CoreSDKClient client,
      String query,
      Map<String, ?> input,
      Map<String, Object> claims,
      HttpServletRequest request,
      String realm) {
    Map<String, Object> full = new LinkedHashMap<>();
    if (input != null) {
      full.putAll(input);
    }
    full.put("claims", claims);
    IsAllowedResult r = client.isAllowed(query, full);
    if (r.allowed()) {
      return null;
    }
    String path = request.getRequestURI();
    String traceparent = request.getHeader("traceparent");
    if (r.error() != null && !r.error().isTransportFailure() && r.error().code().startsWith("ERR_TOKEN")) {
      return Problems.problemFor(r.error(), path, traceparent, realm, "");
    }
    return Problems.problemFor(
        r.error(), path, traceparent, realm, "the policy " + query + " denied this request");
  }

  /**
   * The route guard for handlers: evaluates {@code query} with {@code input} plus the filter's claims; when it does
   * not allow, sends the problem (403, or 503/500 when the policy could not be asked) and returns {@code false}.
   *
   * @param request the request (it went through a {@code CoreSDKFilter})
   * @param response the response
   * @param query the Rego query
   * @param input the route's input ({@code claims} is added)
   * @return true when the handler may go on
   * @throws IOException when writing the problem fails
   * @throws IllegalStateException when the request did not go through a {@code CoreSDKFilter}
   */
  public static boolean requirePolicy(
      HttpServletRequest request, HttpServletResponse response, String query, Map<String, ?> input)
      throws IOException {
    Object c = request.getAttribute(CLIENT_ATTRIBUTE);
    if (!(c instanceof CoreSDKClient)) {
      throw new IllegalStateException("requirePolicy needs the request to go through a CoreSDKFilter");
    }
    Object realm = request.getAttribute(REALM_ATTRIBUTE);
    ProblemResponse p =
        guard((CoreSDKClient) c, query, input, claims(request), request, realm instanceof String ? (String) realm : null);
    if (p == null) {
      return true;
    }
    p.writeTo(response);
    return false;
  }

  /** What the filter requires; built by {@link CoreSDKFilter#options()}. */
  public static final class Options {
    private final boolean requireToken;
    private final String query;
    private final Function<HttpServletRequest, Map<String, ?>> input;
    private final String realm;

    private Options(Builder b) {
      this.requireToken = b.requireToken;
      this.query = b.query;
      this.input = b.input;
      this.realm = b.realm;
    }

    /**
     * Whether a request without a bearer token is answered 401.
     *
     * @return the setting
     */
    public boolean requireToken() {
      return requireToken;
    }

    /**
     * The policy query {@code authorize} evaluates with the claims, or {@code null} for verification only.
     *
     * @return the query
     */
    public String query() {
      return query;
    }

    /**
     * The realm of challenges ({@code null}: {@code coresdk}).
     *
     * @return the realm
     */
    public String realm() {
      return realm;
    }

    /** Builds {@link Options}. */
    public static final class Builder {
      private boolean requireToken = true;
      private String query;
      private Function<HttpServletRequest, Map<String, ?>> input;
      private String realm;

      private Builder() {}

      /**
       * Answer 401 to a request without a bearer token (default); {@code false} lets it through with
       * {@code null} claims.
       *
       * @param v the setting
       * @return this builder
       */
      public Builder requireToken(boolean v) {
        requireToken = v;
        return this;
      }

      /**
       * A policy query {@code authorize} evaluates with the claims (default: verification only).
       *
       * @param v the query, or {@code null}
       * @return this builder
       */
      public Builder query(String v) {
        query = v;
        return this;
      }

      /**
       * The policy input for {@link #query(String)} (claims are added as {@code input.claims}).
       *
       * @param v builds the input from the request; an exception answers a 500 problem
       * @return this builder
       */
      public Builder input(Function<HttpServletRequest, Map<String, ?>> v) {
        input = v;
        return this;
      }

      /**
       * The realm of {@code WWW-Authenticate} challenges.
       *
       * @param v the realm, or {@code null} for {@code coresdk}
       * @return this builder
       */
      public Builder realm(String v) {
        realm = v;
        return this;
      }

      /**
       * Builds the options.
       *
       * @return the options
       */
      public Options build() {
        return new Options(this);
      }
    }
  }

  /**
   * The {@code Authorization} header values of a request, in order (exposed for frameworks that adapt the filter).
   *
   * @param request the request
   * @return the values
   */
  public static List<String> authorizationHeaders(HttpServletRequest request) {
    return Collections.list(request.getHeaders("Authorization"));
  }
}
