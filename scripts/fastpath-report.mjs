#!/usr/bin/env node
// Which rule queries the tree evaluator answers, and why the others go to
// the interpreter, over many bundles at once: `coresdk-sidecar check
// --fast-path --format json` run on each, its reasons tallied.
//
//   node scripts/fastpath-report.mjs                 the example and benchmark bundles
//   node scripts/fastpath-report.mjs --conformance   also every case of OPA's conformance
//                                                    corpus (its modules and data as one bundle;
//                                                    the corpus comes from the Go module cache,
//                                                    as for npm run conformance)
//   options: --program <coresdk-sidecar>  (default target/debug's, else native/node's)
//            --top <n> reasons to list (default 20)   --json <file> (every entry)
//
// A reason names the rule and where it is; the tally groups reasons with
// the rule paths, file locations and quoted source replaced by "…", so that
// one shape refused in many bundles counts as one line (docs/engine.md, "The
// fast path", lists the figures).

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};

const program =
  option('--program') ??
  [join(root, 'target', 'debug', 'coresdk-sidecar'), join(root, 'native', 'node', 'coresdk-sidecar')].find((p) =>
    existsSync(p),
  );
if (!program) {
  console.error('fastpath-report: no coresdk-sidecar program: cargo build -p coresdk-sidecar, or pass --program');
  process.exit(2);
}
const top = Number(option('--top', '20'));

/** @typedef {{ query: string, evaluator: string, guards: number, indexed: boolean, reason?: string }} Entry */

/**
 * `check --fast-path` on one bundle.
 * @param {string[]} paths
 * @param {boolean} plainFiles read as plain files (no manifest)
 * @returns {Promise<{ ok: boolean, entries: Entry[], error?: string }>}
 */
async function check(paths, plainFiles) {
  const args = ['check', '--fast-path', '--format', 'json', ...(plainFiles ? ['--ignore-manifest'] : []), ...paths];
  let stdout;
  try {
    ({ stdout } = await run(program, args, { maxBuffer: 64 << 20 }));
  } catch (e) {
    // Exit 1: the bundle does not compile; the report is still on stdout.
    stdout = /** @type {{ stdout?: string }} */ (e).stdout ?? '';
  }
  const report = JSON.parse(stdout || '{}');
  return {
    ok: report.ok === true,
    entries: report.fast_path ?? [],
    error: report.errors?.[0]?.message,
  };
}

/** A reason without what is particular to one bundle: rule paths, locations, quoted source. */
function shape(reason) {
  return reason
    .replace(/\((?:[^()]*):\d+:\d+\)/g, '(…)')
    .replace(/`[^`]*`/g, '`…`')
    .replace(/\bdata(?:\.[A-Za-z_][\w]*|\["[^"]*"\])+/g, 'data.…')
    .replace(/\s+at\s+\S+:\d+:\d+/g, ' at …');
}

/** @type {{ name: string, paths: string[], plainFiles: boolean, cleanup?: string }[]} */
const bundles = [{ name: 'examples/policies', paths: [join(root, 'examples', 'policies')], plainFiles: false }];
const benchDir = join(root, 'bench', 'policies');
for (const name of readdirSync(benchDir).sort()) {
  const dir = join(benchDir, name);
  if (statSync(dir).isDirectory()) bundles.push({ name: `bench/policies/${name}`, paths: [dir], plainFiles: false });
}

let conformanceDir;
if (flag('--conformance')) {
  const { locateCases, loadCases } = await import('./conformance/cases.mjs');
  const cases = loadCases(locateCases().casesDir);
  conformanceDir = mkdtempSync(join(tmpdir(), 'coresdk-fastpath-report-'));
  cases.forEach((c, i) => {
    if (c.modules.length === 0) return;
    const files = c.modules.map((m, j) => {
      const f = join(conformanceDir, `${i}-test-${j}.rego`);
      writeFileSync(f, m);
      return f;
    });
    if (c.data && Object.keys(c.data).length > 0 && !c.bigIntInData) {
      const f = join(conformanceDir, `${i}-data.json`);
      writeFileSync(f, JSON.stringify(c.data));
      files.push(f);
    }
    bundles.push({ name: `conformance ${c.id}`, paths: files, plainFiles: true });
  });
}

/** @type {Map<string, number>} */
const tally = new Map();
const all = [];
let queries = 0;
let onTree = 0;
let refusedAtLoad = 0;
let next = 0;
const quiet = bundles.length > 40;
async function worker() {
  while (next < bundles.length) {
    const b = bundles[next++];
    const r = await check(b.paths, b.plainFiles);
    if (!r.ok) {
      refusedAtLoad++;
      if (!quiet) console.log(`${b.name}: does not load: ${r.error}`);
      continue;
    }
    const tree = r.entries.filter((e) => e.reason === undefined).length;
    queries += r.entries.length;
    onTree += tree;
    if (!quiet) console.log(`${b.name}: ${tree} of ${r.entries.length} rule queries on the tree evaluator`);
    for (const e of r.entries) {
      all.push({ bundle: b.name, ...e });
      if (e.reason !== undefined) tally.set(shape(e.reason), (tally.get(shape(e.reason)) ?? 0) + 1);
    }
  }
}
await Promise.all([worker(), worker()]);
if (conformanceDir) rmSync(conformanceDir, { recursive: true, force: true });

console.log(
  `\n${bundles.length} bundles (${refusedAtLoad} do not load here), ${queries} rule queries: ` +
    `${onTree} on the tree evaluator (${queries ? ((100 * onTree) / queries).toFixed(1) : '0'}%), ${queries - onTree} on the interpreter`,
);
console.log(`\nThe most frequent reasons (of ${tally.size} kinds):`);
for (const [reason, n] of [...tally].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top)) {
  console.log(`${String(n).padStart(6)}  ${reason}`);
}
const jsonFile = option('--json');
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(all, null, 2)}\n`);
