#!/usr/bin/env node
// `npm run bench:sidecar`: the sidecar data plane under open-loop load, beside
// OPA (bench/tools/ensure-opa.mjs's version) as a server and a do-nothing @grpc/grpc-js server, in one run.
//
// Load: bench/loadgen (Rust, tokio + tonic/hyper), fixed request rate,
// latency measured from each request's intended send time (coordinated
// omission corrected), bounded duration, loopback only. Rates: 500, 5,000,
// 20,000 rps, then saturation (closed loop, 64 workers).
//
// Targets, all given the same policy (examples/policies, data.authz.allow) and
// the same input:
//   * coresdk sidecar, EvaluatePolicy over mutual TLS 1.3, decision cache off
//     (every call evaluated; the fair comparison with OPA)
//   * the same with telemetry on: OTEL_EXPORTER_OTLP_ENDPOINT set, every call
//     sampled (no traceparent, parentbased_always_on), a span and a
//     decision record per call exported over OTLP/HTTP to a sink that
//     accepts, counts and discards (bench/sidecar/otlp-sink.mjs, on CPU 1 at
//     idle priority): the cost of per-call telemetry at its worst, and how
//     much of it reached the sink per step
//   * coresdk sidecar, Authorize (ES256 token verified + policy) over mTLS,
//     caches on (what a service calling it with a repeated token sees)
//   * OPA `opa run --server`, POST /v1/data/authz/allow (plain HTTP/1.1 on
//     loopback: no TLS cost for OPA)
//   * grpc-js floor: a do-nothing grpc-js server over the same mTLS
//   * AuthZEN: the sidecar's AuthZEN listener, POST /access/v1/evaluation over
//     HTTPS (TLS 1.3, HTTP/1.1 keep-alive, bearer API key), decision cache off,
//     on the example document-sharing policy (data.authzen.allow), against
//     OPA's POST /v1/data/authzen/allow on the same bundle and input
//     (targets authzen, opa-authzen). Cerbos's AuthZEN endpoint is not
//     measured: see docs/benchmarks.md.
// Per step: p50/p99/p99.9, errors, and the server's RSS and CPU per call
// (from /proc/<pid>/stat before and after the step).
//
// Env: BENCH_SECS (default 5 per step), BENCH_RATES (default 500,5000,20000),
// BENCH_TARGETS (comma list of sidecar-eval,sidecar-eval-otel,sidecar-authorize,opa,grpc-js,authzen,opa-authzen),
// BENCH_SIDECAR_PROGRAM (another build of coresdk-sidecar to measure; default target/release's);
// CORESDK_FAST_PATH=false runs the sidecars on the interpreter alone.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash, generateKeyPairSync, sign } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureOpa, OPA_VERSION } from './tools/ensure-opa.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const SECS = Number(process.env.BENCH_SECS ?? 5)
const RATES = (process.env.BENCH_RATES ?? '500,5000,20000').split(',').map(Number)
const TARGETS = (process.env.BENCH_TARGETS ?? 'sidecar-eval,sidecar-eval-otel,sidecar-authorize,opa,grpc-js,authzen,opa-authzen').split(',')
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
const log = (m) => process.stderr.write(`[sidecar-bench] ${m}\n`)
// With two or more CPUs, each server runs on CPU 0 and the load generator on CPU 1, so that the
// generator's own cost never comes out of the server's share (BENCH_PIN=0 turns this off).
const PIN = process.env.BENCH_PIN !== '0' && os.availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0
const pinned = (cpu, cmd, args) => (PIN ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args])

// The coresdk-sidecar program itself (what every channel runs; measured directly, so that its RSS
// and CPU are the program's and not the npm bin's). BENCH_SIDECAR_PROGRAM measures another build
// of it (another profile or allocator, say) against the same load and peers.
const PROGRAM = process.env.BENCH_SIDECAR_PROGRAM ? resolve(process.env.BENCH_SIDECAR_PROGRAM) : join(root, 'target', 'release', 'coresdk-sidecar')

function build() {
  log('building bench/loadgen and the sidecar program (release)')
  const r = spawnSync('cargo', ['build', '--release', '-p', 'coresdk-loadgen', '-p', 'coresdk-sidecar', '--bin', 'coresdk-loadgen', '--bin', 'coresdk-sidecar'], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('cargo build of the load generator and the sidecar failed')
  const t = spawnSync(process.execPath, [join(root, 'scripts', 'build-ts.mjs')], { cwd: root, stdio: 'inherit' })
  if (t.status !== 0) throw new Error('tsc failed')
  return join(root, 'target', 'release', 'coresdk-loadgen')
}

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makePki(dir) {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  for (const [name, usage, san] of [['server', 'serverAuth', 'IP:::1,IP:127.0.0.1,DNS:localhost'], ['client', 'clientAuth', 'DNS:client']]) {
    openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`])
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n`)
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${Date.now().toString(16)}${name.length}`, '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`])
  }
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key') }
}

function makeToken(dir) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256', use: 'sig' }
  const jwks = join(dir, 'jwks.json')
  writeFileSync(jwks, JSON.stringify({ keys: [jwk] }))
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const h = b64({ alg: 'ES256', kid: 'bench', typ: 'JWT' })
  const p = b64({ iss: 'https://bench.test', aud: 'bench', sub: 'carol', roles: ['viewer'], iat: now, exp: now + 3600 })
  const s = sign('sha256', Buffer.from(`${h}.${p}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  return { jwks, token: `${h}.${p}.${s}` }
}

function waitLine(child, pred, what, ms = 30_000) {
  return new Promise((resolve, reject) => {
    let buf = ''
    const t = setTimeout(() => reject(new Error(`${what}: not ready in ${ms} ms`)), ms)
    const on = (chunk) => {
      buf += chunk
      for (const line of buf.split('\n')) {
        const m = pred(line)
        if (m) {
          clearTimeout(t)
          child.stdout.off('data', on)
          child.stderr.off('data', on)
          resolve(m)
          return
        }
      }
    }
    child.stdout.setEncoding('utf8').on('data', on)
    child.stderr.setEncoding('utf8').on('data', on)
    child.on('exit', (c) => reject(new Error(`${what} exited (${c})`)))
  })
}

function cpuOf(statPath) {
  const stat = readFileSync(statPath, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

// Whole-process CPU and RSS, plus the CPU of the data plane's own threads (named
// `coresdk-sidecar`): for the sidecar, the rest is Node (the CLI, and with telemetry the export).
function procStats(pid) {
  const cpu = cpuOf(`/proc/${pid}/stat`)
  let dataPlane = 0
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === 'coresdk-sidecar') dataPlane += cpuOf(`/proc/${pid}/task/${t}/stat`)
    } catch {
      // the thread ended
    }
  }
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024
  return { cpu, rss, dataPlane }
}

async function main() {
  const loadgen = build()
  const opa = TARGETS.includes('opa') || TARGETS.includes('opa-authzen') ? ensureOpa() : null
  const dir = mkdtempSync(join(tmpdir(), 'coresdk-sidecar-bench-'))
  const pki = makePki(dir)
  const tok = makeToken(dir)
  // examples/inputs.json "viewer reads a document": allowed through a role grant.
  const input = JSON.stringify({ user: { id: 'carol', roles: ['viewer'] }, action: 'read', resource: { type: 'document', id: 'doc-2' } })
  const authzInput = JSON.stringify({ action: 'read', resource: { type: 'document', id: 'doc-2' } })
  // The AuthZEN example (examples/policies/authzen): carol reads the roadmap through her group.
  const authzenInput = { subject: { type: 'user', id: 'carol' }, action: { name: 'can_read' }, resource: { type: 'document', id: 'roadmap' } }
  const apiKey = 'bench-api-key-0123456789'
  const apiKeyDigest = createHash('sha256').update(apiKey).digest('hex')
  const servers = []
  const results = []
  // Start-up to SERVING (ms) and idle RSS (MB, after 2 s with no call) per target.
  const startup = {}
  const idle = {}
  // The OTLP sink's port, for the telemetry target's export counts.
  let sinkPort
  const sinkCounts = async (port) => (await fetch(`http://127.0.0.1:${port}/counts`)).json()
  // A sidecar's environment: the example bundle, the bench PKI, no policy watching, plus `extra`.
  const sidecarEnv = (extra) => ({
    PATH: process.env.PATH,
    CORESDK_SIDECAR_ADDR: '[::1]:0',
    CORESDK_POLICY_DIR: join(root, 'examples', 'policies'),
    // CORESDK_FAST_PATH=false measures the interpreter alone (before/after the VM fast path).
    ...(process.env.CORESDK_FAST_PATH ? { CORESDK_FAST_PATH: process.env.CORESDK_FAST_PATH } : {}),
    CORESDK_SIDECAR_TLS_CERT_FILE: pki.cert,
    CORESDK_SIDECAR_TLS_KEY_FILE: pki.key,
    CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.ca,
    CORESDK_SIDECAR_MAX_CONCURRENT_CALLS: '20000',
    CORESDK_WATCH_POLICIES: 'false',
    // The allocator's tuning passes through (e.g. MALLOC_ARENA_MAX), to compare.
    ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
    ...extra,
  })
  try {
    const targets = []
    for (const name of TARGETS) {
      if (name === 'sidecar-eval' || name === 'sidecar-eval-otel' || name === 'sidecar-authorize') {
        const extra = name === 'sidecar-authorize' ? {} : { CORESDK_DECISION_CACHE_ENTRIES: '0' }
        if (name === 'sidecar-eval-otel') {
          // The sink stands in for a collector on another machine: on the
          // generator's CPU it runs at idle priority (where chrt exists), so
          // reading the exports does not delay the generator's timestamps.
          const sinkArgs = [join(root, 'bench', 'sidecar', 'otlp-sink.mjs')]
          const idlePriority = spawnSync('chrt', ['--idle', '0', 'true']).status === 0
          const [sinkCmd, sinkCmdArgs] = pinned(1, process.execPath, sinkArgs)
          const sink = idlePriority ? spawn('chrt', ['--idle', '0', sinkCmd, ...sinkCmdArgs], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(sinkCmd, sinkCmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] })
          servers.push(sink)
          const port = await waitLine(sink, (l) => /^listening (\d+)/.exec(l)?.[1], 'otlp sink')
          sinkPort = port
          Object.assign(extra, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: 'coresdk-sidecar-bench', OTEL_METRIC_EXPORT_INTERVAL: '1000' })
          // BENCH_OTEL_SAMPLER / BENCH_DECISION_LOG vary what is recorded (default: everything).
          if (process.env.BENCH_OTEL_SAMPLER) extra.OTEL_TRACES_SAMPLER = process.env.BENCH_OTEL_SAMPLER
          if (process.env.BENCH_DECISION_LOG) extra.CORESDK_DECISION_LOG = process.env.BENCH_DECISION_LOG
        }
        const started = performance.now()
        const child = spawn(...pinned(0, PROGRAM, []), {
          env: sidecarEnv({ CORESDK_JWKS_FILE: tok.jwks, CORESDK_ISSUER: 'https://bench.test', CORESDK_AUDIENCE: 'bench', ...extra }),
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        servers.push(child)
        // Ready once it has said both where it listens and that it is SERVING (in either order).
        let addr
        let serving = false
        await waitLine(child, (l) => {
          try {
            const j = JSON.parse(l)
            if (j.event === 'listening') addr = j.addr
            if (j.event === 'serving') serving = true
            return addr !== undefined && serving
          } catch {
            return null
          }
        }, name)
        startup[name] = performance.now() - started
        const call = name !== 'sidecar-authorize'
          ? ['--call', 'evaluate', '--query', 'data.authz.allow', '--input-json', input]
          : ['--call', 'authorize', '--query', 'data.authz.allow', '--input-json', authzInput, '--token', tok.token]
        const label = { 'sidecar-eval': 'coresdk sidecar EvaluatePolicy (mTLS, no decision cache)', 'sidecar-eval-otel': 'coresdk sidecar EvaluatePolicy + telemetry (every call traced and logged, OTLP export)', 'sidecar-authorize': 'coresdk sidecar Authorize (mTLS, ES256 + policy)' }[name]
        targets.push({ name: label, pid: child.pid, sink: name === 'sidecar-eval-otel' ? sinkPort : undefined, args: ['--target', 'grpc', '--addr', `https://${addr}`, '--ca', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey, '--server-name', 'localhost', '--check-allowed', ...call] })
      } else if (name === 'authzen') {
        const child = spawn(...pinned(0, PROGRAM, []), {
          env: sidecarEnv({
            CORESDK_DECISION_CACHE_ENTRIES: '0',
            CORESDK_SIDECAR_AUTHZEN_ADDR: '[::1]:0',
            CORESDK_SIDECAR_AUTHZEN_CLIENT_AUTH: 'api_key',
            CORESDK_SIDECAR_AUTHZEN_API_KEY_SHA256: apiKeyDigest,
          }),
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        servers.push(child)
        const addr = await waitLine(child, (l) => { try { const j = JSON.parse(l); return j.event === 'authzen_listening' && j.addr } catch { return null } }, name)
        targets.push({ name: 'coresdk sidecar AuthZEN evaluation (HTTPS, API key, no decision cache)', pid: child.pid, args: ['--target', 'http', '--addr', `https://${addr}`, '--ca', pki.ca, '--server-name', 'localhost', '--connections', '32', '--path', '/access/v1/evaluation', '--body', JSON.stringify(authzenInput), '--bearer', apiKey, '--check-allowed'] })
      } else if (name === 'opa' || name === 'opa-authzen') {
        const started = performance.now()
        const child = spawn(...pinned(0, opa, ['run', '--server', '--addr', '127.0.0.1:0', '--log-level', 'error', '--disable-telemetry', join(root, 'examples', 'policies')]), { stdio: ['ignore', 'pipe', 'pipe'] })
        servers.push(child)
        // OPA logs its bound address at info only; ask it through /proc/net instead: find the listening port.
        const port = await new Promise((resolve, reject) => {
          const deadline = Date.now() + 30_000
          const tick = () => {
            const out = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8' }).stdout ?? ''
            const line = out.split('\n').find((l) => l.includes(`pid=${child.pid},`))
            if (line) return resolve(Number(/127\.0\.0\.1:(\d+)/.exec(line)[1]))
            if (Date.now() > deadline) return reject(new Error('opa did not listen'))
            setTimeout(tick, 100)
          }
          tick()
        })
        // OPA has no SERVING signal on stdout: ready when its port answers /health.
        for (;;) {
          try {
            if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break
          } catch {
            // not yet
          }
          await new Promise((r) => setTimeout(r, 20))
        }
        startup[name] = performance.now() - started
        const [what, path, body] = name === 'opa'
          ? ['', '/v1/data/authz/allow', { input: JSON.parse(input) }]
          : [' (AuthZEN policy)', '/v1/data/authzen/allow', { input: authzenInput }]
        targets.push({ name: `OPA v${OPA_VERSION} server, POST /v1/data${what} (HTTP/1.1, no TLS)`, pid: child.pid, args: ['--target', 'http', '--addr', `http://127.0.0.1:${port}`, '--connections', '32', '--path', path, '--body', JSON.stringify(body), '--check-allowed'] })
      } else if (name === 'grpc-js') {
        const child = spawn(...pinned(0, process.execPath, [join(root, 'bench', 'sidecar', 'grpc-js-floor.mjs'), '0', pki.ca, pki.cert, pki.key]), { stdio: ['ignore', 'pipe', 'pipe'] })
        servers.push(child)
        const port = await waitLine(child, (l) => /^listening (\d+)/.exec(l)?.[1], 'grpc-js floor')
        targets.push({ name: 'grpc-js floor (do-nothing server, mTLS)', pid: child.pid, args: ['--target', 'grpc', '--addr', `https://[::1]:${port}`, '--ca', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey, '--server-name', 'localhost', '--call', 'evaluate', '--query', 'data.authz.allow', '--input-json', input, '--check-allowed'] })
      }
    }
    await new Promise((r) => setTimeout(r, 2000))
    for (const t of targets) idle[t.name] = procStats(t.pid).rss
    for (const t of targets) {
      for (const rate of [...RATES, 'saturate']) {
        const before = procStats(t.pid)
        const mode = rate === 'saturate' ? ['--saturate', '--concurrency', '64'] : ['--rate', String(rate)]
        const r = spawnSync(...pinned(1, loadgen, [...t.args, ...mode, '--duration-secs', String(SECS), '--warmup-secs', '1', '--json']), { encoding: 'utf8', timeout: (SECS + 30) * 1000 })
        if (r.status !== 0) throw new Error(`loadgen failed for ${t.name} @ ${rate}: ${r.stderr}`)
        const after = procStats(t.pid)
        const j = JSON.parse(r.stdout.trim().split('\n').pop())
        const calls = Math.max(1, j.ok + (j.warmup_ok ?? 0))
        const row = { ...j, target: t.name, rate, server_rss_mb: after.rss, server_cpu_us_per_call: ((after.cpu - before.cpu) * 1e6) / calls, data_plane_cpu_us_per_call: ((after.dataPlane - before.dataPlane) * 1e6) / calls }
        if (t.sink) {
          // What reached the collector of this step's calls (warm-up included):
          // a queue that overflowed under load shows here as less than 100%.
          // 3 s lets the last batches (200 ms delay, 50 ms pump) arrive.
          await new Promise((res) => setTimeout(res, 3000))
          const now = await sinkCounts(t.sink)
          const prev = t.sinkSeen ?? { spans: 0, logs: 0 }
          Object.assign(row, { calls, spans_exported: now.spans - prev.spans, logs_exported: now.logs - prev.logs })
          t.sinkSeen = now
        }
        results.push(row)
        const exported = t.sink ? `, exported ${row.spans_exported} spans and ${row.logs_exported} decision records of ${calls} calls` : ''
        log(`${t.name} @ ${rate}: p50 ${j.p50_us} µs, p99 ${j.p99_us} µs, p99.9 ${j.p999_us} µs, ok ${j.ok}, errors ${j.errors}, ${Math.round(j.achieved_rps)} rps${exported}`)
      }
    }
  } finally {
    for (const s of servers) s.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
  mkdirSync(join(root, 'bench', 'results'), { recursive: true })
  writeFileSync(join(root, 'bench', 'results', 'sidecar.json'), JSON.stringify({ date: new Date().toISOString(), secs: SECS, results }, null, 2))
  const f = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`)
  console.log(`\n### Sidecar under open-loop load (${SECS} s per step, loopback${PIN ? '; servers on CPU 0, load generator on CPU 1' : ''})\n`)
  console.log('| target | offered | achieved rps | p50 | p99 | p99.9 | errors | server RSS | server CPU/call | of which data plane |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of results) {
    const errs = r.errors ? `${r.errors} (${Object.entries(r.error_kinds ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ')})` : '0'
    console.log(`| ${r.target} | ${r.rate === 'saturate' ? 'saturation' : r.rate} | ${Math.round(r.achieved_rps)} | ${f(r.p50_us)} | ${f(r.p99_us)} | ${f(r.p999_us)} | ${errs} | ${r.server_rss_mb.toFixed(0)} MB | ${r.server_cpu_us_per_call.toFixed(1)} µs | ${r.target.startsWith('coresdk') ? `${r.data_plane_cpu_us_per_call.toFixed(1)} µs` : '–'} |`)
  }
  const exportRows = results.filter((r) => r.spans_exported !== undefined)
  if (exportRows.length) {
    const pct = (n, d) => `${((100 * n) / d).toFixed(1)}%`
    console.log(`\nExported to the OTLP sink (of the step's calls, warm-up included): ${exportRows.map((r) => `${r.rate === 'saturate' ? 'saturation' : `${r.rate}/s`} ${pct(r.spans_exported, r.calls)} of spans, ${pct(r.logs_exported, r.calls)} of decision records`).join('; ')}.`)
  }
  const sat = (name) => results.find((r) => r.rate === 'saturate' && r.target.startsWith(name))?.achieved_rps
  const s = sat('coresdk sidecar EvaluatePolicy (mTLS'), o = sat(`OPA v${OPA_VERSION} server, POST /v1/data (HTTP`), g = sat('grpc-js'), t = sat('coresdk sidecar EvaluatePolicy + telemetry')
  const az = sat('coresdk sidecar AuthZEN'), oaz = sat(`OPA v${OPA_VERSION} server, POST /v1/data (AuthZEN`)
  if (az && oaz) console.log(`\nSaturation: sidecar AuthZEN evaluation over HTTPS ${Math.round(az)} rps = ${(az / oaz).toFixed(2)}× OPA's POST /v1/data (plain HTTP) on the same policy.`)
  if (s && o) console.log(`\nSaturation: sidecar EvaluatePolicy ${Math.round(s)} rps = ${(s / o).toFixed(2)}× OPA${g ? `, ${(s / g).toFixed(2)}× the grpc-js floor` : ''}.`)
  if (s && t) console.log(`With every call traced, logged and exported: ${Math.round(t)} rps = ${(t / s).toFixed(2)}× the same sidecar without telemetry${o ? `, ${(t / o).toFixed(2)}× OPA` : ''}.`)
  // The summary: memory, start-up, latency at 5,000 calls/s and saturation, per server.
  const at = (name, rate) => results.find((r) => r.rate === rate && r.target === name)
  const names = [...new Set(results.map((r) => r.target))]
  const keyOf = { 'coresdk sidecar EvaluatePolicy (mTLS, no decision cache)': 'sidecar-eval', 'coresdk sidecar EvaluatePolicy + telemetry (every call traced and logged, OTLP export)': 'sidecar-eval-otel', 'coresdk sidecar Authorize (mTLS, ES256 + policy)': 'sidecar-authorize' }
  console.log('\n| server | start-up to SERVING | idle RSS | RSS at 5,000/s | p50 at 5,000/s | p99 at 5,000/s | saturation |')
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const n of names) {
    const k = keyOf[n] ?? (n.startsWith('OPA') && !n.includes('AuthZEN') ? 'opa' : undefined)
    const r5 = at(n, 5000)
    const st = k !== undefined && startup[k] !== undefined ? `${Math.round(startup[k])} ms` : '–'
    console.log(`| ${n} | ${st} | ${idle[n]?.toFixed(1) ?? '–'} MB | ${r5 ? `${r5.server_rss_mb.toFixed(1)} MB` : '–'} | ${r5 ? f(r5.p50_us) : '–'} | ${r5 ? f(r5.p99_us) : '–'} | ${Math.round(at(n, 'saturate')?.achieved_rps ?? 0)} rps |`)
  }
  writeFileSync(join(root, 'bench', 'results', 'sidecar-summary.json'), JSON.stringify({ startup_ms: startup, idle_rss_mb: idle }, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
