package dev.coresdk;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.coresdk.internal.CircuitBreaker;
import dev.coresdk.internal.TraceInterceptor;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The calls to the sidecar: one lazily built channel, a deadline on every call (retries included), bounded retries
 * with jittered exponential backoff for UNAVAILABLE without the sidecar's {@code ErrorInfo} only, the circuit
 * breaker, and the mapping of a gRPC status to a {@link CoreSDKException}:
 *
 * <ul>
 *   <li>a status carrying the sidecar's {@code ErrorInfo} (domain {@code coresdk.dev}) is an answer: its reason is
 *       the code, it is never retried, and it counts as a success for the breaker;
 *   <li>no answer within the deadline is {@code ERR_SIDECAR_TIMEOUT}; UNAVAILABLE (or a peer that does not speak
 *       HTTP/2) after the retries is {@code ERR_SIDECAR_UNAVAILABLE}, naming the address; the open breaker too;
 *   <li>the rest: {@code ERR_MESSAGE_TOO_LARGE}, {@code ERR_ABORTED}, {@code ERR_INTERNAL}.
 * </ul>
 *
 * <p>Blocking calls retry on the caller's thread; asynchronous ones on gRPC's threads, with retries scheduled on one
 * shared daemon thread (never slept on).
 */
final class Transport implements AutoCloseable {
  private static final String SIDECAR_ERROR_DOMAIN = "coresdk.dev";

  private static volatile ScheduledExecutorService scheduler;

  private final SDKConfig config;
  private final SidecarAddress addr;
  private final CircuitBreaker breaker;
  private final Object lock = new Object();
  private ManagedChannelBuilder<?> builder;
  private ManagedChannel managed;
  private Channel channel;
  private volatile boolean closed;

  /**
   * A transport whose channel {@code builder} builds on the first call.
   *
   * @param config the configuration (deadline, retries, backoff, breaker)
   * @param builder the channel's builder ({@link ChannelBuilder#forConfig})
   */
  Transport(SDKConfig config, ManagedChannelBuilder<?> builder) {
    this.config = config;
    this.addr = config.address();
    this.builder = builder;
    this.breaker = new CircuitBreaker(config.breakerFailureThreshold(), config.breakerResetMs(), System::nanoTime);
  }

  /**
   * The breaker's state.
   *
   * @return the state
   */
  BreakerState breakerState() {
    return breaker.state();
  }

  // ------------------------------------------------------------------ the channel

  private Channel channel() {
    synchronized (lock) {
      if (closed) {
        throw new CoreSDKException("ERR_ENGINE_CLOSED", "the client is closed");
      }
      if (channel == null) {
        ManagedChannel ch = builder.build();
        builder = null;
        managed = ch;
        channel = ClientInterceptors.intercept(ch, new TraceInterceptor());
      }
      return channel;
    }
  }

  private void resetBackoff() {
    ManagedChannel m;
    synchronized (lock) {
      m = managed;
    }
    if (m != null) {
      m.resetConnectBackoff();
    }
  }

  /** Closes the channel. Idempotent; later calls fail with {@code ERR_ENGINE_CLOSED}. */
  @Override
  public void close() {
    ManagedChannel m;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      m = managed;
      managed = null;
      channel = null;
      builder = null;
    }
    if (m != null) {
      m.shutdownNow();
      try {
        m.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  // ------------------------------------------------------------------ deadlines

  /**
   * The deadline of one call, retries included.
   *
   * @param o the call's options ({@code null}: the configuration's)
   * @return nanoseconds
   */
  long budgetNanos(RequestOptions o) {
    Integer ms = o == null ? null : o.timeoutMs();
    if (ms == null) {
      return config.timeoutMs() * 1_000_000L;
    }
    if (ms <= 0) {
      throw new CoreSDKException("ERR_CONFIG", "timeout_ms: must be a positive integer, got " + ms);
    }
    return ms * 1_000_000L;
  }

  private static CallOptions callOptions(long remainingNanos, String[] trace) {
    return TraceInterceptor.withTrace(
        CallOptions.DEFAULT.withDeadlineAfter(remainingNanos, TimeUnit.NANOSECONDS)
            .withMaxOutboundMessageSize(ChannelBuilder.MAX_MESSAGE),
        trace);
  }

  private long backoffNanos(int attempt) {
    return (long) (ThreadLocalRandom.current().nextDouble() * config.backoffMs() * 1_000_000L * (1L << attempt));
  }

  // ------------------------------------------------------------------ status -> CoreSDKException

  private static long millis(long nanos) {
    return Math.round(nanos / 1e6);
  }

  static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return c.getMessage() != null ? c.getMessage() : c.toString();
  }

  private CoreSDKException timeout(long budget) {
    return new CoreSDKException(
        "ERR_SIDECAR_TIMEOUT", "the sidecar at " + addr + " did not answer within " + millis(budget) + " ms");
  }

  /** {@code the sidecar at [::1]:50051 is unreachable: io exception (Connection refused: ...)}. */
  private CoreSDKException unavailable(StatusRuntimeException e) {
    String d = e.getStatus().getDescription();
    StringBuilder msg = new StringBuilder("the sidecar at ").append(addr).append(" is unreachable: ");
    msg.append(d == null ? e.getStatus().getCode() : d);
    Throwable cause = e.getStatus().getCause();
    if (cause != null) {
      String why = rootMessage(cause);
      if (d == null || !d.contains(why)) {
        msg.append(" (").append(why).append(')');
      }
    }
    return new CoreSDKException("ERR_SIDECAR_UNAVAILABLE", msg.toString());
  }

  private CoreSDKException breakerOpen() {
    return new CoreSDKException(
        "ERR_SIDECAR_UNAVAILABLE",
        "the sidecar at " + addr + " is unreachable (circuit open after repeated failures)");
  }

  /** The sidecar's ErrorInfo in a failed call's status details, or null. */
  static ErrorInfo sidecarErrorInfo(StatusRuntimeException e) {
    com.google.rpc.Status st;
    try {
      st = StatusProto.fromThrowable(e);
    } catch (RuntimeException ex) {
      return null;
    }
    if (st == null) {
      return null;
    }
    for (Any any : st.getDetailsList()) {
      if (any.is(ErrorInfo.class)) {
        try {
          ErrorInfo info = any.unpack(ErrorInfo.class);
          if (SIDECAR_ERROR_DOMAIN.equals(info.getDomain())) {
            return info;
          }
        } catch (InvalidProtocolBufferException ex) {
          return null;
        }
      }
    }
    return null;
  }

  /** Maps a failed attempt to the error to throw, or null for "UNAVAILABLE, may retry". */
  private CoreSDKException classify(StatusRuntimeException e, long budget) {
    Status.Code code = e.getStatus().getCode();
    String details = e.getStatus().getDescription() == null ? "" : e.getStatus().getDescription();
    ErrorInfo info = sidecarErrorInfo(e);
    if (info != null) {
      breaker.onSuccess();
      return new CoreSDKException(CoreSDKException.toCode(info.getReason()), details);
    }
    if (code == Status.Code.DEADLINE_EXCEEDED) {
      breaker.onFailure();
      return timeout(budget);
    }
    if (code == Status.Code.UNAVAILABLE || (code == Status.Code.INTERNAL && notHttp2(e))) {
      return null;
    }
    breaker.onSuccess();
    Throwable cause = e.getStatus().getCause();
    if (code == Status.Code.RESOURCE_EXHAUSTED
        || (code == Status.Code.OUT_OF_RANGE && details.contains("message length too large"))
        || (cause instanceof StatusRuntimeException
            && ((StatusRuntimeException) cause).getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED)) {
      if (cause instanceof StatusRuntimeException && ((StatusRuntimeException) cause).getStatus().getDescription() != null) {
        details = ((StatusRuntimeException) cause).getStatus().getDescription();
      }
      return new CoreSDKException("ERR_MESSAGE_TOO_LARGE", "the message is over a gRPC size limit: " + details);
    }
    if (code == Status.Code.CANCELLED) {
      return new CoreSDKException("ERR_ABORTED", "the call was cancelled");
    }
    return new CoreSDKException("ERR_INTERNAL", "unexpected gRPC status " + code + ": " + details);
  }

  /**
   * True when the peer did not speak HTTP/2 at all (e.g. plaintext to a TLS port): grpc-java reports INTERNAL with
   * Netty's Http2Exception as the cause, where grpcio reports UNAVAILABLE. Nothing answered, so it is unreachable.
   */
  private static boolean notHttp2(StatusRuntimeException e) {
    for (Throwable c = e.getStatus().getCause(); c != null; c = c.getCause()) {
      if (c.getClass().getName().endsWith(".Http2Exception")) {
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ calls

  /**
   * One unary call, blocking, with retries inside {@code budget}.
   *
   * @param method the method
   * @param request the request
   * @param budget the deadline, nanoseconds
   * @return the response
   * @throws CoreSDKException the mapped failure
   */
  <Q, R> R call(MethodDescriptor<Q, R> method, Q request, long budget) {
    Channel ch = channel();
    if (!breaker.tryAcquire()) {
      throw breakerOpen();
    }
    String[] trace = TraceInterceptor.capture();
    long deadline = System.nanoTime() + budget;
    int attempt = 0;
    while (true) {
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        breaker.onFailure();
        throw timeout(budget);
      }
      try {
        R res = ClientCalls.blockingUnaryCall(ch, method, callOptions(remaining, trace), request);
        breaker.onSuccess();
        return res;
      } catch (StatusRuntimeException e) {
        CoreSDKException err = classify(e, budget);
        if (err != null) {
          throw err;
        }
        long backoff = backoffNanos(attempt);
        if (attempt < config.retries() && System.nanoTime() + backoff < deadline) {
          try {
            TimeUnit.NANOSECONDS.sleep(backoff);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            breaker.release();
            throw new CoreSDKException("ERR_ABORTED", "the call was interrupted");
          }
          resetBackoff();
          attempt++;
          continue;
        }
        breaker.onFailure();
        throw unavailable(e);
      } catch (RuntimeException | Error e) {
        breaker.release();
        throw e;
      }
    }
  }

  private static ScheduledExecutorService scheduler() {
    ScheduledExecutorService s = scheduler;
    if (s == null) {
      synchronized (Transport.class) {
        s = scheduler;
        if (s == null) {
          s =
              Executors.newSingleThreadScheduledExecutor(
                  r -> {
                    Thread t = new Thread(r, "coresdk-retry");
                    t.setDaemon(true);
                    return t;
                  });
          scheduler = s;
        }
      }
    }
    return s;
  }

  /**
   * One unary call, asynchronous, with retries inside {@code budget}; cancelling the future cancels the call.
   *
   * @param method the method
   * @param request the request
   * @param budget the deadline, nanoseconds
   * @return the response, or the mapped failure
   */
  <Q, R> CompletableFuture<R> callAsync(MethodDescriptor<Q, R> method, Q request, long budget) {
    CompletableFuture<R> out = new CompletableFuture<>();
    Channel ch;
    try {
      ch = channel();
    } catch (CoreSDKException e) {
      out.completeExceptionally(e);
      return out;
    }
    if (!breaker.tryAcquire()) {
      out.completeExceptionally(breakerOpen());
      return out;
    }
    AtomicReference<ClientCall<Q, R>> current = new AtomicReference<>();
    out.whenComplete(
        (r, t) -> {
          if (out.isCancelled()) {
            ClientCall<Q, R> c = current.get();
            if (c != null) {
              c.cancel("cancelled by the caller", null);
            }
            breaker.release();
          }
        });
    attempt(ch, method, request, budget, System.nanoTime() + budget, 0, TraceInterceptor.capture(), current, out);
    return out;
  }

  private <Q, R> void attempt(
      Channel ch,
      MethodDescriptor<Q, R> method,
      Q request,
      long budget,
      long deadline,
      int attempt,
      String[] trace,
      AtomicReference<ClientCall<Q, R>> current,
      CompletableFuture<R> out) {
    if (out.isDone()) {
      return;
    }
    long remaining = deadline - System.nanoTime();
    if (remaining <= 0) {
      breaker.onFailure();
      out.completeExceptionally(timeout(budget));
      return;
    }
    ClientCall<Q, R> call = ch.newCall(method, callOptions(remaining, trace));
    current.set(call);
    ClientCalls.asyncUnaryCall(
        call,
        request,
        new StreamObserver<R>() {
          private R value;

          @Override
          public void onNext(R v) {
            value = v;
          }

          @Override
          public void onError(Throwable t) {
            if (out.isDone()) {
              return;
            }
            if (!(t instanceof StatusRuntimeException)) {
              breaker.release();
              out.completeExceptionally(new CoreSDKException("ERR_INTERNAL", "unexpected failure: " + t));
              return;
            }
            StatusRuntimeException e = (StatusRuntimeException) t;
            CoreSDKException err = classify(e, budget);
            if (err != null) {
              out.completeExceptionally(err);
              return;
            }
            long backoff = backoffNanos(attempt);
            if (attempt < config.retries() && System.nanoTime() + backoff < deadline) {
              scheduler()
                  .schedule(
                      () -> {
                        resetBackoff();
                        attempt(ch, method, request, budget, deadline, attempt + 1, trace, current, out);
                      },
                      backoff,
                      TimeUnit.NANOSECONDS);
              return;
            }
            breaker.onFailure();
            out.completeExceptionally(unavailable(e));
          }

          @Override
          public void onCompleted() {
            breaker.onSuccess();
            out.complete(value);
          }
        });
  }
}
