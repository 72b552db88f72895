/**
 * Typed errors with stable `code` strings, shared with the Rust engine.
 *
 * @packageDocumentation
 */

/** Every stable error code, in one list: the type and the run-time check both come from it. */
export const ERROR_CODES = [
  'ERR_CONFIG',
  'ERR_POLICY_LOAD',
  'ERR_POLICY_COMPILE',
  'ERR_QUERY_INVALID',
  'ERR_UNKNOWN_RULE',
  'ERR_INPUT_INVALID',
  'ERR_INPUT_TOO_LARGE',
  'ERR_INPUT_TOO_DEEP',
  'ERR_EVAL_TIMEOUT',
  'ERR_EVAL',
  'ERR_ENGINE_CLOSED',
  'ERR_BUNDLE_NOT_ACTIVE',
  'ERR_BUNDLE_REFUSED',
  'ERR_BUNDLE_FETCH',
  'ERR_TOKEN_MISSING',
  'ERR_TOKEN_MALFORMED',
  'ERR_TOKEN_ALGORITHM',
  'ERR_TOKEN_UNKNOWN_KEY',
  'ERR_TOKEN_SIGNATURE',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_NOT_YET_VALID',
  'ERR_TOKEN_CLAIM',
  'ERR_JWKS_UNAVAILABLE',
  'ERR_JWKS_INVALID',
  'ERR_INTERNAL',
  'ERR_TLS',
  'ERR_BIND',
  'ERR_RUNTIME',
  'ERR_UNKNOWN_TENANT',
  'ERR_TENANT_INVALID',
  'ERR_OVERLOADED',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_BATCH_TOO_LARGE',
  'ERR_QUERY_NOT_ALLOWED',
  'ERR_TOKENS_NOT_CONFIGURED',
  'ERR_PII_UNAVAILABLE',
  'ERR_SIDECAR_UNAVAILABLE',
  'ERR_SIDECAR_TIMEOUT',
  'ERR_ABORTED',
] as const;

/** Every error code CoreSDK's engine can raise. */
export type CoreSDKErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set<string>(ERROR_CODES);

/** Token errors whose RFC 6750 `error` value is `invalid_token` (answer 401). */
const INVALID_TOKEN: ReadonlySet<string> = new Set([
  'ERR_TOKEN_MALFORMED',
  'ERR_TOKEN_ALGORITHM',
  'ERR_TOKEN_UNKNOWN_KEY',
  'ERR_TOKEN_SIGNATURE',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_NOT_YET_VALID',
  'ERR_TOKEN_CLAIM',
]);

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
    return INVALID_TOKEN.has(this.code) ? 'invalid_token' : undefined;
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
