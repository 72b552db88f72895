// One variant of the benchmark's Express app, in its own process.
// Usage: node bench/middleware/server.mjs <variant> <config.json>
// Variants: none | coresdk-inprocess | coresdk-inprocess-nocache | coresdk-sidecar | express-jwt
// Prints "listening <port>" once bound.
import { readFileSync } from 'node:fs'
import express from 'express'
import { expressjwt } from 'express-jwt'
import jwksRsa from 'jwks-rsa'
import { CoreSDKClient } from '../../dist/index.js'
import { coresdk } from '../../dist/express.js'

const [variant, configFile] = process.argv.slice(2)
const cfg = JSON.parse(readFileSync(configFile, 'utf8'))
const app = express()
app.disable('x-powered-by')
const input = (req) => ({ action: 'read', resource: { type: 'document', id: req.params.id } })

if (variant === 'coresdk-inprocess' || variant === 'coresdk-inprocess-nocache') {
  const nocache = variant.endsWith('nocache')
  const client = new CoreSDKClient({
    mode: 'in-process',
    engine: {
      policyDir: cfg.policyDir,
      watch: false,
      decisionCacheEntries: nocache ? 0 : undefined,
      token: { jwksFile: cfg.jwksFile, issuer: cfg.issuer, audience: cfg.audience, tokenCacheEntries: nocache ? 0 : undefined },
    },
  })
  app.use('/documents/:id', coresdk({ client, query: 'data.authz.allow', input }))
} else if (variant === 'coresdk-sidecar') {
  const client = new CoreSDKClient({ sidecarAddr: cfg.sidecarAddr, tls: cfg.tls, failMode: 'closed' })
  app.use('/documents/:id', coresdk({ client, query: 'data.authz.allow', input }))
} else if (variant === 'express-jwt') {
  app.use(
    expressjwt({
      secret: jwksRsa.expressJwtSecret({ jwksUri: cfg.jwksUri, cache: true, rateLimit: false }),
      algorithms: ['RS256'],
      issuer: cfg.issuer,
      audience: cfg.audience,
    }),
  )
} else if (variant !== 'none') {
  console.error(`unknown variant ${variant}`)
  process.exit(2)
}
app.get('/documents/:id', (req, res) => {
  res.json({ id: req.params.id, sub: req.coresdkUser?.sub ?? req.auth?.sub ?? null })
})
// Express recognises an error handler by its four parameters.
// eslint-disable-next-line no-unused-vars
app.use((err, _req, res, _next) => {
  res.status(err.status ?? 500).json({ error: err.code ?? 'error' })
})
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`))
process.on('SIGTERM', () => process.exit(0))
