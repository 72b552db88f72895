package dev.coresdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.internal.Json;
import dev.coresdk.internal.contract.ConfigContract;
import dev.coresdk.support.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * {@code clients/conformance/config.json}: for each case's {@code coresdk.toml} and variables, the settings every
 * client resolves or the {@code ERR_CONFIG} it refuses them with (clients/conformance/README.md, "Configuration
 * cases"). The variables are passed explicitly: the process environment is never read, and the file is looked for
 * in the case's own empty directory, never in the working directory.
 */
class ConfigConformanceTest {
  private static final List<String> KEYS =
      List.of(
          "sidecar_addr", "tenant_id", "fail_mode", "mode", "timeout_ms", "tls_ca_file", "tls_cert_file",
          "tls_key_file", "tls_server_name");

  @SuppressWarnings("unchecked")
  private static Map<String, Object> contract() throws IOException {
    return (Map<String, Object>) Json.parse(Files.readString(Repo.root().resolve("clients/conformance/config.json")));
  }

  @TestFactory
  @SuppressWarnings("unchecked")
  Stream<DynamicTest> everyCase() throws IOException {
    Map<String, Object> doc = contract();
    Map<String, Object> defaults = (Map<String, Object>) doc.get("defaults");
    List<DynamicTest> tests = new ArrayList<>();
    for (Object o : (List<Object>) doc.get("cases")) {
      Map<String, Object> c = (Map<String, Object>) o;
      List<Object> languages = (List<Object>) c.get("languages");
      if (languages != null && !languages.contains("java")) {
        continue;
      }
      tests.add(DynamicTest.dynamicTest((String) c.get("name"), () -> run(c, defaults)));
    }
    assertTrue(tests.size() >= 30, "config.json has " + tests.size() + " Java cases");
    return tests.stream();
  }

  @SuppressWarnings("unchecked")
  private static void run(Map<String, Object> c, Map<String, Object> defaults) throws IOException {
    Path dir = Files.createTempDirectory("coresdk-config-");
    try {
      String d = dir.toString();
      Map<String, String> env = new HashMap<>();
      if (c.containsKey("file")) {
        Path file = dir.resolve("coresdk.toml");
        Files.writeString(file, (String) c.get("file"));
        env.put("CORESDK_CONFIG", file.toString());
      }
      Map<String, Object> vars = (Map<String, Object>) c.getOrDefault("env", Map.of());
      for (Map.Entry<String, Object> v : vars.entrySet()) {
        env.put(v.getKey(), ((String) v.getValue()).replace("{dir}", d));
      }
      Map<String, Object> error = (Map<String, Object>) c.get("error");
      if (error != null) {
        CoreSDKException e = assertThrows(CoreSDKException.class, () -> ConfigLoader.load(env, dir));
        assertEquals(error.get("code"), e.code(), e.getMessage());
        for (Object name : (List<Object>) error.get("names")) {
          assertTrue(e.getMessage().contains((String) name), "\"" + e.getMessage() + "\" does not name " + name);
        }
        return;
      }
      Map<String, Object> want = new LinkedHashMap<>(defaults);
      for (Map.Entry<String, Object> x : ((Map<String, Object>) c.get("expect")).entrySet()) {
        Object v = x.getValue();
        want.put(x.getKey(), v instanceof String ? ((String) v).replace("{dir}", d) : v);
      }
      assertEquals(want, settings(ConfigLoader.load(env, dir)));
    } finally {
      try (Stream<Path> walk = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
          Files.delete(p);
        }
      }
    }
  }

  /** The resolved settings under the case file's names and JSON types. */
  private static Map<String, Object> settings(SDKConfig cfg) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("sidecar_addr", cfg.sidecarAddr());
    out.put("tenant_id", cfg.tenantId());
    out.put("fail_mode", cfg.failMode().name().toLowerCase(Locale.ROOT));
    out.put("mode", "sidecar");
    out.put("timeout_ms", (long) cfg.timeoutMs());
    out.put("tls_ca_file", cfg.tlsCaFile());
    out.put("tls_cert_file", cfg.tlsCertFile());
    out.put("tls_key_file", cfg.tlsKeyFile());
    out.put("tls_server_name", cfg.tlsServerName());
    assertEquals(KEYS, List.copyOf(out.keySet()));
    return out;
  }

  @Test
  @SuppressWarnings("unchecked")
  void theDefaultsAreTheContractsClientKeys() throws IOException {
    Map<String, Object> defaults = (Map<String, Object>) contract().get("defaults");
    assertEquals(new TreeSet<>(ConfigContract.CLIENT_KEYS.keySet()), new TreeSet<>(defaults.keySet()));
    assertEquals(new TreeSet<>(KEYS), new TreeSet<>(defaults.keySet()));
  }
}
