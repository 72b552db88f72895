// Remote key sets against a loopback HTTPS server with a test CA: trust,
// OIDC discovery, rotation, the unknown-kid rate limit, and the
// HMAC-verified offline cache (provider down, slow, cache tampered).
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Engine, TokenOptions } from '../src/index.js';
import { errorOf, rejectionOf, TrackedEngines, verdictOf } from './support/engine.js';
import { makePki, startJwksServer, type JwksServer, type TestPki } from './support/https-jwks.js';
import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, stdClaims, type TestKey } from './support/keys.js';
import { tempDir, waitFor } from './helpers.js';

const POLICY = 'package authz\n\ndefault allow := false\n\nallow if input.claims.role == "admin"\n';

const engines = new TrackedEngines();
const cleanups: (() => void)[] = [];
let pki: TestPki;
let server: JwksServer;
let keyA: TestKey;
let keyB: TestKey;
let keyC: TestKey;

beforeAll(async () => {
  const { dir, cleanup } = tempDir('coresdk-pki-');
  cleanups.push(cleanup);
  pki = makePki(dir);
  [keyA, keyB, keyC] = await Promise.all([makeKey('ES256', 'key-a'), makeKey('RS256', 'key-b'), makeKey('EdDSA', 'key-c')]);
  server = await startJwksServer(pki, jwksOf(keyA, keyB));
});

afterEach(async () => {
  engines.closeAll();
  // Every test starts from a healthy server with the A+B set.
  await server.comeUp();
  await server.setMode({ mode: 'ok' });
  await server.setKeys(jwksOf(keyA, keyB));
  await server.setDiscovery(null);
  await server.setCacheControl(null);
});

afterAll(async () => {
  engines.closeAll();
  await server.close();
  for (const c of cleanups.splice(0)) c();
});

function remote(token: TokenOptions): Engine {
  return engines.make({
    policies: { 'authz.rego': POLICY },
    token: { issuer: ISSUER, audience: AUDIENCE, fetchTimeoutMs: 3000, ...token },
  });
}

function cacheDir(): string {
  const { dir, cleanup } = tempDir('coresdk-offline-');
  cleanups.push(cleanup);
  return dir;
}

/** A thunk verifying `token` (so that the token can be awaited before `errorOf`). */
const verifying = (e: Engine, token: string) => (): unknown => e.verifyTokenSync(token);

const hmacKey = (): string => randomBytes(32).toString('hex');

function entryFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.entry'));
}

describe('HTTPS key sets', () => {
  it('fetches the key set over HTTPS trusting caFile', async () => {
    const before = server.requests().jwks;
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile });
    expect(server.requests().jwks).toBe(before + 1);
    const claims = stdClaims({ role: 'admin' });
    expect(e.verifyTokenSync(await mint(keyA, 'ES256', claims))).toEqual(claims);
    expect(await e.verifyToken(await mint(keyB, 'RS256', claims))).toEqual(claims);
    expect(e.authorizeSync(await mint(keyA, 'ES256', claims), { query: 'data.authz.allow' })).toMatchObject({ allowed: true, reason: 'allowed' });
    const status = e.keyStatus();
    expect(status).toMatchObject({ source: `jwks_url ${server.jwksUrl}`, keys: 2, fromOfflineCache: false, lastError: null });
    expect(typeof status?.fetchedAt).toBe('number');
    expect(Math.abs((status?.fetchedAt ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it('does not fetch per verification', async () => {
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile });
    const before = server.requests().jwks;
    for (let i = 0; i < 50; i++) e.verifyTokenSync(await mint(keyA, 'ES256', stdClaims({ n: i })));
    expect(server.requests().jwks).toBe(before);
  });

  it.each([
    ['without caFile (public roots only)', undefined],
    ['with a caFile of another CA', 'other'],
  ] as const)('refuses the server %s: ERR_JWKS_UNAVAILABLE', async (_name, ca) => {
    const e = remote({ jwksUrl: server.jwksUrl, ...(ca === undefined ? {} : { caFile: pki.otherCaFile }) });
    const token = await mint(keyA, 'ES256', stdClaims({ role: 'admin' }));
    const err = errorOf(() => e.verifyTokenSync(token));
    expect(err.code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(err.rfc6750Error).toBeUndefined(); // the server's failure: 503, not 401
    expect(err.message).toMatch(/TLS|certificate|issuer/i);
    expect((await rejectionOf(e.verifyToken(token))).code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.authorizeSync(token, { query: 'data.authz.allow' })).toMatchObject({ allowed: false, reason: 'ERR_JWKS_UNAVAILABLE', claims: null });
    expect(e.keyStatus()).toMatchObject({ keys: 0, fetchedAt: null, fromOfflineCache: false });
    expect(e.keyStatus()?.lastError).toMatch(/TLS|certificate|issuer/i);
  });

  it('refuses plain http unless allowInsecureHttp', async () => {
    const e = remote({ jwksUrl: server.jwksUrl.replace('https:', 'http:') });
    expect(errorOf(() => e.verifyTokenSync('a.b.c')).code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.keyStatus()?.lastError).toMatch(/https/i);
    const token = await mint(keyA, 'ES256', stdClaims());
    expect(errorOf(() => e.verifyTokenSync(token)).code).toBe('ERR_JWKS_UNAVAILABLE');
  });

  it('a caFile that cannot be read fails construction with a message naming it', () => {
    const missing = join(cacheDir(), 'no-such-ca.pem');
    const err = errorOf(() => remote({ jwksUrl: server.jwksUrl, caFile: missing }));
    expect(['ERR_CONFIG', 'ERR_JWKS_UNAVAILABLE']).toContain(err.code);
    expect(err.message).toContain('no-such-ca.pem');
  });

  it('a served set with private key material is refused whole', async () => {
    await server.setKeys({ keys: [{ ...keyA.jwk }, { ...keyB.privateJwk, kid: 'key-b' }] });
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile });
    const err = errorOf(verifying(e, await mint(keyA, 'ES256', stdClaims())));
    expect(err.code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.keyStatus()?.lastError).toMatch(/private/i);
  });

  it('recovers in the background once the provider answers again', async () => {
    await server.setMode({ mode: 'status', status: 503 });
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile });
    const token = await mint(keyA, 'ES256', stdClaims());
    expect(errorOf(() => e.verifyTokenSync(token)).code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.keyStatus()?.lastError).toMatch(/503/);
    await server.setMode({ mode: 'ok' });
    // Failures back off 1 s, doubling; the first retry is due within a few seconds.
    await waitFor(() => (e.keyStatus()?.keys === 2 ? true : undefined), 15_000, 'the background refetch');
    expect(e.verifyTokenSync(token)).toMatchObject({ sub: 'alice' });
    expect(e.keyStatus()?.lastError).toBeNull();
  });

  it('honours Cache-Control max-age (clamped to refreshMinSec) for background refresh', async () => {
    await server.setCacheControl('max-age=1');
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, refreshMinSec: 1 });
    const first = server.requests().jwks;
    await waitFor(() => (server.requests().jwks >= first + 2 ? true : undefined), 15_000, 'two background refreshes');
    expect(e.keyStatus()?.keys).toBe(2);
  });
});

describe('OIDC discovery', () => {
  it('finds jwks_uri in the discovery document; issuer defaults to oidcIssuer', async () => {
    const before = server.requests();
    const e = remote({ oidcIssuer: server.origin, caFile: pki.caFile, issuer: undefined });
    const after = server.requests();
    expect(after.discovery).toBe(before.discovery + 1);
    expect(after.jwks).toBe(before.jwks + 1);
    expect(e.keyStatus()).toMatchObject({ source: `oidc_issuer ${server.origin}`, keys: 2 });
    const claims = stdClaims({ iss: server.origin });
    expect(e.verifyTokenSync(await mint(keyB, 'RS256', claims))).toEqual(claims);
    // The issuer check is on: a token from another issuer is refused.
    const other = await mint(keyB, 'RS256', stdClaims({ iss: ISSUER }));
    expect(errorOf(() => e.verifyTokenSync(other)).code).toBe('ERR_TOKEN_CLAIM');
  });

  it('refuses a discovery document whose issuer does not match', async () => {
    await server.setDiscovery({ issuer: 'https://evil.test', jwks_uri: server.jwksUrl });
    const before = server.requests();
    const e = remote({ oidcIssuer: server.origin, caFile: pki.caFile, issuer: undefined });
    expect(server.requests().discovery).toBeGreaterThan(before.discovery);
    expect(server.requests().jwks).toBe(before.jwks); // the keys it names are never fetched
    const err = errorOf(() => e.verifyTokenSync('a.b.c'));
    expect(err.code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(err.message).toMatch(/issuer mismatch/);
    const token = await mint(keyA, 'ES256', stdClaims({ iss: server.origin }));
    expect(errorOf(() => e.verifyTokenSync(token)).code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.keyStatus()).toMatchObject({ keys: 0 });
    expect(e.keyStatus()?.lastError).toMatch(/issuer mismatch/);
  });

  it('refuses a discovery document naming a plain-http jwks_uri', async () => {
    await server.setDiscovery({ issuer: server.origin, jwks_uri: server.jwksUrl.replace('https:', 'http:') });
    const e = remote({ oidcIssuer: server.origin, caFile: pki.caFile, issuer: undefined });
    const token = await mint(keyA, 'ES256', stdClaims({ iss: server.origin }));
    expect(errorOf(() => e.verifyTokenSync(token)).code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.keyStatus()?.lastError).toMatch(/jwks_uri/);
  });
});

describe('rotation and unknown kids', () => {
  it('a token with a new kid verifies after the unknown-kid refetch; the rotated-out key stops verifying', async () => {
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile });
    const oldToken = await mint(keyA, 'ES256', stdClaims());
    expect(e.verifyTokenSync(oldToken)).toMatchObject({ sub: 'alice' }); // now in the verified-token cache
    await server.setKeys(jwksOf(keyB, keyC)); // A retired, C new
    const before = server.requests().jwks;
    const newToken = await mint(keyC, 'EdDSA', stdClaims());
    expect(e.verifyTokenSync(newToken)).toMatchObject({ sub: 'alice' });
    expect(server.requests().jwks).toBe(before + 1);
    expect(e.keyStatus()).toMatchObject({ keys: 2, lastError: null });
    // The retired key's token, though cached as verified, is checked against the new set.
    expect(errorOf(() => e.verifyTokenSync(oldToken)).code).toBe('ERR_TOKEN_UNKNOWN_KEY');
    expect(server.requests().jwks).toBe(before + 1); // within the cooldown: no refetch
  });

  it('the async path refetches on an unknown kid too', async () => {
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile });
    expect(await e.verifyToken(await mint(keyA, 'ES256', stdClaims()))).toMatchObject({ sub: 'alice' });
    await server.setKeys(jwksOf(keyA, keyB, keyC));
    const before = server.requests().jwks;
    expect(await e.verifyToken(await mint(keyC, 'EdDSA', stdClaims()))).toMatchObject({ sub: 'alice' });
    expect(server.requests().jwks).toBe(before + 1);
  });

  it('an unknown kid right after a fetch still refetches (the rotation landed just after it)', async () => {
    // The constructor's fetch gets A+B; every later fetch gets A+B+C. The
    // token is verified within microseconds of that first fetch.
    await server.setKeys(jwksOf(keyA, keyB, keyC));
    await server.serveOnce(jwksOf(keyA, keyB));
    const token = await mint(keyC, 'EdDSA', stdClaims());
    const before = server.requests().jwks;
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile });
    const outcome = verdictOf(e, token);
    expect({ requests: server.requests().jwks - before, ok: outcome.ok }).toEqual({ requests: 2, ok: true });
  });

  it('a spray of unknown kids costs at most one fetch per cooldown', async () => {
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, unknownKidCooldownSec: 3600 });
    const before = server.requests().jwks;
    for (let i = 0; i < 25; i++) {
      const t = await mint(keyA, 'ES256', stdClaims(), { kid: `random-${randomBytes(6).toString('hex')}` });
      expect(errorOf(() => e.verifyTokenSync(t)).code).toBe('ERR_TOKEN_UNKNOWN_KEY');
    }
    expect(server.requests().jwks - before).toBeLessThanOrEqual(1);
    // Known kids keep verifying meanwhile.
    expect(e.verifyTokenSync(await mint(keyA, 'ES256', stdClaims()))).toMatchObject({ sub: 'alice' });
  });
});

describe('offline cache', () => {
  /** An engine that fetched from the healthy server and wrote the cache. */
  function primeCache(dir: string, key: string): void {
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: dir, offlineCacheKey: key });
    expect(e.keyStatus()).toMatchObject({ keys: 2, fromOfflineCache: false, offlineCache: 'enabled' });
    e.close();
    expect(entryFiles(dir)).toHaveLength(1);
  }

  it('the provider down at start: the second engine serves the cached key set', async () => {
    const dir = cacheDir();
    const key = hmacKey();
    primeCache(dir, key);
    await server.goDown();
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: dir, offlineCacheKey: key });
    const claims = stdClaims({ role: 'admin' });
    expect(e.verifyTokenSync(await mint(keyA, 'ES256', claims))).toEqual(claims);
    expect(await e.verifyToken(await mint(keyB, 'RS256', claims))).toEqual(claims);
    expect(e.authorizeSync(await mint(keyB, 'RS256', claims), { query: 'data.authz.allow' })).toMatchObject({ allowed: true });
    const status = e.keyStatus();
    expect(status).toMatchObject({ keys: 2, fromOfflineCache: true });
    expect(status?.lastError).toMatch(/serving the offline cache/);
    // Tokens are still checked: a stranger's signature is refused.
    expect(errorOf(verifying(e, `${(await mint(keyA, 'ES256', claims)).slice(0, -4)}AAAA`)).code).toBe('ERR_TOKEN_SIGNATURE');
  });

  it('the cache is never used while the provider answers', async () => {
    const dir = cacheDir();
    const key = hmacKey();
    primeCache(dir, key);
    await server.setKeys(jwksOf(keyC));
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: dir, offlineCacheKey: key });
    expect(e.keyStatus()).toMatchObject({ keys: 1, fromOfflineCache: false, lastError: null });
    expect(errorOf(verifying(e, await mint(keyA, 'ES256', stdClaims()))).code).toBe('ERR_TOKEN_UNKNOWN_KEY');
  });

  // One-byte alterations of the entry file: each must reject the whole cache.
  const alterations: [string, (text: string) => string][] = [
    ['one character of the key set payload', (t) => swapBase64Char(t, '"payload":"', 40)],
    ['one character of the MAC', (t) => swapBase64Char(t, '"mac":"', 5)],
    ['one digit of written_at_ms', (t) => t.replace(/"written_at_ms":(\d)/, (_m, d: string) => `"written_at_ms":${String((Number(d) % 9) + 1)}`)],
    ['the last byte removed (truncated)', (t) => t.slice(0, -1)],
    ['the entry name changed', (t) => t.replace('"name":"jwks-', '"name":"jwkz-')],
  ];

  it.each(alterations)('altered by %s: nothing from the cache is used', async (_name, alter) => {
    const dir = cacheDir();
    const key = hmacKey();
    primeCache(dir, key);
    const [file] = entryFiles(dir);
    if (file === undefined) throw new Error('no entry written');
    const path = join(dir, file);
    const original = readFileSync(path, 'utf8');
    const altered = alter(original);
    expect(altered).not.toBe(original);
    expect(Math.abs(Buffer.byteLength(altered) - Buffer.byteLength(original))).toBeLessThanOrEqual(1);
    writeFileSync(path, altered);
    await server.goDown();
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: dir, offlineCacheKey: key });
    const token = await mint(keyA, 'ES256', stdClaims({ role: 'admin' }));
    const err = errorOf(() => e.verifyTokenSync(token));
    expect(err.code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(err.message).toMatch(/offline cache rejected/);
    expect(e.authorizeSync(token, { query: 'data.authz.allow' })).toMatchObject({ allowed: false, reason: 'ERR_JWKS_UNAVAILABLE', claims: null });
    const status = e.keyStatus();
    expect(status).toMatchObject({ keys: 0, fromOfflineCache: false, fetchedAt: null, offlineCacheRejections: 1 });
    expect(status?.lastError).toMatch(/offline cache rejected/);
  });

  it('a cache written under another HMAC key is rejected', async () => {
    const dir = cacheDir();
    primeCache(dir, hmacKey());
    await server.goDown();
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: dir, offlineCacheKey: hmacKey() });
    expect(errorOf(verifying(e, await mint(keyA, 'ES256', stdClaims()))).code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.keyStatus()?.lastError).toMatch(/offline cache rejected/);
  });

  it('one bad entry beside a good one rejects the whole cache', async () => {
    const dir = cacheDir();
    const key = hmacKey();
    primeCache(dir, key);
    const [file] = entryFiles(dir);
    if (file === undefined) throw new Error('no entry written');
    writeFileSync(join(dir, 'zz-forged.entry'), readFileSync(join(dir, file), 'utf8').replace(/"name":"[^"]+"/, '"name":"zz-forged"'));
    await server.goDown();
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: dir, offlineCacheKey: key });
    expect(errorOf(verifying(e, await mint(keyA, 'ES256', stdClaims()))).code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(e.keyStatus()?.lastError).toMatch(/offline cache rejected/);
  });

  it('an intact copy of the cache still serves (control for the tampering tests)', async () => {
    const dir = cacheDir();
    const key = hmacKey();
    primeCache(dir, key);
    const copy = cacheDir();
    mkdirSync(copy, { recursive: true });
    cpSync(dir, copy, { recursive: true });
    await server.goDown();
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: copy, offlineCacheKey: key });
    expect(e.verifyTokenSync(await mint(keyA, 'ES256', stdClaims()))).toMatchObject({ sub: 'alice' });
  });

  it('a slow provider times out (fetchTimeoutMs) and the cache serves', async () => {
    const dir = cacheDir();
    const key = hmacKey();
    primeCache(dir, key);
    await server.setMode({ mode: 'slow', delayMs: 10_000 });
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, fetchTimeoutMs: 300, offlineCacheDir: dir, offlineCacheKey: key });
    expect(e.verifyTokenSync(await mint(keyB, 'RS256', stdClaims()))).toMatchObject({ sub: 'alice' });
    const status = e.keyStatus();
    expect(status).toMatchObject({ keys: 2, fromOfflineCache: true });
    expect(status?.lastError).toMatch(/timed out/);
  });

  it('a slow provider without a cache: ERR_JWKS_UNAVAILABLE saying it timed out', async () => {
    await server.setMode({ mode: 'slow', delayMs: 10_000 });
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, fetchTimeoutMs: 300 });
    const err = errorOf(verifying(e, await mint(keyB, 'RS256', stdClaims())));
    expect(err.code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(err.message).toMatch(/timed out/);
  });

  it('a provider that drops connections: the cache serves', async () => {
    const dir = cacheDir();
    const key = hmacKey();
    primeCache(dir, key);
    await server.setMode({ mode: 'reset' });
    const e = remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: dir, offlineCacheKey: key });
    expect(e.verifyTokenSync(await mint(keyA, 'ES256', stdClaims()))).toMatchObject({ sub: 'alice' });
    expect(e.keyStatus()).toMatchObject({ fromOfflineCache: true });
  });

  it('an offlineCacheKey shorter than 32 bytes is a configuration error', () => {
    const err = errorOf(() => remote({ jwksUrl: server.jwksUrl, caFile: pki.caFile, offlineCacheDir: cacheDir(), offlineCacheKey: 'ab'.repeat(31) }));
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.message).toContain('offlineCacheKey');
  });
});

/** Replaces one base64 character `offset` characters after `marker` with another base64 character. */
function swapBase64Char(text: string, marker: string, offset: number): string {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`no ${marker} in the entry`);
  const i = at + marker.length + offset;
  const c = text[i];
  if (c === undefined || !/[A-Za-z0-9+/]/.test(c)) throw new Error(`no base64 character at ${String(i)}`);
  return text.slice(0, i) + (c === 'A' ? 'B' : 'A') + text.slice(i + 1);
}
