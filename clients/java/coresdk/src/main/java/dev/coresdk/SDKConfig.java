package dev.coresdk;

import dev.coresdk.internal.Json;
import dev.coresdk.internal.Toml;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * How a client reaches the sidecar. Every field has a default; build one with {@link #builder()} or read
 * {@code coresdk.toml} {@code [sdk]} and {@code CORESDK_*} variables with {@link #fromEnv()}.
 *
 * <pre>{@code
 * SDKConfig.builder().sidecarAddr("[::1]:50051").tenantId("acme-corp").failMode(FailMode.OPEN).build();
 * SDKConfig.fromEnv();                                                  // coresdk.toml [sdk] + CORESDK_*
 * SDKConfig.fromEnv().toBuilder().failMode(FailMode.CLOSED).build();   // overrides win
 * }</pre>
 *
 * <p>Invalid values throw {@code CoreSDKException("ERR_CONFIG")} naming the field (or, from the environment, the
 * key: {@code invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "x"}), in the same words as
 * the Node and Python clients.
 */
public final class SDKConfig {
  /** The allow-listed keys of {@code [sdk]} (the engine's {@code SDK_KEYS}); each maps to {@code CORESDK_<KEY>}. */
  public static final List<String> SDK_KEYS =
      List.of(
          "policy_dir", "eval_timeout_ms", "pool_size", "max_input_bytes", "max_input_depth", "watch_policies",
          "rego_v0", "decision_cache_entries", "sidecar_addr", "tenant_id", "fail_mode", "jwks_url", "jwks_file",
          "oidc_issuer", "issuer", "audience", "algorithms", "clock_tolerance_secs", "required_claims", "token_typ",
          "max_token_bytes", "token_cache_entries", "jwks_ca_file", "jwks_timeout_ms", "jwks_refresh_min_secs",
          "jwks_refresh_max_secs", "jwks_unknown_kid_cooldown_secs", "jwks_stale_max_secs",
          "jwks_allow_insecure_http", "offline_cache_dir", "offline_cache_key", "mode", "timeout_ms", "tls_ca_file",
          "tls_cert_file", "tls_key_file", "tls_server_name", "pii_style", "pii_hash_key", "pii_entities",
          "pii_dictionary", "pii_patterns", "pii_sensitive_names", "decision_log");

  private static final List<String> SIDECAR_KEYS =
      List.of(
          "tls_cert_file", "tls_key_file", "tls_client_ca_file", "insecure_dev", "watch_certs",
          "max_concurrent_calls", "max_message_bytes", "max_batch", "drain_timeout_ms", "keepalive_interval_secs",
          "keepalive_timeout_secs", "worker_threads", "health_addr");

  private static final List<String> TENANT_KEYS =
      List.of(
          "policy_dir", "rego_v0", "jwks_url", "jwks_file", "oidc_issuer", "issuer", "audience", "algorithms",
          "clock_tolerance_secs", "required_claims", "token_typ", "max_token_bytes", "token_cache_entries",
          "jwks_ca_file", "jwks_timeout_ms", "jwks_refresh_min_secs", "jwks_refresh_max_secs",
          "jwks_unknown_kid_cooldown_secs", "jwks_stale_max_secs", "jwks_allow_insecure_http", "offline_cache_dir",
          "offline_cache_key");

  private final String sidecarAddr;
  private final SidecarAddress address;
  private final String tenantId;
  private final FailMode failMode;
  private final int timeoutMs;
  private final String tlsCaFile;
  private final String tlsCertFile;
  private final String tlsKeyFile;
  private final String tlsServerName;
  private final int retries;
  private final int backoffMs;
  private final int breakerFailureThreshold;
  private final int breakerResetMs;
  private final Consumer<String> warn;

  private SDKConfig(Builder b) {
    if (b.sidecarAddr == null || b.sidecarAddr.isBlank()) {
      throw new CoreSDKException("ERR_CONFIG", "sidecar_addr: must be a non-empty string");
    }
    try {
      this.address = SidecarAddress.parse(b.sidecarAddr);
    } catch (IllegalArgumentException e) {
      throw new CoreSDKException("ERR_CONFIG", "sidecar_addr: " + badAddress(b.sidecarAddr, e));
    }
    if (b.tenantId == null || !(b.tenantId.isEmpty() || validTenantId(b.tenantId))) {
      throw new CoreSDKException(
          "ERR_CONFIG", "tenant_id: must be 1-128 characters of letters, digits, '-', '_' or '.'");
    }
    if (b.failMode == null) {
      throw new CoreSDKException("ERR_CONFIG", "fail_mode: must be OPEN or CLOSED, got null");
    }
    range("timeout_ms", b.timeoutMs, 1, 600_000);
    range("retries", b.retries, 0, 10);
    range("backoff_ms", b.backoffMs, 0, 60_000);
    range("breaker_failure_threshold", b.breakerFailureThreshold, 1, 1_000_000);
    range("breaker_reset_ms", b.breakerResetMs, 0, 3_600_000);
    nonEmpty("tls_ca_file", b.tlsCaFile);
    nonEmpty("tls_cert_file", b.tlsCertFile);
    nonEmpty("tls_key_file", b.tlsKeyFile);
    nonEmpty("tls_server_name", b.tlsServerName);
    this.sidecarAddr = b.sidecarAddr;
    this.tenantId = b.tenantId;
    this.failMode = b.failMode;
    this.timeoutMs = b.timeoutMs;
    this.tlsCaFile = b.tlsCaFile;
    this.tlsCertFile = b.tlsCertFile;
    this.tlsKeyFile = b.tlsKeyFile;
    this.tlsServerName = b.tlsServerName;
    this.retries = b.retries;
    this.backoffMs = b.backoffMs;
    this.breakerFailureThreshold = b.breakerFailureThreshold;
    this.breakerResetMs = b.breakerResetMs;
    this.warn = b.warn;
  }

  /** {@code "x" is not an address (why): use ...}: the sidecar's words for its own {@code --addr}. */
  private static String badAddress(String value, IllegalArgumentException e) {
    return debug(value) + " is not an address (" + e.getMessage() + "): " + SidecarAddress.FORMS;
  }

  private static void range(String name, int v, int lo, int hi) {
    if (v < lo || v > hi) {
      throw new CoreSDKException(
          "ERR_CONFIG", name + ": must be an integer between " + lo + " and " + hi + ", got " + v);
    }
  }

  private static void nonEmpty(String name, String v) {
    if (v != null && v.isEmpty()) {
      throw new CoreSDKException("ERR_CONFIG", name + ": must be a non-empty string or null");
    }
  }

  static boolean validTenantId(String s) {
    if (s.isEmpty() || s.length() > 128) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /**
   * A builder with every default: {@code [::1]:50051}, tenant {@code acme-corp}, fail mode {@code OPEN}, 1000 ms.
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A builder holding this configuration's values.
   *
   * @return a builder
   */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.sidecarAddr = sidecarAddr;
    b.tenantId = tenantId;
    b.failMode = failMode;
    b.timeoutMs = timeoutMs;
    b.tlsCaFile = tlsCaFile;
    b.tlsCertFile = tlsCertFile;
    b.tlsKeyFile = tlsKeyFile;
    b.tlsServerName = tlsServerName;
    b.retries = retries;
    b.backoffMs = backoffMs;
    b.breakerFailureThreshold = breakerFailureThreshold;
    b.breakerResetMs = breakerResetMs;
    b.warn = warn;
    return b;
  }

  /**
   * Reads {@code coresdk.toml} {@code [sdk]} and the {@code CORESDK_*} variables of the process environment.
   *
   * @return the configuration
   * @throws CoreSDKException {@code ERR_CONFIG} naming the key at fault
   * @see #fromEnv(Map)
   */
  public static SDKConfig fromEnv() {
    return fromEnv(System.getenv());
  }

  /**
   * Reads {@code coresdk.toml} {@code [sdk]} and {@code CORESDK_*} like the Node and Python clients.
   *
   * <p>The file is {@code CORESDK_CONFIG}, else {@code ./coresdk.toml} when it exists; variables win over the file.
   * Relative TLS paths in the file resolve against the file's directory, those in variables against the working
   * directory. Only the client's keys are interpreted ({@code sidecar_addr}, {@code tenant_id}, {@code fail_mode},
   * {@code mode}, {@code timeout_ms}, {@code tls_*}); the other {@code [sdk]} keys configure the sidecar. Unknown
   * sections and keys are refused, as the sidecar refuses them.
   *
   * @param env the environment to read ({@code CORESDK_*} entries)
   * @return the configuration
   * @throws CoreSDKException {@code ERR_CONFIG} naming the key at fault
   */
  @SuppressWarnings("unchecked")
  public static SDKConfig fromEnv(Map<String, String> env) {
    Path file = null;
    if (env.containsKey("CORESDK_CONFIG")) {
      file = Path.of(env.get("CORESDK_CONFIG"));
    } else if (Files.isRegularFile(Path.of("coresdk.toml"))) {
      file = Path.of("coresdk.toml");
    }
    Map<String, Raw> raw = new TreeMap<>();
    Path base = null;
    if (file != null) {
      String text;
      try {
        byte[] bytes = Files.readAllBytes(file);
        text = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .decode(java.nio.ByteBuffer.wrap(bytes))
            .toString();
      } catch (CharacterCodingException e) {
        throw err("CORESDK_CONFIG", file + ": stream did not contain valid UTF-8");
      } catch (IOException e) {
        throw err("CORESDK_CONFIG", file + ": " + ioReason(e));
      }
      base = file.toAbsolutePath().getParent();
      Map<String, Object> doc;
      try {
        doc = Toml.parse(text);
      } catch (IllegalArgumentException e) {
        throw err("coresdk.toml", e.getMessage());
      }
      for (Map.Entry<String, Object> section : doc.entrySet()) {
        String name = section.getKey();
        Object value = section.getValue();
        if (name.equals("sdk")) {
          raw.putAll(table(value, "sdk", SDK_KEYS));
        } else if (name.equals("sidecar")) {
          table(value, "sidecar", SIDECAR_KEYS);
        } else if (name.equals("tenants")) {
          if (!(value instanceof Map)) {
            throw err("tenants", "must be a table of tables ([tenants.<id>])");
          }
          for (Map.Entry<String, Object> t : ((Map<String, Object>) value).entrySet()) {
            if (!validTenantId(t.getKey())) {
              throw err(
                  "tenants." + t.getKey(), "tenant ids are 1-128 characters of letters, digits, '-', '_' or '.'");
            }
            table(t.getValue(), "tenants." + t.getKey(), TENANT_KEYS);
          }
        } else {
          throw err(name, "unknown section (known: [sdk], [sidecar], [tenants.<id>])");
        }
      }
    }
    for (String key : SDK_KEYS) {
      String var = "CORESDK_" + key.toUpperCase(java.util.Locale.ROOT);
      if (env.containsKey(var)) {
        raw.put(key, new Raw(var, env.get(var), true));
      }
    }
    Builder b = builder();
    for (Map.Entry<String, Raw> e : raw.entrySet()) {
      Raw r = e.getValue();
      switch (e.getKey()) {
        case "sidecar_addr": {
          String s = r.string();
          if (s.isBlank()) {
            throw err(r.name, "must not be empty");
          }
          try {
            SidecarAddress.parse(s);
          } catch (IllegalArgumentException bad) {
            throw err(r.name, badAddress(s, bad));
          }
          b.sidecarAddr(s);
          break;
        }
        case "tenant_id": {
          String s = r.string();
          if (!validTenantId(s)) {
            throw err(r.name, "must be 1-128 characters of letters, digits, '-', '_' or '.'");
          }
          b.tenantId(s);
          break;
        }
        case "fail_mode": {
          String s = r.string();
          if (s.equals("open")) {
            b.failMode(FailMode.OPEN);
          } else if (s.equals("closed")) {
            b.failMode(FailMode.CLOSED);
          } else {
            throw err(r.name, "must be \"open\" or \"closed\", got " + debug(s));
          }
          break;
        }
        case "mode": {
          String s = r.string();
          if (s.equals("in-process")) {
            throw err(
                r.name,
                "the Java client reaches the engine through the sidecar only; \"in-process\" is for Node and Rust");
          }
          if (!s.equals("sidecar")) {
            throw err(r.name, "must be \"sidecar\" or \"in-process\", got " + debug(s));
          }
          break;
        }
        case "timeout_ms":
          b.timeoutMs(r.integer(1, 600_000));
          break;
        case "tls_ca_file":
          b.tlsCaFile(r.path(base));
          break;
        case "tls_cert_file":
          b.tlsCertFile(r.path(base));
          break;
        case "tls_key_file":
          b.tlsKeyFile(r.path(base));
          break;
        case "tls_server_name":
          b.tlsServerName(r.string());
          break;
        default:
          break;
      }
    }
    return b.build();
  }

  private static String ioReason(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "No such file or directory";
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "Permission denied";
    }
    return Objects.toString(e.getMessage(), e.getClass().getSimpleName());
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Raw> table(Object value, String name, List<String> keys) {
    if (!(value instanceof Map)) {
      throw err(name, "must be a table");
    }
    Map<String, Raw> out = new TreeMap<>();
    for (Map.Entry<String, Object> e : ((Map<String, Object>) value).entrySet()) {
      if (!keys.contains(e.getKey())) {
        throw err(name + "." + e.getKey(), "unknown key (known keys: " + String.join(", ", keys) + ")");
      }
      out.put(e.getKey(), new Raw(name + "." + e.getKey(), e.getValue(), false));
    }
    return out;
  }

  private static CoreSDKException err(String key, String message) {
    return new CoreSDKException("ERR_CONFIG", "invalid configuration: " + key + ": " + message);
  }

  private static String debug(String s) {
    StringBuilder sb = new StringBuilder();
    Json.quote(sb, s);
    return sb.toString();
  }

  private static String tomlType(Object v) {
    if (v instanceof Boolean) {
      return "boolean";
    }
    if (v instanceof Long) {
      return "integer";
    }
    if (v instanceof Double) {
      return "float";
    }
    if (v instanceof String) {
      return "string";
    }
    if (v instanceof List) {
      return "array";
    }
    if (v instanceof Map) {
      return "table";
    }
    return "datetime";
  }

  /** One configured value: from the file (TOML-typed) or from a variable (text). */
  private static final class Raw {
    final String name;
    final Object value;
    final boolean fromEnv;

    Raw(String name, Object value, boolean fromEnv) {
      this.name = name;
      this.value = value;
      this.fromEnv = fromEnv;
    }

    String string() {
      if (value instanceof String) {
        return (String) value;
      }
      throw err(name, "expected a string, got " + tomlType(value));
    }

    int integer(int lo, int hi) {
      long n;
      if (fromEnv) {
        String text = ((String) value).strip();
        try {
          n = Long.parseLong(text.startsWith("+") ? text.substring(1) : text);
        } catch (NumberFormatException e) {
          throw err(name, "expected an integer, got " + debug((String) value));
        }
      } else if (value instanceof Long) {
        n = (Long) value;
      } else {
        throw err(name, "expected an integer, got " + tomlType(value));
      }
      if (n < lo || n > hi) {
        throw err(name, "must be between " + lo + " and " + hi + ", got " + n);
      }
      return (int) n;
    }

    String path(Path base) {
      Path p = Path.of(string());
      return base != null && !fromEnv && !p.isAbsolute() ? base.resolve(p).toString() : p.toString();
    }
  }

  /**
   * The sidecar's address: {@code [v6]:port}, {@code a.b.c.d:port}, {@code name:port}, or a Unix socket as
   * {@code unix:/path} or {@code unix:///path}.
   *
   * @return the address as configured ({@code sidecar_addr} / {@code CORESDK_SIDECAR_ADDR}; default
   *     {@code [::1]:50051})
   */
  public String sidecarAddr() {
    return sidecarAddr;
  }

  /** The parsed {@link #sidecarAddr()}. */
  SidecarAddress address() {
    return address;
  }

  /**
   * The tenant every call names; {@code ""} means the sidecar's default tenant.
   *
   * @return the tenant id ({@code CORESDK_TENANT_ID}; default {@code acme-corp})
   */
  public String tenantId() {
    return tenantId;
  }

  /**
   * What an unreachable sidecar means.
   *
   * @return the fail mode ({@code CORESDK_FAIL_MODE}; default {@code OPEN})
   */
  public FailMode failMode() {
    return failMode;
  }

  /**
   * The deadline of one call, retries included.
   *
   * @return milliseconds ({@code CORESDK_TIMEOUT_MS}; default 1000)
   */
  public int timeoutMs() {
    return timeoutMs;
  }

  /**
   * The CA that signed the sidecar's certificate (PEM), or {@code null} for plaintext to a loopback address.
   *
   * @return the path ({@code CORESDK_TLS_CA_FILE})
   */
  public String tlsCaFile() {
    return tlsCaFile;
  }

  /**
   * The client certificate chain (PEM).
   *
   * @return the path ({@code CORESDK_TLS_CERT_FILE})
   */
  public String tlsCertFile() {
    return tlsCertFile;
  }

  /**
   * The client private key (PEM, PKCS#8).
   *
   * @return the path ({@code CORESDK_TLS_KEY_FILE})
   */
  public String tlsKeyFile() {
    return tlsKeyFile;
  }

  /**
   * The name to verify in the sidecar's certificate (default: the address's host).
   *
   * @return the name, or {@code null} ({@code CORESDK_TLS_SERVER_NAME})
   */
  public String tlsServerName() {
    return tlsServerName;
  }

  /**
   * Retries after UNAVAILABLE without the sidecar's ErrorInfo, with jittered backoff, inside the deadline.
   *
   * @return the count (default 2)
   */
  public int retries() {
    return retries;
  }

  /**
   * The first retry backoff (doubled per retry, full jitter).
   *
   * @return milliseconds (default 25)
   */
  public int backoffMs() {
    return backoffMs;
  }

  /**
   * Transport failures in a row that open the circuit breaker.
   *
   * @return the count (default 5)
   */
  public int breakerFailureThreshold() {
    return breakerFailureThreshold;
  }

  /**
   * How long the breaker stays open before one probe call.
   *
   * @return milliseconds (default 5000)
   */
  public int breakerResetMs() {
    return breakerResetMs;
  }

  /**
   * Where fail-open warnings go (at most one per 10 s); {@code null}: the {@code coresdk} logger.
   *
   * @return the sink, or {@code null}
   */
  public Consumer<String> warn() {
    return warn;
  }

  /**
   * True when any TLS file is set (then all three are required).
   *
   * @return whether the client uses mutual TLS
   */
  public boolean usesTls() {
    return tlsCaFile != null || tlsCertFile != null || tlsKeyFile != null;
  }

  /**
   * The settings, without the warn sink.
   *
   * @return a description
   */
  @Override
  public String toString() {
    return "SDKConfig{sidecarAddr=" + sidecarAddr + ", tenantId=" + tenantId + ", failMode=" + failMode
        + ", timeoutMs=" + timeoutMs + ", tls=" + usesTls() + ", retries=" + retries + "}";
  }

  /** Builds an {@link SDKConfig}; {@link #build()} validates every field. */
  public static final class Builder {
    private String sidecarAddr = "[::1]:50051";
    private String tenantId = "acme-corp";
    private FailMode failMode = FailMode.OPEN;
    private int timeoutMs = 1000;
    private String tlsCaFile;
    private String tlsCertFile;
    private String tlsKeyFile;
    private String tlsServerName;
    private int retries = 2;
    private int backoffMs = 25;
    private int breakerFailureThreshold = 5;
    private int breakerResetMs = 5000;
    private Consumer<String> warn;

    private Builder() {}

    /**
     * Sets the sidecar's address; {@link #build()} refuses a malformed one ({@code ERR_CONFIG}: no port, a port
     * outside 1-65535, unbalanced brackets, an IPv6 address without brackets).
     *
     * @param v {@code [v6]:port} (e.g. {@code [::1]:50051}), {@code a.b.c.d:port}, {@code name:port},
     *     {@code unix:/path} or {@code unix:///path}
     * @return this builder
     */
    public Builder sidecarAddr(String v) {
      sidecarAddr = v;
      return this;
    }

    /**
     * Sets the tenant.
     *
     * @param v the tenant id ({@code ""}: the sidecar's default tenant)
     * @return this builder
     */
    public Builder tenantId(String v) {
      tenantId = v;
      return this;
    }

    /**
     * Sets the fail mode.
     *
     * @param v {@code OPEN} or {@code CLOSED}
     * @return this builder
     */
    public Builder failMode(FailMode v) {
      failMode = v;
      return this;
    }

    /**
     * Sets the per-call deadline.
     *
     * @param v milliseconds, 1 to 600000
     * @return this builder
     */
    public Builder timeoutMs(int v) {
      timeoutMs = v;
      return this;
    }

    /**
     * Sets the CA file (PEM) that signed the sidecar's certificate.
     *
     * @param v the path
     * @return this builder
     */
    public Builder tlsCaFile(String v) {
      tlsCaFile = v;
      return this;
    }

    /**
     * Sets the client certificate chain file (PEM).
     *
     * @param v the path
     * @return this builder
     */
    public Builder tlsCertFile(String v) {
      tlsCertFile = v;
      return this;
    }

    /**
     * Sets the client private key file (PEM, PKCS#8).
     *
     * @param v the path
     * @return this builder
     */
    public Builder tlsKeyFile(String v) {
      tlsKeyFile = v;
      return this;
    }

    /**
     * Sets the name to verify in the sidecar's certificate.
     *
     * @param v the name
     * @return this builder
     */
    public Builder tlsServerName(String v) {
      tlsServerName = v;
      return this;
    }

    /**
     * Sets the retries after UNAVAILABLE without the sidecar's ErrorInfo.
     *
     * @param v 0 to 10
     * @return this builder
     */
    public Builder retries(int v) {
      retries = v;
      return this;
    }

    /**
     * Sets the first retry backoff.
     *
     * @param v milliseconds
     * @return this builder
     */
    public Builder backoffMs(int v) {
      backoffMs = v;
      return this;
    }

    /**
     * Sets the transport failures in a row that open the circuit breaker.
     *
     * @param v the count
     * @return this builder
     */
    public Builder breakerFailureThreshold(int v) {
      breakerFailureThreshold = v;
      return this;
    }

    /**
     * Sets how long the breaker stays open before one probe call.
     *
     * @param v milliseconds
     * @return this builder
     */
    public Builder breakerResetMs(int v) {
      breakerResetMs = v;
      return this;
    }

    /**
     * Sets where fail-open warnings go.
     *
     * @param v the sink ({@code null}: the {@code coresdk} logger)
     * @return this builder
     */
    public Builder warn(Consumer<String> v) {
      warn = v;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the configuration
     * @throws CoreSDKException {@code ERR_CONFIG} naming the field at fault
     */
    public SDKConfig build() {
      return new SDKConfig(this);
    }
  }
}
