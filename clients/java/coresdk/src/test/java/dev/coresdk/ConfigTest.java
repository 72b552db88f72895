package dev.coresdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link SDKConfig#fromEnv(Map)}: the same keys, defaults and error words as the Node and Python clients. */
class ConfigTest {
  @Test
  void defaults() {
    SDKConfig c = SDKConfig.fromEnv(Map.of());
    assertEquals("[::1]:50051", c.sidecarAddr());
    assertEquals("acme-corp", c.tenantId());
    assertEquals(FailMode.OPEN, c.failMode());
    assertEquals(1000, c.timeoutMs());
    assertEquals(2, c.retries());
    assertNull(c.tlsCaFile());
  }

  @Test
  void fileThenVariables(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("coresdk.toml");
    Files.writeString(f, "# client settings\n[sdk]\nsidecar_addr = \"127.0.0.1:7000\" # inline comment\n"
        + "tenant_id = 'globex'\nfail_mode = \"closed\"\ntimeout_ms = 2_500\ntls_ca_file = \"pki/ca.pem\"\n"
        + "tls_cert_file = \"/abs/client.pem\"\ntls_key_file = \"pki/client.key\"\nalgorithms = [\"ES256\",\n \"RS256\"]\n"
        + "\n[sidecar]\nmax_batch = 64\n\n[tenants.globex]\nissuer = \"https://globex.test\"\n");
    SDKConfig c = SDKConfig.fromEnv(Map.of("CORESDK_CONFIG", f.toString()));
    assertEquals("127.0.0.1:7000", c.sidecarAddr());
    assertEquals("globex", c.tenantId());
    assertEquals(FailMode.CLOSED, c.failMode());
    assertEquals(2500, c.timeoutMs());
    assertEquals(dir.resolve("pki/ca.pem").toString(), c.tlsCaFile());
    assertEquals("/abs/client.pem", c.tlsCertFile());
    c = SDKConfig.fromEnv(Map.of("CORESDK_CONFIG", f.toString(), "CORESDK_FAIL_MODE", "open",
        "CORESDK_TIMEOUT_MS", " 300 ", "CORESDK_TLS_CA_FILE", "rel/ca.pem"));
    assertEquals(FailMode.OPEN, c.failMode());
    assertEquals(300, c.timeoutMs());
    assertEquals("rel/ca.pem", c.tlsCaFile());
  }

  private static String error(Map<String, String> env) {
    CoreSDKException e = assertThrows(CoreSDKException.class, () -> SDKConfig.fromEnv(env));
    assertEquals("ERR_CONFIG", e.code());
    return e.getMessage();
  }

  @Test
  void errorsNameTheKey(@TempDir Path dir) throws Exception {
    assertEquals("invalid configuration: CORESDK_FAIL_MODE: must be \"open\" or \"closed\", got \"x\"",
        error(Map.of("CORESDK_FAIL_MODE", "x")));
    assertEquals("invalid configuration: CORESDK_TIMEOUT_MS: expected an integer, got \"soon\"",
        error(Map.of("CORESDK_TIMEOUT_MS", "soon")));
    assertEquals("invalid configuration: CORESDK_TIMEOUT_MS: must be between 1 and 600000, got 0",
        error(Map.of("CORESDK_TIMEOUT_MS", "0")));
    assertTrue(error(Map.of("CORESDK_TENANT_ID", "a b")).startsWith("invalid configuration: CORESDK_TENANT_ID:"));
    assertTrue(error(Map.of("CORESDK_MODE", "in-process")).contains("sidecar only"));
    assertTrue(error(Map.of("CORESDK_CONFIG", dir.resolve("missing.toml").toString()))
        .startsWith("invalid configuration: CORESDK_CONFIG:"));
    Path f = dir.resolve("c.toml");
    Files.writeString(f, "[sdk]\nfail_mod = \"open\"\n");
    assertTrue(error(Map.of("CORESDK_CONFIG", f.toString()))
        .startsWith("invalid configuration: sdk.fail_mod: unknown key (known keys: algorithms, audience,"));
    Files.writeString(f, "[sdk]\ntimeout_ms = 1.5\n");
    assertEquals("invalid configuration: sdk.timeout_ms: expected an integer, got float",
        error(Map.of("CORESDK_CONFIG", f.toString())));
    Files.writeString(f, "[sdk]\ntls_server_name = 1979-05-27T07:32:00Z\n");
    assertEquals("invalid configuration: sdk.tls_server_name: expected a string, got datetime",
        error(Map.of("CORESDK_CONFIG", f.toString())));
    Files.writeString(f, "[sdk]\nmode = \"embedded\"\n");
    assertEquals("invalid configuration: sdk.mode: must be \"sidecar\" or \"in-process\", got \"embedded\"",
        error(Map.of("CORESDK_CONFIG", f.toString())));
    Files.writeString(f, "[sidecar]\nclients = 1\n");
    assertEquals("invalid configuration: sidecar.clients: must be a table of tables",
        error(Map.of("CORESDK_CONFIG", f.toString())));
    Files.writeString(f, "[sidecar]\nauthzen = \"on\"\n");
    assertEquals("invalid configuration: sidecar.authzen: must be a table", error(Map.of("CORESDK_CONFIG", f.toString())));
    Files.writeString(f, "[sdk]\ntimeout_ms = \"5\"\n");
    assertEquals("invalid configuration: sdk.timeout_ms: expected an integer, got string",
        error(Map.of("CORESDK_CONFIG", f.toString())));
    Files.writeString(f, "[client]\nx = 1\n");
    assertTrue(error(Map.of("CORESDK_CONFIG", f.toString())).startsWith("invalid configuration: client: unknown section"));
    Files.writeString(f, "[sdk\n");
    assertTrue(error(Map.of("CORESDK_CONFIG", f.toString())).startsWith("invalid configuration: coresdk.toml:"));
    Files.writeString(f, "[tenants.\"any id\".sub]\nissuer = \"x\"\n");
    assertTrue(error(Map.of("CORESDK_CONFIG", f.toString()))
        .startsWith("invalid configuration: tenants.any id.sub: unknown key"));
  }

  /** The rule "clients read their own keys": the others are the engine's and the sidecar's, accepted unread. */
  @Test
  void otherComponentsKeysAreAcceptedUnread(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("coresdk.toml");
    Files.writeString(f, "[sdk]\nfast_path = \"not a boolean\"\nbundle_url = 7\ntimeout_ms = 0x10\n"
        + "[sidecar.authzen]\naddr = 8443\n[sidecar.clients.\"orders.acme.example\"]\nallowed_queries = 1\n"
        + "[tenants.\"any id\"]\npolicy_dir = 1\n");
    SDKConfig c = SDKConfig.fromEnv(Map.of("CORESDK_CONFIG", f.toString(), "CORESDK_POOL_SIZE", "nope",
        "CORESDK_SIDECAR_MAX_BATCH", "x"));
    assertEquals(16, c.timeoutMs());
    assertEquals(SDKConfig.SDK_KEYS.size(), dev.coresdk.internal.contract.ConfigContract.TABLE_KEYS.get("sdk").size());
    assertTrue(SDKConfig.SDK_KEYS.contains("fast_path"));
  }

  @Test
  void builderValidates() {
    assertEquals("sidecar_addr: must not be empty",
        assertThrows(CoreSDKException.class, () -> SDKConfig.builder().sidecarAddr(" ").build()).getMessage());
    assertTrue(assertThrows(CoreSDKException.class, () -> SDKConfig.builder().retries(11).build())
        .getMessage().startsWith("retries:"));
    SDKConfig c = SDKConfig.builder().tenantId("").build();
    assertEquals("", c.tenantId());
    assertEquals(FailMode.CLOSED, c.toBuilder().failMode(FailMode.CLOSED).build().failMode());
  }
}
