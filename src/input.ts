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

/**
 * Serializes an input document; `undefined` means "no input" (empty text).
 *
 * @internal
 */
export function inputToJson(input: unknown): string {
  if (input === undefined) return '';
  try {
    // `undefined` when a toJSON() returns undefined: treated as no input.
    const text = JSON.stringify(input, refuseNonJson) as string | undefined;
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
