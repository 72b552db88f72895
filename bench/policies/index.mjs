// The benchmark's policy bundles. Each entry is a directory under bench/policies/ in OPA bundle
// layout (.rego files + data.json) plus inputs.json (an array of inputs, not part of the bundle),
// and the query to evaluate. The opa-wasm entrypoint is derived from the query.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const policiesDir = dirname(fileURLToPath(import.meta.url))

export const policies = [
  { name: 'rbac', query: 'data.authz.allow', description: '5 roles → (action, type) grants in data.json' },
  { name: 'abac', query: 'data.abac.allow', description: '1,000-resource inventory lookup + user attributes' },
  { name: 'rules100', query: 'data.rules100.allow', description: '100 distinct allow rules (API gateway)' },
  { name: 'gateway', query: 'data.gateway.allow', description: '60 allow bodies: glob.match paths, methods, scopes' },
  { name: 'rolegraph', query: 'data.rolegraph.allow', description: 'graph.reachable role inheritance + glob resource grants' },
  { name: 'denyset', query: 'data.denyset.allow', description: 'allow if count(deny) == 0 over 12 deny rules' },
  { name: 'rules1000', query: 'data.rules1000.allow', description: '1,000 distinct allow rules (generated)' },
  { name: 'abacpair', query: 'data.abacpair.allow', description: 'subject vs resource attributes from the input, beside a deny set' },
].map(withPaths)

// Bundles of the token benchmark (bench/token.bench.mjs). Their inputs.json holds full policy
// inputs (request + `claims`), checked against `opa eval` like the others; they are built to wasm
// by tools/build-wasm.mjs but not measured by the policy benchmark.
export const tokenPolicies = [
  { name: 'token-rbac', query: 'data.authz.allow', description: 'roles claim → (action, type) grants, tenant claim must match' },
].map(withPaths)

function withPaths(p) {
  return {
    ...p,
    dir: join(policiesDir, p.name),
    entrypoint: p.query.replace(/^data\./, '').replaceAll('.', '/'),
  }
}
