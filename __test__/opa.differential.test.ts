/**
 * Policy-generating differential test against OPA, the oracle.
 *
 * For each generated case (`support/policy-gen.ts`: a random Rego v1 policy
 * of realistic shapes, its data, random inputs), every rule is evaluated on
 * every input by OPA (`opa run --server`, strict builtin errors;
 * `support/opa-oracle.ts`), by an in-process `Engine` with the fast path on
 * (the default), by one with `fastPath: false` (the interpreter alone) and,
 * for a subset of cases, by a real sidecar: `EvaluatePolicy` over gRPC with
 * the input's exact JSON text (`sidecar`), and the same RPC through
 * `CoreSDKClient` for the inputs a JS value carries exactly (`client`).
 * Every difference from OPA is classified:
 *
 * - `ALLOW_WHERE_OPA_DOES_NOT`: CoreSDK has a value where OPA is undefined
 *   or raises, or answers `true` where OPA answers another value;
 * - `VALUE_DIFFERS`: both defined, different (and CoreSDK's is not `true`);
 * - `UNDEFINED_WHERE_OPA_DEFINED`, `UNDEFINED_WHERE_OPA_ERRORS`: CoreSDK is
 *   undefined where OPA has a value, or raises;
 * - `ACCEPTED_WHERE_OPA_REFUSES`: OPA refuses the policy at compile time and
 *   CoreSDK loads it;
 * - `ERROR_WHERE_OPA_ANSWERS`: CoreSDK raises where OPA answers (the safe
 *   direction: deny on error), counted and listed;
 * - `REFUSED_AT_LOAD`: CoreSDK refuses a policy OPA compiles, counted and
 *   listed;
 * - `NUMBER_BEYOND_64_BITS`, `NUMBER_FORMAT_DIFFERS`: a value right inside
 *   the engine, written differently (see ALLOWED below), counted and listed.
 *
 * The test fails on `ALLOW_WHERE_OPA_DOES_NOT`, `VALUE_DIFFERS` and
 * `ACCEPTED_WHERE_OPA_REFUSES`; CoreSDK denying where OPA answers
 * (`UNDEFINED_WHERE_*` too) is counted and listed. It also checks that the
 * fast path really answered a good share of the rule queries, so it cannot
 * pass by never using it.
 *
 * Environment: `CORESDK_DIFF_SEED` (default 20261206), `CORESDK_DIFF_CASES`
 * (default 400, about 25 s on a 2-core machine), `CORESDK_DIFF_START` (index
 * of the first case, default 0: a long run goes through index ranges of one
 * seed), `CORESDK_DIFF_INPUTS` (inputs per case, default 8),
 * `CORESDK_DIFF_SIDECAR_EVERY` (every n-th case also through the sidecar,
 * default 4; 0: no sidecar), `CORESDK_DIFF_INVALID` (share of the policies,
 * 0 to 1, given one fragment OPA refuses to compile, default 0: checks that
 * CoreSDK refuses them too), `CORESDK_DIFF_EXAMPLES` (examples printed per
 * class, default 3), `CORESDK_DIFF_REPORT` (a file every difference is
 * appended to, one JSON line each, for analysis of short runs),
 * `CORESDK_DIFF_SUMMARY` (a file the run's counts and a few examples of each
 * kind of difference are written to, as JSON: `scripts/differential.mjs`
 * merges them), `CORESDK_DIFF_FRAGMENTS` (only these generator fragments,
 * comma-separated, e.g. `int-args,ordering`). A failure prints the seed, the case index, the policy, the
 * data, the input and every answer; `generateCase(seed, index)` gives the
 * same case again.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { CoreSDKClient, Engine } from '../src/index.js';
import { canonicalJsonText, canonicalValue, OpaOracle, opaBinary, outcomeText, type Outcome } from './support/opa-oracle.js';
import { generateCase, hasRawNumber, jsonText, type GenCase, type GenRule } from './support/policy-gen.js';
import { call, clients, ROOT, startSidecar } from './support/sidecar.js';

/**
 * Inputs cross to the in-process engine as JSON text. JS numbers cannot
 * carry every JSON number (`9007199254740993`, `100.0000000000000001`,
 * `-0`), so the test hands the engine the exact text it sends OPA: an input
 * `{ [RAW_JSON]: text }` is serialized as `text`; anything else takes the
 * real `inputToJson`.
 */
const RAW_JSON = Symbol.for('coresdk.test.rawJsonInput');
vi.mock('../src/input.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/input.js')>();
  const key = Symbol.for('coresdk.test.rawJsonInput');
  return {
    ...original,
    inputToJson: (input: unknown): string => {
      if (typeof input === 'object' && input !== null && key in input) return (input as Record<symbol, string>)[key] ?? '';
      return original.inputToJson(input);
    },
  };
});

const SEED = Number(process.env.CORESDK_DIFF_SEED ?? 20261206);
const CASES = Number(process.env.CORESDK_DIFF_CASES ?? 400);
const START = Number(process.env.CORESDK_DIFF_START ?? 0);
const INPUTS = Number(process.env.CORESDK_DIFF_INPUTS ?? 8);
const INVALID_SHARE = Number(process.env.CORESDK_DIFF_INVALID ?? 0);
const SIDECAR_EVERY = Number(process.env.CORESDK_DIFF_SIDECAR_EVERY ?? 4);
const EXAMPLES = Number(process.env.CORESDK_DIFF_EXAMPLES ?? 3);
const REPORT = process.env.CORESDK_DIFF_REPORT;
const SUMMARY = process.env.CORESDK_DIFF_SUMMARY;
/** Only these generator fragments, comma-separated (`int-args,ordering`); default every one. */
const FRAGMENTS = process.env.CORESDK_DIFF_FRAGMENTS?.split(',').filter((f) => f !== '');
/** Examples kept per kind of difference (class, evaluator, rule name): memory stays bounded on long runs. */
const KEEP = Math.max(EXAMPLES, 5);

/** Classes that fail the test. */
const FAILING = ['ALLOW_WHERE_OPA_DOES_NOT', 'VALUE_DIFFERS', 'ACCEPTED_WHERE_OPA_REFUSES'] as const;
/**
 * Classes counted and listed only (docs/conformance.md): CoreSDK denies (an
 * error, a refusal, undefined) where OPA answers, and two representation
 * differences of a value that is right inside the engine: an integer beyond
 * 64 bits leaves the engine as a double (`NUMBER_BEYOND_64_BITS`), and
 * regorus's `sprintf` writes a number differently from Go's `%v`
 * (`-1e+300`, `-0`: `NUMBER_FORMAT_DIFFERS`).
 */
const ALLOWED = [
  'ERROR_WHERE_OPA_ANSWERS',
  'REFUSED_AT_LOAD',
  'UNDEFINED_WHERE_OPA_DEFINED',
  'UNDEFINED_WHERE_OPA_ERRORS',
  'NUMBER_BEYOND_64_BITS',
  'NUMBER_FORMAT_DIFFERS',
] as const;
type DiffClass = (typeof FAILING)[number] | (typeof ALLOWED)[number];
type Evaluator = 'fast' | 'interpreter' | 'sidecar' | 'client';

interface Difference {
  cls: DiffClass;
  evaluator: Evaluator | 'load';
  gc: GenCase;
  rule?: GenRule;
  inputJson?: string;
  opa: string;
  answers: Partial<Record<Evaluator, string>>;
}

/** Outcome of one in-process evaluation, in the oracle's canonical form. */
function evaluateInProcess(engine: Engine, rule: GenRule, inputJson: string): Outcome {
  try {
    const d = engine.evaluatePolicySync(rule.query, { [RAW_JSON]: inputJson });
    return d.defined ? { kind: 'value', canon: canonicalValue(d.value, rule.isSet) } : { kind: 'undefined' };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { kind: 'error', code: e.code ?? 'UNKNOWN', message: (e.message ?? String(err)).slice(0, 300) };
  }
}

/** The class of a difference between OPA's outcome and CoreSDK's, or null when they agree. */
function classify(opa: Outcome, ours: Outcome): DiffClass | null {
  if (ours.kind === 'error') return opa.kind === 'error' ? null : 'ERROR_WHERE_OPA_ANSWERS';
  if (ours.kind === 'undefined') {
    if (opa.kind === 'undefined') return null;
    return opa.kind === 'error' ? 'UNDEFINED_WHERE_OPA_ERRORS' : 'UNDEFINED_WHERE_OPA_DEFINED';
  }
  if (opa.kind !== 'value') return 'ALLOW_WHERE_OPA_DOES_NOT';
  if (opa.canon === ours.canon) return null;
  if (ours.canon === 'true') return 'ALLOW_WHERE_OPA_DOES_NOT';
  return representationOnly(opa.canon, ours.canon) ?? 'VALUE_DIFFERS';
}

/** A number's text split out of a string: digits with an optional sign, fraction and exponent. */
const NUMBER_IN_TEXT = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Whether two number texts are one double (`-0` and `0` count as one). */
function sameDouble(a: string, b: string): boolean {
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && x === y;
}

/**
 * The representation class of a difference when the two canonical JSON
 * values differ only there: numbers that are one double where OPA's is an
 * integer beyond 64 bits, or strings that differ only in how a number is
 * written. Null otherwise.
 */
function representationOnly(opaCanon: string, oursCanon: string): 'NUMBER_BEYOND_64_BITS' | 'NUMBER_FORMAT_DIFFERS' | null {
  let kind: 'NUMBER_BEYOND_64_BITS' | 'NUMBER_FORMAT_DIFFERS' | null = null;
  const walk = (a: unknown, b: unknown): boolean => {
    if (typeof a === 'string' && typeof b === 'string') {
      if (a === b) return true;
      const textA = a.split(NUMBER_IN_TEXT);
      const textB = b.split(NUMBER_IN_TEXT);
      const numsA = a.match(NUMBER_IN_TEXT) ?? [];
      const numsB = b.match(NUMBER_IN_TEXT) ?? [];
      const same = textA.length === textB.length && textA.every((t, i) => t === textB[i]) && numsA.length === numsB.length && numsA.every((n, i) => sameDouble(n, numsB[i] ?? ''));
      if (same) kind = kind ?? 'NUMBER_FORMAT_DIFFERS';
      return same;
    }
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => walk(x, b[i]));
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const ka = Object.keys(a);
      const kb = Object.keys(b);
      return ka.length === kb.length && ka.every((k, i) => k === kb[i] && walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
    }
    return a === b;
  };
  // Numbers are compared as texts: JSON.parse would round both to doubles.
  const numbers = (canon: string): string[] => canon.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(NUMBER_IN_TEXT) ?? [];
  const skeleton = (canon: string): string => canon.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (m) => (m.startsWith('"') ? m : '0'));
  if (skeleton(opaCanon) === skeleton(oursCanon)) {
    const na = numbers(opaCanon);
    const nb = numbers(oursCanon);
    const beyond = (t: string): boolean => /^-?\d+$/.test(t) && (BigInt(t) >= 2n ** 63n || BigInt(t) < -(2n ** 63n));
    if (na.length === nb.length && na.some((t, i) => t !== nb[i]) && na.every((t, i) => t === nb[i] || (sameDouble(t, nb[i] ?? '') && beyond(t)))) {
      return 'NUMBER_BEYOND_64_BITS';
    }
  }
  try {
    return walk(JSON.parse(opaCanon), JSON.parse(oursCanon)) ? kind : null;
  } catch {
    return null;
  }
}

/** A difference, as a message that reproduces it. */
function describeDifference(d: Difference): string {
  const lines = [`${d.cls} (${d.evaluator}) seed=${d.gc.seed} case=${d.gc.index} (CORESDK_DIFF_SEED=${d.gc.seed}, case index ${d.gc.index}) shapes=${d.gc.shapes.join(',')}`];
  if (d.rule) lines.push(`  query: ${d.rule.query}`);
  lines.push('  policy:', ...d.gc.source.trimEnd().split('\n').map((l) => `    ${l}`));
  lines.push(`  data (at data.${d.gc.dataPath.join('.')}): ${jsonText(d.gc.data)}`);
  if (d.inputJson !== undefined) lines.push(`  input: ${d.inputJson}`);
  lines.push(`  OPA: ${d.opa}`);
  for (const [k, v] of Object.entries(d.answers)) lines.push(`  CoreSDK ${k}: ${v}`);
  return lines.join('\n');
}

/**
 * A short key grouping differences of one kind: class, evaluator, and the rule
 * name without its numeric suffix, or for a load-time difference the error
 * (OPA's or CoreSDK's) without positions and case names.
 */
function groupKey(d: Difference): string {
  if (d.rule) return `${d.cls} ${d.evaluator} ${d.rule.name.replace(/_\d+$/, '')}`;
  const why = d.cls === 'ACCEPTED_WHERE_OPA_REFUSES' ? d.opa : (d.answers.fast ?? d.answers.interpreter ?? '');
  const short = why
    .replace(/^(compile error |ERR_POLICY_COMPILE: policy compile error at c\d+\.rego:\d+:\d+: )/, '')
    .replace(/\bc\d+(\.rego)?(:\d+)*/g, 'cN')
    .replace(/[\s:]+/g, '_')
    .replace(/[^\w`.-]/g, '')
    .slice(0, 60);
  return `${d.cls} ${d.evaluator} ${short}`;
}

function tryEngine(dir: string, fastPath: boolean): { engine: Engine } | { error: string } {
  try {
    return { engine: new Engine({ policyDir: dir, fastPath, watch: false, poolSize: 1, evalTimeoutMs: 5000, decisionCacheEntries: 0 }) };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { error: `${e.code ?? 'UNKNOWN'}: ${e.message ?? String(err)}` };
  }
}

/** Writes `cases` as one bundle directory: a module per case and one data.json with each case's data at `data.d.cN`. */
function writeBundle(dir: string, cases: readonly GenCase[]): void {
  mkdirSync(dir, { recursive: true });
  for (const gc of cases) writeFileSync(join(dir, `${gc.id}.rego`), gc.source);
  writeFileSync(join(dir, 'data.json'), `{"d":{${cases.map((gc) => `${JSON.stringify(gc.id)}:${jsonText(gc.data)}`).join(',')}}}`);
}

let opa: OpaOracle;
let work: string;

beforeAll(async () => {
  opa = await OpaOracle.start(opaBinary(ROOT));
  work = mkdtempSync(join(tmpdir(), 'coresdk-opa-diff-'));
  if (SIDECAR_EVERY > 0 && !existsSync(join(ROOT, 'dist', 'sidecar', 'cli.js'))) {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-ts.mjs')], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building dist/ for the sidecar failed');
  }
}, 600_000);

afterAll(async () => {
  await opa.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('generated policies: CoreSDK agrees with OPA', () => {
  it(
    `agrees on every rule of ${CASES} generated policies (seed ${SEED}, from case ${START})`,
    async () => {
      /** Differences by kind (class, evaluator, rule name): how many, and the first few. */
      const groups = new Map<string, { count: number; examples: Difference[] }>();
      const counts = new Map<string, number>();
      const bump = (k: string, n = 1): void => {
        counts.set(k, (counts.get(k) ?? 0) + n);
      };
      const record = (d: Difference): void => {
        const key = groupKey(d);
        const g = groups.get(key) ?? { count: 0, examples: [] };
        g.count++;
        if (g.examples.length < KEEP) g.examples.push(d);
        groups.set(key, g);
        bump(`diff ${d.cls} ${d.evaluator}`);
        if (REPORT) appendFileSync(REPORT, `${JSON.stringify({ ...d, gc: { seed: d.gc.seed, index: d.gc.index, source: d.gc.source, data: jsonText(d.gc.data) } })}\n`);
      };
      const shapes = new Map<string, number>();
      let ruleQueries = 0;
      let planned = 0;
      let fastAnswered = 0;
      let fastVsInterp = 0;
      const sidecarCases: GenCase[] = [];
      /** The input texts of each sidecar case, exactly as the in-process engines and OPA had them. */
      const sidecarInputs = new Map<string, string[]>();
      /** OPA's and the in-process fast path's outcomes per `case/rule/input`, for the sidecar phase. */
      const opaAnswers = new Map<string, Outcome>();
      const fastAnswers = new Map<string, Outcome>();
      let sidecarVsInProcess = 0;

      const started = Date.now();
      for (let index = START; index < START + CASES; index++) {
        const gc = generateCase(SEED, index, { inputs: INPUTS, invalidShare: INVALID_SHARE, fragments: FRAGMENTS });
        for (const s of gc.shapes) shapes.set(s, (shapes.get(s) ?? 0) + 1);
        const dataJson = jsonText(gc.data);
        const load = await opa.load(gc.id, gc.source, gc.dataPath, dataJson);
        const dir = join(work, gc.id);
        writeBundle(dir, [gc]);
        const fast = tryEngine(dir, true);
        const slow = tryEngine(dir, false);
        try {
          if (!load.ok) {
            bump('cases refused by OPA');
            for (const [ev, e] of [['fast', fast], ['interpreter', slow]] as const) {
              if ('engine' in e) record({ cls: 'ACCEPTED_WHERE_OPA_REFUSES', evaluator: ev, gc, opa: `compile error ${load.code}: ${load.message}`, answers: { [ev]: 'loaded' } });
            }
            continue;
          }
          if (!('engine' in fast) || !('engine' in slow)) {
            const answers: Partial<Record<Evaluator, string>> = {};
            if ('error' in fast) answers.fast = fast.error;
            if ('error' in slow) answers.interpreter = slow.error;
            record({ cls: 'REFUSED_AT_LOAD', evaluator: 'load', gc, opa: 'compiles', answers });
            continue;
          }
          bump('cases compared');
          const inputs = gc.inputs.map(jsonText);
          if (SIDECAR_EVERY > 0 && index % SIDECAR_EVERY === 0) {
            sidecarCases.push(gc);
            sidecarInputs.set(gc.id, inputs);
          }
          for (const rule of gc.rules) {
            ruleQueries++;
            if (fast.engine.fastPathRoute(rule.query) === null) planned++;
            const oracle = await Promise.all(inputs.map((i) => opa.evaluate(rule.query, i, rule.isSet)));
            for (let k = 0; k < inputs.length; k++) {
              const inputJson = inputs[k] ?? '';
              const o = oracle[k] as Outcome;
              bump(o.kind === 'error' ? `opa error ${o.code}` : `opa ${o.kind}`);
              const a = evaluateInProcess(fast.engine, rule, inputJson);
              const b = evaluateInProcess(slow.engine, rule, inputJson);
              bump('evaluations fast');
              bump('evaluations interpreter');
              if (outcomeText(a) !== outcomeText(b) && !(a.kind === 'error' && b.kind === 'error')) fastVsInterp++;
              if (sidecarCases.at(-1) === gc) {
                opaAnswers.set(`${gc.id}/${rule.name}/${k}`, o);
                fastAnswers.set(`${gc.id}/${rule.name}/${k}`, a);
              }
              const answers = { fast: outcomeText(a), interpreter: outcomeText(b) };
              for (const [ev, ours] of [['fast', a], ['interpreter', b]] as const) {
                const cls = classify(o, ours);
                if (cls) record({ cls, evaluator: ev, gc, rule, inputJson, opa: outcomeText(o), answers });
              }
            }
          }
          fastAnswered += fast.engine.fastPathStats().vm;
          expect(slow.engine.fastPathStats().vm).toBe(0);
        } finally {
          if ('engine' in fast) fast.engine.close();
          if ('engine' in slow) slow.engine.close();
          await opa.unload(gc.id, gc.dataPath);
          rmSync(dir, { recursive: true, force: true });
        }
      }

      const inProcessMs = Date.now() - started;
      // The sidecar: the subset of cases as one bundle, every rule and input through EvaluatePolicy.
      if (sidecarCases.length > 0) {
        const dir = join(work, 'sidecar-bundle');
        writeBundle(dir, sidecarCases);
        const sc = await startSidecar(['--insecure-dev', '--addr', '[::1]:0'], {
          CORESDK_POLICY_DIR: dir,
          CORESDK_EVAL_TIMEOUT_MS: '5000',
          CORESDK_DECISION_CACHE_ENTRIES: '0',
        });
        const c = clients(sc.addr, grpc.credentials.createInsecure());
        const client = new CoreSDKClient({ mode: 'sidecar', sidecarAddr: sc.addr, failMode: 'closed', timeoutMs: 30_000, retries: 0, warn: () => undefined });
        try {
          for (const gc of sidecarCases) {
            const inputs = sidecarInputs.get(gc.id) ?? [];
            for (const rule of gc.rules) {
              const replies = await Promise.all(
                inputs.map((inputJson) => call<{ valueJson: string; defined: boolean }>(c.core, 'evaluatePolicy', { query: rule.query, inputJson }, 30_000)),
              );
              for (let k = 0; k < inputs.length; k++) {
                const o = opaAnswers.get(`${gc.id}/${rule.name}/${k}`);
                if (o === undefined) continue;
                const r = replies[k];
                let ours: Outcome;
                if (r?.ok) ours = r.ok.defined ? { kind: 'value', canon: canonicalJsonText(r.ok.valueJson, rule.isSet) } : { kind: 'undefined' };
                else ours = { kind: 'error', code: r?.err?.info?.reason ?? `grpc ${r?.err?.code ?? '?'}`, message: r?.err?.details ?? '' };
                bump('evaluations sidecar');
                const inProcess = fastAnswers.get(`${gc.id}/${rule.name}/${k}`);
                if (inProcess && outcomeText(inProcess) !== outcomeText(ours) && !(inProcess.kind === 'error' && ours.kind === 'error')) sidecarVsInProcess++;
                const cls = classify(o, ours);
                if (cls) record({ cls, evaluator: 'sidecar', gc, rule, inputJson: inputs[k] ?? '', opa: outcomeText(o), answers: { sidecar: outcomeText(ours) } });
              }
              // The same RPC through CoreSDKClient, which takes the input as a JS value and parses the
              // value as the SDK hands it to callers: only inputs a JS value can carry exactly.
              for (let k = 0; k < inputs.length; k++) {
                const o = opaAnswers.get(`${gc.id}/${rule.name}/${k}`);
                const input = gc.inputs[k];
                if (o === undefined || input === undefined || hasRawNumber(input)) continue;
                let ours: Outcome;
                try {
                  const d = await client.evaluatePolicy(rule.query, JSON.parse(inputs[k] ?? 'null'));
                  ours = d.defined ? { kind: 'value', canon: canonicalValue(d.value, rule.isSet) } : { kind: 'undefined' };
                } catch (err) {
                  const e = err as { code?: string; message?: string };
                  ours = { kind: 'error', code: e.code ?? 'UNKNOWN', message: (e.message ?? String(err)).slice(0, 300) };
                }
                bump('evaluations client');
                const cls = classify(o, ours);
                if (cls) record({ cls, evaluator: 'client', gc, rule, inputJson: inputs[k] ?? '', opa: outcomeText(o), answers: { client: outcomeText(ours) } });
              }
            }
          }
        } finally {
          client.close();
          c.close();
          sc.kill();
          await sc.exited;
        }
      }

      // Summary.
      const lines = [`[opa-diff] seed ${SEED}, cases ${START}..${START + CASES - 1}, ${INPUTS} inputs each`];
      lines.push(`[opa-diff] shapes: ${[...shapes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
      lines.push(`[opa-diff] time: OPA and in-process ${(inProcessMs / 1000).toFixed(1)} s, sidecar ${((Date.now() - started - inProcessMs) / 1000).toFixed(1)} s; RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
      for (const [k, v] of [...counts].sort()) lines.push(`[opa-diff] ${k}: ${v}`);
      lines.push(`[opa-diff] rule queries ${ruleQueries}, planned for the fast path ${planned}; the fast path answered ${fastAnswered} evaluations; fast path and interpreter differ on ${fastVsInterp}; sidecar and in-process fast path differ on ${sidecarVsInProcess}`);
      const classes = [...FAILING, ...ALLOWED];
      const sorted = [...groups].sort((x, y) => y[1].count - x[1].count);
      for (const cls of classes) {
        const of = sorted.filter(([k]) => k.startsWith(`${cls} `));
        if (of.length === 0) continue;
        lines.push(`[opa-diff] ${cls}: ${of.reduce((s, [, g]) => s + g.count, 0)} in ${of.length} kinds`);
        for (const [k, g] of of) lines.push(`[opa-diff]   ${g.count} × ${k}`);
      }
      console.log(lines.join('\n'));
      for (const cls of classes) {
        const of = sorted.filter(([k]) => k.startsWith(`${cls} `)).map(([, g]) => g.examples[0] as Difference);
        if (of.length === 0) continue;
        console.log(`\n[opa-diff] examples of ${cls}:\n${of.slice(0, EXAMPLES).map(describeDifference).join('\n\n')}`);
      }
      if (SUMMARY) {
        const summary = {
          seed: SEED,
          start: START,
          cases: CASES,
          counts: Object.fromEntries(counts),
          ruleQueries,
          planned,
          fastAnswered,
          fastVsInterp,
          sidecarVsInProcess,
          groups: Object.fromEntries(sorted.map(([k, g]) => [k, { count: g.count, examples: g.examples.slice(0, 2).map(describeDifference) }])),
        };
        writeFileSync(SUMMARY, JSON.stringify(summary, null, 1));
      }

      const failing = sorted.filter(([k]) => (FAILING as readonly string[]).includes(k.split(' ')[0] ?? '')).map(([, g]) => g);
      const failures = failing.reduce((n, g) => n + g.count, 0);
      expect(
        failing
          .slice(0, 5)
          .map((g) => describeDifference(g.examples[0] as Difference))
          .join('\n\n'),
        `${failures} differences from OPA that CoreSDK must not have, of ${failing.length} kinds (seed ${SEED}; summary above; one example of each of the 5 most frequent kinds)`,
      ).toBe('');
      // The suite must exercise the fast path, not pass by never using it
      // (a run of chosen fragments may hold none it plans).
      expect(counts.get('cases compared') ?? 0).toBeGreaterThan(CASES / 2);
      if (FRAGMENTS === undefined) {
        expect(planned / Math.max(1, ruleQueries)).toBeGreaterThan(0.4);
        expect(fastAnswered).toBeGreaterThan((counts.get('evaluations fast') ?? 0) * 0.3);
      }
    },
    Math.max(600_000, CASES * 5_000),
  );
});
