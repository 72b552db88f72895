package dev.coresdk.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A mutual-TLS PKI made for the tests by the openssl CLI (as the Node and Python suites do): a CA, a server
 * certificate for [::1] / 127.0.0.1 / localhost, a client certificate from the same CA, and a client certificate
 * from another CA (an intruder).
 */
public final class Pki {
  /** The CA certificate (PEM). */
  public final String caFile;
  /** The server certificate. */
  public final String serverCert;
  /** The server key (PKCS#8). */
  public final String serverKey;
  /** The client certificate. */
  public final String clientCert;
  /** The client key. */
  public final String clientKey;
  /** A client certificate from another CA. */
  public final String intruderCert;
  /** Its key. */
  public final String intruderKey;

  private Pki(Path d) {
    caFile = d.resolve("ca.pem").toString();
    serverCert = d.resolve("server.pem").toString();
    serverKey = d.resolve("server.key").toString();
    clientCert = d.resolve("client.pem").toString();
    clientKey = d.resolve("client.key").toString();
    intruderCert = d.resolve("intruder.pem").toString();
    intruderKey = d.resolve("intruder.key").toString();
  }

  private static void run(Path cwd, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add("openssl");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("openssl " + String.join(" ", args) + " failed: " + new String(out));
    }
  }

  private static void ca(Path d, String name) throws IOException, InterruptedException {
    run(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
        "-out", name + ".pem", "-days", "2", "-subj", "/CN=coresdk " + name, "-addext",
        "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  }

  private static void issue(Path d, String ca, String name, String usage) throws IOException, InterruptedException {
    run(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key", "-out",
        name + ".csr", "-subj", "/CN=" + name);
    String san = usage.equals("serverAuth") ? "subjectAltName=IP:::1,IP:127.0.0.1,DNS:localhost"
        : "subjectAltName=DNS:" + name;
    Files.writeString(d.resolve(name + ".ext"), san + "\nbasicConstraints=critical,CA:FALSE\n"
        + "keyUsage=critical,digitalSignature\nextendedKeyUsage=" + usage + "\n");
    byte[] serial = new byte[8];
    new SecureRandom().nextBytes(serial);
    serial[0] &= 0x7f;
    run(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-set_serial",
        "0x" + HexFormat.of().formatHex(serial), "-days", "2", "-sha256", "-extfile", name + ".ext", "-out",
        name + ".pem");
  }

  /**
   * Makes the PKI in {@code d}.
   *
   * @param d an empty directory
   * @return the file paths
   * @throws Exception when openssl fails
   */
  public static Pki make(Path d) throws Exception {
    Files.createDirectories(d);
    ca(d, "ca");
    ca(d, "other-ca");
    issue(d, "ca", "server", "serverAuth");
    issue(d, "ca", "client", "clientAuth");
    issue(d, "other-ca", "intruder", "clientAuth");
    return new Pki(d);
  }
}
