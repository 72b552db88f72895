package dev.coresdk.servlet;

import dev.coresdk.CoreSDKException;
import dev.coresdk.internal.contract.Contract;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RFC 9457 problem responses with RFC 6750 challenges, built exactly as the Node middleware's {@code problem()} and
 * {@code problemFor()} build them (the shared case file {@code clients/conformance/cases.json} checks it).
 */
public final class Problems {
  /** The base of every problem {@code type} URI. */
  public static final String PROBLEM_TYPE_BASE = Contract.PROBLEM_TYPE_BASE;

  private static final Pattern TRACEPARENT =
      Pattern.compile("^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$");
  private static final Pattern NOT_QUOTABLE = Pattern.compile("[^\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]");

  private Problems() {}

  /** The kinds of problem, each with its status and title. */
  public enum Kind {
    /** 400: the Authorization header is malformed. */
    INVALID_REQUEST("invalid-request"),
    /** 401: no bearer credentials. */
    MISSING_CREDENTIALS("missing-credentials"),
    /** 401: the token was rejected. */
    INVALID_TOKEN("invalid-token"),
    /** 403: the policy denied. */
    FORBIDDEN("forbidden"),
    /** 503: the sidecar (or its key set) is unavailable. */
    AUTHORIZATION_UNAVAILABLE("authorization-unavailable"),
    /** 500: the policy could not be evaluated. */
    AUTHORIZATION_ERROR("authorization-error");

    private final String slug;
    private final int status;
    private final String title;

    Kind(String slug) {
      // Status and title come from the contract (proto/contract/errors.json).
      Contract.ProblemSpec spec = Contract.PROBLEMS.get(slug);
      this.slug = slug;
      this.status = spec.status();
      this.title = spec.title();
    }

    static Kind ofSlug(String slug) {
      for (Kind k : values()) {
        if (k.slug.equals(slug)) {
          return k;
        }
      }
      return AUTHORIZATION_ERROR;
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
      return problem(Kind.FORBIDDEN, denied, Contract.POLICY_DENIED_CODE, instance, traceId, realm);
    }
    // The contract says which problem each code is and with what detail.
    Contract.ErrorSpec spec = Contract.ERRORS.getOrDefault(error.code(), Contract.ERRORS.get("ERR_INTERNAL"));
    Kind kind = Kind.ofSlug(spec.problem());
    String detail = spec.detail() != null ? spec.detail() : Contract.PROBLEMS.get(spec.problem()).detail();
    return problem(kind, detail, error.code(), instance, traceId, realm);
  }
}
