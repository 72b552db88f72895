// Differential test: a few hundred generated tokens (valid ones and
// mutations) through both the engine's verifier and jose's jwtVerify with
// equivalent options and the same key set. They must agree on accept/reject
// for every token, except in the named categories where the engine is
// deliberately different (DIFFERENCES below, listed in docs/security.md).
//
// Generation is seeded: a run makes the same cases in the same order (keys
// and ECDSA/PSS signatures are random, so tokens differ between runs; the
// mutations applied to them do not).
import { createLocalJWKSet, jwtVerify, type JWTVerifyOptions } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Engine } from '../src/index.js';
import { TrackedEngines, verdictOf } from './support/engine.js';
import {
  ALL_ALGS,
  AUDIENCE,
  b64u,
  familyOf,
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

/**
 * Where the engine and jose deliberately disagree. `engine`/`jose` are the
 * verdicts each gives in that category; `code` is the engine's error code.
 */
const DIFFERENCES = {
  'duplicate-json-member': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'a header or claims set with a member twice: JSON.parse keeps the last, other parsers the first' },
  'iat-in-future': { engine: 'reject', code: 'ERR_TOKEN_CLAIM', jose: 'accept', why: '`iat` later than now + tolerance (jose checks iat only with maxTokenAge)' },
  'non-finite-numeric-date': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: '`exp: 1e400` parses to Infinity in JavaScript, a token that never expires' },
  'crit-b64': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: '`crit: ["b64"]`, which jose understands; the engine understands no extension' },
  'enc-in-jws-header': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'a JWE header member (`enc`) in a JWS' },
  'aud-array-non-string': { engine: 'reject', code: 'ERR_TOKEN_CLAIM', jose: 'accept', why: '`aud` array holding a non-string next to the expected audience' },
  'sub-jti-not-string': { engine: 'reject', code: 'ERR_TOKEN_CLAIM', jose: 'accept', why: '`sub` or `jti` that is not a string (RFC 7519 §4.1.2, §4.1.7)' },
  'base64-padding': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: '`=` padding in a segment (RFC 7515 §2 forbids it)' },
  'non-canonical-base64url': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'a segment whose unused trailing bits are set' },
  'whitespace': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'whitespace or a newline in or after the signature (atob strips it)' },
  'token-size-cap': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'a token over maxTokenBytes (8192)' },
  'byte-order-mark': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'a UTF-8 byte-order mark before the header or claims JSON' },
  'lone-surrogate': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'a JSON string with an unpaired UTF-16 surrogate escape (\\ud800)' },
  'json-nesting-depth': { engine: 'reject', code: 'ERR_TOKEN_MALFORMED', jose: 'accept', why: 'claims nested deeper than 128 levels (serde_json recursion limit)' },
  'kidless-multiple-keys': { engine: 'accept', code: null, jose: 'reject', why: 'no `kid` and several keys fit the algorithm: the engine tries each (at most 16), jose refuses the ambiguity' },
} as const;
type DifferenceName = keyof typeof DIFFERENCES;

type ConfigName = 'default' | 'pinned' | 'multi' | 'weak';

interface Setup {
  engine: Engine;
  keySet: ReturnType<typeof createLocalJWKSet>;
  options: JWTVerifyOptions;
}

interface Keys {
  rsa: TestKey;
  ec256: TestKey;
  ec384: TestKey;
  ed: TestKey;
  rsaA: TestKey; // multi: no alg
  rsaB: TestKey; // multi: alg PS256
  weak: TestKey; // 1024-bit
  stranger: TestKey;
}

interface Case {
  category: string;
  label: string;
  config: ConfigName;
  /** The verdict both must give, or a named difference. */
  expected: 'accept' | 'reject' | DifferenceName;
  make: (k: Keys) => string | Promise<string>;
}

// ---------------------------------------------------------------- generation

const SEED = 0x5eed_c0de;
const rng = seeded(SEED);

const keyFor = (k: Keys, alg: Alg): TestKey => {
  switch (familyOf(alg)) {
    case 'RSA':
      return k.rsa;
    case 'P-256':
      return k.ec256;
    case 'P-384':
      return k.ec384;
    case 'Ed25519':
      return k.ed;
  }
};

const cases: Case[] = [];
function add(category: string, label: string, expected: Case['expected'], make: Case['make'], config: ConfigName = 'default'): void {
  cases.push({ category, label, config, expected, make });
}

const claimVariants: [string, () => Record<string, unknown>][] = [
  ['standard claims', () => stdClaims()],
  ['aud array', () => stdClaims({ aud: ['other', AUDIENCE] })],
  ['nbf in the past', () => stdClaims({ nbf: nowSec() - 10 })],
  ['no iat', () => stdClaims({ iat: undefined })],
  ['unicode and nested claims', () => stdClaims({ name: 'Zoë Ünïcødé 🦀', org: { units: ['a', 'b'], depth: { n: 1.5, ok: true, none: null } } })],
];

// Valid tokens: every algorithm, several claim sets, with and without kid.
for (const alg of ALL_ALGS) {
  for (const [label, claims] of claimVariants) {
    add('valid', `${alg}, ${label}`, 'accept', (k) => mint(keyFor(k, alg), alg, claims()));
  }
  add('valid', `${alg}, no kid`, 'accept', (k) => mint(keyFor(k, alg), alg, stdClaims(), { kid: undefined }));
  add('valid', `${alg}, typ at+jwt`, 'accept', (k) => mint(keyFor(k, alg), alg, stdClaims(), { typ: 'at+jwt' }));
}

// Byte flips in each segment: decode, flip one bit, re-encode canonically.
for (const segment of [0, 1, 2] as const) {
  const name = ['header', 'payload', 'signature'][segment] ?? '';
  for (let i = 0; i < 30; i++) {
    const alg = rng.pick(ALL_ALGS);
    const pos = rng.next();
    const bit = rng.int(8);
    add(`flip-${name}`, `${alg}, ${name} byte at ${pos.toFixed(3)}, bit ${String(bit)}`, 'reject', async (k) => {
      const parts: string[] = segments(await mint(keyFor(k, alg), alg, stdClaims()));
      const bytes = unb64u(parts[segment] ?? '');
      const at = Math.floor(pos * bytes.length);
      bytes[at] = (bytes[at] ?? 0) ^ (1 << bit);
      parts[segment] = b64u(bytes);
      return parts.join('.');
    });
  }
}

// alg swaps: the header names another algorithm, the signature is kept.
for (const from of ALL_ALGS) {
  const others = ALL_ALGS.filter((a) => a !== from);
  for (const to of [rng.pick(others), rng.pick(others)]) {
    add('alg-swap', `${from} signature under alg ${to}`, 'reject', async (k) => {
      const [, p, s] = segments(await mint(keyFor(k, from), from, stdClaims()));
      return `${b64u(JSON.stringify({ alg: to, kid: keyFor(k, from).kid, typ: 'JWT' }))}.${p}.${s}`;
    });
  }
}

// Algorithms never accepted.
for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
  add('alg-forbidden', `alg ${alg}`, 'reject', () => `${b64u(JSON.stringify({ alg }))}.${b64u(JSON.stringify(stdClaims()))}.`);
  add('alg-forbidden', `alg ${alg} with a junk signature`, 'reject', () => `${b64u(JSON.stringify({ alg, kid: 'rsa-1' }))}.${b64u(JSON.stringify(stdClaims()))}.AAAA`);
}
for (const hs of ['HS256', 'HS384', 'HS512']) {
  add('alg-forbidden', `${hs} keyed with the RSA public key`, 'reject', (k) => hs256(k.rsa.publicPem, { alg: hs, kid: 'rsa-1' }, stdClaims()));
}
add('alg-forbidden', 'ES512', 'reject', (k) => `${b64u(JSON.stringify({ alg: 'ES512', kid: k.ec256.kid }))}.${b64u(JSON.stringify(stdClaims()))}.${b64u(new Uint8Array(132))}`);
add('alg-forbidden', 'alg rs256 (lower case)', 'reject', (k) => signRaw(k.rsa, 'RS256', { alg: 'rs256', kid: 'rsa-1' }, stdClaims()));

// exp/nbf around the 30 s tolerance (offsets in seconds from the edge; the
// last second next to each edge is left out: jose rounds now down, the
// engine does not).
for (const off of [-3600, -60, -5, -1, 0]) {
  add('time-exp', `exp at now - 30 ${off >= 0 ? '+' : '-'} ${String(Math.abs(off))}`, 'reject', (k) => mint(k.ec256, 'ES256', stdClaims({ exp: nowSec() - 30 + off })));
}
for (const off of [3, 5, 29, 60, 3600]) {
  add('time-exp', `exp at now - 30 + ${String(off)}`, 'accept', (k) => mint(k.ec256, 'ES256', stdClaims({ exp: nowSec() - 30 + off })));
}
for (const off of [-3600, -60, -5, 0]) {
  add('time-nbf', `nbf at now + 30 - ${String(Math.abs(off))}`, 'accept', (k) => mint(k.ed, 'EdDSA', stdClaims({ nbf: nowSec() + 30 + off })));
}
for (const off of [3, 5, 60, 3600]) {
  add('time-nbf', `nbf at now + 30 + ${String(off)}`, 'reject', (k) => mint(k.ed, 'EdDSA', stdClaims({ nbf: nowSec() + 30 + off })));
}
add('time-exp', 'exp missing (required)', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims({ exp: undefined })));
add('time-exp', 'exp a string', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims({ exp: String(nowSec() + 600) })));
add('time-exp', 'exp null', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims({ exp: null })));
add('time-exp', 'exp a boolean', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims({ exp: true })));
add('time-exp', 'exp fractional', 'accept', (k) => mint(k.rsa, 'RS256', stdClaims({ exp: nowSec() + 600.75 })));
add('time-exp', 'exp far future', 'accept', (k) => mint(k.rsa, 'RS256', stdClaims({ exp: 99_999_999_999 })));
add('time-exp', 'exp beyond u64 (a float)', 'accept', (k) => {
  const c = JSON.stringify(stdClaims({ exp: 0 })).replace('"exp":0', '"exp":100000000000000000000000');
  return signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, c);
});
add('time-exp', 'exp negative', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims({ exp: -1 })));
add('time-exp', 'exp 1e400 (Infinity in JavaScript)', 'non-finite-numeric-date', (k) => {
  const c = JSON.stringify(stdClaims({ exp: 0 })).replace('"exp":0', '"exp":1e400');
  return signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, c);
});
add('time-nbf', 'nbf a string', 'reject', (k) => mint(k.ed, 'EdDSA', stdClaims({ nbf: 'now' })));
add('time-iat', 'iat an hour ahead', 'iat-in-future', (k) => mint(k.ec384, 'ES384', stdClaims({ iat: nowSec() + 3600 })));
add('time-iat', 'iat 2 minutes ahead', 'iat-in-future', (k) => mint(k.ec384, 'ES384', stdClaims({ iat: nowSec() + 120 })));
add('time-iat', 'iat 10 s ahead (within tolerance)', 'accept', (k) => mint(k.ec384, 'ES384', stdClaims({ iat: nowSec() + 10 })));
add('time-iat', 'iat a year ago', 'accept', (k) => mint(k.ec384, 'ES384', stdClaims({ iat: nowSec() - 365 * 86400 })));
add('time-iat', 'iat a string', 'reject', (k) => mint(k.ec384, 'ES384', stdClaims({ iat: 'yesterday' })));

// aud
const audCases: [string, unknown, Case['expected']][] = [
  ['"api"', AUDIENCE, 'accept'],
  ['["api"]', [AUDIENCE], 'accept'],
  ['["x","api","y"]', ['x', AUDIENCE, 'y'], 'accept'],
  ['["x"]', ['x'], 'reject'],
  ['"API"', 'API', 'reject'],
  ['"api " (trailing space)', 'api ', 'reject'],
  ['[]', [], 'reject'],
  ['missing', undefined, 'reject'],
  ['a number', 5, 'reject'],
  ['null', null, 'reject'],
  ['an object', { api: true }, 'reject'],
  ['[["api"]]', [[AUDIENCE]], 'reject'],
  ['["api", 5]', [AUDIENCE, 5], 'aud-array-non-string'],
  ['["api", null]', [AUDIENCE, null], 'aud-array-non-string'],
];
for (const [label, aud, expected] of audCases) {
  add('aud', `aud ${label}`, expected, (k) => mint(k.ec256, 'ES256', stdClaims({ aud })));
}
add('aud', 'aud "api2" (second configured audience)', 'accept', (k) => mint(k.ec256, 'ES256', stdClaims({ aud: 'api2' }), { typ: 'at+jwt' }), 'pinned');
add('aud', 'aud ["x","api2"] (second configured audience)', 'accept', (k) => mint(k.ec256, 'ES256', stdClaims({ aud: ['x', 'api2'] }), { typ: 'at+jwt' }), 'pinned');
add('aud', 'aud "api3"', 'reject', (k) => mint(k.ec256, 'ES256', stdClaims({ aud: 'api3' }), { typ: 'at+jwt' }), 'pinned');

// iss
const issCases: [string, unknown][] = [
  ['another issuer', 'https://evil.test'],
  ['with a trailing slash', `${ISSUER}/`],
  ['in upper case', ISSUER.toUpperCase()],
  ['missing', undefined],
  ['a number', 5],
  ['an array', [ISSUER]],
  ['null', null],
];
for (const [label, iss] of issCases) add('iss', `iss ${label}`, 'reject', (k) => mint(k.ed, 'EdDSA', stdClaims({ iss })));

const typLabel = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v));
// typ: ignored without a pin; compared per RFC 8725 §3.11 with one.
for (const typ of ['JWT', 'at+jwt', 'weird', 5, undefined]) {
  add('typ', `unpinned, typ ${typLabel(typ)}`, 'accept', (k) => mint(k.ec256, 'ES256', stdClaims(), { typ }));
}
const pinnedTyp: [unknown, Case['expected']][] = [
  ['at+jwt', 'accept'],
  ['AT+JWT', 'accept'],
  ['application/at+jwt', 'accept'],
  ['Application/At+Jwt', 'accept'],
  ['JWT', 'reject'],
  [undefined, 'reject'],
  [5, 'reject'],
  ['application/jwt', 'reject'],
  ['text/at+jwt', 'reject'],
  ['at+jwt ', 'reject'],
  ['', 'reject'],
];
for (const [typ, expected] of pinnedTyp) {
  add('typ', `pinned at+jwt, typ ${typLabel(typ)}`, expected, (k) => mint(k.ed, 'EdDSA', stdClaims(), { typ }), 'pinned');
}
// The pinned configuration also narrows the algorithms to ES256, EdDSA, PS256.
for (const alg of ALL_ALGS) {
  const expected = ['ES256', 'EdDSA', 'PS256'].includes(alg) ? 'accept' : 'reject';
  add('allow-list', `pinned allow-list, ${alg}`, expected, (k) => mint(keyFor(k, alg), alg, stdClaims(), { typ: 'at+jwt' }), 'pinned');
}

// kid
add('kid', 'kid of another key', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims(), { kid: k.ec256.kid }));
add('kid', 'kid unknown', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims(), { kid: 'nope' }));
add('kid', 'kid in another case', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims(), { kid: 'RSA-1' }));
add('kid', 'kid empty', 'reject', (k) => mint(k.rsa, 'RS256', stdClaims(), { kid: '' }));
add('kid', 'kid a number', 'reject', (k) => signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 7 }, stdClaims()));
add('kid', 'kid null', 'reject', (k) => signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: null }, stdClaims()));
add('kid', 'right kid, signed by a stranger', 'reject', (k) => signRaw(k.stranger, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, stdClaims()));
add('kid', 'no kid, signed by a stranger', 'reject', (k) => signRaw(k.stranger, 'RS256', { alg: 'RS256' }, stdClaims()));
for (let i = 0; i < 6; i++) {
  const alg = rng.pick(ALL_ALGS);
  const other = rng.pick(ALL_ALGS.filter((a) => familyOf(a) !== familyOf(alg)));
  add('kid', `${alg} token naming the ${other} key's kid`, 'reject', (k) => mint(keyFor(k, alg), alg, stdClaims(), { kid: keyFor(k, other).kid }));
}

// Authentic tokens carrying key references: never followed, so harmless.
add('header-refs', 'jku on an authentic token', 'accept', (k) => mint(k.rsa, 'RS256', stdClaims(), { jku: 'https://attacker.test/jwks.json' }));
add('header-refs', 'x5u on an authentic token', 'accept', (k) => mint(k.rsa, 'RS256', stdClaims(), { x5u: 'https://attacker.test/c.pem' }));
add('header-refs', 'embedded jwk on an authentic token', 'accept', (k) => mint(k.rsa, 'RS256', stdClaims(), { jwk: k.stranger.jwk }));
add('header-refs', 'x5c on an authentic token', 'accept', (k) => mint(k.rsa, 'RS256', stdClaims(), { x5c: ['MIIB'] }));
add('header-refs', 'embedded jwk, signed by that key', 'reject', (k) => signRaw(k.stranger, 'RS256', { alg: 'RS256', jwk: k.stranger.jwk }, stdClaims()));
add('header-refs', 'cty JWT and unknown members', 'accept', (k) => mint(k.ec256, 'ES256', stdClaims(), { cty: 'JWT', 'x-extra': { a: 1 } }));

// Duplicate members, re-signed so that only the duplicate is wrong.
add('duplicates', 'header with kid twice (same value)', 'duplicate-json-member', (k) => signRaw(k.rsa, 'RS256', '{"alg":"RS256","kid":"rsa-1","kid":"rsa-1"}', stdClaims()));
add('duplicates', 'header with alg twice', 'duplicate-json-member', (k) => signRaw(k.rsa, 'RS256', '{"alg":"none","kid":"rsa-1","alg":"RS256"}', stdClaims()));
add('duplicates', 'claims with sub twice', 'duplicate-json-member', (k) => {
  const c = JSON.stringify(stdClaims({ sub: 'alice' }));
  return signRaw(k.ed, 'EdDSA', { alg: 'EdDSA', kid: 'ed-1' }, `${c.slice(0, -1)},"sub":"admin"}`);
});
add('duplicates', 'claims with exp twice (expired, then valid)', 'duplicate-json-member', (k) => {
  const c = JSON.stringify(stdClaims({ exp: 1 }));
  return signRaw(k.ed, 'EdDSA', { alg: 'EdDSA', kid: 'ed-1' }, `${c.slice(0, -1)},"exp":${String(nowSec() + 600)}}`);
});

// Encoding: padding, non-canonical bits, whitespace, size.
for (const alg of ['RS256', 'PS384', 'ES256', 'EdDSA'] as const) {
  // These signatures are 256 or 64 bytes: 1 mod 3, so 2 characters of padding and 4 unused bits.
  add('encoding', `${alg} signature with = padding`, 'base64-padding', async (k) => `${await mint(keyFor(k, alg), alg, stdClaims())}==`);
  add('encoding', `${alg} signature with unused bits set`, 'non-canonical-base64url', async (k) => {
    const t = await mint(keyFor(k, alg), alg, stdClaims());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = t.slice(-1);
    return t.slice(0, -1) + (alphabet[alphabet.indexOf(last) + 1] ?? 'A');
  });
  add('encoding', `${alg} with a trailing newline`, 'whitespace', async (k) => `${await mint(keyFor(k, alg), alg, stdClaims())}\n`);
}
add('encoding', 'trailing CRLF', 'whitespace', async (k) => `${await mint(k.ec256, 'ES256', stdClaims())}\r\n`);
add('encoding', 'a space inside the signature', 'whitespace', async (k) => {
  const t = await mint(k.ec256, 'ES256', stdClaims());
  return `${t.slice(0, -10)} ${t.slice(-10)}`;
});
add('encoding', 'a tab inside the signature', 'whitespace', async (k) => {
  const t = await mint(k.rsa, 'RS256', stdClaims());
  return `${t.slice(0, -20)}\t${t.slice(-20)}`;
});
add('encoding', 'header padded with = (re-signed)', 'base64-padding', (k) => {
  const h = b64u(JSON.stringify({ alg: 'RS256', kid: 'rsa-1' })); // 29 bytes: one = of padding
  return signSegments(k.rsa, 'RS256', `${h}=`, b64u(JSON.stringify(stdClaims())));
});
add('encoding', 'standard-alphabet signature', 'reject', async (k) => {
  const t = await mint(k.rsa, 'RS256', stdClaims());
  const [h, p, s] = segments(t);
  const std = unb64u(s).toString('base64').replace(/=+$/, '');
  return /[+/]/.test(std) ? `${h}.${p}.${std}` : `${h}.${p}.+${std.slice(1)}`;
});
add('encoding', 'a character outside base64', 'reject', async (k) => `${await mint(k.rsa, 'RS256', stdClaims())}!`);
add('encoding', 'token of 9 KiB', 'token-size-cap', (k) => mint(k.ec256, 'ES256', stdClaims({ pad: 'x'.repeat(9 * 1024) })));
add('encoding', 'token of 20 KiB', 'token-size-cap', (k) => mint(k.ed, 'EdDSA', stdClaims({ pad: 'y'.repeat(20 * 1024) })));

// Shape.
add('shape', 'two segments', 'reject', async (k) => segments(await mint(k.rsa, 'RS256', stdClaims())).slice(0, 2).join('.'));
add('shape', 'four segments', 'reject', async (k) => `${await mint(k.rsa, 'RS256', stdClaims())}.e30`);
add('shape', 'five segments', 'reject', async (k) => `${await mint(k.rsa, 'RS256', stdClaims())}.e30.e30`);
add('shape', 'empty signature', 'reject', async (k) => `${segments(await mint(k.rsa, 'RS256', stdClaims())).slice(0, 2).join('.')}.`);
add('shape', 'empty payload segment, signed', 'reject', (k) => signSegments(k.rsa, 'RS256', b64u(JSON.stringify({ alg: 'RS256', kid: 'rsa-1' })), ''));
for (const [label, payload] of [['an array', '[1]'], ['a string', '"x"'], ['null', 'null'], ['a number', '5'], ['not JSON', 'exp=1'], ['trailing garbage', `${JSON.stringify(stdClaims())} x`]] as const) {
  add('shape', `claims ${label}, signed`, 'reject', (k) => signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, payload));
}
add('shape', 'claims with surrounding whitespace, signed', 'accept', (k) => signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, ` ${JSON.stringify(stdClaims())}\n`));
add('shape', 'header not an object, signed', 'reject', (k) => signRaw(k.rsa, 'RS256', '"RS256"', stdClaims()));
add('shape', 'header without alg, signed', 'reject', (k) => signRaw(k.rsa, 'RS256', { kid: 'rsa-1' }, stdClaims()));
add('shape', 'alg not a string, signed', 'reject', (k) => signRaw(k.rsa, 'RS256', { alg: ['RS256'], kid: 'rsa-1' }, stdClaims()));

// JSON text details.
add('json', 'byte-order mark before the claims', 'byte-order-mark', (k) => signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, `\ufeff${JSON.stringify(stdClaims())}`));
add('json', 'byte-order mark before the header', 'byte-order-mark', (k) => signRaw(k.rsa, 'RS256', '\ufeff{"alg":"RS256","kid":"rsa-1"}', stdClaims()));
add('json', 'invalid UTF-8 inside a claim string', 'reject', (k) => {
  const c = Buffer.from(JSON.stringify(stdClaims({ name: 'XX' })));
  const at = c.indexOf('XX');
  c[at] = 0xff;
  c[at + 1] = 0xfe;
  return signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, c);
});
add('json', 'unpaired surrogate escape in a claim', 'lone-surrogate', (k) => {
  const c = JSON.stringify(stdClaims({ name: 'XX' })).replace('"XX"', '"\\ud800"');
  return signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, c);
});
add('json', 'paired surrogate escapes in a claim', 'accept', (k) => {
  const c = JSON.stringify(stdClaims({ name: 'XX' })).replace('"XX"', '"\\ud83e\\udd80"');
  return signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, c);
});
add('json', 'claims nested 100 deep', 'accept', (k) => {
  const c = JSON.stringify(stdClaims({ deep: 0 })).replace('"deep":0', `"deep":${'['.repeat(100)}${']'.repeat(100)}`);
  return signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, c);
});
add('json', 'claims nested 200 deep', 'json-nesting-depth', (k) => {
  const c = JSON.stringify(stdClaims({ deep: 0 })).replace('"deep":0', `"deep":${'['.repeat(200)}${']'.repeat(200)}`);
  return signRaw(k.rsa, 'RS256', { alg: 'RS256', kid: 'rsa-1' }, c);
});

// crit and JWE members.
add('crit', 'crit ["b64"] with b64 true', 'crit-b64', (k) => signRaw(k.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: ['b64'], b64: true }, stdClaims()));
add('crit', 'crit ["b64"] with b64 false', 'reject', (k) => signRaw(k.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: ['b64'], b64: false }, stdClaims()));
add('crit', 'crit ["exp"]', 'reject', (k) => signRaw(k.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: ['exp'], exp: 1 }, stdClaims()));
add('crit', 'crit ["x-custom"]', 'reject', (k) => signRaw(k.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: ['x-custom'], 'x-custom': 1 }, stdClaims()));
add('crit', 'crit []', 'reject', (k) => signRaw(k.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: [] }, stdClaims()));
add('crit', 'crit not an array', 'reject', (k) => signRaw(k.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', crit: 'b64', b64: true }, stdClaims()));
add('jwe', 'enc in a signed header', 'enc-in-jws-header', (k) => signRaw(k.ec256, 'ES256', { alg: 'ES256', kid: 'ec-256', enc: 'A256GCM' }, stdClaims()));

// Registered claims of the wrong type.
add('claim-types', 'sub a number', 'sub-jti-not-string', (k) => mint(k.ed, 'EdDSA', stdClaims({ sub: 42 })));
add('claim-types', 'sub an object', 'sub-jti-not-string', (k) => mint(k.ed, 'EdDSA', stdClaims({ sub: { id: 'alice' } })));
add('claim-types', 'jti a number', 'sub-jti-not-string', (k) => mint(k.ed, 'EdDSA', stdClaims({ jti: 7 })));
add('claim-types', 'jti a string', 'accept', (k) => mint(k.ed, 'EdDSA', stdClaims({ jti: 'abc' })));

// Several RSA keys: rsa-a (no alg) and rsa-b (alg PS256).
add('multi-key', 'PS256 by rsa-b, kid rsa-b', 'accept', (k) => mint(k.rsaB, 'PS256', stdClaims()), 'multi');
add('multi-key', 'PS384 by rsa-b, kid rsa-b (key pinned to PS256)', 'reject', (k) => mint(k.rsaB, 'PS384', stdClaims()), 'multi');
add('multi-key', 'RS256 by rsa-b, kid rsa-b (key pinned to PS256)', 'reject', (k) => mint(k.rsaB, 'RS256', stdClaims()), 'multi');
add('multi-key', 'PS384 by rsa-a, kid rsa-a', 'accept', (k) => mint(k.rsaA, 'PS384', stdClaims()), 'multi');
add('multi-key', 'RS512 by rsa-a, no kid (one fitting key)', 'accept', (k) => mint(k.rsaA, 'RS512', stdClaims(), { kid: undefined }), 'multi');
add('multi-key', 'PS256 by rsa-a, no kid (two fitting keys)', 'kidless-multiple-keys', (k) => mint(k.rsaA, 'PS256', stdClaims(), { kid: undefined }), 'multi');
add('multi-key', 'PS256 by rsa-b, no kid (two fitting keys)', 'kidless-multiple-keys', (k) => mint(k.rsaB, 'PS256', stdClaims(), { kid: undefined }), 'multi');
add('multi-key', 'PS256 by a stranger, no kid', 'reject', (k) => mint(k.stranger, 'PS256', stdClaims(), { kid: undefined }), 'multi');

// A 1024-bit RSA key in the set (with a good one beside it).
add('weak-key', 'RS256 by the 1024-bit key, its kid', 'reject', (k) => signRaw(k.weak, 'RS256', { alg: 'RS256', kid: 'weak-1024' }, stdClaims()), 'weak');
add('weak-key', 'PS256 by the 1024-bit key, its kid', 'reject', (k) => signRaw(k.weak, 'PS256', { alg: 'PS256', kid: 'weak-1024' }, stdClaims()), 'weak');
add('weak-key', 'RS256 by the 2048-bit key beside it', 'accept', (k) => mint(k.rsa, 'RS256', stdClaims()), 'weak');

// ---------------------------------------------------------------- running

const engines = new TrackedEngines();
let keys: Keys;
const setups = new Map<ConfigName, Setup>();
const POLICY = 'package authz\n\ndefault allow := false\n';

function setup(name: ConfigName, jwks: Jwks, opts: { audience: string | string[]; algorithms: readonly Alg[]; typ?: string }): void {
  const engine = engines.make({
    policies: { 'authz.rego': POLICY },
    token: {
      jwks,
      issuer: ISSUER,
      audience: opts.audience,
      algorithms: [...opts.algorithms],
      clockToleranceSec: 30,
      requiredClaims: ['exp'],
      ...(opts.typ === undefined ? {} : { typ: opts.typ }),
    },
  });
  const options: JWTVerifyOptions = {
    issuer: ISSUER,
    audience: opts.audience,
    algorithms: [...opts.algorithms],
    clockTolerance: 30,
    requiredClaims: ['exp'],
    ...(opts.typ === undefined ? {} : { typ: opts.typ }),
  };
  setups.set(name, { engine, keySet: createLocalJWKSet(jwks), options });
}

beforeAll(async () => {
  const [rsa, ec256, ec384, ed, rsaA, rsaB, stranger] = await Promise.all([
    makeKey('RS256', 'rsa-1'),
    makeKey('ES256', 'ec-256'),
    makeKey('ES384', 'ec-384'),
    makeKey('EdDSA', 'ed-1'),
    makeKey('RS256', 'rsa-a'),
    makeKey('PS256', 'rsa-b', { alg: 'PS256' }),
    makeKey('RS256', 'stranger'),
  ]);
  const weak = makeRsaKeyOfSize('weak-1024', 1024);
  keys = { rsa, ec256, ec384, ed, rsaA, rsaB, weak, stranger };
  setup('default', jwksOf(rsa, ec256, ec384, ed), { audience: AUDIENCE, algorithms: ALL_ALGS });
  setup('pinned', jwksOf(rsa, ec256, ec384, ed), { audience: [AUDIENCE, 'api2'], algorithms: ['ES256', 'EdDSA', 'PS256'], typ: 'at+jwt' });
  setup('multi', jwksOf(rsaA, rsaB), { audience: AUDIENCE, algorithms: ALL_ALGS });
  setup('weak', jwksOf(weak, rsa), { audience: AUDIENCE, algorithms: ALL_ALGS });
});

afterAll(() => {
  engines.closeAll();
});

type Outcome = { ok: true; claims: Record<string, unknown> } | { ok: false; code: string };

async function joseVerdict(s: Setup, token: string): Promise<Outcome> {
  try {
    const { payload } = await jwtVerify(token, s.keySet, s.options);
    return { ok: true, claims: payload };
  } catch (err) {
    const e = err as { code?: unknown; name?: unknown };
    return { ok: false, code: typeof e.code === 'string' ? e.code : String(e.name) };
  }
}

const show = (o: Outcome): string => (o.ok ? 'accept' : `reject (${o.code})`);

const categories = [...new Set(cases.map((c) => c.category))];

describe(`engine vs jose on ${String(cases.length)} generated tokens (seed ${SEED.toString(16)})`, () => {
  it('generates a few hundred cases, exercising every named difference', () => {
    expect(cases.length).toBeGreaterThanOrEqual(300);
    const used = new Set(cases.map((c) => c.expected));
    for (const name of Object.keys(DIFFERENCES)) expect(used, name).toContain(name);
  });

  it.each(categories)('%s', async (category) => {
    const problems: string[] = [];
    let n = 0;
    for (const c of cases.filter((x) => x.category === category)) {
      const s = setups.get(c.config);
      if (s === undefined) throw new Error(`no setup ${c.config}`);
      const token = await c.make(keys);
      const engineOutcome: Outcome = (() => {
        const v = verdictOf(s.engine, token);
        return v.ok ? v : { ok: false, code: v.code };
      })();
      const joseOutcome = await joseVerdict(s, token);
      n++;
      const [wantEngine, wantJose] =
        c.expected === 'accept' || c.expected === 'reject' ? [c.expected, c.expected] : [DIFFERENCES[c.expected].engine, DIFFERENCES[c.expected].jose];
      const got = [engineOutcome.ok ? 'accept' : 'reject', joseOutcome.ok ? 'accept' : 'reject'];
      if (got[0] !== wantEngine || got[1] !== wantJose) {
        problems.push(
          `${c.label} [${c.config}]: expected engine ${wantEngine} / jose ${wantJose}` +
            `${c.expected === wantEngine && c.expected === wantJose ? '' : ` (difference ${c.expected})`}, ` +
            `got engine ${show(engineOutcome)} / jose ${show(joseOutcome)}`,
        );
      } else if (!engineOutcome.ok && c.expected !== 'accept' && c.expected !== 'reject' && engineOutcome.code !== DIFFERENCES[c.expected].code) {
        problems.push(`${c.label}: engine code ${engineOutcome.code}, expected ${String(DIFFERENCES[c.expected].code)}`);
      } else if (engineOutcome.ok && joseOutcome.ok) {
        // Both accepted: they must hand back the same claims.
        try {
          expect(engineOutcome.claims).toEqual(joseOutcome.claims);
        } catch {
          problems.push(`${c.label}: claims differ`);
        }
      }
    }
    expect(n).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });
});
