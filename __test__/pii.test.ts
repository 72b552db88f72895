/**
 * The PII masker: a labelled corpus (recall and precision per detector; no
 * false positive on UUIDs, trace ids, timestamps, versions or ordinary
 * numbers), the OpenTelemetry span processor on a real tracer provider, and
 * bad input (10 MB strings, lone surrogates, 10,000 attributes, non-string
 * values).
 */
import { context, SpanStatusCode, type Link } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';

import { CoreSDKError } from '../src/errors.js';
import { PiiMaskingSpanProcessor } from '../src/otel/pii-span-processor.js';
import { Masker, PII_ENTITIES } from '../src/pii/masker.js';
import { corpus } from './support/pii-corpus.js';

describe('labelled corpus', () => {
  const { positives, negatives } = corpus();
  const masker = new Masker();
  const tags = (s: string): string[] => [...s.matchAll(/\[REDACTED:([a-z_0-9]+)\]/g)].map((m) => m[1] as string);

  it('masks credentials in free text, names and URLs kept', () => {
    const m = new Masker();
    expect(m.maskOne('Authorization: Basic dXNlcjpwYXNzd29yZA==')).toBe('Authorization: [REDACTED:basic_auth]');
    expect(m.maskOne('a Basic idea')).toBe('a Basic idea');
    expect(m.maskOne('postgres://app:s3cr3t@db:5432/x')).toBe('postgres://app:[REDACTED:url_credentials]@db:5432/x');
    expect(m.maskOne('GET /x?user=bob&password=hunter2&y=1')).toBe('GET /x?user=bob&password=[REDACTED:credential_param]&y=1');
    expect(m.maskOne('max_tokens=512 password=true')).toBe('max_tokens=512 password=true');
    // The same rules through the span processor's joined path.
    expect(m.maskAttributes([['log.message', 'sent Basic dXNlcjpwYXNzd29yZA== upstream']])).toEqual(['sent [REDACTED:basic_auth] upstream']);
  });

  it('has at least 500 positive and 500 negative samples', () => {
    expect(positives.length).toBeGreaterThanOrEqual(500);
    expect(negatives.length).toBeGreaterThanOrEqual(500);
  });

  it('meets recall and precision per detector, with no false positive on the negatives', () => {
    const masked = masker.mask(positives.map((p) => p.text));
    const maskedNeg = masker.mask(negatives.map((n) => n.text));
    const stats = new Map<string, { tp: number; fn: number; fp: number }>(PII_ENTITIES.map((e) => [e, { tp: 0, fn: 0, fp: 0 }]));
    const misses: string[] = [];
    positives.forEach((p, i) => {
      const found = tags(masked[i] ?? '');
      const want = p.entities[0] as string;
      const s = stats.get(want);
      if (s === undefined) throw new Error(want);
      if (found.includes(want)) s.tp++;
      else {
        s.fn++;
        misses.push(`${want}: ${JSON.stringify(p.text)} -> ${JSON.stringify(masked[i])}`);
      }
      for (const f of found) if (f !== want) (stats.get(f) as { fp: number }).fp++;
    });
    const falsePositives: string[] = [];
    negatives.forEach((n, i) => {
      for (const f of tags(maskedNeg[i] ?? '')) {
        (stats.get(f) as { fp: number }).fp++;
        falsePositives.push(`${f}: ${JSON.stringify(n.text)}`);
      }
    });
    const table = [...stats].map(([e, s]) => ({ entity: e, positives: s.tp + s.fn, recall: s.tp / Math.max(1, s.tp + s.fn), precision: s.tp / Math.max(1, s.tp + s.fp), fp: s.fp }));
    console.log(table.map((t) => `| ${t.entity} | ${t.positives} | ${(t.recall * 100).toFixed(1)}% | ${(t.precision * 100).toFixed(1)}% |`).join('\n'));
    expect(falsePositives).toEqual([]);
    for (const t of table) {
      expect(t.recall, `${t.entity} recall; misses:\n${misses.filter((m) => m.startsWith(t.entity)).join('\n')}`).toBeGreaterThanOrEqual(0.95);
      expect(t.precision, `${t.entity} precision`).toBeGreaterThanOrEqual(0.95);
    }
    // A masked value never survives in the output, and masking is idempotent.
    positives.forEach((p, i) => {
      const digitsOnly = p.text.replace(/\D/g, '');
      if (p.entities[0] === 'card_number') expect(masked[i]?.replace(/\D/g, '')).not.toContain(digitsOnly.slice(-12));
      if (p.secret !== undefined) expect(masked[i], p.text).not.toContain(p.secret);
    });
    expect(masker.mask(masked)).toEqual(masked);
  });
});

describe('Masker', () => {
  it('styles, dictionaries, patterns and sensitive names', () => {
    expect(new Masker({ style: 'partial' }).maskOne('card 4111 1111 1111 1111')).toBe('card **** **** **** 1111');
    const h = new Masker({ style: 'hash', hashKey: 'ab'.repeat(32) });
    expect(h.maskOne('bob@example.com')).toBe(h.maskOne('bob@example.com'));
    expect(h.maskOne('bob@example.com')).not.toBe(h.maskOne('eve@example.com'));
    expect(() => new Masker({ style: 'hash' })).toThrow(CoreSDKError);
    const m = new Masker({ dictionary: ['Project Nightingale'], patterns: { employee_id: '\\bEMP-[0-9]{6}\\b' }, sensitiveNames: ['internal_note'] });
    expect(m.maskOne('see project nightingale, EMP-123456')).toBe('see [REDACTED:custom], [REDACTED:employee_id]');
    expect(m.maskAttributes([['http.request.header.authorization', 'Basic abc'], ['internal.note', 'anything'], ['user.comment', 'hello']])).toEqual(['[REDACTED:secret]', '[REDACTED:secret]', 'hello']);
    expect(() => new Masker({ patterns: { bad: '(' } })).toThrow(/patterns/);
    expect(() => new Masker({ entities: ['email', 'dna' as 'email'] })).toThrow(/dna/);
    expect(m.takeCounts()).toMatchObject({ custom: 1, employee_id: 1, secret: 2 });
  });

  it('bad input: 10 MB strings, lone surrogates, empty strings', () => {
    const m = new Masker();
    const big = `${'lorem ipsum 12345 '.repeat(600_000)}bob@example.com`;
    const out = m.maskOne(big);
    expect(out.endsWith('[REDACTED:email]')).toBe(true);
    const lone = 'bad \ud800 surrogate';
    expect(m.maskOne(lone)).toBe(lone);
    expect(m.mask(['', 'x'])).toEqual(['', 'x']);
  });
});

describe('PiiMaskingSpanProcessor', () => {
  function setup(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider; processor: PiiMaskingSpanProcessor } {
    const exporter = new InMemorySpanExporter();
    const processor = new PiiMaskingSpanProcessor(new SimpleSpanProcessor(exporter));
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    return { exporter, provider, processor };
  }

  it('masks name, attributes, arrays, events, links and status before export', async () => {
    const { exporter, provider } = setup();
    const tracer = provider.getTracer('test');
    const link: Link = { context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }, attributes: { 'peer.email': 'eve@example.com' } };
    const span = tracer.startSpan('GET /users/bob@example.com', { links: [link] }, context.active());
    span.setAttributes({
      'http.request.header.authorization': 'Bearer abcdefghijklmnopqrstuvwxyz',
      'user.email': 'bob@example.com',
      'client.addresses': ['10.1.2.3', 'fine'],
      'http.response.status_code': 200,
      'user.id': 'user-42',
    });
    span.addEvent('card 4111 1111 1111 1111 declined', { 'payment.card': '4111 1111 1111 1111', 'attempt': 2 });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed for +14155552671' });
    span.end();
    await provider.forceFlush();
    const [s] = exporter.getFinishedSpans() as [ReadableSpan];
    expect(s.name).toBe('GET /users/[REDACTED:email]');
    expect(s.attributes).toEqual({
      'http.request.header.authorization': '[REDACTED:secret]',
      'user.email': '[REDACTED:email]',
      'client.addresses': ['[REDACTED:ipv4]', 'fine'],
      'http.response.status_code': 200,
      'user.id': 'user-42',
    });
    expect(s.events[0]?.name).toBe('card [REDACTED:card_number] declined');
    expect(s.events[0]?.attributes).toEqual({ 'payment.card': '[REDACTED:card_number]', attempt: 2 });
    expect(s.links[0]?.attributes).toEqual({ 'peer.email': '[REDACTED:email]' });
    expect(s.status.message).toBe('failed for [REDACTED:phone]');
    expect(JSON.stringify(s.attributes)).not.toContain('bob@');
    await provider.shutdown();
  });

  it('without onEnding, onEnd hands the next processor a masked view', () => {
    const exporter = new InMemorySpanExporter();
    const processor = new PiiMaskingSpanProcessor(new SimpleSpanProcessor(exporter));
    const original = {
      name: 'mail bob@example.com',
      attributes: { cookie: 'session=abc', n: 1 },
      events: [],
      links: [],
      status: { code: 0 },
      spanContext: () => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }),
    } as unknown as ReadableSpan;
    let seen: ReadableSpan | undefined;
    const next = new PiiMaskingSpanProcessor({ onStart: () => undefined, onEnd: (s: ReadableSpan) => (seen = s), forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() });
    next.onEnd(original);
    expect(seen?.name).toBe('mail [REDACTED:email]');
    expect(seen?.attributes).toEqual({ cookie: '[REDACTED:secret]', n: 1 });
    expect(seen?.spanContext().spanId).toBe('00f067aa0ba902b7');
    expect(original.name).toBe('mail bob@example.com');
    void processor.shutdown();
  });

  it('the masked view covers arrays, events, links, the status and values holding NUL, and leaves the original alone', () => {
    for (const nul of [false, true]) {
      const extra = nul ? 'a\0b ' : '';
      const original = {
        name: `${extra}GET /users/bob@example.com`,
        attributes: { 'user.emails': ['a@example.com', 'plain', 7], n: 1, ok: true, note: `${extra}fine` },
        events: [{ name: 'card 4111 1111 1111 1111 declined', time: [0, 0], attributes: { password: 'hunter2', attempt: 2 } }, { name: 'retry', time: [0, 0] }],
        links: [{ context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }, attributes: { 'peer.email': 'c@example.org' } }],
        status: { code: 2, message: `${extra}failed for d@example.net` },
        spanContext: () => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }),
      } as unknown as ReadableSpan;
      const before = JSON.stringify(original);
      let seen: ReadableSpan | undefined;
      new PiiMaskingSpanProcessor({ onStart: () => undefined, onEnd: (s: ReadableSpan) => (seen = s), forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() }).onEnd(original);
      expect(seen?.name).toBe(`${extra}GET /users/[REDACTED:email]`);
      expect(seen?.attributes).toEqual({ 'user.emails': ['[REDACTED:email]', 'plain', 7], n: 1, ok: true, note: `${extra}fine` });
      expect(seen?.events.map((e) => [e.name, e.attributes])).toEqual([
        ['card [REDACTED:card_number] declined', { password: '[REDACTED:secret]', attempt: 2 }],
        ['retry', undefined],
      ]);
      expect(seen?.links[0]?.attributes).toEqual({ 'peer.email': '[REDACTED:email]' });
      expect(seen?.status).toEqual({ code: 2, message: `${extra}failed for [REDACTED:email]` });
      expect(JSON.stringify(original)).toBe(before);
    }
  });

  it('10,000 attributes and non-string values on one span', async () => {
    const { exporter, provider } = setup();
    const span = provider.getTracer('t').startSpan('many');
    const attrs: Record<string, string | number | boolean> = {};
    for (let i = 0; i < 10_000; i++) attrs[`a${i}`] = i % 3 === 0 ? `user${i}@example.com` : i % 3 === 1 ? i : true;
    span.setAttributes(attrs);
    span.end();
    await provider.forceFlush();
    const [s] = exporter.getFinishedSpans() as [ReadableSpan];
    // The SDK's own attribute limit applies first (128 by default); what is kept is masked.
    const kept = Object.entries(s.attributes);
    expect(kept.length).toBeGreaterThan(0);
    for (const [k, v] of kept) {
      const i = Number(k.slice(1));
      expect(v).toEqual(i % 3 === 0 ? '[REDACTED:email]' : i % 3 === 1 ? i : true);
    }
    await provider.shutdown();
  });
});
