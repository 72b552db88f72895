#!/usr/bin/env node
// Finds or builds Jaeger v1.76.0 (the all-in-one `cmd/jaeger`, Jaeger v2) from the Go module
// proxy: `go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0` in a scratch module
// under ~/.cache/coresdk-tools/jaeger, then `go build` into ~/.cache/coresdk-tools/bin/jaeger.
// Takes a few minutes once (about 800 modules, 6 CPU-minutes of build); prints the path.
// $JAEGER_BIN overrides. Used by `npm test` before the OTLP end-to-end test.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

const VERSION = 'v1.76.0'
const tools = join(homedir(), '.cache', 'coresdk-tools')
const exe = process.env.JAEGER_BIN ?? join(tools, 'bin', 'jaeger')
const stamp = join(tools, 'bin', `jaeger-${VERSION}.ok`)
if (!(existsSync(exe) && (process.env.JAEGER_BIN || existsSync(stamp)))) {
  const mod = join(tools, 'jaeger')
  mkdirSync(mod, { recursive: true })
  mkdirSync(join(tools, 'bin'), { recursive: true })
  const go = (args) => execFileSync('go', args, { cwd: mod, stdio: ['ignore', 'inherit', 'inherit'] })
  if (!existsSync(join(mod, 'go.mod'))) go(['mod', 'init', 'coresdk-tools/jaeger'])
  process.stderr.write(`[ensure-jaeger] go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@${VERSION} and go build (a few minutes, once)\n`)
  go(['get', '-tool', `github.com/jaegertracing/jaeger/cmd/jaeger@${VERSION}`])
  go(['build', '-o', exe, 'github.com/jaegertracing/jaeger/cmd/jaeger'])
  writeFileSync(stamp, `${VERSION}\n`)
}
console.log(exe)
