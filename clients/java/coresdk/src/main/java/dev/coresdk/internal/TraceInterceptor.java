package dev.coresdk.internal;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

/**
 * Sends the W3C trace context of the caller's active OpenTelemetry span ({@code traceparent}, {@code tracestate})
 * to the sidecar, so that its spans join the application's trace.
 *
 * <p>The context is captured once, when a call starts ({@link #capture()}), and carried in the call's
 * {@link CallOptions} ({@link #withTrace}): a retry runs on another thread (gRPC's or the retry scheduler's), where
 * the caller's span is no longer current, and still sends the same context. Without the OpenTelemetry API on the
 * classpath, or without an active span, nothing is sent.
 *
 * <p>Internal to the SDK: not part of its API.
 */
public final class TraceInterceptor implements ClientInterceptor {
  private static final CallOptions.Key<String[]> TRACE = CallOptions.Key.create("coresdk.traceparent");
  private static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> TRACESTATE =
      Metadata.Key.of("tracestate", Metadata.ASCII_STRING_MARSHALLER);

  /** Makes the interceptor (stateless: one per channel is enough). */
  public TraceInterceptor() {}

  /**
   * The caller's trace context, now.
   *
   * @return {@code {traceparent, tracestate or ""}}, or {@code null} when there is none to send
   */
  public static String[] capture() {
    if (!Otel.available()) {
      return null;
    }
    Metadata md = new Metadata();
    Otel.inject(md);
    String tp = md.get(TRACEPARENT);
    if (tp == null) {
      return null;
    }
    String ts = md.get(TRACESTATE);
    return new String[] {tp, ts == null ? "" : ts};
  }

  /**
   * Carries a captured context in a call's options.
   *
   * @param options the call's options
   * @param trace what {@link #capture()} returned (may be {@code null})
   * @return the options carrying it
   */
  public static CallOptions withTrace(CallOptions options, String[] trace) {
    return trace == null ? options : options.withOption(TRACE, trace);
  }

  /**
   * Adds the carried context to the call's headers.
   *
   * @param method the method
   * @param callOptions the call's options
   * @param next the channel
   * @return the call
   */
  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions callOptions, Channel next) {
    String[] trace = callOptions.getOption(TRACE);
    ClientCall<Q, R> call = next.newCall(method, callOptions);
    if (trace == null) {
      return call;
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(call) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        headers.put(TRACEPARENT, trace[0]);
        if (!trace[1].isEmpty()) {
          headers.put(TRACESTATE, trace[1]);
        }
        super.start(listener, headers);
      }
    };
  }
}
