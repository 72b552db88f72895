#!/usr/bin/env node
// Keeps the per-platform packages (npm/<target>/package.json) at the main package's version and,
// with --release, writes the main package's optionalDependencies: one entry per napi target, at
// that exact version, so that `npm install coresdk` fetches the one binary that fits.
// The release workflow runs it with --release after every binary is built and present;
// `npm test` runs it with --check (versions in sync, one npm/ directory per target).
//
// Usage: node scripts/release-manifests.mjs [--check | --release]
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const mode = process.argv[2] ?? '--check'
const pkgPath = join(root, 'package.json')
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'))

/** The npm/ directory name napi-rs uses for a Rust target triple. */
function dirOf(triple) {
  const [arch, , os, abi] = triple.split('-')
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[arch]
  if (os === 'linux') return `linux-${cpu}-${abi}`
  if (os === 'darwin') return `darwin-${cpu}`
  if (os === 'windows') return `win32-${cpu}-${abi}`
  throw new Error(`unknown target ${triple}`)
}

const problems = []
const optional = {}
for (const triple of pkg.napi.targets) {
  const dir = join(root, 'npm', dirOf(triple))
  const file = join(dir, 'package.json')
  if (!existsSync(file)) {
    problems.push(`npm/${dirOf(triple)}/package.json is missing (napi create-npm-dirs)`)
    continue
  }
  const sub = JSON.parse(readFileSync(file, 'utf8'))
  optional[sub.name] = pkg.version
  if (sub.version !== pkg.version) {
    if (mode === '--check') problems.push(`${sub.name} is at ${sub.version}, coresdk at ${pkg.version}`)
    else {
      sub.version = pkg.version
      writeFileSync(file, `${JSON.stringify(sub, null, 2)}\n`)
    }
  }
}
if (mode === '--release') {
  pkg.optionalDependencies = optional
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`)
  console.log(`optionalDependencies: ${Object.keys(optional).length} platform packages at ${pkg.version}`)
}
if (problems.length > 0) {
  console.error(problems.join('\n'))
  process.exit(1)
}
if (mode === '--check') console.log(`${Object.keys(optional).length} platform packages, all at ${pkg.version}`)
