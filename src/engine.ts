/**
 * The in-process policy engine.
 *
 * @packageDocumentation
 */
import {
  native,
  type NativeAuthorization,
  type NativeDecision,
  type NativeEngineOptions,
  type NativeReloadEvent,
} from './binding.js';
import { CoreSDKError, fromNative } from './errors.js';
import { inputToJson } from './input.js';
import { trackEngine } from './otel/sources.js';

/** Options for {@link Engine}. Every field is optional except a bundle source. */
export interface EngineOptions {
  /** A policy bundle directory in OPA's layout (`.rego` files, `data.json`/`data.yaml`, optional `.manifest`). */
  policyDir?: string;
  /** Inline modules: file name to Rego source. Mutually exclusive with `policyDir`. */
  policies?: Record<string, string>;
  /** Inline base data document, used with `policies`. */
  data?: Record<string, unknown>;
  /** Parse Rego v0 (pre-1.0) syntax. Default `false`. */
  regoV0?: boolean;
  /**
   * Let regorus's register VM answer rule queries that the engine's static
   * pass proves cannot raise an error; the interpreter answers everything
   * else (docs/engine.md). Default `true`; `false` sends every call to the
   * interpreter.
   */
  fastPath?: boolean;
  /** Pooled evaluators. Default: the number of CPUs. */
  poolSize?: number;
  /** Time limit for one evaluation, in ms. Default 100; always on. */
  evalTimeoutMs?: number;
  /** Largest input accepted, in bytes of JSON text. Default 4 MiB. */
  maxInputBytes?: number;
  /** Deepest input nesting accepted. Default 64, at most 120. */
  maxInputDepth?: number;
  /** Hot-reload a `policyDir` bundle when its files change. Default `true`. */
  watch?: boolean;
  /**
   * Decision cache capacity per policy revision; `0` turns it off. Default
   * 16,384. Repeated `(query, input)` pairs are answered without evaluating
   * again; bundles calling clock, network or random builtins are never
   * cached, and a reload starts an empty cache. See docs/engine.md.
   */
  decisionCacheEntries?: number;
  /** Bearer-token verification; required by {@link Engine.authorize} and {@link Engine.verifyTokenSync}. */
  token?: TokenOptions;
  /**
   * A bundle pulled from a bundle server (OPA's bundle service protocol) in
   * place of `policyDir`/`policies`. The engine is created at once; until
   * the first bundle is active, evaluations throw `ERR_BUNDLE_NOT_ACTIVE`
   * (see {@link Engine.whenBundleActive} and docs/bundles.md).
   */
  remoteBundle?: RemoteBundleOptions;
}

/** A remote bundle's settings (docs/bundles.md). */
export interface RemoteBundleOptions {
  /** The bundle URL: `https://`, or `http://` with `allowInsecureHttp`. */
  url: string;
  /** A PEM public key that `.signatures.json` must verify with (`opa sign`'s key pair). */
  verificationKeyFile?: string;
  /** The key id signatures must name, when set. */
  keyId?: string;
  /** The scope signatures must carry (default empty). */
  scope?: string;
  /** Refuse unsigned bundles; defaults to whether `verificationKeyFile` is set. */
  signingRequired?: boolean;
  /** A PEM CA bundle replacing the built-in roots for the bundle server. */
  caFile?: string;
  /** A file holding a bearer token, read before every request. */
  authTokenFile?: string;
  /** Shortest wait between polls, seconds (default 60). */
  pollMinSec?: number;
  /** Longest wait between polls, seconds (default 120). */
  pollMaxSec?: number;
  /** Whole-request timeout, ms (default 10000). */
  timeoutMs?: number;
  /** Allow plain `http://` (development only). */
  allowInsecureHttp?: boolean;
  /** Directory of the HMAC-verified offline cache holding the last good bundle. */
  offlineCacheDir?: string;
  /** The offline cache's key: at least 32 bytes, hex or base64. */
  offlineCacheKey?: string;
}

/** The bundle's state, from {@link Engine.bundleStatus}. */
export interface BundleStatus {
  /** `dir`, `inline` or `remote`. */
  readonly source: string;
  /** The bundle URL without userinfo, query or fragment, or `null`. */
  readonly url: string | null;
  /** Whether a revision is serving (always `true` for local bundles). */
  readonly active: boolean;
  /** The serving revision, or `null` before the first activation. */
  readonly revision: string | null;
  /** `local`, `server` or `offline`. */
  readonly activatedFrom: string | null;
  /** When the serving revision was activated, ms since the epoch. */
  readonly activatedAt: number | null;
  /** When the server last confirmed it (200 or 304), ms since the epoch; `coresdk.bundle.age` counts from here. */
  readonly confirmedAt: number | null;
  /** When the server was last asked, ms since the epoch. */
  readonly lastCheckAt: number | null;
  /** The serving bundle's ETag. */
  readonly etag: string | null;
  /** The last fetch, verification or compile error, cleared by the next success. */
  readonly lastError: string | null;
  /** Its stable code (`ERR_BUNDLE_FETCH`, `ERR_BUNDLE_REFUSED`, `ERR_POLICY_COMPILE`, ...). */
  readonly lastErrorCode: string | null;
  /** Why the offline copy was not used, when it was not. */
  readonly offlineNote: string | null;
  /** Load outcomes so far: the `coresdk.bundle.loads` metric by `outcome`. */
  readonly loads: { readonly activated: number; readonly unchanged: number; readonly refused: number; readonly failed: number };
}

/** Bearer-token verification settings (see docs/security.md). Give exactly one key source. */
export interface TokenOptions {
  /** An inline JWKS document (object or JSON text). */
  jwks?: string | Record<string, unknown>;
  /** A JWKS file. */
  jwksFile?: string;
  /** A JWKS URL, fetched over HTTPS (rustls) and refreshed in the background. */
  jwksUrl?: string;
  /** An OIDC issuer: its discovery document names the JWKS URL; the document's `issuer` must match. */
  oidcIssuer?: string;
  /** Required `iss` (defaults to `oidcIssuer`). */
  issuer?: string;
  /** Accepted audiences: the token's `aud` must name one. */
  audience?: string | string[];
  /** Algorithm allow-list; default RS256/384/512, PS256/384/512, ES256/384, EdDSA. `none` and HS* are never accepted. */
  algorithms?: string[];
  /** Clock tolerance for `exp`/`nbf`/`iat`, seconds (default 30, at most 300). */
  clockToleranceSec?: number;
  /** Claims that must be present (default `['exp']`). */
  requiredClaims?: string[];
  /** Required `typ` header, e.g. `at+jwt` (RFC 8725 §3.11). */
  typ?: string;
  /** Token size cap in bytes (default 8192). */
  maxTokenBytes?: number;
  /** Verified-token cache capacity (default 4096; 0 disables it). */
  tokenCacheEntries?: number;
  /** PEM CA bundle for a private issuer; replaces the public roots. */
  caFile?: string;
  /** Key fetch timeout, ms (default 5000). */
  fetchTimeoutMs?: number;
  /** Allow plain `http://` key sources. Tests only. */
  allowInsecureHttp?: boolean;
  /** Directory of the HMAC-verified offline copy of the key set. */
  offlineCacheDir?: string;
  /** Offline cache HMAC key: at least 32 random bytes, as hex or base64. */
  offlineCacheKey?: string;
  /** Shortest refresh interval, s (default 60). */
  refreshMinSec?: number;
  /** Longest refresh interval, s (default 3600). */
  refreshMaxSec?: number;
  /** Least time between refetches caused by unknown `kid`s, s (default 30). */
  unknownKidCooldownSec?: number;
  /** How long the last good key set serves while the provider is unreachable, s (default 86400). */
  staleMaxSec?: number;
}

/** The outcome of {@link Engine.authorize}. Allowed only when the token verified and the query was exactly `true`. */
export interface AuthorizeResult {
  /** Whether the request is allowed. */
  readonly allowed: boolean;
  /** `allowed`, `denied`, `undefined`, or the error code (`ERR_TOKEN_*`, `ERR_JWKS_UNAVAILABLE`, `ERR_EVAL`, ...). */
  readonly reason: VerdictReason;
  /** The verified claims; `null` when verification failed. */
  readonly claims: Record<string, unknown> | null;
  /** Whether the query produced a value. */
  readonly defined: boolean;
  /** The decision value; integers beyond ±(2^53 − 1) are `bigint` (the `PolicyValue` type). */
  readonly value: unknown;
  /** The policy revision that decided. */
  readonly revision: string | undefined;
  /** What failed, if anything. */
  readonly error: CoreSDKError | undefined;
}

/** The request half of {@link Engine.authorize}. */
export interface AuthorizeRequest {
  /** The query, e.g. `data.authz.allow`. */
  query: string;
  /** The input object; the policy sees it with `claims` added. `input.claims` itself is refused. */
  input?: Record<string, unknown>;
}

/** The key source's state (no key material). */
export interface KeyStatus {
  /** `inline`, `file <path>`, `jwks_url <url>` or `oidc_issuer <url>`. */
  readonly source: string;
  /** Usable keys held. */
  readonly keys: number;
  /** When the held set was fetched (ms since the epoch), or `null`. */
  readonly fetchedAt: number | null;
  /** Whether the held set came from the offline cache. */
  readonly fromOfflineCache: boolean;
  /** The last problem (fetch failure, rejected offline cache), or `null`. */
  readonly lastError: string | null;
  /** `enabled`, or `disabled: <why>`. */
  readonly offlineCache: string;
  /** Times the offline cache was rejected whole (tampering, wrong key). */
  readonly offlineCacheRejections: number;
  /** Successful key-set fetches since start (0 for static keys); the `coresdk.jwks.refreshes{outcome="success"}` metric. */
  readonly refreshesOk: number;
  /** Failed key-set fetches since start; `coresdk.jwks.refreshes{outcome="failure"}`. */
  readonly refreshesFailed: number;
}

/** Decision cache counters of the revision now serving. */
export interface DecisionCacheStats {
  /** Whether the serving revision has a cache. */
  readonly enabled: boolean;
  /** Lookups answered from the cache. */
  readonly hits: number;
  /** Lookups that evaluated. */
  readonly misses: number;
}

/**
 * How the revision now serving answered its evaluations: by regorus's
 * register VM (where the engine's static pass proved it safe) or by the
 * interpreter. See docs/engine.md.
 */
export interface FastPathStats {
  /** Evaluations the fast path (CoreSDK's tree evaluator) answered. */
  readonly vm: number;
  /** Evaluations the interpreter answered. */
  readonly interpreter: number;
}

/** How one rule query is evaluated on the revision now serving (docs/engine.md, "The fast path"). */
export interface FastPathPlan {
  /** `'tree'`: CoreSDK's tree evaluator answers inputs that pass the guards; `'interpreter'`: regorus's interpreter answers every call. */
  readonly evaluator: 'tree' | 'interpreter';
  /** Why the interpreter answers every call; absent on the fast path. */
  readonly reason?: string;
  /** Input guards each call checks before the tree evaluator may answer. */
  readonly guards: number;
  /** Whether many-bodied rules were indexed. */
  readonly indexed: boolean;
}

/**
 * The result of one evaluation. `defined` is false when the query is
 * undefined, which is distinct from a defined `false` value.
 */
export interface Decision<T = unknown> {
  /** Whether the query produced a value. */
  readonly defined: boolean;
  /**
   * The value; `undefined` exactly when `defined` is false. Integers beyond
   * ±(2^53 − 1) are `bigint` (on every path, in-process and through the
   * sidecar), which `JSON.stringify` throws on: write values with
   * `toJsonText` (the `PolicyValue` type).
   */
  readonly value: T | undefined;
  /** The policy revision that produced it. */
  readonly revision: string;
}

/** Why an allow-style check came out as it did. */
export type VerdictReason = 'allowed' | 'denied' | 'undefined' | CoreSDKError['code'];

/** The outcome of {@link Engine.decide}: allowed only on exactly `true`. */
export interface Verdict {
  /** Whether the request is allowed. */
  readonly allowed: boolean;
  /** `allowed`, `denied` (defined but not `true`), `undefined`, or the error code. */
  readonly reason: VerdictReason;
  /** The revision that decided, when evaluation got that far. */
  readonly revision: string | undefined;
}

/** A reload outcome, from the file watcher or {@link Engine.reload}. */
export type ReloadEvent =
  | { readonly type: 'reloaded'; readonly revision: string; readonly previous: string }
  | { readonly type: 'failed'; readonly revision: string; readonly error: CoreSDKError };

/** Listener for {@link Engine.onReload}. */
export type ReloadListener = (event: ReloadEvent) => void;

type NativeEngine = InstanceType<typeof native.NativeEngine>;

/** Set by {@link Engine.fromEnv} for the duration of one construction. */
let constructingFromEnv = false;

/**
 * Unpacks `evaluateJsonPacked`'s answer: a number (0 undefined, 1 false,
 * 2 true) decided by the revision it last reported in full, which `seen`
 * holds; or value JSON, NUL, revision; or a `NativeDecision` when the value
 * holds an integer beyond 2^53. The last two update `seen`.
 */
function unpack<T>(packed: number | string | NativeDecision, seen: { revision: string }): Decision<T> {
  if (typeof packed === 'number') {
    const revision = seen.revision;
    if (packed === 0) return { defined: false, value: undefined, revision };
    return { defined: true, value: (packed === 2) as T, revision };
  }
  if (typeof packed !== 'string') {
    seen.revision = packed.revision;
    return toDecision<T>(packed);
  }
  const nul = packed.indexOf('\0');
  const revision = packed.slice(nul + 1);
  seen.revision = revision;
  if (nul === 0) return { defined: false, value: undefined, revision };
  return { defined: true, value: JSON.parse(packed.slice(0, nul)) as T, revision };
}

function toDecision<T>(d: NativeDecision): Decision<T> {
  return { defined: d.defined, value: d.defined ? (d.value as T) : undefined, revision: d.revision };
}

function toVerdict(d: { defined: boolean; value?: unknown; revision: string }): Verdict {
  if (d.defined && d.value === true) return { allowed: true, reason: 'allowed', revision: d.revision };
  return { allowed: false, reason: d.defined ? 'denied' : 'undefined', revision: d.revision };
}

function errorVerdict(err: unknown): Verdict {
  return { allowed: false, reason: fromNative(err).code, revision: undefined };
}

function toReloadEvent(e: NativeReloadEvent): ReloadEvent {
  if (e.kind === 'reloaded') return { type: 'reloaded', revision: e.revision, previous: e.previous ?? '' };
  const location =
    e.file !== undefined && e.line !== undefined && e.column !== undefined
      ? { file: e.file, line: e.line, column: e.column }
      : undefined;
  const code = fromNative(new Error(`[${e.code ?? 'ERR_INTERNAL'}] ${e.message ?? 'reload failed'}`)).code;
  return {
    type: 'failed',
    revision: e.revision,
    error: new CoreSDKError(code, e.message ?? 'reload failed', { location }),
  };
}

function checkOptions(options: EngineOptions): void {
  // Checked at run time too: JavaScript callers bypass the types.
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new CoreSDKError('ERR_CONFIG', 'invalid configuration: options must be an object');
  }
  const ints: (keyof EngineOptions)[] = ['poolSize', 'evalTimeoutMs', 'maxInputBytes', 'maxInputDepth'];
  for (const key of ints) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0xffffffff)) {
      throw new CoreSDKError('ERR_CONFIG', `invalid configuration: ${key}: must be a positive integer`);
    }
  }
  const cache = options.decisionCacheEntries;
  if (cache !== undefined && (typeof cache !== 'number' || !Number.isInteger(cache) || cache < 0 || cache > 10_000_000)) {
    throw new CoreSDKError('ERR_CONFIG', 'invalid configuration: decisionCacheEntries: must be an integer from 0 to 10000000');
  }
  for (const key of ['regoV0', 'watch', 'fastPath'] as const) {
    const v = options[key];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new CoreSDKError('ERR_CONFIG', `invalid configuration: ${key}: must be a boolean`);
    }
  }
  if (options.policyDir !== undefined && typeof options.policyDir !== 'string') {
    throw new CoreSDKError('ERR_CONFIG', 'invalid configuration: policyDir: must be a string');
  }
}

function toNativeOptions(options: EngineOptions, fromEnv: boolean): NativeEngineOptions {
  checkOptions(options);
  let dataJson: string | undefined;
  if (options.data !== undefined) {
    try {
      dataJson = JSON.stringify(options.data);
    } catch (err) {
      throw new CoreSDKError('ERR_CONFIG', 'invalid configuration: data: not serializable as JSON', { cause: err });
    }
  }
  return {
    policyDir: options.policyDir,
    policies: options.policies,
    dataJson,
    fromEnv,
    regoV0: options.regoV0,
    fastPath: options.fastPath,
    poolSize: options.poolSize,
    evalTimeoutMs: options.evalTimeoutMs,
    maxInputBytes: options.maxInputBytes,
    maxInputDepth: options.maxInputDepth,
    watch: options.watch,
    decisionCacheEntries: options.decisionCacheEntries,
    token: options.token === undefined ? undefined : toNativeToken(options.token),
    remoteBundle: options.remoteBundle === undefined ? undefined : toNativeRemoteBundle(options.remoteBundle),
  };
}

function toNativeRemoteBundle(r: RemoteBundleOptions): NonNullable<NativeEngineOptions['remoteBundle']> {
  if (typeof r !== 'object' || (r as unknown) === null || typeof r.url !== 'string') {
    throw new CoreSDKError('ERR_CONFIG', 'invalid configuration: remoteBundle: must be an object with a url');
  }
  for (const key of ['pollMinSec', 'pollMaxSec', 'timeoutMs'] as const) {
    const v = r[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0xffffffff)) {
      throw new CoreSDKError('ERR_CONFIG', `invalid configuration: remoteBundle.${key}: must be a positive integer`);
    }
  }
  return { ...r };
}

function toNativeToken(t: TokenOptions): NonNullable<NativeEngineOptions['token']> {
  if (typeof t !== 'object' || (t as unknown) === null) {
    throw new CoreSDKError('ERR_CONFIG', 'invalid configuration: token: must be an object');
  }
  const counts: (keyof TokenOptions)[] = [
    'clockToleranceSec',
    'maxTokenBytes',
    'tokenCacheEntries',
    'fetchTimeoutMs',
    'refreshMinSec',
    'refreshMaxSec',
    'unknownKidCooldownSec',
    'staleMaxSec',
  ];
  for (const key of counts) {
    const v = t[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new CoreSDKError('ERR_CONFIG', `invalid configuration: token.${key}: must be a non-negative integer`);
    }
  }
  let jwksJson: string | undefined;
  if (t.jwks !== undefined) jwksJson = typeof t.jwks === 'string' ? t.jwks : JSON.stringify(t.jwks);
  const audience = t.audience === undefined ? undefined : Array.isArray(t.audience) ? t.audience : [t.audience];
  return {
    jwksJson,
    jwksFile: t.jwksFile,
    jwksUrl: t.jwksUrl,
    oidcIssuer: t.oidcIssuer,
    issuer: t.issuer,
    audience,
    algorithms: t.algorithms,
    clockToleranceSec: t.clockToleranceSec,
    requiredClaims: t.requiredClaims,
    typ: t.typ,
    maxTokenBytes: t.maxTokenBytes,
    tokenCacheEntries: t.tokenCacheEntries,
    caFile: t.caFile,
    fetchTimeoutMs: t.fetchTimeoutMs,
    allowInsecureHttp: t.allowInsecureHttp,
    offlineCacheDir: t.offlineCacheDir,
    offlineCacheKey: t.offlineCacheKey,
    refreshMinSec: t.refreshMinSec,
    refreshMaxSec: t.refreshMaxSec,
    unknownKidCooldownSec: t.unknownKidCooldownSec,
    staleMaxSec: t.staleMaxSec,
  };
}

function toAuthorizeResult(a: NativeAuthorization): AuthorizeResult {
  const error = a.error === undefined ? undefined : fromNative(new Error(a.error));
  return {
    allowed: a.allowed,
    reason: (error?.code ?? a.reason) as VerdictReason,
    claims: a.claimsJson === undefined ? null : (JSON.parse(a.claimsJson) as Record<string, unknown>),
    defined: a.defined,
    value: a.defined ? a.value : undefined,
    revision: a.revision,
    error,
  };
}

function authorizeInput(req: AuthorizeRequest): string {
  if (typeof req !== 'object' || (req as unknown) === null || typeof req.query !== 'string') {
    throw new CoreSDKError('ERR_QUERY_INVALID', 'invalid query: authorize needs { query: string, input?: object }');
  }
  const input = req.input;
  if (input !== undefined && (typeof input !== 'object' || (input as unknown) === null || Array.isArray(input))) {
    throw new CoreSDKError('ERR_INPUT_INVALID', 'invalid input: authorize input must be an object');
  }
  return inputToJson(input);
}

function failedAuthorization(err: unknown): AuthorizeResult {
  const error = fromNative(err);
  return { allowed: false, reason: error.code, claims: null, defined: false, value: undefined, revision: undefined, error };
}

/**
 * Rego policy evaluation in-process: the CoreSDK engine (Rust, regorus) over
 * a policy bundle, pooled across threads and hot-reloaded on change.
 *
 * Sync methods (`*Sync`) cost a few microseconds and suit request paths;
 * async methods run on libuv's thread pool and suit large inputs or slow
 * policies.
 *
 * @example
 * ```ts
 * import { Engine } from 'coresdk';
 *
 * const engine = new Engine({ policyDir: './policies' });
 * const allowed = engine.isAllowedSync('data.authz.allow', {
 *   user: { id: 'alice', roles: ['editor'] },
 *   action: 'write',
 *   resource: { type: 'document', id: 'doc-1' },
 * });
 * engine.onReload((e) => { if (e.type === 'failed') console.error(e.error.message); });
 * ```
 */
export class Engine {
  readonly #native: NativeEngine;
  /** The revision `evaluateJsonPacked` last reported in full (see `unpack`). */
  readonly #seen = { revision: '' };
  readonly #listeners = new Set<ReloadListener>();
  #closed = false;

  /**
   * Loads and compiles a bundle. Throws {@link CoreSDKError} with
   * `ERR_POLICY_COMPILE` (with `location`), `ERR_POLICY_LOAD` or `ERR_CONFIG`.
   */
  constructor(options: EngineOptions) {
    const fromEnv = constructingFromEnv;
    constructingFromEnv = false;
    this.#native = Engine.#create(toNativeOptions(options, fromEnv));
    this.#subscribe();
    trackEngine(this);
  }

  /**
   * An engine configured by `coresdk.toml` (or `CORESDK_CONFIG`) and
   * `CORESDK_*` variables (`CORESDK_POLICY_DIR`, `CORESDK_EVAL_TIMEOUT_MS`,
   * ...); `overrides` win over both.
   */
  static fromEnv(overrides: EngineOptions = {}): Engine {
    constructingFromEnv = true;
    try {
      return new Engine(overrides);
    } finally {
      constructingFromEnv = false;
    }
  }

  static #create(options: NativeEngineOptions): NativeEngine {
    try {
      return new native.NativeEngine(options);
    } catch (err) {
      throw fromNative(err);
    }
  }

  #subscribe(): void {
    this.#native.onReload((e) => {
      const event = toReloadEvent(e);
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch {
          // A listener's failure must not affect other listeners or the engine.
        }
      }
    });
  }

  /** The revision currently serving. */
  get revision(): string {
    return this.#native.revision;
  }

  /**
   * Evaluates `query` on the calling thread.
   *
   * For a plain reference into `data` (`data.authz.allow`) the value is the
   * document's value; for any other query it is the list of each result's
   * variable bindings (OPA's `/v1/query` shape). Throws {@link CoreSDKError}.
   */
  evaluatePolicySync<T = unknown>(query: string, input?: unknown): Decision<T> {
    const json = inputToJson(input);
    try {
      return unpack<T>(this.#native.evaluateJsonPacked(query, json), this.#seen);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Like {@link Engine.evaluatePolicySync}, evaluated off the main thread. */
  async evaluatePolicy<T = unknown>(query: string, input?: unknown): Promise<Decision<T>> {
    const json = inputToJson(input);
    try {
      return toDecision<T>(await this.#native.evaluateJsonAsync(query, json));
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * Allow-style check on the calling thread: allowed only when `query` is
   * exactly `true`; undefined, other values and every error deny, with the
   * reason. Never throws.
   */
  decideSync(query: string, input?: unknown): Verdict {
    try {
      return toVerdict(unpack(this.#native.evaluateJsonPacked(query, inputToJson(input)), this.#seen));
    } catch (err) {
      return errorVerdict(err);
    }
  }

  /** Like {@link Engine.decideSync}, evaluated off the main thread. Never rejects. */
  async decide(query: string, input?: unknown): Promise<Verdict> {
    try {
      return toVerdict(await this.#native.evaluateJsonAsync(query, inputToJson(input)));
    } catch (err) {
      return errorVerdict(err);
    }
  }

  /** `true` only when `query` evaluates to exactly `true`. Never throws. */
  isAllowedSync(query: string, input?: unknown): boolean {
    return this.decideSync(query, input).allowed;
  }

  /** `true` only when `query` evaluates to exactly `true`. Never rejects. */
  async isAllowed(query: string, input?: unknown): Promise<boolean> {
    return (await this.decide(query, input)).allowed;
  }

  /**
   * Re-reads and recompiles the bundle now; resolves with the revision
   * serving. On a broken bundle it rejects with `ERR_POLICY_COMPILE` and the
   * last good revision keeps serving.
   */
  async reload(): Promise<string> {
    try {
      return await this.#native.reload();
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * Hears every reload outcome (watcher or {@link Engine.reload}). Returns a
   * function that removes the listener. Listeners never keep the process alive.
   */
  onReload(listener: ReloadListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Verifies a bearer token (compact JWS) and returns its claims. Throws
   * {@link CoreSDKError} with an `ERR_TOKEN_*` code (see `rfc6750Error`),
   * `ERR_JWKS_UNAVAILABLE`, or `ERR_CONFIG` when no key source is set.
   */
  verifyTokenSync(token: string): Record<string, unknown> {
    try {
      return JSON.parse(this.#native.verifyToken(token).claimsJson) as Record<string, unknown>;
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Like {@link Engine.verifyTokenSync}, off the main thread. */
  async verifyToken(token: string): Promise<Record<string, unknown>> {
    try {
      return JSON.parse((await this.#native.verifyTokenAsync(token)).claimsJson) as Record<string, unknown>;
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * Verification and policy evaluation in one call (one crossing into the
   * engine). The policy's input is `req.input` with the verified claims as
   * `input.claims`. Never throws: a rejected token, an unavailable key set
   * or an evaluation error is `allowed: false` with the reason and error.
   *
   * @example
   * ```ts
   * const r = engine.authorizeSync(bearer, { query: 'data.authz.allow', input: { action: 'read' } });
   * if (!r.allowed) respond(r.error?.rfc6750Error ? 401 : 403);
   * ```
   */
  authorizeSync(token: string, req: AuthorizeRequest): AuthorizeResult {
    try {
      return toAuthorizeResult(this.#native.authorize(token, req.query, authorizeInput(req)));
    } catch (err) {
      return failedAuthorization(err);
    }
  }

  /** Like {@link Engine.authorizeSync}, off the main thread. Never rejects. */
  async authorize(token: string, req: AuthorizeRequest): Promise<AuthorizeResult> {
    try {
      return toAuthorizeResult(await this.#native.authorizeAsync(token, req.query, authorizeInput(req)));
    } catch (err) {
      return failedAuthorization(err);
    }
  }

  /**
   * Masks PII and secrets in `values` with this engine's masker (the
   * `pii_*` settings; see docs/pii.md). Unchanged strings are returned as
   * given.
   */
  maskPii(values: readonly string[]): string[] {
    const out = this.#native.maskPii(values as string[]);
    return values.map((v, i) => out[i] ?? v);
  }

  /** The bundle's state: source, active revision and, for a remote bundle, its polling (no secrets). */
  bundleStatus(): BundleStatus {
    const s = this.#native.bundleStatus();
    return {
      source: s.source,
      url: s.url ?? null,
      active: s.active,
      revision: s.revision ?? null,
      activatedFrom: s.activatedFrom ?? null,
      activatedAt: s.activatedAt ?? null,
      confirmedAt: s.confirmedAt ?? null,
      lastCheckAt: s.lastCheckAt ?? null,
      etag: s.etag ?? null,
      lastError: s.lastError ?? null,
      lastErrorCode: s.lastErrorCode ?? null,
      offlineNote: s.offlineNote ?? null,
      loads: { activated: s.activated, unchanged: s.unchanged, refused: s.refused, failed: s.failed },
    };
  }

  /**
   * Resolves with the status once a bundle revision is active, or rejects
   * with `ERR_BUNDLE_NOT_ACTIVE` (naming the last error) after `timeoutMs`.
   * Local bundles are active from construction.
   */
  async whenBundleActive(timeoutMs = 30_000): Promise<BundleStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.bundleStatus();
      if (s.active) return s;
      if (this.#closed || Date.now() >= deadline) {
        throw new CoreSDKError('ERR_BUNDLE_NOT_ACTIVE', `no policy bundle active after ${timeoutMs} ms: ${s.lastError ?? 'no answer from the bundle server yet'}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The key source's state, or `undefined` when no token verification is configured. */
  keyStatus(): KeyStatus | undefined {
    const s = this.#native.keyStatus();
    if (s == null) return undefined;
    return {
      source: s.source,
      keys: s.keys,
      fetchedAt: s.fetchedAt ?? null,
      fromOfflineCache: s.fromOfflineCache,
      lastError: s.lastError ?? null,
      offlineCache: s.offlineCache,
      offlineCacheRejections: s.offlineCacheRejections,
      refreshesOk: s.refreshesOk,
      refreshesFailed: s.refreshesFailed,
    };
  }

  /** Decision cache counters of the revision now serving (see {@link EngineOptions.decisionCacheEntries}). */
  decisionCacheStats(): DecisionCacheStats {
    return this.#native.decisionCacheStats();
  }

  /** How the revision now serving answered its evaluations: fast path or interpreter (docs/engine.md). */
  fastPathStats(): FastPathStats {
    return this.#native.fastPathStats();
  }

  /**
   * Which evaluator answers rule query `query` on the revision now serving:
   * the tree evaluator (for inputs that pass its guards, with how many guards
   * and whether rules were indexed) or the interpreter (and why). Plans the
   * query on first use.
   */
  fastPathPlan(query: string): FastPathPlan {
    const p = this.#native.fastPathPlan(query);
    const evaluator = p.evaluator === 'tree' ? 'tree' : 'interpreter';
    return p.reason == null
      ? { evaluator, guards: p.guards, indexed: p.indexed }
      : { evaluator, reason: p.reason, guards: p.guards, indexed: p.indexed };
  }

  /**
   * `null` when the tree evaluator may answer rule query `query` on the
   * revision now serving (for inputs that pass its guards); otherwise why the
   * interpreter answers it. Plans the query on first use.
   */
  fastPathRoute(query: string): string | null {
    return this.#native.fastPathRoute(query) ?? null;
  }

  /** Stops the watcher; later evaluations fail with `ERR_ENGINE_CLOSED`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#native.close();
  }

  /** Whether {@link Engine.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }
}
