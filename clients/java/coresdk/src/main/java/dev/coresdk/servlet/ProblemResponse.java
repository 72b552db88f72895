package dev.coresdk.servlet;

import dev.coresdk.internal.Json;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A response ready to send: status, headers (lower-case names) and the RFC 9457 body, exactly as the Node
 * middleware answers.
 *
 * @param status the HTTP status
 * @param headers {@code content-type}, {@code cache-control}, and {@code www-authenticate} / {@code retry-after}
 *     when they apply
 * @param body {@code type}, {@code title}, {@code status}, {@code detail}, {@code instance}, {@code code} and
 *     {@code trace_id} when known, in this order
 */
public record ProblemResponse(int status, Map<String, String> headers, Map<String, Object> body) {
  /**
   * A problem response (the maps are copied, keeping their order).
   *
   * @param status the HTTP status
   * @param headers the headers
   * @param body the body members
   */
  public ProblemResponse {
    headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
    body = Collections.unmodifiableMap(new LinkedHashMap<>(body));
  }

  /**
   * The stable error code of the body ({@code ERR_TOKEN_MISSING}, {@code ERR_POLICY_DENIED}...).
   *
   * @return the code
   */
  public String code() {
    return (String) body.get("code");
  }

  /**
   * The body as the Node middleware sends it ({@code JSON.stringify}: compact, same member order).
   *
   * @return UTF-8 bytes
   */
  public byte[] bodyBytes() {
    return Json.write(body).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Sends this problem (status, headers, body) on {@code response}.
   *
   * @param response the servlet response (not committed yet)
   * @throws IOException when writing fails
   */
  public void writeTo(HttpServletResponse response) throws IOException {
    byte[] bytes = bodyBytes();
    response.resetBuffer();
    response.setStatus(status);
    for (Map.Entry<String, String> h : headers.entrySet()) {
      if (h.getKey().equals("content-type")) {
        response.setContentType(h.getValue());
      } else {
        response.setHeader(h.getKey(), h.getValue());
      }
    }
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
    response.flushBuffer();
  }
}
