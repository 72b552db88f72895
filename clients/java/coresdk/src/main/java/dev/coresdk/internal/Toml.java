package dev.coresdk.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A reader for the TOML that {@code coresdk.toml} uses: tables ({@code [sdk]}, {@code [tenants.acme]}), bare or
 * quoted keys, basic and literal strings (also multi-line), integers, floats, booleans, arrays and inline tables.
 * Dates and dotted keys are refused with an error naming the line, which the config loader reports as
 * {@code ERR_CONFIG}.
 */
public final class Toml {
  private final String s;
  private int pos;

  private Toml(String s) {
    this.s = s;
  }

  /**
   * Parses a TOML document.
   *
   * @param text the document
   * @return its tables and keys, in order ({@code Map}s for tables)
   * @throws IllegalArgumentException for invalid or unsupported syntax
   */
  public static Map<String, Object> parse(String text) {
    return new Toml(text).document();
  }

  private IllegalArgumentException fail(String why) {
    int line = 1;
    for (int i = 0; i < pos && i < s.length(); i++) {
      if (s.charAt(i) == '\n') {
        line++;
      }
    }
    return new IllegalArgumentException(why + " at line " + line);
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> document() {
    Map<String, Object> root = new LinkedHashMap<>();
    Map<String, Object> current = root;
    while (true) {
      skipBlank();
      if (pos >= s.length()) {
        return root;
      }
      char c = s.charAt(pos);
      if (c == '[') {
        pos++;
        if (pos < s.length() && s.charAt(pos) == '[') {
          throw fail("arrays of tables are not used by coresdk.toml");
        }
        List<String> path = new ArrayList<>();
        while (true) {
          inlineWs();
          path.add(key());
          inlineWs();
          if (peek() == '.') {
            pos++;
            continue;
          }
          expect(']');
          break;
        }
        current = root;
        for (int i = 0; i < path.size(); i++) {
          Object existing = current.get(path.get(i));
          if (existing == null) {
            Map<String, Object> t = new LinkedHashMap<>();
            current.put(path.get(i), t);
            current = t;
          } else if (existing instanceof Map) {
            current = (Map<String, Object>) existing;
          } else {
            throw fail("key " + path.get(i) + " is not a table");
          }
        }
        endOfLine();
      } else {
        String k = key();
        inlineWs();
        if (peek() == '.') {
          throw fail("dotted keys are not supported; use a [table]");
        }
        expect('=');
        inlineWs();
        Object v = value();
        if (current.containsKey(k)) {
          throw fail("duplicate key " + k);
        }
        current.put(k, v);
        endOfLine();
      }
    }
  }

  private char peek() {
    return pos < s.length() ? s.charAt(pos) : '\0';
  }

  private void expect(char c) {
    if (peek() != c) {
      throw fail("expected '" + c + "'");
    }
    pos++;
  }

  private void inlineWs() {
    while (pos < s.length() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\t')) {
      pos++;
    }
  }

  private void skipBlank() {
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        pos++;
      } else if (c == '#') {
        while (pos < s.length() && s.charAt(pos) != '\n') {
          pos++;
        }
      } else {
        return;
      }
    }
  }

  private void endOfLine() {
    inlineWs();
    if (peek() == '#') {
      while (pos < s.length() && s.charAt(pos) != '\n') {
        pos++;
      }
    }
    if (pos < s.length()) {
      if (peek() == '\r') {
        pos++;
      }
      if (peek() != '\n') {
        throw fail("expected the end of the line");
      }
      pos++;
    }
  }

  private String key() {
    char c = peek();
    if (c == '"') {
      return basicString();
    }
    if (c == '\'') {
      return literalString();
    }
    int start = pos;
    while (pos < s.length()) {
      char k = s.charAt(pos);
      if (Character.isLetterOrDigit(k) && k < 128 || k == '_' || k == '-') {
        pos++;
      } else {
        break;
      }
    }
    if (start == pos) {
      throw fail("expected a key");
    }
    return s.substring(start, pos);
  }

  private Object value() {
    char c = peek();
    if (c == '"') {
      return s.startsWith("\"\"\"", pos) ? multiBasic() : basicString();
    }
    if (c == '\'') {
      return s.startsWith("'''", pos) ? multiLiteral() : literalString();
    }
    if (c == '[') {
      return array();
    }
    if (c == '{') {
      return inlineTable();
    }
    if (s.startsWith("true", pos)) {
      pos += 4;
      return Boolean.TRUE;
    }
    if (s.startsWith("false", pos)) {
      pos += 5;
      return Boolean.FALSE;
    }
    return number();
  }

  private List<Object> array() {
    pos++;
    List<Object> out = new ArrayList<>();
    while (true) {
      skipBlank();
      if (peek() == ']') {
        pos++;
        return out;
      }
      out.add(value());
      skipBlank();
      if (peek() == ',') {
        pos++;
        continue;
      }
      skipBlank();
      expect(']');
      return out;
    }
  }

  private Map<String, Object> inlineTable() {
    pos++;
    Map<String, Object> out = new LinkedHashMap<>();
    inlineWs();
    if (peek() == '}') {
      pos++;
      return out;
    }
    while (true) {
      inlineWs();
      String k = key();
      inlineWs();
      expect('=');
      inlineWs();
      out.put(k, value());
      inlineWs();
      if (peek() == ',') {
        pos++;
        continue;
      }
      expect('}');
      return out;
    }
  }

  private Object number() {
    int start = pos;
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (Character.isLetterOrDigit(c) || c == '+' || c == '-' || c == '_' || c == '.' || c == ':') {
        pos++;
      } else {
        break;
      }
    }
    String t = s.substring(start, pos).replace("_", "");
    if (t.isEmpty()) {
      throw fail("expected a value");
    }
    try {
      if (t.startsWith("0x")) {
        return Long.parseLong(t.substring(2), 16);
      }
      if (t.matches("[+-]?\\d+")) {
        return Long.parseLong(t);
      }
      if (t.matches("[+-]?(\\d+(\\.\\d+)?([eE][+-]?\\d+)?|inf|nan)")) {
        return t.endsWith("inf")
            ? (t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY)
            : t.endsWith("nan") ? Double.NaN : Double.parseDouble(t);
      }
    } catch (NumberFormatException e) {
      throw fail("invalid number");
    }
    throw fail("unsupported value " + t);
  }

  private String literalString() {
    pos++;
    int start = pos;
    while (pos < s.length() && s.charAt(pos) != '\'') {
      if (s.charAt(pos) == '\n') {
        throw fail("unterminated string");
      }
      pos++;
    }
    if (pos >= s.length()) {
      throw fail("unterminated string");
    }
    return s.substring(start, pos++);
  }

  private String multiLiteral() {
    pos += 3;
    if (peek() == '\n') {
      pos++;
    }
    int end = s.indexOf("'''", pos);
    if (end < 0) {
      throw fail("unterminated string");
    }
    String out = s.substring(pos, end);
    pos = end + 3;
    return out;
  }

  private String basicString() {
    pos++;
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (pos >= s.length() || s.charAt(pos) == '\n') {
        throw fail("unterminated string");
      }
      char c = s.charAt(pos++);
      if (c == '"') {
        return sb.toString();
      }
      if (c == '\\') {
        escape(sb);
      } else {
        sb.append(c);
      }
    }
  }

  private String multiBasic() {
    pos += 3;
    if (peek() == '\n') {
      pos++;
    }
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (pos >= s.length()) {
        throw fail("unterminated string");
      }
      if (s.startsWith("\"\"\"", pos)) {
        pos += 3;
        return sb.toString();
      }
      char c = s.charAt(pos++);
      if (c == '\\') {
        if (peek() == '\n' || peek() == '\r' || peek() == ' ') {
          while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
            pos++;
          }
        } else {
          escape(sb);
        }
      } else {
        sb.append(c);
      }
    }
  }

  private void escape(StringBuilder sb) {
    char e = peek();
    pos++;
    switch (e) {
      case 'n':
        sb.append('\n');
        break;
      case 't':
        sb.append('\t');
        break;
      case 'r':
        sb.append('\r');
        break;
      case 'b':
        sb.append('\b');
        break;
      case 'f':
        sb.append('\f');
        break;
      case '"':
        sb.append('"');
        break;
      case '\\':
        sb.append('\\');
        break;
      case 'u':
      case 'U':
        int n = e == 'u' ? 4 : 8;
        if (pos + n > s.length()) {
          throw fail("short unicode escape");
        }
        try {
          sb.appendCodePoint(Integer.parseInt(s.substring(pos, pos + n), 16));
        } catch (IllegalArgumentException ex) {
          throw fail("bad unicode escape");
        }
        pos += n;
        break;
      default:
        throw fail("bad escape");
    }
  }
}
