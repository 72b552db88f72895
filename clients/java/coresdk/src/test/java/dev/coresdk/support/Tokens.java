package dev.coresdk.support;

import dev.coresdk.internal.Json;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** ES256 signing keys, their JWKS, and JWTs minted with the JDK's own ECDSA (no JWT library). */
public final class Tokens {
  private Tokens() {}

  /** An ES256 key pair and its kid. */
  public static final class Key {
    /** The kid. */
    public final String kid;
    /** The key pair. */
    public final KeyPair pair;

    Key(String kid, KeyPair pair) {
      this.kid = kid;
      this.pair = pair;
    }

    /**
     * The public JWK.
     *
     * @return the JWK members
     */
    public Map<String, Object> jwk() {
      ECPublicKey pub = (ECPublicKey) pair.getPublic();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kty", "EC");
      m.put("crv", "P-256");
      m.put("x", b64u(fixed(pub.getW().getAffineX())));
      m.put("y", b64u(fixed(pub.getW().getAffineY())));
      m.put("kid", kid);
      m.put("use", "sig");
      m.put("alg", "ES256");
      return m;
    }

    /**
     * A JWT signed by this key (header alg ES256, kid, typ JWT).
     *
     * @param claims the claims
     * @return the compact JWS
     */
    public String mint(Map<String, Object> claims) {
      Map<String, Object> header = new LinkedHashMap<>();
      header.put("alg", "ES256");
      header.put("kid", kid);
      header.put("typ", "JWT");
      String input = b64u(Json.write(header).getBytes(StandardCharsets.UTF_8)) + "."
          + b64u(Json.write(claims).getBytes(StandardCharsets.UTF_8));
      try {
        Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
        s.initSign(pair.getPrivate());
        s.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + b64u(s.sign());
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private static byte[] fixed(BigInteger n) {
    byte[] b = n.toByteArray();
    byte[] out = new byte[32];
    int len = Math.min(b.length, 32);
    System.arraycopy(b, b.length - len, out, 32 - len, len);
    return out;
  }

  /**
   * base64url without padding.
   *
   * @param data the bytes
   * @return the text
   */
  public static String b64u(byte[] data) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(data);
  }

  /**
   * A fresh P-256 key.
   *
   * @param kid its kid
   * @return the key
   */
  public static Key make(String kid) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return new Key(kid, g.generateKeyPair());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A key set of the keys' public JWKs.
   *
   * @param keys the keys
   * @return the JWKS JSON
   */
  public static String jwks(Key... keys) {
    List<Object> list = new java.util.ArrayList<>();
    for (Key k : keys) {
      list.add(k.jwk());
    }
    return Json.write(Map.of("keys", list));
  }

  /**
   * {@code token} with its payload replaced by {@code claims} (signature kept).
   *
   * @param token the token
   * @param claims the new payload
   * @return the tampered token
   */
  public static String tamper(String token, Map<String, Object> claims) {
    String[] parts = token.split("\\.");
    return parts[0] + "." + b64u(Json.write(claims).getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
  }

  /**
   * Seconds since the epoch.
   *
   * @return now
   */
  public static long now() {
    return System.currentTimeMillis() / 1000;
  }
}
