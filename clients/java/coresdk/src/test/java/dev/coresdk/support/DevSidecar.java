package dev.coresdk.support;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.HealthStatus;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code coresdk-sidecar --dev} (the repository's {@code node dist/sidecar/cli.js --dev}) on its documented default
 * address, {@code [::1]:50051}, exactly where the README, docs/java.md and {@code SDKConfig}'s defaults point.
 */
public final class DevSidecar {
  /** The documented default address. */
  public static final String DEFAULT_ADDR = "[::1]:50051";

  private DevSidecar() {}

  /**
   * Starts {@code --dev} with no {@code --addr}, so that it listens on {@link #DEFAULT_ADDR}. Only the AuthZEN
   * listener, which the Java client never uses, is moved off its development port (50080) with
   * {@code --authzen-addr [::1]:0}.
   *
   * @param cwd the working directory (where {@code --dev} writes its key set, {@code .coresdk/dev/})
   * @return the running sidecar, serving
   * @throws Exception when it does not start, or {@code [::1]:50051} stays taken for 30 s
   */
  public static Sidecar start(Path cwd) throws Exception {
    awaitFree(30);
    Sidecar s = new Sidecar(Map.of(), List.of("--dev", "--authzen-addr", "[::1]:0"), cwd, true);
    if (!DEFAULT_ADDR.equals(s.addr)) {
      s.close();
      throw new IllegalStateException("--dev listened on " + s.addr + ", not on " + DEFAULT_ADDR);
    }
    return s;
  }

  /** Waits until nothing listens on [::1]:50051 (another test's sidecar may still be exiting). */
  private static void awaitFree(int seconds) throws Exception {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    IOException last;
    do {
      try (ServerSocket probe = new ServerSocket()) {
        probe.bind(new InetSocketAddress(InetAddress.getByName("::1"), 50051));
        return;
      } catch (IOException e) {
        last = e;
      }
      Thread.sleep(100);
    } while (System.nanoTime() < deadline);
    throw new IllegalStateException(
        DEFAULT_ADDR + " is taken (" + last.getMessage() + "): the tests start coresdk-sidecar --dev on the"
            + " documented default address; stop whatever listens there (another --dev sidecar?)");
  }

  /**
   * Waits until {@code sdk} sees the sidecar {@code SERVING}: the first call of a JVM loads gRPC, Netty and the
   * messages and opens the connection, which on a loaded machine can take longer than the default 1 s deadline (a
   * fail-open, then a 403, rather than the answer under test). Fails if it never does.
   *
   * @param sdk the client (with its own settings, untouched)
   * @throws InterruptedException when interrupted
   */
  public static void awaitServing(CoreSDKClient sdk) throws InterruptedException {
    HealthStatus last = null;
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (System.nanoTime() < deadline) {
      last = sdk.health();
      if (last == HealthStatus.SERVING) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("the client for " + sdk.config().sidecarAddr() + " never saw the sidecar SERVING: " + last);
  }

  /**
   * The development token {@code --dev} printed (subject {@code dev-user}, role {@code admin}).
   *
   * @param s the sidecar
   * @return the token
   * @throws InterruptedException when interrupted
   */
  public static String token(Sidecar s) throws InterruptedException {
    for (int tries = 0; tries < 200; tries++) {
      synchronized (s.stdout) {
        for (int i = 0; i + 1 < s.stdout.size(); i++) {
          if (s.stdout.get(i).startsWith("Development token")) {
            return s.stdout.get(i + 1).strip();
          }
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the --dev sidecar printed no development token");
  }
}
