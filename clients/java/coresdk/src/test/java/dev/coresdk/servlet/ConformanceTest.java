package dev.coresdk.servlet;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.FailMode;
import dev.coresdk.internal.Json;
import dev.coresdk.support.Conformance;
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
import java.util.Map;
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
    for (Object[] pair : Conformance.all(w)) {
      Map<String, Object> c = (Map<String, Object>) pair[0];
      String mode = (String) pair[1];
      tests.add(DynamicTest.dynamicTest(c.get("name") + " [" + mode + "]", () -> run(w, c, mode)));
    }
    assertTrue(tests.size() >= 30, "the case file has its cases");
    return tests.stream();
  }

  private static void run(World w, Map<String, Object> c, String mode) throws Exception {
    FailMode failMode = mode.equals("open") ? FailMode.OPEN : FailMode.CLOSED;
    boolean requireToken = !Boolean.FALSE.equals(c.get("require_token"));
    try (CoreSDKClient client = CoreSDKClient.create(w.config((String) c.get("sidecar"), failMode).build())) {
      SWITCH.target = new CoreSDKFilter(client, CoreSDKFilter.options().requireToken(requireToken).build());
      Conformance.check(w, c, server.port);
    }
  }
}
