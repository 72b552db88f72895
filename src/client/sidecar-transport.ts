/**
 * The sidecar transport: one reused @grpc/grpc-js channel to
 * `coresdk.v1.CoreSDK`, a deadline per call, bounded retries with jittered
 * backoff for UNAVAILABLE only, an AbortSignal per call, and a circuit
 * breaker.
 *
 * What counts as "the sidecar could not be reached" is decided here, once:
 * a status carrying the sidecar's `ErrorInfo` is an *answer* (never retried,
 * never a reason to fail open); UNAVAILABLE or DEADLINE_EXCEEDED without it,
 * and an open breaker, are transport failures (`ERR_SIDECAR_UNAVAILABLE`,
 * `ERR_SIDECAR_TIMEOUT`).
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import * as loader from '@grpc/proto-loader';

import { CoreSDKError, ERROR_CODES, type CoreSDKErrorCode } from '../errors.js';
import { sidecarErrorInfo } from '../grpc/status-details.js';
import { PACKAGE_ROOT } from '../paths.js';
import { CircuitBreaker, type BreakerOptions } from './breaker.js';

/** TLS files for the sidecar connection. */
export interface ClientTlsOptions {
  /** CA that signed the sidecar's certificate (PEM file). */
  caFile?: string;
  /** The client certificate chain (PEM file). */
  certFile?: string;
  /** The client private key (PEM file). */
  keyFile?: string;
  /** Name to verify in the sidecar's certificate (default: the address's host). */
  serverName?: string;
}

/** Transport settings. */
export interface SidecarTransportOptions {
  /** `[::1]:50051`, `127.0.0.1:50051` or `unix:/path`. */
  addr: string;
  /** Mutual TLS; without it the address must be loopback or a unix socket. */
  tls?: ClientTlsOptions;
  /** Deadline of one call, retries included. */
  timeoutMs: number;
  /** Retries after UNAVAILABLE. Default 2. */
  retries?: number;
  /** First backoff in ms (doubled per retry, with full jitter). Default 25. */
  backoffMs?: number;
  /** Circuit breaker settings. */
  breaker?: BreakerOptions;
}

type Unary = (req: object, md: grpc.Metadata, options: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: unknown) => void) => grpc.ClientUnaryCall;

const KNOWN: ReadonlySet<string> = new Set<string>(ERROR_CODES);

function isLocal(addr: string): boolean {
  if (addr.startsWith('unix:')) return true;
  const host = addr.startsWith('[') ? addr.slice(1, addr.indexOf(']')) : addr.slice(0, addr.lastIndexOf(':'));
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function target(addr: string): string {
  return addr.startsWith('unix:') && !addr.startsWith('unix://') ? `unix://${addr.slice(5)}` : addr;
}

let definition: grpc.GrpcObject | undefined;
function services(): { CoreSDK: grpc.ServiceClientConstructor; Health: grpc.ServiceClientConstructor } {
  definition ??= grpc.loadPackageDefinition(
    loader.loadSync(['coresdk/v1/coresdk.proto', 'grpc/health/v1/health.proto'], {
      includeDirs: [join(PACKAGE_ROOT, 'proto')],
      keepCase: false,
      defaults: true,
      enums: String,
    }),
  );
  const at = (path: string): grpc.ServiceClientConstructor => {
    let node: unknown = definition;
    for (const p of path.split('.')) node = (node as Record<string, unknown>)[p];
    return node as grpc.ServiceClientConstructor;
  };
  return { CoreSDK: at('coresdk.v1.CoreSDK'), Health: at('grpc.health.v1.Health') };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CoreSDKError('ERR_ABORTED', 'the call was aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new CoreSDKError('ERR_ABORTED', 'the call was aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One channel to the sidecar. */
export class SidecarTransport {
  readonly #core: grpc.Client;
  readonly #health: grpc.Client;
  readonly #opts: Required<Pick<SidecarTransportOptions, 'timeoutMs' | 'retries' | 'backoffMs'>>;
  /** The breaker, exposed for status and tests. */
  readonly breaker: CircuitBreaker;

  /** Opens the channel lazily (grpc-js connects on the first call). Throws `ERR_CONFIG` for plaintext to a non-loopback address. */
  constructor(options: SidecarTransportOptions) {
    const tls = options.tls ?? {};
    const anyTls = tls.caFile !== undefined || tls.certFile !== undefined || tls.keyFile !== undefined;
    let creds: grpc.ChannelCredentials;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      // Retries are ours (UNAVAILABLE only, bounded by the call's deadline).
      'grpc.enable_retries': 0,
    };
    if (anyTls) {
      if (tls.caFile === undefined || tls.certFile === undefined || tls.keyFile === undefined) {
        throw new CoreSDKError('ERR_CONFIG', 'CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE and CORESDK_TLS_KEY_FILE go together: the sidecar requires a client certificate');
      }
      const read = (file: string, key: string): Buffer => {
        try {
          return readFileSync(file);
        } catch (e) {
          throw new CoreSDKError('ERR_CONFIG', `${key}: cannot read ${file}`, { cause: e });
        }
      };
      creds = grpc.credentials.createSsl(read(tls.caFile, 'CORESDK_TLS_CA_FILE'), read(tls.keyFile, 'CORESDK_TLS_KEY_FILE'), read(tls.certFile, 'CORESDK_TLS_CERT_FILE'));
      if (tls.serverName !== undefined) channelOptions['grpc.ssl_target_name_override'] = tls.serverName;
    } else {
      if (!isLocal(options.addr)) {
        throw new CoreSDKError('ERR_CONFIG', `CORESDK_SIDECAR_ADDR: ${options.addr} is not loopback; the sidecar there needs mutual TLS (set CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE, CORESDK_TLS_KEY_FILE)`);
      }
      creds = grpc.credentials.createInsecure();
    }
    const { CoreSDK, Health } = services();
    this.#core = new CoreSDK(target(options.addr), creds, channelOptions);
    this.#health = new Health(target(options.addr), creds, { ...channelOptions, channelOverride: this.#core.getChannel() });
    this.#opts = { timeoutMs: options.timeoutMs, retries: options.retries ?? 2, backoffMs: options.backoffMs ?? 25 };
    this.breaker = new CircuitBreaker(options.breaker);
  }

  /**
   * Calls `method` with retries, deadline and breaker. Resolves with the
   * response; rejects with a `CoreSDKError` whose code is the sidecar's
   * reason, or `ERR_SIDECAR_UNAVAILABLE` / `ERR_SIDECAR_TIMEOUT` /
   * `ERR_ABORTED`.
   */
  async call(method: string, req: object, opts: { signal?: AbortSignal; timeoutMs?: number; health?: boolean } = {}): Promise<Record<string, unknown>> {
    const client = opts.health === true ? this.#health : this.#core;
    const fn = (client as unknown as Record<string, Unary | undefined>)[method];
    if (fn === undefined) throw new CoreSDKError('ERR_INTERNAL', `no sidecar method ${method}`);
    if (opts.signal?.aborted) throw new CoreSDKError('ERR_ABORTED', 'the call was aborted');
    if (!this.breaker.tryAcquire()) {
      throw new CoreSDKError('ERR_SIDECAR_UNAVAILABLE', 'the sidecar is unreachable (circuit open after repeated failures)');
    }
    const deadline = Date.now() + (opts.timeoutMs ?? this.#opts.timeoutMs);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.#once(client, fn, req, deadline, opts.signal);
        this.breaker.onSuccess();
        return res;
      } catch (err) {
        const e = err as grpc.ServiceError;
        const info = sidecarErrorInfo(e.metadata);
        if (info !== undefined) {
          this.breaker.onSuccess();
          const code = (KNOWN.has(info.reason) ? info.reason : 'ERR_INTERNAL') as CoreSDKErrorCode;
          throw new CoreSDKError(code, e.details);
        }
        if (opts.signal?.aborted) throw new CoreSDKError('ERR_ABORTED', 'the call was aborted');
        if (e.code === grpc.status.DEADLINE_EXCEEDED) {
          this.breaker.onFailure();
          throw new CoreSDKError('ERR_SIDECAR_TIMEOUT', `the sidecar did not answer within ${opts.timeoutMs ?? this.#opts.timeoutMs} ms`);
        }
        if (e.code === grpc.status.UNAVAILABLE) {
          const backoff = Math.random() * this.#opts.backoffMs * 2 ** attempt;
          if (attempt < this.#opts.retries && Date.now() + backoff < deadline) {
            await sleep(backoff, opts.signal);
            continue;
          }
          this.breaker.onFailure();
          throw new CoreSDKError('ERR_SIDECAR_UNAVAILABLE', `the sidecar is unreachable: ${e.details}`);
        }
        // Any other status without details did not come from the sidecar's
        // handlers (a proxy, a foreign server): an error, not a fail-open.
        this.breaker.onSuccess();
        throw new CoreSDKError('ERR_INTERNAL', `unexpected gRPC status ${grpc.status[e.code]}: ${e.details}`);
      }
    }
  }

  #once(client: grpc.Client, fn: Unary, req: object, deadline: number, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const call = fn.call(client, req, traceMetadata(), { deadline }, (e, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve(res as Record<string, unknown>);
      });
      const onAbort = (): void => {
        call.cancel();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes the channel. */
  close(): void {
    this.#core.close();
  }
}

/**
 * Call metadata carrying the active span as W3C `traceparent` (and
 * `tracestate`), so that the sidecar's span for the call is its child. Set
 * directly rather than through the global propagator: the sidecar reads
 * exactly this header, whatever propagators the application installed.
 */
function traceMetadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  const sc = trace.getSpanContext(context.active());
  if (sc !== undefined && isSpanContextValid(sc)) {
    md.set('traceparent', `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
    const state = sc.traceState?.serialize();
    if (state !== undefined && state !== '') md.set('tracestate', state);
  }
  return md;
}
