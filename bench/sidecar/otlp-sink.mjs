#!/usr/bin/env node
// An OTLP/HTTP receiver that accepts every export and discards it, for the
// sidecar benchmark's telemetry row: the cost measured is the sidecar's
// (recording, batching, serializing, sending), not a collector's storage.
// Answers 200 with an empty Export*ServiceResponse (valid protobuf). Prints
// `listening <port>`; on SIGTERM prints what it received to stderr.
import { createServer } from 'node:http'

const seen = { requests: 0, bytes: 0, byPath: {} }
const server = createServer((req, res) => {
  let n = 0
  req.on('data', (c) => (n += c.length))
  req.on('end', () => {
    seen.requests++
    seen.bytes += n
    seen.byPath[req.url] = (seen.byPath[req.url] ?? 0) + 1
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
