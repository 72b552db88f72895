#!/usr/bin/env node
// Policy evaluation: CoreSDK (regorus via napi) side by side with @open-policy-agent/opa-wasm,
// same bundles, same inputs, same run.
//
// For every policy in bench/policies/index.mjs it measures
//   opa-wasm   policy.evaluate(input)                      1 thread, then 2 worker threads
//   CoreSDK    engine.evaluatePolicySync(query, input)     1 thread, then 2 worker threads
//   CoreSDK    await engine.evaluatePolicy(query, input)   1 thread, N calls in flight
// Each worker thread owns its own engine / policy instance. Before timing, every engine's decision
// on every input is checked against `opa eval` (tools/build-wasm.mjs records it); any difference
// aborts the run.
//
// Prerequisite: node bench/tools/build-wasm.mjs (bench/run.mjs does it). CoreSDK rows need
// dist/index.js and the native addon; without them only the opa-wasm rows are measured.
//
// Settings (env): BENCH_TIME_MS (2000) BENCH_MAX_ITERS (1e6) BENCH_WARMUP_MS (300)
//   BENCH_WARMUP_ITERS (2000) BENCH_ASYNC_CONCURRENCY (16) BENCH_POOL_SIZE (engine default)
//   BENCH_POLICIES=rbac,abac (subset) BENCH_REQUIRE_CORESDK=1 (fail instead of skipping CoreSDK)
// Output: a markdown table on stdout, JSON in bench/results/policy.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import {
  createCoreSdk, createOpaWasm, importCoreSdk, loadArtifacts, normalizeCoreSdk, normalizeOpaWasm, repoRoot,
  runAsync, runSync, settings as readSettings, verifyDecisions,
} from './lib/harness.mjs'
import { fmtOps, fmtRatio, fmtUs, machineInfo, markdownTable, summarize } from './lib/stats.mjs'
import { policies as allPolicies } from './policies/index.mjs'
import { OPA_VERSION } from './tools/ensure-opa.mjs'

const benchDir = dirname(fileURLToPath(import.meta.url))
const wasmDir = join(benchDir, '.wasm')
const resultsFile = join(benchDir, 'results', 'policy.json')
const workerUrl = new URL('./lib/policy-worker.mjs', import.meta.url)

const log = (msg) => process.stderr.write(`[policy.bench] ${msg}\n`)

/** Runs `threads` workers of one engine concurrently; resolves to their per-thread samples. */
async function runWorkers(threads, workerData) {
  const barrier = new SharedArrayBuffer(8)
  const flag = new Int32Array(barrier)
  const workers = []
  const done = []
  const ready = []
  for (let t = 0; t < threads; t++) {
    const w = new Worker(workerUrl, { workerData: { ...workerData, barrier } })
    workers.push(w)
    ready.push(new Promise((res, rej) => {
      w.on('message', (m) => m.type === 'ready' && res())
      w.once('error', rej)
    }))
    done.push(new Promise((res, rej) => {
      w.on('message', (m) => m.type === 'done' && res(m))
      w.once('error', rej)
      w.once('exit', (code) => code !== 0 && rej(new Error(`worker exited with code ${code}`)))
    }))
  }
  try {
    await Promise.all(ready)
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
    return (await Promise.all(done)).map((m, t) => ({ ...m, thread: t }))
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

async function main() {
  const settings = readSettings()
  const load = loadavg()[0]
  if (load > 0.5) log(`warning: 1-minute load average is ${load.toFixed(2)}; other processes will skew the numbers`)
  const only = process.env.BENCH_POLICIES?.split(',').map((s) => s.trim()).filter(Boolean)
  const policies = only ? allPolicies.filter((p) => only.includes(p.name)) : allPolicies
  if (policies.length === 0) throw new Error(`BENCH_POLICIES=${process.env.BENCH_POLICIES} matches no policy`)

  const core = await importCoreSdk()
  if (core.error) {
    if (process.env.BENCH_REQUIRE_CORESDK === '1') throw new Error(`CoreSDK unavailable: ${core.error}`)
    log(`CoreSDK unavailable, measuring opa-wasm only: ${core.error}`)
  }
  const opaWasmVersion = JSON.parse(
    readFileSync(join(repoRoot, 'node_modules', '@open-policy-agent', 'opa-wasm', 'package.json'), 'utf8'),
  ).version
  const coreVersion = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version

  const rows = []
  for (const policy of policies) {
    const art = loadArtifacts(policy, wasmDir)
    const { inputs, expected } = art
    const mk = (engine, api, threads, concurrency, parts) => {
      const s = summarize(parts)
      const row = { policy: policy.name, engine, api, threads, concurrency, ...s }
      rows.push(row)
      log(`${policy.name.padEnd(8)} ${`${engine} ${api}`.padEnd(36)} ${threads}T c=${concurrency}  p50 ${fmtUs(s.p50Us)} µs  p99 ${fmtUs(s.p99Us)} µs  ${fmtOps(s.opsPerSec)} ops/s  (n=${s.n})`)
      return row
    }

    // --- verify every engine against opa's reference decisions before timing anything
    const opa = await createOpaWasm(art.wasm, art.data)
    await verifyDecisions(`opa-wasm ${policy.name}`, (i) => normalizeOpaWasm(opa.evaluate(i)), inputs, expected)
    let engine = null
    let cachedEngine = null
    if (!core.error) {
      engine = createCoreSdk(core.Engine, policy.dir, settings.poolSize)
      cachedEngine = createCoreSdk(core.Engine, policy.dir, settings.poolSize, true)
      await verifyDecisions(`CoreSDK cached ${policy.name}`, (i) => normalizeCoreSdk(cachedEngine.evaluatePolicySync(policy.query, i)), inputs, expected)
      await verifyDecisions(`CoreSDK sync ${policy.name}`, (i) => normalizeCoreSdk(engine.evaluatePolicySync(policy.query, i)), inputs, expected)
      await verifyDecisions(`CoreSDK async ${policy.name}`, async (i) => normalizeCoreSdk(await engine.evaluatePolicy(policy.query, i)), inputs, expected)
    }
    log(`${policy.name}: ${inputs.length} inputs, ${expected.filter((d) => d.value === true).length} allow / ${expected.filter((d) => d.value !== true).length} deny; engines agree with opa`)

    // --- timed cells. The engines take turns: each round runs every cell for timeMs / rounds, so
    // load that drifts during the run (other processes, thermal state) lands on all of them alike.
    const q = policy.query
    const c = settings.asyncConcurrency
    const per = { ...settings, timeMs: Math.max(1, Math.round(settings.timeMs / settings.rounds)), maxIters: Math.ceil(settings.maxIters / settings.rounds) }
    const wd = { policy, wasm: art.wasm, data: art.data, inputs, expected, settings: { ...per, workerPoolSize: 1 } }
    const cells = [
      { engine: 'opa-wasm', api: 'evaluate', threads: 1, concurrency: 1, run: async () => [runSync((i) => opa.evaluate(i), inputs, per)] },
      engine && { engine: 'CoreSDK', api: 'evaluatePolicySync', threads: 1, concurrency: 1, run: async () => [runSync((i) => engine.evaluatePolicySync(q, i), inputs, per)] },
      engine && { engine: 'CoreSDK', api: 'evaluatePolicy (async)', threads: 1, concurrency: c, run: async () => [await runAsync((i) => engine.evaluatePolicy(q, i), inputs, per, c)] },
      // 2 threads: one engine / policy instance per worker
      { engine: 'opa-wasm', api: 'evaluate', threads: 2, concurrency: 1, run: () => runWorkers(2, { ...wd, engine: 'opa-wasm' }) },
      engine && { engine: 'CoreSDK', api: 'evaluatePolicySync', threads: 2, concurrency: 1, run: () => runWorkers(2, { ...wd, engine: 'coresdk-sync' }) },
      // The same calls with the decision cache on: the inputs repeat, so this is the warm path.
      engine && { engine: 'CoreSDK + decision cache', api: 'evaluatePolicySync', threads: 1, concurrency: 1, run: async () => [runSync((i) => cachedEngine.evaluatePolicySync(q, i), inputs, per)] },
      engine && { engine: 'CoreSDK + decision cache', api: 'evaluatePolicySync', threads: 2, concurrency: 1, run: () => runWorkers(2, { ...wd, engine: 'coresdk-sync-cached' }) },
    ].filter(Boolean)
    const samples = cells.map(() => [])
    for (let r = 0; r < settings.rounds; r++) {
      for (let k = 0; k < cells.length; k++) samples[k].push(...(await cells[k].run()))
    }
    cells.forEach((cell, k) => mk(cell.engine, cell.api, cell.threads, cell.concurrency, samples[k]))
    engine?.close?.()
    cachedEngine?.close?.()
  }

  // ratios: throughput vs opa-wasm at the same thread count; p50 as opa-wasm p50 / ours (higher = faster)
  for (const r of rows) {
    const base = rows.find((b) => b.policy === r.policy && b.engine === 'opa-wasm' && b.threads === r.threads)
    r.throughputVsOpaWasm = base ? r.opsPerSec / base.opsPerSec : NaN
    r.p50SpeedupVsOpaWasm = base ? base.p50Us / r.p50Us : NaN
  }

  const table = markdownTable(
    ['Policy', 'Engine', 'Call', 'Threads', 'p50 µs', 'p99 µs', 'ops/s', 'ops/s vs opa-wasm', 'p50 vs opa-wasm'],
    rows.map((r) => [
      r.policy, r.engine, r.api, r.concurrency > 1 ? `${r.threads} (${r.concurrency} in flight)` : r.threads,
      fmtUs(r.p50Us), fmtUs(r.p99Us), fmtOps(r.opsPerSec),
      r.engine === 'opa-wasm' ? '1.00×' : fmtRatio(r.throughputVsOpaWasm),
      r.engine === 'opa-wasm' ? '1.00×' : r.concurrency > 1 ? '–' : fmtRatio(r.p50SpeedupVsOpaWasm),
    ]),
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
  )

  const machine = machineInfo()
  const meta = {
    date: new Date().toISOString(),
    machine,
    loadAverageAtStart: load,
    versions: { coresdk: coreVersion, opaWasm: opaWasmVersion, opa: OPA_VERSION },
    coresdk: core.error ? { available: false, reason: core.error } : { available: true },
    settings,
    notes: [
      'Latency: process.hrtime.bigint() around each call, inputs round-robin; async latency includes queueing behind the other in-flight calls.',
      'ops/s: calls / elapsed per thread, summed over threads; includes the timer overhead, identically for every engine.',
      'Ratios compare with opa-wasm at the same thread count (async row: vs opa-wasm 1 thread); >1× means CoreSDK is faster. p50 ratio = opa-wasm p50 / CoreSDK p50 (not given for the async row, whose latency includes queueing).',
      'Cells take turns in rounds (BENCH_ROUNDS); the samples of a cell from all rounds are pooled.',
    ],
  }
  mkdirSync(dirname(resultsFile), { recursive: true })
  writeFileSync(resultsFile, JSON.stringify({ meta, results: rows }, null, 2) + '\n')

  const out = [
    `### Policy evaluation: CoreSDK vs @open-policy-agent/opa-wasm ${opaWasmVersion}`,
    '',
    `${machine.cpu}, ${machine.logicalCpus} logical CPUs, Node ${machine.node}, ${machine.platform}; ` +
      `wasm compiled by opa ${OPA_VERSION}; per cell ${settings.timeMs} ms or ${settings.maxIters.toLocaleString('en-US')} calls after warm-up, in ${settings.rounds} interleaved rounds; async: ${settings.asyncConcurrency} calls in flight, poolSize ${settings.poolSize || 'default'}.`,
    '',
    table,
    '',
  ]
  if (core.error) out.push(`CoreSDK not measured: ${core.error}`, '')
  process.stdout.write(out.join('\n'))
  log(`results written to ${resultsFile}`)
}

main().catch((err) => {
  console.error(`[policy.bench] ${err.stack ?? err}`)
  process.exit(1)
})
