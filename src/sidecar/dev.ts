/**
 * The development key set of `coresdk-sidecar --dev`, from Node: the same
 * files the program makes (an Ed25519 `signing-key.pem`, PKCS#8, mode 0600,
 * and the public `jwks.json`), so that a script can mint development tokens
 * of its own (other users, expired ones) for a sidecar started with
 * `--dev --dev-dir <dir>`. `npm run demo` does. None of this is for
 * production.
 *
 * @internal
 * @packageDocumentation
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Issuer and audience of development tokens. */
export const DEV_ISSUER = 'https://dev.coresdk.local';
/** Audience of development tokens. */
export const DEV_AUDIENCE = 'coresdk-dev';

/** What {@link devSetup} made or found. */
export interface DevSetup {
  /** A development token (subject `dev-user`, role `admin`), valid for 12 hours. */
  token: string;
  /** Signs a development token: issuer and audience of the dev set, 12 hours, plus `claims` (which may override them). */
  mint(claims: Record<string, unknown>): string;
  /** Where the key set lives (pass it to `coresdk-sidecar --dev --dev-dir`). */
  dir: string;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** Creates (first use) or reuses the development key set in `dir`, and mints a token. */
export function devSetup(dir: string): DevSetup {
  const keyFile = join(dir, 'signing-key.pem');
  const jwksFile = join(dir, 'jwks.json');
  let key: KeyObject;
  if (existsSync(keyFile)) {
    key = createPrivateKey(readFileSync(keyFile));
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    key = generateKeyPairSync('ed25519').privateKey;
    writeFileSync(keyFile, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const kid = 'coresdk-dev-1';
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...jwk, kid, alg: 'EdDSA', use: 'sig' }] }, null, 2));
  const mint = (claims: Record<string, unknown>): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid }));
    const payload = b64url(JSON.stringify({ iss: DEV_ISSUER, aud: DEV_AUDIENCE, iat: now, exp: now + 12 * 3600, ...claims }));
    const signature = b64url(sign(null, Buffer.from(`${header}.${payload}`), key));
    return `${header}.${payload}.${signature}`;
  };
  return { dir, mint, token: mint({ sub: 'dev-user', roles: ['admin'] }) };
}
