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
 * Every maskable string of a span as `[name, value, name, value, ...]`: the
 * attribute name for attribute values, empty for the span name, event names
 * and the status message (masked by content only). The order is the one
 * {@link probe} and {@link MaskedCopier} walk.
 */
function collectFlat(name: string, attrs: Attributes, events: readonly TimedEvent[], links: readonly Link[], status: SpanStatus | undefined): string[] {
  const flat: string[] = ['', name];
  const add = (a: Attributes): void => {
    for (const k in a) {
      const v = a[k];
      if (typeof v === 'string') flat.push(k, v);
      else if (Array.isArray(v)) for (const item of v as unknown[]) if (typeof item === 'string') flat.push(k, item);
    }
  };
  add(attrs);
  for (const e of events) {
    flat.push('', e.name);
    if (e.attributes) add(e.attributes);
  }
  for (const l of links) if (l.attributes) add(l.attributes);
  if (status?.message !== undefined) flat.push('', status.message);
  return flat;
}

/**
 * The first pass, for the common case of nothing to mask: the same
 * traversal as {@link collectFlat}, but building the two NUL-joined strings
 * directly (no per-value arrays). `null` when a value contains NUL itself.
 */
function probe(name: string, attrs: Attributes, events: readonly TimedEvent[], links: readonly Link[], status: SpanStatus | undefined): { names: string; values: string } | null {
  let names = '';
  let values = name;
  let clean = !name.includes('\0');
  const add = (a: Attributes): void => {
    for (const k in a) {
      const v = a[k];
      if (typeof v === 'string') {
        names += `\0${k}`;
        values += `\0${v}`;
        if (clean && v.includes('\0')) clean = false;
      } else if (Array.isArray(v)) {
        for (const item of v as unknown[]) {
          if (typeof item === 'string') {
            names += `\0${k}`;
            values += `\0${item}`;
            if (clean && item.includes('\0')) clean = false;
          }
        }
      }
    }
  };
  add(attrs);
  for (const e of events) {
    names += '\0';
    values += `\0${e.name}`;
    if (clean && e.name.includes('\0')) clean = false;
    if (e.attributes) add(e.attributes);
  }
  for (const l of links) if (l.attributes) add(l.attributes);
  if (status?.message !== undefined) {
    names += '\0';
    values += `\0${status.message}`;
    if (clean && status.message.includes('\0')) clean = false;
  }
  return clean ? { names, values } : null;
}

/**
 * Masks a span's strings in one native call: the joined-string probe when
 * possible (unchanged spans cost one call and no arrays), else the collected
 * arrays. Returns the masked values in {@link collectFlat}'s order, or `null`
 * when nothing needs masking.
 */
function maskSpanStrings(masker: Masker, name: string, attrs: Attributes, events: readonly TimedEvent[], links: readonly Link[], status: SpanStatus | undefined): string[] | null {
  const p = probe(name, attrs, events, links, status);
  if (p !== null) {
    const out = masker.maskAttributesJoined(p.names, p.values);
    return out === null ? null : out.split('\0');
  }
  // A value holds NUL itself: one array crossing instead.
  const flat = collectFlat(name, attrs, events, links, status);
  const out = masker.maskAttributesFlat(flat);
  return out.some((v) => v !== null && v !== undefined) ? out.map((v, i) => v ?? (flat[2 * i + 1] as string)) : null;
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
    const masked = maskSpanStrings(this.#masker, span.name, span.attributes, span.events, span.links, span.status);
    if (masked !== null) {
      // The same traversal, writing the masked values into the still-open span.
      const c = new MaskedCopier(masked);
      const name = c.next();
      const attrs = c.changed(span.attributes);
      for (const e of span.events) {
        e.name = c.next();
        if (e.attributes) e.attributes = c.attrs(e.attributes);
      }
      for (const l of span.links) if (l.attributes) l.attributes = c.attrs(l.attributes);
      if (name !== span.name) span.updateName(name);
      span.setAttributes(attrs);
      if (span.status.message !== undefined) {
        const message = c.next();
        if (message !== span.status.message) span.setStatus({ ...span.status, message });
      }
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

/**
 * Copies of attributes with the masked values put in, walking in
 * {@link collectFlat}'s order: one pass, no intermediate arrays.
 */
class MaskedCopier {
  #i = 0;
  constructor(readonly masked: readonly string[]) {}

  next(): string {
    return this.masked[this.#i++] ?? '';
  }

  /** Only the attributes whose values the masking changed (for a live span's `setAttributes`). */
  changed(a: Attributes): Attributes {
    const out: Attributes = {};
    for (const k in a) {
      const v = a[k];
      if (typeof v === 'string') {
        const m = this.next();
        if (m !== v) out[k] = m;
      } else if (Array.isArray(v)) {
        const items: unknown[] = [];
        let differs = false;
        for (const item of v as unknown[]) {
          if (typeof item === 'string') {
            const m = this.next();
            differs ||= m !== item;
            items.push(m);
          } else items.push(item);
        }
        if (differs) out[k] = items as AttributeValue;
      }
    }
    return out;
  }

  attrs(a: Attributes): Attributes {
    const out: Attributes = {};
    for (const k in a) {
      const v = a[k];
      if (typeof v === 'string') out[k] = this.next();
      else if (Array.isArray(v)) out[k] = (v as unknown[]).map((item) => (typeof item === 'string' ? this.next() : item)) as AttributeValue;
      else out[k] = v;
    }
    return out;
  }
}

/** A masked copy of the span's data over the original (other members inherited). */
function maskedView(span: ReadableSpan, masker: Masker): ReadableSpan {
  const masked = maskSpanStrings(masker, span.name, span.attributes, span.events, span.links, span.status);
  if (masked === null) return span;
  const c = new MaskedCopier(masked);
  const name = c.next();
  const attributes = c.attrs(span.attributes);
  const events: TimedEvent[] = span.events.map((e) => {
    const eventName = c.next();
    return { ...e, name: eventName, attributes: e.attributes ? c.attrs(e.attributes) : undefined };
  });
  const links: Link[] = span.links.map((l) => ({ ...l, attributes: l.attributes ? c.attrs(l.attributes) : undefined }));
  const status: SpanStatus = span.status.message === undefined ? span.status : { ...span.status, message: c.next() };
  return Object.create(span, {
    name: { value: name, enumerable: true },
    attributes: { value: attributes, enumerable: true },
    events: { value: events, enumerable: true },
    links: { value: links, enumerable: true },
    status: { value: status, enumerable: true },
  }) as ReadableSpan;
}
