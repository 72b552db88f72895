#!/usr/bin/env node
// Pack-and-install smoke test: what `npm install coresdk` gives a user on linux-x64-gnu, with no
// Rust toolchain.
//
// 1. Packs the platform package (npm/linux-x64-gnu + the built coresdk.linux-x64-gnu.node and the
//    coresdk-sidecar program) and the main package (`npm pack`).
// 2. Installs both into an empty temporary project with every directory holding `cargo` removed
//    from PATH (dependencies come from the npm registry).
// 3. Checks: `require('coresdk')` and `import('coresdk')`; `npx coresdk-sidecar --version`; one
//    in-process evaluation; an Express app using `coresdk/express` answering a request with a
//    valid token (200), an expired one (401) and none (401).
// Run by .ci/run after the tests. Needs the addon built (npm ci builds it).
import { spawn, spawnSync } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const log = (m) => console.log(`[smoke] ${m}`)
const fail = (m) => {
  console.error(`[smoke] FAILED: ${m}`)
  process.exit(1)
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  log(`skipped: the smoke test packs the linux-x64-gnu binary; this is ${process.platform}-${process.arch}`)
  process.exit(0)
}
const binary = join(root, 'native', 'node', 'coresdk.linux-x64-gnu.node')
if (!existsSync(binary)) fail(`${binary} is missing: run npm run build:native first`)

const work = mkdtempSync(join(tmpdir(), 'coresdk-smoke-'))
const noCargoPath = process.env.PATH.split(delimiter)
  .filter((d) => !existsSync(join(d, 'cargo')) && !existsSync(join(d, 'rustc')))
  .join(delimiter)
const env = { ...process.env, PATH: noCargoPath, CARGO_HOME: join(work, 'no-cargo'), RUSTUP_HOME: join(work, 'no-rustup') }
const run = (cmd, args, cwd, extra = {}) => {
  const r = spawnSync(cmd, args, { cwd, env: { ...env, ...extra }, encoding: 'utf8', timeout: 300_000 })
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

try {
  if (spawnSync('cargo', ['--version'], { env }).status === 0) fail('cargo is still reachable; the test would prove nothing')

  // 1. Pack.
  const bindingDir = join(work, 'binding')
  mkdirSync(bindingDir)
  copyFileSync(join(root, 'npm', 'linux-x64-gnu', 'package.json'), join(bindingDir, 'package.json'))
  copyFileSync(binary, join(bindingDir, 'coresdk.linux-x64-gnu.node'))
  // The coresdk-sidecar program rides in the platform package, beside the addon.
  const program = join(root, 'native', 'node', 'coresdk-sidecar')
  if (!existsSync(program)) fail(`${program} is missing: run npm run build:sidecar first`)
  copyFileSync(program, join(bindingDir, 'coresdk-sidecar'))
  chmodSync(join(bindingDir, 'coresdk-sidecar'), 0o755)
  run('npm', ['pack', '--silent', '--pack-destination', work], bindingDir)
  run('npm', ['pack', '--silent', '--pack-destination', work], root, { PATH: process.env.PATH })
  const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'))
  const main = tarballs.find((f) => f.startsWith('coresdk-'))
  const plat = tarballs.find((f) => f.startsWith('coresdk-binding-linux-x64-gnu'))
  if (!main || !plat) fail(`tarballs not found: ${tarballs.join(', ')}`)
  log(`packed ${main} and ${plat}`)

  // 2. Install into an empty project, without cargo.
  const app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'smoke-app', private: true, type: 'module' }))
  run('npm', ['install', '--no-audit', '--no-fund', join(work, plat), join(work, main), 'express@4'], app)
  log('installed without a Rust toolchain')

  // 3. Use it.
  const cjs = run(process.execPath, ['-e', "const c = require('coresdk'); const e = require('coresdk/express'); console.log(typeof c.Engine, typeof e.coresdk)"], app).trim()
  if (cjs !== 'function function') fail(`require: ${cjs}`)
  const esm = run(process.execPath, ['--input-type=module', '-e', "const c = await import('coresdk'); const f = await import('coresdk/fastify'); console.log(typeof c.CoreSDKClient, typeof f.coresdkPlugin)"], app).trim()
  if (esm !== 'function function') fail(`import: ${esm}`)
  log('require() and import() work')
  const version = run('npx', ['--no-install', 'coresdk-sidecar', '--version'], app).trim()
  if (!/^coresdk-sidecar \d+\.\d+\.\d+/.test(version)) fail(`npx coresdk-sidecar --version: ${version}`)
  log(version)
  const policies = join(app, 'node_modules', 'coresdk', 'examples', 'policies')
  const decided = run(process.execPath, ['-e', `const { Engine } = require('coresdk'); const e = new Engine({ policyDir: ${JSON.stringify(policies)}, watch: false }); console.log(e.isAllowedSync('data.authz.allow', { user: { id: 'carol', roles: ['viewer'] }, action: 'read', resource: { type: 'document', id: 'doc-2' } }))`], app).trim()
  if (decided !== 'true') fail(`in-process evaluation: ${decided}`)
  log('in-process evaluation: allowed')

  // The Express example, against the installed package.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  writeFileSync(join(app, 'jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'EdDSA', use: 'sig' }] }))
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const mint = (claims) => {
    const s = `${b64({ alg: 'EdDSA', kid: 'k', typ: 'JWT' })}.${b64({ iss: 'https://smoke.test', aud: 'smoke', sub: 'carol', roles: ['viewer'], iat: now, ...claims })}`
    return `${s}.${sign(null, Buffer.from(s), privateKey).toString('base64url')}`
  }
  writeFileSync(
    join(app, 'server.mjs'),
    `import express from 'express'
import { CoreSDKClient } from 'coresdk'
import { coresdk, requirePolicy } from 'coresdk/express'
const client = new CoreSDKClient({ mode: 'in-process', engine: { policyDir: ${JSON.stringify(policies)}, watch: false, token: { jwksFile: 'jwks.json', issuer: 'https://smoke.test', audience: 'smoke' } } })
const app = express()
app.use(coresdk({ client }))
app.get('/documents/:id', requirePolicy(client, 'data.authz.allow', (req) => ({ action: 'read', resource: { type: 'document', id: req.params.id } })), (req, res) => res.json({ sub: req.coresdkUser.sub }))
const server = app.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port))
process.on('SIGTERM', () => server.close(() => client.close()))
`,
  )
  const server = spawn(process.execPath, ['server.mjs'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const port = await new Promise((resolve, reject) => {
    let out = ''
    server.stdout.setEncoding('utf8').on('data', (c) => {
      out += c
      const m = /listening (\d+)/.exec(out)
      if (m) resolve(m[1])
    })
    server.stderr.setEncoding('utf8').on('data', (c) => process.stderr.write(c))
    server.on('exit', (code) => reject(new Error(`the Express app exited (${code})`)))
    setTimeout(() => reject(new Error('the Express app did not start')), 20_000)
  })
  const get = (token) => fetch(`http://127.0.0.1:${port}/documents/doc-2`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  const ok = await get(mint({ exp: now + 600 }))
  const expired = await get(mint({ exp: now - 600 }))
  const none = await get(undefined)
  server.kill('SIGTERM')
  if (ok.status !== 200 || (await ok.json()).sub !== 'carol') fail(`valid token: ${ok.status}`)
  if (expired.status !== 401 || !(expired.headers.get('content-type') ?? '').startsWith('application/problem+json')) fail(`expired token: ${expired.status}`)
  if (none.status !== 401) fail(`no token: ${none.status}`)
  log('Express app with coresdk/express: 200 valid, 401 expired, 401 none')
  log('passed')
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
} finally {
  rmSync(work, { recursive: true, force: true })
}
