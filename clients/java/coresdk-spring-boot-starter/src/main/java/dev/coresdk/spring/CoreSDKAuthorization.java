package dev.coresdk.spring;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.servlet.CoreSDKFilter;
import dev.coresdk.servlet.ProblemResponse;
import dev.coresdk.servlet.Problems;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.springframework.security.authorization.AuthorizationDecision;
import org.springframework.security.authorization.AuthorizationManager;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.annotation.web.configurers.ExceptionHandlingConfigurer;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.security.web.access.AccessDeniedHandler;
import org.springframework.security.web.access.intercept.RequestAuthorizationContext;

/**
 * Spring Security glue: an {@link AuthorizationManager} that asks the sidecar for a policy decision, with the
 * claims the {@link CoreSDKFilter} verified as {@code input.claims}, and the handler that answers its denials with
 * the same RFC 9457 problems as the filter (403, or 503/500 when the policy could not be asked).
 *
 * <pre>{@code
 * @Bean
 * SecurityFilterChain api(HttpSecurity http, CoreSDKAuthorization coresdk) throws Exception {
 *   return http
 *       .authorizeHttpRequests(a -> a.anyRequest().access(coresdk.policy("data.authz.allow")))
 *       .build();
 * }
 * }</pre>
 *
 * <p>The starter registers the problem handler on every {@code HttpSecurity} (for the requests this manager
 * denied); {@link #problems()} installs it explicitly.
 */
public final class CoreSDKAuthorization {
  /** The request attribute holding the problem for a request this manager denied. */
  public static final String PROBLEM_ATTRIBUTE = "coresdk.problem";

  private final CoreSDKClient client;
  private final String realm;
  private final ProblemHandler handler = new ProblemHandler();

  /**
   * Authorization over {@code client}.
   *
   * @param client the client
   * @param realm the realm of challenges, or {@code null}
   */
  public CoreSDKAuthorization(CoreSDKClient client, String realm) {
    this.client = client;
    this.realm = realm;
  }

  /**
   * A manager that allows when {@code query} is exactly {@code true} for {@code {"claims": <claims>}}.
   *
   * @param query the Rego query
   * @return the manager
   */
  public AuthorizationManager<RequestAuthorizationContext> policy(String query) {
    return policy(query, ctx -> Map.of());
  }

  /**
   * A manager that allows when {@code query} is exactly {@code true} for {@code input(context)} plus the claims.
   *
   * @param query the Rego query
   * @param input builds the input from the request and its path variables
   * @return the manager
   */
  public AuthorizationManager<RequestAuthorizationContext> policy(
      String query, Function<RequestAuthorizationContext, Map<String, ?>> input) {
    return new PolicyManager(query, input);
  }

  /**
   * The handler that sends the problem of a denied request (as {@link AccessDeniedHandler} and
   * {@link AuthenticationEntryPoint}).
   *
   * @return the handler
   */
  public ProblemHandler problemHandler() {
    return handler;
  }

  /**
   * Installs {@link #problemHandler()} on {@code http.exceptionHandling(...)}.
   *
   * @return the customizer
   */
  public Customizer<ExceptionHandlingConfigurer<HttpSecurity>> problems() {
    return e -> e.accessDeniedHandler(handler).authenticationEntryPoint(handler);
  }

  /** Evaluates one policy per request. */
  private final class PolicyManager implements AuthorizationManager<RequestAuthorizationContext> {
    private final String query;
    private final Function<RequestAuthorizationContext, Map<String, ?>> input;

    PolicyManager(String query, Function<RequestAuthorizationContext, Map<String, ?>> input) {
      this.query = query;
      this.input = input;
    }

    @Override
    @Deprecated
    public AuthorizationDecision check(Supplier<Authentication> authentication, RequestAuthorizationContext ctx) {
      HttpServletRequest req = ctx.getRequest();
      Map<String, ?> in;
      try {
        in = input.apply(ctx);
      } catch (RuntimeException e) {
        req.setAttribute(
            PROBLEM_ATTRIBUTE,
            Problems.problem(
                Problems.Kind.AUTHORIZATION_ERROR,
                "the policy input could not be built",
                "ERR_INPUT_INVALID",
                req.getRequestURI(),
                Problems.traceIdOf(req.getHeader("traceparent")),
                realm));
        return new AuthorizationDecision(false);
      }
      ProblemResponse p = CoreSDKFilter.guard(client, query, in, CoreSDKFilter.claims(req), req, realm);
      if (p == null) {
        return new AuthorizationDecision(true);
      }
      req.setAttribute(PROBLEM_ATTRIBUTE, p);
      return new AuthorizationDecision(false);
    }
  }

  /** Sends the problem a {@link CoreSDKAuthorization} manager left on the request (a 403 problem otherwise). */
  public final class ProblemHandler implements AccessDeniedHandler, AuthenticationEntryPoint {
    private ProblemHandler() {}

    private void send(HttpServletRequest request, HttpServletResponse response) throws IOException {
      Object p = request.getAttribute(PROBLEM_ATTRIBUTE);
      ProblemResponse problem =
          p instanceof ProblemResponse
              ? (ProblemResponse) p
              : Problems.problem(
                  Problems.Kind.FORBIDDEN,
                  "access to this resource is denied",
                  "ERR_POLICY_DENIED",
                  request.getRequestURI(),
                  Problems.traceIdOf(request.getHeader("traceparent")),
                  realm);
      problem.writeTo(response);
    }

    /**
     * Sends the problem for a denial.
     *
     * @param request the request
     * @param response the response
     * @param e the denial
     * @throws IOException when writing fails
     */
    @Override
    public void handle(
        HttpServletRequest request,
        HttpServletResponse response,
        org.springframework.security.access.AccessDeniedException e)
        throws IOException {
      send(request, response);
    }

    /**
     * Sends the problem for a denial of an anonymous request.
     *
     * @param request the request
     * @param response the response
     * @param e the reason
     * @throws IOException when writing fails
     */
    @Override
    public void commence(HttpServletRequest request, HttpServletResponse response, AuthenticationException e)
        throws IOException {
      send(request, response);
    }
  }
}
