/**
 * An OpenTelemetry `SpanProcessor` (sdk-trace-base 2.x) that masks PII and
 * secrets before anything is exported: the span name, string and
 * string-array attribute values, event names and attributes, link
 * attributes and the status message. Attributes with sensitive names
 * (authorization, cookie, password, api_key...) are masked whole; the rest
 * by content. One native call per span.
 *
 * Where the SDK calls `onEnding` (the span still mutable), the span itself
 * is masked, so every processor after this one sees masked data. Otherwise
 * `onEnd` hands the wrapped processor a masked view of the span.
 *
 * @example
 * ```ts
 * import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
 * import { PiiMaskingSpanProcessor } from 'coresdk';
 * const provider = new BasicTracerProvider({
 *   spanProcessors: [new PiiMaskingSpanProcessor(new BatchSpanProcessor(exporter))],
 * });
 * ```
 *
 * @packageDocumentation
 */
import type { Attributes, AttributeValue, Context, Link, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';

import { Masker, type MaskerOptions } from '../pii/masker.js';

/**
 * Every maskable string of a span: attribute names (empty for the span
 * name, event names and the status message, which are masked by content
 * only), values, and where each value lives (`holders[i][keys[i]]`).
 */
interface Collected {
  names: string[];
  values: string[];
  holders: object[];
  keys: Array<string | number>;
  nul: boolean;
}

function addAttributes(c: Collected, a: Attributes): void {
  for (const k in a) {
    const v = a[k];
    if (typeof v === 'string') {
      c.names.push(k);
      c.values.push(v);
      c.holders.push(a);
      c.keys.push(k);
      if (v.includes('\0')) c.nul = true;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item === 'string') {
          c.names.push(k);
          c.values.push(item);
          c.holders.push(v);
          c.keys.push(i);
          if (item.includes('\0')) c.nul = true;
        }
      }
    }
  }
}

function addText(c: Collected, holder: object, key: string, value: string): void {
  c.names.push('');
  c.values.push(value);
  c.holders.push(holder);
  c.keys.push(key);
  if (value.includes('\0')) c.nul = true;
}

function collect(root: { name: string }, attrs: Attributes, events: readonly TimedEvent[], links: readonly Link[], status: SpanStatus | undefined): Collected {
  const c: Collected = { names: [], values: [], holders: [], keys: [], nul: false };
  addText(c, root, 'name', root.name);
  addAttributes(c, attrs);
  for (const e of events) {
    addText(c, e, 'name', e.name);
    if (e.attributes) addAttributes(c, e.attributes);
  }
  for (const l of links) if (l.attributes) addAttributes(c, l.attributes);
  if (status?.message !== undefined) addText(c, status, 'message', status.message);
  return c;
}

/**
 * Masks the collected values in one native call: names and values cross
 * as two NUL-joined strings, and only a changed result comes back. Returns
 * the masked values, or `null` when nothing needs masking.
 */
function maskCollected(masker: Masker, c: Collected): string[] | null {
  if (!c.nul) {
    const out = masker.maskAttributesJoined(c.names.join('\0'), c.values.join('\0'));
    return out === null ? null : out.split('\0');
  }
  // A value holds NUL itself: one array crossing instead.
  const flat: string[] = [];
  for (let i = 0; i < c.names.length; i++) flat.push(c.names[i] as string, c.values[i] as string);
  const out = masker.maskAttributesFlat(flat);
  return out.some((v) => v !== null && v !== undefined) ? out.map((v, i) => v ?? (c.values[i] as string)) : null;
}

function writeBack(c: Collected, masked: readonly string[]): void {
  for (let i = 0; i < masked.length; i++) (c.holders[i] as Record<string | number, unknown>)[c.keys[i] as string | number] = masked[i];
}

function cloneAttrs(a: Attributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(a)) out[k] = (Array.isArray(v) ? [...(v as unknown[])] : v) as AttributeValue;
  return out;
}

/** Masks spans before the wrapped processor (an exporter's processor) sees them. */
export class PiiMaskingSpanProcessor implements SpanProcessor {
  readonly #next: SpanProcessor;
  readonly #masker: Masker;
  readonly #masked = new WeakSet<object>();

  /** @param next - the processor to hand masked spans to; @param options - masker options, or a `Masker` */
  constructor(next: SpanProcessor, options: MaskerOptions | Masker = {}) {
    this.#next = next;
    this.#masker = options instanceof Masker ? options : new Masker(options);
  }

  /** The masker, e.g. for `takeCounts()` (the `coresdk.pii.masked` metric). */
  get masker(): Masker {
    return this.#masker;
  }

  onStart(span: Span, parentContext: Context): void {
    this.#next.onStart(span, parentContext);
  }

  /** Masks the still-mutable span in place (SDKs with `onEnding`). */
  onEnding(span: Span): void {
    const probe = collect({ name: span.name }, span.attributes, span.events, span.links, span.status);
    const masked = maskCollected(this.#masker, probe);
    if (masked !== null) {
      // Same traversal over copies, then write the results back into the span.
      const root = { name: span.name };
      const attrs = cloneAttrs(span.attributes);
      const status: SpanStatus = { ...span.status };
      writeBack(collect(root, attrs, span.events, span.links, status), masked);
      if (root.name !== span.name) span.updateName(root.name);
      span.setAttributes(attrs);
      if (status.message !== span.status.message) span.setStatus(status);
    }
    this.#masked.add(span);
    (this.#next as { onEnding?: (s: Span) => void }).onEnding?.(span);
  }

  /** Hands the next processor the span, masked in place or as a masked view. */
  onEnd(span: ReadableSpan): void {
    this.#next.onEnd(this.#masked.has(span) ? span : maskedView(span, this.#masker));
  }

  forceFlush(): Promise<void> {
    return this.#next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#next.shutdown();
  }
}

/** A masked copy of the span's data over the original (other members inherited). */
function maskedView(span: ReadableSpan, masker: Masker): ReadableSpan {
  const masked = maskCollected(masker, collect({ name: span.name }, span.attributes, span.events, span.links, span.status));
  if (masked === null) return span;
  const root = { name: span.name };
  const attrs = cloneAttrs(span.attributes);
  const events: TimedEvent[] = span.events.map((e) => ({ ...e, attributes: e.attributes ? cloneAttrs(e.attributes) : undefined }));
  const links: Link[] = span.links.map((l) => ({ ...l, attributes: l.attributes ? cloneAttrs(l.attributes) : undefined }));
  const status: SpanStatus = { ...span.status };
  writeBack(collect(root, attrs, events, links, status), masked);
  return Object.create(span, {
    name: { value: root.name, enumerable: true },
    attributes: { value: attrs, enumerable: true },
    events: { value: events, enumerable: true },
    links: { value: links, enumerable: true },
    status: { value: status, enumerable: true },
  }) as ReadableSpan;
}
