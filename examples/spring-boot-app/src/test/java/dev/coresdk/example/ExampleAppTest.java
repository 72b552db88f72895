package dev.coresdk.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.support.DevSidecar;
import dev.coresdk.support.RawHttp;
import dev.coresdk.support.Repo;
import dev.coresdk.support.Sidecar;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
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
 * The example app, the README's Java sample and docs/java.md's client sample against a real
 * {@code coresdk-sidecar --dev} on its default address, {@code [::1]:50051}, with the app's and the samples' default
 * settings (no address configured anywhere; issue 27): 200 with the claims for the printed development token, 401
 * without a token, 403 for a token the policy denies, and 200 with null claims once the sidecar is gone (fail-open).
 */
class ExampleAppTest {
  /** A token for another user: {@code coresdk-sidecar dev-token}, signed with the key set {@code --dev} uses. */
  private static String devTokenFor(Path cwd, String sub, String role) throws Exception {
    Path bin = Repo.root().resolve("dist/sidecar/cli.js");
    Process p = new ProcessBuilder("node", bin.toString(), "dev-token", "--sub", sub, "--roles", role)
        .directory(cwd.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "coresdk-sidecar dev-token ran");
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  private static List<String[]> bearer(String token) {
    return List.<String[]>of(new String[] {"Authorization", "Bearer " + token});
  }

  @Test
  @SuppressWarnings("unchecked")
  void exampleAppAnswers200401403AndFailsOpen(@TempDir Path cwd) throws Exception {
    // The app keeps Spring's default port (8080): `coresdk-sidecar --dev` serves AuthZEN on [::1]:50080.
    java.util.Properties props = new java.util.Properties();
    try (var in = ExampleAppTest.class.getResourceAsStream("/application.properties")) {
      props.load(in);
    }
    assertNull(props.getProperty("server.port"));
    Sidecar sidecar = DevSidecar.start(cwd);
    // The app's own settings (application.properties, no coresdk.* address), on a free HTTP port.
    try (ConfigurableApplicationContext app = new SpringApplicationBuilder(ExampleApplication.class)
        .properties("server.port=0", "server.address=127.0.0.1", "logging.level.root=WARN")
        .run()) {
      dev.coresdk.CoreSDKClient client = app.getBean(dev.coresdk.CoreSDKClient.class);
      assertEquals("[::1]:50051", client.config().sidecarAddr());
      DevSidecar.awaitServing(client);
      int port = ((ServletWebServerApplicationContext) app).getWebServer().getPort();
      String token = DevSidecar.token(sidecar);
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

      readmeSample(cwd, token);
      docsClientSample(cwd, token);

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

  /** The first {@code java} block after {@code heading} in {@code file}. */
  private static String javaBlock(String file, String heading) throws Exception {
    String text = Files.readString(Repo.root().resolve(file));
    assertTrue(text.contains(heading), file + ": no '" + heading + "'");
    Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(text.substring(text.indexOf(heading)));
    assertTrue(m.find(), file + ": no java block under '" + heading + "'");
    return m.group(1);
  }

  /** Compiles {@code source} as {@code className} and runs its {@code method(String)}; returns what it printed. */
  private static String compileAndRun(Path tmp, String className, String source, String method, String arg)
      throws Exception {
    Path src = Files.createDirectories(tmp.resolve(className + "-src")).resolve(className + ".java");
    Files.writeString(src, source);
    Path out = Files.createDirectories(tmp.resolve(className + "-out"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    int rc = javac.run(null, null, null, "-d", out.toString(), "-cp", System.getProperty("java.class.path"),
        src.toString());
    assertEquals(0, rc, className + " compiles");
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream old = System.out;
    try (URLClassLoader cl = new URLClassLoader(new URL[] {out.toUri().toURL()}, ExampleAppTest.class.getClassLoader())) {
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      Class<?> c = cl.loadClass(className);
      if (method.equals("main")) {
        c.getMethod("main", String[].class).invoke(null, (Object) new String[] {arg});
      } else {
        c.getMethod(method, String.class).invoke(null, arg);
      }
    } finally {
      System.setOut(old);
    }
    String printed = captured.toString(StandardCharsets.UTF_8);
    old.println(className + " printed:\n" + printed);
    return printed;
  }

  /** Compiles the README's Java sample exactly as written and runs it against the dev sidecar. */
  private static void readmeSample(Path tmp, String token) throws Exception {
    String sample = javaBlock("README.md", "## Use it from Java");
    assertTrue(sample.contains(".sidecarAddr(\"[::1]:50051\")"));
    assertTrue(sample.contains(".failMode(FailMode.OPEN)"));
    String printed = compileAndRun(tmp, "Quickstart", sample, "main", token);
    assertTrue(printed.startsWith("allowed=true revision="), printed);
    assertTrue(printed.contains("authorized=true claims={"), printed);
    assertTrue(printed.contains("sub=dev-user"), printed);
    assertFalse(printed.contains(token), "the sample prints no token");
  }

  /** docs/java.md's client sample, exactly as written, as the body of a method given the dev token. */
  private static void docsClientSample(Path tmp, String token) throws Exception {
    String sample = javaBlock("docs/java.md", "## The client");
    assertTrue(sample.contains(".sidecarAddr(\"[::1]:50051\")"));
    String source = "import dev.coresdk.*;\nimport java.util.*;\n\npublic class DocsClient {\n"
        + "  public static void run(String token) {\n" + sample
        + "    System.out.println(\"allowed=\" + r.allowed() + \" sub=\" + r.claims().get(\"sub\") + \" degraded=\""
        + " + r.degraded() + \" decision.defined=\" + d.defined() + \" decision.allowed=\" + d.allowed());\n"
        + "    sdk.close();\n  }\n}\n";
    String printed = compileAndRun(tmp, "DocsClient", source, "run", token);
    // The sample's evaluatePolicy input has no claims: the example policy answers, and denies.
    assertEquals(
        "allowed=true sub=dev-user degraded=false decision.defined=true decision.allowed=false", printed.strip());
  }
}
