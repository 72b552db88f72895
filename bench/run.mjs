#!/usr/bin/env node
// `npm run bench` entry point: prepares tools and artifacts, then runs each benchmark in its own
// Node process (so one bench's JIT state, heap and worker threads never colour the next).
//
// Usage: node bench/run.mjs [bench-name …]     e.g. `node bench/run.mjs policy`
// To add a benchmark: write bench/<name>.bench.mjs (markdown on stdout, JSON in bench/results/)
// and append it to `benches` below.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureOpa } from './tools/ensure-opa.mjs'
import { buildWasm } from './tools/build-wasm.mjs'

const benchDir = dirname(fileURLToPath(import.meta.url))

/** Steps run once before any benchmark, in order. */
const setup = [
  { name: 'ensure-opa', run: () => process.stderr.write(`[run] opa: ${ensureOpa()}\n`) },
  { name: 'build-wasm', run: () => buildWasm() },
]

/** Benchmarks, in order. `needs` lists setup steps they depend on. */
const benches = [
  { name: 'policy', script: 'policy.bench.mjs', needs: ['ensure-opa', 'build-wasm'] },
  { name: 'napi-input', script: 'napi-input.bench.mjs', needs: [] },
  { name: 'token', script: 'token.bench.mjs', needs: ['ensure-opa', 'build-wasm'] },
  { name: 'sidecar', script: 'sidecar.bench.mjs', needs: ['ensure-opa'] },
  { name: 'middleware', script: 'middleware.bench.mjs', needs: [] },
  { name: 'pii', script: 'pii.bench.mjs', needs: [] },
]

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !benches.some((b) => b.name === w))
if (unknown.length) {
  console.error(`[run] unknown bench ${unknown.join(', ')}; known: ${benches.map((b) => b.name).join(', ')}`)
  process.exit(2)
}
const selected = wanted.length ? benches.filter((b) => wanted.includes(b.name)) : benches
const needed = new Set(selected.flatMap((b) => b.needs ?? []))

for (const step of setup) {
  if (!needed.has(step.name)) continue
  try {
    step.run()
  } catch (err) {
    console.error(`[run] setup step ${step.name} failed: ${err.message}`)
    process.exit(1)
  }
}

let failed = 0
for (const b of selected) {
  process.stderr.write(`[run] ${b.name}: node bench/${b.script}\n`)
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [join(benchDir, b.script)], { stdio: 'inherit' })
  const secs = ((Date.now() - t0) / 1000).toFixed(1)
  if (r.status !== 0) {
    failed++
    console.error(`[run] ${b.name} failed (exit ${r.status ?? r.signal}) after ${secs}s`)
  } else {
    process.stderr.write(`[run] ${b.name} done in ${secs}s\n`)
  }
}
process.exit(failed ? 1 : 0)
