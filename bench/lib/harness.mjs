// Measurement loops and engine adapters shared by the policy benchmark and its workers.
import { readFileSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const hr = process.hrtime.bigint
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Benchmark settings, overridable from the environment. */
export function settings(env = process.env) {
  const int = (name, dflt) => {
    const v = env[name]
    if (v === undefined || v === '') return dflt
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`)
    return Math.floor(n)
  }
  return {
    warmupMs: int('BENCH_WARMUP_MS', 300),
    warmupIters: int('BENCH_WARMUP_ITERS', 2_000),
    timeMs: int('BENCH_TIME_MS', 2_400),
    rounds: Math.max(1, int('BENCH_ROUNDS', 3)),
    maxIters: int('BENCH_MAX_ITERS', 1_000_000),
    asyncConcurrency: int('BENCH_ASYNC_CONCURRENCY', 16),
    poolSize: int('BENCH_POOL_SIZE', 0), // 0: the Engine's default (available parallelism)
  }
}

/**
 * Runs `fn(input)` round-robin over inputs: first a warm-up (at least warmupIters calls and
 * warmupMs), then timed calls until timeMs or maxIters, whichever comes first. Each timed call is
 * bracketed by process.hrtime.bigint(). Returns the latencies in ns and the loop's elapsed time.
 */
export function runSync(fn, inputs, { warmupMs, warmupIters, timeMs, maxIters }) {
  const k = inputs.length
  let sink = 0
  const warmEnd = hr() + BigInt(warmupMs) * 1_000_000n
  for (let i = 0; ; i++) {
    if (fn(inputs[i % k]) !== undefined) sink++
    if (i >= warmupIters && (i & 255) === 0 && hr() >= warmEnd) break
  }
  const lat = new Float64Array(maxIters)
  const start = hr()
  const deadline = start + BigInt(timeMs) * 1_000_000n
  let n = 0
  let last = start
  while (n < maxIters) {
    const input = inputs[n % k]
    const t0 = hr()
    if (fn(input) !== undefined) sink++
    last = hr()
    lat[n++] = Number(last - t0)
    if ((n & 255) === 0 && last >= deadline) break
  }
  return { lat, n, elapsedNs: Number(last - start), sink }
}

/**
 * Like runSync for a promise-returning fn, keeping `concurrency` calls in flight from this one
 * thread. Latency is from the call until its promise settles (so it includes queueing).
 */
export async function runAsync(fn, inputs, { warmupMs, warmupIters, timeMs, maxIters }, concurrency) {
  const k = inputs.length
  let sink = 0
  {
    let i = 0
    const warmEnd = hr() + BigInt(warmupMs) * 1_000_000n
    const lane = async () => {
      while (i < warmupIters || hr() < warmEnd) {
        if ((await fn(inputs[i++ % k])) !== undefined) sink++
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
  }
  const lat = new Float64Array(maxIters)
  let n = 0
  let issued = 0
  const start = hr()
  const deadline = start + BigInt(timeMs) * 1_000_000n
  let last = start
  let stop = false
  const lane = async () => {
    while (!stop && issued < maxIters) {
      const input = inputs[issued++ % k]
      const t0 = hr()
      if ((await fn(input)) !== undefined) sink++
      last = hr()
      lat[n++] = Number(last - t0)
      if (last >= deadline) stop = true
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return { lat, n, elapsedNs: Number(last - start), sink }
}

/** opa-wasm result set → { defined, value } */
export function normalizeOpaWasm(rs) {
  if (!Array.isArray(rs) || rs.length === 0) return { defined: false, value: undefined }
  if (rs.length > 1) throw new Error(`opa-wasm returned ${rs.length} results`)
  return { defined: true, value: rs[0].result }
}

/** CoreSDK decision → { defined, value } */
export function normalizeCoreSdk(d) {
  return { defined: Boolean(d?.defined), value: d?.defined ? d.value : undefined }
}

export function sameDecision(a, b) {
  return a.defined === b.defined && JSON.stringify(a.value) === JSON.stringify(b.value)
}

/**
 * Checks `decide(input)` against OPA's reference decisions; throws on the first mismatch.
 * @param {string} label
 * @param {(input: unknown) => { defined: boolean, value: unknown } | Promise<...>} decide
 */
export async function verifyDecisions(label, decide, inputs, expected) {
  for (let i = 0; i < inputs.length; i++) {
    const got = await decide(inputs[i])
    if (!sameDecision(got, expected[i])) {
      throw new Error(
        `${label}: decision differs from opa on input #${i}: got ${JSON.stringify(got)}, opa says ${JSON.stringify(expected[i])}\n  input: ${JSON.stringify(inputs[i])}`,
      )
    }
  }
}

/** Loads a policy's compiled wasm, data and inputs (produced by tools/build-wasm.mjs). */
export function loadArtifacts(policy, wasmDir) {
  const dir = join(wasmDir, policy.name)
  const read = (f) => readFileSync(join(dir, f))
  return {
    wasm: read('policy.wasm'),
    data: JSON.parse(read('data.json').toString('utf8')),
    expected: JSON.parse(read('expected.json').toString('utf8')),
    inputs: JSON.parse(readFileSync(join(policy.dir, 'inputs.json'), 'utf8')),
  }
}

/** A fresh opa-wasm instance with its data loaded. */
export async function createOpaWasm(wasm, data) {
  const { loadPolicy } = await import('@open-policy-agent/opa-wasm')
  const policy = await loadPolicy(wasm)
  policy.setData(data)
  return policy
}

/** The CoreSDK build to measure; BENCH_CORESDK_ENTRY overrides it (e.g. to test this harness). */
export const coreSdkEntry = process.env.BENCH_CORESDK_ENTRY
  ? resolve(process.env.BENCH_CORESDK_ENTRY)
  : join(repoRoot, 'dist', 'index.js')

/**
 * Imports CoreSDK's Engine class, or returns { error } when the build is not there
 * (dist/ missing, or the native addon not built).
 */
export async function importCoreSdk() {
  if (!existsSync(coreSdkEntry)) return { error: `${coreSdkEntry} not found (build the package first)` }
  try {
    const mod = await import(pathToFileURL(coreSdkEntry).href)
    if (typeof mod.Engine !== 'function') return { error: `${coreSdkEntry} exports no Engine class` }
    return { Engine: mod.Engine }
  } catch (err) {
    return { error: `importing ${coreSdkEntry} failed: ${err.message.split('\n')[0]}` }
  }
}

/**
 * A fresh CoreSDK Engine on the policy's bundle directory. `cached`: keep the decision cache on
 * (the default), so repeated inputs are answered from it; off, every call evaluates the policy.
 */
export function createCoreSdk(Engine, policyDir, poolSize, cached = false) {
  const opts = { policyDir, watch: false }
  if (poolSize) opts.poolSize = poolSize
  if (!cached) opts.decisionCacheEntries = 0
  return new Engine(opts)
}
