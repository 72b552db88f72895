package dev.coresdk.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs one case of clients/conformance/cases.json against an app on a port, and checks its {@code expect}. */
public final class Conformance {
  private static final Pattern TOKEN_REF = Pattern.compile("\\{\\{token:([a-z_]+)\\}\\}");

  private Conformance() {}

  /**
   * Every case, as (case, fail mode) pairs.
   *
   * @param w the world
   * @return the pairs
   */
  @SuppressWarnings("unchecked")
  public static List<Object[]> all(World w) {
    List<Object[]> out = new ArrayList<>();
    for (Object o : (List<Object>) w.cases.get("cases")) {
      Map<String, Object> c = (Map<String, Object>) o;
      for (Object mode : (List<Object>) c.get("fail_modes")) {
        out.add(new Object[] {c, mode});
      }
    }
    return out;
  }

  /**
   * Sends the case's request to 127.0.0.1:{@code port} and checks the answer.
   *
   * @param w the world (tokens)
   * @param c the case
   * @param port the app's port
   * @throws Exception on a socket error or a failed check
   */
  @SuppressWarnings("unchecked")
  public static void check(World w, Map<String, Object> c, int port) throws Exception {
    Map<String, Object> request = (Map<String, Object>) c.get("request");
    List<String[]> headers = new ArrayList<>();
    for (Object h : (List<Object>) request.get("headers")) {
      List<Object> pair = (List<Object>) h;
      Matcher m = TOKEN_REF.matcher((String) pair.get(1));
      StringBuilder value = new StringBuilder();
      while (m.find()) {
        m.appendReplacement(value, Matcher.quoteReplacement(w.tokens.get(m.group(1))));
      }
      m.appendTail(value);
      headers.add(new String[] {(String) pair.get(0), value.toString()});
    }
    RawHttp.Response r = RawHttp.request(port, (String) request.get("method"), (String) request.get("path"), headers);
    Map<String, Object> expect = (Map<String, Object>) c.get("expect");
    assertEquals(((Number) expect.get("status")).intValue(), r.status, "status; body: " + r.body);
    Map<String, Object> expHeaders = (Map<String, Object>) expect.getOrDefault("headers", Map.of());
    for (Map.Entry<String, Object> h : expHeaders.entrySet()) {
      assertEquals(List.of(h.getValue()), r.headers.get(h.getKey()), "header " + h.getKey());
    }
    for (Object absent : (List<Object>) expect.getOrDefault("absent_headers", List.of())) {
      assertFalse(r.headers.containsKey(((String) absent).toLowerCase(Locale.ROOT)), "header " + absent);
    }
    if (expect.containsKey("problem")) {
      String ct = r.header("content-type");
      assertNotNull(ct);
      assertTrue(ct.equals("application/problem+json") || ct.startsWith("application/problem+json;"), ct);
      Map<String, Object> body = (Map<String, Object>) r.json();
      Map<String, Object> problem = (Map<String, Object>) expect.get("problem");
      assertEquals(new ArrayList<>(problem.entrySet()), new ArrayList<>(body.entrySet()), "problem body, in order");
    }
    if (expect.containsKey("claims")) {
      Map<String, Object> body = (Map<String, Object>) r.json();
      Object expClaims = expect.get("claims");
      if (expClaims == null) {
        assertTrue(body.containsKey("claims"));
        assertNull(body.get("claims"));
      } else {
        Map<String, Object> got = (Map<String, Object>) body.get("claims");
        assertNotNull(got, "claims");
        for (Map.Entry<String, Object> e : ((Map<String, Object>) expClaims).entrySet()) {
          assertEquals(e.getValue(), got.get(e.getKey()), "claim " + e.getKey());
        }
      }
    }
    if (r.status != 200) {
      String everything = r.headers.toString() + r.body;
      for (String token : w.tokens.values()) {
        assertFalse(everything.contains(token), "a token leaked into the response");
      }
    }
  }
}
