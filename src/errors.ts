/**
 * Typed errors with stable `code` strings, shared with the Rust engine.
 *
 * @packageDocumentation
 */
import { ERROR_CODES as CONTRACT_CODES, ERRORS } from './generated/contract.js';

/**
 * Every stable error code, in one list (generated from `proto/contract/errors.json`, the contract
 * every language shares): the type and the run-time check both come from it.
 */
export const ERROR_CODES = CONTRACT_CODES;

/** Every error code CoreSDK's engine can raise. */
export type CoreSDKErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set<string>(ERROR_CODES);

/** Where in a policy bundle a compile error was found. */
export interface SourceLocation {
  /** File path relative to the bundle root (or the inline module name). */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
}

/**
 * The error every CoreSDK API throws or rejects with. Branch on `code`,
 * never on `message`.
 *
 * @example
 * ```ts
 * try {
 *   engine.evaluatePolicySync('data.authz.allow', input);
 * } catch (err) {
 *   if (err instanceof CoreSDKError && err.code === 'ERR_EVAL_TIMEOUT') {
 *     // deny and alert
 *   }
 * }
 * ```
 */
export class CoreSDKError extends Error {
  /** The stable error code. */
  readonly code: CoreSDKErrorCode;
  /** For `ERR_POLICY_COMPILE`: where, when known. */
  readonly location: SourceLocation | undefined;

  /**
   * The RFC 6750 §3.1 `error` value for a `WWW-Authenticate: Bearer`
   * challenge: `invalid_token` for a rejected token; `undefined` for a
   * missing token (challenge without an error code) and for server-side
   * failures such as `ERR_JWKS_UNAVAILABLE` (answer 503, not 401).
   */
  get rfc6750Error(): 'invalid_token' | undefined {
    return ERRORS[this.code].rfc6750;
  }

  /**
   * @param code - the stable code
   * @param message - a human-readable description (never contains inputs or tokens)
   * @param options - the underlying cause and, for compile errors, the location
   */
  constructor(code: CoreSDKErrorCode, message: string, options?: { cause?: unknown; location?: SourceLocation }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CoreSDKError';
    this.code = code;
    this.location = options?.location;
  }
}

const LOCATION = /\bat ([^\s:][^:]*):(\d+):(\d+):/;

/**
 * Converts an error thrown by the native binding (`[ERR_CODE] message`)
 * into a {@link CoreSDKError}.
 *
 * @internal
 */
export function fromNative(err: unknown): CoreSDKError {
  if (err instanceof CoreSDKError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const match = /^\[(ERR_[A-Z_]+)\] ([\s\S]*)$/.exec(text);
  if (match?.[1] !== undefined && match[2] !== undefined && KNOWN_CODES.has(match[1])) {
    const code = match[1] as CoreSDKErrorCode;
    const message = match[2];
    let location: SourceLocation | undefined;
    if (code === 'ERR_POLICY_COMPILE') {
      const loc = LOCATION.exec(message);
      if (loc?.[1] !== undefined) {
        location = { file: loc[1], line: Number(loc[2]), column: Number(loc[3]) };
      }
    }
    return new CoreSDKError(code, message, { cause: err, location });
  }
  // napi's own argument conversion errors: a wrong option type.
  if (err instanceof Error && /^(Failed to convert|Missing field|Value is not|invalid type)/i.test(text)) {
    return new CoreSDKError('ERR_CONFIG', `invalid configuration: ${text}`, { cause: err });
  }
  return new CoreSDKError('ERR_INTERNAL', text, { cause: err });
}
