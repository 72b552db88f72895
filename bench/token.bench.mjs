#!/usr/bin/env node
// Token verification + authorization: CoreSDK's authorizeSync (verify the JWT, then evaluate the
// policy with input.claims = the verified claims, one call into the engine) side by side with the
// usual Node stack, same tokens, same inputs, same run:
//
//   CoreSDK            engine.authorizeSync(token, { query, input })
//   jose + opa-wasm    await jose.jwtVerify(token, createLocalJWKSet(jwks), { issuer, audience, algorithms })
//                      then opa-wasm policy.evaluate({ ...input, claims: payload })
//   jsonwebtoken       jwt.verify(token, publicKeyObject, { algorithms, issuer, audience })
//                      verification only (what express-jwt calls); no policy. jsonwebtoken 9 has no
//                      EdDSA, so its EdDSA rows are absent.
//   CoreSDK            engine.verifyTokenSync(token): verification alone, to split authorizeSync's
//                      cost into verifying and deciding (same engine and caches as authorizeSync).
//
// For RS256 (2048-bit), ES256 and EdDSA (Ed25519) keys, two modes:
//   cold  every timed call gets a token it has never seen: a pool of BENCH_TOKEN_POOL distinct tokens
//         (distinct sub and jti) is minted before timing and each engine walks it once, so no token
//         repeats while timed. CoreSDK runs with its token cache and decision cache off
//         (tokenCacheEntries: 0, decisionCacheEntries: 0): every call checks the signature and
//         evaluates the policy.
//   warm  one token repeated (request inputs rotate over a small set), CoreSDK with its defaults
//         (both caches on). jose, opa-wasm and jsonwebtoken have no such caches and redo the work.
//
// Before timing, all three must agree on a sample of tokens: the same verified/rejected outcome,
// the same claims, and (CoreSDK vs jose + opa-wasm) the same allow/deny, including denied tokens
// and expired, forged, tampered, wrong-audience, wrong-issuer and alg=none tokens that all reject.
// The policy itself is checked against `opa eval` on bench/policies/token-rbac/inputs.json. During
// timing every call's outcome is recorded (outside the timed bracket) and compared across engines.
//
// Prerequisite: node bench/tools/build-wasm.mjs (bench/run.mjs token does it); dist/ + the addon.
// Settings (env): BENCH_TOKEN_POOL (20000) tokens per alg for the cold cells
//   BENCH_TOKEN_WARM_MS (1500) timed budget per warm cell   BENCH_TOKEN_COLD_MAX_MS (10000) cap per cold cell
//   BENCH_ROUNDS (3) interleaved rounds   BENCH_TOKEN_WARMUP_MS (150) / BENCH_TOKEN_WARMUP_ITERS (1000) per cell per round
//   BENCH_TOKEN_ALGS=RS256,ES256,EdDSA (subset)
// Output: a markdown table on stdout, JSON in bench/results/token.json.
import { KeyObject, randomBytes, sign } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createOpaWasm, importCoreSdk, loadArtifacts, normalizeCoreSdk, normalizeOpaWasm, repoRoot, verifyDecisions,
} from './lib/harness.mjs'
import { fmtOps, fmtRatio, fmtUs, machineInfo, markdownTable, summarize } from './lib/stats.mjs'
import { tokenPolicies } from './policies/index.mjs'
import { OPA_VERSION } from './tools/ensure-opa.mjs'

const require = createRequire(import.meta.url)
const jose = await import('jose')
const jwt = require('jsonwebtoken')

const benchDir = dirname(fileURLToPath(import.meta.url))
const wasmDir = join(benchDir, '.wasm')
const resultsFile = join(benchDir, 'results', 'token.json')
const hr = process.hrtime.bigint
const log = (msg) => process.stderr.write(`[token.bench] ${msg}\n`)

const ISSUER = 'https://issuer.bench.local'
const AUDIENCE = 'coresdk-bench-api'
const ALL_ALGS = ['RS256', 'ES256', 'EdDSA']
const ENGINES = { core: 'CoreSDK', joseOpa: 'jose + opa-wasm', coreVerify: 'CoreSDK', jwt: 'jsonwebtoken' }
const CALLS = { core: 'authorizeSync', joseOpa: 'jwtVerify → evaluate', coreVerify: 'verifyTokenSync (no policy)', jwt: 'verify (no policy)' }

function settings(env = process.env) {
  const int = (name, dflt) => {
    const v = env[name]
    if (v === undefined || v === '') return dflt
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`)
    return Math.floor(n)
  }
  const algs = env.BENCH_TOKEN_ALGS ? env.BENCH_TOKEN_ALGS.split(',').map((s) => s.trim()).filter(Boolean) : ALL_ALGS
  const bad = algs.filter((a) => !ALL_ALGS.includes(a))
  if (bad.length || algs.length === 0) throw new Error(`BENCH_TOKEN_ALGS: unknown ${bad.join(', ') || '(empty)'}; known: ${ALL_ALGS.join(', ')}`)
  return {
    algs,
    pool: Math.max(300, int('BENCH_TOKEN_POOL', 20_000)),
    rounds: Math.max(1, int('BENCH_ROUNDS', 3)),
    warmMs: Math.max(3, int('BENCH_TOKEN_WARM_MS', 1_500)),
    warmMaxIters: 1_000_000,
    coldMaxMs: Math.max(3, int('BENCH_TOKEN_COLD_MAX_MS', 10_000)),
    warmupMs: int('BENCH_TOKEN_WARMUP_MS', 150),
    warmupIters: int('BENCH_TOKEN_WARMUP_ITERS', 1_000),
  }
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens

const ROLE_SETS = [['viewer'], ['editor'], ['admin'], ['auditor'], ['billing'], ['viewer', 'billing'], ['editor', 'viewer'], []]
/** Request inputs (the policy input without claims). 11 of them: coprime with ROLE_SETS' 8. */
const REQUESTS = [
  { action: 'read', resource: { type: 'document', id: 'doc-42', tenant: 'acme' } },
  { action: 'update', resource: { type: 'document', id: 'doc-42', tenant: 'acme' } },
  { action: 'update', resource: { type: 'comment', id: 'c-7', tenant: 'acme' } },
  { action: 'delete', resource: { type: 'folder', id: 'f-3', tenant: 'acme' } },
  { action: 'export', resource: { type: 'audit_log', id: 'log-2024', tenant: 'acme' } },
  { action: 'read', resource: { type: 'invoice', id: 'inv-9', tenant: 'acme' } },
  { action: 'update', resource: { type: 'payment_method', id: 'pm-1', tenant: 'acme' } },
  { action: 'read', resource: { type: 'document', id: 'doc-7', tenant: 'globex' } },
  { action: 'create', resource: { type: 'folder', id: 'f-9', tenant: 'acme' } },
  { action: 'cancel', resource: { type: 'subscription', id: 'sub-1', tenant: 'acme' } },
  { action: 'read', resource: { type: 'comment', id: 'c-8', tenant: 'acme' } },
]

const b64json = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')

async function makeKey(alg, kid) {
  const opts = { extractable: true }
  if (alg === 'RS256') opts.modulusLength = 2048
  if (alg === 'EdDSA') opts.crv = 'Ed25519'
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, opts)
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' }
  const priv = KeyObject.from(privateKey)
  const pub = KeyObject.from(publicKey)
  return { alg, kid, jwk, priv, pub, pem: pub.export({ type: 'spki', format: 'pem' }) }
}

/** Compact JWS signed with node:crypto (synchronous; ~20× faster to mint than SignJWT for RS256). */
function mint(key, claims, header = {}) {
  const signingInput = `${b64json({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header })}.${b64json(claims)}`
  const data = Buffer.from(signingInput)
  let sig
  if (key.alg === 'RS256') sig = sign('sha256', data, key.priv)
  else if (key.alg === 'ES256') sig = sign('sha256', data, { key: key.priv, dsaEncoding: 'ieee-p1363' })
  else sig = sign(null, data, key.priv)
  return `${signingInput}.${sig.toString('base64url')}`
}

function claimsFor(alg, i, now, prefix) {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: `${prefix}-user-${i}`,
    jti: `${alg}-${prefix}-${i}-${randomBytes(6).toString('hex')}`,
    iat: now,
    nbf: now - 5,
    exp: now + 3600,
    scope: 'api:read api:write',
    tenant: i % 13 === 12 ? 'globex' : 'acme',
    roles: ROLE_SETS[i % ROLE_SETS.length],
  }
}

/** Tokens the verifiers must all reject (and why). */
function badTokens(key, otherKey, now) {
  const base = claimsFor(key.alg, 0, now, 'bad')
  const good = mint(key, { ...base, roles: ['viewer'] })
  const [h, , s] = good.split('.')
  return [
    { why: 'expired an hour ago', token: mint(key, { ...base, iat: now - 7200, nbf: now - 7200, exp: now - 3600 }) },
    { why: 'forged (signed by another key, same kid)', token: mint(otherKey, { ...base, roles: ['admin'] }) },
    { why: 'tampered payload (roles → admin)', token: `${h}.${b64json({ ...base, roles: ['admin'] })}.${s}` },
    { why: 'wrong audience', token: mint(key, { ...base, aud: 'some-other-api' }) },
    { why: 'wrong issuer', token: mint(key, { ...base, iss: 'https://evil.example' }) },
    { why: 'alg none', token: `${b64json({ alg: 'none', typ: 'JWT', kid: key.kid })}.${b64json({ ...base, roles: ['admin'] })}.` },
  ]
}

// ---------------------------------------------------------------------------------------------
// The three engines, per alg. Each returns an outcome code per call:
//   1 allowed, 0 verified but denied, 2 rejected (token not verified). jsonwebtoken: 3 verified.

function coreOutcome(r) {
  return r.allowed ? 1 : r.claims ? 0 : 2
}

function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
  return JSON.stringify(v)
}

async function setupEngines(Engine, policy, art, key, jwks) {
  const algorithms = [key.alg]
  const tokenOpts = { jwks, issuer: ISSUER, audience: AUDIENCE, algorithms }
  const coreCold = new Engine({ policyDir: policy.dir, watch: false, decisionCacheEntries: 0, token: { ...tokenOpts, tokenCacheEntries: 0 } })
  const coreWarm = new Engine({ policyDir: policy.dir, watch: false, token: tokenOpts })
  const opa = await createOpaWasm(art.wasm, art.data)
  const keySet = jose.createLocalJWKSet(jwks)
  const joseOpts = { issuer: ISSUER, audience: AUDIENCE, algorithms }
  const jwtOpts = { algorithms, issuer: ISSUER, audience: AUDIENCE }
  const jwtSupported = key.alg !== 'EdDSA' // jsonwebtoken 9 / jwa 2: no EdDSA
  const q = policy.query
  return {
    coreCold,
    coreWarm,
    opa,
    jwtSupported,
    // timed calls
    core: (engine) => (token, input) => engine.authorizeSync(token, { query: q, input }),
    coreVerify: (engine) => (token) => engine.verifyTokenSync(token),
    joseOpa: async (token, input) => {
      const { payload } = await jose.jwtVerify(token, keySet, joseOpts)
      return opa.evaluate({ ...input, claims: payload })
    },
    jwt: (token) => jwt.verify(token, key.pub, jwtOpts),
    // outcome of a timed call's result
    coreOutcome,
    joseOpaOutcome: (rs) => (normalizeOpaWasm(rs).value === true ? 1 : 0),
    jwtOutcome: (claims) => (claims && typeof claims === 'object' ? 3 : 2),
    // full decisions for the agreement check
    async decideAll(token, input) {
      const c = coreCold.authorizeSync(token, { query: q, input })
      const cw = coreWarm.authorizeSync(token, { query: q, input })
      let j
      try {
        const { payload } = await jose.jwtVerify(token, keySet, joseOpts)
        const d = normalizeOpaWasm(opa.evaluate({ ...input, claims: payload }))
        j = { outcome: d.value === true ? 1 : 0, claims: canonical(payload) }
      } catch (err) {
        j = { outcome: 2, claims: null, err: err.code ?? err.message }
      }
      let w = null
      if (jwtSupported) {
        try {
          w = { outcome: 3, claims: canonical(jwt.verify(token, key.pub, jwtOpts)) }
        } catch (err) {
          w = { outcome: 2, claims: null, err: err.message }
        }
      }
      return {
        core: { outcome: coreOutcome(c), claims: c.claims ? canonical(c.claims) : null, reason: c.reason },
        coreWarm: { outcome: coreOutcome(cw), claims: cw.claims ? canonical(cw.claims) : null, reason: cw.reason },
        joseOpa: j,
        jwt: w,
      }
    },
  }
}

async function checkAgreement(alg, eng, samples, bad) {
  let allowed = 0
  let denied = 0
  const fail = (msg, d) => {
    throw new Error(`${alg}: engines disagree: ${msg}\n  ${JSON.stringify(d)}`)
  }
  for (const { token, input } of samples) {
    const d = await eng.decideAll(token, input)
    if (d.core.outcome === 2 || d.joseOpa.outcome === 2) fail('a valid token was rejected', d)
    if (d.core.outcome !== d.joseOpa.outcome) fail('allow/deny differs between CoreSDK and jose + opa-wasm', d)
    if (d.coreWarm.outcome !== d.core.outcome) fail('CoreSDK with and without caches differ', d)
    if (d.core.claims !== d.joseOpa.claims) fail('claims differ between CoreSDK and jose', d)
    if (d.jwt && (d.jwt.outcome !== 3 || d.jwt.claims !== d.core.claims)) fail('jsonwebtoken rejected a valid token or its claims differ', d)
    if (d.core.outcome === 1) allowed++
    else denied++
  }
  if (!allowed || !denied) throw new Error(`${alg}: the agreement sample needs both allows and denies (${allowed}/${denied})`)
  const rejections = []
  for (const { why, token } of bad) {
    const d = await eng.decideAll(token, REQUESTS[0])
    if (d.core.outcome !== 2 || d.coreWarm.outcome !== 2 || d.joseOpa.outcome !== 2 || (d.jwt && d.jwt.outcome !== 2)) fail(`"${why}" token not rejected by every engine`, d)
    rejections.push({ why, coresdk: d.core.reason, jose: d.joseOpa.err, jsonwebtoken: d.jwt?.err ?? null })
  }
  return { sample: samples.length, allowed, denied, rejections }
}

// ---------------------------------------------------------------------------------------------
// Timed loops. process.hrtime.bigint() around each call; the outcome is recorded after the bracket.

function warmupSync(fn, tokens, inputs, { warmupMs, warmupIters }) {
  let sink = 0
  const end = hr() + BigInt(warmupMs) * 1_000_000n
  for (let i = 0; ; i++) {
    if (fn(tokens[i % tokens.length], inputs[i % inputs.length]) !== undefined) sink++
    if (i >= warmupIters && (i & 63) === 0 && hr() >= end) break
  }
  return sink
}

async function warmupAsync(fn, tokens, inputs, { warmupMs, warmupIters }) {
  let sink = 0
  const end = hr() + BigInt(warmupMs) * 1_000_000n
  for (let i = 0; ; i++) {
    if ((await fn(tokens[i % tokens.length], inputs[i % inputs.length])) !== undefined) sink++
    if (i >= warmupIters && (i & 63) === 0 && hr() >= end) break
  }
  return sink
}

/**
 * Timed calls fn(tokens[from + n], inputs[(from + n) % k]) for n < count or until budgetMs.
 * `tokens` may be a one-element array (warm: the same token every call). outcomes[from + n] gets
 * outcome(result) when `outcomes` is given.
 */
function timeSync(fn, outcome, tokens, inputs, from, count, budgetMs, outcomes) {
  const lat = new Float64Array(count)
  const k = inputs.length
  const one = tokens.length === 1
  let n = 0
  let sink = 0
  const start = hr()
  const deadline = start + BigInt(budgetMs) * 1_000_000n
  let last = start
  while (n < count) {
    const i = from + n
    const token = one ? tokens[0] : tokens[i]
    const input = inputs[i % k]
    const t0 = hr()
    const r = fn(token, input)
    last = hr()
    lat[n++] = Number(last - t0)
    const o = outcome(r)
    if (outcomes) outcomes[i] = o
    sink += o
    if ((n & 127) === 0 && last >= deadline) break
  }
  return { lat, n, elapsedNs: Number(last - start), sink }
}

async function timeAsync(fn, outcome, tokens, inputs, from, count, budgetMs, outcomes) {
  const lat = new Float64Array(count)
  const k = inputs.length
  const one = tokens.length === 1
  let n = 0
  let sink = 0
  const start = hr()
  const deadline = start + BigInt(budgetMs) * 1_000_000n
  let last = start
  while (n < count) {
    const i = from + n
    const token = one ? tokens[0] : tokens[i]
    const input = inputs[i % k]
    const t0 = hr()
    const r = await fn(token, input)
    last = hr()
    lat[n++] = Number(last - t0)
    const o = outcome(r)
    if (outcomes) outcomes[i] = o
    sink += o
    if ((n & 127) === 0 && last >= deadline) break
  }
  return { lat, n, elapsedNs: Number(last - start), sink }
}

// ---------------------------------------------------------------------------------------------

function pkgVersion(name) {
  return JSON.parse(readFileSync(join(repoRoot, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')).version
}

async function main() {
  const s = settings()
  const load = loadavg()[0]
  if (load > 0.5) log(`warning: 1-minute load average is ${load.toFixed(2)}; other processes will skew the numbers`)
  const core = await importCoreSdk()
  if (core.error) throw new Error(`CoreSDK unavailable: ${core.error}`) // this bench is about CoreSDK's authorize
  const policy = tokenPolicies.find((p) => p.name === 'token-rbac')
  const art = loadArtifacts(policy, wasmDir)

  // The policy first: opa-wasm and CoreSDK must match `opa eval` on the reference inputs.
  {
    const opa = await createOpaWasm(art.wasm, art.data)
    await verifyDecisions('opa-wasm token-rbac', (i) => normalizeOpaWasm(opa.evaluate(i)), art.inputs, art.expected)
    const e = new core.Engine({ policyDir: policy.dir, watch: false, decisionCacheEntries: 0 })
    await verifyDecisions('CoreSDK token-rbac', (i) => normalizeCoreSdk(e.evaluatePolicySync(policy.query, i)), art.inputs, art.expected)
    e.close()
    log(`token-rbac: ${art.inputs.length} reference inputs, both engines agree with opa eval`)
  }

  const t0 = Date.now()
  const keys = {}
  for (const alg of s.algs) keys[alg] = { key: await makeKey(alg, `bench-${alg.toLowerCase()}`), other: await makeKey(alg, `bench-${alg.toLowerCase()}`) }
  const jwks = { keys: s.algs.map((a) => keys[a].key.jwk) }
  const now = Math.floor(Date.now() / 1000)

  const rows = []
  const checks = {}
  const perRound = (total) => Math.max(1, Math.round(total / s.rounds))
  for (const alg of s.algs) {
    const { key, other } = keys[alg]
    // Tokens: a warm-up / agreement pool and the timed cold pool, all distinct (sub + random jti).
    const tm = Date.now()
    const warmupTokens = Array.from({ length: 1_000 }, (_, i) => mint(key, claimsFor(alg, i, now, 'w')))
    const pool = Array.from({ length: s.pool }, (_, i) => mint(key, claimsFor(alg, i, now, 'c')))
    if (new Set(pool).size !== pool.length) throw new Error(`${alg}: pool tokens are not distinct`)
    const warmToken = mint(key, { ...claimsFor(alg, 1, now, 'warm'), roles: ['editor'] })
    log(`${alg}: minted ${pool.length + warmupTokens.length + 1} tokens in ${((Date.now() - tm) / 1000).toFixed(1)}s`)

    const eng = await setupEngines(core.Engine, policy, art, key, jwks)
    const samples = warmupTokens.slice(0, 300).map((token, i) => ({ token, input: REQUESTS[i % REQUESTS.length] }))
    samples.push({ token: warmToken, input: REQUESTS[0] }, { token: warmToken, input: REQUESTS[3] })
    checks[alg] = await checkAgreement(alg, eng, samples, badTokens(key, other, now))
    log(`${alg}: ${checks[alg].sample} sample tokens agree (${checks[alg].allowed} allow / ${checks[alg].denied} deny); ${checks[alg].rejections.length} bad tokens rejected by all`)

    const cellsFor = (mode) => {
      const warm = mode === 'warm'
      const tokens = warm ? [warmToken] : pool
      const coreFn = eng.core(warm ? eng.coreWarm : eng.coreCold)
      const list = [
        { key: 'core', sync: true, fn: coreFn, outcome: eng.coreOutcome },
        { key: 'joseOpa', sync: false, fn: eng.joseOpa, outcome: eng.joseOpaOutcome },
        { key: 'coreVerify', sync: true, fn: eng.coreVerify(warm ? eng.coreWarm : eng.coreCold), outcome: eng.jwtOutcome },
        eng.jwtSupported && { key: 'jwt', sync: true, fn: eng.jwt, outcome: eng.jwtOutcome },
      ].filter(Boolean)
      return list.map((c) => ({ ...c, mode, tokens, warmupTokens: warm ? [warmToken] : warmupTokens, parts: [], outcomes: warm ? null : new Uint8Array(pool.length).fill(255) }))
    }

    for (const mode of ['cold', 'warm']) {
      const cells = cellsFor(mode)
      const slice = Math.floor(pool.length / s.rounds)
      for (let r = 0; r < s.rounds; r++) {
        for (const c of cells) {
          const from = mode === 'cold' ? r * slice : 0
          const count = mode === 'cold' ? slice : Math.ceil(s.warmMaxIters / s.rounds)
          const budget = mode === 'cold' ? perRound(s.coldMaxMs) : perRound(s.warmMs)
          let part
          if (c.sync) {
            warmupSync(c.fn, c.warmupTokens, REQUESTS, s)
            part = timeSync(c.fn, c.outcome, c.tokens, REQUESTS, from, count, budget, c.outcomes)
          } else {
            await warmupAsync(c.fn, c.warmupTokens, REQUESTS, s)
            part = await timeAsync(c.fn, c.outcome, c.tokens, REQUESTS, from, count, budget, c.outcomes)
          }
          c.parts.push(part)
        }
      }
      // Every timed call's outcome must match across engines (same token, same input).
      if (mode === 'cold') {
        const cell = (key) => cells.find((c) => c.key === key)
        const [a, b] = [cell('core'), cell('joseOpa')]
        const verifiers = cells.filter((c) => c.key === 'coreVerify' || c.key === 'jwt')
        let compared = 0
        for (let i = 0; i < pool.length; i++) {
          if (a.outcomes[i] === 255 || b.outcomes[i] === 255) continue
          compared++
          if (a.outcomes[i] !== b.outcomes[i]) throw new Error(`${alg} cold: call #${i}: CoreSDK outcome ${a.outcomes[i]}, jose + opa-wasm ${b.outcomes[i]}`)
          for (const v of verifiers) {
            if (v.outcomes[i] !== 255 && v.outcomes[i] !== 3) throw new Error(`${alg} cold: call #${i}: ${ENGINES[v.key]} ${CALLS[v.key]} rejected a valid token`)
          }
        }
        checks[alg].coldCallsCompared = compared
        checks[alg].coldAllowed = [...a.outcomes].filter((o) => o === 1).length
      } else {
        for (const c of cells) if (c.parts.some((p) => p.sink === 0)) throw new Error(`${alg} warm ${c.key}: no call succeeded`)
      }
      for (const c of cells) {
        const st = summarize(c.parts)
        const distinct = mode === 'cold' ? st.n : 1
        rows.push({ alg, mode, engine: ENGINES[c.key], engineKey: c.key, call: CALLS[c.key], distinctTokens: distinct, ...st })
        log(`${alg.padEnd(5)} ${mode} ${ENGINES[c.key].padEnd(16)} p50 ${fmtUs(st.p50Us)} µs  p99 ${fmtUs(st.p99Us)} µs  ${fmtOps(st.opsPerSec)} ops/s  (n=${st.n})`)
      }
    }
    eng.coreCold.close()
    eng.coreWarm.close()
  }

  // Ratios against jose + opa-wasm in the same (alg, mode). Above 1× = faster than jose + opa-wasm.
  for (const r of rows) {
    const base = rows.find((b) => b.alg === r.alg && b.mode === r.mode && b.engineKey === 'joseOpa')
    r.opsVsJoseOpa = r.opsPerSec / base.opsPerSec
    r.p50VsJoseOpa = base.p50Us / r.p50Us
    r.p99VsJoseOpa = base.p99Us / r.p99Us
  }

  const table = markdownTable(
    ['Alg', 'Mode', 'Engine', 'Call', 'Calls', 'p50 µs', 'p99 µs', 'ops/s', 'ops/s vs jose+opa-wasm', 'p50 vs', 'p99 vs'],
    rows.map((r) => [r.alg, r.mode, r.engine, r.call, fmtOps(r.n), fmtUs(r.p50Us), fmtUs(r.p99Us), fmtOps(r.opsPerSec), fmtRatio(r.opsVsJoseOpa), fmtRatio(r.p50VsJoseOpa), fmtRatio(r.p99VsJoseOpa)]),
    ['l', 'l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  )

  // The goals, as stated for this benchmark.
  const coreRow = (alg, mode) => rows.find((r) => r.alg === alg && r.mode === mode && r.engineKey === 'core')
  const goals = []
  for (const alg of s.algs) {
    const w = coreRow(alg, 'warm')
    goals.push({ goal: `warm p99 ≤ 10 µs (${alg})`, value: `${fmtUs(w.p99Us)} µs`, met: w.p99Us <= 10 })
  }
  if (s.algs.includes('RS256')) {
    const c = coreRow('RS256', 'cold')
    goals.push({ goal: 'cold RS256 p99 ≤ 60 µs', value: `${fmtUs(c.p99Us)} µs`, met: c.p99Us <= 60 })
  }
  for (const mode of ['cold', 'warm']) {
    for (const alg of s.algs) {
      const c = coreRow(alg, mode)
      const ahead = c.opsVsJoseOpa > 1 && c.p50VsJoseOpa > 1 && c.p99VsJoseOpa > 1
      goals.push({ goal: `ahead of jose + opa-wasm, ${mode} ${alg} (ops/s, p50 and p99)`, value: `${fmtRatio(c.opsVsJoseOpa)} / ${fmtRatio(c.p50VsJoseOpa)} / ${fmtRatio(c.p99VsJoseOpa)}`, met: ahead })
    }
  }
  const goalTable = markdownTable(['Goal', 'CoreSDK', 'Met'], goals.map((g) => [g.goal, g.value, g.met ? 'yes' : '**no**']))

  const versions = {
    coresdk: JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version,
    jose: pkgVersion('jose'),
    jsonwebtoken: pkgVersion('jsonwebtoken'),
    opaWasm: pkgVersion('@open-policy-agent/opa-wasm'),
    opa: OPA_VERSION,
  }
  const machine = machineInfo()
  const totalSec = (Date.now() - t0) / 1000
  console.log(`\n### Token verification + authorize (${policy.name}, ${policy.query})\n`)
  console.log(`Node ${machine.node}, ${machine.cpu} ×${machine.logicalCpus}; CoreSDK ${versions.coresdk}, jose ${versions.jose}, jsonwebtoken ${versions.jsonwebtoken}, opa-wasm ${versions.opaWasm} (opa ${versions.opa}).`)
  console.log(`cold: ${s.pool.toLocaleString('en-US')} distinct tokens per alg, each timed once per engine, CoreSDK token + decision caches off; warm: one token, CoreSDK defaults. ${s.rounds} interleaved rounds; 1-min load ${load.toFixed(2)} at start; ${totalSec.toFixed(0)} s.\n`)
  console.log(table)
  console.log('\n"vs" columns: jose + opa-wasm ÷ this row for latency, this row ÷ jose + opa-wasm for ops/s (above 1× = faster). jsonwebtoken verifies only (no policy) and has no EdDSA.\n')
  console.log(goalTable)

  mkdirSync(dirname(resultsFile), { recursive: true })
  writeFileSync(resultsFile, JSON.stringify({
    bench: 'token',
    date: new Date().toISOString(),
    machine,
    loadAvg1mAtStart: load,
    versions,
    policy: { name: policy.name, query: policy.query },
    settings: s,
    checks,
    rows: rows.map((r) => {
      const out = { ...r }
      delete out.engineKey
      return out
    }),
    goals,
    durationSec: totalSec,
  }, null, 2) + '\n')
  log(`wrote ${resultsFile} (${totalSec.toFixed(0)} s after setup)`)
}

main().catch((err) => {
  console.error(`[token.bench] ${err.stack ?? err}`)
  process.exit(1)
})
