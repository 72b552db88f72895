/**
 * Development defaults for `coresdk-sidecar --dev` (`npm start`): the
 * example policy bundle, a development key set generated on first start,
 * and insecure-dev on loopback.
 *
 * The key set lives in `.coresdk/dev/` under the working directory: an
 * Ed25519 private key (mode 0600) that never leaves the machine, and the
 * public JWKS the sidecar verifies against. A token signed with it is
 * printed at start so that a newcomer can call `Authorize` at once. The
 * AuthZEN API is served too, over plaintext HTTP on loopback
 * ({@link DEV_AUTHZEN_ADDR}), by the example policy's `authzen` package.
 * None of this is for production: `--dev` implies `--insecure-dev`.
 *
 * @internal
 * @packageDocumentation
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { PACKAGE_ROOT } from '../paths.js';

/** Issuer and audience of development tokens. */
export const DEV_ISSUER = 'https://dev.coresdk.local';
/** Audience of development tokens. */
export const DEV_AUDIENCE = 'coresdk-dev';

/** Where `--dev` serves AuthZEN unless `--authzen-addr` or the variable says otherwise. */
export const DEV_AUTHZEN_ADDR = '[::1]:50080';

/**
 * Where `--dev` serves AuthZEN when nothing says: {@link DEV_AUTHZEN_ADDR} with the default gRPC
 * address, else a free port on the gRPC address's host (loopback for a unix socket), so that
 * several development sidecars started with `--addr` (tests, examples) never collide on a port.
 */
export function devAuthzenAddr(grpcAddr: string | undefined): string {
  if (grpcAddr === undefined) return DEV_AUTHZEN_ADDR;
  if (grpcAddr.startsWith('unix:')) return '[::1]:0';
  const i = grpcAddr.lastIndexOf(':');
  return i > 0 ? `${grpcAddr.slice(0, i)}:0` : '[::1]:0';
}

/**
 * Defaults of `--dev` that flags and the environment may override: the AuthZEN search rules (the
 * example policy's), and any query from clients, general queries included (outside `--dev` only
 * the bundle's rules are served; docs/security.md).
 */
export const DEV_AUTHZEN_DEFAULTS: Readonly<Record<string, string>> = {
  CORESDK_SIDECAR_ALLOWED_QUERIES: '*',
  CORESDK_SIDECAR_AUTHZEN_SEARCH_SUBJECT_QUERY: 'data.authzen.search_subjects',
  CORESDK_SIDECAR_AUTHZEN_SEARCH_RESOURCE_QUERY: 'data.authzen.search_resources',
  CORESDK_SIDECAR_AUTHZEN_SEARCH_ACTION_QUERY: 'data.authzen.search_actions',
};

/** The package's root (where `examples/` is). */
export function packageRoot(): string {
  return PACKAGE_ROOT;
}

/** What `--dev` sets up. */
export interface DevSetup {
  /** `CORESDK_*` variables for the development defaults. */
  vars: Record<string, string>;
  /** A development token (subject `dev-user`, role `admin`), valid for 12 hours. */
  token: string;
  /** Signs a development token: issuer and audience of the dev set, 12 hours, plus `claims` (which may override them). */
  mint(claims: Record<string, unknown>): string;
  /** Where the key set lives. */
  dir: string;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** Creates (first start) or reuses the development key set, and mints a token. */
export function devSetup(cwd: string = process.cwd()): DevSetup {
  const dir = join(cwd, '.coresdk', 'dev');
  const keyFile = join(dir, 'signing-key.pem');
  const jwksFile = join(dir, 'jwks.json');
  let key: KeyObject;
  if (existsSync(keyFile) && existsSync(jwksFile)) {
    key = createPrivateKey(readFileSync(keyFile));
  } else {
    mkdirSync(dir, { recursive: true });
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
  return {
    dir,
    mint,
    token: mint({ sub: 'dev-user', roles: ['admin'] }),
    vars: {
      CORESDK_POLICY_DIR: join(packageRoot(), 'examples', 'policies'),
      CORESDK_JWKS_FILE: jwksFile,
      CORESDK_ISSUER: DEV_ISSUER,
      CORESDK_AUDIENCE: DEV_AUDIENCE,
      CORESDK_SIDECAR_INSECURE_DEV: 'true',
    },
  };
}
