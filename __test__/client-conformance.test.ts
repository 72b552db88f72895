/**
 * The cross-language middleware conformance suite, run by the reference:
 * `clients/conformance/cases.json` through the Express middleware and the
 * Fastify plugin, against a real sidecar process (mutual TLS with
 * certificates made here, keys fetched from a real HTTPS JWKS server), a
 * port where nothing listens ("down"), a port that accepts connections
 * and never answers ("slow"), and a second real sidecar whose key set
 * cannot be fetched ("keyless"). The Python SDK runs the same file through
 * FastAPI, Flask and Django (clients/python/tests/test_conformance.py).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import express from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreSDKClient } from '../src/client/client.js';
import { coresdk as expressAuth, requirePolicy as expressPolicy } from '../src/express.js';
import { coresdkPlugin, requirePolicy as fastifyPolicy } from '../src/fastify.js';
import { makePki, startJwksServer, type JwksServer } from './support/https-jwks.js';
import { rawRequest } from './support/http-raw.js';
import { b64u, jwksOf, makeKey, mint, nowSec, segments, type TestKey } from './support/keys.js';
import { makeMtlsPki, type MtlsPki } from './support/mtls.js';
import { ROOT, startSidecar, type SidecarProc } from './support/sidecar.js';

interface Route { method: string; path: string; query: string; input: Record<string, unknown> }
interface TokenSpec { claims: Record<string, unknown>; exp_offset_s?: number; tamper?: Record<string, unknown>; kid?: string }
interface Expect {
  status: number;
  problem?: Record<string, unknown>;
  headers?: Record<string, string>;
  absent_headers?: string[];
  claims?: Record<string, unknown> | null;
}
interface Case {
  name: string;
  sidecar: 'up' | 'down' | 'slow' | 'keyless';
  fail_modes: Array<'open' | 'closed'>;
  require_token?: boolean;
  request: { method: string; path: string; headers: Array<[string, string]> };
  expect: Expect;
}
interface CaseFile {
  format: number;
  setup: { issuer: string; audience: string; algorithm: 'ES256'; kid: string; policy: Record<string, string>; routes: Route[]; client: { timeout_ms: number; retries: number; slow_timeout_ms: number } };
  tokens: Record<string, TokenSpec>;
  cases: Case[];
}

const FILE = JSON.parse(readFileSync(join(ROOT, 'clients', 'conformance', 'cases.json'), 'utf8')) as CaseFile;
const { setup } = FILE;

let dir: string;
let pki: MtlsPki;
let jwks: JwksServer;
let sidecar: SidecarProc;
let keyless: SidecarProc;
let deadPort: number;
let slow: { server: Server; sockets: Set<Socket>; port: number };
const tokens: Record<string, string> = {};

async function mintAll(key: TestKey, other: TestKey): Promise<void> {
  for (const [kind, spec] of Object.entries(FILE.tokens)) {
    const now = nowSec();
    const exp = now + (spec.exp_offset_s ?? 600);
    const claims = { iss: setup.issuer, aud: setup.audience, iat: Math.min(now, exp - 3600), exp, ...spec.claims };
    let token = await mint(spec.kid === undefined ? key : other, setup.algorithm, claims);
    if (spec.tamper !== undefined) {
      const [h, , s] = segments(token);
      token = `${h}.${b64u(JSON.stringify({ ...claims, ...spec.tamper }))}.${s}`;
    }
    tokens[kind] = token;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coresdk-conf-'));
  pki = makeMtlsPki(dir);
  const key = await makeKey(setup.algorithm, setup.kid);
  const other = await makeKey(setup.algorithm, FILE.tokens.unknown_key?.kid ?? 'k-unpublished');
  await mintAll(key, other);
  mkdirSync(join(dir, 'bundle'));
  for (const [name, text] of Object.entries(setup.policy)) writeFileSync(join(dir, 'bundle', name), text);
  const jdir = join(dir, 'jwks-pki');
  mkdirSync(jdir);
  jwks = await startJwksServer(makePki(jdir), jwksOf(key));
  sidecar = await startSidecar([], {
    CORESDK_SIDECAR_ADDR: '127.0.0.1:0',
    CORESDK_POLICY_DIR: join(dir, 'bundle'),
    CORESDK_JWKS_URL: jwks.jwksUrl,
    CORESDK_JWKS_CA_FILE: jwks.pki.caFile,
    CORESDK_ISSUER: setup.issuer,
    CORESDK_AUDIENCE: setup.audience,
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
  });
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => { r(); }));
  // "keyless": a real sidecar whose JWKS URL refuses connections (never SERVING).
  keyless = await startSidecar([], {
    CORESDK_SIDECAR_ADDR: '127.0.0.1:0',
    CORESDK_POLICY_DIR: join(dir, 'bundle'),
    CORESDK_JWKS_URL: `https://127.0.0.1:${String(deadPort)}/jwks`,
    CORESDK_JWKS_CA_FILE: jwks.pki.caFile,
    CORESDK_ISSUER: setup.issuer,
    CORESDK_AUDIENCE: setup.audience,
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
  }, { waitServing: false });
  // "slow": accepts connections and never answers a byte.
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  slow = { server, sockets, port: (server.address() as AddressInfo).port };
}, 60_000);

afterAll(async () => {
  sidecar.kill();
  keyless.kill();
  await sidecar.exited;
  await keyless.exited;
  await jwks.close();
  for (const s of slow.sockets) s.destroy();
  await new Promise<void>((r) => slow.server.close(() => { r(); }));
  rmSync(dir, { recursive: true, force: true });
});

function makeClient(state: Case['sidecar'], failMode: 'open' | 'closed'): CoreSDKClient {
  const tls = { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'localhost' };
  const addr = { up: sidecar.addr, keyless: keyless.addr, down: `127.0.0.1:${String(deadPort)}`, slow: `127.0.0.1:${String(slow.port)}` }[state];
  const timeoutMs = state === 'slow' ? setup.client.slow_timeout_ms : setup.client.timeout_ms;
  return new CoreSDKClient({ mode: 'sidecar', sidecarAddr: addr, failMode, tls, timeoutMs, retries: setup.client.retries, warn: () => undefined });
}

interface App { port: number; close(): Promise<void> }

const expressPath = (p: string): string => p.replace(/\{(\w+)\}/g, ':$1');

async function expressApp(client: CoreSDKClient, requireToken: boolean): Promise<App> {
  const app = express();
  app.use(expressAuth({ client, requireToken }));
  for (const r of setup.routes) {
    const m = r.method.toLowerCase() as 'get' | 'post';
    app[m](expressPath(r.path), expressPolicy(client, r.query, () => r.input), (req, res) => {
      res.json({ claims: req.coresdkUser ?? null });
    });
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => { server.close(() => { r(); }); }) };
}

async function fastifyApp(client: CoreSDKClient, requireToken: boolean): Promise<App> {
  const app = Fastify();
  await app.register(coresdkPlugin, { client, requireToken });
  for (const r of setup.routes) {
    app.route({ method: r.method, url: expressPath(r.path), preHandler: fastifyPolicy(client, r.query, () => r.input), handler: (req) => ({ claims: req.coresdkUser }) });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

const fill = (v: string): string =>
  v.replace(/\{\{token:(\w+)\}\}/g, (_m, kind: string) => {
    const t = tokens[kind];
    if (t === undefined) throw new Error(`cases.json: unknown token kind ${kind}`);
    return t;
  });

const runs = FILE.cases.flatMap((c) => c.fail_modes.map((failMode) => ({ c, failMode })));

describe('the conformance file', () => {
  it('is format 1 and every case has a unique name', () => {
    expect(FILE.format).toBe(1);
    expect(new Set(FILE.cases.map((c) => c.name)).size).toBe(FILE.cases.length);
    expect(runs.length).toBeGreaterThan(30);
  });
});

describe.each([
  ['express', expressApp],
  ['fastify', fastifyApp],
] as const)('%s', (_name, makeApp) => {
  it.each(runs.map((r) => [`${r.c.name} [${r.c.sidecar}, fail ${r.failMode}]`, r] as const))('%s', async (_title, { c, failMode }) => {
    const client = makeClient(c.sidecar, failMode);
    const app = await makeApp(client, c.require_token ?? true);
    try {
      const headers = c.request.headers.map(([k, v]) => [k, fill(v)] as [string, string]);
      const r = await rawRequest(app.port, c.request.method, c.request.path, headers);
      const e = c.expect;
      expect(r.status).toBe(e.status);
      for (const [k, v] of Object.entries(e.headers ?? {})) expect(r.headers[k], k).toBe(v);
      for (const k of e.absent_headers ?? []) expect(r.headers[k], k).toBeUndefined();
      if (e.problem !== undefined) {
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json(;|$)/);
        expect(r.json()).toStrictEqual(e.problem);
        for (const t of Object.values(tokens)) {
          expect(r.body).not.toContain(t);
          expect(JSON.stringify(r.headers)).not.toContain(t);
        }
      }
      if (e.claims !== undefined) {
        const got = r.json().claims as Record<string, unknown> | null;
        if (e.claims === null) expect(got).toBeNull();
        else expect(got).toMatchObject(e.claims);
      }
    } finally {
      await app.close();
      client.close();
    }
  });
});
