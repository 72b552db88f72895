/**
 * Input serialization for the native boundary.
 *
 * Inputs cross into Rust as JSON text: measured with
 * `node bench/napi-input.bench.mjs`, `JSON.stringify` plus the engine's
 * JSON parser beats napi's value-by-value conversion of a JS object (see
 * docs/benchmarks.md). The replacer refuses values JSON cannot carry
 * (functions, symbols, BigInt) instead of silently dropping them;
 * cycles are refused by `JSON.stringify` itself.
 *
 * A replacer makes V8 leave its fast serializer, which costs more than the
 * rest of a small decision; so a plain document (what callers send: no
 * function, symbol, BigInt or `toJSON`, not deeply nested) is first
 * recognised by a quick walk and serialized without one. Anything else
 * takes the replacer path, which raises the precise error.
 *
 * @internal
 * @packageDocumentation
 */
import { CoreSDKError } from './errors.js';

function refuseNonJson(this: unknown, key: string, value: unknown): unknown {
  const t = typeof value;
  if (t === 'function' || t === 'symbol' || t === 'bigint') {
    const where = key === '' ? 'the input' : `input key ${JSON.stringify(key)}`;
    throw new CoreSDKError('ERR_INPUT_INVALID', `invalid input: ${where} is a ${t}, which JSON cannot carry`);
  }
  return value;
}

/** Deepest level the quick walk looks at before leaving it to the replacer path. */
const PLAIN_MAX_DEPTH = 32;

/**
 * Whether `JSON.stringify(v)` alone serializes `v` exactly as the replacer
 * path would: no value JSON cannot carry, no `toJSON`, bounded depth (so a
 * cycle or a very deep input is left to the replacer path's own errors).
 */
function isPlain(v: unknown, depth: number): boolean {
  if (typeof v !== 'object') {
    const t = typeof v;
    return t !== 'function' && t !== 'symbol' && t !== 'bigint';
  }
  if (v === null) return true;
  if (depth >= PLAIN_MAX_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isPlain(v[i], depth + 1)) return false;
    return true;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) if (!isPlain(o[keys[i] as string], depth + 1)) return false;
  return true;
}

/**
 * Serializes an input document; `undefined` means "no input" (empty text).
 *
 * @internal
 */
export function inputToJson(input: unknown): string {
  if (input === undefined) return '';
  try {
    // `undefined` when a toJSON() returns undefined: treated as no input.
    const text = (isPlain(input, 0) ? JSON.stringify(input) : JSON.stringify(input, refuseNonJson)) as
      | string
      | undefined;
    return text ?? '';
  } catch (err) {
    if (err instanceof CoreSDKError) throw err;
    if (err instanceof RangeError) {
      // JSON.stringify recursed past the stack: far beyond any depth limit.
      throw new CoreSDKError('ERR_INPUT_TOO_DEEP', 'input nested too deeply to serialize', { cause: err });
    }
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CoreSDKError('ERR_INPUT_INVALID', `invalid input: ${reason ?? 'not serializable'}`, { cause: err });
  }
}
