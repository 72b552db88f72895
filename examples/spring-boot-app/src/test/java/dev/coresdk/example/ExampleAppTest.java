package dev.coresdk.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.support.RawHttp;
import dev.coresdk.support.Repo;
import dev.coresdk.support.Sidecar;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.servlet.context.ServletWebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The example app and the README's Java sample against a real {@code coresdk-sidecar --dev}: 200 for the printed
 * development token, 401 without a token, 403 for a token the policy denies, and 200 with null claims once the
 * sidecar is gone (fail-open).
 */
class ExampleAppTest {
  private static String devToken(Sidecar s) throws InterruptedException {
    for (int tries = 0; tries < 200; tries++) {
      synchronized (s.stdout) {
        for (int i = 0; i + 1 < s.stdout.size(); i++) {
          if (s.stdout.get(i).startsWith("Development token")) {
            return s.stdout.get(i + 1).strip();
          }
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the --dev sidecar printed no development token");
  }

  /** A token for another user, from the example's DevToken.java helper (run as a single-file program). */
  private static String devTokenFor(Path cwd, String sub, String role) throws Exception {
    Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
    Path helper = Repo.root().resolve("examples/spring-boot-app/DevToken.java");
    Process p = new ProcessBuilder(javaBin.toString(), helper.toString(), sub, role).directory(cwd.toFile())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "DevToken.java ran");
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  private static List<String[]> bearer(String token) {
    return List.<String[]>of(new String[] {"Authorization", "Bearer " + token});
  }

  @Test
  @SuppressWarnings("unchecked")
  void exampleAppAnswers200401403AndFailsOpen(@TempDir Path cwd) throws Exception {
    Sidecar sidecar = new Sidecar(Map.of(), List.of("--dev", "--addr", "127.0.0.1:0"), cwd, true);
    try (ConfigurableApplicationContext app = new SpringApplicationBuilder(ExampleApplication.class)
        .properties("server.port=0", "server.address=127.0.0.1", "logging.level.root=WARN",
            "coresdk.sidecar-addr=" + sidecar.addr)
        .run()) {
      int port = ((ServletWebServerApplicationContext) app).getWebServer().getPort();
      String token = devToken(sidecar);
      String viewer = devTokenFor(cwd, "carol", "viewer");

      RawHttp.Response r = RawHttp.request(port, "GET", "/documents/doc-1", bearer(token));
      assertEquals(200, r.status, r.body);
      assertEquals(Map.of("document", "doc-1", "reader", "dev-user"), r.json());

      r = RawHttp.request(port, "GET", "/documents/doc-1", List.of());
      assertEquals(401, r.status);
      assertEquals("application/problem+json", r.header("content-type"));
      assertEquals("Bearer realm=\"coresdk\"", r.header("www-authenticate"));
      assertEquals("ERR_TOKEN_MISSING", ((Map<String, Object>) r.json()).get("code"));

      r = RawHttp.request(port, "PUT", "/documents/doc-1", bearer(viewer));
      assertEquals(403, r.status, r.body);
      assertEquals("application/problem+json", r.header("content-type"));
      Map<String, Object> problem = (Map<String, Object>) r.json();
      assertEquals("ERR_POLICY_DENIED", problem.get("code"));
      assertEquals("the policy data.authz.allow denied this request", problem.get("detail"));
      assertNull(r.header("www-authenticate"));

      assertEquals(200, RawHttp.request(port, "GET", "/documents/doc-1", bearer(viewer)).status, "viewers read");
      assertEquals(200, RawHttp.request(port, "PUT", "/documents/doc-1", bearer(token)).status, "admins write");
      assertEquals(401, RawHttp.request(port, "GET", "/documents/doc-1", bearer("not-a-jwt")).status);
      Map<String, Object> me = (Map<String, Object>) RawHttp.request(port, "GET", "/me", bearer(token)).json();
      assertEquals("dev-user", ((Map<String, Object>) me.get("claims")).get("sub"));
      Map<String, Object> decided = (Map<String, Object>) RawHttp.request(port, "GET", "/decide", bearer(token)).json();
      assertEquals(Boolean.TRUE, decided.get("allowed"));
      assertNotNull(decided.get("revision"));

      readmeSample(cwd, sidecar.addr, token);

      sidecar.close();
      r = RawHttp.request(port, "GET", "/me", bearer(token));
      assertEquals(200, r.status);
      Map<String, Object> body = (Map<String, Object>) r.json();
      assertTrue(body.containsKey("claims"));
      assertNull(body.get("claims"), "fail-open: allowed with null claims");
    } finally {
      sidecar.close();
    }
  }

  /** Compiles the README's Java sample as written (the address aside) and runs it against the dev sidecar. */
  private static void readmeSample(Path tmp, String addr, String token) throws Exception {
    String readme = Files.readString(Repo.root().resolve("README.md"));
    String section = readme.substring(readme.indexOf("## Use it from Java"));
    Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(section);
    assertTrue(m.find(), "README.md: no java block under 'Use it from Java'");
    String sample = m.group(1);
    assertTrue(sample.contains(".sidecarAddr(\"[::1]:50051\")"));
    assertTrue(sample.contains(".failMode(FailMode.OPEN)"));
    Path src = Files.createDirectories(tmp.resolve("readme-src")).resolve("Quickstart.java");
    Files.writeString(src, sample.replace("[::1]:50051", addr));
    Path out = Files.createDirectories(tmp.resolve("readme-out"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    int rc = javac.run(null, null, null, "-d", out.toString(), "-cp", System.getProperty("java.class.path"),
        src.toString());
    assertEquals(0, rc, "the README sample compiles");
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream old = System.out;
    try (URLClassLoader cl = new URLClassLoader(new URL[] {out.toUri().toURL()}, ExampleAppTest.class.getClassLoader())) {
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      Method main = cl.loadClass("Quickstart").getMethod("main", String[].class);
      main.invoke(null, (Object) new String[] {token});
    } finally {
      System.setOut(old);
    }
    String printed = captured.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("allowed=true"), printed);
    assertTrue(printed.contains("sub=dev-user"), printed);
    assertFalse(printed.contains(token), "the sample prints no token");
  }
}
