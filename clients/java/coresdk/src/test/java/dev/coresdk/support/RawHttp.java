package dev.coresdk.support;

import dev.coresdk.internal.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** HTTP/1.1 over a plain socket, with exactly the header lines given (repeated names stay separate lines). */
public final class RawHttp {
  private RawHttp() {}

  /** A response: status, headers (lower-case names, every value) and body. */
  public static final class Response {
    /** The status. */
    public final int status;
    /** Header values by lower-case name. */
    public final Map<String, List<String>> headers;
    /** The body text. */
    public final String body;

    Response(int status, Map<String, List<String>> headers, String body) {
      this.status = status;
      this.headers = headers;
      this.body = body;
    }

    /**
     * The only (or first) value of a header.
     *
     * @param name lower-case name
     * @return the value, or null
     */
    public String header(String name) {
      List<String> v = headers.get(name);
      return v == null || v.isEmpty() ? null : v.get(0);
    }

    /**
     * The body as JSON.
     *
     * @return the parsed value
     */
    public Object json() {
      return Json.parse(body);
    }
  }

  /**
   * Sends one request to 127.0.0.1:{@code port} (Connection: close) and reads the response.
   *
   * @param port the port
   * @param method the method
   * @param path the path (with query)
   * @param headers header lines as name/value pairs
   * @return the response
   * @throws IOException on a socket error
   */
  public static Response request(int port, String method, String path, List<String[]> headers) throws IOException {
    try (Socket s = new Socket(InetAddress.getByName("127.0.0.1"), port)) {
      s.setSoTimeout(30_000);
      StringBuilder req = new StringBuilder();
      req.append(method).append(' ').append(path).append(" HTTP/1.1\r\n");
      req.append("Host: 127.0.0.1:").append(port).append("\r\n");
      for (String[] h : headers) {
        req.append(h[0]).append(": ").append(h[1]).append("\r\n");
      }
      req.append("Connection: close\r\n");
      if (method.equals("POST") || method.equals("PUT")) {
        req.append("Content-Length: 0\r\n");
      }
      req.append("\r\n");
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      in.transferTo(buf);
      return parse(buf.toByteArray());
    }
  }

  private static Response parse(byte[] raw) throws IOException {
    String text = new String(raw, StandardCharsets.ISO_8859_1);
    int end = text.indexOf("\r\n\r\n");
    if (end < 0) {
      throw new IOException("no HTTP response head in: " + text);
    }
    String[] head = text.substring(0, end).split("\r\n");
    int status = Integer.parseInt(head[0].split(" ")[1]);
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (int i = 1; i < head.length; i++) {
      int c = head[i].indexOf(':');
      headers.computeIfAbsent(head[i].substring(0, c).strip().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
          .add(head[i].substring(c + 1).strip());
    }
    byte[] bodyBytes = java.util.Arrays.copyOfRange(raw, end + 4, raw.length);
    String te = headers.containsKey("transfer-encoding") ? headers.get("transfer-encoding").get(0) : "";
    if (te.equalsIgnoreCase("chunked")) {
      bodyBytes = dechunk(bodyBytes);
    }
    return new Response(status, headers, new String(bodyBytes, StandardCharsets.UTF_8));
  }

  private static byte[] dechunk(byte[] b) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int i = 0;
    while (i < b.length) {
      int lineEnd = i;
      while (lineEnd + 1 < b.length && !(b[lineEnd] == '\r' && b[lineEnd + 1] == '\n')) {
        lineEnd++;
      }
      String sizeText = new String(b, i, lineEnd - i, StandardCharsets.ISO_8859_1).split(";")[0].strip();
      int size = sizeText.isEmpty() ? 0 : Integer.parseInt(sizeText, 16);
      if (size == 0) {
        break;
      }
      out.write(b, lineEnd + 2, size);
      i = lineEnd + 2 + size + 2;
    }
    return out.toByteArray();
  }
}
