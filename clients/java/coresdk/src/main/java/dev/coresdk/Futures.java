package dev.coresdk;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.BiFunction;

/** The {@link CompletableFuture} plumbing of the {@code *Async} methods. */
final class Futures {
  private Futures() {}

  /**
   * The {@link CoreSDKException} behind a future's failure.
   *
   * @param t the failure
   * @return the exception ({@code ERR_ABORTED} for a cancellation, {@code ERR_INTERNAL} for anything unexpected)
   */
  static CoreSDKException unwrap(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof CoreSDKException) {
      return (CoreSDKException) c;
    }
    if (c instanceof CancellationException) {
      return new CoreSDKException("ERR_ABORTED", "the call was cancelled");
    }
    return new CoreSDKException("ERR_INTERNAL", "unexpected failure: " + c.getClass().getSimpleName());
  }

  /**
   * A future derived from {@code source} whose cancellation cancels {@code source} (and so the call).
   *
   * @param source the call's future
   * @param fn the result or failure to the derived value
   * @return the derived future
   */
  static <S, T> CompletableFuture<T> derive(
      CompletableFuture<S> source, BiFunction<? super S, Throwable, ? extends T> fn) {
    CompletableFuture<T> derived = source.handle(fn);
    derived.whenComplete(
        (r, t) -> {
          if (derived.isCancelled()) {
            source.cancel(true);
          }
        });
    return derived;
  }

  /**
   * Throws the {@link CoreSDKException} behind {@code t}.
   *
   * @param t the failure
   * @return never
   */
  static <T> T rethrow(Throwable t) {
    throw unwrap(t);
  }

  /**
   * A future failed with {@code e}.
   *
   * @param e the failure
   * @return the future
   */
  static <T> CompletableFuture<T> failed(CoreSDKException e) {
    CompletableFuture<T> f = new CompletableFuture<>();
    f.completeExceptionally(e);
    return f;
  }
}
