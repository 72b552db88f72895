import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/**
 * Prints a development token for another user, signed with the key set that {@code coresdk-sidecar --dev} made in
 * {@code ./.coresdk/dev/} (run it where the sidecar runs). The sidecar itself prints an admin's token; this one has
 * the roles you name, so the policy can deny it.
 *
 * <pre>
 * java examples/spring-boot-app/DevToken.java carol viewer      # subject carol, roles ["viewer"]
 * </pre>
 */
public class DevToken {
  public static void main(String[] args) throws Exception {
    String sub = args.length > 0 ? args[0] : "carol";
    StringBuilder roles = new StringBuilder();
    for (int i = 1; i < args.length; i++) {
      roles.append(roles.length() == 0 ? "" : ",").append('"').append(args[i].replaceAll("[^A-Za-z0-9_.-]", "")).append('"');
    }
    String pem = Files.readString(Path.of(".coresdk", "dev", "signing-key.pem"));
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
