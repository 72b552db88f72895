#!/usr/bin/env node
// The long run of the policy-generating differential test against OPA
// (__test__/opa.differential.test.ts): the same generator and the same
// comparisons, over many more cases, in chunks of case indices of one seed
// (each chunk is one vitest run with its own OPA server and sidecar), then
// the classified counts of every chunk merged.
//
// Usage:
//   node scripts/differential.mjs [--cases 200000] [--seed N] [--chunk 2000] [--hours H]
//                                 [--inputs 8] [--sidecar-every 4] [--start 0]
//
// --cases   cases to generate in all (default 200000)
// --seed    the run's seed (default: CORESDK_DIFF_SEED, else one made from the clock, printed)
// --chunk   cases per vitest run (default 2000, about 2 minutes on 2 cores)
// --hours   stop starting new chunks after this long (default: no limit)
// --start   index of the first case (default 0): resumes a run, with the same seed
//
// Each chunk's log and summary go to .cache/differential/<seed>/; the merged
// summary (counts by class and evaluator, every kind of difference with its
// count and two reproducible examples) is printed at the end and written to
// .cache/differential/<seed>/summary.json. Exits 1 when any difference of a
// failing class was found (see the test's header), 0 otherwise.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The classes as the test defines them (__test__/opa.differential.test.ts).
const FAILING = ['ALLOW_WHERE_OPA_DOES_NOT', 'VALUE_DIFFERS', 'ACCEPTED_WHERE_OPA_REFUSES'];
const ALLOWED = ['ERROR_WHERE_OPA_ANSWERS', 'REFUSED_AT_LOAD', 'UNDEFINED_WHERE_OPA_DEFINED', 'UNDEFINED_WHERE_OPA_ERRORS', 'NUMBER_BEYOND_64_BITS', 'NUMBER_FORMAT_DIFFERS'];

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${a} needs a value`);
    out[a.slice(2)] = Number(v);
    if (!Number.isFinite(out[a.slice(2)])) throw new Error(`${a}: not a number: ${v}`);
    i++;
  }
  return out;
}

const opt = args();
const seed = opt.seed ?? (process.env.CORESDK_DIFF_SEED ? Number(process.env.CORESDK_DIFF_SEED) : Date.now() % 2 ** 31);
const total = opt.cases ?? 200_000;
const chunk = Math.max(1, opt.chunk ?? 2000);
const first = opt.start ?? 0;
const deadline = opt.hours === undefined ? Infinity : Date.now() + opt.hours * 3_600_000;
const outDir = join(root, '.cache', 'differential', String(seed));
mkdirSync(outDir, { recursive: true });

console.log(`[differential] seed ${seed}, cases ${first}..${first + total - 1} in chunks of ${chunk}; logs and summaries in ${outDir}`);

let child = null;
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
  if (child) child.kill('SIGTERM');
});

/** Runs one chunk; resolves with its summary (or null when the run left none). */
function runChunk(start, cases) {
  const summaryFile = join(outDir, `chunk-${start}.json`);
  const log = createWriteStream(join(outDir, `chunk-${start}.log`));
  const env = {
    ...process.env,
    NO_COLOR: '1',
    CORESDK_DIFF_SEED: String(seed),
    CORESDK_DIFF_START: String(start),
    CORESDK_DIFF_CASES: String(cases),
    CORESDK_DIFF_SUMMARY: summaryFile,
  };
  if (opt.inputs !== undefined) env.CORESDK_DIFF_INPUTS = String(opt.inputs);
  if (opt['sidecar-every'] !== undefined) env.CORESDK_DIFF_SIDECAR_EVERY = String(opt['sidecar-every']);
  return new Promise((resolve) => {
    child = spawn('npx', ['vitest', 'run', '__test__/opa.differential.test.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.on('exit', () => {
      child = null;
      log.end();
      resolve(existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')) : null);
    });
  });
}

const merged = { seed, counts: {}, groups: {}, ruleQueries: 0, planned: 0, fastAnswered: 0, fastVsInterp: 0, sidecarVsInProcess: 0, chunks: 0, missing: [] };
const started = Date.now();
for (let start = first; start < first + total && !interrupted && Date.now() < deadline; start += chunk) {
  const n = Math.min(chunk, first + total - start);
  const t0 = Date.now();
  const s = await runChunk(start, n);
  if (!s) {
    merged.missing.push(start);
    console.log(`[differential] cases ${start}..${start + n - 1}: no summary (see ${join(outDir, `chunk-${start}.log`)})`);
    continue;
  }
  merged.chunks++;
  for (const [k, v] of Object.entries(s.counts)) merged.counts[k] = (merged.counts[k] ?? 0) + v;
  for (const k of ['ruleQueries', 'planned', 'fastAnswered', 'fastVsInterp', 'sidecarVsInProcess']) merged[k] += s[k] ?? 0;
  for (const [k, g] of Object.entries(s.groups)) {
    const m = merged.groups[k] ?? { count: 0, examples: [] };
    m.count += g.count;
    if (m.examples.length < 2) m.examples.push(...g.examples.slice(0, 2 - m.examples.length));
    merged.groups[k] = m;
  }
  const failing = Object.entries(s.groups).filter(([k]) => FAILING.includes(k.split(' ')[0])).reduce((a, [, g]) => a + g.count, 0);
  console.log(`[differential] cases ${start}..${start + n - 1}: ${s.counts['evaluations fast'] ?? 0} evaluations per in-process evaluator, ${s.counts['evaluations sidecar'] ?? 0} through the sidecar, ${failing} failing differences (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

writeFileSync(join(outDir, 'summary.json'), JSON.stringify(merged, null, 1));
const lines = [`\n[differential] seed ${seed}: ${merged.chunks} chunks in ${((Date.now() - started) / 60_000).toFixed(1)} min${interrupted ? ' (interrupted)' : ''}`];
for (const [k, v] of Object.entries(merged.counts).sort()) lines.push(`  ${k}: ${v}`);
lines.push(`  rule queries ${merged.ruleQueries}, planned for the fast path ${merged.planned}; the fast path answered ${merged.fastAnswered}; fast path and interpreter differ on ${merged.fastVsInterp}; sidecar and in-process fast path differ on ${merged.sidecarVsInProcess}`);
const sorted = Object.entries(merged.groups).sort((a, b) => b[1].count - a[1].count);
let failingTotal = 0;
for (const cls of [...FAILING, ...ALLOWED]) {
  const of = sorted.filter(([k]) => k.split(' ')[0] === cls);
  if (of.length === 0) continue;
  const n = of.reduce((a, [, g]) => a + g.count, 0);
  if (FAILING.includes(cls)) failingTotal += n;
  lines.push(`\n${cls}${FAILING.includes(cls) ? '' : ' (allowed)'}: ${n} in ${of.length} kinds`);
  for (const [k, g] of of) lines.push(`  ${g.count} × ${k.slice(cls.length + 1)}`);
}
if (merged.missing.length) lines.push(`\nchunks without a summary (crashed or interrupted): ${merged.missing.join(', ')}`);
console.log(lines.join('\n'));
for (const [k, g] of sorted.filter(([k]) => FAILING.includes(k.split(' ')[0]))) console.log(`\n── ${k} (${g.count})\n${g.examples[0] ?? ''}`);
console.log(`\n[differential] merged summary: ${join(outDir, 'summary.json')}`);
process.exit(failingTotal > 0 || merged.missing.length > 0 ? 1 : 0);
