// A worker thread of the policy benchmark: owns its own engine instance (an opa-wasm policy or a
// CoreSDK Engine), verifies it against OPA's decisions, warms up, waits at a shared barrier so all
// workers start timing together, runs the timed loop and posts its latencies back.
import { parentPort, workerData } from 'node:worker_threads'
import {
  createCoreSdk, createOpaWasm, importCoreSdk, normalizeCoreSdk, normalizeOpaWasm, runSync, verifyDecisions,
} from './harness.mjs'

const { engine, policy, wasm, data, inputs, expected, settings, barrier } = workerData

let fn
let close = () => {}
if (engine === 'opa-wasm') {
  const p = await createOpaWasm(wasm, data)
  await verifyDecisions(`opa-wasm (worker)`, (i) => normalizeOpaWasm(p.evaluate(i)), inputs, expected)
  fn = (input) => p.evaluate(input)
} else if (engine === 'coresdk-sync' || engine === 'coresdk-sync-cached') {
  const { Engine, error } = await importCoreSdk()
  if (error) throw new Error(error)
  const e = createCoreSdk(Engine, policy.dir, settings.workerPoolSize, engine === 'coresdk-sync-cached')
  await verifyDecisions(`CoreSDK (worker)`, (i) => normalizeCoreSdk(e.evaluatePolicySync(policy.query, i)), inputs, expected)
  const q = policy.query
  fn = (input) => e.evaluatePolicySync(q, input)
  close = () => e.close?.()
} else {
  throw new Error(`unknown engine ${engine}`)
}

// Barrier: report ready, then block until the main thread flips the flag.
const flag = new Int32Array(barrier)
Atomics.add(flag, 1, 1)
parentPort.postMessage({ type: 'ready' })
Atomics.wait(flag, 0, 0)

const { lat, n, elapsedNs } = runSync(fn, inputs, settings)
close()
const out = lat.slice(0, n)
parentPort.postMessage({ type: 'done', lat: out, n, elapsedNs }, [out.buffer])
