/**
 * A circuit breaker for the sidecar transport, so that a dead sidecar costs
 * one fast failure per request instead of a full timeout each.
 *
 * Closed: calls go through; `failureThreshold` transport failures in a row
 * open it. Open: calls fail at once for `resetMs`. Half-open: one call goes
 * through as a probe; its success closes the breaker, its failure opens it
 * again. Only transport failures count: an answer from the sidecar, even an
 * error status, is a success for the breaker.
 *
 * @packageDocumentation
 */

/** Breaker settings. */
export interface BreakerOptions {
  /** Transport failures in a row that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long the breaker stays open before one probe call. Default 5000 ms. */
  resetMs?: number;
}

/** The breaker's state. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** A circuit breaker; `now` is injectable for tests. */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #resetMs: number;
  readonly #now: () => number;
  #failures = 0;
  #openedAt = 0;
  #state: BreakerState = 'closed';
  #probeInFlight = false;

  /** @param options - thresholds; @param now - clock in ms */
  constructor(options: BreakerOptions = {}, now: () => number = Date.now) {
    this.#threshold = Math.max(1, options.failureThreshold ?? 5);
    this.#resetMs = Math.max(0, options.resetMs ?? 5000);
    this.#now = now;
  }

  /** The current state. */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#resetMs) return 'half-open';
    return this.#state;
  }

  /** Whether a call may go out now (claims the half-open probe if so). */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'half-open' && !this.#probeInFlight) {
      this.#probeInFlight = true;
      return true;
    }
    return false;
  }

  /** The sidecar answered. */
  onSuccess(): void {
    this.#failures = 0;
    this.#state = 'closed';
    this.#probeInFlight = false;
  }

  /** The sidecar could not be reached. */
  onFailure(): void {
    this.#probeInFlight = false;
    this.#failures++;
    if (this.#state !== 'closed' || this.#failures >= this.#threshold) {
      this.#state = 'open';
      this.#openedAt = this.#now();
    }
  }
}
