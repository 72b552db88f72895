#!/usr/bin/env node
// Lints .github/workflows with actionlint, installed from the Go module proxy
// (`go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12`) into
// ~/.cache/coresdk-tools/bin when it is not there yet.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const VERSION = 'v1.7.12'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(homedir(), '.cache', 'coresdk-tools', 'bin')
const exe = join(bin, process.platform === 'win32' ? 'actionlint.exe' : 'actionlint')
const installed = existsSync(exe) && spawnSync(exe, ['-version'], { encoding: 'utf8' }).stdout?.includes(VERSION.slice(1))
if (!installed) {
  mkdirSync(bin, { recursive: true })
  console.log(`installing actionlint ${VERSION} with go install`)
  execFileSync('go', ['install', `github.com/rhysd/actionlint/cmd/actionlint@${VERSION}`], { stdio: 'inherit', env: { ...process.env, GOBIN: bin } })
}
const r = spawnSync(exe, ['-no-color'], { cwd: root, stdio: 'inherit' })
if (r.status === 0) console.log('actionlint: .github/workflows clean')
process.exit(r.status ?? 1)
