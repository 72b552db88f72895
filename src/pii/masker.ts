/**
 * PII and secret masking, by content and by attribute name, in the Rust
 * engine (one pass, linear time; see docs/pii.md).
 *
 * @packageDocumentation
 */
import { native } from '../binding.js';
import type { NativeMasker } from '../binding.js';
import { fromNative } from '../errors.js';
import { trackMasker } from '../otel/sources.js';

/** The built-in detectors. */
export const PII_ENTITIES = [
  'private_key',
  'jwt',
  'bearer_token',
  'basic_auth',
  'url_credentials',
  'azure_key',
  'credential_param',
  'aws_access_key',
  'github_token',
  'stripe_key',
  'slack_token',
  'anthropic_key',
  'openai_key',
  'google_api_key',
  'email',
  'iban',
  'card_number',
  'us_ssn',
  'ipv6',
  'ipv4',
  'phone',
] as const;

/** A built-in detector's name. */
export type PiiEntity = (typeof PII_ENTITIES)[number];

/** Masker options. */
export interface MaskerOptions {
  /** `tag` (`[REDACTED:email]`, default), `partial` (keep the last 4) or `hash` (keyed HMAC, correlatable). */
  style?: 'tag' | 'partial' | 'hash';
  /** The HMAC key for `hash`: at least 32 bytes, hex or base64. */
  hashKey?: string;
  /** Detectors to run (default: all). */
  entities?: readonly PiiEntity[];
  /** Literal terms masked wherever they appear as whole words (case-insensitive), tagged `custom`. */
  dictionary?: readonly string[];
  /** Named regular expressions, tagged with their name. */
  patterns?: Readonly<Record<string, string>>;
  /** More attribute names whose values are masked whole (besides password, secret, token, authorization, cookie, api_key...). */
  sensitiveNames?: readonly string[];
}

/**
 * A compiled masker.
 *
 * @example
 * ```ts
 * const masker = new Masker();
 * masker.mask(['mail bob@example.com']); // ['mail [REDACTED:email]']
 * ```
 */
export class Masker {
  readonly #native: NativeMasker;
  readonly #totals: Record<string, number> = {};
  #taken: Record<string, number> = {};

  /** Compiles the detectors; throws `ERR_CONFIG` naming a bad option. */
  constructor(options: MaskerOptions = {}) {
    try {
      this.#native = new native.NativeMasker({
        style: options.style,
        hashKey: options.hashKey,
        entities: options.entities ? [...options.entities] : undefined,
        dictionary: options.dictionary ? [...options.dictionary] : undefined,
        patterns: options.patterns ? Object.entries(options.patterns) : undefined,
        sensitiveNames: options.sensitiveNames ? [...options.sensitiveNames] : undefined,
      });
    } catch (e) {
      throw fromNative(e);
    }
    trackMasker(this);
  }

  /** Masks each string by content (one native call for the batch). Unchanged strings are returned as given. */
  mask(values: readonly string[]): string[] {
    const out = this.#native.mask(values as string[]);
    return values.map((v, i) => out[i] ?? v);
  }

  /** Masks one string. */
  maskOne(value: string): string {
    return this.mask([value])[0] ?? value;
  }

  /**
   * Masks attribute values given as `[name, value]` pairs: a sensitive name
   * masks its value whole, any other value is masked by content. One native
   * call for all of them.
   */
  maskAttributes(pairs: ReadonlyArray<readonly [string, string]>): string[] {
    const flat: string[] = [];
    for (const [k, v] of pairs) flat.push(k, v);
    const out = this.#native.maskAttributes(flat);
    return pairs.map((p, i) => out[i] ?? p[1]);
  }

  /**
   * {@link Masker.maskAttributes} on a flat `[name, value, name, value, ...]`
   * list, returning `null` where a value is unchanged (for hot paths that
   * write results back in place).
   */
  maskAttributesFlat(flat: string[]): Array<string | null | undefined> {
    return this.#native.maskAttributes(flat);
  }

  /**
   * Hot-path form: names and values each joined by NUL (no value may
   * contain NUL). Returns `null` when nothing changed, else the masked
   * values joined by NUL.
   */
  maskAttributesJoined(names: string, values: string): string | null {
    return this.#native.maskAttributesJoined(names, values) ?? null;
  }

  /** Whether values of this attribute name are masked whole. */
  isSensitiveName(name: string): boolean {
    return this.#native.isSensitiveName(name);
  }

  /** Values masked since the last call to `takeCounts()`, by type. */
  takeCounts(): Record<string, number> {
    const totals = this.totals();
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(totals)) {
      const d = v - (this.#taken[k] ?? 0);
      if (d > 0) out[k] = d;
    }
    this.#taken = totals;
    return out;
  }

  /** Values masked since this masker was created, by type: the `coresdk.pii.masked` metric. */
  totals(): Record<string, number> {
    const delta = JSON.parse(this.#native.takeCounts()) as Record<string, number>;
    for (const [k, v] of Object.entries(delta)) this.#totals[k] = (this.#totals[k] ?? 0) + v;
    return { ...this.#totals };
  }
}
