package dev.coresdk;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.coresdk.internal.CircuitBreaker;
import dev.coresdk.internal.Json;
import dev.coresdk.internal.Otel;
import dev.coresdk.v1.AuthorizeRequest;
import dev.coresdk.v1.AuthorizeResponse;
import dev.coresdk.v1.CoreSDKGrpc;
import dev.coresdk.v1.EvaluatePoliciesRequest;
import dev.coresdk.v1.EvaluatePoliciesResponse;
import dev.coresdk.v1.EvaluatePolicyRequest;
import dev.coresdk.v1.EvaluatePolicyResponse;
import dev.coresdk.v1.MaskPiiRequest;
import dev.coresdk.v1.MaskPiiResponse;
import dev.coresdk.v1.PolicyQuery;
import dev.coresdk.v1.PolicyResult;
import dev.coresdk.v1.VerifyTokenRequest;
import dev.coresdk.v1.VerifyTokenResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NegotiationType;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettySslContextChannelCredentials;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The CoreSDK client: token verification, policy decisions and PII masking through the sidecar (gRPC over mutual
 * TLS). Thread-safe; one channel, opened on the first call. Blocking methods, and {@code *Async} twins returning
 * {@link CompletableFuture}s.
 *
 * <pre>{@code
 * try (CoreSDKClient sdk = CoreSDKClient.create(SDKConfig.builder().failMode(FailMode.OPEN).build())) {
 *   AuthorizeResult r = sdk.authorize(bearer, "data.authz.allow", Map.of("action", "read"));
 *   if (r.allowed()) {
 *     use(r.claims()); // null when r.degraded() (fail-open)
 *   }
 * }
 * }</pre>
 *
 * <p>The same design as the Node and Python clients:
 *
 * <ul>
 *   <li>a deadline on every call ({@code timeoutMs}, retries included); bounded retries with jittered exponential
 *       backoff for UNAVAILABLE <em>without</em> the sidecar's {@code ErrorInfo} only; a circuit breaker;
 *   <li>the fail mode applies to one situation only, the sidecar could not be reached (connection or TLS refused, no
 *       answer within the deadline, breaker open): {@code OPEN} allows with {@code null} claims (a warning at most
 *       every 10 s, a counter), {@code CLOSED} denies with {@code ERR_SIDECAR_UNAVAILABLE} /
 *       {@code ERR_SIDECAR_TIMEOUT}. A status carrying the sidecar's {@code ErrorInfo} is an answer and is never
 *       turned into an allow;
 *   <li>mutual TLS 1.3 when TLS files are given; plaintext only to a loopback address or a unix socket.
 * </ul>
 *
 * <p>{@link #authorize}, {@link #verifyToken} and {@link #isAllowed} never throw for a verdict;
 * {@link #evaluatePolicy}, {@link #evaluatePolicies} and {@link #maskPii} throw {@link CoreSDKException}.
 */
public final class CoreSDKClient implements AutoCloseable {
  /** The query {@link #authorize} evaluates when none is given. */
  public static final String DEFAULT_QUERY = "data.authz.allow";

  private static final System.Logger LOG = System.getLogger("coresdk");
  private static final long WARN_EVERY_NANOS = 10_000_000_000L;
  private static final int MAX_MESSAGE = 16 * 1024 * 1024;
  private static final String SIDECAR_ERROR_DOMAIN = "coresdk.dev";
  private static final CallOptions.Key<String[]> TRACE = CallOptions.Key.create("coresdk.traceparent");
  private static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> TRACESTATE =
      Metadata.Key.of("tracestate", Metadata.ASCII_STRING_MARSHALLER);
  private static final MethodDescriptor<byte[], byte[]> HEALTH_CHECK =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("grpc.health.v1.Health/Check")
          .setRequestMarshaller(BytesMarshaller.INSTANCE)
          .setResponseMarshaller(BytesMarshaller.INSTANCE)
          .build();

  private static volatile ScheduledExecutorService scheduler;

  private final SDKConfig config;
  private final SidecarAddress addr;
  private final CircuitBreaker breaker;
  private final Object lock = new Object();
  private ManagedChannelBuilder<?> builder;
  private ManagedChannel managed;
  private Channel channel;
  private volatile boolean closed;
  private long failOpen;
  private long failClosed;
  private long lastWarn;
  private boolean warnedOnce;

  private CoreSDKClient(SDKConfig config) {
    this.config = config;
    this.addr = config.address();
    this.breaker = new CircuitBreaker(config.breakerFailureThreshold(), config.breakerResetMs(), System::nanoTime);
    if (addr.dialProblem() != null) {
      throw new CoreSDKException("ERR_CONFIG", "sidecar_addr: " + quoted(addr.text) + ": " + addr.dialProblem());
    }
    SslContext ssl;
    if (config.usesTls()) {
      if (config.tlsCaFile() == null || config.tlsCertFile() == null || config.tlsKeyFile() == null) {
        throw new CoreSDKException(
            "ERR_CONFIG",
            "CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE and CORESDK_TLS_KEY_FILE go together: "
                + "the sidecar requires a client certificate");
      }
      readable(config.tlsCaFile(), "CORESDK_TLS_CA_FILE");
      readable(config.tlsCertFile(), "CORESDK_TLS_CERT_FILE");
      readable(config.tlsKeyFile(), "CORESDK_TLS_KEY_FILE");
      try {
        ssl =
            GrpcSslContexts.forClient()
                .trustManager(new File(config.tlsCaFile()))
                .keyManager(new File(config.tlsCertFile()), new File(config.tlsKeyFile()))
                .protocols("TLSv1.3")
                .build();
      } catch (IOException | IllegalArgumentException e) {
        throw new CoreSDKException(
            "ERR_CONFIG",
            "CORESDK_TLS_*: the CA, certificate or key file is not valid PEM (the key must be PKCS#8): "
                + e.getClass().getSimpleName());
      }
    } else {
      ssl = null;
      if (!addr.isLocal()) {
        throw new CoreSDKException(
            "ERR_CONFIG",
            "CORESDK_SIDECAR_ADDR: " + config.sidecarAddr() + " is not loopback; the sidecar there needs mutual TLS"
                + " (set CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE, CORESDK_TLS_KEY_FILE)");
      }
    }
    this.builder = channelBuilder(ssl);
  }

  /**
   * Builds a client (the channel opens on the first call).
   *
   * @param config the configuration
   * @return the client
   * @throws CoreSDKException {@code ERR_CONFIG} for a bad TLS setup or a plaintext remote address
   */
  public static CoreSDKClient create(SDKConfig config) {
    return new CoreSDKClient(config == null ? SDKConfig.builder().build() : config);
  }

  /**
   * A client configured by {@code coresdk.toml} {@code [sdk]} and {@code CORESDK_*} (see {@link SDKConfig#fromEnv()}).
   *
   * @return the client
   */
  public static CoreSDKClient fromEnv() {
    return create(SDKConfig.fromEnv());
  }

  /**
   * The effective configuration.
   *
   * @return the configuration
   */
  public SDKConfig config() {
    return config;
  }

  private static void readable(String path, String key) {
    try (InputStream in = Files.newInputStream(Path.of(path))) {
      in.read();
    } catch (IOException e) {
      String why = e instanceof java.nio.file.NoSuchFileException ? "No such file or directory" : e.getMessage();
      throw new CoreSDKException("ERR_CONFIG", key + ": cannot read " + path + ": " + why);
    }
  }

  // ------------------------------------------------------------------ channel and calls

  /**
   * The channel's builder, made here so that an address grpc-java cannot reach fails when the client is created;
   * nothing connects (or starts a thread) until the first call builds the channel.
   *
   * <p>An IP literal is connected to directly ({@code forAddress(InetSocketAddress)}: no name resolution, and no
   * target string for grpc-java to parse; {@code dns:///[::1]:50051} is not a URI it accepts); a host name goes
   * through grpc-java's DNS resolver ({@code dns:///name:port}); a Unix socket through whatever transport grpc-java
   * has for {@code unix:///path} (Netty epoll, bundled by grpc-netty-shaded for Linux x86_64 and aarch64).
   */
  private ManagedChannelBuilder<?> channelBuilder(SslContext ssl) {
    ManagedChannelBuilder<?> b;
    if (addr.kind == SidecarAddress.Kind.UNIX) {
      ChannelCredentials creds =
          ssl == null ? InsecureChannelCredentials.create() : NettySslContextChannelCredentials.create(ssl);
      try {
        b = Grpc.newChannelBuilder(addr.target(), creds);
      } catch (RuntimeException e) {
        throw noUnixTransport(e);
      }
      b.overrideAuthority(config.tlsServerName() != null ? config.tlsServerName() : "localhost");
    } else {
      NettyChannelBuilder n =
          addr.kind == SidecarAddress.Kind.IP
              ? NettyChannelBuilder.forAddress(addr.socketAddress())
              : NettyChannelBuilder.forTarget(addr.target());
      if (ssl != null) {
        n.sslContext(ssl).negotiationType(NegotiationType.TLS);
        if (config.tlsServerName() != null) {
          n.overrideAuthority(config.tlsServerName());
        }
      } else {
        n.negotiationType(NegotiationType.PLAINTEXT);
      }
      b = n;
    }
    return b.keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveTimeout(10, TimeUnit.SECONDS)
        .maxInboundMessageSize(MAX_MESSAGE)
        .disableRetry();
  }

  /** No transport for a {@code unix:} address: say which address, why, and what would make it work. */
  private CoreSDKException noUnixTransport(RuntimeException e) {
    String why;
    try {
      Throwable cause = Epoll.isAvailable() ? null : Epoll.unavailabilityCause();
      why = cause == null ? e.getMessage() : "Netty epoll is unavailable: " + rootMessage(cause);
    } catch (LinkageError le) {
      why = "Netty epoll is missing: " + le;
    }
    return new CoreSDKException(
        "ERR_CONFIG",
        "sidecar_addr: " + quoted(addr.text) + ": this JVM cannot open Unix domain sockets. grpc-java reaches them only through"
            + " Netty's native epoll transport, which io.grpc:grpc-netty-shaded (a coresdk dependency) bundles for"
            + " Linux x86_64 and aarch64; here (" + System.getProperty("os.name") + " " + System.getProperty("os.arch")
            + ") " + why + ". Use a loopback address such as [::1]:50051 (the sidecar's default), or, on Linux"
            + " x86_64/aarch64, keep grpc-netty-shaded's META-INF/native epoll library in the application (a fat jar"
            + " must not drop it) and give Netty a temporary directory that allows executables"
            + " (-Dio.grpc.netty.shaded.io.netty.native.workdir=DIR)");
  }

  private static String quoted(String s) {
    StringBuilder sb = new StringBuilder();
    Json.quote(sb, s);
    return sb.toString();
  }

  private static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return c.getMessage() != null ? c.getMessage() : c.toString();
  }

  private Channel channel() {
    synchronized (lock) {
      check();
      if (channel == null) {
        ManagedChannel ch = builder.build();
        builder = null;
        managed = ch;
        channel = ClientInterceptors.intercept(ch, new TraceInterceptor());
      }
      return channel;
    }
  }

  private void check() {
    if (closed) {
      throw new CoreSDKException("ERR_ENGINE_CLOSED", "the client is closed");
    }
  }

  private long budgetNanos(RequestOptions o) {
    Integer ms = o == null ? null : o.timeoutMs();
    if (ms == null) {
      return config.timeoutMs() * 1_000_000L;
    }
    if (ms <= 0) {
      throw new CoreSDKException("ERR_CONFIG", "timeout_ms: must be a positive integer, got " + ms);
    }
    return ms * 1_000_000L;
  }

  private String tenant(RequestOptions o) {
    return o == null || o.tenantId() == null ? config.tenantId() : o.tenantId();
  }

  private static CallOptions callOptions(long remainingNanos, String[] trace) {
    CallOptions o = CallOptions.DEFAULT.withDeadlineAfter(remainingNanos, TimeUnit.NANOSECONDS)
        .withMaxOutboundMessageSize(MAX_MESSAGE);
    return trace == null ? o : o.withOption(TRACE, trace);
  }

  private static String[] traceNow() {
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

  private static long millis(long nanos) {
    return Math.round(nanos / 1e6);
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

  private long backoffNanos(int attempt) {
    return (long) (ThreadLocalRandom.current().nextDouble() * config.backoffMs() * 1_000_000L * (1L << attempt));
  }

  private <Q, R> R invoke(MethodDescriptor<Q, R> method, Q request, long budget) {
    Channel ch = channel();
    if (!breaker.tryAcquire()) {
      throw breakerOpen();
    }
    String[] trace = traceNow();
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

  private void resetBackoff() {
    ManagedChannel m;
    synchronized (lock) {
      m = managed;
    }
    if (m != null) {
      m.resetConnectBackoff();
    }
  }

  private static ScheduledExecutorService scheduler() {
    ScheduledExecutorService s = scheduler;
    if (s == null) {
      synchronized (CoreSDKClient.class) {
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

  private <Q, R> CompletableFuture<R> invokeAsync(MethodDescriptor<Q, R> method, Q request, long budget) {
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
    attempt(ch, method, request, budget, System.nanoTime() + budget, 0, traceNow(), current, out);
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

  private static CoreSDKException unwrap(Throwable t) {
    Throwable c = t;
    while ((c instanceof java.util.concurrent.CompletionException
            || c instanceof java.util.concurrent.ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof CoreSDKException) {
      return (CoreSDKException) c;
    }
    if (c instanceof java.util.concurrent.CancellationException) {
      return new CoreSDKException("ERR_ABORTED", "the call was cancelled");
    }
    return new CoreSDKException("ERR_INTERNAL", "unexpected failure: " + c.getClass().getSimpleName());
  }

  /** A future derived from {@code source} whose cancellation cancels {@code source} (and so the call). */
  private static <S, T> CompletableFuture<T> derive(
      CompletableFuture<S> source, java.util.function.BiFunction<? super S, Throwable, ? extends T> fn) {
    CompletableFuture<T> derived = source.handle(fn);
    derived.whenComplete(
        (r, t) -> {
          if (derived.isCancelled()) {
            source.cancel(true);
          }
        });
    return derived;
  }

  private static <T> T rethrow(Throwable t) {
    throw unwrap(t);
  }

  private static <T> CompletableFuture<T> failedFuture(CoreSDKException e) {
    CompletableFuture<T> f = new CompletableFuture<>();
    f.completeExceptionally(e);
    return f;
  }

  // ------------------------------------------------------------------ fail mode

  private AuthorizeResult degrade(CoreSDKException e) {
    if (config.failMode() == FailMode.OPEN) {
      long n;
      boolean warn;
      synchronized (lock) {
        failOpen++;
        n = failOpen;
        long now = System.nanoTime();
        warn = !warnedOnce || now - lastWarn >= WARN_EVERY_NANOS;
        if (warn) {
          warnedOnce = true;
          lastWarn = now;
        }
      }
      if (warn) {
        String msg =
            "coresdk: sidecar at " + addr + " unreachable (" + e.code() + "); fail_mode \"open\" is allowing"
                + " requests with null claims (" + n + " so far)";
        try {
          if (config.warn() != null) {
            config.warn().accept(msg);
          } else {
            LOG.log(System.Logger.Level.WARNING, msg);
          }
        } catch (RuntimeException ex) {
          LOG.log(System.Logger.Level.ERROR, "coresdk: the warn callback threw", ex);
        }
      }
      return new AuthorizeResult(true, "fail-open", null, false, null, null, e, true);
    }
    synchronized (lock) {
      failClosed++;
    }
    return new AuthorizeResult(false, e.code(), null, false, null, null, e, false);
  }

  private AuthorizeResult failed(CoreSDKException e) {
    if (e.isTransportFailure()) {
      return degrade(e);
    }
    return new AuthorizeResult(false, e.code(), null, false, null, null, e, false);
  }

  private IsAllowedResult isAllowedFailed(CoreSDKException e) {
    if (e.isTransportFailure()) {
      AuthorizeResult r = degrade(e);
      return new IsAllowedResult(r.allowed(), r.reason(), r.degraded(), e, null);
    }
    return new IsAllowedResult(false, e.code(), false, e, null);
  }

  // ------------------------------------------------------------------ requests and results

  @SuppressWarnings("unchecked")
  private static Map<String, Object> claimsOf(String json) {
    Object v = fromJson(json);
    return v instanceof Map ? Collections.unmodifiableMap((Map<String, Object>) v) : null;
  }

  private static Object fromJson(String text) {
    if (text == null || text.isEmpty()) {
      return null;
    }
    try {
      return Json.parse(text);
    } catch (IllegalArgumentException e) {
      throw new CoreSDKException("ERR_INTERNAL", "the sidecar answered with JSON that does not parse");
    }
  }

  private AuthorizeRequest authorizeRequest(String token, String query, Map<String, ?> input, RequestOptions o) {
    if (token == null) {
      throw new CoreSDKException("ERR_TOKEN_MALFORMED", "the token must be a string");
    }
    return AuthorizeRequest.newBuilder()
        .setTenantId(tenant(o))
        .setToken(token)
        .setQuery(query == null ? DEFAULT_QUERY : query)
        .setInputJson(input == null ? "" : Json.write(input))
        .build();
  }

  private static AuthorizeResult authorizeResult(AuthorizeResponse res) {
    String decision = res.getDecisionJson();
    return new AuthorizeResult(
        res.getAllowed(),
        res.getReason(),
        claimsOf(res.getClaimsJson()),
        !decision.isEmpty(),
        fromJson(decision),
        res.getRevision().isEmpty() ? null : res.getRevision(),
        null,
        false);
  }

  private static AuthorizeResult verifyResult(VerifyTokenResponse res) {
    return new AuthorizeResult(true, "allowed", claimsOf(res.getClaimsJson()), false, null, null, null, false);
  }

  private VerifyTokenRequest verifyRequest(String token, RequestOptions o) {
    if (token == null) {
      throw new CoreSDKException("ERR_TOKEN_MALFORMED", "the token must be a string");
    }
    return VerifyTokenRequest.newBuilder().setTenantId(tenant(o)).setToken(token).build();
  }

  private EvaluatePolicyRequest policyRequest(String query, Object input, RequestOptions o) {
    if (query == null) {
      throw new CoreSDKException("ERR_QUERY_INVALID", "the query must be a string");
    }
    return EvaluatePolicyRequest.newBuilder()
        .setTenantId(tenant(o))
        .setQuery(query)
        .setInputJson(input == null ? "" : Json.write(input))
        .build();
  }

  private static Decision decision(EvaluatePolicyResponse res) {
    return new Decision(res.getDefined(), fromJson(res.getValueJson()), res.getRevision());
  }

  private static IsAllowedResult isAllowedOf(Decision d) {
    boolean allowed = d.allowed();
    return new IsAllowedResult(
        allowed, allowed ? "allowed" : d.defined() ? "denied" : "undefined", false, null, d.revision());
  }

  private EvaluatePoliciesRequest batchRequest(List<BatchItem> items, RequestOptions o) {
    if (items == null) {
      throw new CoreSDKException("ERR_INPUT_INVALID", "evaluatePolicies takes a list of (query, input) items");
    }
    EvaluatePoliciesRequest.Builder b = EvaluatePoliciesRequest.newBuilder().setTenantId(tenant(o));
    for (BatchItem item : items) {
      if (item == null || item.query() == null) {
        throw new CoreSDKException("ERR_QUERY_INVALID", "every batch item needs a query string");
      }
      b.addItems(
          PolicyQuery.newBuilder()
              .setQuery(item.query())
              .setInputJson(item.input() == null ? "" : Json.write(item.input())));
    }
    return b.build();
  }

  private static List<BatchResult> batchResults(EvaluatePoliciesResponse res) {
    List<BatchResult> out = new ArrayList<>(res.getResultsCount());
    for (PolicyResult r : res.getResultsList()) {
      if (r.getErrorCode().isEmpty()) {
        out.add(new BatchResult(true, new Decision(r.getDefined(), fromJson(r.getValueJson()), res.getRevision()), null));
      } else {
        out.add(
            new BatchResult(
                false, null, new CoreSDKException(CoreSDKException.toCode(r.getErrorCode()), r.getErrorMessage())));
      }
    }
    return Collections.unmodifiableList(out);
  }

  private MaskPiiRequest maskRequest(List<String> values, RequestOptions o) {
    if (values == null || values.stream().anyMatch(java.util.Objects::isNull)) {
      throw new CoreSDKException("ERR_INPUT_INVALID", "maskPii takes a list of strings");
    }
    return MaskPiiRequest.newBuilder().setTenantId(tenant(o)).addAllValues(values).build();
  }

  private static HealthStatus healthOf(byte[] data) {
    // HealthCheckResponse{status = 1 (enum)}: one varint field, absent when UNKNOWN.
    int status = 0;
    int i = 0;
    while (i < data.length) {
      int key = data[i++] & 0xff;
      if (key != 0x08) {
        break;
      }
      int n = 0;
      int shift = 0;
      while (i < data.length) {
        int b = data[i++] & 0xff;
        n |= (b & 0x7f) << shift;
        shift += 7;
        if (b < 0x80) {
          break;
        }
      }
      status = n;
    }
    return status == 1 ? HealthStatus.SERVING : HealthStatus.NOT_SERVING;
  }

  // ------------------------------------------------------------------ the API (blocking)

  /**
   * Verifies {@code token} and evaluates {@code data.authz.allow} with the claims as {@code input.claims}.
   *
   * @param token the compact JWS, without {@code Bearer }
   * @return the verdict (never thrown)
   */
  public AuthorizeResult authorize(String token) {
    return authorize(token, null, null, RequestOptions.DEFAULT);
  }

  /**
   * Verifies {@code token} and evaluates {@code query} with the claims as {@code input.claims}.
   *
   * @param token the compact JWS, without {@code Bearer }
   * @param query the Rego query ({@code null}: {@code data.authz.allow})
   * @param input the input document ({@code null}: {@code {}}); its {@code claims} member is reserved
   * @return the verdict (never thrown)
   */
  public AuthorizeResult authorize(String token, String query, Map<String, ?> input) {
    return authorize(token, query, input, RequestOptions.DEFAULT);
  }

  /**
   * Verifies {@code token} and evaluates {@code query}. Never throws for a verdict: a rejected token, a deny or an
   * error comes back as {@code allowed=false} with {@code reason} and {@code error}; an unreachable sidecar follows
   * the fail mode.
   *
   * @param token the compact JWS, without {@code Bearer }
   * @param query the Rego query ({@code null}: {@code data.authz.allow})
   * @param input the input document ({@code null}: {@code {}})
   * @param options tenant and deadline
   * @return the verdict
   */
  public AuthorizeResult authorize(String token, String query, Map<String, ?> input, RequestOptions options) {
    try {
      AuthorizeRequest req = authorizeRequest(token, query, input, options);
      return authorizeResult(invoke(CoreSDKGrpc.getAuthorizeMethod(), req, budgetNanos(options)));
    } catch (CoreSDKException e) {
      return failed(e);
    }
  }

  /**
   * Verifies {@code token} alone (no policy); never throws for a verdict, like {@link #authorize}.
   *
   * @param token the compact JWS
   * @return the verdict; {@code claims()} holds the verified claims
   */
  public AuthorizeResult verifyToken(String token) {
    return verifyToken(token, RequestOptions.DEFAULT);
  }

  /**
   * Verifies {@code token} alone (no policy); never throws for a verdict.
   *
   * @param token the compact JWS
   * @param options tenant and deadline
   * @return the verdict
   */
  public AuthorizeResult verifyToken(String token, RequestOptions options) {
    try {
      VerifyTokenRequest req = verifyRequest(token, options);
      return verifyResult(invoke(CoreSDKGrpc.getVerifyTokenMethod(), req, budgetNanos(options)));
    } catch (CoreSDKException e) {
      return failed(e);
    }
  }

  /**
   * Evaluates one query.
   *
   * @param query the Rego query
   * @param input the input document ({@code null} for none)
   * @return the decision
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public Decision evaluatePolicy(String query, Object input) {
    return evaluatePolicy(query, input, RequestOptions.DEFAULT);
  }

  /**
   * Evaluates one query.
   *
   * @param query the Rego query
   * @param input the input document ({@code null} for none)
   * @param options tenant and deadline
   * @return the decision
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public Decision evaluatePolicy(String query, Object input, RequestOptions options) {
    EvaluatePolicyRequest req = policyRequest(query, input, options);
    return decision(invoke(CoreSDKGrpc.getEvaluatePolicyMethod(), req, budgetNanos(options)));
  }

  /**
   * Allow-style check, never throwing: allowed only when the query is exactly {@code true}; an unreachable sidecar
   * follows the fail mode.
   *
   * @param query the Rego query
   * @param input the input document
   * @return the verdict
   */
  public IsAllowedResult isAllowed(String query, Object input) {
    return isAllowed(query, input, RequestOptions.DEFAULT);
  }

  /**
   * Allow-style check, never throwing.
   *
   * @param query the Rego query
   * @param input the input document
   * @param options tenant and deadline
   * @return the verdict
   */
  public IsAllowedResult isAllowed(String query, Object input, RequestOptions options) {
    try {
      return isAllowedOf(evaluatePolicy(query, input, options));
    } catch (CoreSDKException e) {
      return isAllowedFailed(e);
    }
  }

  /**
   * Evaluates many queries in one round trip; items succeed or fail on their own.
   *
   * @param items the queries and inputs (at most the sidecar's {@code max_batch}, default 128)
   * @return one result per item, in order
   * @throws CoreSDKException for a request-level problem or an unreachable sidecar
   */
  public List<BatchResult> evaluatePolicies(List<BatchItem> items) {
    return evaluatePolicies(items, RequestOptions.DEFAULT);
  }

  /**
   * Evaluates many queries in one round trip.
   *
   * @param items the queries and inputs
   * @param options tenant and deadline
   * @return one result per item, in order
   * @throws CoreSDKException for a request-level problem or an unreachable sidecar
   */
  public List<BatchResult> evaluatePolicies(List<BatchItem> items, RequestOptions options) {
    EvaluatePoliciesRequest req = batchRequest(items, options);
    return batchResults(invoke(CoreSDKGrpc.getEvaluatePoliciesMethod(), req, budgetNanos(options)));
  }

  /**
   * Masks personal data and secrets in strings with the sidecar tenant's masker.
   *
   * @param values the strings
   * @return the masked strings, in order
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public List<String> maskPii(List<String> values) {
    return maskPii(values, RequestOptions.DEFAULT);
  }

  /**
   * Masks personal data and secrets in strings.
   *
   * @param values the strings
   * @param options tenant and deadline
   * @return the masked strings, in order
   * @throws CoreSDKException on a bad request or an unreachable sidecar
   */
  public List<String> maskPii(List<String> values, RequestOptions options) {
    MaskPiiRequest req = maskRequest(values, options);
    MaskPiiResponse res = invoke(CoreSDKGrpc.getMaskPiiMethod(), req, budgetNanos(options));
    return List.copyOf(res.getValuesList());
  }

  /**
   * The sidecar's health ({@code grpc.health.v1}).
   *
   * @return {@code SERVING}, {@code NOT_SERVING}, or {@code UNREACHABLE} (transport failure)
   */
  public HealthStatus health() {
    return health(RequestOptions.DEFAULT);
  }

  /**
   * The sidecar's health.
   *
   * @param options the deadline
   * @return {@code SERVING}, {@code NOT_SERVING}, or {@code UNREACHABLE}
   * @throws CoreSDKException {@code ERR_ENGINE_CLOSED} after {@link #close()}
   */
  public HealthStatus health(RequestOptions options) {
    try {
      return healthOf(invoke(HEALTH_CHECK, new byte[0], budgetNanos(options)));
    } catch (CoreSDKException e) {
      if (e.isTransportFailure()) {
        return HealthStatus.UNREACHABLE;
      }
      if (e.code().equals("ERR_ENGINE_CLOSED") || e.code().equals("ERR_CONFIG")) {
        throw e;
      }
      return HealthStatus.NOT_SERVING;
    }
  }

  // ------------------------------------------------------------------ the API (CompletableFuture)

  /**
   * {@link #authorize(String, String, Map, RequestOptions)}, asynchronously; the future never fails for a verdict.
   *
   * @param token the compact JWS
   * @param query the Rego query ({@code null}: {@code data.authz.allow})
   * @param input the input document
   * @param options tenant and deadline
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> authorizeAsync(
      String token, String query, Map<String, ?> input, RequestOptions options) {
    try {
      AuthorizeRequest req = authorizeRequest(token, query, input, options);
      return derive(
          invokeAsync(CoreSDKGrpc.getAuthorizeMethod(), req, budgetNanos(options)),
          (res, t) -> t == null ? authorizeResult(res) : failed(unwrap(t)));
    } catch (CoreSDKException e) {
      return CompletableFuture.completedFuture(failed(e));
    }
  }

  /**
   * {@link #authorize(String, String, Map)}, asynchronously.
   *
   * @param token the compact JWS
   * @param query the Rego query
   * @param input the input document
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> authorizeAsync(String token, String query, Map<String, ?> input) {
    return authorizeAsync(token, query, input, RequestOptions.DEFAULT);
  }

  /**
   * {@link #verifyToken(String, RequestOptions)}, asynchronously; the future never fails for a verdict.
   *
   * @param token the compact JWS
   * @param options tenant and deadline
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> verifyTokenAsync(String token, RequestOptions options) {
    try {
      VerifyTokenRequest req = verifyRequest(token, options);
      return derive(
          invokeAsync(CoreSDKGrpc.getVerifyTokenMethod(), req, budgetNanos(options)),
          (res, t) -> t == null ? verifyResult(res) : failed(unwrap(t)));
    } catch (CoreSDKException e) {
      return CompletableFuture.completedFuture(failed(e));
    }
  }

  /**
   * {@link #verifyToken(String)}, asynchronously.
   *
   * @param token the compact JWS
   * @return the verdict
   */
  public CompletableFuture<AuthorizeResult> verifyTokenAsync(String token) {
    return verifyTokenAsync(token, RequestOptions.DEFAULT);
  }

  /**
   * {@link #evaluatePolicy(String, Object, RequestOptions)}, asynchronously; fails with a {@link CoreSDKException}.
   *
   * @param query the Rego query
   * @param input the input document
   * @param options tenant and deadline
   * @return the decision
   */
  public CompletableFuture<Decision> evaluatePolicyAsync(String query, Object input, RequestOptions options) {
    try {
      EvaluatePolicyRequest req = policyRequest(query, input, options);
      return derive(
          invokeAsync(CoreSDKGrpc.getEvaluatePolicyMethod(), req, budgetNanos(options)),
          (res, t) -> t == null ? decision(res) : rethrow(t));
    } catch (CoreSDKException e) {
      return failedFuture(e);
    }
  }

  /**
   * {@link #evaluatePolicy(String, Object)}, asynchronously.
   *
   * @param query the Rego query
   * @param input the input document
   * @return the decision
   */
  public CompletableFuture<Decision> evaluatePolicyAsync(String query, Object input) {
    return evaluatePolicyAsync(query, input, RequestOptions.DEFAULT);
  }

  /**
   * {@link #isAllowed(String, Object, RequestOptions)}, asynchronously; the future never fails.
   *
   * @param query the Rego query
   * @param input the input document
   * @param options tenant and deadline
   * @return the verdict
   */
  public CompletableFuture<IsAllowedResult> isAllowedAsync(String query, Object input, RequestOptions options) {
    return derive(
        evaluatePolicyAsync(query, input, options),
        (d, t) -> t == null ? isAllowedOf(d) : isAllowedFailed(unwrap(t)));
  }

  /**
   * {@link #isAllowed(String, Object)}, asynchronously.
   *
   * @param query the Rego query
   * @param input the input document
   * @return the verdict
   */
  public CompletableFuture<IsAllowedResult> isAllowedAsync(String query, Object input) {
    return isAllowedAsync(query, input, RequestOptions.DEFAULT);
  }

  /**
   * {@link #evaluatePolicies(List, RequestOptions)}, asynchronously.
   *
   * @param items the queries and inputs
   * @param options tenant and deadline
   * @return one result per item
   */
  public CompletableFuture<List<BatchResult>> evaluatePoliciesAsync(List<BatchItem> items, RequestOptions options) {
    try {
      EvaluatePoliciesRequest req = batchRequest(items, options);
      return derive(
          invokeAsync(CoreSDKGrpc.getEvaluatePoliciesMethod(), req, budgetNanos(options)),
          (res, t) -> t == null ? batchResults(res) : rethrow(t));
    } catch (CoreSDKException e) {
      return failedFuture(e);
    }
  }

  /**
   * {@link #evaluatePolicies(List)}, asynchronously.
   *
   * @param items the queries and inputs
   * @return one result per item
   */
  public CompletableFuture<List<BatchResult>> evaluatePoliciesAsync(List<BatchItem> items) {
    return evaluatePoliciesAsync(items, RequestOptions.DEFAULT);
  }

  /**
   * {@link #maskPii(List, RequestOptions)}, asynchronously.
   *
   * @param values the strings
   * @param options tenant and deadline
   * @return the masked strings
   */
  public CompletableFuture<List<String>> maskPiiAsync(List<String> values, RequestOptions options) {
    try {
      MaskPiiRequest req = maskRequest(values, options);
      return derive(
          invokeAsync(CoreSDKGrpc.getMaskPiiMethod(), req, budgetNanos(options)),
          (res, t) -> t == null ? List.copyOf(res.getValuesList()) : rethrow(t));
    } catch (CoreSDKException e) {
      return failedFuture(e);
    }
  }

  /**
   * {@link #maskPii(List)}, asynchronously.
   *
   * @param values the strings
   * @return the masked strings
   */
  public CompletableFuture<List<String>> maskPiiAsync(List<String> values) {
    return maskPiiAsync(values, RequestOptions.DEFAULT);
  }

  /**
   * {@link #health()}, asynchronously.
   *
   * @return the health
   */
  public CompletableFuture<HealthStatus> healthAsync() {
    try {
      return derive(
          invokeAsync(HEALTH_CHECK, new byte[0], budgetNanos(RequestOptions.DEFAULT)),
              (res, t) -> {
                if (t == null) {
                  return healthOf(res);
                }
                CoreSDKException e = unwrap(t);
                if (e.isTransportFailure()) {
                  return HealthStatus.UNREACHABLE;
                }
                if (e.code().equals("ERR_ENGINE_CLOSED")) {
                  throw e;
                }
                return HealthStatus.NOT_SERVING;
              });
    } catch (CoreSDKException e) {
      return failedFuture(e);
    }
  }

  /**
   * Fail-mode counters and the breaker's state.
   *
   * @return the counters
   */
  public ClientStats stats() {
    synchronized (lock) {
      return new ClientStats(failOpen, failClosed, breaker.state());
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

  /** Adds the traceparent captured at the call's start (see {@link Otel}). */
  private static final class TraceInterceptor implements ClientInterceptor {
    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions callOptions, Channel next) {
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

  /** Raw bytes in and out (the health check, decoded by hand). */
  private enum BytesMarshaller implements MethodDescriptor.Marshaller<byte[]> {
    INSTANCE;

    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw Status.INTERNAL.withDescription("cannot read the health answer").asRuntimeException();
      }
    }
  }
}
