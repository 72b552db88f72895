package dev.coresdk.support;

import dev.coresdk.internal.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The repository's sidecar as a real child process: {@code node dist/sidecar/cli.js}. */
public final class Sidecar implements AutoCloseable {
  private static final Map<String, Object> EOF = Map.of();
  private final Process proc;
  private final LinkedBlockingQueue<Map<String, Object>> lines = new LinkedBlockingQueue<>();
  /** Every stdout line, in order. */
  public final List<String> stdout = Collections.synchronizedList(new ArrayList<>());
  private final StringBuffer stderr = new StringBuffer();
  private final List<Map<String, Object>> logs = Collections.synchronizedList(new ArrayList<>());
  /** Where it listens (from its {@code listening} log line). */
  public final String addr;

  /**
   * Starts a sidecar.
   *
   * @param env its CORESDK_* variables (the test JVM's are not passed on)
   * @param args command-line arguments
   * @param cwd its working directory, or {@code null}
   * @param waitServing whether to wait for the {@code serving} log line too
   * @throws Exception when it does not start
   */
  public Sidecar(Map<String, String> env, List<String> args, Path cwd, boolean waitServing) throws Exception {
    Path bin = Repo.root().resolve("dist/sidecar/cli.js");
    if (!Files.isRegularFile(bin)) {
      throw new IllegalStateException(bin + " is missing: run `npm ci` (or `npm run build:ts`) at the repository root");
    }
    List<String> cmd = new ArrayList<>(List.of("node", bin.toString()));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().keySet().removeIf(k -> k.startsWith("CORESDK_"));
    pb.environment().putAll(env);
    if (cwd != null) {
      pb.directory(cwd.toFile());
    }
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    proc = pb.start();
    Thread out = new Thread(this::readStdout, "sidecar-stdout");
    out.setDaemon(true);
    out.start();
    Thread err = new Thread(this::readStderr, "sidecar-stderr");
    err.setDaemon(true);
    err.start();
    try {
      addr = (String) waitFor("listening", 30).get("addr");
      if (waitServing) {
        waitFor("serving", 30);
      }
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  @SuppressWarnings("unchecked")
  private void readStdout() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        stdout.add(line);
        if (line.startsWith("{")) {
          try {
            Object v = Json.parse(line);
            if (v instanceof Map) {
              logs.add((Map<String, Object>) v);
              lines.add((Map<String, Object>) v);
            }
          } catch (IllegalArgumentException ignored) {
            // not a log record
          }
        }
      }
    } catch (IOException ignored) {
      // the process ended
    }
    lines.add(EOF);
  }

  private void readStderr() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getErrorStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        stderr.append(line).append('\n');
      }
    } catch (IOException ignored) {
      // the process ended
    }
  }

  /**
   * The first log line with {@code event} (fails if the process exits first).
   *
   * @param event the event name
   * @param seconds how long to wait
   * @return the log record
   * @throws Exception on timeout or exit
   */
  public Map<String, Object> waitFor(String event, int seconds) throws Exception {
    synchronized (logs) {
      for (Map<String, Object> rec : logs) {
        if (event.equals(rec.get("event"))) {
          return rec;
        }
      }
    }
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new IllegalStateException("sidecar: no " + event + " log line in " + seconds + " s; stderr: " + stderr);
      }
      Map<String, Object> rec = lines.poll(left, TimeUnit.NANOSECONDS);
      if (rec == EOF) {
        lines.add(EOF);
        throw new IllegalStateException("sidecar exited before " + event + "; stderr: " + stderr);
      }
      if (rec != null && event.equals(rec.get("event"))) {
        return rec;
      }
    }
  }

  /**
   * Whether the process still runs.
   *
   * @return true when it does
   */
  public boolean alive() {
    return proc.isAlive();
  }

  /** SIGTERM, then wait (SIGKILL after 10 s). */
  @Override
  public void close() {
    if (proc.isAlive()) {
      proc.destroy();
      try {
        if (!proc.waitFor(10, TimeUnit.SECONDS)) {
          proc.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
