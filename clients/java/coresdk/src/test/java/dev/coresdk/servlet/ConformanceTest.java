package dev.coresdk.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.FailMode;
import dev.coresdk.internal.Json;
import dev.coresdk.support.RawHttp;
import dev.coresdk.support.TomcatServer;
import dev.coresdk.support.World;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The shared conformance file (clients/conformance/cases.json) through {@link CoreSDKFilter} in a real embedded
 * Tomcat, against the real sidecar: every case, in every fail mode it lists, with a fresh client each time.
 */
class ConformanceTest {
  private static final Pattern TOKEN_REF = Pattern.compile("\\{\\{token:([a-z_]+)\\}\\}");
  private static final SwitchFilter SWITCH = new SwitchFilter();
  private static TomcatServer server;

  /** Forwards to the filter of the case being run (one server serves case after case). */
  static final class SwitchFilter implements Filter {
    volatile Filter target;

    @Override
    public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
        throws IOException, ServletException {
      target.doFilter(req, res, chain);
    }
  }

  /** The routes of {@code setup.routes}, each guarded by its policy, answering {@code {"claims": ...}}. */
  static final class Routes extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private final transient List<Map<String, Object>> routes;

    Routes(List<Map<String, Object>> routes) {
      this.routes = routes;
    }

    @Override
    @SuppressWarnings("unchecked")
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      for (Map<String, Object> r : routes) {
        String pattern = ((String) r.get("path")).replaceAll("\\{[a-z_]+\\}", "[^/]+");
        if (r.get("method").equals(req.getMethod()) && req.getRequestURI().matches(pattern)) {
          if (!CoreSDKFilter.requirePolicy(req, res, (String) r.get("query"), (Map<String, Object>) r.get("input"))) {
            return;
          }
          Map<String, Object> body = new LinkedHashMap<>();
          body.put("claims", CoreSDKFilter.claims(req));
          byte[] bytes = Json.write(body).getBytes(StandardCharsets.UTF_8);
          res.setStatus(200);
          res.setContentType("application/json");
          res.getOutputStream().write(bytes);
          return;
        }
      }
      res.sendError(404);
    }
  }

  @BeforeAll
  @SuppressWarnings("unchecked")
  static void start() throws Exception {
    World w = World.get();
    server = new TomcatServer(SWITCH, new Routes((List<Map<String, Object>>) w.setup.get("routes")));
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @TestFactory
  @SuppressWarnings("unchecked")
  Stream<DynamicTest> cases() {
    World w = World.get();
    List<DynamicTest> tests = new ArrayList<>();
    for (Object o : (List<Object>) w.cases.get("cases")) {
      Map<String, Object> c = (Map<String, Object>) o;
      for (Object mode : (List<Object>) c.get("fail_modes")) {
        String name = c.get("name") + " [" + mode + "]";
        tests.add(DynamicTest.dynamicTest(name, () -> run(w, c, (String) mode)));
      }
    }
    assertTrue(tests.size() >= 30, "the case file has its cases");
    return tests.stream();
  }

  @SuppressWarnings("unchecked")
  private static void run(World w, Map<String, Object> c, String mode) throws Exception {
    FailMode failMode = mode.equals("open") ? FailMode.OPEN : FailMode.CLOSED;
    boolean requireToken = !Boolean.FALSE.equals(c.get("require_token"));
    try (CoreSDKClient client = CoreSDKClient.create(w.config((String) c.get("sidecar"), failMode).build())) {
      SWITCH.target = new CoreSDKFilter(client, CoreSDKFilter.options().requireToken(requireToken).build());
      Map<String, Object> request = (Map<String, Object>) c.get("request");
      List<String[]> headers = new ArrayList<>();
      for (Object h : (List<Object>) request.get("headers")) {
        List<Object> pair = (List<Object>) h;
        Matcher m = TOKEN_REF.matcher((String) pair.get(1));
        StringBuilder value = new StringBuilder();
        while (m.find()) {
          m.appendReplacement(value, Matcher.quoteReplacement(w.tokens.get(m.group(1))));
        }
        m.appendTail(value);
        headers.add(new String[] {(String) pair.get(0), value.toString()});
      }
      RawHttp.Response r =
          RawHttp.request(server.port, (String) request.get("method"), (String) request.get("path"), headers);
      Map<String, Object> expect = (Map<String, Object>) c.get("expect");
      assertEquals(((Number) expect.get("status")).intValue(), r.status, "status; body: " + r.body);
      Map<String, Object> expHeaders = (Map<String, Object>) expect.getOrDefault("headers", Map.of());
      for (Map.Entry<String, Object> h : expHeaders.entrySet()) {
        List<String> got = r.headers.get(h.getKey());
        assertEquals(List.of(h.getValue()), got, "header " + h.getKey());
      }
      for (Object absent : (List<Object>) expect.getOrDefault("absent_headers", List.of())) {
        assertFalse(r.headers.containsKey(((String) absent).toLowerCase(Locale.ROOT)), "header " + absent);
      }
      if (expect.containsKey("problem")) {
        String ct = r.header("content-type");
        assertNotNull(ct);
        assertTrue(ct.equals("application/problem+json") || ct.startsWith("application/problem+json;"), ct);
        Map<String, Object> body = (Map<String, Object>) r.json();
        Map<String, Object> problem = (Map<String, Object>) expect.get("problem");
        assertEquals(new ArrayList<>(problem.entrySet()), new ArrayList<>(body.entrySet()), "problem body, in order");
      }
      if (expect.containsKey("claims")) {
        Map<String, Object> body = (Map<String, Object>) r.json();
        Object expClaims = expect.get("claims");
        if (expClaims == null) {
          assertTrue(body.containsKey("claims"));
          assertNull(body.get("claims"));
        } else {
          Map<String, Object> got = (Map<String, Object>) body.get("claims");
          assertNotNull(got, "claims");
          for (Map.Entry<String, Object> e : ((Map<String, Object>) expClaims).entrySet()) {
            assertEquals(e.getValue(), got.get(e.getKey()), "claim " + e.getKey());
          }
        }
      }
      if (r.status != 200) {
        String everything = r.headers.toString() + r.body;
        for (String token : w.tokens.values()) {
          assertFalse(everything.contains(token), "a token leaked into the response");
        }
      }
    }
  }
}
