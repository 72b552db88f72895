package dev.coresdk;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.coresdk.support.Sidecar;
import dev.coresdk.support.Tokens;
import dev.coresdk.support.World;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Scope;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The active OpenTelemetry span's traceparent travels to the sidecar: a real sidecar exporting its spans over
 * OTLP/HTTP to a loopback receiver, whose requests must carry the caller's trace id.
 */
class OtelTest {
  @Test
  void theActiveSpansTraceparentReachesTheSidecar(@TempDir Path tmp) throws Exception {
    World w = World.get();
    List<byte[]> bodies = new CopyOnWriteArrayList<>();
    HttpServer otlp = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 16);
    otlp.createContext("/", ex -> {
      bodies.add(ex.getRequestBody().readAllBytes());
      ex.sendResponseHeaders(200, -1);
      ex.close();
    });
    otlp.start();
    Files.writeString(tmp.resolve("jwks.json"), Tokens.jwks(w.key));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("CORESDK_SIDECAR_ADDR", "127.0.0.1:0");
    env.put("CORESDK_SIDECAR_INSECURE_DEV", "true");
    env.put("CORESDK_POLICY_DIR", w.dir.resolve("bundle").toString());
    env.put("CORESDK_JWKS_FILE", tmp.resolve("jwks.json").toString());
    env.put("CORESDK_ISSUER", (String) w.setup.get("issuer"));
    env.put("CORESDK_AUDIENCE", (String) w.setup.get("audience"));
    env.put("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + otlp.getAddress().getPort());
    env.put("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    env.put("OTEL_METRIC_EXPORT_INTERVAL", "600000");
    String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    byte[] traceBytes = HexFormat.of().parseHex(traceId);
    try (Sidecar s = new Sidecar(env, List.of(), null, true);
        CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().sidecarAddr(s.addr).build())) {
      Span parent = Span.wrap(SpanContext.create(
          traceId, "00f067aa0ba902b7", TraceFlags.getSampled(), TraceState.getDefault()));
      Scope scope = parent.makeCurrent();
      try {
        assertTrue(sdk.evaluatePolicy("data.authz.allow", Map.of("claims", Map.of("role", "admin"))).allowed());
        assertTrue(sdk.evaluatePolicyAsync("data.authz.allow", Map.of()).join().defined());
      } finally {
        scope.close();
      }
      boolean seen = false;
      for (int i = 0; i < 200 && !seen; i++) {
        for (byte[] b : bodies) {
          seen |= indexOf(b, traceBytes) >= 0;
        }
        if (!seen) {
          Thread.sleep(50);
        }
      }
      assertTrue(seen, "an OTLP export from the sidecar carries the caller's trace id (" + bodies.size() + " requests)");
    } finally {
      otlp.stop(0);
    }
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
