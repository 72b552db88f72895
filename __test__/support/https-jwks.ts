/**
 * A loopback HTTPS server for remote key sets: `/jwks` and
 * `/.well-known/openid-configuration`, with a CA and a server certificate
 * made for the test by the `openssl` CLI.
 *
 * The server runs in a worker thread (https-jwks-worker.mjs): the engine may
 * fetch synchronously on the test's main thread (in its constructor, or on
 * an unknown-kid refetch inside `verifyTokenSync`), and a server on that same
 * thread could not answer until the call gave up.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const OPENSSL = '/usr/bin/openssl';

/** The test PKI: a CA, and a server certificate for 127.0.0.1 / localhost signed by it. */
export interface TestPki {
  /** PEM file of the CA that signed the server certificate. */
  readonly caFile: string;
  /** PEM file of another CA, which signed nothing the server presents. */
  readonly otherCaFile: string;
  readonly serverKeyPem: string;
  readonly serverCertPem: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=coresdk ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** Makes the PKI in `dir` (a temporary directory the caller removes). */
export function makePki(dir: string): TestPki {
  makeCa(dir, 'test-ca');
  makeCa(dir, 'other-ca');
  openssl(dir, [
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1',
  ]);
  writeFileSync(
    join(dir, 'server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(dir, [
    'x509', '-req', '-in', 'server.csr', '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key',
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-sha256',
    '-extfile', 'server.ext', '-out', 'server.pem',
  ]);
  return {
    caFile: join(dir, 'test-ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    serverKeyPem: readFileSync(join(dir, 'server.key'), 'utf8'),
    serverCertPem: readFileSync(join(dir, 'server.pem'), 'utf8'),
  };
}

/** How the server answers. */
export type ServerMode =
  /** Serve the current documents. */
  | { mode: 'ok' }
  /** Answer after `delayMs` (set it above the client's `fetchTimeoutMs`). */
  | { mode: 'slow'; delayMs: number }
  /** Read the request, then drop the connection without an answer. */
  | { mode: 'reset' }
  /** Answer every request with this HTTP status. */
  | { mode: 'status'; status: number };

/** Requests received so far, by route. */
export interface RequestCounts {
  readonly jwks: number;
  readonly discovery: number;
  readonly other: number;
}

/** A running server. Every method resolves once the worker applied it. */
export interface JwksServer {
  /** `https://127.0.0.1:<port>`: the OIDC issuer of the default discovery document. */
  readonly origin: string;
  /** `${origin}/jwks`. */
  readonly jwksUrl: string;
  readonly pki: TestPki;
  /** Replaces the key set served (rotation), dropping any {@link JwksServer.serveOnce} queue. A string is served verbatim. */
  setKeys(jwks: object | string): Promise<void>;
  /** Serves `jwks` to the next /jwks request only (queued); later requests get the current set. */
  serveOnce(jwks: object | string): Promise<void>;
  /** Replaces the discovery document; `null` restores the default (`issuer` = origin). */
  setDiscovery(doc: object | null): Promise<void>;
  setMode(mode: ServerMode): Promise<void>;
  /** The `Cache-Control` header of 200 answers; `null` sends none. */
  setCacheControl(value: string | null): Promise<void>;
  /** Stops listening and drops every connection: connections are refused. */
  goDown(): Promise<void>;
  /** Listens again on the same port. */
  comeUp(): Promise<void>;
  /** Request counts, read without waiting for the worker. */
  requests(): RequestCounts;
  /** Stops the server and the worker. Idempotent. */
  close(): Promise<void>;
}

interface Reply { id: number; ok: boolean; error?: string; port?: number }

/** Starts a server on 127.0.0.1:0 serving `jwks`. */
export async function startJwksServer(pki: TestPki, jwks: object | string): Promise<JwksServer> {
  const counters = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  const counts = new Int32Array(counters);
  const worker = new Worker(new URL('./https-jwks-worker.mjs', import.meta.url), {
    workerData: { key: pki.serverKeyPem, cert: pki.serverCertPem, counters, jwks },
  });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let closed = false;
  worker.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (p === undefined) return;
    pending.delete(r.id);
    if (r.ok) p.resolve(r);
    else p.reject(new Error(`JWKS server: ${r.error ?? 'failed'}`));
  });
  worker.on('error', (err) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  });
  const call = (op: string, extra: object = {}): Promise<Reply> => {
    if (closed) return Promise.reject(new Error('JWKS server closed'));
    const id = nextId++;
    return new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, ...extra });
    });
  };
  const started = await new Promise<Reply>((resolve, reject) => {
    pending.set(0, { resolve, reject });
  });
  const port = started.port ?? 0;
  const origin = `https://127.0.0.1:${String(port)}`;
  const set = async (patch: object): Promise<void> => {
    await call('set', { patch });
  };
  return {
    origin,
    jwksUrl: `${origin}/jwks`,
    pki,
    setKeys: (k) => set({ jwks: k }),
    serveOnce: async (k) => {
      await call('once', { jwks: k });
    },
    setDiscovery: (doc) => set({ discovery: doc }),
    setMode: (m) => set({ mode: m.mode, delayMs: m.mode === 'slow' ? m.delayMs : 0, status: m.mode === 'status' ? m.status : 503 }),
    setCacheControl: (value) => set({ cacheControl: value }),
    goDown: async () => {
      await call('down');
    },
    comeUp: async () => {
      await call('up');
    },
    requests: () => ({ jwks: Atomics.load(counts, 0), discovery: Atomics.load(counts, 1), other: Atomics.load(counts, 2) }),
    close: async () => {
      if (closed) return;
      try {
        await call('close');
      } finally {
        closed = true;
        await worker.terminate();
      }
    },
  };
}
