/**
 * CoreSDK's metric instruments, created per meter provider.
 *
 * Instruments are looked up for the meter provider registered *now*
 * (`metrics.getMeterProvider()`), not captured when a module loads: the
 * OpenTelemetry metrics API hands out no-op meters before a provider is
 * registered, so instruments created at import time would stay no-ops when
 * `setupTelemetry()` runs after the imports (the usual order).
 *
 * - `coresdk.authz.decisions` (counter, by `decision` and `reason`)
 * - `coresdk.authz.decision.duration` (histogram, seconds, buckets from
 *   10 µs to 1 s, the same as the sidecar's)
 * - `coresdk.jwks.refreshes` (observable counter, by `outcome`)
 * - `coresdk.pii.masked` (observable counter, by `entity`)
 * - `coresdk.decision_log.dropped` (observable counter)
 *
 * Never a subject, token or kid on a metric.
 *
 * @packageDocumentation
 */
import { metrics, type Counter, type Histogram, type MeterProvider } from '@opentelemetry/api';

import { decisionLog } from './decision-log.js';
import { jwksRefreshTotals, piiMaskedTotals } from './sources.js';

/**
 * Bucket boundaries of `coresdk.authz.decision.duration`, in seconds (the
 * sidecar's data plane uses the same ones).
 */
export const DURATION_BOUNDARIES: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** The synchronous instruments the middleware records into. */
export interface AuthzInstruments {
  /** `coresdk.authz.decisions`. */
  readonly decisions: Counter;
  /** `coresdk.authz.decision.duration`, in seconds. */
  readonly duration: Histogram;
}

const byProvider = new WeakMap<MeterProvider, AuthzInstruments>();

/**
 * The instruments of `provider` (default: the global one), created on first
 * use together with the observable counters.
 */
export function authzInstruments(provider: MeterProvider = metrics.getMeterProvider()): AuthzInstruments {
  const known = byProvider.get(provider);
  if (known !== undefined) return known;
  const meter = provider.getMeter('coresdk');
  const made: AuthzInstruments = {
    decisions: meter.createCounter('coresdk.authz.decisions', { description: 'Authorization decisions, by decision and reason' }),
    duration: meter.createHistogram('coresdk.authz.decision.duration', {
      description: 'Time to verify and decide',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BOUNDARIES] },
    }),
  };
  meter.createObservableCounter('coresdk.jwks.refreshes', { description: 'Key-set (JWKS) fetches, by outcome' }).addCallback((r) => {
    const t = jwksRefreshTotals();
    if (t === undefined) return;
    r.observe(t.success, { outcome: 'success' });
    r.observe(t.failure, { outcome: 'failure' });
  });
  meter.createObservableCounter('coresdk.pii.masked', { description: 'Values masked, by entity type' }).addCallback((r) => {
    for (const [entity, n] of Object.entries(piiMaskedTotals())) r.observe(n, { entity });
  });
  meter.createObservableCounter('coresdk.decision_log.dropped', { description: 'Decision-log records dropped because the buffer was full' }).addCallback((r) => {
    const log = decisionLog();
    if (log !== undefined) r.observe(log.dropped);
  });
  byProvider.set(provider, made);
  return made;
}
