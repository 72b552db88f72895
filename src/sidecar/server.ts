/**
 * The sidecar data plane, started from Node.
 *
 * Calls are served in Rust (tonic + rustls) on the data plane's own
 * threads; this class only starts it, reads its status, reloads and drains
 * it, and collects its lifecycle events in batches. The `coresdk-sidecar`
 * CLI is built on it.
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
   * Record per-call spans, metrics and decision-log records in the data
   * plane for {@link SidecarServer.takeTelemetry} (the CLI exports them over
   * OTLP). Off by default: nothing is recorded.
   */
  telemetry?: DataPlaneTelemetryOptions;
}

/** What the data plane records per call. */
export interface DataPlaneTelemetryOptions {
  /** `OTEL_TRACES_SAMPLER` (default `parentbased_always_on`). */
  sampler?: string;
  /** `OTEL_TRACES_SAMPLER_ARG`. */
  samplerArg?: string;
  /** Spans held between two takes (default 8,192); more are dropped and counted. */
  maxQueuedSpans?: number;
  /** Decision-log records held between two takes (default 8,192). */
  maxQueuedLogs?: number;
}

/** One span the data plane recorded (already masked). */
export interface SidecarSpanRecord {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** `[seconds, nanoseconds]` since the epoch. */
  start: [number, number];
  end: [number, number];
  /** 0 unset, 2 error (OpenTelemetry's `SpanStatusCode`). */
  status: { code: number; message?: string };
  attributes: Record<string, string | number | boolean>;
}

/** One decision-log record the data plane recorded (already masked). */
export interface SidecarLogRecord {
  time: [number, number];
  traceId: string | null;
  spanId: string | null;
  body: string;
  attributes: Record<string, string | number | boolean>;
}

/** What {@link SidecarServer.takeTelemetry} returns. */
export interface SidecarTelemetryBatch {
  spans: SidecarSpanRecord[];
  logs: SidecarLogRecord[];
  /** Spans dropped (queue full) since the last take. */
  droppedSpans: number;
  /** Decision-log records dropped since the last take. */
  droppedLogs: number;
}

/** Cumulative metrics of the data plane since it started. */
export interface SidecarMetrics {
  startTime: [number, number];
  boundaries: number[];
  decisions: Array<{ attributes: Record<string, string>; count: number }>;
  durations: Array<{ attributes: Record<string, string>; count: number; sum: number; min: number; max: number; buckets: number[] }>;
  piiMasked: Array<{ entity: string; count: number }>;
  jwksRefreshes: Array<{ tenant: string; outcome: 'success' | 'failure'; count: number }>;
  /** Remote bundle loads by outcome (`coresdk.bundle.loads`). */
  bundleLoads?: Array<{ tenant: string; outcome: 'activated' | 'unchanged' | 'refused' | 'failed'; count: number }>;
  /** Seconds since the server last confirmed each remote bundle (`coresdk.bundle.age`). */
  bundleAge?: Array<{ tenant: string; seconds: number }>;
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
   * Spans and decision-log records recorded since the last call, masked in
   * the data plane; `null` when started without `telemetry`.
   */
  async takeTelemetry(): Promise<SidecarTelemetryBatch | null> {
    const text = await this.#native.takeTelemetry();
    return text == null ? null : (JSON.parse(text) as SidecarTelemetryBatch);
  }

  /** Cumulative metrics since start; `null` when started without `telemetry`. */
  telemetryMetrics(): SidecarMetrics | null {
    const text = this.#native.telemetryMetrics();
    return text == null ? null : (JSON.parse(text) as SidecarMetrics);
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
