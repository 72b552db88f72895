/**
 * CoreSDKClient beyond the middleware table: deadlines, AbortSignal, the
 * circuit breaker, batches, health, configuration from the environment, on
 * both transports against a real sidecar process.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CircuitBreaker } from '../src/client/breaker.js';
import { CoreSDKClient } from '../src/client/client.js';
import { CoreSDKError } from '../src/errors.js';
import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, nowSec, type TestKey } from './support/keys.js';
import { makeMtlsPki, type MtlsPki } from './support/mtls.js';
import { startSidecar, type SidecarProc } from './support/sidecar.js';

const POLICY = `package authz
import rego.v1
default allow := false
allow if input.claims.role == "admin"
allow if input.user == "alice"
slow if count([x | some x in numbers.range(1, input.n)]) > 0
`;

let dir: string;
let pki: MtlsPki;
let key: TestKey;
let sidecar: SidecarProc;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coresdk-client-'));
  pki = makeMtlsPki(dir);
  key = await makeKey('EdDSA', 'k1');
  mkdirSync(join(dir, 'bundle'));
  writeFileSync(join(dir, 'bundle', 'authz.rego'), POLICY);
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  sidecar = await startSidecar([], {
    CORESDK_SIDECAR_ADDR: '[::1]:0',
    CORESDK_POLICY_DIR: join(dir, 'bundle'),
    CORESDK_JWKS_FILE: join(dir, 'jwks.json'),
    CORESDK_ISSUER: ISSUER,
    CORESDK_AUDIENCE: AUDIENCE,
    CORESDK_EVAL_TIMEOUT_MS: '20000',
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
  });
});

afterAll(async () => {
  sidecar.kill();
  await sidecar.exited;
  rmSync(dir, { recursive: true, force: true });
});

const tls = () => ({ caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'localhost' });

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one probe through after resetMs, closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 3, resetMs: 1000 }, () => now);
    for (let i = 0; i < 2; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.onFailure();
    }
    expect(b.state).toBe('closed');
    b.onFailure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    now = 1000;
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // one probe at a time
    b.onFailure();
    expect(b.state).toBe('open');
    now = 2000;
    expect(b.tryAcquire()).toBe(true);
    b.onSuccess();
    expect(b.state).toBe('closed');
  });
});

describe.each(['sidecar', 'in-process'] as const)('%s transport', (mode) => {
  let client: CoreSDKClient;
  beforeAll(() => {
    client =
      mode === 'sidecar'
        ? new CoreSDKClient({ sidecarAddr: sidecar.addr, tls: tls() })
        : new CoreSDKClient({ mode: 'in-process', engine: { policyDir: join(dir, 'bundle'), watch: false, evalTimeoutMs: 20_000, token: { jwksFile: join(dir, 'jwks.json'), issuer: ISSUER, audience: AUDIENCE } } });
  });
  afterAll(() => {
    client.close();
  });

  it('authorize, verifyToken, evaluatePolicy and isAllowed agree', async () => {
    const token = await mint(key, 'EdDSA', { iss: ISSUER, aud: AUDIENCE, sub: 'u1', exp: nowSec() + 60, role: 'admin' });
    const a = await client.authorize(token);
    expect(a).toMatchObject({ allowed: true, reason: 'allowed', degraded: false });
    expect(a.claims?.sub).toBe('u1');
    const v = await client.verifyToken(token);
    expect(v.claims?.sub).toBe('u1');
    expect((await client.verifyToken('x.y.z')).error?.code).toBe('ERR_TOKEN_MALFORMED');
    const d = await client.evaluatePolicy('data.authz.allow', { user: 'alice' });
    expect(d).toMatchObject({ defined: true, value: true });
    expect(d.revision).toMatch(/^sha256:/);
    expect(await client.isAllowed('data.authz.allow', { user: 'bob' })).toMatchObject({ allowed: false, reason: 'denied' });
    await expect(client.evaluatePolicy('data.authz.allow', { claims: 1, x: 1n })).rejects.toThrow();
  });

  it('evaluatePolicies answers item by item', async () => {
    const r = await client.evaluatePolicies([
      { query: 'data.authz.allow', input: { user: 'alice' } },
      { query: 'data.authz.allow', input: { user: 'bob' } },
      { query: 'data.authz[', input: {} },
    ]);
    expect(r[0]).toMatchObject({ ok: true, allowed: true });
    expect(r[1]).toMatchObject({ ok: true, allowed: false });
    expect(r[2]?.ok).toBe(false);
    if (r[2]?.ok === false) expect(r[2].error).toBeInstanceOf(CoreSDKError);
  });

  it('health is SERVING', async () => {
    expect(await client.health()).toBe('SERVING');
  });

  it('maskPii masks with the engine masker', async () => {
    expect(await client.maskPii(['to a@b.example', 'card 4111 1111 1111 1111', 'plain'])).toEqual(['to [REDACTED:email]', 'card [REDACTED:card_number]', 'plain']);
  });
});

describe('sidecar deadlines and cancellation', () => {
  it('a call past its deadline is ERR_SIDECAR_TIMEOUT, and fail-open allows while fail-closed denies', async () => {
    const open = new CoreSDKClient({ sidecarAddr: sidecar.addr, tls: tls(), timeoutMs: 30, failMode: 'open', warn: () => undefined });
    const closed = new CoreSDKClient({ sidecarAddr: sidecar.addr, tls: tls(), timeoutMs: 30, failMode: 'closed' });
    try {
      await open.health({ timeoutMs: 5000 }); // connect first: the deadline is for the slow call
      await closed.health({ timeoutMs: 5000 });
      await expect(open.evaluatePolicy('data.authz.slow', { n: 3_000_001 })).rejects.toMatchObject({ code: 'ERR_SIDECAR_TIMEOUT' });
      expect(await open.isAllowed('data.authz.slow', { n: 3_000_002 })).toMatchObject({ allowed: true, degraded: true, reason: 'fail-open' });
      expect(await closed.isAllowed('data.authz.slow', { n: 3_000_003 })).toMatchObject({ allowed: false, degraded: false, reason: 'ERR_SIDECAR_TIMEOUT' });
    } finally {
      open.close();
      closed.close();
    }
  }, 60_000);

  it('an AbortSignal cancels a call', async () => {
    const client = new CoreSDKClient({ sidecarAddr: sidecar.addr, tls: tls(), timeoutMs: 20_000 });
    try {
      const ac = new AbortController();
      const p = client.evaluatePolicy('data.authz.slow', { n: 3_000_004 }, { signal: ac.signal });
      setTimeout(() => {
        ac.abort();
      }, 20);
      await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      ac.abort();
      await expect(client.evaluatePolicy('data.authz.allow', {}, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    } finally {
      client.close();
    }
  }, 60_000);
});

describe('configuration', () => {
  it('fromEnv reads CORESDK_* through the engine loader, and errors name the key', () => {
    const withEnv = <T>(vars: Record<string, string>, fn: () => T): T => {
      const saved = { ...process.env };
      Object.assign(process.env, vars);
      try {
        return fn();
      } finally {
        for (const k of Object.keys(vars)) Reflect.deleteProperty(process.env, k);
        Object.assign(process.env, saved);
      }
    };
    const c = withEnv({ CORESDK_MODE: 'in-process', CORESDK_POLICY_DIR: join(dir, 'bundle'), CORESDK_FAIL_MODE: 'closed', CORESDK_TIMEOUT_MS: '250' }, () => CoreSDKClient.fromEnv());
    expect(c.config).toMatchObject({ mode: 'in-process', failMode: 'closed', timeoutMs: 250 });
    c.close();
    expect(() => withEnv({ CORESDK_MODE: 'carrier-pigeon' }, () => CoreSDKClient.fromEnv())).toThrow(/CORESDK_MODE/);
    expect(() => withEnv({ CORESDK_TIMEOUT_MS: 'soon' }, () => CoreSDKClient.fromEnv())).toThrow(/CORESDK_TIMEOUT_MS/);
  });

  it('refuses plaintext to a sidecar that is not on loopback', () => {
    expect(() => new CoreSDKClient({ sidecarAddr: '10.1.2.3:50051' })).toThrow(/CORESDK_SIDECAR_ADDR/);
    expect(() => new CoreSDKClient({ sidecarAddr: '10.1.2.3:50051', tls: { caFile: pki.caFile } })).toThrow(/go together/);
  });
});
