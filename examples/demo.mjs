#!/usr/bin/env node
// `npm run demo`: the CoreSDK engine on the examples/ policy bundle.
// Evaluates each sample input, prints its decision and latency, then shows
// the typed errors that bad input gets, and a latency summary.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CoreSDKError, Engine } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const cases = JSON.parse(readFileSync(join(here, 'inputs.json'), 'utf8'));
const engine = new Engine({ policyDir: join(here, 'policies'), watch: false });

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

const N = 20_000;
const lat = new Array(N);
const input = cases[1].input;
for (let i = 0; i < N; i++) {
  const t = process.hrtime.bigint();
  engine.evaluatePolicySync('data.authz.allow', input);
  lat[i] = process.hrtime.bigint() - t;
}
lat.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const started = process.hrtime.bigint();
await Promise.all(Array.from({ length: 2_000 }, () => engine.evaluatePolicy('data.authz.allow', input)));
const asyncNs = process.hrtime.bigint() - started;
console.log(
  `\nevaluatePolicySync over ${N.toLocaleString()} calls: p50 ${us(lat[N >> 1])} µs, p99 ${us(lat[Math.floor(N * 0.99)])} µs` +
    `; evaluatePolicy (async, 2,000 concurrent): ${Math.round(2000 / (Number(asyncNs) / 1e9)).toLocaleString()} decisions/s`,
);
console.log('Full comparison against opa-wasm: npm run bench (docs/benchmarks.md).');
engine.close();
