package dev.coresdk.servlet;

import dev.coresdk.CoreSDKException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RFC 9457 problem responses with RFC 6750 challenges, built exactly as the Node middleware's {@code problem()} and
 * {@code problemFor()} build them (the shared case file {@code clients/conformance/cases.json} checks it).
 */
public final class Problems {
  /** The base of every problem {@code type} URI. */
  public static final String PROBLEM_TYPE_BASE = "https://coresdk.dev/problems/";

  private static final Map<String, String> TOKEN_DETAIL =
      Map.of(
          "ERR_TOKEN_MALFORMED", "the bearer token is not a well-formed JWT",
          "ERR_TOKEN_ALGORITHM", "the bearer token is signed with an algorithm that is not accepted",
          "ERR_TOKEN_UNKNOWN_KEY", "the bearer token is signed by an unknown key",
          "ERR_TOKEN_SIGNATURE", "the bearer token signature is invalid",
          "ERR_TOKEN_EXPIRED", "the bearer token has expired",
          "ERR_TOKEN_NOT_YET_VALID", "the bearer token is not valid yet",
          "ERR_TOKEN_CLAIM", "the bearer token was not issued for this service");

  private static final Set<String> UNAVAILABLE =
      Set.of(
          "ERR_JWKS_UNAVAILABLE",
          "ERR_JWKS_INVALID",
          "ERR_OVERLOADED",
          "ERR_TOKENS_NOT_CONFIGURED",
          "ERR_SIDECAR_UNAVAILABLE",
          "ERR_SIDECAR_TIMEOUT",
          "ERR_ENGINE_CLOSED",
          "ERR_BUNDLE_NOT_ACTIVE");

  private static final Pattern TRACEPARENT =
      Pattern.compile("^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$");
  private static final Pattern NOT_QUOTABLE = Pattern.compile("[^\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]");

  private Problems() {}

  /** The kinds of problem, each with its status and title. */
  public enum Kind {
    /** 400: the Authorization header is malformed. */
    INVALID_REQUEST("invalid-request", 400, "Malformed authorization header"),
    /** 401: no bearer credentials. */
    MISSING_CREDENTIALS("missing-credentials", 401, "Authentication required"),
    /** 401: the token was rejected. */
    INVALID_TOKEN("invalid-token", 401, "Invalid bearer token"),
    /** 403: the policy denied. */
    FORBIDDEN("forbidden", 403, "Forbidden"),
    /** 503: the sidecar (or its key set) is unavailable. */
    AUTHORIZATION_UNAVAILABLE("authorization-unavailable", 503, "Authorization unavailable"),
    /** 500: the policy could not be evaluated. */
    AUTHORIZATION_ERROR("authorization-error", 500, "Authorization failed");

    private final String slug;
    private final int status;
    private final String title;

    Kind(String slug, int status, String title) {
      this.slug = slug;
      this.status = status;
      this.title = title;
    }

    /**
     * The last segment of the problem {@code type} URI.
     *
     * @return e.g. {@code invalid-token}
     */
    public String slug() {
      return slug;
    }

    /**
     * The HTTP status.
     *
     * @return the status
     */
    public int status() {
      return status;
    }

    /**
     * The problem title.
     *
     * @return the title
     */
    public String title() {
      return title;
    }
  }

  /**
   * The trace id of a W3C {@code traceparent} header, if valid (and not all zeros).
   *
   * @param traceparent the header value, or {@code null}
   * @return the trace id, or {@code null}
   */
  public static String traceIdOf(String traceparent) {
    if (traceparent == null) {
      return null;
    }
    Matcher m = TRACEPARENT.matcher(traceparent.strip());
    if (!m.matches() || m.group(1).equals("0".repeat(32))) {
      return null;
    }
    return m.group(1);
  }

  private static String quote(String s) {
    return NOT_QUOTABLE.matcher(s).replaceAll("");
  }

  /**
   * Builds a problem response as the Node middleware's {@code problem()} does: 401s carry
   * {@code WWW-Authenticate: Bearer} (with {@code error="invalid_token"} for a rejected token, without an error code
   * for a missing one); 400 carries {@code error="invalid_request"}; 503 carries {@code Retry-After: 1}.
   *
   * @param kind the kind
   * @param detail the {@code detail}
   * @param code the error code
   * @param instance the request path, without its query
   * @param traceId the trace id, or {@code null}
   * @param realm the challenge's realm ({@code null}: {@code coresdk})
   * @return the response
   */
  public static ProblemResponse problem(
      Kind kind, String detail, String code, String instance, String traceId, String realm) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("content-type", "application/problem+json");
    headers.put("cache-control", "no-store");
    String r = "realm=\"" + quote(realm == null ? "coresdk" : realm) + "\"";
    switch (kind) {
      case MISSING_CREDENTIALS:
        headers.put("www-authenticate", "Bearer " + r);
        break;
      case INVALID_TOKEN:
        headers.put(
            "www-authenticate",
            "Bearer " + r + ", error=\"invalid_token\", error_description=\"" + quote(detail) + "\"");
        break;
      case INVALID_REQUEST:
        headers.put(
            "www-authenticate",
            "Bearer " + r + ", error=\"invalid_request\", error_description=\"" + quote(detail) + "\"");
        break;
      case AUTHORIZATION_UNAVAILABLE:
        headers.put("retry-after", "1");
        break;
      default:
        break;
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("type", PROBLEM_TYPE_BASE + kind.slug());
    body.put("title", kind.title());
    body.put("status", kind.status());
    body.put("detail", detail);
    body.put("instance", instance);
    body.put("code", code);
    if (traceId != null) {
      body.put("trace_id", traceId);
    }
    return new ProblemResponse(kind.status(), headers, body);
  }

  /**
   * The problem for a failed authorization, by error code (the Node {@code problemFor}).
   *
   * @param error the error, or {@code null} for a plain deny
   * @param instance the request path
   * @param traceparent the request's {@code traceparent}, or {@code null}
   * @param realm the realm, or {@code null}
   * @param denied the {@code detail} of a 403
   * @return the response
   */
  public static ProblemResponse problemFor(
      CoreSDKException error, String instance, String traceparent, String realm, String denied) {
    String traceId = traceIdOf(traceparent);
    if (error == null) {
      return problem(Kind.FORBIDDEN, denied, "ERR_POLICY_DENIED", instance, traceId, realm);
    }
    if (error.code().equals("ERR_TOKEN_MISSING")) {
      return problem(Kind.MISSING_CREDENTIALS, "a bearer token is required", error.code(), instance, traceId, realm);
    }
    if ("invalid_token".equals(error.rfc6750Error())) {
      String detail = TOKEN_DETAIL.getOrDefault(error.code(), "the bearer token is invalid");
      return problem(Kind.INVALID_TOKEN, detail, error.code(), instance, traceId, realm);
    }
    if (UNAVAILABLE.contains(error.code())) {
      return problem(
          Kind.AUTHORIZATION_UNAVAILABLE,
          "authorization is temporarily unavailable; retry later",
          error.code(),
          instance,
          traceId,
          realm);
    }
    return problem(
        Kind.AUTHORIZATION_ERROR,
        "the authorization policy could not be evaluated",
        error.code(),
        instance,
        traceId,
        realm);
  }
}
