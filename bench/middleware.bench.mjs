#!/usr/bin/env node
// `node bench/run.mjs middleware`: what authorization costs an Express request.
//
// autocannon against the same Express route in five variants, one at a time,
// each app in its own process:
//   (a) no auth;
//   (b) CoreSDK in-process: verify the RS256 token and decide data.authz.allow in one call
//       (default caches: a repeated token and request are answered from them);
//   (b') the same with the verified-token and decision caches off (every request verifies the
//       signature and evaluates the policy);
//   (c) CoreSDK through the sidecar (mTLS, one call per request);
//   (d) express-jwt with jwks-rsa: verification only, no policy.
// The apps (and the sidecar) run on CPU 0, autocannon on CPU 1, when taskset is available.
// Env: BENCH_SECS (default 8), BENCH_CONNECTIONS (default 32).
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const SECS = Number(process.env.BENCH_SECS ?? 8)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const PIN = process.env.BENCH_PIN !== '0' && os.availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0
const log = (m) => process.stderr.write(`[middleware-bench] ${m}\n`)
if (PIN) spawnSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' })
const pinned = (cmd, args) => (PIN ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args])

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function waitListening(child, what) {
  return new Promise((resolve, reject) => {
    let buf = ''
    const t = setTimeout(() => reject(new Error(`${what}: not listening after 30 s`)), 30_000)
    const on = (c) => {
      buf += c
      for (const line of buf.split('\n')) {
        let found = /^listening (\d+)/.exec(line)?.[1]
        if (!found && line.startsWith('{')) {
          try {
            const j = JSON.parse(line)
            if (j.event === 'listening') found = j.addr
          } catch {
            // not a JSON log line
          }
        }
        if (found) {
          clearTimeout(t)
          resolve(found)
          return
        }
      }
    }
    child.stdout.setEncoding('utf8').on('data', on)
    child.stderr.setEncoding('utf8').on('data', (c) => process.stderr.write(c))
    child.on('exit', (c) => reject(new Error(`${what} exited (${c})`)))
  })
}

async function main() {
  spawnSync(process.execPath, [join(root, 'scripts', 'build-ts.mjs')], { cwd: root, stdio: 'inherit' })
  const dir = mkdtempSync(join(tmpdir(), 'coresdk-mw-bench-'))
  const children = []
  let jwksServer
  const results = []
  try {
    // Keys and the token: RS256, the algorithm express-jwt setups use most.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' }
    const jwks = JSON.stringify({ keys: [jwk] })
    writeFileSync(join(dir, 'jwks.json'), jwks)
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const claims = { iss: 'https://bench.test', aud: 'bench', sub: 'carol', roles: ['viewer'], iat: now, exp: now + 3600 }
    const signing = `${b64({ alg: 'RS256', kid: 'bench', typ: 'JWT' })}.${b64(claims)}`
    const token = `${signing}.${sign('sha256', Buffer.from(signing), privateKey).toString('base64url')}`
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks))
    await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r))

    // mTLS for the sidecar.
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
    for (const [name, usage, san] of [['server', 'serverAuth', 'IP:127.0.0.1,DNS:localhost'], ['client', 'clientAuth', 'DNS:client']]) {
      openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`])
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n`)
      openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x1${name.length}${Date.now().toString(16)}`, '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`])
    }
    const sidecar = spawn(...pinned(process.execPath, [join(root, 'dist', 'sidecar', 'cli.js')]), {
      env: {
        PATH: process.env.PATH,
        CORESDK_SIDECAR_ADDR: '127.0.0.1:0',
        CORESDK_POLICY_DIR: join(root, 'examples', 'policies'),
        CORESDK_JWKS_FILE: join(dir, 'jwks.json'),
        CORESDK_ISSUER: claims.iss,
        CORESDK_AUDIENCE: claims.aud,
        CORESDK_WATCH_POLICIES: 'false',
        CORESDK_SIDECAR_TLS_CERT_FILE: join(dir, 'server.pem'),
        CORESDK_SIDECAR_TLS_KEY_FILE: join(dir, 'server.key'),
        CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: join(dir, 'ca.pem'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(sidecar)
    const sidecarAddr = await waitListening(sidecar, 'sidecar')
    const cfg = {
      policyDir: join(root, 'examples', 'policies'),
      jwksFile: join(dir, 'jwks.json'),
      jwksUri: `http://127.0.0.1:${jwksServer.address().port}/jwks`,
      issuer: claims.iss,
      audience: claims.aud,
      sidecarAddr,
      tls: { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key'), serverName: 'localhost' },
    }
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify(cfg))

    const variants = [
      ['none', '(a) no auth'],
      ['coresdk-inprocess', '(b) CoreSDK in-process: verify + decide'],
      ['coresdk-inprocess-nocache', "(b') CoreSDK in-process, caches off"],
      ['coresdk-sidecar', '(c) CoreSDK via the sidecar (mTLS): verify + decide'],
      ['express-jwt', '(d) express-jwt + jwks-rsa: verify only'],
    ]
    for (const [variant, label] of variants) {
      const app = spawn(...pinned(process.execPath, [join(root, 'bench', 'middleware', 'server.mjs'), variant, join(dir, 'cfg.json')]), { stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(app)
      const port = await waitListening(app, variant)
      const url = `http://127.0.0.1:${port}/documents/doc-2`
      const check = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
      if (check.status !== 200) throw new Error(`${variant}: the check request got ${check.status}: ${await check.text()}`)
      await autocannon({ url, connections: CONNECTIONS, duration: 2, headers: { authorization: `Bearer ${token}` } })
      const r = await autocannon({ url, connections: CONNECTIONS, duration: SECS, headers: { authorization: `Bearer ${token}` } })
      const bad = r.non2xx + r.errors + r.timeouts
      results.push({ variant, label, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: bad })
      log(`${label}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, errors ${bad}`)
      app.kill('SIGTERM')
    }
  } finally {
    for (const c of children) c.kill('SIGTERM')
    jwksServer?.close()
    rmSync(dir, { recursive: true, force: true })
  }
  mkdirSync(join(root, 'bench', 'results'), { recursive: true })
  writeFileSync(join(root, 'bench', 'results', 'middleware.json'), JSON.stringify({ date: new Date().toISOString(), secs: SECS, connections: CONNECTIONS, results }, null, 2))
  const base = results.find((r) => r.variant === 'none')
  const perReq = (r) => 1e6 / r.rps - 1e6 / base.rps
  console.log(`\n### Express middleware (autocannon, ${CONNECTIONS} connections, ${SECS} s${PIN ? '; app on CPU 0, autocannon on CPU 1' : ''})\n`)
  console.log('| variant | req/s | p50 | p99 | errors | added cost per request |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const r of results) console.log(`| ${r.label} | ${Math.round(r.rps)} | ${r.p50} ms | ${r.p99} ms | ${r.errors} | ${r.variant === 'none' ? '–' : `${perReq(r).toFixed(1)} µs`} |`)
  const b = results.find((r) => r.variant === 'coresdk-inprocess'), bn = results.find((r) => r.variant === 'coresdk-inprocess-nocache'), d = results.find((r) => r.variant === 'express-jwt')
  console.log(`\nCoreSDK in-process (verify + decide) adds ${perReq(b).toFixed(1)} µs per request (${perReq(bn).toFixed(1)} µs with caches off); express-jwt (verify only) adds ${perReq(d).toFixed(1)} µs.`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
