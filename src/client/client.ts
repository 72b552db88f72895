/**
 * `CoreSDKClient`: one interface over two transports, the in-process engine
 * and the sidecar, chosen by configuration alone.
 *
 * Fail modes apply to one situation only: the sidecar could not be reached
 * (connection refused, handshake failure, deadline exceeded, circuit open).
 * Then `open` allows with `claims: null` (with a rate-limited warning and a
 * counter) and `closed` denies with `ERR_SIDECAR_UNAVAILABLE` (HTTP 503 in
 * the middleware). Anything the sidecar *answered* (a rejected token, a
 * policy deny, a key source that is down, an overload) is never turned into
 * an allow.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';

import { Engine, type AuthorizeResult, type Decision, type EngineOptions } from '../engine.js';
import { CoreSDKError, fromNative } from '../errors.js';
import { native } from '../binding.js';
import { parseEngineJson } from '../json-values.js';
import type { BreakerOptions } from './breaker.js';
import { SidecarTransport, type ClientTlsOptions } from './sidecar-transport.js';
import { ERRORS } from '../generated/contract.js';

/** Client configuration. Every field has a default or comes from `fromEnv()`. */
export interface SDKConfig {
  /** `sidecar` (default) or `in-process`. */
  mode?: 'sidecar' | 'in-process';
  /** The sidecar's address. Default `[::1]:50051`. */
  sidecarAddr?: string;
  /** The tenant requests name. Default: the sidecar's default tenant. */
  tenantId?: string;
  /** What happens when the sidecar cannot be reached. Default `open`. */
  failMode?: 'open' | 'closed';
  /** Mutual TLS files for the sidecar; without them the address must be loopback or a unix socket. */
  tls?: ClientTlsOptions;
  /** Deadline of one call to the sidecar, retries included. Default 1000 ms. */
  timeoutMs?: number;
  /** Retries after UNAVAILABLE. Default 2. */
  retries?: number;
  /** Circuit breaker. Defaults: 5 failures open it for 5 s. */
  breaker?: BreakerOptions;
  /** In-process mode: the engine to use, or options to build one (default: `Engine.fromEnv()`). */
  engine?: Engine | EngineOptions;
  /** Where fail-open warnings go (at most one per 10 s). Default: `console.warn`. */
  warn?: (message: string) => void;
}

/** Options of one call. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
  /** This call's deadline, overriding `timeoutMs`. */
  timeoutMs?: number;
}

/** The outcome of {@link CoreSDKClient.authorize}. */
export interface ClientAuthorizeResult extends Omit<AuthorizeResult, 'reason'> {
  /** `allowed`, `denied`, `undefined`, `fail-open`, or the error code. */
  readonly reason: AuthorizeResult['reason'] | 'fail-open';
  /** True when the sidecar was unreachable and `failMode: 'open'` allowed the request (claims are null). */
  readonly degraded: boolean;
}

/** The outcome of one item of {@link CoreSDKClient.evaluatePolicies}. */
export type BatchResult = { ok: true; decision: Decision; allowed: boolean } | { ok: false; error: CoreSDKError };

/** Counters for dashboards. */
export interface ClientStats {
  /** Requests allowed by `failMode: 'open'` because the sidecar was unreachable. */
  failOpen: number;
  /** Requests denied by `failMode: 'closed'` because the sidecar was unreachable. */
  failClosed: number;
  /** The circuit breaker's state (sidecar mode). */
  breaker: 'closed' | 'open' | 'half-open' | 'n/a';
}

/** Whether an error means "the sidecar could not be reached" (a transport failure in the error contract). */
export function isTransportFailure(e: unknown): boolean {
  return e instanceof CoreSDKError && ERRORS[e.code].transport;
}

/** The sidecar's JSON text, parsed exactly as the in-process engine hands values over. */
function parseJson(text: unknown): unknown {
  return typeof text === 'string' && text !== '' ? parseEngineJson(text) : undefined;
}

/** The `[sdk]` settings a client reads, as {@link loadSdkSettings} returns them. */
export interface SdkSettings {
  /** `sidecar_addr`. */
  sidecarAddr: string;
  /** `tenant_id`. */
  tenantId: string;
  /** `fail_mode`. */
  failMode: 'open' | 'closed';
  /** `mode`. */
  mode: 'sidecar' | 'in-process';
  /** `timeout_ms`. */
  timeoutMs: number;
  /** `tls_*`. */
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null; serverName: string | null };
  /** `decision_log`: `off`, `decisions` or `input`. */
  decisionLog: 'off' | 'decisions' | 'input';
}

/**
 * Reads `coresdk.toml` (`CORESDK_CONFIG`, else `./coresdk.toml` when it
 * exists) and the `CORESDK_*` variables through the engine's one loader.
 * Throws `ERR_CONFIG` naming the key at fault.
 */
export function loadSdkSettings(env: NodeJS.ProcessEnv = process.env): SdkSettings {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('CORESDK_') && v !== undefined) vars[k] = v;
  const file = vars.CORESDK_CONFIG ?? (existsSync('coresdk.toml') ? 'coresdk.toml' : undefined);
  try {
    return JSON.parse(native.loadClientConfig(file ?? null, vars)) as SdkSettings;
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * The CoreSDK client.
 *
 * @example
 * ```ts
 * const client = CoreSDKClient.fromEnv(); // coresdk.toml + CORESDK_* (mode, sidecar_addr, fail_mode, tls_*)
 * const r = await client.authorize(bearer, { input: { action: 'read', resource } });
 * if (r.allowed) use(r.claims); // claims is null when r.degraded (fail-open)
 * ```
 */
export class CoreSDKClient {
  /** The effective configuration (TLS file paths included, no secrets). */
  readonly config: Readonly<Required<Pick<SDKConfig, 'mode' | 'sidecarAddr' | 'failMode' | 'timeoutMs'>> & { tenantId: string }>;
  readonly #sidecar: SidecarTransport | undefined;
  readonly #engine: Engine | undefined;
  readonly #ownsEngine: boolean;
  readonly #warn: (m: string) => void;
  #lastWarn = 0;
  #failOpen = 0;
  #failClosed = 0;
  #closed = false;

  /** Builds a client; in sidecar mode the channel connects on the first call. */
  constructor(config: SDKConfig = {}) {
    const mode = config.mode ?? 'sidecar';
    // Checked at run time too: JavaScript callers and configuration files are not type-checked.
    if (!(['sidecar', 'in-process'] as unknown[]).includes(mode)) throw new CoreSDKError('ERR_CONFIG', `mode: must be "sidecar" or "in-process", got ${JSON.stringify(mode)}`);
    const failMode = config.failMode ?? 'open';
    if (!(['open', 'closed'] as unknown[]).includes(failMode)) throw new CoreSDKError('ERR_CONFIG', `failMode: must be "open" or "closed", got ${JSON.stringify(failMode)}`);
    const timeoutMs = config.timeoutMs ?? 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CoreSDKError('ERR_CONFIG', 'timeoutMs: must be a positive number');
    this.config = { mode, failMode, timeoutMs, sidecarAddr: config.sidecarAddr ?? '[::1]:50051', tenantId: config.tenantId ?? '' };
    this.#warn = config.warn ?? ((m) => { console.warn(m); });
    if (mode === 'sidecar') {
      this.#sidecar = new SidecarTransport({ addr: this.config.sidecarAddr, tls: config.tls, timeoutMs, retries: config.retries, breaker: config.breaker });
      this.#ownsEngine = false;
    } else if (config.engine instanceof Engine) {
      this.#engine = config.engine;
      this.#ownsEngine = false;
    } else {
      this.#engine = config.engine === undefined ? Engine.fromEnv() : new Engine(config.engine);
      this.#ownsEngine = true;
    }
  }

  /**
   * A client configured from `coresdk.toml` (`CORESDK_CONFIG`, else
   * `./coresdk.toml`) and `CORESDK_*` variables: `mode`, `sidecar_addr`,
   * `tenant_id`, `fail_mode`, `timeout_ms`, `tls_ca_file`, `tls_cert_file`,
   * `tls_key_file`, `tls_server_name`. `overrides` win. Errors name the key.
   * In `in-process` mode the engine is `Engine.fromEnv()`: the same file and
   * variables configure its bundle and tokens.
   */
  static fromEnv(overrides: SDKConfig = {}): CoreSDKClient {
    const loaded = loadSdkSettings();
    const tls: ClientTlsOptions = {};
    if (loaded.tls.caFile !== null) tls.caFile = loaded.tls.caFile;
    if (loaded.tls.certFile !== null) tls.certFile = loaded.tls.certFile;
    if (loaded.tls.keyFile !== null) tls.keyFile = loaded.tls.keyFile;
    if (loaded.tls.serverName !== null) tls.serverName = loaded.tls.serverName;
    return new CoreSDKClient({
      mode: loaded.mode,
      sidecarAddr: loaded.sidecarAddr,
      tenantId: loaded.tenantId,
      failMode: loaded.failMode,
      timeoutMs: loaded.timeoutMs,
      tls,
      ...overrides,
    });
  }

  #check(): void {
    if (this.#closed) throw new CoreSDKError('ERR_ENGINE_CLOSED', 'the client is closed');
  }

  #degrade(e: CoreSDKError): ClientAuthorizeResult {
    if (this.config.failMode === 'open') {
      this.#failOpen++;
      const now = Date.now();
      if (now - this.#lastWarn >= 10_000) {
        this.#lastWarn = now;
        this.#warn(`coresdk: sidecar unreachable (${e.code}); failMode "open" is allowing requests with null claims (${this.#failOpen} so far)`);
      }
      return { allowed: true, reason: 'fail-open', claims: null, defined: false, value: undefined, revision: undefined, error: e, degraded: true };
    }
    this.#failClosed++;
    return { allowed: false, reason: e.code, claims: null, defined: false, value: undefined, revision: undefined, error: e, degraded: false };
  }

  /**
   * Verifies `token` and evaluates `query` (default `data.authz.allow`) with
   * the claims as `input.claims`. Never rejects for a decision: a rejected
   * token, a deny or an error comes back as `allowed: false` with `reason`
   * and `error`; an unreachable sidecar follows the fail mode.
   */
  async authorize(token: string, opts: CallOptions & { query?: string; input?: Record<string, unknown>; tenantId?: string } = {}): Promise<ClientAuthorizeResult> {
    this.#check();
    const query = opts.query ?? 'data.authz.allow';
    if (this.#engine !== undefined) {
      const r = await this.#engine.authorize(token, { query, input: opts.input });
      return { ...r, degraded: false };
    }
    const sidecar = this.#sidecar as SidecarTransport;
    let inputJson = '';
    if (opts.input !== undefined) {
      try {
        inputJson = JSON.stringify(opts.input);
      } catch (e) {
        const err = new CoreSDKError('ERR_INPUT_INVALID', 'the input cannot be serialised to JSON', { cause: e });
        return { allowed: false, reason: err.code, claims: null, defined: false, value: undefined, revision: undefined, error: err, degraded: false };
      }
    }
    try {
      const res = await sidecar.call('authorize', { tenantId: opts.tenantId ?? this.config.tenantId, token, query, inputJson }, opts);
      const value = parseJson(res.decisionJson);
      return {
        allowed: res.allowed === true,
        reason: res.reason as AuthorizeResult['reason'],
        claims: (parseJson(res.claimsJson) ?? null) as Record<string, unknown> | null,
        defined: res.decisionJson !== '',
        value,
        revision: (res.revision as string | undefined) ?? undefined,
        error: undefined,
        degraded: false,
      };
    } catch (e) {
      const err = e instanceof CoreSDKError ? e : new CoreSDKError('ERR_INTERNAL', String(e));
      if (isTransportFailure(err)) return this.#degrade(err);
      return { allowed: false, reason: err.code, claims: null, defined: false, value: undefined, revision: undefined, error: err, degraded: false };
    }
  }

  /**
   * Verifies `token` alone (no policy). Never rejects for a verdict: a
   * rejected token comes back as `allowed: false` with `reason` and `error`;
   * an unreachable sidecar follows the fail mode. `value` is unused.
   */
  async verifyToken(token: string, opts: CallOptions & { tenantId?: string } = {}): Promise<ClientAuthorizeResult> {
    this.#check();
    const fail = (err: CoreSDKError): ClientAuthorizeResult => ({ allowed: false, reason: err.code, claims: null, defined: false, value: undefined, revision: undefined, error: err, degraded: false });
    if (this.#engine !== undefined) {
      try {
        const claims = await this.#engine.verifyToken(token);
        return { allowed: true, reason: 'allowed', claims, defined: false, value: undefined, revision: undefined, error: undefined, degraded: false };
      } catch (e) {
        return fail(fromNative(e));
      }
    }
    try {
      const res = await (this.#sidecar as SidecarTransport).call('verifyToken', { tenantId: opts.tenantId ?? this.config.tenantId, token }, opts);
      return { allowed: true, reason: 'allowed', claims: (parseJson(res.claimsJson) ?? null) as Record<string, unknown> | null, defined: false, value: undefined, revision: undefined, error: undefined, degraded: false };
    } catch (e) {
      const err = e instanceof CoreSDKError ? e : new CoreSDKError('ERR_INTERNAL', String(e));
      return isTransportFailure(err) ? this.#degrade(err) : fail(err);
    }
  }

  /**
   * Evaluates one query. Rejects with a `CoreSDKError` on an invalid request
   * or an unreachable sidecar (`ERR_SIDECAR_UNAVAILABLE`,
   * `ERR_SIDECAR_TIMEOUT`): the fail mode is for `authorize` and the
   * middleware, which decide what an unreachable sidecar means.
   */
  async evaluatePolicy(query: string, input?: unknown, opts: CallOptions & { tenantId?: string } = {}): Promise<Decision> {
    this.#check();
    if (this.#engine !== undefined) return this.#engine.evaluatePolicy(query, input);
    const res = await (this.#sidecar as SidecarTransport).call('evaluatePolicy', { tenantId: opts.tenantId ?? this.config.tenantId, query, inputJson: input === undefined ? '' : JSON.stringify(input) }, opts);
    return { defined: res.defined === true, value: parseJson(res.valueJson), revision: res.revision as string };
  }

  /**
   * Allow-style check: `{ allowed, reason, degraded }`. Allowed only when the
   * query is exactly `true`; an unreachable sidecar follows the fail mode.
   */
  async isAllowed(
    query: string,
    input?: unknown,
    opts: CallOptions & { tenantId?: string } = {},
  ): Promise<{ allowed: boolean; reason: string; degraded: boolean; error?: CoreSDKError; revision?: string }> {
    try {
      const d = await this.evaluatePolicy(query, input, opts);
      const allowed = d.defined && d.value === true;
      return { allowed, reason: allowed ? 'allowed' : d.defined ? 'denied' : 'undefined', degraded: false, revision: d.revision };
    } catch (e) {
      const err = e instanceof CoreSDKError ? e : new CoreSDKError('ERR_INTERNAL', String(e));
      if (isTransportFailure(err)) {
        const r = this.#degrade(err);
        return { allowed: r.allowed, reason: r.reason, degraded: r.degraded, error: err };
      }
      return { allowed: false, reason: err.code, degraded: false, error: err };
    }
  }

  /** Evaluates many queries in one call (sidecar: one round trip, at most its `max_batch`). */
  async evaluatePolicies(batch: ReadonlyArray<{ query: string; input?: unknown }>, opts: CallOptions & { tenantId?: string } = {}): Promise<BatchResult[]> {
    this.#check();
    if (this.#engine !== undefined) {
      const engine = this.#engine;
      return Promise.all(
        batch.map(async (item): Promise<BatchResult> => {
          try {
            const decision = await engine.evaluatePolicy(item.query, item.input);
            return { ok: true, decision, allowed: decision.defined && decision.value === true };
          } catch (e) {
            return { ok: false, error: fromNative(e) };
          }
        }),
      );
    }
    const res = await (this.#sidecar as SidecarTransport).call(
      'evaluatePolicies',
      { tenantId: opts.tenantId ?? this.config.tenantId, items: batch.map((b) => ({ query: b.query, inputJson: b.input === undefined ? '' : JSON.stringify(b.input) })) },
      opts,
    );
    const revision = res.revision as string;
    return (res.results as Array<{ valueJson: string; defined: boolean; allowed: boolean; errorCode: string; errorMessage: string }>).map((r): BatchResult =>
      r.errorCode === ''
        ? { ok: true, decision: { defined: r.defined, value: parseJson(r.valueJson), revision }, allowed: r.allowed }
        : { ok: false, error: new CoreSDKError(fromNative(new Error(`[${r.errorCode}] ${r.errorMessage}`)).code, r.errorMessage) },
    );
  }

  /** Masks PII and secrets in strings (the engine's or the sidecar tenant's `pii_*` settings). */
  async maskPii(values: readonly string[], opts: CallOptions & { tenantId?: string } = {}): Promise<string[]> {
    this.#check();
    if (this.#engine !== undefined) return this.#engine.maskPii(values);
    const res = await (this.#sidecar as SidecarTransport).call('maskPii', { tenantId: opts.tenantId ?? this.config.tenantId, values }, opts);
    return res.values as string[];
  }

  /** `SERVING`, `NOT_SERVING`, or `UNREACHABLE` (sidecar mode, transport failure). */
  async health(opts: CallOptions = {}): Promise<'SERVING' | 'NOT_SERVING' | 'UNREACHABLE'> {
    this.#check();
    if (this.#engine !== undefined) {
      const ks = this.#engine.keyStatus();
      return ks === undefined || ks.keys > 0 ? 'SERVING' : 'NOT_SERVING';
    }
    try {
      const res = await (this.#sidecar as SidecarTransport).call('check', { service: '' }, { ...opts, health: true });
      return res.status === 'SERVING' ? 'SERVING' : 'NOT_SERVING';
    } catch (e) {
      if (isTransportFailure(e)) return 'UNREACHABLE';
      throw e;
    }
  }

  /** Fail-mode counters and the breaker's state. */
  stats(): ClientStats {
    return { failOpen: this.#failOpen, failClosed: this.#failClosed, breaker: this.#sidecar?.breaker.state ?? 'n/a' };
  }

  /** Closes the channel (and the engine, when the client built it). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sidecar?.close();
    if (this.#ownsEngine) this.#engine?.close();
  }
}
