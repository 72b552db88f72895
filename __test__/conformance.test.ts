// OPA conformance ratchet: runs OPA's v1 YAML conformance cases through the
// Engine and fails when a case listed in __test__/conformance/expected-pass.json
// no longer passes. After an improvement, record it with
//   node scripts/conformance/run.mjs --write
// (which also refreshes docs/conformance.md).
//
// The cases come from the OPA Go module (see scripts/conformance/cases.mjs). If
// they cannot be had because `go` is missing, the suite is skipped with a
// message, except under CI (CI=true), where that is a failure.
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { CasesUnavailableError, loadCases, locateCases, type ConformanceCase } from '../scripts/conformance/cases.mjs';
import { EXPECTED_PASS_FILE, runAll, summarize, type CaseResult } from '../scripts/conformance/run.mjs';

let cases: ConformanceCase[] = [];
let unavailable: string | null = null;
try {
  cases = loadCases(locateCases().casesDir);
} catch (err) {
  if (err instanceof CasesUnavailableError && !process.env.CI) {
    unavailable = err.message;
    console.warn(`[conformance] skipped: ${err.message}`);
  } else {
    throw err;
  }
}

const expectedPass: string[] = fs.existsSync(EXPECTED_PASS_FILE) ? (JSON.parse(fs.readFileSync(EXPECTED_PASS_FILE, 'utf8')) as string[]) : [];
const folders = [...new Set(cases.map((c) => c.folder))].sort();

describe.skipIf(unavailable !== null)('OPA conformance (ratchet on expected-pass.json)', () => {
  const byId = new Map<string, CaseResult>();

  beforeAll(() => {
    for (const r of runAll(cases, api)) byId.set(r.id, r);
    const s = summarize([...byId.values()]);
    const fresh = [...byId.values()].filter((r) => r.status === 'pass' && !expectedPass.includes(r.id)).length;
    console.log(
      `[conformance] ${s.total} cases: ${s.passed} pass, ${s.failed} fail (known), ${s.skipped} skipped` +
        (fresh ? `; ${fresh} pass but are not in expected-pass.json (run: node scripts/conformance/run.mjs --write)` : ''),
    );
  }, 180_000);

  it('expected-pass.json lists only known cases', () => {
    const known = new Set(cases.map((c) => c.id));
    const gone = expectedPass.filter((id) => !known.has(id));
    expect(gone, `ids in expected-pass.json that no longer exist in the OPA cases:\n${gone.join('\n')}`).toEqual([]);
  });

  it.each(folders)('%s: no regressions', (folder) => {
    const regressions = expectedPass
      .filter((id) => id.startsWith(`${folder}/`))
      .map((id) => byId.get(id))
      .filter((r): r is CaseResult => r !== undefined && r.status !== 'pass');
    const report = regressions
      .map((r) => `- ${r.id}: ${r.status}${r.category ? ` [${r.category}]` : r.reason ? ` [${r.reason}]` : ''}\n    ${(r.detail ?? '').split('\n').join('\n    ')}`)
      .join('\n');
    expect(regressions.length, `cases that passed before and no longer do:\n${report}`).toBe(0);
  });
});
