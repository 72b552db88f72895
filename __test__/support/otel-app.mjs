// A service using CoreSDK with setupTelemetry(), for the OTLP end-to-end test: an Express app
// with the CoreSDK middleware (in-process), plus one application span carrying PII. Sends its
// own requests, flushes, exits. Usage: node otel-app.mjs <policyDir> <jwksFile> <issuer> <audience> <tokenOk> <tokenExpired>
import express from 'express'
import { trace } from '@opentelemetry/api'
import { CoreSDKClient, setupTelemetry } from '../../dist/index.js'
import { coresdk } from '../../dist/express.js'

const [policyDir, jwksFile, issuer, audience, tokenOk, tokenExpired] = process.argv.slice(2)
const telemetry = setupTelemetry({ serviceName: 'coresdk-e2e', metricIntervalMs: 1000 })
const client = new CoreSDKClient({ mode: 'in-process', engine: { policyDir, watch: false, token: { jwksFile, issuer, audience } } })
const app = express()
app.use(coresdk({ client, query: 'data.authz.allow', input: () => ({ action: 'read' }) }))
app.get('/profile', (req, res) => {
  const span = trace.getTracer('otel-app').startSpan('lookup profile of bob@example.com', { attributes: { 'user.email': 'bob@example.com', 'http.request.header.authorization': req.headers.authorization, 'card.note': 'paid with 4111 1111 1111 1111' } })
  span.end()
  res.json({ ok: true })
})
const server = app.listen(0, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${server.address().port}/profile`
  const a = await fetch(base, { headers: { authorization: `Bearer ${tokenOk}` } })
  const b = await fetch(base, { headers: { authorization: `Bearer ${tokenExpired}` } })
  console.log(JSON.stringify({ ok: a.status, expired: b.status }))
  await telemetry.flush()
  await telemetry.shutdown()
  server.close(() => client.close())
})
