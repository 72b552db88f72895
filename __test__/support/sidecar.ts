/**
 * The sidecar as a real child process started through its bin
 * (`dist/sidecar/cli.js`), and grpc-js clients for it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

import { sidecarErrorInfo, type SidecarErrorInfo } from '../../src/grpc/status-details.js';
import type { MtlsPki } from './mtls.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'dist', 'sidecar', 'cli.js');
/** The coresdk-sidecar program itself (built by `npm test`'s `cargo build sidecar` step): no Node needed. */
export const PROGRAM = join(ROOT, 'target', 'debug', 'coresdk-sidecar');

const definition = loader.loadSync(
  ['coresdk/v1/coresdk.proto', 'grpc/health/v1/health.proto'],
  { keepCase: false, defaults: true, enums: String, includeDirs: [join(ROOT, 'proto')] },
);
const pkg = grpc.loadPackageDefinition(definition);
function service(path: string): grpc.ServiceClientConstructor {
  let node: unknown = pkg;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return node as grpc.ServiceClientConstructor;
}
const CoreSDK = service('coresdk.v1.CoreSDK');
const Health = service('grpc.health.v1.Health');

type Unary = (req: object, metadata: grpc.Metadata, options: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: unknown) => void) => grpc.ClientUnaryCall;

/** A log line of the sidecar (pino JSON). */
export interface LogLine {
  level: number;
  msg: string;
  event?: string;
  [k: string]: unknown;
}

/** A running sidecar child process. */
export interface SidecarProc {
  child: ChildProcessWithoutNullStreams;
  /** `[::1]:port` or `unix:/path` as bound. */
  addr: string;
  logs: LogLine[];
  stderr: () => string;
  /** Everything written to stdout so far (log lines and plain text, such as the development token). */
  stdout: () => string;
  /** Resolves when a log line matches. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts the bin with `args` and `env` (merged over a clean CORESDK-free environment); resolves once it listens.
 * `program: true` runs {@link PROGRAM} directly instead of the npm bin.
 */
export async function startSidecar(
  args: string[],
  env: Record<string, string>,
  opts: { waitServing?: boolean; program?: boolean; cwd?: string } = {},
): Promise<SidecarProc> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CORESDK_') && v !== undefined) base[k] = v;
  const [cmd, argv] = opts.program === true ? [PROGRAM, args] : [process.execPath, [BIN, ...args]];
  const child = spawn(cmd, argv, { env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd });
  const logs: LogLine[] = [];
  let err = '';
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let buf = '';
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    out += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as LogLine;
      logs.push(l);
      for (const w of [...waiters]) {
        if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  const waitFor = (pred: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`sidecar: no matching log line in ${timeoutMs} ms; stderr: ${err}; logs: ${JSON.stringify(logs.slice(-5))}`));
      }, timeoutMs);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`sidecar exited (${code}) before the expected log line; stderr: ${err}`));
      });
    });
  };
  const listening = await waitFor((l) => l.event === 'listening');
  if (opts.waitServing !== false) await waitFor((l) => l.event === 'serving');
  return { child, addr: listening.addr as string, logs, stderr: () => err, stdout: () => out, waitFor, exited, kill: (s = 'SIGTERM') => child.kill(s) };
}

/** grpc-js target for a bound address. */
export function target(addr: string): string {
  return addr.startsWith('unix:') ? `unix://${addr.slice(5)}` : addr;
}

/** Client credentials: mTLS with the given client identity, or none. */
export function mtlsCredentials(pki: MtlsPki, who: 'client' | 'intruder' | 'anonymous'): grpc.ChannelCredentials {
  const ca = pki.pem(pki.caFile);
  if (who === 'anonymous') return grpc.credentials.createSsl(ca);
  const [cert, key] = who === 'client' ? [pki.clientCert, pki.clientKey] : [pki.otherClientCert, pki.otherClientKey];
  return grpc.credentials.createSsl(ca, pki.pem(key), pki.pem(cert));
}

/** Clients for the CoreSDK and Health services on one channel. */
export interface Clients {
  core: grpc.Client;
  health: grpc.Client;
  /** A `Health.Watch` stream for the server (""). */
  watchHealth(): grpc.ClientReadableStream<{ status: string }>;
  close(): void;
}

export function clients(addr: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): Clients {
  const channelOptions: grpc.ChannelOptions = { 'grpc.max_send_message_length': 64 * 1024 * 1024, ...options };
  const core = new CoreSDK(target(addr), creds, channelOptions);
  const health = new Health(target(addr), creds, { ...channelOptions, channelOverride: core.getChannel() });
  const watch = (health as unknown as Record<string, ((req: object) => grpc.ClientReadableStream<{ status: string }>) | undefined>).watch;
  return {
    core,
    health,
    watchHealth: () => {
      if (watch === undefined) throw new Error('no Health.watch');
      return watch.call(health, { service: '' });
    },
    close: () => {
      core.close();
    },
  };
}

/** A failed call: code, details, and the sidecar's ErrorInfo. */
export interface CallError {
  code: grpc.status;
  details: string;
  info: SidecarErrorInfo | undefined;
}

/** Calls a unary method; resolves `{ ok }` or `{ err }` (never rejects). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the response shape
export function call<T = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  req: object,
  deadlineMs = 10_000,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<{ ok?: T; err?: CallError }> {
  const fn = (client as unknown as Record<string, Unary | undefined>)[method];
  if (fn === undefined) throw new Error(`no method ${method}`);
  return new Promise((resolve) => {
    fn.call(client, req, metadata, { deadline: Date.now() + deadlineMs }, (e, res) => {
      if (e) resolve({ err: { code: e.code, details: e.details, info: sidecarErrorInfo(e.metadata) } });
      else resolve({ ok: res as T });
    });
  });
}

/** Health status of the server ("") as its enum name. */
export async function healthOf(c: Clients, deadlineMs = 5_000): Promise<string> {
  const r = await call<{ status: string }>(c.health, 'check', { service: '' }, deadlineMs);
  if (r.err) return `ERROR:${r.err.code}`;
  return r.ok?.status ?? 'NONE';
}
