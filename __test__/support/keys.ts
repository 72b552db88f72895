/**
 * Key pairs, key sets and tokens for the token-verification suites.
 *
 * Well-formed tokens are minted with jose's `SignJWT` (jose is the tests'
 * independent second opinion); attack tokens are crafted byte by byte and
 * signed with node:crypto, which also signs with keys jose refuses (a
 * 1024-bit RSA key) and with any hash an RSA key may use.
 */
import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

/** The algorithms CoreSDK accepts. */
export type Alg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'EdDSA';
/** Every accepted algorithm. */
export const ALL_ALGS: readonly Alg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/** Key families, as the verifier sees them. */
export type Family = 'RSA' | 'P-256' | 'P-384' | 'Ed25519';

/** The key family an algorithm needs. */
export function familyOf(alg: Alg): Family {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return 'RSA';
  if (alg === 'ES256') return 'P-256';
  if (alg === 'ES384') return 'P-384';
  return 'Ed25519';
}

/** The algorithms a family can sign with. */
export function algsOf(family: Family): Alg[] {
  return ALL_ALGS.filter((a) => familyOf(a) === family);
}

/** A JSON Web Key Set. */
// A type alias (not an interface) so that it is assignable to `Record<string, unknown>`.
export type Jwks = { keys: JWK[] };

/** A signing key with its public JWK. */
export interface TestKey {
  /** The `kid` in the JWK (and in the tokens minted by {@link mint}). */
  readonly kid: string;
  readonly family: Family;
  /** The public JWK, with `kid` and `use: "sig"` (plus any extra members). */
  readonly jwk: JWK;
  /** The public key as a PEM SPKI document. */
  readonly publicPem: string;
  /** node:crypto private key, for raw signing. */
  readonly privateKey: KeyObject;
  /** The private JWK (never put in a key set). */
  readonly privateJwk: JWK;
}

/**
 * A fresh key pair made by jose (`generateKeyPair(..., { extractable: true })`,
 * `exportJWK`). `alg` picks the family (RS256/PS256: RSA 2048); `extra` is
 * merged into the public JWK (e.g. `{ alg: 'PS256' }` to pin it).
 */
export async function makeKey(alg: 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA', kid: string, extra: Partial<JWK> = {}): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const pub = await exportJWK(publicKey);
  const priv = await exportJWK(privateKey);
  const family: Family = alg === 'RS256' || alg === 'PS256' ? 'RSA' : familyOf(alg);
  const nodePrivate = createPrivateKey({ key: priv as JsonWebKey, format: 'jwk' });
  return {
    kid,
    family,
    jwk: { ...pub, kid, use: 'sig', ...extra },
    publicPem: createPublicKey(nodePrivate).export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: nodePrivate,
    privateJwk: priv,
  };
}

/**
 * An RSA key of `bits` bits made by node:crypto (jose refuses to sign with
 * fewer than 2048 bits; {@link signRaw} does not).
 */
export function makeRsaKeyOfSize(kid: string, bits: number): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  const pub: JWK = publicKey.export({ format: 'jwk' });
  return {
    kid,
    family: 'RSA',
    jwk: { ...pub, kid, use: 'sig' },
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
    privateJwk: privateKey.export({ format: 'jwk' }),
  };
}

/** A key set of the keys' public JWKs. */
export function jwksOf(...keys: TestKey[]): Jwks {
  return { keys: keys.map((k) => ({ ...k.jwk })) };
}

// ------------------------------------------------------------------ base64url

/** base64url without padding. */
export function b64u(data: Uint8Array | string): string {
  return Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64url');
}

/** Decodes base64url (Node's decoder: lenient, test side only). */
export function unb64u(text: string): Buffer {
  return Buffer.from(text, 'base64url');
}

/** The three segments of a compact token. */
export function segments(token: string): [string, string, string] {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`not a 3-segment token: ${String(parts.length)} segments`);
  return [parts[0] ?? '', parts[1] ?? '', parts[2] ?? ''];
}

/** The decoded (JSON) header of a compact token. */
export function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(unb64u(segments(token)[0]).toString('utf8')) as Record<string, unknown>;
}

// ------------------------------------------------------------------ signing

const HASH: Record<Alg, string | null> = {
  RS256: 'sha256', RS384: 'sha384', RS512: 'sha512',
  PS256: 'sha256', PS384: 'sha384', PS512: 'sha512',
  ES256: 'sha256', ES384: 'sha384', EdDSA: null,
};

/** Signs `input` as JWS `alg` with node:crypto (raw JOSE signature bytes). */
export function rawSignature(key: TestKey | KeyObject, alg: Alg, input: string): Buffer {
  const privateKey = 'privateKey' in key ? key.privateKey : key;
  const data = Buffer.from(input, 'ascii');
  const hash = HASH[alg];
  if (alg.startsWith('PS')) {
    return sign(hash, data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  }
  if (alg.startsWith('ES')) return sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return sign(hash, data, privateKey);
}

/**
 * A token crafted byte by byte: `header` and `payload` are objects (JSON
 * encoded) or raw JSON text (to express duplicate members, odd numbers,
 * invalid UTF-8...), or raw bytes. Signed over the exact segments with `alg`.
 */
export function signRaw(
  key: TestKey | KeyObject,
  alg: Alg,
  header: object | string | Uint8Array,
  payload: object | string | Uint8Array,
): string {
  const enc = (v: object | string | Uint8Array): string =>
    v instanceof Uint8Array ? b64u(v) : b64u(typeof v === 'string' ? v : JSON.stringify(v));
  const input = `${enc(header)}.${enc(payload)}`;
  return `${input}.${b64u(rawSignature(key, alg, input))}`;
}

/** Signs already-encoded segments (`h64.p64`), returning the full token. */
export function signSegments(key: TestKey | KeyObject, alg: Alg, h64: string, p64: string): string {
  const input = `${h64}.${p64}`;
  return `${input}.${b64u(rawSignature(key, alg, input))}`;
}

/** An HMAC-SHA256 "signature" with `secret` (the algorithm-confusion attack). */
export function hs256(secret: string | Uint8Array, header: object, payload: object): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${b64u(createHmac('sha256', secret).update(input).digest())}`;
}

type JoseKey = Awaited<ReturnType<typeof importJWK>>;
const joseKeys = new WeakMap<TestKey, Map<Alg, Promise<JoseKey>>>();

function joseSigningKey(key: TestKey, alg: Alg): Promise<JoseKey> {
  let byAlg = joseKeys.get(key);
  if (byAlg === undefined) {
    byAlg = new Map();
    joseKeys.set(key, byAlg);
  }
  let k = byAlg.get(alg);
  if (k === undefined) {
    k = importJWK({ ...key.privateJwk, alg }, alg);
    byAlg.set(alg, k);
  }
  return k;
}

/**
 * A well-formed JWT minted by jose's `SignJWT`: header `{ alg, kid, typ: 'JWT' }`
 * plus `header` (a `kid: undefined` there removes the kid).
 */
export async function mint(key: TestKey, alg: Alg, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const h: Record<string, unknown> = { alg, kid: key.kid, typ: 'JWT', ...header };
  for (const name of Object.keys(h)) if (h[name] === undefined) Reflect.deleteProperty(h, name);
  return new SignJWT(claims).setProtectedHeader(h as { alg: string }).sign(await joseSigningKey(key, alg));
}

// ------------------------------------------------------------------ claims

/** Seconds since the epoch, now. */
export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'api';

/** Typical claims: issuer, audience, subject, ten minutes of life. */
export function stdClaims(overrides: Record<string, unknown> = {}): JWTPayload {
  const now = nowSec();
  const c: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: now, exp: now + 600, ...overrides };
  for (const name of Object.keys(c)) if (c[name] === undefined) Reflect.deleteProperty(c, name);
  return c;
}

/** A raw `r || s` ECDSA signature re-encoded as ASN.1 DER (what some libraries wrongly emit). */
export function derFromRaw(raw: Uint8Array): Buffer {
  const half = raw.length / 2;
  const int = (b: Uint8Array): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = Buffer.from(b.subarray(i));
    if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

// ------------------------------------------------------------------ randomness

/** A small seeded PRNG (mulberry32), so generated suites are reproducible. */
export function seeded(seed: number): { next: () => number; int: (n: number) => number; pick: <T>(xs: readonly T[]) => T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(xs: readonly T[]): T => {
      const v = xs[int(xs.length)];
      if (v === undefined) throw new Error('pick from an empty list');
      return v;
    },
  };
}

/** Every letter-case spelling of `word` (e.g. all 16 of `none`). */
export function caseVariants(word: string): string[] {
  const out: string[] = [];
  for (let mask = 0; mask < 1 << word.length; mask++) {
    out.push(Array.from(word, (c) => c).map((c, i) => ((mask >> i) & 1 ? c.toUpperCase() : c.toLowerCase())).join(''));
  }
  return out;
}
