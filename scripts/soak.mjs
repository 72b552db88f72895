#!/usr/bin/env node
// npm run soak: the soak and fault test (__test__/soak.test.ts) at full length:
// 10 minutes at 2,000 calls/s through a real sidecar, policy reloads every 5 s,
// a certificate and a JWKS key rotation each minute, a kill -9 and a restart
// from the offline caches halfway. Loopback only; the load stops by itself.
//
// SOAK_SECONDS, SOAK_RATE and SOAK_REPORT (default bench/results/soak-report.json)
// override. `npm test` runs the same test for 30 s at 1,000 calls/s.
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const report = process.env.SOAK_REPORT ?? join(root, 'bench', 'results', 'soak-report.json')
mkdirSync(dirname(report), { recursive: true })
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-ts.mjs')], { cwd: root, stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
const env = { ...process.env, CORESDK_SOAK: '1', SOAK_SECONDS: process.env.SOAK_SECONDS ?? '600', SOAK_RATE: process.env.SOAK_RATE ?? '2000', SOAK_REPORT: report }
const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '__test__/soak.test.ts'], { cwd: root, env, stdio: 'inherit' })
process.stdout.write(`\nreport: ${report}\n`)
process.exit(r.status ?? 1)
