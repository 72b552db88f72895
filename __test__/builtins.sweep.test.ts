/**
 * Builtins with edge arguments, against OPA.
 *
 * Every expression of `fixtures/builtin-sweep.txt` (a builtin call with an
 * edge argument: an empty search text, a fraction where an integer belongs,
 * a malformed escape, a bad time zone, ...) is evaluated as the rule
 * `x := <expression>` by OPA (`opa run --server`, strict builtin errors, as
 * CoreSDK runs) and by CoreSDK's in-process `Engine` on both evaluators (the
 * fast path and the interpreter alone). The policy generator of
 * `opa.differential.test.ts` exercises builtins inside realistic policies;
 * this sweep reaches every builtin both OPA and CoreSDK have, at the
 * arguments where implementations part ways.
 *
 * Every difference is classified: `ANSWERS_WHERE_OPA_DOES_NOT` (CoreSDK has
 * a value where OPA raises or is undefined), `VALUE_DIFFERS`,
 * `ACCEPTED_WHERE_OPA_REFUSES` (OPA refuses the policy at compile time),
 * `DENIES_WHERE_OPA_ANSWERS` (CoreSDK raises, is undefined or refuses: the
 * safe direction) and `NUMBER_BEYOND_64_BITS` (the same double, where OPA's
 * integer has more than 64 bits: a JS number cannot carry it). A known
 * difference is listed on its line as `  #! <CLASS>: <reason>` (and in
 * docs/conformance.md); any other difference fails the test, so does a
 * listed line whose class changed or that now agrees, so the list stays
 * true. Only `DENIES_WHERE_OPA_ANSWERS` and `NUMBER_BEYOND_64_BITS` are
 * harmless; the other listed lines are open divergences the docs name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Engine } from '../src/index.js';
import { canonicalValue, OpaOracle, opaBinary, outcomeText, type Outcome } from './support/opa-oracle.js';
import { ROOT } from './support/sidecar.js';

interface SweepCase {
  readonly line: number;
  readonly expr: string;
  /** The reason CoreSDK denies where OPA answers, when the line lists one. */
  readonly known?: string;
}

/** The sweep's expressions with their line numbers and known safe-direction differences. */
function readSweep(): SweepCase[] {
  const text = readFileSync(join(ROOT, '__test__', 'fixtures', 'builtin-sweep.txt'), 'utf8');
  const cases: SweepCase[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const mark = line.indexOf('  #! ');
    cases.push(mark < 0 ? { line: i + 1, expr: line } : { line: i + 1, expr: line.slice(0, mark).trim(), known: line.slice(mark + 5).trim() });
  });
  return cases;
}

/** What CoreSDK answers for `data.sweep.x`, or why it refused the policy. */
function coresdk(source: string, fastPath: boolean): Outcome | { kind: 'refused'; message: string } {
  let engine: Engine;
  try {
    engine = new Engine({ policies: { 'sweep.rego': source }, fastPath, watch: false, poolSize: 1, evalTimeoutMs: 5000, decisionCacheEntries: 0 });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { kind: 'refused', message: `${e.code ?? 'UNKNOWN'}: ${e.message ?? String(err)}` };
  }
  try {
    const d = engine.evaluatePolicySync('data.sweep.x', {});
    return d.defined ? { kind: 'value', canon: canonicalValue(d.value) } : { kind: 'undefined' };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { kind: 'error', code: e.code ?? 'UNKNOWN', message: (e.message ?? String(err)).slice(0, 200) };
  } finally {
    engine.close();
  }
}

type Verdict =
  | 'AGREE'
  | 'ANSWERS_WHERE_OPA_DOES_NOT'
  | 'VALUE_DIFFERS'
  | 'ACCEPTED_WHERE_OPA_REFUSES'
  | 'DENIES_WHERE_OPA_ANSWERS'
  | 'NUMBER_BEYOND_64_BITS';

/** Whether every number differs only where OPA's is an integer beyond 64 bits and both are one double. */
function beyond64(opaCanon: string, oursCanon: string): boolean {
  const nums = (c: string): string[] => c.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g) ?? [];
  const skeleton = (c: string): string => c.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (m) => (m.startsWith('"') ? m : '0'));
  if (skeleton(opaCanon) !== skeleton(oursCanon)) return false;
  const a = nums(opaCanon);
  const b = nums(oursCanon);
  const big = (t: string): boolean => /^-?\d+$/.test(t) && (BigInt(t) >= 2n ** 63n || BigInt(t) < -(2n ** 63n));
  return a.length === b.length && a.every((t, i) => t === b[i] || (big(t) && Number(t) === Number(b[i])));
}

/** The class of CoreSDK's answer against OPA's. */
function verdict(opa: Outcome | { kind: 'refused' }, ours: Outcome | { kind: 'refused' }): Verdict {
  if (ours.kind === 'refused') return opa.kind === 'refused' ? 'AGREE' : 'DENIES_WHERE_OPA_ANSWERS';
  if (opa.kind === 'refused') return 'ACCEPTED_WHERE_OPA_REFUSES';
  if (ours.kind === 'error') return opa.kind === 'error' ? 'AGREE' : 'DENIES_WHERE_OPA_ANSWERS';
  if (ours.kind === 'undefined') return opa.kind === 'undefined' ? 'AGREE' : 'DENIES_WHERE_OPA_ANSWERS';
  if (opa.kind !== 'value') return 'ANSWERS_WHERE_OPA_DOES_NOT';
  if (opa.canon === ours.canon) return 'AGREE';
  return beyond64(opa.canon, ours.canon) ? 'NUMBER_BEYOND_64_BITS' : 'VALUE_DIFFERS';
}

function text(o: Outcome | { kind: 'refused'; message?: string }): string {
  return o.kind === 'refused' ? `refused ${o.message ?? ''}` : outcomeText(o);
}

describe('builtins with edge arguments answer as OPA does', () => {
  let opa: OpaOracle | undefined;
  beforeAll(async () => {
    opa = await OpaOracle.start(opaBinary(ROOT));
  }, 600_000);
  afterAll(async () => {
    await opa?.stop();
  });

  it('every expression of fixtures/builtin-sweep.txt, on both evaluators', async () => {
    const cases = readSweep();
    expect(cases.length).toBeGreaterThan(300);
    const failures: string[] = [];
    const known: string[] = [];
    for (const c of cases) {
      const source = `package sweep\n\nx := ${c.expr}\n`;
      const id = `sweep-${c.line}`;
      if (opa === undefined) throw new Error('OPA did not start');
      const load = await opa.load(id, source, ['sweep_data'], '{}');
      const oracle: Outcome | { kind: 'refused'; message: string } = load.ok ? await opa.evaluate('data.sweep.x', '{}') : { kind: 'refused', message: `${load.code}: ${load.message}` };
      await opa.unload(id, ['sweep_data']);
      const seen = new Set<Verdict>();
      for (const fastPath of [true, false]) {
        const ours = coresdk(source, fastPath);
        const v = verdict(oracle, ours);
        seen.add(v);
        const where = `line ${c.line} \`${c.expr}\` (${fastPath ? 'fast path' : 'interpreter'}): OPA ${text(oracle)}; CoreSDK ${text(ours)}`;
        if (v !== 'AGREE' && c.known === undefined) failures.push(`${v}, not listed with '#!': ${where}`);
        if (v !== 'AGREE' && c.known !== undefined && !c.known.startsWith(`${v}:`)) failures.push(`${v}, listed as '${c.known}': ${where}`);
      }
      if (c.known !== undefined && seen.has('AGREE') && seen.size === 1) failures.push(`line ${c.line} \`${c.expr}\` is listed ('${c.known}') but now agrees with OPA: remove the mark`);
      if (c.known !== undefined) known.push(`line ${c.line} ${c.known.split(':')[0]}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    console.log(`builtin sweep: ${cases.length} expressions, ${cases.length - known.length} agree with OPA on both evaluators, ${known.length} listed:\n  ${known.join('\n  ')}`);
  }, 600_000);
});
