package dev.coresdk.support;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Accepts TCP connections on loopback and never answers a byte (a "slow" sidecar). */
public final class BlackHole implements AutoCloseable {
  private final ServerSocket server;
  private final List<Socket> held = new CopyOnWriteArrayList<>();
  /** The port. */
  public final int port;

  /**
   * Starts listening.
   *
   * @throws IOException when it cannot bind
   */
  public BlackHole() throws IOException {
    server = new ServerSocket(0, 64, InetAddress.getByName("127.0.0.1"));
    port = server.getLocalPort();
    Thread t = new Thread(() -> {
      while (!server.isClosed()) {
        try {
          held.add(server.accept());
        } catch (IOException e) {
          return;
        }
      }
    }, "black-hole");
    t.setDaemon(true);
    t.start();
  }

  /**
   * A loopback port where nothing listens.
   *
   * @return the port
   * @throws IOException when no port can be had
   */
  public static int deadPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : held) {
      s.close();
    }
  }
}
