package dev.coresdk.internal;

import dev.coresdk.CoreSDKException;
import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A small JSON writer and reader for policy inputs, claims and problem bodies, so that the SDK needs no JSON library
 * (and never clashes with the application's).
 *
 * <p>Writing accepts {@code null}, {@link Boolean}, {@link Number}, {@link CharSequence}, {@link Character},
 * {@link Enum} (its name), {@link Map} with string keys, {@link Iterable}, arrays and {@link Optional}; anything else
 * is {@code ERR_INPUT_INVALID}. The output is compact and keeps a map's iteration order, as {@code JSON.stringify}
 * does. Reading gives {@link LinkedHashMap}, {@link ArrayList}, {@link String}, {@link Boolean}, {@link Long} (or
 * {@link BigInteger}), {@link Double} and {@code null}.
 */
public final class Json {
  private static final int MAX_DEPTH = 512;

  private Json() {}

  /**
   * Serializes {@code value} as compact JSON.
   *
   * @param value the value
   * @return the JSON text
   * @throws CoreSDKException {@code ERR_INPUT_INVALID} or {@code ERR_INPUT_TOO_DEEP}
   */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, 0, Collections.newSetFromMap(new IdentityHashMap<>()));
    return sb.toString();
  }

  private static void write(StringBuilder sb, Object v, int depth, Set<Object> seen) {
    if (depth > MAX_DEPTH) {
      throw new CoreSDKException("ERR_INPUT_TOO_DEEP", "input nested too deeply to serialize");
    }
    if (v == null) {
      sb.append("null");
    } else if (v instanceof Boolean) {
      sb.append(v.toString());
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        throw new CoreSDKException("ERR_INPUT_INVALID", "invalid input: NaN and infinite numbers are not JSON");
      }
      if (d == Math.rint(d) && Math.abs(d) < 1e15) {
        sb.append((long) d);
      } else {
        sb.append(v instanceof Float ? Float.toString((Float) v) : Double.toString(d));
      }
    } else if (v instanceof BigDecimal) {
      sb.append(((BigDecimal) v).toPlainString());
    } else if (v instanceof Number) {
      sb.append(v.toString());
    } else if (v instanceof CharSequence || v instanceof Character) {
      quote(sb, v.toString());
    } else if (v instanceof Enum) {
      quote(sb, ((Enum<?>) v).name());
    } else if (v instanceof Optional) {
      write(sb, ((Optional<?>) v).orElse(null), depth, seen);
    } else if (v instanceof Map) {
      if (!seen.add(v)) {
        throw new CoreSDKException("ERR_INPUT_INVALID", "invalid input: a circular reference");
      }
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (!(e.getKey() instanceof String)) {
          throw new CoreSDKException("ERR_INPUT_INVALID", "invalid input: object keys must be strings");
        }
        if (!first) {
          sb.append(',');
        }
        first = false;
        quote(sb, (String) e.getKey());
        sb.append(':');
        write(sb, e.getValue(), depth + 1, seen);
      }
      sb.append('}');
      seen.remove(v);
    } else if (v instanceof Iterable) {
      if (!seen.add(v)) {
        throw new CoreSDKException("ERR_INPUT_INVALID", "invalid input: a circular reference");
      }
      sb.append('[');
      boolean first = true;
      for (Object item : (Iterable<?>) v) {
        if (!first) {
          sb.append(',');
        }
        first = false;
        write(sb, item, depth + 1, seen);
      }
      sb.append(']');
      seen.remove(v);
    } else if (v.getClass().isArray()) {
      sb.append('[');
      int n = Array.getLength(v);
      for (int i = 0; i < n; i++) {
        if (i > 0) {
          sb.append(',');
        }
        write(sb, Array.get(v, i), depth + 1, seen);
      }
      sb.append(']');
    } else {
      throw new CoreSDKException(
          "ERR_INPUT_INVALID", "invalid input: " + v.getClass().getSimpleName() + " is not JSON serializable");
    }
  }

  /**
   * Appends {@code s} as a JSON string (as {@code JSON.stringify} escapes it).
   *
   * @param sb where to append
   * @param s the text
   */
  public static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          sb.append("\\\"");
          break;
        case '\\':
          sb.append("\\\\");
          break;
        case '\n':
          sb.append("\\n");
          break;
        case '\r':
          sb.append("\\r");
          break;
        case '\t':
          sb.append("\\t");
          break;
        case '\b':
          sb.append("\\b");
          break;
        case '\f':
          sb.append("\\f");
          break;
        default:
          if (c < 0x20 || (Character.isSurrogate(c) && !pairedSurrogate(s, i))) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }

  private static boolean pairedSurrogate(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c)) {
      return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }

  /**
   * Parses JSON text.
   *
   * @param text the text
   * @return the value
   * @throws IllegalArgumentException when the text is not JSON
   */
  public static Object parse(String text) {
    Reader r = new Reader(text);
    r.ws();
    Object v = r.value(0);
    r.ws();
    if (r.pos != text.length()) {
      throw r.fail("trailing characters");
    }
    return v;
  }

  private static final class Reader {
    private final String s;
    private int pos;

    Reader(String s) {
      this.s = s;
    }

    IllegalArgumentException fail(String why) {
      return new IllegalArgumentException("invalid JSON at offset " + pos + ": " + why);
    }

    void ws() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
          pos++;
        } else {
          break;
        }
      }
    }

    Object value(int depth) {
      if (depth > MAX_DEPTH) {
        throw fail("nested too deeply");
      }
      if (pos >= s.length()) {
        throw fail("unexpected end");
      }
      char c = s.charAt(pos);
      switch (c) {
        case '{':
          return object(depth);
        case '[':
          return array(depth);
        case '"':
          return string();
        case 't':
          return literal("true", Boolean.TRUE);
        case 'f':
          return literal("false", Boolean.FALSE);
        case 'n':
          return literal("null", null);
        default:
          return number();
      }
    }

    Object literal(String word, Object v) {
      if (!s.startsWith(word, pos)) {
        throw fail("unexpected character");
      }
      pos += word.length();
      return v;
    }

    Map<String, Object> object(int depth) {
      Map<String, Object> m = new LinkedHashMap<>();
      pos++;
      ws();
      if (pos < s.length() && s.charAt(pos) == '}') {
        pos++;
        return m;
      }
      while (true) {
        ws();
        if (pos >= s.length() || s.charAt(pos) != '"') {
          throw fail("expected a member name");
        }
        String k = string();
        ws();
        expect(':');
        ws();
        m.put(k, value(depth + 1));
        ws();
        if (pos < s.length() && s.charAt(pos) == ',') {
          pos++;
          continue;
        }
        expect('}');
        return m;
      }
    }

    List<Object> array(int depth) {
      List<Object> l = new ArrayList<>();
      pos++;
      ws();
      if (pos < s.length() && s.charAt(pos) == ']') {
        pos++;
        return l;
      }
      while (true) {
        ws();
        l.add(value(depth + 1));
        ws();
        if (pos < s.length() && s.charAt(pos) == ',') {
          pos++;
          continue;
        }
        expect(']');
        return l;
      }
    }

    void expect(char c) {
      if (pos >= s.length() || s.charAt(pos) != c) {
        throw fail("expected '" + c + "'");
      }
      pos++;
    }

    String string() {
      pos++;
      StringBuilder sb = new StringBuilder();
      while (true) {
        if (pos >= s.length()) {
          throw fail("unterminated string");
        }
        char c = s.charAt(pos++);
        if (c == '"') {
          return sb.toString();
        }
        if (c == '\\') {
          if (pos >= s.length()) {
            throw fail("unterminated escape");
          }
          char e = s.charAt(pos++);
          switch (e) {
            case '"':
            case '\\':
            case '/':
              sb.append(e);
              break;
            case 'b':
              sb.append('\b');
              break;
            case 'f':
              sb.append('\f');
              break;
            case 'n':
              sb.append('\n');
              break;
            case 'r':
              sb.append('\r');
              break;
            case 't':
              sb.append('\t');
              break;
            case 'u':
              if (pos + 4 > s.length()) {
                throw fail("short unicode escape");
              }
              try {
                sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
              } catch (NumberFormatException ex) {
                throw fail("bad unicode escape");
              }
              pos += 4;
              break;
            default:
              throw fail("bad escape");
          }
        } else if (c < 0x20) {
          throw fail("control character in a string");
        } else {
          sb.append(c);
        }
      }
    }

    Object number() {
      int start = pos;
      if (pos < s.length() && s.charAt(pos) == '-') {
        pos++;
      }
      boolean frac = false;
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c >= '0' && c <= '9') {
          pos++;
        } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
          frac = true;
          pos++;
        } else {
          break;
        }
      }
      String t = s.substring(start, pos);
      if (t.isEmpty() || t.equals("-")) {
        throw fail("unexpected character");
      }
      try {
        if (frac) {
          return Double.parseDouble(t);
        }
        BigInteger b = new BigInteger(t);
        return b.bitLength() < 64 ? (Object) b.longValue() : b;
      } catch (NumberFormatException ex) {
        throw fail("bad number");
      }
    }
  }
}
