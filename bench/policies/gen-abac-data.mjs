#!/usr/bin/env node
// Generates bench/policies/abac/data.json: 1,000 resources keyed by id, each with
// owner, department, classification and region. Deterministic (fixed-seed PRNG),
// so the committed output is reproducible: `node bench/policies/gen-abac-data.mjs`.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))

// mulberry32: tiny deterministic PRNG
let seed = 0xC0DE5D4
const rand = () => {
  seed |= 0
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)]

const departments = ['engineering', 'finance', 'sales', 'legal', 'hr', 'support', 'marketing', 'security']
const classifications = ['public', 'internal', 'internal', 'confidential', 'secret']
const regions = ['eu', 'us', 'apac']
const kinds = ['document', 'dataset', 'dashboard', 'repository', 'contract']

const resources = {}
for (let i = 0; i < 1000; i++) {
  const id = `res-${String(i).padStart(4, '0')}`
  resources[id] = {
    kind: pick(kinds),
    owner: `u-${String(Math.floor(rand() * 200)).padStart(3, '0')}`,
    department: pick(departments),
    classification: pick(classifications),
    region: pick(regions),
    legal_hold: rand() < 0.05,
  }
}

const data = {
  inventory: {
    clearance_levels: { public: 0, internal: 1, confidential: 2, secret: 3 },
    resources,
  },
}
writeFileSync(join(here, 'abac', 'data.json'), JSON.stringify(data, null, 1) + '\n')
console.log('wrote abac/data.json with', Object.keys(resources).length, 'resources')
