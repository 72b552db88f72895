/**
 * One representation of policy values on every path (docs/engine.md,
 * "Values on every path"): the engine's JSON, with integers outside
 * ±(2^53 − 1) as `bigint` so that no digit is lost. The in-process engine
 * hands them over that way through napi, and the sidecar client parses the
 * sidecar's JSON text with {@link parseEngineJson} to the same values.
 *
 * `JSON.stringify` throws on a `bigint`: use {@link toJsonText} to write a
 * decision value (exact digits) in a response or a log.
 *
 * @packageDocumentation
 */
import { parse, stringify } from 'lossless-json';

/** A policy value as CoreSDK returns it: JSON, with `bigint` for integers beyond ±(2^53 − 1). */
export type PolicyValue = null | boolean | number | bigint | string | PolicyValue[] | { [key: string]: PolicyValue };

/** No unsafe integer has fewer than 16 digits: text without a run of 16 takes `JSON.parse`. */
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

function parseNumber(text: string): number | bigint {
  const n = Number(text);
  // Only integer literals become bigint: the engine writes every other number with a
  // fraction or an exponent, and those are IEEE doubles on every path.
  return INTEGER.test(text) && !Number.isSafeInteger(n) ? BigInt(text) : n;
}

/**
 * Parses JSON text from the engine or the sidecar into a {@link PolicyValue}:
 * integers beyond ±(2^53 − 1) as `bigint`, everything else as `JSON.parse` does.
 *
 * @throws SyntaxError when the text is not JSON.
 */
export function parseEngineJson(text: string): PolicyValue {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text) as PolicyValue;
  return parse(text, null, parseNumber) as PolicyValue;
}

/**
 * JSON text of a policy value, `bigint`s as their exact digits (where
 * `JSON.stringify` throws). `undefined` (an undefined decision) is `"null"`.
 */
export function toJsonText(value: unknown, space?: number): string {
  if (value === undefined) return 'null';
  return stringify(value, null, space) ?? 'null';
}
