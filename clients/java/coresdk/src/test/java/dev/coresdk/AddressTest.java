package dev.coresdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.support.BlackHole;
import dev.coresdk.support.Repo;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code sidecar_addr}: every form the Node client accepts is parsed and reaches grpc-java as something it can
 * connect to (issue 27: {@code dns:///[::1]:50051} was not); malformed addresses are {@code ERR_CONFIG} naming the
 * key and the value; an unreachable sidecar's error names the address. The real-sidecar half (the default address
 * against {@code coresdk-sidecar --dev}, unix sockets) is in {@link DefaultAddressTest} and {@link ClientTest}.
 */
class AddressTest {
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "[::1]:50051              | IP   | ::1              | 50051 | true",
        "[0:0:0:0:0:0:0:1]:1      | IP   | 0:0:0:0:0:0:0:1  | 1     | true",
        "[::ffff:127.0.0.1]:7000  | IP   | ::ffff:127.0.0.1 | 7000  | true",
        "[2001:db8::5]:443        | IP   | 2001:db8::5      | 443   | false",
        "127.0.0.1:50051          | IP   | 127.0.0.1        | 50051 | true",
        "127.9.9.9:65535          | IP   | 127.9.9.9        | 65535 | true",
        "10.1.2.3:50051           | IP   | 10.1.2.3         | 50051 | false",
        "localhost:50051          | HOST | localhost        | 50051 | true",
        "LocalHost:50051          | HOST | LocalHost        | 50051 | true",
        "coresdk-sidecar:50051    | HOST | coresdk-sidecar  | 50051 | false",
        "sidecar.ns.svc.cluster.local:50051 | HOST | sidecar.ns.svc.cluster.local | 50051 | false",
        "127.0.0.1:00080          | IP   | 127.0.0.1        | 80    | true",
        "[::]:0                   | IP   | ::               | 0     | false",
      })
  void tcpForms(String text, SidecarAddress.Kind kind, String host, int port, boolean local) {
    SidecarAddress a = SidecarAddress.parse(text);
    assertEquals(kind, a.kind);
    assertEquals(host, a.host);
    assertEquals(port, a.port);
    assertEquals(local, a.isLocal());
    assertNull(a.path);
    assertEquals(text, a.toString());
    if (kind == SidecarAddress.Kind.IP) {
      // Connected to directly: the literal's bytes, named as written (the channel's authority), never looked up.
      assertEquals(port, a.socketAddress().getPort());
      assertFalse(a.socketAddress().isUnresolved());
      assertEquals(host, a.socketAddress().getHostString());
    } else {
      assertEquals("dns:///" + host + ":" + port, a.target());
    }
  }

  @Test
  void ipLiteralsAreTheirBytes() throws Exception {
    assertEquals(InetAddress.getByName("::1"), SidecarAddress.parse("[::1]:50051").ip);
    assertEquals(InetAddress.getByName("127.0.0.1"), SidecarAddress.parse("127.0.0.1:50051").ip);
  }

  @Test
  void unixForms() {
    for (String text : List.of("unix:/run/coresdk.sock", "unix:///run/coresdk.sock")) {
      SidecarAddress a = SidecarAddress.parse(text);
      assertEquals(SidecarAddress.Kind.UNIX, a.kind);
      assertEquals("/run/coresdk.sock", a.path);
      assertEquals("unix:///run/coresdk.sock", a.target());
      assertTrue(a.isLocal());
      assertNull(a.host);
    }
    assertEquals("unix:///run/coresdk.sock", SidecarAddress.parse("unix:///run/coresdk.sock").target());
    SidecarAddress rel = SidecarAddress.parse("unix:run/coresdk.sock");
    assertEquals(Path.of("run/coresdk.sock").toAbsolutePath().toString(), rel.path);
    // A path grpc-java would misread as a URI is percent-encoded into the target.
    assertEquals("unix:///tmp/a%20dir/s%25.sock", SidecarAddress.parse("unix:/tmp/a dir/s%.sock").target());
  }

  private static final String FORMS = "host:port, [IPv6]:port or unix:/path";

  /** Refused by the engine's {@code check_address}, with its words. */
  static Stream<Arguments> malformed() {
    return Stream.of(
        Arguments.of("", "must not be empty"),
        Arguments.of(" \t", "must not be empty"),
        Arguments.of("[::1]", "must be " + FORMS + ", got \"[::1]\""),
        Arguments.of("[::1]50051", "must be " + FORMS + ", got \"[::1]50051\""),
        Arguments.of("[::1:50051", "must be " + FORMS + ", got \"[::1:50051\""),
        Arguments.of("[::1]:", "the port must be a number from 0 to 65535, got \"\""),
        Arguments.of("localhost", "must be " + FORMS + " (a port is required), got \"localhost\""),
        Arguments.of("127.0.0.1", "must be " + FORMS + " (a port is required), got \"127.0.0.1\""),
        Arguments.of("50051", "must be " + FORMS + " (a port is required), got \"50051\""),
        Arguments.of("localhost:", "the port must be a number from 0 to 65535, got \"\""),
        Arguments.of("[::1]:65536", "the port must be a number from 0 to 65535, got \"65536\""),
        Arguments.of("localhost:http", "the port must be a number from 0 to 65535, got \"http\""),
        Arguments.of("127.0.0.1:-1", "the port must be a number from 0 to 65535, got \"-1\""),
        Arguments.of("127.0.0.1:+80", "the port must be a number from 0 to 65535, got \"+80\""),
        Arguments.of("127.0.0.1:5005100", "the port must be a number from 0 to 65535, got \"5005100\""),
        Arguments.of("[::1]:500\n51", "the port must be a number from 0 to 65535, got \"500\\n51\""),
        Arguments.of("::1:50051", "write an IPv6 address in brackets, [::1]:port (" + FORMS + ")"),
        Arguments.of("::1]:50051", "write an IPv6 address in brackets, [::1]]:port (" + FORMS + ")"),
        Arguments.of(
            "http://localhost:50051", "write an IPv6 address in brackets, [http://localhost]:port (" + FORMS + ")"),
        Arguments.of(" [::1]:50051", "write an IPv6 address in brackets, [ [::1]]:port (" + FORMS + ")"),
        Arguments.of("[[::1]]:50051", "\"[::1]\" is not an IPv6 address (" + FORMS + ")"),
        Arguments.of("[::1]]:50051", "\"::1]\" is not an IPv6 address (" + FORMS + ")"),
        Arguments.of("[localhost]:50051", "\"localhost\" is not an IPv6 address (" + FORMS + ")"),
        Arguments.of("[127.0.0.1]:50051", "\"127.0.0.1\" is not an IPv6 address (" + FORMS + ")"),
        Arguments.of("[::g]:50051", "\"::g\" is not an IPv6 address (" + FORMS + ")"),
        Arguments.of("[1:2:3:4:5:6:7:8:9]:1", "\"1:2:3:4:5:6:7:8:9\" is not an IPv6 address (" + FORMS + ")"),
        Arguments.of("[fe80::1%eth0]:1", "\"fe80::1%eth0\" is not an IPv6 address (" + FORMS + ")"),
        Arguments.of(":50051", "must be " + FORMS + ", got \":50051\""),
        Arguments.of("local host:50051", "must be " + FORMS + ", got \"local host:50051\""),
        Arguments.of("local\thost:1", "must be " + FORMS + ", got \"local\\thost:1\""),
        Arguments.of("unix:", "a unix: address names a socket path (" + FORMS + ")"));
  }

  @ParameterizedTest
  @MethodSource("malformed")
  void malformedAddressesAreConfigErrorsNamingKeyAndValue(String text, String why) {
    IllegalArgumentException parsed = assertThrows(IllegalArgumentException.class, () -> SidecarAddress.parse(text));
    assertEquals(why, parsed.getMessage());

    CoreSDKException built =
        assertThrows(CoreSDKException.class, () -> SDKConfig.builder().sidecarAddr(text).build());
    assertEquals("ERR_CONFIG", built.code());
    assertEquals("sidecar_addr: " + why, built.getMessage());

    CoreSDKException env =
        assertThrows(CoreSDKException.class, () -> SDKConfig.fromEnv(Map.of("CORESDK_SIDECAR_ADDR", text)));
    assertEquals("ERR_CONFIG", env.code());
    assertEquals("invalid configuration: CORESDK_SIDECAR_ADDR: " + why, env.getMessage());
  }

  /**
   * Addresses the engine's rules accept (so one {@code coresdk.toml} serves every client) but grpc-java cannot dial:
   * the configuration loads, and making the client is {@code ERR_CONFIG} saying why.
   */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "127.1:50051          | is not a DNS name",
        "999.1.1.1:50051      | is not a DNS name",
        "my_sidecar:50051     | is not a DNS name",
        "sidecar/x:50051      | is not a DNS name",
        "unix://host/x.sock   | unix://NAME/... names a host",
        "unix://              | unix:// needs a socket path",
        "unix:/tmp/a\0b.sock    | not a socket path",
      })
  void acceptedButNotDialable(String text, String why) {
    SDKConfig cfg = SDKConfig.builder().sidecarAddr(text).build();
    assertEquals(text, SDKConfig.fromEnv(Map.of("CORESDK_SIDECAR_ADDR", text)).sidecarAddr());
    CoreSDKException e = assertThrows(CoreSDKException.class, () -> CoreSDKClient.create(cfg));
    assertEquals("ERR_CONFIG", e.code());
    assertTrue(e.getMessage().startsWith("sidecar_addr: \"" + text.replace("\0", "\\u0000") + "\": "), e.getMessage());
    assertTrue(e.getMessage().contains(why), e.getMessage());
  }

  @Test
  void fileValuesAreCheckedWithTheirKey(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path f = dir.resolve("coresdk.toml");
    java.nio.file.Files.writeString(f, "[sdk]\nsidecar_addr = \"[::1]\"\n");
    CoreSDKException e =
        assertThrows(CoreSDKException.class, () -> SDKConfig.fromEnv(Map.of("CORESDK_CONFIG", f.toString())));
    assertEquals("ERR_CONFIG", e.code());
    assertEquals("invalid configuration: sdk.sidecar_addr: must be host:port, [IPv6]:port or unix:/path, got \"[::1]\"",
        e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "[::1]:50051", "127.0.0.1:50051", "localhost:50051", "[0:0:0:0:0:0:0:1]:50051", "unix:/tmp/coresdk.sock",
        "unix:///tmp/coresdk.sock", "unix:coresdk.sock"
      })
  void everyFormMakesAClient(String addr) {
    // The channel's builder is made by create(): an address grpc-java cannot take fails here, not on a request.
    try (CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().sidecarAddr(addr).build())) {
      assertEquals(addr, sdk.config().sidecarAddr());
    }
  }

  @Test
  void theDefaultIsTheDocumentedAddress() {
    assertEquals("[::1]:50051", SDKConfig.builder().build().sidecarAddr());
    assertEquals("[::1]:50051", SDKConfig.fromEnv(Map.of()).sidecarAddr());
    try (CoreSDKClient sdk = CoreSDKClient.create(null)) {
      assertEquals("[::1]:50051", sdk.config().sidecarAddr());
    }
  }

  @Test
  void plaintextStaysOnThisMachine() {
    for (String addr : List.of("[2001:db8::5]:50051", "10.1.2.3:50051", "sidecar.example:50051")) {
      CoreSDKException e =
          assertThrows(CoreSDKException.class, () -> CoreSDKClient.create(SDKConfig.builder().sidecarAddr(addr).build()));
      assertEquals("ERR_CONFIG", e.code());
      assertTrue(e.getMessage().startsWith("CORESDK_SIDECAR_ADDR: " + addr + " is not loopback"), e.getMessage());
    }
  }

  private static int deadPort(String host) throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      return s.getLocalPort();
    }
  }

  @Test
  void anUnreachableSidecarsErrorNamesTheAddress() throws Exception {
    List<String> addrs =
        List.of(
            "[::1]:" + deadPort("::1"), "127.0.0.1:" + BlackHole.deadPort(), "localhost:" + deadPort("127.0.0.1"),
            "unix:/nonexistent/coresdk-" + System.nanoTime() + ".sock");
    for (String addr : addrs) {
      List<String> warnings = new ArrayList<>();
      SDKConfig cfg = SDKConfig.builder().sidecarAddr(addr).timeoutMs(3000).warn(warnings::add).build();
      try (CoreSDKClient sdk = CoreSDKClient.create(cfg)) {
        CoreSDKException e =
            assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of()));
        assertEquals("ERR_SIDECAR_UNAVAILABLE", e.code(), e.getMessage());
        assertTrue(e.getMessage().startsWith("the sidecar at " + addr + " is unreachable: "), e.getMessage());
        CompletionException async =
            assertThrows(CompletionException.class, () -> sdk.evaluatePolicyAsync("data.authz.allow", Map.of()).join());
        assertTrue(async.getCause().getMessage().startsWith("the sidecar at " + addr + " is unreachable: "));
        AuthorizeResult r = sdk.authorize("a.b.c");
        assertTrue(r.degraded());
        assertTrue(r.error().getMessage().contains(addr));
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).startsWith("coresdk: sidecar at " + addr + " unreachable (ERR_SIDECAR_UNAVAILABLE)"),
            warnings.get(0));
      }
    }
  }

  @Test
  void aSilentSidecarsTimeoutNamesTheAddress() throws Exception {
    try (BlackHole slow = new BlackHole()) {
      String addr = "127.0.0.1:" + slow.port;
      try (CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().sidecarAddr(addr).timeoutMs(300).build())) {
        CoreSDKException e =
            assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of()));
        assertEquals("ERR_SIDECAR_TIMEOUT", e.code());
        assertEquals("the sidecar at " + addr + " did not answer within 300 ms", e.getMessage());
      }
    }
  }

  @Test
  void theBreakersErrorNamesTheAddress() throws Exception {
    String addr = "127.0.0.1:" + BlackHole.deadPort();
    SDKConfig cfg = SDKConfig.builder().sidecarAddr(addr).retries(0).breakerFailureThreshold(1).warn(m -> { }).build();
    try (CoreSDKClient sdk = CoreSDKClient.create(cfg)) {
      assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of()));
      CoreSDKException e =
          assertThrows(CoreSDKException.class, () -> sdk.evaluatePolicy("data.authz.allow", Map.of()));
      assertEquals(
          "the sidecar at " + addr + " is unreachable (circuit open after repeated failures)", e.getMessage());
    }
  }

  /**
   * Without a Unix-socket transport (Netty's native epoll, here switched off in a fresh JVM as it is missing on
   * macOS or Windows), a {@code unix:} address is refused when the client is made, with a typed error naming the
   * address and what it takes, instead of grpc-java's "no functional channel service provider" on a request.
   */
  @Test
  void unixWithoutEpollIsATypedConfigError() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process p = new ProcessBuilder(
            java.toString(), "-Dio.grpc.netty.shaded.io.netty.transport.noNative=true", "-cp",
            System.getProperty("java.class.path"), UnixProbe.class.getName(), "unix:/tmp/coresdk-probe.sock")
        .directory(Repo.root().toFile())
        .redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.startsWith("ERR_CONFIG sidecar_addr: \"unix:/tmp/coresdk-probe.sock\": this JVM cannot open Unix domain"
        + " sockets."), out);
    assertTrue(out.contains("io.grpc:grpc-netty-shaded"), out);
    assertTrue(out.contains("Native transport was explicit"), out);
    assertTrue(out.contains("[::1]:50051"), out);
  }

  /** Run by {@link #unixWithoutEpollIsATypedConfigError} in a JVM without epoll. */
  static final class UnixProbe {
    private UnixProbe() {}

    /**
     * Makes a client for {@code args[0]} and prints {@code created ...} or {@code CODE message}.
     *
     * @param args the address
     */
    public static void main(String[] args) {
      try (CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().sidecarAddr(args[0]).build())) {
        System.out.println("created " + sdk.config().sidecarAddr());
      } catch (CoreSDKException e) {
        System.out.println(e.code() + " " + e.getMessage());
      }
    }
  }
}
