#!/usr/bin/env node
// Finds an `opa` binary of the pinned version, installing it with `go install` if none is found.
//
// Search order:
//   1. $OPA_BIN (must be the pinned version, otherwise this fails loudly)
//   2. <repo>/.tools/bin/opa
//   3. ~/.cache/coresdk-tools/bin/opa
//   4. `opa` on PATH
// Install: `GOBIN=<repo>/.tools/bin go install github.com/open-policy-agent/opa@vX`; if the go
// command refuses that form (e.g. replace directives in OPA's go.mod), a scratch module is created
// with `go get -tool` and the tool is built from it.
//
// Usage: node bench/tools/ensure-opa.mjs   (prints the binary's path on stdout)
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const OPA_VERSION = '1.22.4'
export const OPA_MODULE = 'github.com/open-policy-agent/opa'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const exe = process.platform === 'win32' ? 'opa.exe' : 'opa'

/** Returns the version printed by `<bin> version`, or null when the binary cannot run. */
export function opaVersion(bin) {
  try {
    const out = execFileSync(bin, ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 })
    const m = /^Version:\s*v?(\S+)/m.exec(out)
    return m ? m[1] : null
  } catch {
    return null
  }
}

function log(msg) {
  process.stderr.write(`[ensure-opa] ${msg}\n`)
}

function candidates() {
  const list = []
  if (process.env.OPA_BIN) list.push({ path: process.env.OPA_BIN, explicit: true })
  list.push({ path: join(repoRoot, '.tools', 'bin', exe) })
  list.push({ path: join(homedir(), '.cache', 'coresdk-tools', 'bin', exe) })
  list.push({ path: exe, onPath: true })
  return list
}

function goInstall(gobin) {
  mkdirSync(gobin, { recursive: true })
  const env = { ...process.env, GOBIN: gobin, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' }
  const spec = `${OPA_MODULE}@v${OPA_VERSION}`
  log(`installing ${spec} into ${gobin} with go install (takes a few minutes on first run)…`)
  try {
    execFileSync('go', ['install', spec], { env, stdio: ['ignore', 'inherit', 'inherit'] })
    return
  } catch (err) {
    if (err.code === 'ENOENT') throw new Error('opa not found and the go toolchain is not on PATH; install Go or set OPA_BIN')
    log(`go install refused (${err.message.split('\n')[0]}); falling back to a scratch module with go get -tool`)
  }
  const scratch = mkdtempSync(join(tmpdir(), 'coresdk-opa-'))
  try {
    const run = (args) => execFileSync('go', args, { cwd: scratch, env, stdio: ['ignore', 'inherit', 'inherit'] })
    run(['mod', 'init', 'coresdk.local/opa-tool'])
    run(['get', '-tool', spec])
    run(['build', '-o', join(gobin, exe), OPA_MODULE])
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

/** Returns the absolute path (or PATH name) of an opa binary of version OPA_VERSION. */
export function ensureOpa() {
  for (const c of candidates()) {
    if (!c.onPath && !existsSync(c.path)) {
      if (c.explicit) throw new Error(`OPA_BIN=${c.path} does not exist`)
      continue
    }
    const v = opaVersion(c.path)
    if (v === OPA_VERSION) return c.path
    if (c.explicit) throw new Error(`OPA_BIN=${c.path} is opa ${v ?? '(unrunnable)'}, need ${OPA_VERSION}`)
    if (v) log(`skipping ${c.path}: version ${v}, need ${OPA_VERSION}`)
  }
  const gobin = join(repoRoot, '.tools', 'bin')
  goInstall(gobin)
  const bin = join(gobin, exe)
  const v = opaVersion(bin)
  if (v !== OPA_VERSION) throw new Error(`installed ${bin} reports version ${v}, expected ${OPA_VERSION}`)
  return bin
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(ensureOpa())
  } catch (err) {
    console.error(`[ensure-opa] ${err.message}`)
    process.exit(1)
  }
}
