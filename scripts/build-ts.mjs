#!/usr/bin/env node
// Builds the TypeScript twice: ES modules into dist/ (tsconfig.build.json)
// and CommonJS into dist/cjs/ (tsconfig.cjs.json), so that `import` and
// `require` both get real modules with their own types (package.json
// "exports"). The CommonJS build compiles src/paths.cjs.ts in place of
// src/paths.ts (import.meta does not exist there); this script gives it the
// name the other modules import, marks dist/cjs as CommonJS, and points the
// binding's type import one directory further up.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = (project) => {
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

tsc('tsconfig.build.json')
rmSync(join(root, 'dist', 'cjs'), { recursive: true, force: true })
tsc('tsconfig.cjs.json')
const cjs = join(root, 'dist', 'cjs')
for (const ext of ['.js', '.d.ts', '.js.map']) {
  const from = join(cjs, `paths.cjs${ext}`)
  if (existsSync(from)) renameSync(from, join(cjs, `paths${ext}`))
}
writeFileSync(join(cjs, 'package.json'), '{\n  "type": "commonjs"\n}\n')
const bindingTypes = join(cjs, 'binding.d.ts')
writeFileSync(bindingTypes, readFileSync(bindingTypes, 'utf8').replaceAll("'../native/node/binding.cjs'", "'../../native/node/binding.cjs'"))

// The package's bins (package.json "bin") are run directly, from node_modules/.bin
// or from PATH; tsc writes a new file without the execute bit, so a fresh build
// would leave `coresdk` and `coresdk-sidecar` refused with "Permission denied".
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
for (const target of Object.values(pkg.bin ?? {})) chmodSync(join(root, target), 0o755)

