package dev.coresdk.spring;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.FailMode;
import dev.coresdk.support.Conformance;
import dev.coresdk.support.World;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.servlet.context.ServletWebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The shared conformance file through the Spring Boot starter: the auto-registered filter, the policy
 * {@code AuthorizationManager} and the problem handler, in a real embedded Tomcat, against the real sidecar. One
 * application context per (sidecar state, fail mode, require_token), configured by {@code coresdk.*} properties.
 */
class StarterConformanceTest {
  private static final Map<String, ConfigurableApplicationContext> APPS = new LinkedHashMap<>();

  @AfterAll
  static void stop() {
    APPS.values().forEach(ConfigurableApplicationContext::close);
  }

  private static int app(World w, String state, String mode, boolean requireToken) {
    String key = state + "/" + mode + "/" + requireToken;
    ConfigurableApplicationContext ctx = APPS.computeIfAbsent(key, k -> {
      var cfg = w.config(state, mode.equals("open") ? FailMode.OPEN : FailMode.CLOSED).build();
      return new SpringApplicationBuilder(TestApp.class)
          .properties(
              "server.port=0",
              "server.address=127.0.0.1",
              "spring.main.banner-mode=off",
              "logging.level.root=WARN",
              "coresdk.sidecar-addr=" + cfg.sidecarAddr(),
              "coresdk.fail-mode=" + mode,
              "coresdk.timeout-ms=" + cfg.timeoutMs(),
              "coresdk.retries=" + cfg.retries(),
              "coresdk.tls-ca-file=" + cfg.tlsCaFile(),
              "coresdk.tls-cert-file=" + cfg.tlsCertFile(),
              "coresdk.tls-key-file=" + cfg.tlsKeyFile(),
              "coresdk.tls-server-name=localhost",
              "coresdk.filter.require-token=" + requireToken)
          .run();
    });
    CoreSDKClient client = ctx.getBean(CoreSDKClient.class);
    assertNotNull(client);
    return ((ServletWebServerApplicationContext) ctx).getWebServer().getPort();
  }

  @TestFactory
  @SuppressWarnings("unchecked")
  Stream<DynamicTest> cases() {
    World w = World.get();
    List<DynamicTest> tests = new ArrayList<>();
    for (Object[] pair : Conformance.all(w)) {
      Map<String, Object> c = (Map<String, Object>) pair[0];
      String mode = (String) pair[1];
      boolean requireToken = !Boolean.FALSE.equals(c.get("require_token"));
      tests.add(DynamicTest.dynamicTest(c.get("name") + " [" + mode + "]",
          () -> Conformance.check(w, c, app(w, (String) c.get("sidecar"), mode, requireToken))));
    }
    assertTrue(tests.size() >= 30);
    return tests.stream();
  }
}
