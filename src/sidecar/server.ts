/**
 * The sidecar data plane, started from Node.
 *
 * Calls are served in Rust (tonic + rustls) on the data plane's own
 * threads; this class only starts it, reads its status, reloads and drains
 * it, and collects its lifecycle events in batches: the data plane embedded
 * in a Node process. The `coresdk-sidecar` command is the Rust program
 * itself (see `coresdk-sidecar --help`).
 *
 * @packageDocumentation
 */
import { native } from '../binding.js';
import type { NativeSidecar } from '../binding.js';
import { fromNative } from '../errors.js';

/** One lifecycle event from the data plane (never one per call). */
export interface SidecarEvent {
  /** `debug`, `info`, `warn` or `error`. */
  level: 'debug' | 'info' | 'warn' | 'error';
  /** A stable event name: `listening`, `serving`, `not_serving`, `policy_reloaded`, `tls_reloaded`, `draining`, `drained`, ... */
  event: string;
  /** A human-readable sentence. */
  msg: string;
  /** Structured fields (tenant, revision, addr, counts). */
  [field: string]: unknown;
}

/** A tenant's state in {@link SidecarStatus}. */
export interface SidecarTenantStatus {
  /** The tenant id. */
  id: string;
  /** The policy revision serving. */
  revision: string;
  /** The key source's state, when the tenant verifies tokens. */
  keys: {
    source: string;
    keys: number;
    from_offline_cache: boolean;
    last_error: string | null;
    offline_cache: string;
    offline_cache_rejections: number;
  } | null;
}

/** A snapshot of the data plane. */
export interface SidecarStatus {
  /** The bound address. */
  addr: string;
  /** The health-only listener, if any. */
  health_addr: string | null;
  /** The AuthZEN listener, when `[sidecar.authzen] addr` is set. */
  authzen_addr: string | null;
  /** What `grpc.health.v1.Health` reports: SERVING when true. */
  serving: boolean;
  /** Why not serving. */
  reason: string | null;
  /** A drain has begun. */
  draining: boolean;
  /** Every tenant. */
  tenants: SidecarTenantStatus[];
  /** The tenant used when a request names none. */
  default_tenant: string;
  /** Calls in flight now. */
  in_flight: number;
  /** Calls admitted since start. */
  calls_admitted: number;
  /** Calls refused with RESOURCE_EXHAUSTED since start. */
  calls_refused_overload: number;
}

/** The outcome of {@link SidecarServer.drain}. */
export interface DrainReport {
  /** Every call in flight was answered before the deadline. */
  complete: boolean;
  /** Calls still in flight when the deadline passed. */
  abandoned: number;
  /** How long the drain took. */
  elapsedMs: number;
}

/** How to start a {@link SidecarServer}. */
export interface SidecarServerOptions {
  /** A `coresdk.toml`; omitted means none (variables only). */
  configFile?: string;
  /**
   * `CORESDK_*` variables (`CORESDK_SIDECAR_ADDR`, `CORESDK_POLICY_DIR`,
   * `CORESDK_SIDECAR_TLS_CERT_FILE`, ...). They override the file, exactly
   * as in the environment. Default: none (pass `process.env` explicitly).
   */
  vars?: Record<string, string | undefined>;
  /**
   * Export per-call spans, metrics and decision-log records over OTLP from the data plane itself
   * (Rust, the OpenTelemetry SDK), to the collector the process's `OTEL_*` variables name
   * (`OTEL_EXPORTER_OTLP_ENDPOINT` is required). Off by default: nothing is recorded.
   */
  telemetry?: DataPlaneTelemetryOptions;
}

/** What the data plane records and exports per call (the rest comes from the `OTEL_*` variables). */
export interface DataPlaneTelemetryOptions {
  /** `OTEL_TRACES_SAMPLER` (default: the variable, else `parentbased_always_on`). */
  sampler?: string;
  /** `OTEL_TRACES_SAMPLER_ARG`. */
  samplerArg?: string;
  /** Spans held between two exports (default 8,192); more are dropped and counted. */
  maxQueuedSpans?: number;
  /** Decision-log records held between two exports (default 8,192). */
  maxQueuedLogs?: number;
}

function cleanVars(vars: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (k.startsWith('CORESDK_') && typeof v === 'string') out[k] = v;
  }
  return out;
}

/**
 * A running data plane.
 *
 * @example
 * ```ts
 * const sidecar = await SidecarServer.start({ configFile: 'coresdk.toml', vars: process.env });
 * console.log(sidecar.addr, sidecar.status().serving);
 * await sidecar.drain();
 * ```
 */
export class SidecarServer {
  readonly #native: NativeSidecar;

  private constructor(n: NativeSidecar) {
    this.#native = n;
  }

  /**
   * Loads configuration (file, then `CORESDK_*` overrides), builds every
   * tenant, binds and serves. Rejects with a `CoreSDKError` naming the key
   * at fault (`ERR_CONFIG`, `ERR_TLS`, `ERR_BIND`, `ERR_POLICY_COMPILE`...).
   */
  static async start(options: SidecarServerOptions = {}): Promise<SidecarServer> {
    try {
      const n = await native.startSidecar(options.configFile ?? null, cleanVars(options.vars), options.telemetry ?? null);
      return new SidecarServer(n);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Validates configuration without starting anything. Returns the listen
   * address, the tenants and the default tenant; throws a `CoreSDKError`
   * naming the key at fault.
   */
  static check(options: SidecarServerOptions = {}): {
    addr: string;
    defaultTenant: string;
    tenants: string[];
    insecureDev: boolean;
    drainTimeoutMs: number;
    healthAddr: string | null;
  } {
    try {
      return JSON.parse(native.checkSidecarConfig(options.configFile ?? null, cleanVars(options.vars))) as ReturnType<
        typeof SidecarServer.check
      >;
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** The bound address (the real port when port 0 was configured). */
  get addr(): string {
    return this.#native.localAddr;
  }

  /** The health-only listener's address, when configured. */
  get healthAddr(): string | null {
    return this.#native.healthAddr ?? null;
  }

  /** The configured drain deadline in milliseconds. */
  get drainTimeoutMs(): number {
    return this.#native.drainTimeoutMs;
  }

  /** Serving state, tenants, revisions, key sources and call counts. */
  status(): SidecarStatus {
    return JSON.parse(this.#native.status()) as SidecarStatus;
  }

  /** Lifecycle events since the last call, oldest first. */
  takeEvents(): SidecarEvent[] {
    return JSON.parse(this.#native.takeEvents()) as SidecarEvent[];
  }

  /**
   * Recompiles every tenant's bundle and reloads the certificates. Failures
   * keep the previous state serving and are described in the result.
   */
  async reload(): Promise<unknown> {
    return JSON.parse(await this.#native.reload()) as unknown;
  }

  /**
   * Graceful shutdown: health NOT_SERVING, no new connections, GOAWAY, then
   * a wait of at most `deadlineMs` (default: the configured drain timeout)
   * for calls in flight. Idempotent.
   */
  async drain(deadlineMs?: number): Promise<DrainReport> {
    return JSON.parse(await this.#native.drain(deadlineMs ?? null)) as DrainReport;
  }
}
