/**
 * One answer on every path: the value corpus (clients/conformance/values.json,
 * big integers, `time.*_ns`, floats, -0, deep objects, sets, unicode)
 * evaluated in-process (sync and async, `authorize`) and through a real
 * sidecar over mutual TLS (`EvaluatePolicy`, `EvaluatePolicies`,
 * `Authorize`) must give the same JavaScript value, and that value must be
 * the corpus's JSON text parsed by the documented rule (docs/engine.md,
 * "Values on every path"). The Python, Go and Java clients run the same
 * corpus in their own suites.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreSDKClient, Engine, parseEngineJson, toJsonText } from '../dist/index.js';
import { root } from './helpers.js';
import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, nowSec, type TestKey } from './support/keys.js';
import { makeMtlsPki, type MtlsPki } from './support/mtls.js';
import { startSidecar, type SidecarProc } from './support/sidecar.js';

interface Corpus {
  bundle: string;
  cases: Array<{ query: string; json?: string; undefined?: true }>;
}

const CORPUS = JSON.parse(readFileSync(join(root, 'clients', 'conformance', 'values.json'), 'utf8')) as Corpus;
const BUNDLE = join(root, 'clients', 'conformance', CORPUS.bundle);

let dir: string;
let pki: MtlsPki;
let key: TestKey;
let sidecar: SidecarProc;
let engine: Engine;
let client: CoreSDKClient;

/** Deep equality that tells -0 from 0 and a bigint from a number. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, (b as unknown[])[i]));
  if (a !== null && typeof a === 'object') {
    if (b === null || Array.isArray(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b as object);
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coresdk-values-'));
  pki = makeMtlsPki(dir);
  key = await makeKey('ES256', 'k1');
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  const token = { jwksFile: join(dir, 'jwks.json'), issuer: ISSUER, audience: AUDIENCE };
  sidecar = await startSidecar([], {
    CORESDK_SIDECAR_ADDR: '[::1]:0',
    CORESDK_POLICY_DIR: BUNDLE,
    CORESDK_JWKS_FILE: token.jwksFile,
    CORESDK_ISSUER: ISSUER,
    CORESDK_AUDIENCE: AUDIENCE,
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
  });
  engine = new Engine({ policyDir: BUNDLE, watch: false, token });
  client = new CoreSDKClient({ sidecarAddr: sidecar.addr, tls: { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'localhost' } });
}, 120_000);

afterAll(async () => {
  client.close();
  engine.close();
  sidecar.kill();
  await sidecar.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe('values on every path', () => {
  it('the corpus covers what the issue names', () => {
    const texts = CORPUS.cases.map((c) => c.json ?? '');
    expect(texts).toContain('9007199254740993');
    expect(texts).toContain('-0.0');
    expect(texts.some((t) => t.includes('😀'))).toBe(true);
    expect(CORPUS.cases.length).toBeGreaterThan(20);
  });

  it('in-process (sync, async, authorize) and the sidecar (EvaluatePolicy, EvaluatePolicies, Authorize) give one value per case', async () => {
    const token = await mint(key, 'ES256', { iss: ISSUER, aud: AUDIENCE, sub: 'u1', exp: nowSec() + 300 });
    const batch = await client.evaluatePolicies(CORPUS.cases.map((c) => ({ query: c.query, input: {} })));
    for (const [i, c] of CORPUS.cases.entries()) {
      const expected = c.undefined === true ? undefined : parseEngineJson(c.json ?? 'null');
      const item = batch[i];
      const paths: Record<string, { defined: boolean; value: unknown }> = {
        'Engine.evaluatePolicySync': engine.evaluatePolicySync(c.query, {}),
        'Engine.evaluatePolicySync (repeat)': engine.evaluatePolicySync(c.query, {}),
        'Engine.evaluatePolicy': await engine.evaluatePolicy(c.query, {}),
        'Engine.authorizeSync': engine.authorizeSync(token, { query: c.query, input: {} }),
        'Engine.authorize': await engine.authorize(token, { query: c.query, input: {} }),
        'CoreSDKClient.evaluatePolicy (sidecar)': await client.evaluatePolicy(c.query, {}),
        'CoreSDKClient.evaluatePolicies (sidecar)': item?.ok === true ? item.decision : { defined: false, value: 'batch item failed' },
        'CoreSDKClient.authorize (sidecar)': await client.authorize(token, { query: c.query, input: {} }),
      };
      for (const [path, d] of Object.entries(paths)) {
        expect(d.defined, `${c.query} via ${path}`).toBe(c.undefined !== true);
        expect(same(d.value, expected), `${c.query} via ${path}: ${toJsonText(d.value)} (${typeof d.value}), expected ${c.json ?? 'undefined'}`).toBe(true);
      }
    }
  });

  it('integers beyond 2^53 are bigint with every digit; safe integers and floats are numbers', () => {
    const v = (q: string): unknown => engine.evaluatePolicySync(`data.values.${q}`, {}).value;
    expect(v('big')).toBe(9007199254740993n);
    expect(v('neg_big')).toBe(-9007199254740993n);
    expect(v('u64_max')).toBe(18446744073709551615n);
    expect(typeof v('ns')).toBe('bigint');
    expect(v('safe_max')).toBe(Number.MAX_SAFE_INTEGER);
    expect(v('sixteen_digits')).toBe(9_000_000_000_000_000);
    expect(Object.is(v('neg_zero'), -0)).toBe(true);
    expect(v('float_sum')).toBe(0.75);
    expect(v('beyond_u64')).toBe(1e30);
  });

  it('toJsonText writes every value exactly where JSON.stringify throws', () => {
    const mixed = engine.evaluatePolicySync('data.values.mixed', {}).value;
    expect(() => JSON.stringify(mixed)).toThrow(TypeError);
    expect(toJsonText(mixed)).toBe('[9007199254740993,1,{"k":12345678901234567890,"n":-1}]');
    for (const c of CORPUS.cases) {
      if (c.json === undefined || c.json === '-0.0') continue;
      expect(parseEngineJson(toJsonText(parseEngineJson(c.json))), c.query).toEqual(parseEngineJson(c.json));
    }
    expect(toJsonText(undefined)).toBe('null');
  });
});
