package dev.coresdk;

import java.util.function.Consumer;

/**
 * What an unreachable sidecar means for a verdict, and the counters of {@link CoreSDKClient#stats()}.
 *
 * <p>The fail mode applies to one situation only, the sidecar could not be reached
 * ({@link CoreSDKException#isTransportFailure()}: connection or TLS refused, no answer within the deadline, breaker
 * open): {@link FailMode#OPEN} allows with {@code null} claims (a warning at most every 10 s, a counter),
 * {@link FailMode#CLOSED} denies with the error. Any other error, an answer of the sidecar included, is a deny with
 * that error's code, never an allow.
 */
final class FailModePolicy {
  private static final System.Logger LOG = System.getLogger("coresdk");
  private static final long WARN_EVERY_NANOS = 10_000_000_000L;

  private final FailMode mode;
  private final String addr;
  private final Consumer<String> warn;
  private final Object lock = new Object();
  private long failOpen;
  private long failClosed;
  private long lastWarn;
  private boolean warnedOnce;

  /**
   * The policy of a client.
   *
   * @param config the fail mode, the address (named in warnings) and the warn sink
   */
  FailModePolicy(SDKConfig config) {
    this.mode = config.failMode();
    this.addr = config.sidecarAddr();
    this.warn = config.warn();
  }

  /** The unreachable sidecar's verdict: allowed (degraded) or denied, counted; fail-open warns, rate-limited. */
  private AuthorizeResult degrade(CoreSDKException e) {
    if (mode == FailMode.OPEN) {
      long n;
      boolean now;
      synchronized (lock) {
        failOpen++;
        n = failOpen;
        long t = System.nanoTime();
        now = !warnedOnce || t - lastWarn >= WARN_EVERY_NANOS;
        if (now) {
          warnedOnce = true;
          lastWarn = t;
        }
      }
      if (now) {
        String msg =
            "coresdk: sidecar at " + addr + " unreachable (" + e.code() + "); fail_mode \"open\" is allowing"
                + " requests with null claims (" + n + " so far)";
        try {
          if (warn != null) {
            warn.accept(msg);
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

  /**
   * The verdict of a call of {@code authorize} or {@code verifyToken} that failed with {@code e}.
   *
   * @param e the failure
   * @return the verdict
   */
  AuthorizeResult failed(CoreSDKException e) {
    if (e.isTransportFailure()) {
      return degrade(e);
    }
    return new AuthorizeResult(false, e.code(), null, false, null, null, e, false);
  }

  /**
   * The verdict of a call of {@code isAllowed} that failed with {@code e}.
   *
   * @param e the failure
   * @return the verdict
   */
  IsAllowedResult isAllowedFailed(CoreSDKException e) {
    if (e.isTransportFailure()) {
      AuthorizeResult r = degrade(e);
      return new IsAllowedResult(r.allowed(), r.reason(), r.degraded(), e, null);
    }
    return new IsAllowedResult(false, e.code(), false, e, null);
  }

  /**
   * The counters, with the breaker's state.
   *
   * @param breaker the transport's breaker state
   * @return the statistics
   */
  ClientStats stats(BreakerState breaker) {
    synchronized (lock) {
      return new ClientStats(failOpen, failClosed, breaker);
    }
  }
}
