package dev.coresdk.support;

import dev.coresdk.FailMode;
import dev.coresdk.SDKConfig;
import dev.coresdk.internal.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the tests share, started once per JVM: a test PKI, a real HTTPS JWKS server, the repository's sidecar over
 * mutual TLS, a second "keyless" sidecar (its key set URL is a dead port), a black-hole port, a dead port, and the
 * conformance tokens minted now.
 */
public final class World {
  private static World instance;
  private boolean closed;

  /** The parsed {@code clients/conformance/cases.json}. */
  public final Map<String, Object> cases;
  /** Its {@code setup}. */
  public final Map<String, Object> setup;
  /** The test PKI. */
  public final Pki pki;
  /** The published signing key. */
  public final Tokens.Key key;
  /** The JWKS server. */
  public final JwksServer jwks;
  /** The sidecar. */
  public final Sidecar sidecar;
  /** A sidecar without signing keys. */
  public final Sidecar keyless;
  /** A dead loopback port. */
  public final int deadPort;
  /** A port that accepts and never answers. */
  public final BlackHole slow;
  /** The conformance tokens, by kind. */
  public final Map<String, String> tokens;
  /** The temporary directory. */
  public final Path dir;

  @SuppressWarnings("unchecked")
  private World() throws Exception {
    cases = (Map<String, Object>) Json.parse(Files.readString(Repo.root().resolve("clients/conformance/cases.json")));
    setup = (Map<String, Object>) cases.get("setup");
    dir = Files.createTempDirectory("coresdk-java-");
    pki = Pki.make(dir.resolve("pki"));
    key = Tokens.make((String) setup.get("kid"));
    Map<String, Object> tokenSpecs = (Map<String, Object>) cases.get("tokens");
    Tokens.Key other = Tokens.make((String) ((Map<String, Object>) tokenSpecs.get("unknown_key")).get("kid"));
    Path bundle = Files.createDirectories(dir.resolve("bundle"));
    for (Map.Entry<String, Object> e : ((Map<String, Object>) setup.get("policy")).entrySet()) {
      Files.writeString(bundle.resolve(e.getKey()), (String) e.getValue());
    }
    // The value corpus (values.json) is served by the same sidecar.
    Files.copy(Repo.root().resolve("clients/conformance/values/values.rego"), bundle.resolve("values.rego"));
    jwks = new JwksServer(Tokens.jwks(key), pki.serverCert, pki.serverKey);
    Map<String, String> common = commonEnv(bundle);
    Map<String, String> up = new HashMap<>(common);
    up.put("CORESDK_JWKS_URL", jwks.url);
    sidecar = new Sidecar(up, List.of(), null, true);
    slow = new BlackHole();
    deadPort = BlackHole.deadPort();
    Map<String, String> noKeys = new HashMap<>(common);
    noKeys.put("CORESDK_JWKS_URL", "https://127.0.0.1:" + deadPort + "/jwks");
    keyless = new Sidecar(noKeys, List.of(), null, false);
    tokens = mint(tokenSpecs, key, other);
  }

  private Map<String, String> commonEnv(Path bundle) {
    Map<String, String> common = new HashMap<>();
    common.put("CORESDK_SIDECAR_ADDR", "127.0.0.1:0");
    common.put("CORESDK_POLICY_DIR", bundle.toString());
    common.put("CORESDK_ISSUER", (String) setup.get("issuer"));
    common.put("CORESDK_AUDIENCE", (String) setup.get("audience"));
    common.put("CORESDK_JWKS_CA_FILE", pki.caFile);
    common.put("CORESDK_SIDECAR_TLS_CERT_FILE", pki.serverCert);
    common.put("CORESDK_SIDECAR_TLS_KEY_FILE", pki.serverKey);
    common.put("CORESDK_SIDECAR_TLS_CLIENT_CA_FILE", pki.caFile);
    return common;
  }

  /**
   * Another sidecar like the shared one (mutual TLS, the JWKS server), with {@code extra} variables; the caller
   * closes it.
   *
   * @param extra more CORESDK_* variables
   * @return the running sidecar
   * @throws Exception when it does not start
   */
  public Sidecar startSidecar(Map<String, String> extra) throws Exception {
    Map<String, String> env = commonEnv(dir.resolve("bundle"));
    env.put("CORESDK_JWKS_URL", jwks.url);
    env.putAll(extra);
    return new Sidecar(env, List.of(), null, true);
  }

  @SuppressWarnings("unchecked")
  private Map<String, String> mint(Map<String, Object> specs, Tokens.Key key, Tokens.Key other) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : specs.entrySet()) {
      Map<String, Object> spec = (Map<String, Object>) e.getValue();
      long t = Tokens.now();
      long exp = t + ((Number) spec.getOrDefault("exp_offset_s", 600L)).longValue();
      Map<String, Object> claims = new LinkedHashMap<>();
      claims.put("iss", setup.get("issuer"));
      claims.put("aud", setup.get("audience"));
      claims.put("iat", Math.min(t, exp - 3600));
      claims.put("exp", exp);
      claims.putAll((Map<String, Object>) spec.get("claims"));
      String token = (spec.containsKey("kid") ? other : key).mint(claims);
      if (spec.containsKey("tamper")) {
        Map<String, Object> tampered = new LinkedHashMap<>(claims);
        tampered.putAll((Map<String, Object>) spec.get("tamper"));
        token = Tokens.tamper(token, tampered);
      }
      out.put(e.getKey(), token);
    }
    return out;
  }

  /**
   * The shared world (started on first use, stopped when the JVM exits).
   *
   * @return the world
   */
  public static synchronized World get() {
    if (instance == null) {
      try {
        World w = new World();
        Runtime.getRuntime().addShutdownHook(new Thread(w::close));
        instance = w;
      } catch (Exception e) {
        throw new IllegalStateException("cannot start the test world: " + e.getMessage(), e);
      }
    }
    return instance;
  }

  /** Stops the sidecars and servers and removes the directory (also done when the JVM exits). */
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    sidecar.close();
    keyless.close();
    jwks.close();
    try {
      slow.close();
      try (var walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    } catch (Exception ignored) {
      // best effort
    }
  }

  /**
   * The address of the sidecar in {@code state}: up, down, slow or keyless.
   *
   * @param state the state
   * @return the address
   */
  public String addr(String state) {
    switch (state) {
      case "up":
        return sidecar.addr;
      case "keyless":
        return keyless.addr;
      case "down":
        return "127.0.0.1:" + deadPort;
      case "slow":
        return "127.0.0.1:" + slow.port;
      default:
        throw new IllegalArgumentException(state);
    }
  }

  /**
   * A client config for the sidecar in {@code state}, with the conformance file's client settings.
   *
   * @param state up, down, slow or keyless
   * @param failMode the fail mode
   * @return a builder to adjust
   */
  @SuppressWarnings("unchecked")
  public SDKConfig.Builder config(String state, FailMode failMode) {
    Map<String, Object> c = (Map<String, Object>) setup.get("client");
    String timeout = state.equals("slow") ? "slow_timeout_ms" : "timeout_ms";
    return SDKConfig.builder()
        .sidecarAddr(addr(state))
        .failMode(failMode)
        .tlsCaFile(pki.caFile)
        .tlsCertFile(pki.clientCert)
        .tlsKeyFile(pki.clientKey)
        .tlsServerName("localhost")
        .timeoutMs(((Number) c.get(timeout)).intValue())
        .retries(((Number) c.get("retries")).intValue())
        .warn(m -> { });
  }
}
