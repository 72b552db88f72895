// Every classic JWT attack, through the TypeScript Engine with an inline key
// set: each is refused with its exact code, and authorize() never lets it
// reach the policy (allowed=false, claims=null, the code as the reason) even
// with a policy that allows everything.
import { CompactEncrypt, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreSDKError, type Engine, type TokenOptions } from '../src/index.js';
import { errorOf, rejectionOf, TrackedEngines } from './support/engine.js';
import {
  AUDIENCE,
  b64u,
  caseVariants,
  derFromRaw,
  hs256,
  ISSUER,
  jwksOf,
  makeKey,
  makeRsaKeyOfSize,
  mint,
  nowSec,
  seeded,
  segments,
  signRaw,
  signSegments,
  stdClaims,
  unb64u,
  type Alg,
  type Jwks,
  type TestKey,
} from './support/keys.js';

const POLICY = `package authz

default allow := false

allow if input.claims.role == "admin"

allow if {
	input.action == "read"
	input.claims.sub == input.owner
}

# Allows anything that reaches it: a token refused by the verifier must never get here.
allow_any := true

seen_claims := input.claims
`;

interface Fixture {
  rsa: TestKey; // RS256 key, kid rsa-1
  ps: TestKey; // a second RSA key, kid ps-1
  ec256: TestKey;
  ec384: TestKey;
  ed: TestKey;
  weak: TestKey; // RSA 1024, kid weak-1024: in the set, never usable
  attacker: TestKey; // RSA 2048, not in the set
  jwks: Jwks;
  engine: Engine;
}

const engines = new TrackedEngines();
let f: Fixture;

beforeAll(async () => {
  const [rsa, ps, ec256, ec384, ed, attacker] = await Promise.all([
    makeKey('RS256', 'rsa-1'),
    makeKey('PS256', 'ps-1'),
    makeKey('ES256', 'ec-256'),
    makeKey('ES384', 'ec-384'),
    makeKey('EdDSA', 'ed-1'),
    makeKey('RS256', 'attacker'),
  ]);
  const weak = makeRsaKeyOfSize('weak-1024', 1024);
  const jwks = jwksOf(rsa, ps, ec256, ec384, ed, weak);
  const engine = engines.make({
    policies: { 'authz.rego': POLICY },
    token: { jwks, issuer: ISSUER, audience: AUDIENCE },
  });
  f = { rsa, ps, ec256, ec384, ed, weak, attacker, jwks, engine };
});

afterAll(() => {
  engines.closeAll();
});

/** Claims an attacker would like honoured. */
function adminClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return stdClaims({ sub: 'mallory', role: 'admin', ...overrides });
}

function withSignature(token: string, sig: Uint8Array | string): string {
  const [h, p] = segments(token);
  return `${h}.${p}.${typeof sig === 'string' ? sig : b64u(sig)}`;
}

type Code =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_ALGORITHM'
  | 'ERR_TOKEN_UNKNOWN_KEY'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_CLAIM';

interface Attack {
  name: string;
  code: Code;
  make: (f: Fixture) => string | Promise<string>;
}

const noneAttacks: Attack[] = caseVariants('none').flatMap((none): Attack[] => {
  const h = (kid: string): string => b64u(JSON.stringify({ alg: none, kid, typ: 'JWT' }));
  return [
    // No signature at all: refused by shape before the header is read.
    { name: `alg "${none}", empty signature`, code: 'ERR_TOKEN_MALFORMED', make: () => `${h('rsa-1')}.${b64u(JSON.stringify(adminClaims()))}.` },
    // Some signature bytes, so the header is read: refused by the allow-list.
    { name: `alg "${none}", junk signature`, code: 'ERR_TOKEN_ALGORITHM', make: () => `${h('rsa-1')}.${b64u(JSON.stringify(adminClaims()))}.AAAA` },
  ];
});

const attacks: Attack[] = [
  ...noneAttacks,
  { name: 'alg none without kid', code: 'ERR_TOKEN_ALGORITHM', make: () => `${b64u('{"alg":"none"}')}.${b64u(JSON.stringify(adminClaims()))}.AAAA` },

  // ---- algorithm confusion: HMAC keyed with the RSA public key
  { name: 'HS256 keyed with the RSA public key (PEM)', code: 'ERR_TOKEN_ALGORITHM', make: (f) => hs256(f.rsa.publicPem, { alg: 'HS256', kid: 'rsa-1', typ: 'JWT' }, adminClaims()) },
  { name: 'HS256 keyed with the RSA public key (PEM, no kid)', code: 'ERR_TOKEN_ALGORITHM', make: (f) => hs256(f.rsa.publicPem, { alg: 'HS256' }, adminClaims()) },
  { name: 'HS256 keyed with the RSA public key (JWK JSON)', code: 'ERR_TOKEN_ALGORITHM', make: (f) => hs256(JSON.stringify(f.rsa.jwk), { alg: 'HS256', kid: 'rsa-1' }, adminClaims()) },
  { name: 'HS256 keyed with the EC public key (PEM)', code: 'ERR_TOKEN_ALGORITHM', make: (f) => hs256(f.ec256.publicPem, { alg: 'HS256', kid: 'ec-256' }, adminClaims()) },
  { name: 'HS256 keyed with the RSA modulus bytes', code: 'ERR_TOKEN_ALGORITHM', make: (f) => hs256(unb64u(String(f.rsa.jwk.n)), { alg: 'HS256', kid: 'rsa-1' }, adminClaims()) },
  { name: 'alg outside the allow-list (ES512)', code: 'ERR_TOKEN_ALGORITHM', make: (f) => withSignature(signRaw(f.ec256, 'ES256', { alg: 'ES512', kid: 'ec-256' }, adminClaims()), new Uint8Array(132)) },
  { name: 'alg in the wrong case (rs256)', code: 'ERR_TOKEN_ALGORITHM', make: (f) => signRaw(f.rsa, 'RS256', { alg: 'rs256', kid: 'rsa-1' }, adminClaims()) },
  { name: 'alg "Ed25519" (not an accepted name)', code: 'ERR_TOKEN_ALGORITHM', make: (f) => signRaw(f.ed, 'EdDSA', { alg: 'Ed25519', kid: 'ed-1' }, adminClaims()) },

  // ---- signature stripped, emptied, or not matching
  { name: 'signature segment stripped (2 segments)', code: 'ERR_TOKEN_MALFORMED', make: async (f) => { const [h, p] = segments(await mint(f.rsa, 'RS256', adminClaims())); return `${h}.${p}`; } },
  { name: 'signature segment empty', code: 'ERR_TOKEN_MALFORMED', make: async (f) => withSignature(await mint(f.rsa, 'RS256', adminClaims()), '') },
  { name: 'tampered payload under the original signature', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => {
    const [h, , s] = segments(await mint(f.rsa, 'RS256', stdClaims({ role: 'user' })));
    return `${h}.${b64u(JSON.stringify(adminClaims()))}.${s}`;
  } },
  { name: 'tampered header (kid swapped) under the original signature', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => {
    const [, p, s] = segments(await mint(f.rsa, 'RS256', adminClaims()));
    return `${b64u(JSON.stringify({ alg: 'RS256', kid: 'ps-1', typ: 'JWT' }))}.${p}.${s}`;
  } },
  { name: 'one signature bit flipped', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => {
    const t = await mint(f.ed, 'EdDSA', adminClaims());
    const sig = unb64u(segments(t)[2]);
    sig[7] = (sig[7] ?? 0) ^ 1;
    return withSignature(t, sig);
  } },
  { name: 'signed by a stranger under a real kid', code: 'ERR_TOKEN_SIGNATURE', make: (f) => signRaw(f.attacker, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, adminClaims()) },
  { name: 'signed by a stranger without kid', code: 'ERR_TOKEN_SIGNATURE', make: (f) => signRaw(f.attacker, 'RS256', { alg: 'RS256' }, adminClaims()) },
  { name: 'alg swapped RS256 -> PS256, signature kept', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => {
    const [, p, s] = segments(await mint(f.rsa, 'RS256', adminClaims()));
    return `${b64u(JSON.stringify({ alg: 'PS256', kid: 'rsa-1' }))}.${p}.${s}`;
  } },
  { name: 'alg swapped RS256 -> ES256 on an RSA kid', code: 'ERR_TOKEN_UNKNOWN_KEY', make: (f) => signRaw(f.ec256, 'ES256', { alg: 'ES256', kid: 'rsa-1' }, adminClaims()) },
  { name: 'ES384 signature length under alg ES256', code: 'ERR_TOKEN_SIGNATURE', make: (f) => {
    const t = signRaw(f.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256' }, adminClaims());
    return withSignature(t, new Uint8Array(96).fill(1));
  } },

  // ---- time and claims (authentic tokens, unacceptable claims)
  { name: 'expired (2 minutes ago, beyond the 30 s tolerance)', code: 'ERR_TOKEN_EXPIRED', make: (f) => mint(f.ec256, 'ES256', adminClaims({ exp: nowSec() - 120 })) },
  { name: 'expired long ago', code: 'ERR_TOKEN_EXPIRED', make: (f) => mint(f.ec256, 'ES256', adminClaims({ iat: 1_000_000_000, exp: 1_000_000_600 })) },
  { name: 'not yet valid (nbf in 5 minutes)', code: 'ERR_TOKEN_NOT_YET_VALID', make: (f) => mint(f.ec256, 'ES256', adminClaims({ nbf: nowSec() + 300 })) },
  { name: 'wrong issuer', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ iss: 'https://evil.test' })) },
  { name: 'issuer with a trailing slash', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ iss: `${ISSUER}/` })) },
  { name: 'issuer missing', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ iss: undefined })) },
  { name: 'wrong audience', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ aud: 'other-api' })) },
  { name: 'wrong audience (array)', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ aud: ['other-api', 'API'] })) },
  { name: 'audience missing', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ aud: undefined })) },
  { name: 'exp missing', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ exp: undefined })) },
  { name: 'exp not a number', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ exp: 'tomorrow' })) },
  { name: 'iat in the future', code: 'ERR_TOKEN_CLAIM', make: (f) => mint(f.ec256, 'ES256', adminClaims({ iat: nowSec() + 3600 })) },

  // ---- kid is an opaque lookup key
  { name: 'unknown kid', code: 'ERR_TOKEN_UNKNOWN_KEY', make: (f) => mint(f.rsa, 'RS256', adminClaims(), { kid: 'no-such-key' }) },
  ...['../../dev/null', "' OR 1=1 --", 'rsa-1\u0000', '', 'http://attacker.test/key.pem', '{"$ne":null}', '/etc/passwd', 'RSA-1'].map(
    (kid): Attack => ({ name: `injected kid ${JSON.stringify(kid)}`, code: 'ERR_TOKEN_UNKNOWN_KEY', make: (f) => mint(f.rsa, 'RS256', adminClaims(), { kid }) }),
  ),
  { name: 'kid not a string', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.rsa, 'RS256', { alg: 'RS256', kid: 7 }, adminClaims()) },
  { name: 'kid of an EC key under an RSA algorithm', code: 'ERR_TOKEN_UNKNOWN_KEY', make: (f) => signRaw(f.rsa, 'RS256', { alg: 'RS256', kid: 'ec-256' }, adminClaims()) },

  // ---- key references in the header are never followed
  ...(['jku', 'x5u', 'jwk', 'x5c'] as const).flatMap((member): Attack[] => {
    const value = (f: Fixture): unknown =>
      member === 'jku' ? 'https://attacker.test/jwks.json'
        : member === 'x5u' ? 'https://attacker.test/cert.pem'
          : member === 'jwk' ? f.attacker.jwk
            : ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'];
    return [
      { name: `${member} pointing at the attacker's key, no kid`, code: 'ERR_TOKEN_SIGNATURE', make: (f) => signRaw(f.attacker, 'RS256', { alg: 'RS256', [member]: value(f) }, adminClaims()) },
      { name: `${member} pointing at the attacker's key, attacker kid`, code: 'ERR_TOKEN_UNKNOWN_KEY', make: (f) => signRaw(f.attacker, 'RS256', { alg: 'RS256', kid: 'attacker', [member]: value(f) }, adminClaims()) },
      { name: `${member} pointing at the attacker's key, victim kid`, code: 'ERR_TOKEN_SIGNATURE', make: (f) => signRaw(f.attacker, 'RS256', { alg: 'RS256', kid: 'rsa-1', [member]: value(f) }, adminClaims()) },
    ];
  }),

  // ---- crit
  { name: 'crit naming an unknown extension', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: ['x-bank-approval'], 'x-bank-approval': true }, adminClaims()) },
  { name: 'crit naming exp', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: ['exp'], exp: 1 }, adminClaims()) },
  { name: 'crit b64 (unencoded payload)', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: ['b64'], b64: false }, adminClaims()) },
  { name: 'crit empty', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: [] }, adminClaims()) },

  // ---- ECDSA signature encodings
  { name: 'ES256 with r = s = 0', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => withSignature(await mint(f.ec256, 'ES256', adminClaims()), new Uint8Array(64)) },
  { name: 'ES384 with r = s = 0', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => withSignature(await mint(f.ec384, 'ES384', adminClaims()), new Uint8Array(96)) },
  { name: 'ES256 with a DER-encoded signature', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => {
    const t = await mint(f.ec256, 'ES256', adminClaims());
    return withSignature(t, derFromRaw(unb64u(segments(t)[2])));
  } },
  { name: 'EdDSA with an all-zero signature', code: 'ERR_TOKEN_SIGNATURE', make: async (f) => withSignature(await mint(f.ed, 'EdDSA', adminClaims()), new Uint8Array(64)) },

  // ---- weak key in the set
  { name: 'signed by the 1024-bit RSA key in the set (its kid)', code: 'ERR_TOKEN_UNKNOWN_KEY', make: (f) => signRaw(f.weak, 'RS256', { alg: 'RS256', kid: 'weak-1024' }, adminClaims()) },
  { name: 'signed by the 1024-bit RSA key in the set (no kid)', code: 'ERR_TOKEN_SIGNATURE', make: (f) => signRaw(f.weak, 'RS256', { alg: 'RS256' }, adminClaims()) },

  // ---- shape
  { name: 'a JWE (5 segments) where a JWS is expected', code: 'ERR_TOKEN_MALFORMED', make: async (f) => {
    const key = await importJWK({ ...f.rsa.jwk, use: undefined, alg: 'RSA-OAEP-256' }, 'RSA-OAEP-256');
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(adminClaims())))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'rsa-1' })
      .encrypt(key);
  } },
  { name: 'a JWE header in a 3-segment token', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.rsa, 'RS256', { alg: 'RS256', enc: 'A256GCM', kid: 'rsa-1' }, adminClaims()) },
  { name: 'one segment', code: 'ERR_TOKEN_MALFORMED', make: async (f) => segments(await mint(f.rsa, 'RS256', adminClaims()))[0] },
  { name: 'four segments', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `${await mint(f.rsa, 'RS256', adminClaims())}.AAAA` },
  { name: 'six segments', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `${await mint(f.rsa, 'RS256', adminClaims())}.AAAA.AAAA.AAAA` },
  { name: 'empty header segment', code: 'ERR_TOKEN_MALFORMED', make: async (f) => { const [, p, s] = segments(await mint(f.rsa, 'RS256', adminClaims())); return `.${p}.${s}`; } },
  { name: 'only dots', code: 'ERR_TOKEN_MALFORMED', make: () => '..' },
  { name: 'standard base64 (+ and /) in the signature', code: 'ERR_TOKEN_MALFORMED', make: async (f) => {
    const t = await mint(f.rsa, 'RS256', adminClaims());
    return withSignature(t, unb64u(segments(t)[2]).toString('base64').replace(/=+$/, '').replace(/^./, '+'));
  } },
  { name: 'base64 padding on the signature', code: 'ERR_TOKEN_MALFORMED', make: async (f) => { const t = await mint(f.rsa, 'RS256', adminClaims()); return `${t}==`; } },
  { name: 'base64 padding on the header (re-signed)', code: 'ERR_TOKEN_MALFORMED', make: (f) => signSegments(f.rsa, 'RS256', `${b64u(JSON.stringify({ alg: 'RS256', kid: 'rsa-1' }))}=`, b64u(JSON.stringify(adminClaims()))) },
  { name: 'a character outside base64url', code: 'ERR_TOKEN_MALFORMED', make: async (f) => { const [h, p, s] = segments(await mint(f.rsa, 'RS256', adminClaims())); return `${h}.${p}!.${s}`; } },
  { name: 'non-canonical base64url in the header (re-signed)', code: 'ERR_TOKEN_MALFORMED', make: (f) => {
    // {"alg":"RS256","kid":"rsa-1"} is 29 bytes: its last character carries 4 unused bits.
    const h = b64u(JSON.stringify({ alg: 'RS256', kid: 'rsa-1' }));
    const last = h.slice(-1);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const bumped = alphabet[alphabet.indexOf(last) + 1] ?? 'B';
    return signSegments(f.rsa, 'RS256', h.slice(0, -1) + bumped, b64u(JSON.stringify(adminClaims())));
  } },
  // An ES256 signature is 86 characters; 89 is 1 mod 4, which no byte string encodes to.
  { name: 'base64url of length 1 mod 4 in the signature', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `${await mint(f.ec256, 'ES256', adminClaims())}AAA` },
  { name: 'header is not JSON (re-signed)', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.rsa, 'RS256', 'alg=RS256', adminClaims()) },
  { name: 'header is a JSON array (re-signed)', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.rsa, 'RS256', '[{"alg":"RS256"}]', adminClaims()) },
  { name: 'header with two alg members', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.rsa, 'RS256', '{"alg":"RS256","kid":"rsa-1","alg":"none"}', adminClaims()) },
  { name: 'payload with two sub members (re-signed)', code: 'ERR_TOKEN_MALFORMED', make: (f) => {
    const c = JSON.stringify(adminClaims({ sub: 'alice' }));
    return signRaw(f.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, `${c.slice(0, -1)},"sub":"admin"}`);
  } },
  { name: 'payload not an object (re-signed)', code: 'ERR_TOKEN_MALFORMED', make: (f) => signRaw(f.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, '"admin"') },
  { name: 'oversized token (> 8 KiB), validly signed', code: 'ERR_TOKEN_MALFORMED', make: (f) => mint(f.ec256, 'ES256', adminClaims({ pad: 'x'.repeat(8 * 1024) })) },
  { name: 'a trailing newline', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `${await mint(f.ec256, 'ES256', adminClaims())}\n` },
  { name: 'a trailing CRLF', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `${await mint(f.ec256, 'ES256', adminClaims())}\r\n` },
  { name: 'a leading space', code: 'ERR_TOKEN_MALFORMED', make: async (f) => ` ${await mint(f.ec256, 'ES256', adminClaims())}` },
  { name: 'the "Bearer " prefix left on', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `Bearer ${await mint(f.ec256, 'ES256', adminClaims())}` },
  { name: 'a NUL byte appended', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `${await mint(f.ec256, 'ES256', adminClaims())}\u0000` },
  { name: 'non-ASCII in the token', code: 'ERR_TOKEN_MALFORMED', make: async (f) => `${await mint(f.ec256, 'ES256', adminClaims())}é` },
];

const queries = ['data.authz.allow', 'data.authz.allow_any'] as const;

function assertSafeMessage(err: CoreSDKError, token: string): void {
  const [, , sig] = token.split('.');
  expect(err.message).not.toContain(token.trim());
  if (sig !== undefined && sig.length >= 16) expect(err.message).not.toContain(sig.slice(0, 16));
  const payload = token.split('.')[1];
  if (payload !== undefined && payload.length >= 16) expect(err.message).not.toContain(payload.slice(0, 16));
  expect(err.message).not.toMatch(/mallory|attacker\.test|OR 1=1|dev\/null/);
}

describe('classic attacks are refused with their exact code', () => {
  it('the attack list covers every code it claims to', () => {
    const codes = new Set(attacks.map((a) => a.code));
    for (const c of ['ERR_TOKEN_MALFORMED', 'ERR_TOKEN_ALGORITHM', 'ERR_TOKEN_UNKNOWN_KEY', 'ERR_TOKEN_SIGNATURE', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_NOT_YET_VALID', 'ERR_TOKEN_CLAIM']) {
      expect(codes).toContain(c);
    }
    expect(new Set(attacks.map((a) => a.name)).size).toBe(attacks.length);
  });

  it.each(attacks.map((a) => [a.name, a] as const))('%s', async (_name, attack) => {
    const token = await attack.make(f);
    const err = errorOf(() => f.engine.verifyTokenSync(token));
    expect(err.code).toBe(attack.code);
    expect(err.rfc6750Error).toBe('invalid_token');
    assertSafeMessage(err, token);

    const asyncErr = await rejectionOf(f.engine.verifyToken(token));
    expect(asyncErr.code).toBe(attack.code);

    for (const query of queries) {
      for (const r of [f.engine.authorizeSync(token, { query, input: { action: 'read', owner: 'mallory' } }), await f.engine.authorize(token, { query, input: { action: 'read', owner: 'mallory' } })]) {
        expect(r.allowed).toBe(false);
        expect(r.reason).toBe(attack.code);
        expect(r.claims).toBeNull();
        expect(r.defined).toBe(false);
        expect(r.value).toBeUndefined();
        expect(r.error).toBeInstanceOf(CoreSDKError);
        expect(r.error?.code).toBe(attack.code);
        if (r.error !== undefined) assertSafeMessage(r.error, token);
      }
    }
  });

  it('an empty token is ERR_TOKEN_MISSING, without an RFC 6750 error code', async () => {
    const err = errorOf(() => f.engine.verifyTokenSync(''));
    expect(err.code).toBe('ERR_TOKEN_MISSING');
    expect(err.rfc6750Error).toBeUndefined();
    expect((await rejectionOf(f.engine.verifyToken(''))).code).toBe('ERR_TOKEN_MISSING');
    const r = f.engine.authorizeSync('', { query: 'data.authz.allow_any' });
    expect(r).toMatchObject({ allowed: false, reason: 'ERR_TOKEN_MISSING', claims: null, defined: false });
  });

  it('a value that is not a string never verifies', () => {
    const values: unknown[] = [undefined, null, 42, {}, ['a.b.c'], Buffer.from('a.b.c')];
    for (const bad of values) {
      expect(() => f.engine.verifyTokenSync(bad as string)).toThrow(CoreSDKError);
      const r = f.engine.authorizeSync(bad as string, { query: 'data.authz.allow_any' });
      expect(r.allowed).toBe(false);
      expect(r.claims).toBeNull();
    }
  });
});

describe('valid tokens', () => {
  const valid: [Alg, (f: Fixture) => TestKey][] = [
    ['RS256', (f) => f.rsa],
    ['RS384', (f) => f.rsa],
    ['RS512', (f) => f.rsa],
    ['PS256', (f) => f.ps],
    ['PS384', (f) => f.ps],
    ['PS512', (f) => f.rsa],
    ['ES256', (f) => f.ec256],
    ['ES384', (f) => f.ec384],
    ['EdDSA', (f) => f.ed],
  ];

  it.each(valid)('%s verifies, with and without kid, sync and async', async (alg, key) => {
    const claims = stdClaims({ role: 'user', nested: { a: [1, 'two', null] } });
    for (const header of [{}, { kid: undefined }]) {
      const token = await mint(key(f), alg, claims, header);
      expect(f.engine.verifyTokenSync(token)).toEqual(claims);
      expect(await f.engine.verifyToken(token)).toEqual(claims);
    }
  });

  it('aud as an array naming the audience among others', async () => {
    const claims = stdClaims({ aud: ['other', AUDIENCE] });
    expect(f.engine.verifyTokenSync(await mint(f.ed, 'EdDSA', claims))).toEqual(claims);
  });

  it('exp a little in the past is within the 30 s tolerance', async () => {
    const claims = stdClaims({ exp: nowSec() - 10 });
    expect(f.engine.verifyTokenSync(await mint(f.ec256, 'ES256', claims))).toEqual(claims);
  });

  it('a token at the 8 KiB cap verifies; a few bytes more does not', async () => {
    const sized = (pad: number): Promise<string> => mint(f.ec256, 'ES256', stdClaims({ pad: 'x'.repeat(pad) }));
    const base = await sized(0);
    // 3 bytes of claims text are 4 characters of token.
    let pad = Math.floor(((8192 - base.length) * 3) / 4);
    let token = await sized(pad);
    for (let i = 0; i < 16 && token.length > 8192; i++) token = await sized(--pad);
    for (let i = 0; i < 16; i++) {
      const next = await sized(pad + 1);
      if (next.length > 8192) break;
      token = next;
      pad++;
    }
    expect(token.length).toBeLessThanOrEqual(8192);
    expect(token.length).toBeGreaterThan(8188);
    expect(f.engine.verifyTokenSync(token)).toMatchObject({ sub: 'alice' });
    const over = await sized(pad + 3);
    expect(over.length).toBeGreaterThan(8192);
    expect(errorOf(() => f.engine.verifyTokenSync(over)).code).toBe('ERR_TOKEN_MALFORMED');
  });
});

describe('authorize() decides on verified claims only', () => {
  it('allows and denies per the policy reading input.claims', async () => {
    const admin = await mint(f.rsa, 'RS256', stdClaims({ sub: 'root', role: 'admin' }));
    const owner = await mint(f.ps, 'PS256', stdClaims({ sub: 'alice', role: 'user' }));
    const other = await mint(f.ed, 'EdDSA', stdClaims({ sub: 'bob', role: 'user' }));
    const cases: [string, string, Record<string, unknown>, boolean][] = [
      ['admin writes', admin, { action: 'write', owner: 'alice' }, true],
      ['owner reads', owner, { action: 'read', owner: 'alice' }, true],
      ['owner writes', owner, { action: 'write', owner: 'alice' }, false],
      ['stranger reads', other, { action: 'read', owner: 'alice' }, false],
    ];
    for (const [name, token, input, allowed] of cases) {
      for (const r of [f.engine.authorizeSync(token, { query: 'data.authz.allow', input }), await f.engine.authorize(token, { query: 'data.authz.allow', input })]) {
        expect({ name, allowed: r.allowed, reason: r.reason, defined: r.defined, value: r.value }).toEqual({
          name,
          allowed,
          reason: allowed ? 'allowed' : 'denied',
          defined: true,
          value: allowed,
        });
        expect(r.claims).toEqual(f.engine.verifyTokenSync(token));
        expect(r.error).toBeUndefined();
        expect(typeof r.revision).toBe('string');
      }
    }
  });

  it('the policy sees exactly the verified claims as input.claims', async () => {
    const claims = stdClaims({ role: 'user', tags: ['a', 'b'] });
    const token = await mint(f.ec384, 'ES384', claims);
    const r = f.engine.authorizeSync(token, { query: 'data.authz.seen_claims', input: { action: 'read' } });
    expect(r.defined).toBe(true);
    expect(r.value).toEqual(claims);
    expect(r.allowed).toBe(false); // a defined non-true value is a denial
    expect(r.reason).toBe('denied');
  });

  it('a caller-supplied input.claims is refused, even with a valid token', async () => {
    const token = await mint(f.rsa, 'RS256', stdClaims({ role: 'user' }));
    const input = { action: 'read', owner: 'alice', claims: { role: 'admin' } };
    for (const r of [f.engine.authorizeSync(token, { query: 'data.authz.allow_any', input }), await f.engine.authorize(token, { query: 'data.authz.allow_any', input })]) {
      expect(r.allowed).toBe(false);
      expect(r.reason).toBe('ERR_INPUT_INVALID');
      expect(r.error?.code).toBe('ERR_INPUT_INVALID');
    }
  });

  it('an evaluation error after a valid token denies with its code', async () => {
    const token = await mint(f.rsa, 'RS256', stdClaims());
    const r = f.engine.authorizeSync(token, { query: 'data.authz.no_such_rule', input: {} });
    expect(r.allowed).toBe(false);
    expect(r.reason).toBe('ERR_UNKNOWN_RULE');
  });
});

describe('error messages never carry the token', () => {
  it('for every attack and a few valid-looking tokens under an unknown kid', async () => {
    const tokens = [
      await mint(f.rsa, 'RS256', adminClaims(), { kid: 'secret-kid-value-123' }),
      `${await mint(f.rsa, 'RS256', adminClaims(), { kid: 'secret-kid-value-123' })}x`,
      (await mint(f.rsa, 'RS256', adminClaims())).replace('.', '..'),
    ];
    for (const token of tokens) {
      const err = errorOf(() => f.engine.verifyTokenSync(token));
      assertSafeMessage(err, token);
      expect(err.message).not.toContain('secret-kid-value-123');
      expect(String(err.stack)).not.toContain(segments(token.replace('..', '.').replace(/x$/, ''))[2].slice(0, 16));
    }
  });
});

describe('configuration that would open a hole is refused', () => {
  const refused: [string, TokenOptions, string][] = [
    ['alg none', { algorithms: ['none'] }, 'ERR_CONFIG'],
    ['HS256', { algorithms: ['HS256'] }, 'ERR_CONFIG'],
    ['an empty allow-list', { algorithms: [] }, 'ERR_CONFIG'],
    ['an unknown algorithm', { algorithms: ['ES256', 'ES256K'] }, 'ERR_CONFIG'],
    ['a clock tolerance over 300 s', { clockToleranceSec: 301 }, 'ERR_CONFIG'],
  ];
  it.each(refused)('refuses %s', (_name, extra, code) => {
    const err = errorOf(() => engines.make({ policies: { 'authz.rego': POLICY }, token: { jwks: f.jwks, ...extra } }));
    expect(err.code).toBe(code);
  });

  it('a key set with private or symmetric key material is refused whole', () => {
    for (const keys of [[f.rsa.jwk, { ...f.ec256.privateJwk, kid: 'ec-256' }], [{ kty: 'oct', k: b64u('secret'), kid: 'hmac' }]]) {
      const err = errorOf(() => engines.make({ policies: { 'authz.rego': POLICY }, token: { jwks: { keys } } }));
      expect(err.code).toBe('ERR_JWKS_INVALID');
      expect(err.message).not.toContain(String(f.ec256.privateJwk.d));
    }
  });

  it('a key set that is not JSON, or has duplicate members, is refused', () => {
    for (const jwks of ['not json', '{"keys":[],"keys":[]}', '[]']) {
      expect(errorOf(() => engines.make({ policies: { 'authz.rego': POLICY }, token: { jwks } })).code).toBe('ERR_JWKS_INVALID');
    }
  });

  it('exactly one key source', () => {
    expect(errorOf(() => engines.make({ policies: { 'authz.rego': POLICY }, token: { jwks: f.jwks, jwksUrl: 'https://issuer.test/jwks' } })).code).toBe('ERR_CONFIG');
    expect(errorOf(() => engines.make({ policies: { 'authz.rego': POLICY }, token: {} })).code).toBe('ERR_CONFIG');
  });

  it('keys sharing a kid are both unusable', async () => {
    const e = engines.make({
      policies: { 'authz.rego': POLICY },
      // A usable control key: a set with no usable key at all is refused at construction.
      token: { jwks: { keys: [{ ...f.rsa.jwk, kid: 'dup' }, { ...f.ps.jwk, kid: 'dup' }, f.ed.jwk] } },
    });
    expect(e.verifyTokenSync(await mint(f.ed, 'EdDSA', stdClaims()))).toMatchObject({ sub: 'alice' });
    expect(errorOf(() => e.verifyTokenSync('')).code).toBe('ERR_TOKEN_MISSING');
    const t = await mint(f.rsa, 'RS256', stdClaims(), { kid: 'dup' });
    expect(errorOf(() => e.verifyTokenSync(t)).code).toBe('ERR_TOKEN_UNKNOWN_KEY');
  });

  it('a key set with no usable key is refused at construction', () => {
    const make = (): unknown => engines.make({ policies: { 'authz.rego': POLICY }, token: { jwks: { keys: [{ ...f.ec256.jwk, use: 'enc' }] } } });
    expect(errorOf(make).code).toBe('ERR_JWKS_INVALID');
  });

  it('keys with use=enc, key_ops without verify, or an alg for another curve are never used', async () => {
    const e = engines.make({
      policies: { 'authz.rego': POLICY },
      token: {
        jwks: {
          keys: [
            { ...f.ec256.jwk, kid: 'enc', use: 'enc' },
            { ...f.ec256.jwk, kid: 'ops', use: undefined, key_ops: ['sign'] },
            { ...f.ec256.jwk, kid: 'curve', alg: 'ES384' },
            f.ed.jwk,
          ],
        },
      },
    });
    expect(e.verifyTokenSync(await mint(f.ed, 'EdDSA', stdClaims()))).toMatchObject({ sub: 'alice' });
    for (const kid of ['enc', 'ops', 'curve']) {
      const t = await mint(f.ec256, 'ES256', stdClaims(), { kid });
      expect(errorOf(() => e.verifyTokenSync(t)).code).toBe('ERR_TOKEN_UNKNOWN_KEY');
    }
  });

  it('RSA keys over 8192 bits, with a bad exponent, or with a ROCA-fingerprinted modulus are never used', () => {
    const rnd = seeded(0x0ca);
    const randomModulus = (bits: number): bigint => {
      let n = 1n;
      for (let i = 1; i < bits; i++) n = (n << 1n) | BigInt(rnd.int(2));
      return n | 1n;
    };
    // ROCA (CVE-2017-15361): N mod p lies in the subgroup generated by 65537 for
    // every small prime p the engine checks. N = k*M + (65537^a mod M) does, for M their product.
    const primes = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163];
    const m = primes.reduce((acc, p) => acc * BigInt(p), 1n);
    let g = 1n;
    for (let i = 0; i < 1234; i++) g = (g * 65537n) % m;
    // k from [2^2047 / M, 2^2048 / M) keeps N at exactly 2048 bits.
    const low = (1n << 2047n) / m + 1n;
    const roca = (low + (randomModulus(2040 - m.toString(2).length) % low)) * m + g;
    expect(roca.toString(2)).toHaveLength(2048);
    for (const p of primes) expect((roca - g) % BigInt(p)).toBe(0n);
    const control = randomModulus(2048);
    const key = (kid: string, n: bigint, e = 'AQAB'): Record<string, unknown> => ({ kty: 'RSA', kid, use: 'sig', e, n: b64u(Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex')) });
    const e = engines.make({
      policies: { 'authz.rego': POLICY },
      token: {
        jwks: {
          keys: [
            key('control', control),
            key('roca', roca),
            key('roca-plus-2', roca + 2n), // off the fingerprint: loaded
            key('huge', randomModulus(8200)),
            key('e-one', control, b64u(Buffer.from([1]))),
            key('e-even', control, b64u(Buffer.from([1, 0, 0]))),
          ],
        },
      },
    });
    const forKid = (kid: string): string => errorOf(() => e.verifyTokenSync(signRaw(f.rsa, 'RS256', { alg: 'RS256', kid }, stdClaims()))).code;
    // Loaded keys (the signature cannot match them):
    expect(forKid('control')).toBe('ERR_TOKEN_SIGNATURE');
    expect(forKid('roca-plus-2')).toBe('ERR_TOKEN_SIGNATURE');
    for (const kid of ['roca', 'huge', 'e-one', 'e-even']) expect({ kid, code: forKid(kid) }).toEqual({ kid, code: 'ERR_TOKEN_UNKNOWN_KEY' });
  });

  it('a key whose alg pins PS256 does not verify PS384', async () => {
    const e = engines.make({ policies: { 'authz.rego': POLICY }, token: { jwks: { keys: [{ ...f.ps.jwk, alg: 'PS256' }] } } });
    expect(e.verifyTokenSync(await mint(f.ps, 'PS256', stdClaims()))).toMatchObject({ sub: 'alice' });
    expect(errorOf(() => e.verifyTokenSync('x.y.z')).code).toBe('ERR_TOKEN_MALFORMED');
    const t = await mint(f.ps, 'PS384', stdClaims());
    expect(errorOf(() => e.verifyTokenSync(t)).code).toBe('ERR_TOKEN_UNKNOWN_KEY');
  });
});
