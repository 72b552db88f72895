#!/usr/bin/env node
// `node bench/run.mjs pii`: masking throughput and per-span overhead, in one run beside
// redact-pii (SyncRedactor, its built-in patterns) and a straightforward JavaScript masker
// (one regex per detector, applied in turn with String.replace).
//
// Text: mixed log lines (about one value to mask per line, the rest ordinary words and
// numbers), 4 MB per batch. Throughput is single-threaded: CoreSDK is called on the main
// thread with one batch of lines per call. Per span: a span with 20 string attributes, through
// PiiMaskingSpanProcessor onEnd (one native call per span), against the JS masker applied to
// the same 20 values + name.
// Env: BENCH_TIME_MS (default 2000 per cell).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import redactPii from 'redact-pii'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { Masker, PiiMaskingSpanProcessor } = await import(join(root, 'dist', 'index.js'))
const TIME = Number(process.env.BENCH_TIME_MS ?? 2000)

const lines = [
  'GET /api/v1/orders?id=1234567 HTTP/1.1 200 in 12.5ms trace=4bf92f3577b34da6a3ce929d0e0e4736',
  'user alice.smith@example.com logged in from 192.168.10.24 at 2026-11-28T19:34:34Z',
  'payment with card 4111 1111 1111 1111 declined; retry scheduled in 30s (attempt 2 of 5)',
  'the quick brown fox jumps over the lazy dog while the service scales to 42 replicas',
  'call back +14155552671 about ticket 98123, version 2.4.1 deployed to eu-west-1',
  'Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345 rejected: token expired',
  'ordinary log line with nothing sensitive inside it, just words and numbers 3.14159',
  'config reloaded: 17 rules, 3 tenants, revision sha256:796a56f5d80d, took 4 ms',
]
const batch = []
let bytes = 0
while (bytes < 4 * 1024 * 1024) {
  for (const l of lines) {
    batch.push(l)
    bytes += Buffer.byteLength(l)
  }
}

// The straightforward JavaScript masker: one regex per detector, in turn.
const jsRules = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED:private_key]'],
  [/\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[REDACTED:jwt]'],
  [/\bbearer\s+[A-Za-z0-9._~+/-]{8,}=*/gi, '[REDACTED:bearer_token]'],
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, '[REDACTED:aws_access_key]'],
  [/\bgh[pousr]_[A-Za-z0-9]{36}\b/g, '[REDACTED:github_token]'],
  [/\b[rsp]k_(?:live|test)_[A-Za-z0-9]{10,}\b/g, '[REDACTED:stripe_key]'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, '[REDACTED:slack_token]'],
  [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g, '[REDACTED:email]'],
  [/\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, '[REDACTED:iban]'],
  [/\b\d(?:[ -]?\d){12,18}\b/g, '[REDACTED:card_number]'],
  [/\b\d{3}-\d{2}-\d{4}\b/g, '[REDACTED:us_ssn]'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '[REDACTED:ipv4]'],
  [/(?:\+\d{1,3}[ .-]?)?\(?\d{2,4}\)?[ .-]\d{3,4}[ .-]\d{3,4}\b|\+\d{7,15}\b/g, '[REDACTED:phone]'],
]
const jsMask = (s) => {
  for (const [re, tag] of jsRules) s = s.replace(re, tag)
  return s
}
const redactor = new redactPii.SyncRedactor()
const masker = new Masker()

function measure(fn) {
  fn()
  const times = []
  const end = performance.now() + TIME
  while (performance.now() < end) {
    const t = performance.now()
    fn()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return { runs: times.length, median: times[Math.floor(times.length / 2)] }
}

const mb = bytes / 1e6
const results = []
const row = (name, fn) => {
  const r = measure(fn)
  results.push({ name, mbPerSec: mb / (r.median / 1000), runs: r.runs })
  process.stderr.write(`[pii-bench] ${name}: ${(mb / (r.median / 1000)).toFixed(1)} MB/s (${r.runs} runs)\n`)
}
row('CoreSDK Masker.mask (Rust, one call per 4 MB batch)', () => masker.mask(batch))
row('JavaScript regex masker (13 regexes in turn)', () => batch.map(jsMask))
row('redact-pii SyncRedactor', () => batch.map((l) => redactor.redact(l)))

// Per span: 20 string attributes (a third with PII), through the processor's onEnd.
const attrs = {}
for (let i = 0; i < 20; i++) attrs[`app.attr${i}`] = i % 3 === 0 ? `user${i}@example.com` : `value number ${i} of the request`
attrs['http.request.header.authorization'] = 'Bearer abcdefghijklmnopqrstuvwxyz'
const span = { name: 'GET /users/42', attributes: attrs, events: [], links: [], status: { code: 0 }, spanContext: () => ({}) }
let sink = 0
const proc = new PiiMaskingSpanProcessor({ onStart() {}, onEnd(s) { sink += s.name.length }, forceFlush: async () => {}, shutdown: async () => {} })
const N = 20_000
const perSpan = (fn) => {
  for (let i = 0; i < 2000; i++) fn()
  const rounds = []
  for (let r = 0; r < 5; r++) {
    const t = performance.now()
    for (let i = 0; i < N; i++) fn()
    rounds.push(((performance.now() - t) * 1000) / N)
  }
  rounds.sort((a, b) => a - b)
  return rounds[2]
}
const spanCore = perSpan(() => proc.onEnd(span))
const cleanAttrs = {}
for (let i = 0; i < 20; i++) cleanAttrs[`app.attr${i}`] = `value number ${i} of the request`
cleanAttrs['http.route'] = '/users/:id'
const cleanSpan = { ...span, attributes: cleanAttrs }
const spanCoreClean = perSpan(() => proc.onEnd(cleanSpan))
const spanJs = perSpan(() => {
  const out = {}
  for (const [k, v] of Object.entries(span.attributes)) out[k] = /authorization|cookie|password|secret|token/i.test(k) ? '[REDACTED:secret]' : jsMask(v)
  sink += jsMask(span.name).length + Object.keys(out).length
})
const spanRedact = perSpan(() => {
  const out = {}
  for (const [k, v] of Object.entries(span.attributes)) out[k] = redactor.redact(v)
  sink += redactor.redact(span.name).length + Object.keys(out).length
})
// The path setupTelemetry() takes with @opentelemetry/sdk-trace-base 2.x: onEnding on a real,
// still-open SDK span, masking it in place. A fresh span per iteration; only onEnding is timed.
const { BasicTracerProvider } = await import('@opentelemetry/sdk-trace-base')
const tracer = new BasicTracerProvider().getTracer('bench')
const perEnding = (attributes) => {
  const run = (n) => {
    let total = 0
    for (let i = 0; i < n; i++) {
      const s = tracer.startSpan('GET /users/42', { attributes })
      const t = performance.now()
      proc.onEnding(s)
      total += performance.now() - t
      sink += s.name.length
    }
    return (total * 1000) / n
  }
  run(2000)
  const rounds = [run(N), run(N), run(N)].sort((a, b) => a - b)
  return rounds[1]
}
const endingCore = perEnding(attrs)
const endingClean = perEnding(cleanAttrs)
process.stderr.write(`[pii-bench] per span (21 attributes): CoreSDK ${spanCore.toFixed(2)} µs, JS ${spanJs.toFixed(2)} µs, redact-pii ${spanRedact.toFixed(2)} µs (${sink > 0})\n`)

mkdirSync(join(root, 'bench', 'results'), { recursive: true })
writeFileSync(join(root, 'bench', 'results', 'pii.json'), JSON.stringify({ date: new Date().toISOString(), bytes, results, perSpanUs: { coresdk: spanCore, coresdkClean: spanCoreClean, coresdkOnEnding: endingCore, coresdkOnEndingClean: endingClean, js: spanJs, redactPii: spanRedact } }, null, 2))
const core = results[0].mbPerSec
console.log('\n### PII masking (single thread, mixed log text)\n')
console.log('| masker | MB/s | vs CoreSDK |')
console.log('|---|---:|---:|')
for (const r of results) console.log(`| ${r.name} | ${r.mbPerSec.toFixed(1)} | ${r === results[0] ? '–' : `CoreSDK ${(core / r.mbPerSec).toFixed(1)}× faster`} |`)
console.log(`\nPer span, 21 string attributes: CoreSDK PiiMaskingSpanProcessor ${spanCore.toFixed(2)} µs with 8 values to mask (${spanCoreClean.toFixed(2)} µs with none), JavaScript regexes ${spanJs.toFixed(2)} µs, redact-pii ${spanRedact.toFixed(2)} µs.`)
console.log(`In place on a live SDK span (onEnding, the path of setupTelemetry() with sdk-trace-base 2.x): ${endingCore.toFixed(2)} µs with 8 values to mask, ${endingClean.toFixed(2)} µs with none.`)
