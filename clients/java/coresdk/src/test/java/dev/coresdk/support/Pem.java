package dev.coresdk.support;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** PEM files as JDK TLS contexts. */
public final class Pem {
  private Pem() {}

  private static byte[] der(String pem, String label) {
    int start = pem.indexOf("-----BEGIN " + label + "-----");
    int end = pem.indexOf("-----END " + label + "-----");
    String b64 = pem.substring(start + label.length() + 16, end).replaceAll("\\s", "");
    return Base64.getDecoder().decode(b64);
  }

  /**
   * A server (or client) context with this certificate and PKCS#8 EC key, trusting {@code caFile} when given.
   *
   * @param certFile the certificate
   * @param keyFile the key
   * @param caFile a CA to trust, or {@code null}
   * @return the context
   * @throws Exception when the files do not load
   */
  public static SSLContext context(String certFile, String keyFile, String caFile) throws Exception {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    Certificate cert = cf.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(Path.of(certFile))));
    PrivateKey key = KeyFactory.getInstance("EC")
        .generatePrivate(new PKCS8EncodedKeySpec(der(Files.readString(Path.of(keyFile)), "PRIVATE KEY")));
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("k", key, new char[0], new Certificate[] {cert});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, new char[0]);
    TrustManagerFactory tmf = null;
    if (caFile != null) {
      KeyStore ts = KeyStore.getInstance("PKCS12");
      ts.load(null, null);
      ts.setCertificateEntry("ca", cf.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(Path.of(caFile)))));
      tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ts);
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
    return ctx;
  }

  /**
   * A client context trusting {@code caFile} only.
   *
   * @param caFile the CA
   * @return the context
   * @throws Exception when the file does not load
   */
  public static SSLContext trusting(String caFile) throws Exception {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    ts.setCertificateEntry("ca", cf.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(Path.of(caFile)))));
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }
}
