package dev.coresdk;

import dev.coresdk.internal.Json;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * A parsed {@code sidecar_addr}, accepted and refused by exactly the rules of the engine's {@code check_address}
 * ({@code native/engine/src/config.rs}), which every client shares:
 *
 * <ul>
 *   <li>{@code unix:} followed by a non-empty socket path: {@code unix:/run/coresdk.sock}, {@code unix:///path} (the
 *       gRPC URI form), {@code unix:relative.sock} (against the working directory);
 *   <li>{@code [IPv6]:port}, e.g. {@code [::1]:50051} (the default): a valid IPv6 address (no zone) in brackets;
 *   <li>otherwise {@code host:port}, split at the last {@code ':'}: a host containing {@code ':'} is an IPv6 address
 *       without brackets (refused, saying to use them); the host is non-empty without whitespace.
 * </ul>
 *
 * <p>The port is decimal digits only, 0 to 65535. {@link #parse} never looks a name up: an IP literal (an IPv6 address
 * in brackets, or a dotted quad) is connected to directly, a host name goes through grpc-java's DNS resolver. An
 * address these rules accept but grpc-java cannot dial (a host name that is not a DNS name, {@code unix://NAME/...})
 * is reported by {@link #dialProblem()} when the client is made.
 */
final class SidecarAddress {
  /** What the address names. */
  enum Kind {
    /** An IPv4 or IPv6 literal and a port. */
    IP,
    /** A host name and a port. */
    HOST,
    /** A Unix domain socket. */
    UNIX
  }

  /** The accepted forms, for error messages (the engine's words). */
  static final String FORMS = "host:port, [IPv6]:port or unix:/path";

  /** The address as configured. */
  final String text;
  /** What it names. */
  final Kind kind;
  /** The IP literal (without brackets) or the host name; {@code null} for a socket. */
  final String host;
  /** The port (0-65535); 0 for a socket. */
  final int port;
  /** The IP address, carrying {@link #host} as its name; {@code null} unless {@link Kind#IP}. */
  final InetAddress ip;
  /** The socket's absolute path; {@code null} unless {@link Kind#UNIX} (or when {@link #dialProblem()} says why). */
  final String path;
  private final String dialProblem;

  private SidecarAddress(
      String text, Kind kind, String host, int port, InetAddress ip, String path, String dialProblem) {
    this.text = text;
    this.kind = kind;
    this.host = host;
    this.port = port;
    this.ip = ip;
    this.path = path;
    this.dialProblem = dialProblem;
  }

  /**
   * Parses an address by the engine's rules; never does a DNS lookup.
   *
   * @param s the address
   * @return the parsed address
   * @throws IllegalArgumentException with the engine's reason, for an address it refuses
   */
  static SidecarAddress parse(String s) {
    if (isBlank(s)) {
      throw new IllegalArgumentException("must not be empty");
    }
    if (s.startsWith("unix:")) {
      String rest = s.substring("unix:".length());
      if (rest.isEmpty()) {
        throw new IllegalArgumentException("a unix: address names a socket path (" + FORMS + ")");
      }
      return unix(s, rest);
    }
    String host;
    String portText;
    boolean bracketed = s.startsWith("[");
    if (bracketed) {
      String rest = s.substring(1);
      int end = rest.indexOf("]:");
      if (end < 0) {
        throw new IllegalArgumentException("must be " + FORMS + ", got " + quoted(s));
      }
      host = rest.substring(0, end);
      portText = rest.substring(end + 2);
      if (ipv6(host) == null) {
        throw new IllegalArgumentException(quoted(host) + " is not an IPv6 address (" + FORMS + ")");
      }
    } else {
      int colon = s.lastIndexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException("must be " + FORMS + " (a port is required), got " + quoted(s));
      }
      host = s.substring(0, colon);
      portText = s.substring(colon + 1);
      if (host.indexOf(':') >= 0) {
        throw new IllegalArgumentException("write an IPv6 address in brackets, [" + host + "]:port (" + FORMS + ")");
      }
    }
    if (host.isEmpty() || host.codePoints().anyMatch(SidecarAddress::isWhiteSpace)) {
      throw new IllegalArgumentException("must be " + FORMS + ", got " + quoted(s));
    }
    int port = port(portText);
    if (bracketed) {
      return new SidecarAddress(s, Kind.IP, host, port, named(host, ipv6(host)), null, null);
    }
    byte[] v4 = ipv4(host);
    if (v4 != null) {
      try {
        return new SidecarAddress(s, Kind.IP, host, port, InetAddress.getByAddress(host, v4), null, null);
      } catch (UnknownHostException e) {
        throw new IllegalStateException(e);
      }
    }
    return new SidecarAddress(s, Kind.HOST, host, port, null, null, dnsProblem(host, port));
  }

  private static SidecarAddress unix(String text, String rest) {
    String p = rest;
    String problem = null;
    if (p.startsWith("//")) {
      // unix://absolute_path, the gRPC URI form: unix:///run/x.sock names /run/x.sock.
      p = p.substring(2);
      if (p.isEmpty()) {
        problem = "unix:// needs a socket path, as in unix:///run/coresdk.sock";
      } else if (!p.startsWith("/")) {
        problem = "unix://NAME/... names a host; a socket is unix:/path or unix:///path";
      }
    }
    String abs = null;
    if (problem == null) {
      try {
        abs = Path.of(p).toAbsolutePath().toString();
      } catch (InvalidPathException e) {
        problem = "not a socket path: " + e.getReason();
      }
    }
    return new SidecarAddress(text, Kind.UNIX, null, 0, null, abs, problem);
  }

  /** Why grpc-java's DNS resolver cannot take {@code host:port} (it parses {@code //host:port} as a URI), or null. */
  private static String dnsProblem(String host, int port) {
    try {
      URI u = new URI("//" + host + ":" + port);
      if (u.getHost() != null && u.getPort() == port && u.getRawPath().isEmpty() && u.getRawQuery() == null
          && u.getRawFragment() == null && u.getRawUserInfo() == null) {
        return null;
      }
    } catch (URISyntaxException e) {
      // Not a URI authority at all: reported below.
    }
    return "grpc-java resolves host names through DNS, and " + quoted(host) + " is not a DNS name (labels of letters,"
        + " digits and '-', the last starting with a letter) nor an IPv4 address";
  }

  /** The engine's port: decimal digits only, 0 to 65535 (leading zeros allowed, as Rust's u16 parse allows them). */
  private static int port(String s) {
    boolean digits = !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
    String trimmed = digits ? s.replaceFirst("^0+(?=.)", "") : s;
    if (!digits || trimmed.length() > 5 || Integer.parseInt(trimmed) > 65535) {
      throw new IllegalArgumentException("the port must be a number from 0 to 65535, got " + quoted(s));
    }
    return Integer.parseInt(trimmed);
  }

  /** Unicode's White_Space property (Rust's {@code char::is_whitespace}, which {@code str::trim} also uses). */
  static boolean isWhiteSpace(int c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a)
        || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
  }

  /** Empty or only White_Space (Rust's {@code s.trim().is_empty()}). */
  static boolean isBlank(String s) {
    return s.codePoints().allMatch(SidecarAddress::isWhiteSpace);
  }

  /** A strict dotted quad: four decimal numbers 0-255, without leading zeros; null when it is not one. */
  private static byte[] ipv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] out = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')
          || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
        return null;
      }
      int n = Integer.parseInt(p);
      if (n > 255) {
        return null;
      }
      out[i] = (byte) n;
    }
    return out;
  }

  /** An IPv6 literal without a zone (Rust's {@code Ipv6Addr} parse), never resolved; null when it is not one. */
  private static InetAddress ipv6(String s) {
    boolean chars =
        s.indexOf(':') >= 0 && s.chars().allMatch(c -> c == ':' || c == '.' || (c < 0x80 && Character.digit(c, 16) >= 0));
    if (!chars) {
      return null;
    }
    try {
      // Brackets and a ':' make the JDK parse a literal or fail: it never falls back to a name lookup.
      return InetAddress.getByName("[" + s + "]");
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** The same address, named {@code name}, so that the channel's authority is the literal as written. */
  private static InetAddress named(String name, InetAddress a) {
    try {
      return InetAddress.getByAddress(name, a.getAddress());
    } catch (UnknownHostException e) {
      return a;
    }
  }

  private static String quoted(String s) {
    StringBuilder sb = new StringBuilder();
    Json.quote(sb, s);
    return sb.toString();
  }

  /**
   * Why grpc-java cannot dial this address although the configuration rules accept it, or {@code null}.
   *
   * @return the reason, or {@code null}
   */
  String dialProblem() {
    return dialProblem;
  }

  /**
   * Whether plaintext may go there: a loopback IP, {@code localhost}, or a Unix socket (this machine only).
   *
   * @return true when local
   */
  boolean isLocal() {
    switch (kind) {
      case UNIX:
        return true;
      case IP:
        return ip.isLoopbackAddress();
      default:
        return host.equalsIgnoreCase("localhost") || host.equalsIgnoreCase("localhost.");
    }
  }

  /**
   * The socket address of an IP literal (connected to directly, no name resolution).
   *
   * @return the address
   */
  InetSocketAddress socketAddress() {
    return new InetSocketAddress(ip, port);
  }

  /**
   * The grpc-java target: {@code dns:///name:port} for a host name, {@code unix:///path} (percent-encoded) for a
   * socket; IP literals use {@link #socketAddress()} instead.
   *
   * @return the target URI
   */
  String target() {
    if (kind == Kind.UNIX) {
      try {
        return new URI("unix", "", path, null, null).toASCIIString();
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("not a socket path: " + e.getReason());
      }
    }
    return "dns:///" + host + ":" + port;
  }

  /**
   * The address as configured.
   *
   * @return the text
   */
  @Override
  public String toString() {
    return text;
  }
}
