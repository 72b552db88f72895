#!/usr/bin/env node
// Which way should an input cross the napi boundary: as a JS object
// converted value-by-value by napi (serde_json::Value), or as JSON text
// (JSON.stringify in V8, parsed in Rust)? Measures both on the same engine
// and inputs, in the same run, and prints p50/p99/throughput per input size.
// The TypeScript Engine uses the faster (JSON text) - see src/input.ts.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeFileSync, mkdirSync } from 'node:fs'

import { percentile } from './lib/stats.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const { NativeEngine } = require(join(root, 'native/node/binding.cjs'))

// Decision cache off: every call parses and evaluates, so the boundary cost is what differs.
const engine = new NativeEngine({ policyDir: join(root, 'examples/policies'), watch: false, decisionCacheEntries: 0 })
const small = { user: { id: 'carol', roles: ['viewer'] }, action: 'read', resource: { type: 'document', id: 'doc-2' } }
const medium = { ...small, context: { headers: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x-header-${i}`, `value-${i}-${'v'.repeat(20)}`])), claims: { sub: 'carol', groups: Array.from({ length: 20 }, (_, i) => `group-${i}`) } } }
const large = { ...small, items: Array.from({ length: 500 }, (_, i) => ({ id: `item-${i}`, owner: `user-${i % 17}`, tags: ['a', 'b', 'c'], size: i })) }

function measure(fn, budgetMs = 1500, maxIters = 200_000) {
  for (let i = 0; i < 2000; i++) fn()
  const lat = []
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(budgetMs) * 1_000_000n
  let now = start
  while (lat.length < maxIters && now < deadline) {
    const t = process.hrtime.bigint()
    fn()
    now = process.hrtime.bigint()
    lat.push(Number(now - t))
  }
  const elapsed = Number(now - start)
  lat.sort((a, b) => a - b)
  return { n: lat.length, p50Us: percentile(lat, 50) / 1e3, p99Us: percentile(lat, 99) / 1e3, opsPerSec: lat.length / (elapsed / 1e9) }
}

const rows = []
for (const [name, input] of [['small (RBAC, 120 B)', small], ['medium (2 KB)', medium], ['large (40 KB)', large]]) {
  const json = measure(() => engine.evaluateJson('data.authz.allow', JSON.stringify(input)))
  const value = measure(() => engine.evaluateValue('data.authz.allow', input))
  rows.push({ input: name, bytes: JSON.stringify(input).length, json, value })
}

console.log('\n### Input across the napi boundary: JSON text vs JS object\n')
console.log('| input | bytes | JSON text p50 / p99 (µs) | JS object p50 / p99 (µs) | JSON text ops/s | JS object ops/s | object / text (p50) |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  const f = (x) => x.toFixed(1)
  console.log(`| ${r.input} | ${r.bytes} | ${f(r.json.p50Us)} / ${f(r.json.p99Us)} | ${f(r.value.p50Us)} / ${f(r.value.p99Us)} | ${Math.round(r.json.opsPerSec).toLocaleString('en-US')} | ${Math.round(r.value.opsPerSec).toLocaleString('en-US')} | ${(r.value.p50Us / r.json.p50Us).toFixed(2)}x |`)
}
mkdirSync(join(root, 'bench/results'), { recursive: true })
writeFileSync(join(root, 'bench/results/napi-input.json'), JSON.stringify({ date: new Date().toISOString(), rows }, null, 2))
engine.close()
