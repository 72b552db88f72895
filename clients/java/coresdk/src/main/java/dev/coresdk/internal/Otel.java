package dev.coresdk.internal;

import io.grpc.Metadata;

/**
 * OpenTelemetry glue, active only when {@code io.opentelemetry:opentelemetry-api} is on the classpath: the active
 * span's W3C {@code traceparent} (and {@code tracestate}) go to the sidecar as call metadata, set directly rather
 * than through the global propagator, so the sidecar's span for the call is the application's child.
 */
public final class Otel {
  private static final boolean PRESENT = present();
  private static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> TRACESTATE =
      Metadata.Key.of("tracestate", Metadata.ASCII_STRING_MARSHALLER);

  private Otel() {}

  private static boolean present() {
    try {
      Class.forName("io.opentelemetry.api.trace.Span", false, Otel.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /**
   * Whether the OpenTelemetry API is on the classpath.
   *
   * @return true when it is
   */
  public static boolean available() {
    return PRESENT;
  }

  /**
   * Adds the active span's {@code traceparent} / {@code tracestate} to {@code headers}, if there is a valid one.
   *
   * @param headers the call's metadata
   */
  public static void inject(Metadata headers) {
    if (!PRESENT) {
      return;
    }
    String[] tp;
    try {
      tp = Active.traceparent();
    } catch (LinkageError e) {
      return; // an OpenTelemetry API too old for these calls: no propagation rather than a failed call
    }
    if (tp != null) {
      headers.put(TRACEPARENT, tp[0]);
      if (!tp[1].isEmpty()) {
        headers.put(TRACESTATE, tp[1]);
      }
    }
  }

  /** Loaded only when the API is present. */
  private static final class Active {
    private Active() {}

    static String[] traceparent() {
      io.opentelemetry.api.trace.SpanContext sc = io.opentelemetry.api.trace.Span.current().getSpanContext();
      if (!sc.isValid()) {
        return null;
      }
      String flags = sc.isSampled() ? "01" : "00";
      String tp = "00-" + sc.getTraceId() + "-" + sc.getSpanId() + "-" + flags;
      StringBuilder state = new StringBuilder();
      sc.getTraceState()
          .forEach(
              (k, v) -> {
                if (state.length() > 0) {
                  state.append(',');
                }
                state.append(k).append('=').append(v);
              });
      return new String[] {tp, state.toString()};
    }
  }
}
