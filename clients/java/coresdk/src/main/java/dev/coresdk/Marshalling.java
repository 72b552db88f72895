package dev.coresdk;

import dev.coresdk.internal.Json;
import dev.coresdk.v1.AuthorizeRequest;
import dev.coresdk.v1.AuthorizeResponse;
import dev.coresdk.v1.EvaluatePoliciesRequest;
import dev.coresdk.v1.EvaluatePoliciesResponse;
import dev.coresdk.v1.EvaluatePolicyRequest;
import dev.coresdk.v1.EvaluatePolicyResponse;
import dev.coresdk.v1.MaskPiiRequest;
import dev.coresdk.v1.MaskPiiResponse;
import dev.coresdk.v1.PolicyQuery;
import dev.coresdk.v1.PolicyResult;
import dev.coresdk.v1.VerifyTokenRequest;
import dev.coresdk.v1.VerifyTokenResponse;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Between the API's values and the protobuf messages: requests from Java values (the input documents written as
 * JSON, checked before any call: {@code ERR_INPUT_INVALID}, {@code ERR_INPUT_TOO_DEEP}), and results from responses
 * (claims and decision values parsed from their JSON with every digit kept: {@code Long}, {@code BigInteger},
 * {@code Double}). The health check is a hand-written method descriptor with raw bytes, so that the library never
 * ships {@code io.grpc.health.v1} classes that could clash with the application's.
 */
final class Marshalling {
  /** {@code grpc.health.v1.Health/Check}, bytes in and out. */
  static final MethodDescriptor<byte[], byte[]> HEALTH_CHECK =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("grpc.health.v1.Health/Check")
          .setRequestMarshaller(BytesMarshaller.INSTANCE)
          .setResponseMarshaller(BytesMarshaller.INSTANCE)
          .build();

  /** An empty {@code HealthCheckRequest} (the server's overall health). */
  static final byte[] HEALTH_REQUEST = new byte[0];

  private final String defaultTenant;

  /**
   * Marshalling for a client.
   *
   * @param defaultTenant the tenant of a call whose options name none
   */
  Marshalling(String defaultTenant) {
    this.defaultTenant = defaultTenant;
  }

  private String tenant(RequestOptions o) {
    return o == null || o.tenantId() == null ? defaultTenant : o.tenantId();
  }

  private static String inputJson(Object input) {
    return input == null ? "" : Json.write(input);
  }

  // ------------------------------------------------------------------ requests

  AuthorizeRequest authorizeRequest(String token, String query, Map<String, ?> input, RequestOptions o) {
    if (token == null) {
      throw new CoreSDKException("ERR_TOKEN_MALFORMED", "the token must be a string");
    }
    return AuthorizeRequest.newBuilder()
        .setTenantId(tenant(o))
        .setToken(token)
        .setQuery(query == null ? CoreSDKClient.DEFAULT_QUERY : query)
        .setInputJson(inputJson(input))
        .build();
  }

  VerifyTokenRequest verifyRequest(String token, RequestOptions o) {
    if (token == null) {
      throw new CoreSDKException("ERR_TOKEN_MALFORMED", "the token must be a string");
    }
    return VerifyTokenRequest.newBuilder().setTenantId(tenant(o)).setToken(token).build();
  }

  EvaluatePolicyRequest policyRequest(String query, Object input, RequestOptions o) {
    if (query == null) {
      throw new CoreSDKException("ERR_QUERY_INVALID", "the query must be a string");
    }
    return EvaluatePolicyRequest.newBuilder()
        .setTenantId(tenant(o))
        .setQuery(query)
        .setInputJson(inputJson(input))
        .build();
  }

  EvaluatePoliciesRequest batchRequest(List<BatchItem> items, RequestOptions o) {
    if (items == null) {
      throw new CoreSDKException("ERR_INPUT_INVALID", "evaluatePolicies takes a list of (query, input) items");
    }
    EvaluatePoliciesRequest.Builder b = EvaluatePoliciesRequest.newBuilder().setTenantId(tenant(o));
    for (BatchItem item : items) {
      if (item == null || item.query() == null) {
        throw new CoreSDKException("ERR_QUERY_INVALID", "every batch item needs a query string");
      }
      b.addItems(PolicyQuery.newBuilder().setQuery(item.query()).setInputJson(inputJson(item.input())));
    }
    return b.build();
  }

  MaskPiiRequest maskRequest(List<String> values, RequestOptions o) {
    if (values == null || values.stream().anyMatch(Objects::isNull)) {
      throw new CoreSDKException("ERR_INPUT_INVALID", "maskPii takes a list of strings");
    }
    return MaskPiiRequest.newBuilder().setTenantId(tenant(o)).addAllValues(values).build();
  }

  // ------------------------------------------------------------------ results

  @SuppressWarnings("unchecked")
  private static Map<String, Object> claimsOf(String json) {
    Object v = fromJson(json);
    return v instanceof Map ? Collections.unmodifiableMap((Map<String, Object>) v) : null;
  }

  private static Object fromJson(String text) {
    if (text == null || text.isEmpty()) {
      return null;
    }
    try {
      return Json.parse(text);
    } catch (IllegalArgumentException e) {
      throw new CoreSDKException("ERR_INTERNAL", "the sidecar answered with JSON that does not parse");
    }
  }

  static AuthorizeResult authorizeResult(AuthorizeResponse res) {
    String decision = res.getDecisionJson();
    return new AuthorizeResult(
        res.getAllowed(),
        res.getReason(),
        claimsOf(res.getClaimsJson()),
        !decision.isEmpty(),
        fromJson(decision),
        res.getRevision().isEmpty() ? null : res.getRevision(),
        null,
        false);
  }

  static AuthorizeResult verifyResult(VerifyTokenResponse res) {
    return new AuthorizeResult(true, "allowed", claimsOf(res.getClaimsJson()), false, null, null, null, false);
  }

  static Decision decision(EvaluatePolicyResponse res) {
    return new Decision(res.getDefined(), fromJson(res.getValueJson()), res.getRevision());
  }

  static IsAllowedResult isAllowedOf(Decision d) {
    boolean allowed = d.allowed();
    return new IsAllowedResult(
        allowed, allowed ? "allowed" : d.defined() ? "denied" : "undefined", false, null, d.revision());
  }

  static List<BatchResult> batchResults(EvaluatePoliciesResponse res) {
    List<BatchResult> out = new ArrayList<>(res.getResultsCount());
    for (PolicyResult r : res.getResultsList()) {
      if (r.getErrorCode().isEmpty()) {
        out.add(new BatchResult(true, new Decision(r.getDefined(), fromJson(r.getValueJson()), res.getRevision()), null));
      } else {
        out.add(
            new BatchResult(
                false, null, new CoreSDKException(CoreSDKException.toCode(r.getErrorCode()), r.getErrorMessage())));
      }
    }
    return Collections.unmodifiableList(out);
  }

  static List<String> masked(MaskPiiResponse res) {
    return List.copyOf(res.getValuesList());
  }

  static HealthStatus healthOf(byte[] data) {
    // HealthCheckResponse{status = 1 (enum)}: one varint field, absent when UNKNOWN.
    int status = 0;
    int i = 0;
    while (i < data.length) {
      int key = data[i++] & 0xff;
      if (key != 0x08) {
        break;
      }
      int n = 0;
      int shift = 0;
      while (i < data.length) {
        int b = data[i++] & 0xff;
        n |= (b & 0x7f) << shift;
        shift += 7;
        if (b < 0x80) {
          break;
        }
      }
      status = n;
    }
    return status == 1 ? HealthStatus.SERVING : HealthStatus.NOT_SERVING;
  }

  /** Raw bytes in and out (the health check, decoded by hand). */
  private enum BytesMarshaller implements MethodDescriptor.Marshaller<byte[]> {
    INSTANCE;

    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw Status.INTERNAL.withDescription("cannot read the health answer").asRuntimeException();
      }
    }
  }
}
