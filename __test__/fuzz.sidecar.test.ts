/**
 * The sidecar under hostile clients, over real mutual TLS with raw HTTP/2
 * (node:http2): random and truncated protobuf messages, lying gRPC frame
 * lengths, compressed frames without an encoding, unknown methods, oversized
 * metadata, and HTTP/2 abuse (hundreds of streams opened at once, rapid
 * resets, a session dropped mid-call). After each round the process is
 * still up and a well-behaved client on another connection gets its
 * answer. Seeded (FUZZ_SEED); FUZZ_RUNS scales the random rounds
 * (docs/security.md).
 */
import * as http2 from 'node:http2';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreSDKClient } from '../dist/index.js';
import { makeMtlsPki, type MtlsPki } from './support/mtls.js';
import { rng } from './support/rng.js';
import { startSidecar, type SidecarProc } from './support/sidecar.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const METHODS = ['Authorize', 'VerifyToken', 'EvaluatePolicy', 'EvaluatePolicies', 'MaskPii'];

let dir: string;
let pki: MtlsPki;
let sidecar: SidecarProc;
let client: CoreSDKClient;
let port: number;

/** A protobuf string field. */
function field(num: number, text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const len: number[] = [];
  let n = body.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([(num << 3) | 2, ...len]), body]);
}

/** A gRPC length-prefixed frame. */
function frame(message: Buffer, opts: { compressed?: boolean; claimedLength?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head[0] = opts.compressed === true ? 1 : 0;
  head.writeUInt32BE(opts.claimedLength ?? message.length, 1);
  return Buffer.concat([head, message]);
}

const VALID = Buffer.concat([field(2, 'data.authz.allow'), field(3, '{"user":"alice"}')]);

function connect(): http2.ClientHttp2Session {
  const s = http2.connect(`https://[::1]:${port}`, {
    ca: readFileSync(pki.caFile),
    cert: readFileSync(pki.clientCert),
    key: readFileSync(pki.clientKey),
    servername: 'localhost',
    // Let the client send what a hostile one would; the server's limits decide.
    maxSendHeaderBlockLength: 4 * 1024 * 1024,
    maxHeaderListPairs: 100_000,
  });
  s.on('error', () => undefined);
  return s;
}

interface Outcome {
  status?: string;
  closed: 'answered' | 'reset' | 'error';
}

/** One raw gRPC call: resolves when the stream ends however it ends, within 10 s. */
function rawCall(session: http2.ClientHttp2Session, path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    let status: string | undefined;
    let done = false;
    const finish = (o: Outcome): void => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(o);
      }
    };
    const timer = setTimeout(() => {
      finish({ closed: 'error', status: 'hung' });
    }, 10_000);
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    } catch {
      finish({ closed: 'error' });
      return;
    }
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
    });
    req.on('trailers', (t: http2.IncomingHttpHeaders) => {
      const g = t['grpc-status'];
      if (g !== undefined) status = String(g);
    });
    req.on('data', () => undefined);
    req.on('end', () => {
      finish({ status, closed: 'answered' });
    });
    req.on('close', () => {
      finish({ status, closed: status === undefined ? 'reset' : 'answered' });
    });
    req.on('error', () => {
      finish({ status, closed: 'error' });
    });
    req.end(body);
  });
}

/** The sidecar is up and answers a well-behaved client on its own connection. */
async function stillServing(): Promise<void> {
  expect(sidecar.child.exitCode).toBeNull();
  const d = await client.evaluatePolicy('data.authz.allow', { user: 'alice' });
  expect(d).toMatchObject({ defined: true, value: true });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coresdk-fuzz-sidecar-'));
  pki = makeMtlsPki(dir);
  mkdirSync(join(dir, 'bundle'));
  writeFileSync(join(dir, 'bundle', 'authz.rego'), 'package authz\n\ndefault allow := false\n\nallow if input.user == "alice"\n');
  sidecar = await startSidecar([], {
    CORESDK_SIDECAR_ADDR: '[::1]:0',
    CORESDK_POLICY_DIR: join(dir, 'bundle'),
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
    // General queries are what these tests feed the parser (off by default outside --dev).
    CORESDK_SIDECAR_ALLOWED_QUERIES: '*',
  });
  port = Number(/:(\d+)$/.exec(sidecar.addr)?.[1]);
  client = new CoreSDKClient({ sidecarAddr: sidecar.addr, tls: { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'localhost' } });
  await stillServing();
}, 60_000);

afterAll(async () => {
  client.close();
  sidecar.kill();
  await sidecar.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe('sidecar fuzz (raw HTTP/2 over mutual TLS)', () => {
  it('a well-formed raw call is answered OK (the harness works)', async () => {
    const s = connect();
    try {
      const o = await rawCall(s, '/coresdk.v1.CoreSDK/EvaluatePolicy', frame(VALID));
      expect(o).toEqual({ status: '0', closed: 'answered' });
    } finally {
      s.close();
    }
  });

  it('random, mutated and truncated messages get a gRPC status, never a crash or a hang', async () => {
    const r = rng(SEED);
    const s = connect();
    const statuses = new Set<string>();
    try {
      for (let i = 0; i < RUNS; i++) {
        const method = METHODS[Math.floor(r() * METHODS.length)] ?? 'EvaluatePolicy';
        let message: Buffer;
        const kind = Math.floor(r() * 3);
        if (kind === 0) {
          message = Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
        } else {
          message = Buffer.from(VALID);
          for (let k = 0; k < 1 + Math.floor(r() * 4); k++) message[Math.floor(r() * message.length)] = Math.floor(r() * 256);
          if (kind === 2) message = message.subarray(0, Math.floor(r() * message.length));
        }
        // Sometimes the frame lies about its length (short, or cut before the end).
        const lie = r();
        const body =
          lie < 0.15 ? frame(message, { claimedLength: message.length + 1 + Math.floor(r() * 1000) }) : lie < 0.25 ? frame(message).subarray(0, Math.floor(r() * 5)) : frame(message);
        const o = await rawCall(s, `/coresdk.v1.CoreSDK/${method}`, body);
        expect(o.status, `round ${i}`).not.toBe('hung');
        expect(o.closed, `round ${i}`).not.toBe('error');
        if (o.status !== undefined) statuses.add(o.status);
      }
    } finally {
      s.close();
    }
    // Garbage is an error status, but some mutations are still valid messages.
    expect([...statuses].some((x) => x !== '0')).toBe(true);
    await stillServing();
  });

  it('lying frame lengths, compressed frames without an encoding, unknown methods and services', async () => {
    const s = connect();
    try {
      const huge = await rawCall(s, '/coresdk.v1.CoreSDK/EvaluatePolicy', frame(VALID, { claimedLength: 0x7fffffff }));
      expect(huge.status).not.toBe('0');
      const compressed = await rawCall(s, '/coresdk.v1.CoreSDK/EvaluatePolicy', frame(VALID, { compressed: true }));
      expect(compressed.status).not.toBe('0');
      const gzipNoBody = await rawCall(s, '/coresdk.v1.CoreSDK/EvaluatePolicy', frame(VALID, { compressed: true }), { 'grpc-encoding': 'gzip' });
      expect(gzipNoBody.status).not.toBe('0');
      expect((await rawCall(s, '/coresdk.v1.CoreSDK/NoSuchMethod', frame(VALID))).status).toBe('12');
      expect((await rawCall(s, '/no.such.Service/Call', frame(VALID))).status).toBe('12');
      // tonic does not insist on the content type; the call is still answered, never hung.
      const notGrpc = await rawCall(s, '/coresdk.v1.CoreSDK/EvaluatePolicy', frame(VALID), { 'content-type': 'text/plain' });
      expect(notGrpc.closed).toBe('answered');
    } finally {
      s.close();
    }
    await stillServing();
  });

  it('deeply nested literals in a query are refused before the parser (its cost doubles per level)', async () => {
    const deep = `x := ${'['.repeat(40)}1${']'.repeat(40)}`;
    await expect(client.evaluatePolicy(deep)).rejects.toMatchObject({ code: 'ERR_QUERY_INVALID' });
    const objects = `x := ${'{"a": '.repeat(40)}1${'}'.repeat(40)}`;
    const batch = await client.evaluatePolicies([{ query: objects }, { query: 'data.authz.allow', input: { user: 'alice' } }]);
    expect(batch[0]).toMatchObject({ ok: false, error: { code: 'ERR_QUERY_INVALID' } });
    expect(batch[1]).toMatchObject({ ok: true, allowed: true });
    // Eight levels are fine.
    expect((await client.evaluatePolicy(`x := ${'['.repeat(8)}1${']'.repeat(8)}`)).defined).toBe(true);
    await stillServing();
  });

  it('oversized metadata is refused on its own stream or connection', async () => {
    for (const size of [8 * 1024, 64 * 1024, 1024 * 1024]) {
      const s = connect();
      try {
        const o = await rawCall(s, '/coresdk.v1.CoreSDK/EvaluatePolicy', frame(VALID), { 'x-big': 'a'.repeat(size), authorization: `Bearer ${'b'.repeat(size)}` });
        // Over the server's header list limit (16 KiB): refused on the stream or the connection.
        expect(o.status).not.toBe('hung');
        expect(o.status).not.toBe('0');
      } finally {
        s.destroy();
      }
      await stillServing();
    }
  });

  it('hundreds of streams at once, rapid resets and dropped sessions leave other clients served', async () => {
    // 600 streams opened at once on one connection, every other one reset at once.
    const s = connect();
    const calls: Array<Promise<Outcome>> = [];
    for (let i = 0; i < 600; i++) {
      if (i % 2 === 0) {
        try {
          const req = s.request({ ':method': 'POST', ':path': '/coresdk.v1.CoreSDK/EvaluatePolicy', 'content-type': 'application/grpc', te: 'trailers' });
          req.on('error', () => undefined);
          req.close(http2.constants.NGHTTP2_CANCEL);
        } catch {
          // The server may already have sent GOAWAY: the connection is done, as intended.
        }
      } else {
        calls.push(rawCall(s, '/coresdk.v1.CoreSDK/EvaluatePolicy', frame(VALID)));
      }
    }
    const outcomes = await Promise.all(calls);
    expect(outcomes.every((o) => o.status !== 'hung')).toBe(true);
    s.destroy();
    await stillServing();

    // Rapid reset: stream after stream opened and cancelled before any answer (CVE-2023-44487).
    for (let round = 0; round < 3; round++) {
      const r = connect();
      await new Promise<void>((resolve) => {
        r.once('connect', () => {
          resolve();
        });
        r.once('error', () => {
          resolve();
        });
      });
      for (let i = 0; i < 2000 && !r.destroyed && !r.closed; i++) {
        try {
          const req = r.request({ ':method': 'POST', ':path': '/coresdk.v1.CoreSDK/EvaluatePolicy', 'content-type': 'application/grpc', te: 'trailers' });
          req.on('error', () => undefined);
          req.write(frame(VALID));
          req.close(http2.constants.NGHTTP2_CANCEL);
        } catch {
          break;
        }
      }
      r.destroy();
      await stillServing();
    }

    // Sessions dropped in the middle of calls.
    for (let i = 0; i < 20; i++) {
      const d = connect();
      const req = d.request({ ':method': 'POST', ':path': '/coresdk.v1.CoreSDK/EvaluatePolicies', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => undefined);
      req.write(frame(VALID).subarray(0, 3));
      setTimeout(() => {
        d.destroy();
      }, i);
    }
    await new Promise((res) => setTimeout(res, 100));
    await stillServing();
  });
});
