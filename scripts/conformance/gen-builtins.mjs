// Regenerates scripts/conformance/builtins.json: the builtin names OPA defines
// (from the OPA module's capabilities/<version>.json) and the ones the pinned
// regorus registers with the features native/engine enables (read from the
// regorus crate source in the cargo registry, honoring #[cfg(feature = ...)]).
//
// run.mjs uses the list to tell "fails because regorus lacks builtin X" (skip)
// from a real failure. Rerun after bumping regorus or OPA, or after changing
// the engine's regorus features:
//
//   node scripts/conformance/gen-builtins.mjs
//
// It needs ~/.cargo/registry (any cargo build of the workspace fills it) and
// the OPA module (see cases.mjs); it never runs cargo itself.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateCases } from './cases.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

function regorusVersion() {
  const ws = fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8');
  const m = /^regorus\s*=\s*\{[^}]*version\s*=\s*"=?([^"]+)"/m.exec(ws);
  if (!m) throw new Error('regorus version not found in Cargo.toml');
  return m[1];
}

function engineFeatures() {
  const t = fs.readFileSync(path.join(root, 'native', 'engine', 'Cargo.toml'), 'utf8');
  const m = /^regorus\s*=\s*\{[^}]*features\s*=\s*\[([^\]]*)\]/m.exec(t);
  return m ? [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]) : [];
}

function findCrate(version) {
  const home = process.env.CARGO_HOME || path.join(os.homedir(), '.cargo');
  const src = path.join(home, 'registry', 'src');
  for (const idx of fs.existsSync(src) ? fs.readdirSync(src) : []) {
    const dir = path.join(src, idx, `regorus-${version}`);
    if (fs.existsSync(dir)) return dir;
  }
  throw new Error(`regorus-${version} source not found under ${src} (build the workspace once)`);
}

function expandFeatures(crateDir, requested) {
  const toml = fs.readFileSync(path.join(crateDir, 'Cargo.toml'), 'utf8');
  const section = toml.split(/^\[features\]\s*$/m)[1]?.split(/^\[/m)[0] ?? '';
  const table = {};
  for (const m of section.matchAll(/^([\w-]+)\s*=\s*\[([^\]]*)\]/gm)) {
    table[m[1]] = [...m[2].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
  }
  const on = new Set();
  const add = (f) => {
    if (f.startsWith('dep:') || f.includes('/') || on.has(f)) return;
    on.add(f);
    for (const g of table[f] ?? []) add(g);
  };
  requested.forEach(add);
  return on;
}

function allFeatures(crateDir) {
  const toml = fs.readFileSync(path.join(crateDir, 'Cargo.toml'), 'utf8');
  const section = toml.split(/^\[features\]\s*$/m)[1]?.split(/^\[/m)[0] ?? '';
  // azure_policy registers Azure-specific functions only; leave it out.
  return new Set([...section.matchAll(/^([\w-]+)\s*=/gm)].map((m) => m[1]).filter((f) => f !== 'azure_policy'));
}

function cfgAllows(attr, on) {
  // Handles #[cfg(feature = "x")], #[cfg(not(feature = "x"))], #[cfg(test)].
  let m = /^#\[cfg\(feature\s*=\s*"([^"]+)"\)\]$/.exec(attr);
  if (m) return on.has(m[1]);
  m = /^#\[cfg\(not\(feature\s*=\s*"([^"]+)"\)\)\]$/.exec(attr);
  if (m) return !on.has(m[1]);
  if (attr === '#[cfg(test)]') return false;
  return true; // unknown forms: assume enabled
}

function registeredNames(file, on) {
  const lines = fs.readFileSync(file, 'utf8').replace(/m\.insert\(\s*\n\s*"/g, 'm.insert("').split('\n');
  const names = [];
  let depth = 0;
  const stack = []; // { depth, ok }
  let pending = null;
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('//')) continue;
    if (/^#\[cfg\(/.test(line)) {
      pending = cfgAllows(line, on);
      continue;
    }
    const enabled = stack.every((s) => s.ok) && pending !== false;
    if (enabled) for (const m of line.matchAll(/m\.insert\(\s*"([^"]+)"/g)) names.push(m[1]);
    const opens = (line.match(/\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    if (pending !== null && opens > closes) stack.push({ depth: depth + 1, ok: pending });
    depth += opens - closes;
    while (stack.length && depth < stack[stack.length - 1].depth) stack.pop();
    if (line) pending = null;
  }
  return names;
}

function regorusBuiltins(crateDir, on) {
  const dir = path.join(crateDir, 'src', 'builtins');
  const modRs = fs.readFileSync(path.join(dir, 'mod.rs'), 'utf8');
  const modFeature = {};
  for (const m of modRs.matchAll(/#\[cfg\(feature\s*=\s*"([^"]+)"\)\]\s*(?:pub\s+)?mod\s+(\w+);/g)) modFeature[m[2]] = m[1];
  const registeredMods = new Set([...modRs.matchAll(/^\s*(?:#\[cfg\([^\n]*\)\]\s*)?(\w+)::register\(/gm)].map((m) => m[1]));
  const out = new Set();
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const mod = e.name.replace(/\.rs$/, '');
    if (mod === 'mod' || !registeredMods.has(mod)) continue;
    if (modFeature[mod] && !on.has(modFeature[mod])) continue;
    const files = e.isDirectory()
      ? fs.readdirSync(path.join(dir, e.name), { recursive: true }).filter((f) => f.endsWith('.rs')).map((f) => path.join(dir, e.name, f))
      : [path.join(dir, e.name)];
    for (const f of files) registeredNames(f, on).forEach((n) => out.add(n));
  }
  out.add('print'); // handled by the interpreter itself
  return [...out].sort();
}

// CoreSDK's own builtins (native/engine/src/builtins/mod.rs TABLE): those regorus lacks are
// implemented there as engine extensions; the `__coresdk.` names are internal.
function engineBuiltins() {
  const src = fs.readFileSync(path.join(root, 'native', 'engine', 'src', 'builtins', 'mod.rs'), 'utf8');
  const table = src.slice(src.indexOf('const TABLE'), src.indexOf('];', src.indexOf('const TABLE')));
  return [...table.matchAll(/\(\s*"([a-z][\w.]*)",\s*\d+,/g)].map((m) => m[1]).filter((n) => !n.startsWith('__')).sort();
}

const rv = regorusVersion();
const crate = findCrate(rv);
const requested = engineFeatures();
const on = expandFeatures(crate, requested);
const loc = locateCases();
const capsFile = path.join(loc.moduleDir, 'capabilities', `${loc.version}.json`);
const caps = JSON.parse(fs.readFileSync(capsFile, 'utf8'));
const opa = caps.builtins.filter((b) => !b.infix && !b.name.startsWith('internal.')).map((b) => b.name);
// Not in capabilities: registered by OPA's topdown test harness, used by a few cases.
opa.push('test.sleep');
const result = {
  generatedBy: 'node scripts/conformance/gen-builtins.mjs',
  opaVersion: loc.version,
  regorusVersion: rv,
  regorusFeatures: requested,
  opaBuiltins: [...new Set(opa)].sort(),
  regorusBuiltins: regorusBuiltins(crate, on),
};
result.missingInRegorus = result.opaBuiltins.filter((n) => !result.regorusBuiltins.includes(n));
result.engineBuiltins = engineBuiltins();
// What neither regorus nor the engine implements: the cases that call these are skipped.
result.missing = result.missingInRegorus.filter((n) => !result.engineBuiltins.includes(n));
// Missing here but implemented by regorus behind a cargo feature native/engine leaves off.
const everything = regorusBuiltins(crate, allFeatures(crate));
result.behindDisabledFeature = result.missing.filter((n) => everything.includes(n));
fs.writeFileSync(path.join(here, 'builtins.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`regorus ${rv}: ${result.regorusBuiltins.length} builtins; the engine's own: ${result.engineBuiltins.length}; OPA ${loc.version}: ${result.opaBuiltins.length}; missing: ${result.missing.length}`);
console.log(result.missing.join(' '));
console.log(`behind a regorus feature native/engine does not enable: ${result.behindDisabledFeature.join(' ') || 'none'}`);
