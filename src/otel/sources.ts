/**
 * The live engines and maskers of this process, held weakly, for the
 * cumulative metrics `coresdk.jwks.refreshes` and `coresdk.pii.masked`
 * (observed when a metric reader collects, never on the request path).
 *
 * A masker that is garbage-collected keeps its counts in the totals, so a
 * cumulative counter never goes down.
 *
 * @packageDocumentation
 */
import type { Engine } from '../engine.js';
import type { Masker } from '../pii/masker.js';

const engines = new Set<WeakRef<Engine>>();
const maskers = new Set<WeakRef<Masker>>();
/** Totals of maskers already collected, by entity. */
const retired: Record<string, number> = {};
/** The last totals seen per live masker, folded into `retired` when it is collected. */
const lastSeen = new WeakMap<Masker, Record<string, number>>();

const engineGone = new FinalizationRegistry<WeakRef<Engine>>((ref) => engines.delete(ref));
const maskerGone = new FinalizationRegistry<{ ref: WeakRef<Masker>; totals: Record<string, number> }>(({ ref, totals }) => {
  maskers.delete(ref);
  for (const [k, v] of Object.entries(totals)) retired[k] = (retired[k] ?? 0) + v;
});

/** Tracks an engine (called by its constructor). */
export function trackEngine(e: Engine): void {
  const ref = new WeakRef(e);
  engines.add(ref);
  engineGone.register(e, ref);
}

/** Tracks a masker (called by its constructor). */
export function trackMasker(m: Masker): void {
  const ref = new WeakRef(m);
  const totals: Record<string, number> = {};
  lastSeen.set(m, totals);
  maskers.add(ref);
  maskerGone.register(m, { ref, totals });
}

/**
 * Key-set fetches of every live engine with a remote key source, summed by
 * outcome: `{ success, failure }`; `undefined` when no engine fetches keys.
 */
export function jwksRefreshTotals(): { success: number; failure: number } | undefined {
  let seen = false;
  const out = { success: 0, failure: 0 };
  for (const ref of engines) {
    const e = ref.deref();
    if (e === undefined) continue;
    let s;
    try {
      s = e.keyStatus();
    } catch {
      continue; // a closed engine
    }
    if (s === undefined || !(s.source.startsWith('jwks_url') || s.source.startsWith('oidc_issuer'))) continue;
    seen = true;
    out.success += s.refreshesOk;
    out.failure += s.refreshesFailed;
  }
  return seen ? out : undefined;
}

/** Values masked by every masker of this process since it started, by entity. */
export function piiMaskedTotals(): Record<string, number> {
  const out: Record<string, number> = { ...retired };
  for (const ref of maskers) {
    const m = ref.deref();
    if (m === undefined) continue;
    const totals = m.totals();
    const seen = lastSeen.get(m);
    if (seen !== undefined) Object.assign(seen, totals);
    for (const [k, v] of Object.entries(totals)) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
