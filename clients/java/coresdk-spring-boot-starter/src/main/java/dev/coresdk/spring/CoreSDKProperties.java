package dev.coresdk.spring;

import dev.coresdk.FailMode;
import dev.coresdk.SDKConfig;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The {@code coresdk.*} properties. Every client setting starts from {@link SDKConfig#fromEnv()} ({@code coresdk.toml}
 * {@code [sdk]} and {@code CORESDK_*}); a property that is set wins.
 *
 * <pre>
 * coresdk.sidecar-addr=[::1]:50051
 * coresdk.tenant-id=acme-corp
 * coresdk.fail-mode=open
 * coresdk.filter.require-token=true
 * </pre>
 *
 * @param sidecarAddr the sidecar's address ({@code host:port}, {@code [v6]:port}, {@code unix:/path})
 * @param tenantId the tenant every call names
 * @param failMode what an unreachable sidecar means: {@code open} or {@code closed}
 * @param timeoutMs the per-call deadline in milliseconds, retries included
 * @param tlsCaFile the CA that signed the sidecar's certificate (PEM)
 * @param tlsCertFile the client certificate chain (PEM)
 * @param tlsKeyFile the client private key (PEM, PKCS#8)
 * @param tlsServerName the name to verify in the sidecar's certificate
 * @param retries retries after UNAVAILABLE without the sidecar's ErrorInfo
 * @param filter the servlet filter's settings
 */
@ConfigurationProperties("coresdk")
public record CoreSDKProperties(
    String sidecarAddr,
    String tenantId,
    FailMode failMode,
    Integer timeoutMs,
    String tlsCaFile,
    String tlsCertFile,
    String tlsKeyFile,
    String tlsServerName,
    Integer retries,
    @DefaultValue Filter filter) {

  /**
   * The {@code coresdk.filter.*} properties.
   *
   * @param enabled whether the filter is registered (default true)
   * @param requireToken whether a request without a bearer token is answered 401 (default true)
   * @param urlPatterns the URL patterns it covers (default {@code /*})
   * @param realm the realm of {@code WWW-Authenticate} challenges (default {@code coresdk})
   * @param order the filter's order (default -110: before Spring Security's filter chain)
   */
  public record Filter(
      @DefaultValue("true") boolean enabled,
      @DefaultValue("true") boolean requireToken,
      @DefaultValue("/*") List<String> urlPatterns,
      String realm,
      @DefaultValue("-110") int order) {}

  /**
   * The client configuration: {@code coresdk.toml} and {@code CORESDK_*}, then these properties.
   *
   * @return the configuration
   */
  public SDKConfig toConfig() {
    SDKConfig.Builder b = SDKConfig.fromEnv().toBuilder();
    if (sidecarAddr != null) {
      b.sidecarAddr(sidecarAddr);
    }
    if (tenantId != null) {
      b.tenantId(tenantId);
    }
    if (failMode != null) {
      b.failMode(failMode);
    }
    if (timeoutMs != null) {
      b.timeoutMs(timeoutMs);
    }
    if (tlsCaFile != null) {
      b.tlsCaFile(tlsCaFile);
    }
    if (tlsCertFile != null) {
      b.tlsCertFile(tlsCertFile);
    }
    if (tlsKeyFile != null) {
      b.tlsKeyFile(tlsKeyFile);
    }
    if (tlsServerName != null) {
      b.tlsServerName(tlsServerName);
    }
    if (retries != null) {
      b.retries(retries);
    }
    return b.build();
  }
}
