package dev.coresdk.servlet;

import java.util.List;
import java.util.regex.Pattern;

/**
 * What a request's {@code Authorization} headers hold, classified as RFC 6750 §2.1 says: exactly one header; scheme
 * {@code Bearer} in any case; one space or more; a b64token.
 */
final class Bearer {
  private static final Pattern B64TOKEN = Pattern.compile("^[A-Za-z0-9\\-._~+/]+=*$");

  /** {@code NONE}: no header or another scheme (401); {@code MALFORMED}: 400; {@code TOKEN}: verify it. */
  enum Kind {
    NONE,
    TOKEN,
    MALFORMED
  }

  final Kind kind;
  final String token;
  final String detail;

  private Bearer(Kind kind, String token, String detail) {
    this.kind = kind;
    this.token = token;
    this.detail = detail;
  }

  static Bearer of(List<String> values) {
    if (values.isEmpty()) {
      return new Bearer(Kind.NONE, "", "");
    }
    if (values.size() > 1) {
      return new Bearer(Kind.MALFORMED, "", "more than one Authorization header");
    }
    String value = values.get(0).strip();
    int ws = -1;
    for (int i = 0; i < value.length(); i++) {
      if (Character.isWhitespace(value.charAt(i))) {
        ws = i;
        break;
      }
    }
    String scheme = ws < 0 ? value : value.substring(0, ws);
    if (!scheme.equalsIgnoreCase("bearer")) {
      return new Bearer(Kind.NONE, "", "");
    }
    String token = ws < 0 ? "" : value.substring(ws).strip();
    if (token.isEmpty()) {
      return new Bearer(Kind.MALFORMED, "", "the Bearer scheme needs a token");
    }
    if (!B64TOKEN.matcher(token).matches()) {
      return new Bearer(Kind.MALFORMED, "", "the bearer token has characters a token cannot have");
    }
    return new Bearer(Kind.TOKEN, token, "");
  }
}
