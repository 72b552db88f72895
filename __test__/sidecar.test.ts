/**
 * The sidecar as operators and clients meet it: a real child process started
 * through its bin, real grpc-js clients, certificates made in the test.
 *
 * Covers: the CLI (help, version, errors naming the key), mutual TLS
 * refusals (no client certificate, another CA, TLS 1.2), health transitions,
 * draining on SIGTERM with calls in flight, policy and certificate reload
 * under load, malformed requests answered with statuses and details, tenant
 * isolation, overload, unix sockets, and offline start from the HMAC cache.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makePki, startJwksServer } from './support/https-jwks.js';
import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, nowSec, type TestKey } from './support/keys.js';
import { issue, makeMtlsPki, type MtlsPki } from './support/mtls.js';
import { BIN, call, clients, healthOf, mtlsCredentials, startSidecar, type SidecarProc } from './support/sidecar.js';

const POLICY = `package authz
import rego.v1
default allow := false
allow if input.claims.role == "admin"
allow if {
  input.claims.role == "reader"
  input.action == "read"
}
slow if count([x | some x in numbers.range(1, input.n)]) > 0
`;

let dir: string;
let pki: MtlsPki;
let key: TestKey;
let otherKey: TestKey;

function writeBundle(at: string, text = POLICY): string {
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, 'authz.rego'), text);
  return at;
}

/** Variables for a TLS sidecar on [::1]:0 with the test bundle and keys. */
function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    CORESDK_SIDECAR_ADDR: '[::1]:0',
    CORESDK_POLICY_DIR: join(dir, 'bundle'),
    CORESDK_JWKS_FILE: join(dir, 'jwks.json'),
    CORESDK_ISSUER: ISSUER,
    CORESDK_AUDIENCE: AUDIENCE,
    CORESDK_EVAL_TIMEOUT_MS: '10000',
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
    ...extra,
  };
}

const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'user-1',
  iat: nowSec(),
  exp: nowSec() + 600,
  ...extra,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coresdk-sidecar-'));
  pki = makeMtlsPki(dir);
  key = await makeKey('ES256', 'k1');
  otherKey = await makeKey('ES256', 'k2');
  writeBundle(join(dir, 'bundle'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('coresdk-sidecar CLI', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });

  it('prints help and version', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: coresdk-sidecar');
    expect(help.stdout).toContain('CORESDK_SIDECAR_TLS_CERT_FILE');
    const version = run(['--version']);
    expect(version.status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(`coresdk-sidecar ${pkg.version}`);
  });

  it('refuses bad configuration with an error that names the key, exit 2', () => {
    const unknownFlag = run(['--tls-crt', 'x']);
    expect(unknownFlag.status).toBe(2);
    expect(unknownFlag.stderr).toContain('--tls-crt');

    const badVar = run(['--check'], { ...tlsEnv(), CORESDK_SIDECAR_MAX_BATCH: '0' });
    expect(badVar.status).toBe(2);
    expect(badVar.stderr).toContain('CORESDK_SIDECAR_MAX_BATCH');

    const toml = join(dir, 'bad.toml');
    writeFileSync(toml, '[sidecar]\nmax_batchh = 3\n');
    const badKey = run(['--check', '--config', toml], tlsEnv());
    expect(badKey.status).toBe(2);
    expect(badKey.stderr).toContain('sidecar.max_batchh');

    const noTls = run([], { CORESDK_POLICY_DIR: join(dir, 'bundle'), CORESDK_SIDECAR_ADDR: '[::1]:0' });
    expect(noTls.status).toBe(2);
    expect(noTls.stderr).toContain('tls_cert_file');

    const wideInsecure = run(['--insecure-dev', '--addr', '0.0.0.0:0'], { CORESDK_POLICY_DIR: join(dir, 'bundle') });
    expect(wideInsecure.status).toBe(2);
    expect(wideInsecure.stderr).toContain('CORESDK_SIDECAR_INSECURE_DEV');

    const ok = run(['--check'], tlsEnv());
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('configuration OK');
  });

  it('--insecure-dev says so at start, and serves on a unix socket', async () => {
    const sock = join(dir, 'sidecar.sock');
    const sc = await startSidecar(['--insecure-dev', '--addr', `unix:${sock}`], { CORESDK_POLICY_DIR: join(dir, 'bundle') });
    try {
      const warn = await sc.waitFor((l) => l.event === 'insecure_dev');
      expect(warn.msg).toContain('INSECURE DEV MODE');
      const c = clients(sc.addr, grpc.credentials.createInsecure());
      const r = await call<{ allowed: boolean }>(c.core, 'evaluatePolicy', {
        query: 'data.authz.allow',
        inputJson: JSON.stringify({ claims: { role: 'admin' } }),
      });
      expect(r.ok?.allowed).toBe(true);
      c.close();
    } finally {
      sc.kill();
      expect(await sc.exited).toBe(0);
    }
  });
});

describe('mutual TLS', () => {
  let sc: SidecarProc;
  beforeAll(async () => {
    sc = await startSidecar([], tlsEnv());
  });
  afterAll(async () => {
    sc.kill();
    await sc.exited;
  });

  it('serves a client with a certificate from the client CA', async () => {
    const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
    const token = await mint(key, 'ES256', claims({ role: 'admin' }));
    const r = await call<{ allowed: boolean; reason: string; claimsJson: string; alg: string }>(c.core, 'authorize', {
      token,
      inputJson: '{"action":"write"}',
    });
    expect(r.err).toBeUndefined();
    expect(r.ok).toMatchObject({ allowed: true, reason: 'allowed', alg: 'ES256' });
    expect((JSON.parse(r.ok?.claimsJson ?? '{}') as { sub?: string }).sub).toBe('user-1');
    const v = await call<{ claimsJson: string; alg: string }>(c.core, 'verifyToken', { token });
    expect(v.ok?.alg).toBe('ES256');
    expect((JSON.parse(v.ok?.claimsJson ?? '{}') as { sub?: string }).sub).toBe('user-1');
    const bad = await call(c.core, 'verifyToken', { token: `${token.slice(0, -4)}AAAA` });
    expect(bad.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(bad.err?.info?.reason).toBe('ERR_TOKEN_SIGNATURE');
    expect(await healthOf(c)).toBe('SERVING');
    c.close();
  });

  it('refuses a client without a certificate', async () => {
    const c = clients(sc.addr, mtlsCredentials(pki, 'anonymous'));
    const r = await call(c.core, 'evaluatePolicy', { query: 'data.authz.allow' }, 3_000);
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.info).toBeUndefined();
    c.close();
  });

  it('refuses a client certificate from another CA', async () => {
    const c = clients(sc.addr, mtlsCredentials(pki, 'intruder'));
    const r = await call(c.core, 'evaluatePolicy', { query: 'data.authz.allow' }, 3_000);
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    c.close();
  });

  const handshake = (maxVersion: tls.SecureVersion): Promise<string> =>
    new Promise((resolve) => {
      const [host, port] = [sc.addr.slice(1, sc.addr.lastIndexOf(']')), Number(sc.addr.slice(sc.addr.lastIndexOf(':') + 1))];
      const s = tls.connect({
        host,
        port,
        ca: pki.pem(pki.caFile),
        cert: pki.pem(pki.clientCert),
        key: pki.pem(pki.clientKey),
        servername: 'localhost',
        ALPNProtocols: ['h2'],
        maxVersion,
      });
      s.once('secureConnect', () => {
        const v = s.getProtocol() ?? 'unknown';
        s.destroy();
        resolve(v);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        resolve(`error:${e.code ?? e.message}`);
      });
    });

  it('refuses a TLS 1.2-only client and accepts TLS 1.3', async () => {
    const v12 = await handshake('TLSv1.2');
    expect(v12).toMatch(/^error:/);
    expect(v12).toContain('PROTOCOL_VERSION');
    expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
  });

  it('answers malformed requests with statuses and details, and stays up', async () => {
    const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
    const good = await mint(key, 'ES256', claims({ role: 'reader' }));

    const badJson = await call(c.core, 'evaluatePolicy', { query: 'data.authz.allow', inputJson: '{"a":' });
    expect(badJson.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badJson.err?.info?.reason).toBe('ERR_INPUT_INVALID');

    const missing = await call(c.core, 'authorize', { token: '' });
    expect(missing.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(missing.err?.info?.reason).toBe('ERR_TOKEN_MISSING');

    const expired = await call(c.core, 'authorize', { token: await mint(key, 'ES256', claims({ exp: nowSec() - 3600 })) });
    expect(expired.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(expired.err?.info).toMatchObject({ reason: 'ERR_TOKEN_EXPIRED', domain: 'coresdk.dev', metadata: { rfc6750_error: 'invalid_token' } });

    const garbage = await call(c.core, 'authorize', { token: 'not-a-token' });
    expect(garbage.err?.info?.reason).toBe('ERR_TOKEN_MALFORMED');
    expect(garbage.err?.details).not.toContain('not-a-token');

    const tenant = await call(c.core, 'authorize', { tenantId: 'globex', token: good });
    expect(tenant.err?.code).toBe(grpc.status.NOT_FOUND);
    expect(tenant.err?.info?.reason).toBe('ERR_UNKNOWN_TENANT');

    const badTenant = await call(c.core, 'authorize', { tenantId: 'a b', token: good });
    expect(badTenant.err?.info?.reason).toBe('ERR_TENANT_INVALID');

    const smuggled = await call(c.core, 'authorize', { token: good, inputJson: '{"claims":{"role":"admin"}}' });
    expect(smuggled.err?.code).toBe(grpc.status.INVALID_ARGUMENT);

    const big = await call(c.core, 'evaluatePolicy', { query: 'data.authz.allow', inputJson: JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }) });
    expect(big.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big.err?.info?.reason).toBe('ERR_MESSAGE_TOO_LARGE');
    expect(big.err?.info?.metadata.limit).toBe(String(4 * 1024 * 1024));

    const batch = await call(c.core, 'evaluatePolicies', { items: Array.from({ length: 129 }, () => ({ query: 'data.authz.allow' })) });
    expect(batch.err?.info?.reason).toBe('ERR_BATCH_TOO_LARGE');

    const pii = await call<{ values: string[] }>(c.core, 'maskPii', { values: ['mail bob@example.com', 'nothing here'] });
    expect(pii.ok?.values).toEqual(['mail [REDACTED:email]', 'nothing here']);

    // Still serving, and a good call still works.
    expect(await healthOf(c)).toBe('SERVING');
    const ok = await call<{ allowed: boolean; reason: string }>(c.core, 'authorize', { token: good, inputJson: '{"action":"read"}' });
    expect(ok.ok).toMatchObject({ allowed: true });
    const denied = await call<{ allowed: boolean; reason: string }>(c.core, 'authorize', { token: good, inputJson: '{"action":"write"}' });
    expect(denied.ok?.allowed).toBe(false);
    expect(['denied', 'undefined']).toContain(denied.ok?.reason);
    c.close();
  });

  it('evaluates batches item by item', async () => {
    const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
    const r = await call<{ results: Array<{ allowed: boolean; errorCode: string }>; revision: string }>(c.core, 'evaluatePolicies', {
      items: [
        { query: 'data.authz.allow', inputJson: '{"claims":{"role":"admin"}}' },
        { query: 'data.authz.allow', inputJson: '{"claims":{"role":"guest"}}' },
        { query: 'data.authz.allow', inputJson: '[' },
      ],
    });
    expect(r.ok?.results.map((x) => [x.allowed, x.errorCode])).toEqual([
      [true, ''],
      [false, ''],
      [false, 'ERR_INPUT_INVALID'],
    ]);
    expect(r.ok?.revision).toMatch(/^sha256:/);
    c.close();
  });
});

describe('tenants', () => {
  it('a token verified for one tenant never authorizes another', async () => {
    const tdir = join(dir, 'tenants');
    writeBundle(join(tdir, 'globex-bundle'));
    writeFileSync(join(tdir, 'globex-jwks.json'), JSON.stringify(jwksOf(otherKey)));
    const toml = join(tdir, 'coresdk.toml');
    writeFileSync(
      toml,
      [
        '[tenants.globex]',
        'policy_dir = "globex-bundle"',
        'jwks_file = "globex-jwks.json"',
        'issuer = "https://globex.test"',
        `audience = "${AUDIENCE}"`,
        '',
      ].join('\n'),
    );
    const sc = await startSidecar(['--config', toml], tlsEnv());
    try {
      const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      const acmeToken = await mint(key, 'ES256', claims({ role: 'admin' }));
      const globexToken = await mint(otherKey, 'ES256', claims({ role: 'admin', iss: 'https://globex.test' }));
      expect((await call<{ allowed: boolean }>(c.core, 'authorize', { token: acmeToken })).ok?.allowed).toBe(true);
      expect((await call<{ allowed: boolean }>(c.core, 'authorize', { tenantId: 'globex', token: globexToken })).ok?.allowed).toBe(true);
      const cross = await call(c.core, 'authorize', { tenantId: 'globex', token: acmeToken });
      expect(cross.err?.code).toBe(grpc.status.UNAUTHENTICATED);
      const back = await call(c.core, 'authorize', { tenantId: 'acme-corp', token: globexToken });
      expect(back.err?.code).toBe(grpc.status.UNAUTHENTICATED);
      c.close();
    } finally {
      sc.kill();
      await sc.exited;
    }
  });
});

describe('query allow-lists (least privilege)', () => {
  type Answer = { valueJson: string; defined: boolean; allowed: boolean };
  const SECRETS = { secrets: { hmac: 'topsecret-hmac-key' }, authz_data: { admins: ['alice'] } };
  let qdir: string;
  beforeAll(() => {
    qdir = join(dir, 'queries');
    writeBundle(join(qdir, 'bundle'), `${POLICY}roles.admin := ["alice"]\n`);
    writeFileSync(join(qdir, 'bundle', 'data.json'), JSON.stringify(SECRETS));
  });

  it('outside --dev, general queries, packages and base documents are refused; rules answer', async () => {
    const sc = await startSidecar([], tlsEnv({ CORESDK_POLICY_DIR: join(qdir, 'bundle') }));
    try {
      const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      for (const query of ['x := data', 'data', 'data.authz', 'data.secrets.hmac', 'data.secrets', 'data.authz.allow == true', 'data.authz.roles']) {
        const r = await call(c.core, 'evaluatePolicy', { query, inputJson: '{}' });
        expect(r.err?.code, query).toBe(grpc.status.PERMISSION_DENIED);
        expect(r.err?.info, query).toMatchObject({ reason: 'ERR_QUERY_NOT_ALLOWED', domain: 'coresdk.dev' });
        expect(r.err?.details, query).not.toContain('topsecret');
      }
      const general = await call(c.core, 'evaluatePolicy', { query: 'x := data.secrets.hmac', inputJson: '{}' });
      expect(general.err?.details).toContain('general queries are off');
      expect(general.err?.details).not.toContain('secrets');
      const allow = await call<Answer>(c.core, 'evaluatePolicy', { query: 'data.authz.allow', inputJson: '{"claims":{"role":"admin"}}' });
      expect(allow.ok).toMatchObject({ allowed: true, defined: true });
      const inside = await call<Answer>(c.core, 'evaluatePolicy', { query: 'data.authz.roles.admin', inputJson: '{}' });
      expect(JSON.parse(inside.ok?.valueJson ?? 'null')).toEqual(['alice']);
      const viaAuthorize = await call(c.core, 'authorize', { token: await mint(key, 'ES256', claims({ role: 'admin' })), query: 'x := data' });
      expect(viaAuthorize.err?.info?.reason).toBe('ERR_QUERY_NOT_ALLOWED');
      const batch = await call<{ results: Array<{ allowed: boolean; errorCode: string; valueJson: string }> }>(c.core, 'evaluatePolicies', {
        items: [{ query: 'x := data' }, { query: 'data.authz.allow', inputJson: '{"claims":{"role":"admin"}}' }, { query: 'data.secrets' }],
      });
      expect(batch.ok?.results.map((x) => [x.allowed, x.errorCode])).toEqual([
        [false, 'ERR_QUERY_NOT_ALLOWED'],
        [true, ''],
        [false, 'ERR_QUERY_NOT_ALLOWED'],
      ]);
      expect(JSON.stringify(batch.ok)).not.toContain('topsecret');
      c.close();
    } finally {
      sc.kill();
      await sc.exited;
    }
  });

  it('allowed_queries: rule paths and prefixes per tenant, * for everything, bad patterns exit 2 naming the key', async () => {
    const toml = join(qdir, 'coresdk.toml');
    writeFileSync(join(qdir, 'globex-jwks.json'), JSON.stringify(jwksOf(otherKey)));
    writeFileSync(
      toml,
      [
        '[sidecar]',
        'allowed_queries = ["data.authz.allow", "data.authz_data.*"]',
        '[tenants.globex]',
        'policy_dir = "bundle"',
        'jwks_file = "globex-jwks.json"',
        'issuer = "https://globex.test"',
        'allowed_queries = ["*"]',
        '',
      ].join('\n'),
    );
    const sc = await startSidecar(['--config', toml], tlsEnv({ CORESDK_POLICY_DIR: join(qdir, 'bundle') }));
    try {
      const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      const q = (query: string, tenantId = ''): Promise<{ ok?: Answer; err?: { info?: { reason: string } } }> =>
        call<Answer>(c.core, 'evaluatePolicy', { tenantId, query, inputJson: '{}' });
      expect((await q('data.authz.allow')).ok?.defined).toBe(true);
      expect(JSON.parse((await q('data.authz_data.admins')).ok?.valueJson ?? 'null')).toEqual(['alice']);
      // Listed paths only: another rule, the prefix itself and other documents are refused.
      for (const query of ['data.authz.roles.admin', 'data.authz_data', 'data.secrets.hmac', 'x := 1']) {
        expect((await q(query)).err?.info?.reason, query).toBe('ERR_QUERY_NOT_ALLOWED');
      }
      // The tenant's own list replaces [sidecar]'s: globex allows any query.
      expect(JSON.parse((await q('x := data.authz_data.admins', 'globex')).ok?.valueJson ?? 'null')).toEqual([{ x: ['alice'] }]);
      c.close();
    } finally {
      sc.kill();
      await sc.exited;
    }
    for (const value of ['data', 'authz.allow', 'data.a[x]']) {
      const r = spawnSync(process.execPath, [BIN, '--check'], {
        env: { ...process.env, ...tlsEnv({ CORESDK_POLICY_DIR: join(qdir, 'bundle'), CORESDK_SIDECAR_ALLOWED_QUERIES: value }) },
        encoding: 'utf8',
      });
      expect(r.status, value).toBe(2);
      expect(r.stderr, value).toContain('CORESDK_SIDECAR_ALLOWED_QUERIES');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('[sidecar.clients."<dns name>"]: a client certificate can be held to a narrower list than its tenant', async () => {
    const billing = issue(pki.dir, 'ca', 'billing.internal', 'clientAuth');
    const toml = join(qdir, 'clients.toml');
    writeFileSync(toml, ['[sidecar.clients."billing.internal"]', 'allowed_queries = ["data.authz.roles.*"]', ''].join('\n'));
    const sc = await startSidecar(['--config', toml], tlsEnv({ CORESDK_POLICY_DIR: join(qdir, 'bundle') }));
    try {
      const creds = grpc.credentials.createSsl(pki.pem(pki.caFile), pki.pem(billing.key), pki.pem(billing.cert));
      const b = clients(sc.addr, creds);
      const listed = (query: string): Promise<{ ok?: Answer; err?: { code: number; details: string; info?: { reason: string } } }> =>
        call<Answer>(b.core, 'evaluatePolicy', { query, inputJson: '{}' });
      expect(JSON.parse((await listed('data.authz.roles.admin')).ok?.valueJson ?? 'null')).toEqual(['alice']);
      const refused = await listed('data.authz.allow');
      expect(refused.err?.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(refused.err?.info?.reason).toBe('ERR_QUERY_NOT_ALLOWED');
      expect(refused.err?.details).toContain('sidecar.clients');
      // The tenant's own limits still hold for a listed client.
      expect((await listed('data.secrets.hmac')).err?.info?.reason).toBe('ERR_QUERY_NOT_ALLOWED');
      b.close();
      // A client whose certificate names no list: the tenant's rules.
      const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      expect((await call<Answer>(c.core, 'evaluatePolicy', { query: 'data.authz.allow', inputJson: '{}' })).ok?.defined).toBe(true);
      c.close();
    } finally {
      sc.kill();
      await sc.exited;
    }
    writeFileSync(toml, ['[sidecar.clients."not a name"]', 'allowed_queries = ["data.authz.allow"]', ''].join('\n'));
    const bad = spawnSync(process.execPath, [BIN, '--check', '--config', toml], { env: { ...process.env, ...tlsEnv({ CORESDK_POLICY_DIR: join(qdir, 'bundle') }) }, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('sidecar.clients');
  });
});

describe('operations', () => {
  it('SIGTERM with calls in flight: every call answered, health NOT_SERVING, exit 0', async () => {
    const sc = await startSidecar([], tlsEnv({ CORESDK_SIDECAR_WORKER_THREADS: '2' }));
    const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
    // Calibrate a call that takes a while, so that calls are truly in flight.
    const t0 = Date.now();
    const probe = await call(c.core, 'evaluatePolicy', { query: 'data.authz.slow', inputJson: '{"n":400000}' }, 30_000);
    expect(probe.err).toBeUndefined();
    const perCall = Date.now() - t0;

    const watch = c.watchHealth();
    const seen: string[] = [];
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    watch.on('error', () => undefined);

    // Distinct inputs: the decision cache must not answer them.
    const calls = Array.from({ length: 12 }, (_, i) => call(c.core, 'evaluatePolicy', { query: 'data.authz.slow', inputJson: `{"n":${400_001 + i}}` }, 60_000));
    await new Promise((r) => setTimeout(r, Math.min(50, perCall / 2)));
    sc.kill('SIGTERM');
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.err !== undefined).map((r) => r.err)).toEqual([]);
    expect(await sc.exited).toBe(0);
    expect(seen).toContain('NOT_SERVING');
    const drained = await sc.waitFor((l) => l.event === 'drained');
    expect(drained.complete).toBe(true);
    // The calls really were in flight when the signal arrived.
    const draining = await sc.waitFor((l) => l.event === 'draining');
    expect(draining.in_flight).toBeGreaterThan(0);
    expect(perCall).toBeGreaterThan(0);
    c.close();
  }, 90_000);

  it('reloads policies and certificates under load with zero failed calls', async () => {
    const rdir = join(dir, 'reload');
    mkdirSync(rdir, { recursive: true });
    const bundle = writeBundle(join(rdir, 'bundle'));
    const certDir = join(rdir, 'certs');
    mkdirSync(certDir);
    for (const f of ['server.pem', 'server.key']) copyFileSync(join(dir, f), join(certDir, f));
    const sc = await startSidecar([], tlsEnv({
      CORESDK_POLICY_DIR: bundle,
      CORESDK_SIDECAR_TLS_CERT_FILE: join(certDir, 'server.pem'),
      CORESDK_SIDECAR_TLS_KEY_FILE: join(certDir, 'server.key'),
    }));
    const token = await mint(key, 'ES256', claims({ role: 'reader' }));
    const failures: unknown[] = [];
    const revisions = new Set<string>();
    let calls = 0;
    let stop = false;
    const worker = async (fresh: boolean): Promise<void> => {
      let c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      while (!stop) {
        const r = await call<{ allowed: boolean; revision: string }>(c.core, 'authorize', { token, inputJson: '{"action":"read"}' });
        calls++;
        if (r.err || r.ok?.allowed !== true) failures.push(r.err ?? r.ok);
        else revisions.add(r.ok.revision);
        if (fresh && calls % 20 === 0) {
          // New connections pick up the certificate current at that moment.
          c.close();
          c = clients(sc.addr, mtlsCredentials(pki, 'client'));
        }
      }
      c.close();
    };
    const workers = [worker(false), worker(false), worker(true)];
    try {
      await new Promise((r) => setTimeout(r, 300));
      // Policy edits: a new revision, still allowing readers to read.
      writeFileSync(join(bundle, 'authz.rego'), `${POLICY}\n# edit 1\n`);
      await sc.waitFor((l) => l.event === 'policy_reloaded', 10_000);
      // Certificate rotation: a new server certificate from the same CA.
      const next = issue(dir, 'ca', 'server2', 'serverAuth');
      copyFileSync(next.key, join(certDir, 'server.key.tmp'));
      copyFileSync(next.cert, join(certDir, 'server.pem.tmp'));
      const { renameSync } = await import('node:fs');
      renameSync(join(certDir, 'server.key.tmp'), join(certDir, 'server.key'));
      renameSync(join(certDir, 'server.pem.tmp'), join(certDir, 'server.pem'));
      await sc.waitFor((l) => l.event === 'tls_reloaded', 10_000);
      writeFileSync(join(bundle, 'authz.rego'), `${POLICY}\n# edit 2\n`);
      await new Promise((r) => setTimeout(r, 600));
      // SIGHUP reloads too.
      sc.kill('SIGHUP');
      await sc.waitFor((l) => l.event === 'reload', 10_000);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(50);
    expect(revisions.size).toBeGreaterThanOrEqual(2);
    // The rotated certificate is what new connections see.
    const peer = await new Promise<string>((resolve, reject) => {
      const port = Number(sc.addr.slice(sc.addr.lastIndexOf(':') + 1));
      const s = tls.connect({ host: '::1', port, ca: pki.pem(pki.caFile), cert: pki.pem(pki.clientCert), key: pki.pem(pki.clientKey), servername: 'localhost', ALPNProtocols: ['h2'] });
      s.once('secureConnect', () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.once('error', reject);
    });
    expect(peer).toBe('server2');
    sc.kill();
    expect(await sc.exited).toBe(0);
  }, 90_000);

  it('refuses calls beyond max_concurrent_calls with RESOURCE_EXHAUSTED', async () => {
    const sc = await startSidecar([], tlsEnv({ CORESDK_SIDECAR_MAX_CONCURRENT_CALLS: '1', CORESDK_SIDECAR_WORKER_THREADS: '2' }));
    const c = clients(sc.addr, mtlsCredentials(pki, 'client'));
    try {
      const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => call(c.core, 'evaluatePolicy', { query: 'data.authz.slow', inputJson: `{"n":${200_001 + i}}` }, 30_000)));
      const refused = rs.filter((r) => r.err?.code === grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]?.err?.info?.reason).toBe('ERR_OVERLOADED');
      expect(rs.some((r) => r.ok !== undefined)).toBe(true);
      expect(await healthOf(c)).toBe('SERVING');
    } finally {
      c.close();
      sc.kill();
      await sc.exited;
    }
  }, 60_000);
});

describe('offline start', () => {
  it('serves from the HMAC-verified cache when the provider is down, and refuses a tampered cache', async () => {
    const odir = join(dir, 'offline');
    mkdirSync(odir, { recursive: true });
    const jwks = await startJwksServer(makePki(odir), jwksOf(key));
    const cacheDir = join(odir, 'cache');
    const env = tlsEnv({
      CORESDK_JWKS_FILE: '',
      CORESDK_JWKS_URL: jwks.jwksUrl,
      CORESDK_JWKS_CA_FILE: jwks.pki.caFile,
      CORESDK_JWKS_TIMEOUT_MS: '500',
      CORESDK_OFFLINE_CACHE_DIR: cacheDir,
      CORESDK_OFFLINE_CACHE_KEY: randomBytes(32).toString('hex'),
    });
    delete env.CORESDK_JWKS_FILE;
    const token = await mint(key, 'ES256', claims({ role: 'admin' }));
    try {
      // 1. Provider up: keys fetched, cache written.
      let sc = await startSidecar([], env);
      let c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      expect((await call<{ allowed: boolean }>(c.core, 'authorize', { token })).ok?.allowed).toBe(true);
      c.close();
      sc.kill();
      await sc.exited;
      expect(readdirSync(cacheDir).length).toBeGreaterThan(0);

      // 2. Provider down: the verified cache serves.
      await jwks.goDown();
      sc = await startSidecar([], env);
      c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      expect(await healthOf(c)).toBe('SERVING');
      expect((await call<{ allowed: boolean }>(c.core, 'authorize', { token })).ok?.allowed).toBe(true);
      c.close();
      sc.kill();
      await sc.exited;

      // 3. Cache tampered, provider down: refused whole; NOT_SERVING.
      for (const f of readdirSync(cacheDir)) {
        const p = join(cacheDir, f);
        const text = readFileSync(p);
        text.writeUInt8(text.readUInt8(text.length - 2) ^ 1, text.length - 2);
        writeFileSync(p, text);
      }
      sc = await startSidecar([], env, { waitServing: false });
      await sc.waitFor((l) => l.event === 'not_serving');
      c = clients(sc.addr, mtlsCredentials(pki, 'client'));
      expect(await healthOf(c)).toBe('NOT_SERVING');
      const r = await call(c.core, 'authorize', { token });
      expect(r.err?.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(r.err?.info?.reason).toBe('ERR_JWKS_UNAVAILABLE');
      c.close();
      sc.kill();
      expect(await sc.exited).toBe(0);
    } finally {
      await jwks.close();
    }
  }, 90_000);
});
