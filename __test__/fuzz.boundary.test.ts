/**
 * Random values across the napi boundary: every exported native function
 * and method, and the public `Engine` and `Masker`, fed values of every JS
 * type (lone surrogates, NaN, BigInt, symbols, functions, proxies, deep and
 * cyclic objects). Each call returns or throws an `Error` carrying a string
 * `code`; nothing crashes the process. The generator is seeded, so a failure
 * reproduces (`FUZZ_SEED`, `FUZZ_RUNS` for a longer run).
 */
import { afterAll, describe, expect, it } from 'vitest';

import { native } from '../src/binding.js';
import { CoreSDKError, Engine, Masker } from '../src/index.js';
import { rng } from './support/rng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

const r = rng(SEED);
const int = (n: number): number => Math.floor(r() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

/** A string of random UTF-16 code units: ASCII, other scripts, NUL, and lone surrogates. */
function randomString(max = 40): string {
  const units: number[] = [];
  const n = int(max);
  for (let i = 0; i < n; i++) {
    units.push(
      pick([
        () => 0x20 + int(0x5f),
        () => int(0x20),
        () => 0xd800 + int(0x400), // lone high surrogate
        () => 0xdc00 + int(0x400), // lone low surrogate
        () => 0x80 + int(0xd800 - 0x80),
        () => 0xe000 + int(0x2000),
      ])(),
    );
  }
  let s = String.fromCharCode(...units);
  // Sometimes something the masker detects, next to the surrogates.
  if (r() < 0.3) s += pick([' bob@example.com', ' Basic dXNlcjpwYXNzd29yZA==', ' password=hunter2', ' 4111 1111 1111 1111']);
  return s;
}

/** Any JS value, `depth` levels deep at most. */
function randomValue(depth = 3): unknown {
  const leaves: Array<() => unknown> = [
    () => undefined,
    () => null,
    () => r() < 0.5,
    () => pick([0, -0, 1, -1, NaN, Infinity, -Infinity, 2 ** 53 + 1, 1e308, 5e-324, 0.1]),
    () => BigInt(int(1000)) ** BigInt(int(8)),
    () => randomString(),
    () => Symbol('s'),
    () => () => 1,
    () => Buffer.from(randomString()),
    () => new Date(int(2 ** 40)),
    () => new Map([[1, 2]]),
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('proxy get');
          },
          ownKeys() {
            throw new Error('proxy keys');
          },
        },
      ),
  ];
  if (depth <= 0 || r() < 0.5) return pick(leaves)();
  if (r() < 0.5) return Array.from({ length: int(4) }, () => randomValue(depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < int(4); i++) o[pick(['a', 'query', 'policies', 'data', '__proto__', 'constructor', randomString(6)])] = randomValue(depth - 1);
  if (r() < 0.1) o.self = o; // cyclic
  return o;
}

/**
 * Whether `err` is a typed error: an `Error` with a string `code` (napi-rs's
 * argument errors) or an `ERR_*` message (the engine's), a `TypeError` or
 * `RangeError` raised by V8 while napi read the value, or the test's own
 * throwing proxy.
 */
function typed(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown };
  return typeof e.code === 'string' || /^ERR_[A-Z_]+/.test(e.message) || e instanceof TypeError || e instanceof RangeError || /^proxy /.test(e.message);
}

/** Calls `fn`: it returns, or throws (or rejects with) a typed error. */
async function survives(fn: () => unknown): Promise<void> {
  try {
    const out = fn();
    if (out instanceof Promise) await out;
  } catch (err) {
    expect(typed(err), String(err)).toBe(true);
  }
}

const POLICY = 'package p\nallow if input.x == 1\nmsg := concat(" ", [input.a, "!"])\n';
const engines: Array<{ close(): void }> = [];
afterAll(() => {
  for (const e of engines) {
    try {
      e.close();
    } catch {
      // already closed by a fuzzed call
    }
  }
});

describe('napi boundary: random JS values into every exported function', () => {
  const nativeEngine = new native.NativeEngine({ policies: { 'p.rego': POLICY }, watch: false });
  engines.push(nativeEngine);
  const nativeMasker = new native.NativeMasker();
  const anyArgs = (): unknown[] => Array.from({ length: int(4) }, () => randomValue());
  const call = (target: object, name: string, args: unknown[]): unknown => (target as Record<string, (...a: unknown[]) => unknown>)[name]?.(...args);

  it('NativeEngine and NativeMasker constructors', async () => {
    for (let i = 0; i < RUNS; i++) {
      await survives(() => {
        const e = new native.NativeEngine(randomValue() as never);
        engines.push(e);
      });
      await survives(() => new native.NativeMasker(randomValue() as never));
    }
  });

  it('every NativeEngine and NativeMasker method', async () => {
    const engineMethods = ['evaluateJson', 'evaluateJsonPacked', 'evaluateValue', 'evaluateJsonAsync', 'verifyToken', 'verifyTokenAsync', 'authorize', 'authorizeAsync', 'maskPii', 'keyStatus', 'decisionCacheStats', 'fastPathStats', 'fastPathRoute', 'fastPathPlan', 'onReload'];
    const maskerMethods = ['mask', 'maskAttributes', 'maskAttributesJoined', 'isSensitiveName', 'takeCounts'];
    for (const m of [...engineMethods, ...maskerMethods]) {
      const target = engineMethods.includes(m) ? nativeEngine : nativeMasker;
      expect(typeof (target as unknown as Record<string, unknown>)[m], m).toBe('function');
    }
    for (let i = 0; i < RUNS; i++) {
      for (const m of engineMethods) await survives(() => call(nativeEngine, m, anyArgs()));
      for (const m of maskerMethods) await survives(() => call(nativeMasker, m, anyArgs()));
      // Well-typed calls with random strings.
      await survives(() => nativeEngine.evaluateJson(randomString(), randomString()));
      await survives(() => nativeEngine.evaluateValue('data.p.msg', randomValue()));
      await survives(() => nativeMasker.mask([randomString(), randomString()]));
      await survives(() => nativeMasker.maskAttributesJoined(randomString(), randomString()));
    }
    // Still answering.
    expect(nativeEngine.evaluateJson('data.p.allow', '{"x":1}').value).toBe(true);
  });

  it('the config loaders', async () => {
    for (let i = 0; i < RUNS; i++) {
      await survives(() => native.checkSidecarConfig(randomValue() as never, randomValue() as never));
      await survives(() => native.loadClientConfig(randomValue() as never, randomValue() as never));
      await survives(() => native.loadClientConfig(null, { [pick(['CORESDK_FAIL_MODE', 'CORESDK_TIMEOUT_MS', 'CORESDK_MODE', 'X'])]: randomString(12) }));
    }
  });

  it('startSidecar refuses what it cannot use, without crashing', async () => {
    for (let i = 0; i < 40; i++) {
      // Always an unreadable file or a value that is no path (never null or undefined, which
      // would mean "no file"), so nothing ever listens.
      const other = randomValue();
      const file = other === null || other === undefined || typeof other === 'string' || r() < 0.5 ? `/nonexistent/${randomString(8)}.toml` : other;
      let started: unknown = null;
      try {
        started = await native.startSidecar(file as never, (typeof file === 'string' ? {} : randomValue()) as never, randomValue() as never);
      } catch (err) {
        expect(typed(err), String(err)).toBe(true);
      }
      expect(started).toBeNull();
    }
  });
});

describe('lone surrogates and random strings into the public API', () => {
  it('Masker and Engine never crash; unmasked values come back as given', () => {
    const masker = new Masker();
    const engine = new Engine({ policies: { 'p.rego': POLICY }, watch: false });
    engines.push(engine);
    for (let i = 0; i < RUNS; i++) {
      const values = Array.from({ length: 1 + int(5) }, () => randomString(60));
      const masked = masker.mask(values);
      expect(masked).toHaveLength(values.length);
      masked.forEach((m, j) => {
        const v = values[j] as string;
        // A value needing no mask is the caller's own string, surrogates and all.
        if (!m.includes('[REDACTED:')) expect(m).toBe(v);
        // Masking is idempotent, also from JS.
        expect(masker.maskOne(m)).toBe(m);
      });
      expect(engine.maskPii(values)).toHaveLength(values.length);
      masker.maskAttributes(values.map((v) => [randomString(8), v] as const));
      const joined = masker.maskAttributesJoined(values.map(() => 'k').join('\0'), values.map((v) => v.replace(/\0/g, '')).join('\0'));
      expect(joined === null || typeof joined === 'string').toBe(true);
      // Surrogates in inputs, queries and tokens: a decision or a typed error.
      for (const fn of [
        () => engine.evaluatePolicySync('data.p.msg', { a: randomString() }),
        () => engine.evaluatePolicySync(randomString(), { x: 1 }),
        () => engine.decideSync('data.p.allow', { [randomString(4)]: randomString() }),
        () => engine.verifyTokenSync(randomString()),
        () => engine.authorizeSync(randomString(), { query: 'data.p.allow', input: { x: 1 } }),
      ]) {
        try {
          fn();
        } catch (err) {
          expect(err).toBeInstanceOf(CoreSDKError);
        }
      }
    }
    expect(engine.isAllowedSync('data.p.allow', { x: 1 })).toBe(true);
  });
});
