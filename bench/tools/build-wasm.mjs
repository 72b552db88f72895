#!/usr/bin/env node
// Compiles each benchmark bundle to WebAssembly with `opa build -t wasm` and records OPA's own
// decision for every input (via `opa eval`), the reference both benchmarked engines must match.
//
// Outputs, per policy <name>:
//   bench/.wasm/<name>.tar.gz          the bundle as built by opa
//   bench/.wasm/<name>/policy.wasm     extracted with the tar CLI
//   bench/.wasm/<name>/data.json       the bundle's data, as opa packaged it
//   bench/.wasm/<name>/expected.json   [{ defined, value }] per input, from `opa eval`
//   bench/.wasm/<name>/hash            sha256 of opa version + entrypoint + bundle files + inputs
// A policy is rebuilt only when its hash changes. Builds the policy benchmark's bundles and the
// token benchmark's (bench/policies/index.mjs: policies, tokenPolicies).
//
// Usage: node bench/tools/build-wasm.mjs
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { policies, tokenPolicies } from '../policies/index.mjs'
import { ensureOpa, OPA_VERSION } from './ensure-opa.mjs'

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const wasmDir = join(benchDir, '.wasm')

function log(msg) {
  process.stderr.write(`[build-wasm] ${msg}\n`)
}

/** Files that make up the bundle (what opa build -b loads) plus inputs.json. */
function bundleFiles(dir) {
  const out = []
  const walk = (d) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, ent.name)
      if (ent.isDirectory()) walk(p)
      else if (/\.rego$|^data\.(json|ya?ml)$|^inputs\.json$/.test(ent.name)) out.push(p)
    }
  }
  walk(dir)
  return out.sort()
}

function contentHash(policy) {
  const h = createHash('sha256')
  h.update(`opa ${OPA_VERSION}\0entrypoint ${policy.entrypoint}\0`)
  for (const f of bundleFiles(policy.dir)) {
    h.update(relative(policy.dir, f).replaceAll('\\', '/') + '\0')
    h.update(readFileSync(f))
    h.update('\0')
  }
  return h.digest('hex')
}

function expectedDecisions(opa, policy) {
  // One opa process evaluates the query once per input: `with input as x` for each x in the array.
  const query = `[d | some x in input; r := {"defined": true, "value": ${policy.query}} with input as x; d := r] `
  const out = execFileSync(
    opa,
    ['eval', '--format', 'raw', '--bundle', policy.dir, '--ignore', 'inputs.json', '--input', join(policy.dir, 'inputs.json'), query],
    { encoding: 'utf8' },
  )
  const decisions = JSON.parse(out)
  const inputs = JSON.parse(readFileSync(join(policy.dir, 'inputs.json'), 'utf8'))
  if (decisions.length !== inputs.length) {
    // An undefined query result drops that input from the comprehension; fall back to one-by-one.
    return inputs.map((input, i) => {
      const res = JSON.parse(execFileSync(opa, ['eval', '--format', 'json', '--bundle', policy.dir, '--ignore', 'inputs.json', '--stdin-input', policy.query], { input: JSON.stringify(input), encoding: 'utf8' }))
      const v = res.result?.[0]?.expressions?.[0]
      return v ? { defined: true, value: v.value } : { defined: false, value: undefined, input: i }
    })
  }
  return decisions
}

function buildOne(opa, policy) {
  const outDir = join(wasmDir, policy.name)
  const hashFile = join(outDir, 'hash')
  const hash = contentHash(policy)
  const artifacts = ['policy.wasm', 'data.json', 'expected.json'].map((f) => join(outDir, f))
  if (existsSync(hashFile) && readFileSync(hashFile, 'utf8').trim() === hash && artifacts.every(existsSync)) {
    log(`${policy.name}: up to date (${hash.slice(0, 12)})`)
    return
  }
  log(`${policy.name}: opa build -t wasm -e ${policy.entrypoint}`)
  mkdirSync(wasmDir, { recursive: true })
  const tarball = join(wasmDir, `${policy.name}.tar.gz`)
  execFileSync(
    opa,
    ['build', '--bundle', '--target', 'wasm', '--entrypoint', policy.entrypoint, '--ignore', 'inputs.json', '--output', tarball, policy.dir],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  )
  const tmp = mkdtempSync(join(tmpdir(), `coresdk-wasm-${policy.name}-`))
  try {
    // opa writes members as /policy.wasm, /data.json …; GNU tar strips the leading '/' (and says so on
    // stderr, which is captured here and shown only if tar fails).
    execFileSync('tar', ['-xzf', tarball, '-C', tmp], { stdio: ['ignore', 'ignore', 'pipe'] })
    if (!existsSync(join(tmp, 'policy.wasm'))) throw new Error(`${tarball} holds no /policy.wasm`)
    rmSync(outDir, { recursive: true, force: true })
    mkdirSync(outDir, { recursive: true })
    renameSync(join(tmp, 'policy.wasm'), join(outDir, 'policy.wasm'))
    const data = existsSync(join(tmp, 'data.json')) ? readFileSync(join(tmp, 'data.json'), 'utf8') : '{}'
    writeFileSync(join(outDir, 'data.json'), data)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  writeFileSync(join(outDir, 'expected.json'), JSON.stringify(expectedDecisions(opa, policy)) + '\n')
  writeFileSync(hashFile, hash + '\n')
}

export function buildWasm() {
  const opa = ensureOpa()
  for (const p of [...policies, ...tokenPolicies]) buildOne(opa, p)
  return wasmDir
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    buildWasm()
  } catch (err) {
    console.error(`[build-wasm] ${err.stack ?? err}`)
    process.exit(1)
  }
}
