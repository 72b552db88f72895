#!/usr/bin/env node
// An OTLP/HTTP receiver that accepts every export and discards it, for the
// sidecar benchmark's telemetry row: the cost measured is the sidecar's
// (recording, batching, serializing, sending), not a collector's storage.
// Answers 200 with an empty Export*ServiceResponse (valid protobuf). Counts
// the spans and log records that arrive (it walks the protobuf's length-
// delimited fields, nothing more) so the bench can say how much of what was
// recorded was exported: GET /counts answers them as JSON. Prints
// `listening <port>`; on SIGTERM prints what it received to stderr.
import { createServer } from 'node:http'

/** Reads a protobuf varint at `at`; [value, next offset]. */
function varint(buf, at) {
  let v = 0
  let mul = 1
  for (;;) {
    const b = buf[at++]
    v += (b & 0x7f) * mul
    if (b < 0x80) return [v, at]
    mul *= 128
  }
}

/**
 * Counts the records of an Export{Trace,Logs}ServiceRequest: field 1
 * (resource_spans / resource_logs), in each field 2 (scope_spans /
 * scope_logs), in each field 2 (spans / log_records). Both requests share
 * that shape.
 */
function countRecords(buf, start = 0, end = buf.length, path = [1, 2, 2]) {
  let n = 0
  let at = start
  while (at < end) {
    const [key, afterKey] = varint(buf, at)
    at = afterKey
    const field = Math.floor(key / 8)
    const wire = key & 7
    if (wire === 0) at = varint(buf, at)[1]
    else if (wire === 1) at += 8
    else if (wire === 5) at += 4
    else if (wire === 2) {
      const [len, body] = varint(buf, at)
      if (field === path[0]) n += path.length === 1 ? 1 : countRecords(buf, body, body + len, path.slice(1))
      at = body + len
    } else throw new Error(`wire type ${wire}`)
  }
  return n
}

const seen = { requests: 0, bytes: 0, spans: 0, logs: 0, byPath: {} }
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/counts') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(seen))
    return
  }
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks)
    seen.requests++
    seen.bytes += body.length
    seen.byPath[req.url] = (seen.byPath[req.url] ?? 0) + 1
    if (req.url === '/v1/traces') seen.spans += countRecords(body)
    if (req.url === '/v1/logs') seen.logs += countRecords(body)
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' })
    res.end()
  })
})
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`))
process.on('SIGTERM', () => {
  process.stderr.write(`otlp-sink: ${JSON.stringify(seen)}\n`)
  server.close()
  process.exit(0)
})
