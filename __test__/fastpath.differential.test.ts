// Evaluator differential over OPA's whole v1 conformance corpus: every rule of
// every case's modules is evaluated as a rule query by an Engine with the VM
// fast path on and by one with it off (the interpreter alone), with the
// case's input and with inputs whose values are swapped for other kinds. Both
// must agree on the value and on error-vs-not, for every rule, including the
// ones the VM does not answer (there the fast path must fall back cleanly).
// The test also checks that the VM really answered a large share, so it
// cannot pass by never using it.
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/index.js';
import { CasesUnavailableError, loadCases, locateCases, type ConformanceCase } from '../scripts/conformance/cases.mjs';

let cases: ConformanceCase[] = [];
let unavailable: string | null = null;
try {
  cases = loadCases(locateCases().casesDir);
} catch (err) {
  if (err instanceof CasesUnavailableError && !process.env.CI) {
    unavailable = err.message;
  } else {
    throw err;
  }
}

/** Data and input cross as JSON: exact big integers become numbers. */
function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  return v;
}

/** `data.<package>.<rule>` for every rule a module's source defines at top level. */
export function rulePaths(modules: string[]): string[] {
  const out = new Set<string>();
  for (const src of modules) {
    const pkg = /^package\s+([\w.]+)/m.exec(src)?.[1];
    if (!pkg) continue;
    for (const m of src.matchAll(/^(?:default\s+)?([a-zA-Z_]\w*)\s*(?:if\b|:=|=|contains\b|\{|\[|\()/gm)) {
      const name = m[1] ?? '';
      if (!name) continue;
      if (['package', 'import', 'default', 'not', 'some', 'every'].includes(name)) continue;
      out.add(`data.${pkg}.${name}`);
    }
  }
  return [...out];
}

/** Other-kind variants of an input: each top-level member replaced in turn. */
function variants(input: unknown): unknown[] {
  const odd = [null, 7, 'x', 'a\u0000b', [], {}, ['a', 1], true];
  const out: unknown[] = [input, undefined, {}];
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    let k = 0;
    for (const key of Object.keys(input).slice(0, 6)) {
      out.push({ ...(input as Record<string, unknown>), [key]: odd[k++ % odd.length] });
      out.push({ ...(input as Record<string, unknown>), [key]: odd[k++ % odd.length] });
    }
  }
  return out;
}

function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
}

function outcome(engine: Engine, query: string, input: unknown): string {
  try {
    const d = engine.evaluatePolicySync(query, input);
    return d.defined ? `value ${stable(d.value)}` : 'undefined';
  } catch (err) {
    return `error ${(err as { code?: string }).code ?? String(err)}`;
  }
}

describe.skipIf(unavailable !== null)('fast path vs interpreter on the OPA conformance corpus', () => {
  it('agrees on every rule, value and error-vs-not, and the VM answers many', () => {
    let compared = 0;
    let vm = 0;
    let planned = 0;
    const differences: string[] = [];
    for (const c of cases) {
      if (c.skip || (c.env && Object.keys(c.env).length) || c.inputHasSet) continue;
      const policies = Object.fromEntries(c.modules.map((m, i) => [`test-${i}.rego`, m]));
      const opts = { policies, data: toJsonValue(c.data) as Record<string, unknown>, watch: false, poolSize: 1, evalTimeoutMs: 2000, decisionCacheEntries: 0 };
      let fast: Engine;
      let slow: Engine;
      try {
        slow = new Engine({ ...opts, fastPath: false });
      } catch {
        continue;
      }
      try {
        fast = new Engine({ ...opts, fastPath: true });
      } catch (err) {
        differences.push(`${c.id}: only the fast-path engine failed to load: ${String(err)}`);
        slow.close();
        continue;
      }
      try {
        const input = c.hasInput ? toJsonValue(c.input) : undefined;
        for (const query of rulePaths(c.modules)) {
          if (fast.fastPathRoute(query) === null) planned++;
          for (const i of variants(input)) {
            const a = outcome(fast, query, i);
            const b = outcome(slow, query, i);
            compared++;
            if (a !== b) differences.push(`${c.id} ${query} input=${stable(i)}\n    fast: ${a}\n    interpreter: ${b}`);
          }
        }
        vm += fast.fastPathStats().vm;
        expect(slow.fastPathStats().vm).toBe(0);
      } finally {
        fast.close();
        slow.close();
      }
    }
    console.log(`[fastpath] ${compared} evaluations compared; ${planned} rule queries planned for the fast path; the fast path answered ${vm}`);
    if (differences.length) console.log(differences.slice(0, 20).join("\n"));
    expect(differences.slice(0, 20).join('\n'), `${differences.length} differences`).toBe('');
    expect(planned).toBeGreaterThan(300);
    expect(vm).toBeGreaterThan(1500);
  }, 600_000);
});
