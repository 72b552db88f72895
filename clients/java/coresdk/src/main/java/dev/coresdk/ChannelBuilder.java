package dev.coresdk;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NegotiationType;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettySslContextChannelCredentials;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Owns the construction of the channel to the sidecar: what each kind of address becomes for grpc-java, the mutual
 * TLS context, and the checks that make a bad setup fail when the client is created rather than on a request.
 *
 * <ul>
 *   <li>an IP literal is connected to directly ({@code forAddress(InetSocketAddress)}: no name resolution, and no
 *       target string for grpc-java to parse; {@code dns:///[::1]:50051} is not a URI it accepts);
 *   <li>a host name goes through grpc-java's DNS resolver ({@code dns:///name:port});
 *   <li>a Unix socket through whatever transport grpc-java has for {@code unix:///path} (Netty epoll, bundled by
 *       grpc-netty-shaded for Linux x86_64 and aarch64).
 * </ul>
 *
 * <p>With the TLS files: mutual TLS 1.3. Without them: plaintext, to a loopback address or a Unix socket only.
 * Nothing connects, and no thread starts, until the {@link Transport} builds the channel on the first call.
 */
final class ChannelBuilder {
  /** gRPC's message size limit, both ways (the sidecar's default). */
  static final int MAX_MESSAGE = 16 * 1024 * 1024;

  private ChannelBuilder() {}

  /**
   * The channel's builder for {@code config}.
   *
   * @param config the configuration
   * @return the builder (not built)
   * @throws CoreSDKException {@code ERR_CONFIG} for an address grpc-java cannot dial, a bad TLS setup or a plaintext
   *     remote address
   */
  static ManagedChannelBuilder<?> forConfig(SDKConfig config) {
    SidecarAddress addr = config.address();
    if (addr.dialProblem() != null) {
      throw new CoreSDKException("ERR_CONFIG", "sidecar_addr: " + ConfigLoader.debug(addr.text) + ": " + addr.dialProblem());
    }
    SslContext ssl = config.usesTls() ? sslContext(config) : null;
    if (ssl == null && !addr.isLocal()) {
      throw new CoreSDKException(
          "ERR_CONFIG",
          "CORESDK_SIDECAR_ADDR: " + config.sidecarAddr() + " is not loopback; the sidecar there needs mutual TLS"
              + " (set CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE, CORESDK_TLS_KEY_FILE)");
    }
    ManagedChannelBuilder<?> b;
    if (addr.kind == SidecarAddress.Kind.UNIX) {
      ChannelCredentials creds =
          ssl == null ? InsecureChannelCredentials.create() : NettySslContextChannelCredentials.create(ssl);
      try {
        b = Grpc.newChannelBuilder(addr.target(), creds);
      } catch (RuntimeException e) {
        throw noUnixTransport(addr, e);
      }
      b.overrideAuthority(config.tlsServerName() != null ? config.tlsServerName() : "localhost");
    } else {
      NettyChannelBuilder n =
          addr.kind == SidecarAddress.Kind.IP
              ? NettyChannelBuilder.forAddress(addr.socketAddress())
              : NettyChannelBuilder.forTarget(addr.target());
      if (ssl != null) {
        n.sslContext(ssl).negotiationType(NegotiationType.TLS);
        if (config.tlsServerName() != null) {
          n.overrideAuthority(config.tlsServerName());
        }
      } else {
        n.negotiationType(NegotiationType.PLAINTEXT);
      }
      b = n;
    }
    return b.keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveTimeout(10, TimeUnit.SECONDS)
        .maxInboundMessageSize(MAX_MESSAGE)
        .disableRetry();
  }

  /** Mutual TLS 1.3 from the three PEM files, which go together. */
  private static SslContext sslContext(SDKConfig config) {
    if (config.tlsCaFile() == null || config.tlsCertFile() == null || config.tlsKeyFile() == null) {
      throw new CoreSDKException(
          "ERR_CONFIG",
          "CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE and CORESDK_TLS_KEY_FILE go together: "
              + "the sidecar requires a client certificate");
    }
    readable(config.tlsCaFile(), "CORESDK_TLS_CA_FILE");
    readable(config.tlsCertFile(), "CORESDK_TLS_CERT_FILE");
    readable(config.tlsKeyFile(), "CORESDK_TLS_KEY_FILE");
    try {
      return GrpcSslContexts.forClient()
          .trustManager(new File(config.tlsCaFile()))
          .keyManager(new File(config.tlsCertFile()), new File(config.tlsKeyFile()))
          .protocols("TLSv1.3")
          .build();
    } catch (IOException | IllegalArgumentException e) {
      throw new CoreSDKException(
          "ERR_CONFIG",
          "CORESDK_TLS_*: the CA, certificate or key file is not valid PEM (the key must be PKCS#8): "
              + e.getClass().getSimpleName());
    }
  }

  private static void readable(String path, String key) {
    try (InputStream in = Files.newInputStream(Path.of(path))) {
      in.read();
    } catch (IOException e) {
      String why = e instanceof NoSuchFileException ? "No such file or directory" : e.getMessage();
      throw new CoreSDKException("ERR_CONFIG", key + ": cannot read " + path + ": " + why);
    }
  }

  /** No transport for a {@code unix:} address: say which address, why, and what would make it work. */
  private static CoreSDKException noUnixTransport(SidecarAddress addr, RuntimeException e) {
    String why;
    try {
      Throwable cause = Epoll.isAvailable() ? null : Epoll.unavailabilityCause();
      why = cause == null ? e.getMessage() : "Netty epoll is unavailable: " + Transport.rootMessage(cause);
    } catch (LinkageError le) {
      why = "Netty epoll is missing: " + le;
    }
    return new CoreSDKException(
        "ERR_CONFIG",
        "sidecar_addr: " + ConfigLoader.debug(addr.text) + ": this JVM cannot open Unix domain sockets. grpc-java reaches"
            + " them only through Netty's native epoll transport, which io.grpc:grpc-netty-shaded (a coresdk dependency)"
            + " bundles for Linux x86_64 and aarch64; here (" + System.getProperty("os.name") + " "
            + System.getProperty("os.arch") + ") " + why + ". Use a loopback address such as [::1]:50051 (the sidecar's"
            + " default), or, on Linux x86_64/aarch64, keep grpc-netty-shaded's META-INF/native epoll library in the"
            + " application (a fat jar must not drop it) and give Netty a temporary directory that allows executables"
            + " (-Dio.grpc.netty.shaded.io.netty.native.workdir=DIR)");
  }
}
