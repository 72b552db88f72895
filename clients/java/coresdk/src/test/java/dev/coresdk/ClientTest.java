package dev.coresdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.support.Sidecar;
import dev.coresdk.support.Tokens;
import dev.coresdk.support.World;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every client method and fail-mode row against the real sidecar (mutual TLS, certificates made by the test). */
class ClientTest {
  private static final World W = World.get();

  private static CoreSDKClient client() {
    return CoreSDKClient.create(W.config("up", FailMode.OPEN).build());
  }

  private static CoreSDKClient client(String state, FailMode mode) {
    return CoreSDKClient.create(W.config(state, mode).build());
  }

  @Test
  void authorizeAllowsWithClaims() {
    try (CoreSDKClient sdk = client()) {
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"), "data.authz.allow", Map.of("action", "read"));
      assertTrue(r.allowed());
      assertEquals("allowed", r.reason());
      assertEquals("user-1", r.claims().get("sub"));
      assertTrue(r.defined());
      assertEquals(Boolean.TRUE, r.value());
      assertNotNull(r.revision());
      assertNull(r.error());
      assertFalse(r.degraded());
      assertTrue(sdk.authorize(W.tokens.get("admin")).allowed(), "default query data.authz.allow");
    }
  }

  @Test
  void authorizeDeniesAsAnAnswer() {
    for (FailMode mode : FailMode.values()) {
      try (CoreSDKClient sdk = client("up", mode)) {
        AuthorizeResult r = sdk.authorize(W.tokens.get("valid"), null, Map.of("action", "write"));
        assertFalse(r.allowed());
        assertEquals("denied", r.reason());
        assertNull(r.error());
        assertEquals(Boolean.FALSE, r.value());
        assertEquals("user-1", r.claims().get("sub"));
      }
    }
  }

  @ParameterizedTest
  @CsvSource({
    "expired,ERR_TOKEN_EXPIRED,OPEN", "expired,ERR_TOKEN_EXPIRED,CLOSED",
    "wrong_audience,ERR_TOKEN_CLAIM,OPEN", "wrong_issuer,ERR_TOKEN_CLAIM,CLOSED",
    "tampered,ERR_TOKEN_SIGNATURE,OPEN", "unknown_key,ERR_TOKEN_UNKNOWN_KEY,CLOSED"
  })
  void aRejectedTokenIsNeverAllowed(String kind, String code, FailMode mode) {
    try (CoreSDKClient sdk = client("up", mode)) {
      String token = W.tokens.get(kind);
      AuthorizeResult r = sdk.authorize(token, null, Map.of("action", "read"));
      assertFalse(r.allowed());
      assertEquals(code, r.reason());
      assertEquals(code, r.error().code());
      assertEquals("invalid_token", r.error().rfc6750Error());
      assertFalse(r.error().isTransportFailure());
      assertNull(r.claims());
      assertFalse(r.error().getMessage().contains(token), "the token is never in a message");
      assertFalse(r.error().toString().contains(token));
      assertEquals(code, sdk.verifyToken(token).reason());
    }
  }

  @Test
  void verifyToken() {
    try (CoreSDKClient sdk = client()) {
      AuthorizeResult r = sdk.verifyToken(W.tokens.get("admin"));
      assertTrue(r.allowed());
      assertEquals("admin", r.claims().get("role"));
      assertEquals("ERR_TOKEN_MALFORMED", sdk.verifyToken("not-a-jwt").reason());
      assertEquals("ERR_TOKEN_MALFORMED", sdk.verifyToken(null).reason());
    }
  }

  @Test
  void evaluatePolicyIsAllowedAndBatches() {
    try (CoreSDKClient sdk = client()) {
      Decision d = sdk.evaluatePolicy("data.authz.allow", Map.of("action", "read", "claims", Map.of("role", "reader")));
      assertTrue(d.allowed());
      assertTrue(d.defined());
      assertEquals(Boolean.TRUE, d.value());
      assertFalse(d.revision().isEmpty());
      d = sdk.evaluatePolicy("data.authz.allow", Map.of("action", "write", "claims", Map.of("role", "reader")));
      assertFalse(d.allowed());
      assertEquals(Boolean.FALSE, d.value());
      IsAllowedResult a = sdk.isAllowed("data.authz.allow", Map.of("claims", Map.of("role", "admin")));
      assertTrue(a.allowed());
      assertEquals("allowed", a.reason());
      assertNotNull(a.revision());
      a = sdk.isAllowed("data.authz.allow", Map.of());
      assertFalse(a.allowed());
      assertEquals("denied", a.reason());
      a = sdk.isAllowed("data.authz.nothing_here", Map.of());
      assertFalse(a.allowed());
      // Outside --dev a path that is not a rule is refused (the sidecar does not tell a missing
      // document from a withheld one): an answer, never a fail-open.
      assertEquals("ERR_QUERY_NOT_ALLOWED", a.reason(), "an unknown rule is an answer, never a fail-open");
      assertFalse(a.degraded());
      List<BatchResult> items =
          sdk.evaluatePolicies(
              List.of(
                  BatchItem.of("data.authz.allow", Map.of("claims", Map.of("role", "admin"))),
                  BatchItem.of("data.authz.allow", Map.of("claims", Map.of("role", "nobody"))),
                  BatchItem.of("data.authz.allow", "not an object")));
      assertEquals(3, items.size());
      assertTrue(items.get(0).ok());
      assertTrue(items.get(0).allowed());
      assertTrue(items.get(1).ok());
      assertFalse(items.get(1).allowed());
      assertEquals(d.revision(), items.get(0).decision().revision());
      assertEquals(HealthStatus.SERVING, sdk.health());
    }
  }

  @Test
  void evaluatePolicyErrorsAreTyped() {
    try (CoreSDKClient sdk = client()) {
      CoreSDKException e =
          assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("not a query ((", Map.of()));
      // Outside --dev the sidecar serves its bundle's rules only: a general query
      // (malformed or not) is refused before it is parsed.
      assertEquals("ERR_QUERY_NOT_ALLOWED", e.code());
      assertEquals(
          "ERR_QUERY_NOT_ALLOWED",
          assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("x := data", Map.of())).code());
      Decision d = sdk.evaluatePolicy("data.authz.allow", "a string input is JSON too");
      assertTrue(d.defined());
      assertEquals(Boolean.FALSE, d.value());
      assertEquals("ERR_QUERY_INVALID", assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy(null, null)).code());
    }
  }

  @Test
  void inputsJsonCannotCarryAreTypedErrors() {
    try (CoreSDKClient sdk = client()) {
      for (Object bad : List.of(Map.of("x", new Object()), Map.of("x", Double.NaN), Map.of(1, 2))) {
        CoreSDKException e = assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", bad));
        assertEquals("ERR_INPUT_INVALID", e.code());
      }
      Map<String, Object> cyclic = new HashMap<>();
      cyclic.put("self", cyclic);
      assertEquals(
          "ERR_INPUT_INVALID",
          assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", cyclic)).code());
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"), null, Map.of("x", new Object()));
      assertFalse(r.allowed());
      assertEquals("ERR_INPUT_INVALID", r.reason());
      assertFalse(r.degraded());
      Object nested = List.of(1);
      for (int i = 0; i < 300; i++) {
        nested = List.of(nested);
      }
      Object deep = nested;
      CoreSDKException e =
          assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of("a", deep)));
      assertEquals("ERR_INPUT_TOO_DEEP", e.code(), "the sidecar's depth limit");
      String big = "x".repeat(20 * 1024 * 1024);
      e = assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of("blob", big)));
      assertTrue(e.code().equals("ERR_INPUT_TOO_LARGE") || e.code().equals("ERR_MESSAGE_TOO_LARGE"),
          e.code() + ": " + e.getMessage());
      assertEquals(HealthStatus.SERVING, sdk.health());
      assertEquals(BreakerState.CLOSED, sdk.stats().breaker());
    }
  }

  @Test
  void claimsInAuthorizeInputAreRefused() {
    try (CoreSDKClient sdk = client()) {
      AuthorizeResult r =
          sdk.authorize(W.tokens.get("valid"), null, Map.of("claims", Map.of("role", "admin"), "action", "write"));
      assertFalse(r.allowed());
      assertEquals("ERR_INPUT_INVALID", r.reason());
    }
  }

  @Test
  void unknownTenantIsAnAnswer() {
    try (CoreSDKClient sdk = CoreSDKClient.create(W.config("up", FailMode.OPEN).tenantId("globex").build())) {
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
      assertFalse(r.allowed());
      assertEquals("ERR_UNKNOWN_TENANT", r.reason());
      assertFalse(r.degraded());
      assertEquals(
          "ERR_UNKNOWN_TENANT",
          assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of())).code());
    }
    try (CoreSDKClient sdk = client()) {
      AuthorizeResult r = sdk.verifyToken(W.tokens.get("valid"), RequestOptions.tenant("globex"));
      assertEquals("ERR_UNKNOWN_TENANT", r.reason());
    }
  }

  @Test
  void maskPii() {
    try (CoreSDKClient sdk = client()) {
      List<String> out = sdk.maskPii(List.of("write to alice@example.com", "nothing here"));
      assertEquals("nothing here", out.get(1));
      assertFalse(out.get(0).contains("alice@example.com"));
      List<String> withNull = new ArrayList<>();
      withNull.add(null);
      assertEquals("ERR_INPUT_INVALID", assertThrows(CoreSDKException.class, () -> sdk.maskPii(withNull)).code());
    }
  }

  @Test
  void intruderCertificateAndPlaintextAreTransportFailures() {
    SDKConfig intruder =
        W.config("up", FailMode.CLOSED).tlsCertFile(W.pki.intruderCert).tlsKeyFile(W.pki.intruderKey).build();
    try (CoreSDKClient sdk = CoreSDKClient.create(intruder)) {
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
      assertFalse(r.allowed());
      assertEquals("ERR_SIDECAR_UNAVAILABLE", r.reason());
      assertEquals(1, sdk.stats().failClosed());
    }
    SDKConfig plain = SDKConfig.builder().sidecarAddr(W.sidecar.addr).timeoutMs(2000).warn(m -> { }).build();
    try (CoreSDKClient sdk = CoreSDKClient.create(plain)) {
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
      assertTrue(r.allowed(), r.reason() + ": " + r.error());
      assertTrue(r.degraded());
      assertNull(r.claims());
      assertEquals("fail-open", r.reason());
    }
  }

  @Test
  void failOpenWarnsOnceAndCounts() {
    List<String> warnings = new ArrayList<>();
    SDKConfig cfg = W.config("down", FailMode.OPEN).warn(warnings::add).breakerFailureThreshold(100).build();
    try (CoreSDKClient sdk = CoreSDKClient.create(cfg)) {
      for (int i = 0; i < 3; i++) {
        AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
        assertTrue(r.allowed());
        assertTrue(r.degraded());
        assertNull(r.claims());
        assertEquals("fail-open", r.reason());
        assertEquals("ERR_SIDECAR_UNAVAILABLE", r.error().code());
      }
      assertEquals(3, sdk.stats().failOpen());
      assertEquals(1, warnings.size());
      assertTrue(warnings.get(0).contains("ERR_SIDECAR_UNAVAILABLE"));
      assertFalse(warnings.get(0).contains(W.tokens.get("valid")));
      assertEquals(
          "ERR_SIDECAR_UNAVAILABLE",
          assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of())).code());
      assertTrue(sdk.isAllowed("data.authz.allow", Map.of()).degraded());
      assertEquals(HealthStatus.UNREACHABLE, sdk.health());
    }
  }

  @Test
  void failClosedDenies() {
    try (CoreSDKClient sdk = client("down", FailMode.CLOSED)) {
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
      assertFalse(r.allowed());
      assertEquals("ERR_SIDECAR_UNAVAILABLE", r.reason());
      assertTrue(r.error().isTransportFailure());
      IsAllowedResult a = sdk.isAllowed("data.authz.allow", Map.of());
      assertFalse(a.allowed());
      assertEquals("ERR_SIDECAR_UNAVAILABLE", a.reason());
      assertEquals(2, sdk.stats().failClosed());
    }
  }

  @Test
  void theBreakerOpensAndFailsFast() {
    try (CoreSDKClient sdk = CoreSDKClient.create(W.config("down", FailMode.CLOSED).retries(0).build())) {
      for (int i = 0; i < 5; i++) {
        assertEquals("ERR_SIDECAR_UNAVAILABLE", sdk.authorize(W.tokens.get("valid")).reason());
      }
      assertEquals(BreakerState.OPEN, sdk.stats().breaker());
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
      assertTrue(r.error().getMessage().contains("circuit open"));
    }
  }

  @Test
  void aCancelledCallFreesTheHalfOpenProbe() {
    SDKConfig cfg = W.config("slow", FailMode.CLOSED).retries(0).breakerFailureThreshold(1).breakerResetMs(0)
        .timeoutMs(5000).build();
    try (CoreSDKClient sdk = CoreSDKClient.create(cfg)) {
      String token = W.tokens.get("valid");
      assertEquals("ERR_SIDECAR_TIMEOUT", sdk.verifyToken(token, RequestOptions.timeoutMs(100)).reason());
      assertEquals(BreakerState.HALF_OPEN, sdk.stats().breaker());
      java.util.concurrent.CompletableFuture<AuthorizeResult> probe = sdk.verifyTokenAsync(token);
      assertTrue(sdk.verifyToken(token).error().getMessage().contains("circuit open"), "one probe at a time");
      assertTrue(probe.cancel(true));
      assertEquals(BreakerState.HALF_OPEN, sdk.stats().breaker(), "a cancelled probe proves nothing");
      assertEquals("ERR_SIDECAR_TIMEOUT", sdk.verifyToken(token, RequestOptions.timeoutMs(100)).reason(),
          "the probe slot is free again: the call goes out instead of failing fast");
    }
  }

  @Test
  void aSlowSidecarIsATimeout() {
    for (FailMode mode : FailMode.values()) {
      try (CoreSDKClient sdk = client("slow", mode)) {
        AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
        assertEquals(mode == FailMode.OPEN, r.allowed());
        assertEquals("ERR_SIDECAR_TIMEOUT", r.error().code());
        assertEquals(mode == FailMode.OPEN ? "fail-open" : "ERR_SIDECAR_TIMEOUT", r.reason());
        r = sdk.verifyToken(W.tokens.get("valid"), RequestOptions.timeoutMs(100));
        assertEquals("ERR_SIDECAR_TIMEOUT", r.error().code());
      }
    }
  }

  @Test
  void aKeylessSidecarAnswersAndIsNeverAFailOpen() {
    for (FailMode mode : FailMode.values()) {
      try (CoreSDKClient sdk = client("keyless", mode)) {
        AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
        assertFalse(r.allowed());
        assertFalse(r.degraded());
        assertEquals("ERR_JWKS_UNAVAILABLE", r.reason());
        assertEquals(HealthStatus.NOT_SERVING, sdk.health());
        assertEquals(0, sdk.stats().failOpen() + sdk.stats().failClosed());
      }
    }
  }

  @Test
  void closedClientAndBadCallOptions() {
    CoreSDKClient sdk = client();
    assertEquals(HealthStatus.SERVING, sdk.health());
    assertEquals(
        "ERR_CONFIG",
        assertThrows(
                CoreSDKException.class,
                () -> sdk.evaluatePolicy("data.authz.allow", Map.of(), RequestOptions.timeoutMs(0)))
            .code());
    sdk.close();
    sdk.close();
    assertEquals(
        "ERR_ENGINE_CLOSED",
        assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of())).code());
    assertEquals("ERR_ENGINE_CLOSED", sdk.authorize(W.tokens.get("valid")).reason());
    assertEquals("ERR_ENGINE_CLOSED", sdk.verifyTokenAsync(W.tokens.get("valid")).join().reason());
  }

  @Test
  void configErrorsNameTheKey() {
    CoreSDKException e =
        assertThrows(
            CoreSDKException.class,
            () -> CoreSDKClient.create(SDKConfig.builder().sidecarAddr("10.1.2.3:50051").build()));
    assertEquals("ERR_CONFIG", e.code());
    assertTrue(e.getMessage().contains("CORESDK_SIDECAR_ADDR"));
    e = assertThrows(
        CoreSDKException.class, () -> CoreSDKClient.create(SDKConfig.builder().tlsCaFile(W.pki.caFile).build()));
    assertTrue(e.getMessage().contains("go together"));
    e = assertThrows(
        CoreSDKException.class,
        () -> CoreSDKClient.create(W.config("up", FailMode.OPEN).tlsKeyFile("/nonexistent/key.pem").build()));
    assertTrue(e.getMessage().startsWith("CORESDK_TLS_KEY_FILE: cannot read /nonexistent/key.pem"), e.getMessage());
    e = assertThrows(CoreSDKException.class, () -> SDKConfig.builder().timeoutMs(0).build());
    assertTrue(e.getMessage().startsWith("timeout_ms:"));
  }

  @Test
  void asyncMethods() {
    try (CoreSDKClient sdk = client()) {
      AuthorizeResult r = sdk.authorizeAsync(W.tokens.get("valid"), null, Map.of("action", "read")).join();
      assertTrue(r.allowed());
      assertEquals("user-1", r.claims().get("sub"));
      assertEquals("ERR_TOKEN_EXPIRED", sdk.authorizeAsync(W.tokens.get("expired"), null, null).join().reason());
      assertEquals("admin", sdk.verifyTokenAsync(W.tokens.get("admin")).join().claims().get("role"));
      assertTrue(sdk.evaluatePolicyAsync("data.authz.allow", Map.of("claims", Map.of("role", "admin"))).join().allowed());
      assertEquals("denied", sdk.isAllowedAsync("data.authz.allow", Map.of()).join().reason());
      assertEquals(2, sdk.evaluatePoliciesAsync(List.of(BatchItem.of("data.authz.allow", null),
          BatchItem.of("data.authz.allow", Map.of()))).join().size());
      assertFalse(sdk.maskPiiAsync(List.of("mail bob@example.com")).join().get(0).contains("bob@example.com"));
      assertEquals(HealthStatus.SERVING, sdk.healthAsync().join());
      CompletionException e =
          assertThrows(CompletionException.class, () -> sdk.evaluatePolicyAsync("not a query ((", null).join());
      assertTrue(e.getCause() instanceof CoreSDKException);
    }
    try (CoreSDKClient sdk = client("down", FailMode.OPEN)) {
      AuthorizeResult r = sdk.authorizeAsync(W.tokens.get("valid"), null, null).join();
      assertTrue(r.degraded());
      assertTrue(sdk.isAllowedAsync("data.authz.allow", Map.of()).join().degraded());
      assertEquals(HealthStatus.UNREACHABLE, sdk.healthAsync().join());
      CompletionException e =
          assertThrows(CompletionException.class, () -> sdk.evaluatePolicyAsync("data.authz.allow", null).join());
      assertEquals("ERR_SIDECAR_UNAVAILABLE", ((CoreSDKException) e.getCause()).code());
    }
    try (CoreSDKClient sdk = client("slow", FailMode.CLOSED)) {
      assertEquals("ERR_SIDECAR_TIMEOUT", sdk.verifyTokenAsync(W.tokens.get("valid")).join().reason());
    }
    try (CoreSDKClient sdk = client("keyless", FailMode.OPEN)) {
      AuthorizeResult r = sdk.authorizeAsync(W.tokens.get("valid"), null, null).join();
      assertEquals("ERR_JWKS_UNAVAILABLE", r.reason());
      assertFalse(r.allowed());
    }
  }

  @Test
  void concurrentCallsShareOneChannel() throws Exception {
    try (CoreSDKClient sdk = client()) {
      List<Thread> threads = new ArrayList<>();
      List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
      for (int t = 0; t < 4; t++) {
        Thread th = new Thread(() -> {
          for (int i = 0; i < 25; i++) {
            if (!sdk.authorize(W.tokens.get("valid"), null, Map.of("action", "read")).allowed()) {
              failures.add(new AssertionError("not allowed"));
            }
          }
        });
        threads.add(th);
        th.start();
      }
      for (Thread th : threads) {
        th.join(TimeUnit.SECONDS.toMillis(60));
      }
      assertTrue(failures.isEmpty(), failures.toString());
    }
  }

  @Test
  void plaintextOverAUnixSocketAndRecovery(@TempDir Path tmp) throws Exception {
    Files.writeString(tmp.resolve("jwks.json"), Tokens.jwks(W.key));
    Path sock = tmp.resolve("sidecar.sock");
    Map<String, String> env = new LinkedHashMap<>();
    env.put("CORESDK_SIDECAR_ADDR", "unix:" + sock);
    env.put("CORESDK_SIDECAR_INSECURE_DEV", "true");
    env.put("CORESDK_POLICY_DIR", W.dir.resolve("bundle").toString());
    env.put("CORESDK_JWKS_FILE", tmp.resolve("jwks.json").toString());
    env.put("CORESDK_ISSUER", (String) W.setup.get("issuer"));
    env.put("CORESDK_AUDIENCE", (String) W.setup.get("audience"));
    try (Sidecar s = new Sidecar(env, List.of(), null, true);
        CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().sidecarAddr("unix:" + sock).build())) {
      assertTrue(sdk.authorize(W.tokens.get("valid"), null, Map.of("action", "read")).allowed());
      assertEquals(HealthStatus.SERVING, sdk.health());
      assertTrue(s.alive());
    }
  }

  @Test
  void aHostNameGoesThroughDns() {
    // localhost resolves (at least) to 127.0.0.1, where the shared sidecar listens; mutual TLS as usual.
    String port = W.sidecar.addr.substring(W.sidecar.addr.lastIndexOf(':') + 1);
    try (CoreSDKClient sdk = CoreSDKClient.create(W.config("up", FailMode.CLOSED).sidecarAddr("localhost:" + port).build())) {
      AuthorizeResult r = sdk.authorize(W.tokens.get("valid"), null, Map.of("action", "read"));
      assertTrue(r.allowed(), r.reason() + ": " + r.error());
      assertEquals("user-1", r.claims().get("sub"));
    }
  }

  @Test
  void unixSocketFormsAndMutualTlsOverAUnixSocket(@TempDir Path tmp) throws Exception {
    Path sock = Files.createDirectories(tmp.resolve("a dir")).resolve("tls.sock");
    try (Sidecar s = W.startSidecar(Map.of("CORESDK_SIDECAR_ADDR", "unix:" + sock))) {
      for (String addr : List.of("unix:" + sock, "unix://" + sock)) {
        try (CoreSDKClient sdk = CoreSDKClient.create(W.config("up", FailMode.CLOSED).sidecarAddr(addr).build())) {
          AuthorizeResult r = sdk.authorize(W.tokens.get("valid"), null, Map.of("action", "read"));
          assertTrue(r.allowed(), addr + ": " + r.reason() + ": " + r.error());
          assertEquals("user-1", r.claims().get("sub"));
          assertEquals(HealthStatus.SERVING, sdk.health());
        }
      }
      // Plaintext to the TLS socket: nothing answered, so unreachable (never an allow in CLOSED), naming the socket.
      SDKConfig plain = SDKConfig.builder().sidecarAddr("unix:" + sock).failMode(FailMode.CLOSED).retries(0).build();
      try (CoreSDKClient sdk = CoreSDKClient.create(plain)) {
        AuthorizeResult r = sdk.authorize(W.tokens.get("valid"));
        assertFalse(r.allowed());
        assertTrue(r.error().isTransportFailure(), r.error().toString());
        assertTrue(r.error().getMessage().contains("unix:" + sock), r.error().getMessage());
      }
      assertTrue(s.alive());
    }
  }

  @Test
  void recoversWhenTheSidecarComesBack(@TempDir Path tmp) throws Exception {
    Files.writeString(tmp.resolve("jwks.json"), Tokens.jwks(W.key));
    int port = dev.coresdk.support.BlackHole.deadPort();
    Map<String, String> env = new LinkedHashMap<>();
    env.put("CORESDK_SIDECAR_ADDR", "127.0.0.1:" + port);
    env.put("CORESDK_SIDECAR_INSECURE_DEV", "true");
    env.put("CORESDK_POLICY_DIR", W.dir.resolve("bundle").toString());
    env.put("CORESDK_JWKS_FILE", tmp.resolve("jwks.json").toString());
    env.put("CORESDK_ISSUER", (String) W.setup.get("issuer"));
    env.put("CORESDK_AUDIENCE", (String) W.setup.get("audience"));
    List<String> warnings = new ArrayList<>();
    SDKConfig cfg = SDKConfig.builder().sidecarAddr("127.0.0.1:" + port).breakerResetMs(200).timeoutMs(500)
        .warn(warnings::add).build();
    Sidecar sidecar = new Sidecar(env, List.of(), null, true);
    try (CoreSDKClient sdk = CoreSDKClient.create(cfg)) {
      assertFalse(sdk.verifyToken(W.tokens.get("valid")).degraded());
      sidecar.close();
      for (int i = 0; i < 6; i++) {
        assertTrue(sdk.verifyToken(W.tokens.get("valid")).degraded());
      }
      assertEquals(BreakerState.OPEN, sdk.stats().breaker());
      sidecar = new Sidecar(env, List.of(), null, true);
      boolean back = false;
      for (int i = 0; i < 200 && !back; i++) {
        back = !sdk.verifyToken(W.tokens.get("valid")).degraded();
        if (!back) {
          Thread.sleep(50);
        }
      }
      assertTrue(back, "the client reconnected once the sidecar came back");
      assertEquals(BreakerState.CLOSED, sdk.stats().breaker());
      assertEquals(1, warnings.size());
    } finally {
      sidecar.close();
    }
  }
}
