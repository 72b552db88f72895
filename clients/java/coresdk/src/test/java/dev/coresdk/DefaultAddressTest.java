package dev.coresdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.support.DevSidecar;
import dev.coresdk.support.Sidecar;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 27: the documented default address, {@code [::1]:50051}, itself, against a real {@code coresdk-sidecar --dev}
 * listening there; no test may swap it for {@code 127.0.0.1} (which is how the bug went unseen).
 */
class DefaultAddressTest {
  private static final Map<String, Object> VIEWER_READS =
      Map.of("action", "read", "user", Map.of("id", "alice", "roles", List.of("viewer")), "resource",
          Map.of("type", "document"));
  private static final Map<String, Object> READ_DOC_1 =
      Map.of("action", "read", "resource", Map.of("type", "document", "id", "doc-1"));

  @Test
  void theDefaultsReachCoresdkSidecarDev(@TempDir Path cwd) throws Exception {
    try (Sidecar dev = DevSidecar.start(cwd)) {
      assertEquals("[::1]:50051", dev.addr);
      String token = DevSidecar.token(dev);
      List<SDKConfig> defaults =
          List.of(
              SDKConfig.builder().build(),
              SDKConfig.fromEnv(Map.of()),
              SDKConfig.builder().failMode(FailMode.CLOSED).build(),
              SDKConfig.builder().sidecarAddr("[::1]:50051").tenantId("acme-corp").failMode(FailMode.OPEN).build());
      for (SDKConfig cfg : defaults) {
        assertEquals("[::1]:50051", cfg.sidecarAddr());
        try (CoreSDKClient sdk = CoreSDKClient.create(cfg)) {
          DevSidecar.awaitServing(sdk);
          Decision d = sdk.evaluatePolicy("data.authz.allow", VIEWER_READS);
          assertTrue(d.allowed());
          AuthorizeResult r = sdk.authorize(token, "data.authz.allow", READ_DOC_1);
          assertTrue(r.allowed(), r.reason() + ": " + r.error());
          assertFalse(r.degraded());
          assertEquals("dev-user", r.claims().get("sub"));
          AuthorizeResult async = sdk.authorizeAsync(token, "data.authz.allow", READ_DOC_1).join();
          assertEquals("dev-user", async.claims().get("sub"));
          assertTrue(sdk.isAllowedAsync("data.authz.allow", VIEWER_READS).join().allowed());
          assertEquals(0, sdk.stats().failOpen());
          assertEquals(0, sdk.stats().failClosed());
        }
      }
      try (CoreSDKClient sdk = CoreSDKClient.create(null)) {
        DevSidecar.awaitServing(sdk);
        assertEquals("dev-user", sdk.verifyToken(token).claims().get("sub"));
      }
      // The same sidecar through the other spellings: the long IPv6 form and, where the system's resolver maps
      // localhost to ::1 (not everywhere: /etc/hosts may say 127.0.0.1 only), the host name through DNS.
      List<String> addrs = new ArrayList<>(List.of("[0:0:0:0:0:0:0:1]:50051"));
      if (Arrays.asList(InetAddress.getAllByName("localhost")).contains(InetAddress.getByName("::1"))) {
        addrs.add("localhost:50051");
      }
      for (String addr : addrs) {
        try (CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().sidecarAddr(addr).build())) {
          DevSidecar.awaitServing(sdk);
          AuthorizeResult r = sdk.verifyToken(token);
          assertFalse(r.degraded(), addr + ": " + r.error());
          assertEquals("dev-user", r.claims().get("sub"), addr);
        }
      }
    }
  }
}
