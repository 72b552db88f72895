/**
 * The fail-mode table, end to end: Express and Fastify apps with the
 * CoreSDK middleware, over both transports (a real sidecar process over
 * mutual TLS, and in-process), in both fail modes. Every failure answer is
 * checked against RFC 9457 (problem+json, type/title/status/detail/instance,
 * `code`, `trace_id`) and RFC 6750 (`WWW-Authenticate`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreSDKClient } from '../src/client/client.js';
import { coresdk as expressAuth, requirePolicy as expressPolicy } from '../src/express.js';
import { coresdkPlugin, requirePolicy as fastifyPolicy } from '../src/fastify.js';
import { rawRequest, type RawResponse } from './support/http-raw.js';
import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, nowSec, type TestKey } from './support/keys.js';
import { makeMtlsPki, type MtlsPki } from './support/mtls.js';
import { startSidecar, type SidecarProc } from './support/sidecar.js';

const POLICY = `package authz
import rego.v1
default allow := false
allow if input.claims.role == "admin"
allow if {
  input.claims.role == "reader"
  input.action == "read"
}
`;

let dir: string;
let pki: MtlsPki;
let key: TestKey;
let sidecar: SidecarProc;
let deadPort: number;

const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: nowSec(), exp: nowSec() + 600, role: 'reader', ...extra });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coresdk-mw-'));
  pki = makeMtlsPki(dir);
  key = await makeKey('ES256', 'k1');
  mkdirSync(join(dir, 'bundle'));
  writeFileSync(join(dir, 'bundle', 'authz.rego'), POLICY);
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  sidecar = await startSidecar([], {
    CORESDK_SIDECAR_ADDR: '127.0.0.1:0',
    CORESDK_POLICY_DIR: join(dir, 'bundle'),
    CORESDK_JWKS_FILE: join(dir, 'jwks.json'),
    CORESDK_ISSUER: ISSUER,
    CORESDK_AUDIENCE: AUDIENCE,
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
  });
  // A port where nothing listens: the sidecar is "unreachable".
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => { r(); }));
});

afterAll(async () => {
  sidecar.kill();
  await sidecar.exited;
  rmSync(dir, { recursive: true, force: true });
});

type Transport = 'sidecar' | 'in-process' | 'unreachable';

function makeClient(transport: Transport, failMode: 'open' | 'closed'): CoreSDKClient {
  const tls = { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'localhost' };
  if (transport === 'in-process') {
    return new CoreSDKClient({
      mode: 'in-process',
      failMode,
      engine: { policyDir: join(dir, 'bundle'), watch: false, token: { jwksFile: join(dir, 'jwks.json'), issuer: ISSUER, audience: AUDIENCE } },
    });
  }
  const addr = transport === 'sidecar' ? sidecar.addr : `127.0.0.1:${deadPort}`;
  return new CoreSDKClient({ mode: 'sidecar', sidecarAddr: addr, failMode, tls, timeoutMs: 2000, retries: 1, warn: () => undefined });
}

interface App {
  port: number;
  close(): Promise<void>;
}

async function expressApp(client: CoreSDKClient, requireToken = true): Promise<App> {
  const app = express();
  app.use(expressAuth({ client, requireToken }));
  app.get('/orders/:id', expressPolicy(client, 'data.authz.allow', () => ({ action: 'read' })), (req, res) => {
    res.json({ user: req.coresdkUser ?? null });
  });
  app.post('/orders/:id', expressPolicy(client, 'data.authz.allow', () => ({ action: 'write' })), (req, res) => {
    res.json({ user: req.coresdkUser ?? null });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => { server.close(() => { r(); }); }),
  };
}

async function fastifyApp(client: CoreSDKClient, requireToken = true): Promise<App> {
  const app: FastifyInstance = Fastify();
  await app.register(coresdkPlugin, { client, requireToken });
  app.get('/orders/:id', { preHandler: fastifyPolicy(client, 'data.authz.allow', () => ({ action: 'read' })) }, (req) => ({ user: req.coresdkUser }));
  app.post('/orders/:id', { preHandler: fastifyPolicy(client, 'data.authz.allow', () => ({ action: 'write' })) }, (req) => ({ user: req.coresdkUser }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** RFC 9457 §3 and this project's rules for every problem answer. */
function expectProblem(r: RawResponse, status: number, code: string, token?: string): Record<string, unknown> {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  const b = r.json();
  expect(b.status).toBe(status);
  expect(typeof b.type).toBe('string');
  expect(String(b.type)).toMatch(/^https:\/\/coresdk\.dev\/problems\/[a-z-]+$/);
  expect(typeof b.title).toBe('string');
  expect(typeof b.detail).toBe('string');
  expect(b.instance).toBe('/orders/1');
  expect(b.code).toBe(code);
  expect(b.trace_id).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  if (token !== undefined) {
    expect(r.body).not.toContain(token);
    expect(JSON.stringify(r.headers)).not.toContain(token);
  }
  expect(r.body).not.toContain('user-1');
  return b;
}

const FRAMEWORKS = { express: expressApp, fastify: fastifyApp } as const;

describe.each(['express', 'fastify'] as const)('%s', (framework) => {
  describe.each(['sidecar', 'in-process'] as const)('%s transport', (transport) => {
    describe.each(['open', 'closed'] as const)('fail mode %s', (failMode) => {
      let app: App;
      let client: CoreSDKClient;
      beforeAll(async () => {
        client = makeClient(transport, failMode);
        app = await FRAMEWORKS[framework](client);
      });
      afterAll(async () => {
        await app.close();
        client.close();
      });
      const get = (headers: Array<[string, string]>, method = 'GET') => rawRequest(app.port, method, '/orders/1', [['traceparent', TRACEPARENT], ...headers]);

      it('valid token, policy allows: 200 with the claims', async () => {
        const r = await get([['Authorization', `Bearer ${await mint(key, 'ES256', claims())}`]]);
        expect(r.status).toBe(200);
        expect((r.json().user as Record<string, unknown>).sub).toBe('user-1');
      });

      it('the scheme is case-insensitive', async () => {
        const r = await get([['authorization', `bEaReR ${await mint(key, 'ES256', claims())}`]]);
        expect(r.status).toBe(200);
      });

      it('no credentials: 401 with a challenge without an error code', async () => {
        const r = await get([]);
        expectProblem(r, 401, 'ERR_TOKEN_MISSING');
        expect(r.headers['www-authenticate']).toBe('Bearer realm="coresdk"');
      });

      it('another scheme counts as no bearer credentials', async () => {
        const r = await get([['Authorization', 'Basic dXNlcjpwYXNz']]);
        expectProblem(r, 401, 'ERR_TOKEN_MISSING');
      });

      it.each([
        ['empty Bearer', [['Authorization', 'Bearer']]],
        ['Bearer and spaces', [['Authorization', 'Bearer    ']]],
        ['garbled token', [['Authorization', 'Bearer abc def']]],
        ['two headers', [['Authorization', 'Bearer a.b.c'], ['Authorization', 'Bearer d.e.f']]],
      ] as Array<[string, Array<[string, string]>]>)('%s: 400 invalid_request', async (_name, headers) => {
        const r = await get(headers);
        expectProblem(r, 400, 'ERR_TOKEN_MALFORMED');
        expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="coresdk", error="invalid_request"/);
      });

      it('expired token: 401 invalid_token, never allowed by the fail mode', async () => {
        const token = await mint(key, 'ES256', claims({ exp: nowSec() - 3600 }));
        const r = await get([['Authorization', `Bearer ${token}`]]);
        expectProblem(r, 401, 'ERR_TOKEN_EXPIRED', token);
        expect(r.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      });

      it('wrong audience: 401 invalid_token', async () => {
        const token = await mint(key, 'ES256', claims({ aud: 'someone-else' }));
        expectProblem(await get([['Authorization', `Bearer ${token}`]]), 401, 'ERR_TOKEN_CLAIM', token);
      });

      it('forged signature: 401 invalid_token', async () => {
        const other = await makeKey('ES256', 'k1');
        const token = await mint(other, 'ES256', claims());
        expectProblem(await get([['Authorization', `Bearer ${token}`]]), 401, 'ERR_TOKEN_SIGNATURE', token);
      });

      it('policy deny: 403', async () => {
        const token = await mint(key, 'ES256', claims());
        const b = expectProblem(await get([['Authorization', `Bearer ${token}`]], 'POST'), 403, 'ERR_POLICY_DENIED', token);
        expect(b.type).toBe('https://coresdk.dev/problems/forbidden');
      });

      it('concurrent requests each get their own answer', async () => {
        const good = await mint(key, 'ES256', claims());
        const expired = await mint(key, 'ES256', claims({ exp: nowSec() - 60 }));
        const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => get(i % 2 === 0 ? [['Authorization', `Bearer ${good}`]] : [['Authorization', `Bearer ${expired}`]])));
        expect(rs.map((r) => r.status)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 200 : 401)));
      });
    });
  });

  describe.each(['open', 'closed'] as const)('sidecar unreachable, fail mode %s', (failMode) => {
    let app: App;
    let client: CoreSDKClient;
    beforeAll(async () => {
      client = makeClient('unreachable', failMode);
      app = await FRAMEWORKS[framework](client);
    });
    afterAll(async () => {
      await app.close();
      client.close();
    });
    const get = (headers: Array<[string, string]>) => rawRequest(app.port, 'GET', '/orders/1', [['traceparent', TRACEPARENT], ...headers]);

    it(failMode === 'open' ? 'allows with null claims' : 'denies with a 503 problem', async () => {
      const token = await mint(key, 'ES256', claims());
      const r = await get([['Authorization', `Bearer ${token}`]]);
      if (failMode === 'open') {
        expect(r.status).toBe(200);
        expect(r.json().user).toBeNull();
        expect(client.stats().failOpen).toBeGreaterThan(0);
      } else {
        const b = expectProblem(r, 503, 'ERR_SIDECAR_UNAVAILABLE', token);
        expect(b.type).toBe('https://coresdk.dev/problems/authorization-unavailable');
        expect(r.headers['retry-after']).toBe('1');
      }
    });

    it('a malformed header is still 400, and no credentials still 401, whatever the sidecar', async () => {
      expectProblem(await get([['Authorization', 'Bearer a b']]), 400, 'ERR_TOKEN_MALFORMED');
      expectProblem(await get([]), 401, 'ERR_TOKEN_MISSING');
    });

    it('the circuit breaker opens: a dead sidecar stops costing a timeout per request', async () => {
      const token = await mint(key, 'ES256', claims());
      for (let i = 0; i < 6; i++) await get([['Authorization', `Bearer ${token}`]]);
      expect(client.stats().breaker).toBe('open');
      const r = await get([['Authorization', `Bearer ${token}`]]);
      expect(r.status).toBe(failMode === 'open' ? 200 : 503);
    });
  });

  it('requireToken: false lets anonymous requests through with null claims', async () => {
    const client = makeClient('in-process', 'closed');
    const app = await FRAMEWORKS[framework](client, false);
    try {
      const r = await rawRequest(app.port, 'GET', '/orders/1', []);
      // Anonymous: no claims, so the route's policy denies.
      expect(r.status).toBe(403);
    } finally {
      await app.close();
      client.close();
    }
  });
});
