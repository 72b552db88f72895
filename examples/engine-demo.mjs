#!/usr/bin/env node
// `npm run demo:engine`: the CoreSDK engine alone, in process, on the examples/ policy bundle.
// Evaluates each sample input, prints its decision and latency, then shows
// the typed errors that bad input gets, and a latency summary.
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CoreSDKError, Engine } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const cases = JSON.parse(readFileSync(join(here, 'inputs.json'), 'utf8'));
// Decision cache off here, so every latency below is a real evaluation;
// `cached` keeps the default cache to show repeated decisions.
const engine = new Engine({ policyDir: join(here, 'policies'), watch: false, decisionCacheEntries: 0 });

const us = (ns) => (Number(ns) / 1000).toFixed(1);
const pad = (s, n) => String(s).padEnd(n);
const time = (fn) => {
  const t = process.hrtime.bigint();
  const out = fn();
  return [out, process.hrtime.bigint() - t];
};

// First calls build each pooled evaluator; warm up before timing.
for (let i = 0; i < 200; i++) for (const c of cases) engine.evaluatePolicySync(c.query, c.input);

console.log(`CoreSDK engine demo: bundle examples/policies, revision ${engine.revision}\n`);
console.log(`${pad('request', 36)} ${pad('query', 20)} ${pad('decision', 28)} latency`);
console.log(`${'-'.repeat(36)} ${'-'.repeat(20)} ${'-'.repeat(28)} -------`);
for (const c of cases) {
  const [d, ns] = time(() => engine.evaluatePolicySync(c.query, c.input));
  const decision = !d.defined ? 'undefined (deny)' : d.value === true ? 'ALLOW' : d.value === false ? 'deny' : JSON.stringify(d.value);
  console.log(`${pad(c.name, 36)} ${pad(c.query, 20)} ${pad(decision, 28)} ${us(ns)} µs`);
}

console.log('\nBad input gets a typed error, and the next call is served:');
const cyclic = {};
cyclic.self = cyclic;
let deep = {};
for (let i = 0; i < 10_000; i++) deep = { a: deep };
const bad = [
  ['unknown rule path', 'data.authz.alow', {}],
  ['invalid query', 'x := := 1', {}],
  ['function in input', 'data.authz.allow', { callback: () => 1 }],
  ['cyclic input', 'data.authz.allow', cyclic],
  ['input nested 10,000 deep', 'data.authz.allow', deep],
];
for (const [name, query, input] of bad) {
  try {
    engine.evaluatePolicySync(query, input);
    console.log(`  ${pad(name, 26)} (no error?)`);
  } catch (err) {
    if (!(err instanceof CoreSDKError)) throw err;
    console.log(`  ${pad(name, 26)} ${pad(err.code, 20)} ${err.message.slice(0, 70)}`);
  }
}
console.log(`  ${pad('isAllowedSync after errors', 26)} ${engine.isAllowedSync(cases[0].query, cases[0].input)}`);

// --- Bearer tokens: verify and decide in one call. A key made here, a JWT
// signed with node:crypto; the policy reads the verified claims.
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'demo', alg: 'EdDSA', use: 'sig' };
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const mint = (claims) => {
  const input = `${b64({ alg: 'EdDSA', kid: 'demo', typ: 'JWT' })}.${b64({ iss: 'demo-idp', aud: 'demo-api', iat: now, exp: now + 600, ...claims })}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
};
const authz = new Engine({
  policyDir: join(here, 'policies'),
  watch: false,
  token: { jwks: { keys: [jwk] }, issuer: 'demo-idp', audience: 'demo-api' },
});
const editor = mint({ sub: 'erin', roles: ['editor'] });
const tokens = [
  ['editor writes a document', editor, { action: 'write', resource: { type: 'document', id: 'doc-2' } }],
  ['editor writes an invoice', editor, { action: 'write', resource: { type: 'invoice', id: 'inv-1' } }],
  ['expired token', mint({ sub: 'erin', roles: ['admin'], exp: now - 3600 }), { action: 'read', resource: { type: 'document', id: 'doc-1' } }],
  ['claims tampered to admin', `${editor.split('.')[0]}.${b64({ iss: 'demo-idp', aud: 'demo-api', exp: now + 600, sub: 'erin', roles: ['admin'] })}.${editor.split('.')[2]}`, { action: 'delete', resource: { type: 'invoice', id: 'inv-1' } }],
  ['alg none', `${b64({ alg: 'none' })}.${b64({ sub: 'root', roles: ['admin'], exp: now + 600 })}.`, { action: 'delete', resource: { type: 'invoice', id: 'inv-1' } }],
  ['no token', '', { action: 'read', resource: { type: 'document', id: 'doc-1' } }],
];
console.log(`\nauthorize(token, { query: 'data.authz.allow', input }): verify, then decide with input.claims\n`);
console.log(`${pad('request', 28)} ${pad('result', 46)} latency`);
console.log(`${'-'.repeat(28)} ${'-'.repeat(46)} -------`);
for (const [name, token, input] of tokens) {
  authz.authorizeSync(token, { query: 'data.authz.allow', input });
  const [r, ns] = time(() => authz.authorizeSync(token, { query: 'data.authz.allow', input }));
  const result = r.allowed ? `ALLOW (sub ${r.claims.sub})` : `deny: ${r.reason}${r.error?.rfc6750Error ? ' -> 401 invalid_token' : ''}`;
  console.log(`${pad(name, 28)} ${pad(result, 46)} ${us(ns)} µs`);
}
authz.close();

const N = 20_000;
const input = cases[1].input;
const cached = new Engine({ policyDir: join(here, 'policies'), watch: false });
const measure = (e) => {
  const lat = new Array(N);
  for (let i = 0; i < 2_000; i++) e.evaluatePolicySync('data.authz.allow', input);
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    e.evaluatePolicySync('data.authz.allow', input);
    lat[i] = process.hrtime.bigint() - t;
  }
  lat.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `p50 ${us(lat[N >> 1])} µs, p99 ${us(lat[Math.floor(N * 0.99)])} µs`;
};
console.log(`\nevaluatePolicySync, ${N.toLocaleString()} calls: every call evaluated: ${measure(engine)}; repeated input from the decision cache: ${measure(cached)}`);
const started = process.hrtime.bigint();
await Promise.all(Array.from({ length: 2_000 }, () => engine.evaluatePolicy('data.authz.allow', input)));
const asyncNs = process.hrtime.bigint() - started;
console.log(`evaluatePolicy (async, 2,000 concurrent): ${Math.round(2000 / (Number(asyncNs) / 1e9)).toLocaleString()} decisions/s`);
console.log('Full comparison against opa-wasm: npm run bench (docs/benchmarks.md).');
cached.close();
engine.close();
