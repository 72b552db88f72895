import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/**
 * Prints a development token for another user, signed with the key set that {@code coresdk-sidecar --dev} keeps in
 * the per-user state directory ({@code $XDG_STATE_HOME/coresdk/dev}, else {@code ~/.local/state/coresdk/dev}; the
 * {@code CORESDK_DEV_DIR} variable names another, as {@code --dev-dir} did). The sidecar itself prints an admin's
 * token; this one has the roles you name, so the policy can deny it.
 *
 * <pre>
 * java examples/spring-boot-app/DevToken.java carol viewer      # subject carol, roles ["viewer"]
 * </pre>
 */
public class DevToken {
  private static Path devDir() {
    String chosen = System.getenv("CORESDK_DEV_DIR");
    if (chosen != null && !chosen.isBlank()) {
      return Path.of(chosen);
    }
    String state = System.getenv("XDG_STATE_HOME");
    if (state != null && !state.isBlank()) {
      return Path.of(state, "coresdk", "dev");
    }
    return Path.of(System.getProperty("user.home"), ".local", "state", "coresdk", "dev");
  }

  public static void main(String[] args) throws Exception {
    String sub = args.length > 0 ? args[0] : "carol";
    StringBuilder roles = new StringBuilder();
    for (int i = 1; i < args.length; i++) {
      roles.append(roles.length() == 0 ? "" : ",").append('"').append(args[i].replaceAll("[^A-Za-z0-9_.-]", "")).append('"');
    }
    String pem = Files.readString(devDir().resolve("signing-key.pem"));
    byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
    PrivateKey key = KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
    long now = System.currentTimeMillis() / 1000;
    String header = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"coresdk-dev-1\"}";
    String payload = "{\"iss\":\"https://dev.coresdk.local\",\"aud\":\"coresdk-dev\",\"iat\":" + now + ",\"exp\":"
        + (now + 12 * 3600) + ",\"sub\":\"" + sub.replaceAll("[^A-Za-z0-9_.@-]", "") + "\",\"roles\":[" + roles + "]}";
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    String input = b64.encodeToString(header.getBytes(StandardCharsets.UTF_8)) + "."
        + b64.encodeToString(payload.getBytes(StandardCharsets.UTF_8));
    Signature sig = Signature.getInstance("Ed25519");
    sig.initSign(key);
    sig.update(input.getBytes(StandardCharsets.US_ASCII));
    System.out.println(input + "." + b64.encodeToString(sig.sign()));
  }
}
