// The floor of the JavaScript alternative: a do-nothing @grpc/grpc-js server
// over the same mutual TLS, answering EvaluatePolicy with allowed=true without
// evaluating anything. Whatever a JS sidecar does per call costs at least this.
//
// Usage: node bench/sidecar/grpc-js-floor.mjs <port> <ca.pem> <server.pem> <server.key>
// Prints "listening <port>" on stdout once bound; exits on SIGTERM.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as loader from '@grpc/proto-loader'

const [port, ca, cert, key] = process.argv.slice(2)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const def = loader.loadSync('coresdk/v1/coresdk.proto', { includeDirs: [join(root, 'proto')], keepCase: false, defaults: true })
const pkg = grpc.loadPackageDefinition(def).coresdk.v1
const server = new grpc.Server()
const answer = { valueJson: 'true', defined: true, allowed: true, revision: 'floor' }
server.addService(pkg.CoreSDK.service, {
  evaluatePolicy: (_call, cb) => cb(null, answer),
  authorize: (_call, cb) => cb(null, { allowed: true, reason: 'allowed' }),
  evaluatePolicies: (_call, cb) => cb(null, { results: [], revision: 'floor' }),
  maskPii: (_call, cb) => cb(null, { values: [] }),
})
const creds = grpc.ServerCredentials.createSsl(readFileSync(ca), [{ cert_chain: readFileSync(cert), private_key: readFileSync(key) }], true)
server.bindAsync(`[::1]:${port}`, creds, (err, bound) => {
  if (err) {
    console.error(err.message)
    process.exit(2)
  }
  console.log(`listening ${bound}`)
})
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)))
