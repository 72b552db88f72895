package dev.coresdk.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.FailMode;
import dev.coresdk.internal.Json;
import dev.coresdk.support.RawHttp;
import dev.coresdk.support.TomcatServer;
import dev.coresdk.support.World;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The filter's options beyond the conformance file: authorize per request, a failing input builder, realms. */
class FilterTest {
  private static final World W = World.get();

  /** Answers {"claims": ..., "degraded": ...}. */
  static final class Echo extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      Map<String, Object> body = new HashMap<>();
      body.put("claims", CoreSDKFilter.claims(req));
      body.put("degraded", req.getAttribute(CoreSDKFilter.DEGRADED_ATTRIBUTE));
      res.setContentType("application/json");
      res.getOutputStream().write(Json.write(body).getBytes(StandardCharsets.UTF_8));
    }
  }

  private static List<String[]> bearer(String kind) {
    return List.<String[]>of(new String[] {"Authorization", "Bearer " + W.tokens.get(kind)});
  }

  @Test
  @SuppressWarnings("unchecked")
  void authorizePerRequestWithAnInputBuilder() throws Exception {
    try (CoreSDKClient client = CoreSDKClient.create(W.config("up", FailMode.CLOSED).build());
        TomcatServer server = new TomcatServer(new CoreSDKFilter(client, CoreSDKFilter.options()
            .query("data.authz.allow")
            .input(r -> Map.of("action", r.getMethod().equals("GET") ? "read" : "write"))
            .realm("orders")
            .build()), new Echo())) {
      RawHttp.Response r = RawHttp.request(server.port, "GET", "/x", bearer("valid"));
      assertEquals(200, r.status);
      Map<String, Object> body = (Map<String, Object>) r.json();
      assertEquals("user-1", ((Map<String, Object>) body.get("claims")).get("sub"));
      assertEquals(Boolean.FALSE, body.get("degraded"));
      r = RawHttp.request(server.port, "POST", "/x", bearer("valid"));
      assertEquals(403, r.status);
      assertEquals("the policy denied this request", ((Map<String, Object>) r.json()).get("detail"));
      r = RawHttp.request(server.port, "GET", "/x", bearer("expired"));
      assertEquals(401, r.status);
      assertTrue(r.header("www-authenticate").startsWith("Bearer realm=\"orders\", error=\"invalid_token\""));
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void aFailingInputBuilderIsA500Problem() throws Exception {
    try (CoreSDKClient client = CoreSDKClient.create(W.config("up", FailMode.OPEN).build());
        TomcatServer server = new TomcatServer(new CoreSDKFilter(client, CoreSDKFilter.options()
            .query("data.authz.allow")
            .input(r -> {
              throw new IllegalStateException("no input today");
            })
            .build()), new Echo())) {
      RawHttp.Response r = RawHttp.request(server.port, "GET", "/x", bearer("valid"));
      assertEquals(500, r.status);
      Map<String, Object> p = (Map<String, Object>) r.json();
      assertEquals("ERR_INPUT_INVALID", p.get("code"));
      assertEquals("https://coresdk.dev/problems/authorization-error", p.get("type"));
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void failOpenMarksTheRequestDegraded() throws Exception {
    try (CoreSDKClient client = CoreSDKClient.create(W.config("down", FailMode.OPEN).build());
        TomcatServer server = new TomcatServer(new CoreSDKFilter(client), new Echo())) {
      RawHttp.Response r = RawHttp.request(server.port, "GET", "/x", bearer("valid"));
      assertEquals(200, r.status);
      Map<String, Object> body = (Map<String, Object>) r.json();
      assertNull(body.get("claims"));
      assertEquals(Boolean.TRUE, body.get("degraded"));
    }
  }

  @Test
  void problemsAndHeaderRules() {
    assertNull(Problems.traceIdOf("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    assertNull(Problems.traceIdOf("garbage"));
    ProblemResponse p = Problems.problem(Problems.Kind.INVALID_TOKEN, "bad \"quote\"\n", "ERR_TOKEN_SIGNATURE", "/a",
        null, "r\"ealm");
    assertEquals("Bearer realm=\"realm\", error=\"invalid_token\", error_description=\"bad quote\"",
        p.headers().get("www-authenticate"));
    assertEquals("{\"type\":\"https://coresdk.dev/problems/invalid-token\",\"title\":\"Invalid bearer token\","
        + "\"status\":401,\"detail\":\"bad \\\"quote\\\"\\n\",\"instance\":\"/a\",\"code\":\"ERR_TOKEN_SIGNATURE\"}",
        new String(p.bodyBytes(), StandardCharsets.UTF_8));
    assertEquals(Bearer.Kind.MALFORMED, Bearer.of(List.of("Bearer a", "Bearer b")).kind);
    assertEquals(Bearer.Kind.NONE, Bearer.of(List.of("Basic x")).kind);
    assertEquals(Bearer.Kind.TOKEN, Bearer.of(List.of("  BEARER\tabc.def-_~+/==  ")).kind);
    assertEquals(Bearer.Kind.MALFORMED, Bearer.of(List.of("Bearer a,b")).kind);
  }

  @Test
  void requirePolicyNeedsTheFilter() {
    HttpServletRequest req = (HttpServletRequest) java.lang.reflect.Proxy.newProxyInstance(
        getClass().getClassLoader(), new Class<?>[] {HttpServletRequest.class}, (proxy, m, a) -> null);
    assertThrows(IllegalStateException.class, () -> CoreSDKFilter.requirePolicy(req, null, "data.authz.allow", Map.of()));
  }
}
