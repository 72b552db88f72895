package dev.coresdk;

import dev.coresdk.internal.contract.ConfigContract;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
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
  /**
   * Every key of {@code [sdk]} the configuration contract lists, sorted; {@link #fromEnv(Map)} reads only the client
   * keys among them ({@code sidecar_addr}, {@code tenant_id}, {@code fail_mode}, {@code mode}, {@code timeout_ms},
   * {@code tls_*}) and accepts the others unread.
   */
  public static final List<String> SDK_KEYS = List.copyOf(new TreeSet<>(ConfigContract.TABLE_KEYS.get("sdk")));

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
    if (b.sidecarAddr == null) {
      throw new CoreSDKException("ERR_CONFIG", "sidecar_addr: must not be empty");
    }
    try {
      this.address = SidecarAddress.parse(b.sidecarAddr);
    } catch (IllegalArgumentException e) {
      throw new CoreSDKException("ERR_CONFIG", "sidecar_addr: " + e.getMessage());
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
   * Reads {@code coresdk.toml} and the {@code CORESDK_*} variables of {@code env}, as every CoreSDK client does.
   *
   * <p>The file is {@code CORESDK_CONFIG}, else {@code ./coresdk.toml} when it exists; variables win over the file.
   * The client reads its own keys of {@code [sdk]} only ({@code sidecar_addr}, {@code tenant_id}, {@code fail_mode},
   * {@code mode}, {@code timeout_ms}, {@code tls_*}), validated with the configuration contract's types and limits;
   * every other key of the contract's tables ({@code [sdk]}, {@code [sidecar]}, {@code [sidecar.authzen]},
   * {@code [sidecar.clients.*]}, {@code [tenants.*]}) belongs to the engine or the sidecar and is accepted unread, so
   * one file serves the sidecar and its clients. A key or table the contract does not list is refused. Of the
   * variables only {@code CORESDK_<KEY>} of the client keys are read. Relative TLS paths in the file resolve
   * against the file's directory; those in variables stay as written.
   *
   * @param env the environment to read ({@code CORESDK_*} entries); nothing else of the process environment is read
   * @return the configuration
   * @throws CoreSDKException {@code ERR_CONFIG} naming the key ({@code sdk.timeout_ms}), the table ({@code sdks}) or
   *     the variable ({@code CORESDK_TIMEOUT_MS}) at fault
   */
  public static SDKConfig fromEnv(Map<String, String> env) {
    return ConfigLoader.load(env, Path.of(""));
  }

  /**
   * The sidecar's address: {@code [IPv6]:port}, {@code host:port} (an IPv4 address or a host name), or a Unix socket
   * as {@code unix:/path} or {@code unix:///path}.
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

  private static Object contractDefault(String key) {
    return ConfigContract.CLIENT_KEYS.get(key).defaultValue();
  }

  /** Builds an {@link SDKConfig}; {@link #build()} validates every field. */
  public static final class Builder {
    private String sidecarAddr = (String) contractDefault("sidecar_addr");
    private String tenantId = (String) contractDefault("tenant_id");
    private FailMode failMode = FailMode.valueOf(((String) contractDefault("fail_mode")).toUpperCase(Locale.ROOT));
    private int timeoutMs = ((Long) contractDefault("timeout_ms")).intValue();
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
     * Sets the sidecar's address; {@link #build()} refuses a malformed one by the engine's rules ({@code ERR_CONFIG}:
     * empty, no port, a port outside 0-65535, an IPv6 address without brackets, {@code unix:} without a path).
     *
     * @param v {@code [IPv6]:port} (e.g. {@code [::1]:50051}), {@code host:port} ({@code 127.0.0.1:50051},
     *     {@code localhost:50051}), {@code unix:/path} or {@code unix:///path}
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
