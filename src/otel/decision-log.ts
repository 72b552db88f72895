/**
 * The decision log: one OpenTelemetry log record per authorization decision
 * (`eventName` `coresdk.decision`), PII-masked, exported with the service's
 * other logs.
 *
 * Kept off the request path: {@link DecisionLog.record} only appends to a
 * bounded buffer (a full buffer drops the record and counts it, exported as
 * `coresdk.decision_log.dropped`); masking and emitting happen on a timer,
 * in batches (one native masking call per batch). It never carries the
 * token, the verified claims or the subject; with `mode: 'input'` it adds
 * the policy input, masked (strings by content, whole values under
 * sensitive member names such as `password`), without its `claims` member.
 *
 * `setupTelemetry()` installs one; the middleware records into it.
 *
 * @packageDocumentation
 */
import { ROOT_CONTEXT, trace, type SpanContext } from '@opentelemetry/api';
import { SeverityNumber, type Logger } from '@opentelemetry/api-logs';

import type { Masker } from '../pii/masker.js';

/** What is logged: `off`, `decisions` (the default) or `input` (adds the masked policy input). Also `decision_log` / `CORESDK_DECISION_LOG`. */
export type DecisionLogMode = 'off' | 'decisions' | 'input';

/** One decision, as the middleware hands it over. */
export interface DecisionRecord {
  /** When it was decided (ms since the epoch). */
  time: number;
  /** `allow`, `deny` or `fail-open`. */
  decision: string;
  /** `allowed`, `denied`, `undefined`, `fail-open`, or an error code. */
  reason: string;
  /** The policy query, if any. */
  query?: string;
  /** The tenant. */
  tenant: string;
  /** The policy revision that decided. */
  revision?: string;
  /** `in-process` or `sidecar`. */
  mode: string;
  /** How long verification and decision took, in ms. */
  durationMs: number;
  /** The span the decision was made in. */
  spanContext?: SpanContext;
  /** The policy input (kept only for mode `input`; serialized and masked at flush). */
  input?: unknown;
}

/** Options of {@link DecisionLog}. */
export interface DecisionLogOptions {
  /** The logger records go to. */
  logger: Logger;
  /** Masks queries and inputs. */
  masker: Masker;
  /** What to log. Default `decisions`. */
  mode?: DecisionLogMode;
  /** Records buffered between flushes; more are dropped and counted. Default 8,192. */
  maxQueue?: number;
  /** How often the buffer is flushed, in ms. Default 500. */
  flushIntervalMs?: number;
}

/** Largest input (JSON text) logged; a larger one is noted as omitted. */
export const MAX_LOGGED_INPUT_BYTES = 64 * 1024;

/** A bounded, masked decision log. */
export class DecisionLog {
  readonly #logger: Logger;
  readonly #masker: Masker;
  readonly #mode: DecisionLogMode;
  readonly #max: number;
  #queue: DecisionRecord[] = [];
  #dropped = 0;
  readonly #timer: NodeJS.Timeout;

  /** Starts the flush timer (unref'd: it never keeps the process alive). */
  constructor(options: DecisionLogOptions) {
    this.#logger = options.logger;
    this.#masker = options.masker;
    this.#mode = options.mode ?? 'decisions';
    this.#max = Math.max(1, options.maxQueue ?? 8192);
    this.#timer = setInterval(() => {
      this.flush();
    }, options.flushIntervalMs ?? 500);
    this.#timer.unref();
  }

  /** What is logged. */
  get mode(): DecisionLogMode {
    return this.#mode;
  }

  /** Records dropped because the buffer was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Buffers one decision: O(1), never throws, never blocks. */
  record(r: DecisionRecord): void {
    if (this.#mode === 'off') return;
    if (this.#queue.length >= this.#max) {
      this.#dropped++;
      return;
    }
    if (this.#mode !== 'input') delete r.input;
    this.#queue.push(r);
  }

  /** Masks and emits what is buffered. */
  flush(): void {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    // Every string to mask, as [name, value] pairs, in one native call.
    const flat: string[] = [];
    const inputs = batch.map((r) => (r.input === undefined ? undefined : collectInput(r.input, flat, this.#masker)));
    const queryAt = batch.map((r) => {
      if (r.query === undefined || r.query === '') return -1;
      flat.push('query', r.query);
      return flat.length / 2 - 1;
    });
    const masked = flat.length > 0 ? this.#masker.maskAttributesFlat(flat) : [];
    const at = (i: number): string => masked[i] ?? flat[2 * i + 1] ?? '';
    batch.forEach((r, n) => {
      const qi = queryAt[n] ?? -1;
      const query = qi >= 0 ? at(qi) : undefined;
      const attributes: Record<string, string | number> = {
        'coresdk.decision': r.decision,
        'coresdk.reason': r.reason,
        'coresdk.tenant': r.tenant,
        'coresdk.mode': r.mode,
        'coresdk.duration_ms': r.durationMs,
      };
      if (query !== undefined) attributes['coresdk.query'] = query;
      if (r.revision !== undefined) attributes['coresdk.policy.revision'] = r.revision;
      const input = inputs[n];
      if (input !== undefined) attributes['coresdk.input'] = input.render(at);
      this.#logger.emit({
        eventName: 'coresdk.decision',
        timestamp: r.time,
        severityNumber: SeverityNumber.INFO,
        severityText: 'INFO',
        body: `${r.decision} ${query ?? 'verify'}`,
        attributes,
        context: r.spanContext === undefined ? undefined : trace.setSpanContext(ROOT_CONTEXT, r.spanContext),
      });
    });
  }

  /** Flushes and stops the timer. */
  shutdown(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}

interface CollectedInput {
  render(at: (i: number) => string): string;
}

/**
 * Walks an input document, pushing `[name, value]` for every string (and
 * every number under a sensitive name) to mask. The name is the member's,
 * or the nearest sensitive ancestor's so that everything under `password`
 * or `credentials` is masked whole; `render` rebuilds the JSON text from
 * the masked values.
 */
function collectInput(input: unknown, flat: string[], masker: Masker): CollectedInput {
  let text: string;
  try {
    const t = JSON.stringify(input) as string | undefined; // undefined for a function or a symbol
    text = t ?? 'null';
  } catch {
    return { render: () => '[omitted: not serializable]' };
  }
  if (text.length > MAX_LOGGED_INPUT_BYTES) {
    const size = text.length;
    return { render: () => `[omitted: ${size} bytes, over ${MAX_LOGGED_INPUT_BYTES}]` };
  }
  const doc = JSON.parse(text) as unknown;
  // Verified claims travel as `input.claims` by convention; the log never carries them.
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) delete (doc as Record<string, unknown>).claims;
  const slots: Array<{ set: (v: string) => void; index: number }> = [];
  const sensitive = new Map<string, boolean>();
  const isSensitive = (k: string): boolean => {
    let s = sensitive.get(k);
    if (s === undefined) sensitive.set(k, (s = masker.isSensitiveName(k)));
    return s;
  };
  // `hidden`: the sensitive ancestor's name, when there is one.
  const visit = (v: unknown, name: string, hidden: string | undefined, set: (x: unknown) => void): void => {
    if (typeof v === 'string' || (typeof v === 'number' && hidden !== undefined)) {
      flat.push(hidden ?? name, String(v));
      slots.push({ set, index: flat.length / 2 - 1 });
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => {
        visit(item, name, hidden, (x) => (v[i] = x));
      });
    } else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) visit(o[k], k, hidden ?? (isSensitive(k) ? k : undefined), (x) => (o[k] = x));
    }
  };
  const box = { doc };
  visit(doc, '', undefined, (x) => (box.doc = x));
  return {
    render: (at) => {
      for (const s of slots) s.set(at(s.index));
      return JSON.stringify(box.doc);
    },
  };
}

let installed: DecisionLog | undefined;

/** The decision log the middleware records into (set by `setupTelemetry()`). */
export function decisionLog(): DecisionLog | undefined {
  return installed;
}

/** Installs (or with `undefined`, removes) the process's decision log. */
export function setDecisionLog(log: DecisionLog | undefined): void {
  installed = log;
}
