package dev.coresdk;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * A parsed {@code sidecar_addr}: the forms the Node and Python clients and the sidecar's {@code --addr} accept.
 *
 * <ul>
 *   <li>{@code [v6]:port}, e.g. {@code [::1]:50051} (the default): an IPv6 literal, always in brackets;
 *   <li>{@code a.b.c.d:port}, e.g. {@code 127.0.0.1:50051}: an IPv4 literal (dotted quad);
 *   <li>{@code name:port}, e.g. {@code localhost:50051}: a host name, resolved by DNS when the channel connects;
 *   <li>{@code unix:/path}, {@code unix:///path} (the gRPC URI form) or {@code unix:relative/path} (resolved
 *       against the working directory): a Unix domain socket.
 * </ul>
 *
 * <p>Anything else (no port, a port outside 1-65535, unbalanced brackets, an IPv6 address without brackets, a URL)
 * is refused by {@link #parse} with the reason, which {@link SDKConfig} reports as {@code ERR_CONFIG} naming the key
 * and the value. IP literals are parsed here, never looked up, so that the channel can connect to the socket address
 * directly instead of handing grpc-java a target string it cannot parse.
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

  /** The accepted forms, for error messages (the sidecar's own words, plus the host-name form). */
  static final String FORMS = "use [::1]:50051, 127.0.0.1:50051, localhost:50051 or unix:/path";

  /** The address as configured. */
  final String text;
  /** What it names. */
  final Kind kind;
  /** The IP literal (without brackets or zone) or the host name; {@code null} for a socket. */
  final String host;
  /** The port (1-65535); 0 for a socket. */
  final int port;
  /** The IP address, carrying {@link #host} as its name; {@code null} unless {@link Kind#IP}. */
  final InetAddress ip;
  /** The socket's absolute path; {@code null} unless {@link Kind#UNIX}. */
  final String path;

  private SidecarAddress(String text, Kind kind, String host, int port, InetAddress ip, String path) {
    this.text = text;
    this.kind = kind;
    this.host = host;
    this.port = port;
    this.ip = ip;
    this.path = path;
  }

  /**
   * Parses an address; never does a DNS lookup.
   *
   * @param text the address
   * @return the parsed address
   * @throws IllegalArgumentException with the reason, for a malformed address
   */
  static SidecarAddress parse(String text) {
    String s = text.strip();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("it is empty");
    }
    if (s.chars().anyMatch(Character::isISOControl)) {
      throw new IllegalArgumentException("it contains a control character");
    }
    if (s.startsWith("unix:")) {
      return unix(text, s.substring("unix:".length()));
    }
    if (s.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("it contains whitespace");
    }
    if (s.contains("://") || s.contains("/")) {
      throw new IllegalArgumentException("host:port has no scheme or path");
    }
    String hostText;
    String portText;
    InetAddress ip = null;
    if (s.startsWith("[")) {
      int end = s.indexOf(']');
      if (end < 0 || s.indexOf('[', 1) >= 0 || s.indexOf(']', end + 1) >= 0) {
        throw new IllegalArgumentException("unbalanced brackets");
      }
      hostText = s.substring(1, end);
      String rest = s.substring(end + 1);
      if (rest.isEmpty() || rest.equals(":")) {
        throw new IllegalArgumentException("no port");
      }
      if (!rest.startsWith(":")) {
        throw new IllegalArgumentException("expected :port after ']'");
      }
      portText = rest.substring(1);
      int port = port(portText);
      ip = ipv6(hostText);
      String name = hostText.contains("%") ? hostText.substring(0, hostText.indexOf('%')) : hostText;
      return new SidecarAddress(text, Kind.IP, name, port, named(name, ip), null);
    }
    if (s.indexOf('[') >= 0 || s.indexOf(']') >= 0) {
      throw new IllegalArgumentException("unbalanced brackets");
    }
    int colon = s.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("no port");
    }
    hostText = s.substring(0, colon);
    portText = s.substring(colon + 1);
    if (hostText.indexOf(':') >= 0) {
      throw new IllegalArgumentException("an IPv6 address needs brackets, as in [::1]:50051");
    }
    if (hostText.isEmpty()) {
      throw new IllegalArgumentException("no host");
    }
    if (portText.isEmpty()) {
      throw new IllegalArgumentException("no port");
    }
    int port = port(portText);
    if (hostText.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'))) {
      byte[] v4 = ipv4(hostText);
      try {
        ip = InetAddress.getByAddress(hostText, v4);
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException("not an IPv4 address: " + hostText);
      }
      return new SidecarAddress(text, Kind.IP, hostText, port, ip, null);
    }
    if (!hostName(hostText)) {
      throw new IllegalArgumentException(
          "not a host name: " + hostText + " (letters, digits, '-', '_', dot-separated)");
    }
    return new SidecarAddress(text, Kind.HOST, hostText, port, null, null);
  }

  private static SidecarAddress unix(String text, String rest) {
    String p = rest;
    if (p.startsWith("//") && p.length() > 2) {
      if (!p.startsWith("///")) {
        throw new IllegalArgumentException(
            "unix://NAME/... names a host; a socket is unix:/path or unix:///path");
      }
      p = p.substring(2);
    }
    if (p.isEmpty() || p.equals("//")) {
      throw new IllegalArgumentException("unix: needs a socket path");
    }
    try {
      return new SidecarAddress(text, Kind.UNIX, null, 0, null, Path.of(p).toAbsolutePath().toString());
    } catch (InvalidPathException e) {
      throw new IllegalArgumentException("not a socket path: " + e.getReason());
    }
  }

  private static int port(String s) {
    if (s.isEmpty() || s.length() > 5 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException("the port must be a number from 1 to 65535, got " + s);
    }
    int n = Integer.parseInt(s);
    if (n < 1 || n > 65535) {
      throw new IllegalArgumentException("the port must be a number from 1 to 65535, got " + s);
    }
    return n;
  }

  /** A strict dotted quad: four decimal numbers 0-255, without leading zeros (Node's {@code net.isIP}). */
  private static byte[] ipv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException("not an IPv4 address: " + s);
    }
    byte[] out = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')) {
        throw new IllegalArgumentException("not an IPv4 address: " + s);
      }
      int n = Integer.parseInt(p);
      if (n > 255) {
        throw new IllegalArgumentException("not an IPv4 address: " + s);
      }
      out[i] = (byte) n;
    }
    return out;
  }

  /** An IPv6 literal (with an optional {@code %zone}); the JDK parses it, never resolving it. */
  private static InetAddress ipv6(String s) {
    int pct = s.indexOf('%');
    String addr = pct < 0 ? s : s.substring(0, pct);
    String zone = pct < 0 ? "" : s.substring(pct + 1);
    boolean chars =
        addr.indexOf(':') >= 0 && addr.chars().allMatch(c -> c == ':' || c == '.' || Character.digit(c, 16) >= 0);
    boolean zoneOk = pct < 0 || (!zone.isEmpty() && zone.chars().allMatch(c -> c == '-' || c == '_' || c == '.'
        || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')));
    if (!chars || !zoneOk) {
      throw new IllegalArgumentException("not an IPv6 address in the brackets: " + s);
    }
    try {
      // Brackets and a ':' make the JDK parse a literal or fail: it never falls back to a name lookup.
      return InetAddress.getByName("[" + s + "]");
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IPv6 address in the brackets: " + s);
    }
  }

  /** The same address, named {@code name}, so that the channel's authority is the literal as written. */
  private static InetAddress named(String name, InetAddress a) {
    try {
      if (a instanceof Inet6Address && ((Inet6Address) a).getScopeId() > 0) {
        return Inet6Address.getByAddress(name, a.getAddress(), ((Inet6Address) a).getScopeId());
      }
      return InetAddress.getByAddress(name, a.getAddress());
    } catch (UnknownHostException e) {
      return a;
    }
  }

  private static boolean hostName(String s) {
    if (s.length() > 253) {
      return false;
    }
    String[] labels = (s.endsWith(".") ? s.substring(0, s.length() - 1) : s).split("\\.", -1);
    for (String l : labels) {
      if (l.isEmpty() || l.length() > 63 || l.startsWith("-") || l.endsWith("-")) {
        return false;
      }
      for (int i = 0; i < l.length(); i++) {
        char c = l.charAt(i);
        boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
            || c == '_';
        if (!ok) {
          return false;
        }
      }
    }
    return true;
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
