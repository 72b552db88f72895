package dev.coresdk.support;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/** A loopback HTTPS server for the key set ({@code /jwks}), the JDK's HttpsServer. */
public final class JwksServer implements AutoCloseable {
  private final HttpsServer server;
  private final ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
    Thread t = new Thread(r, "jwks-server");
    t.setDaemon(true);
    return t;
  });
  /** Requests served. */
  public final AtomicInteger requests = new AtomicInteger();
  /** {@code https://127.0.0.1:<port>/jwks}. */
  public final String url;

  /**
   * Serves {@code jwksJson} with the given server certificate.
   *
   * @param jwksJson the key set
   * @param cert the server certificate
   * @param key its key
   * @throws Exception when it cannot start
   */
  public JwksServer(String jwksJson, String cert, String key) throws Exception {
    byte[] body = jwksJson.getBytes(StandardCharsets.UTF_8);
    server = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 16);
    server.setHttpsConfigurator(new HttpsConfigurator(Pem.context(cert, key, null)));
    server.createContext("/jwks", ex -> {
      requests.incrementAndGet();
      ex.getResponseHeaders().add("content-type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    server.setExecutor(pool);
    server.start();
    url = "https://127.0.0.1:" + server.getAddress().getPort() + "/jwks";
  }

  @Override
  public void close() {
    server.stop(0);
    pool.shutdownNow();
  }
}
