/**
 * `coresdk-sidecar test` / `npx coresdk test` against `opa test` (OPA 1.22.4,
 * installed from the Go module proxy): the same pass/fail per test and per
 * parametrised case on OPA's own test suites (from OPA's module source) and
 * on a fixture that fails in every way a test can; the example bundle's
 * tests pass; `check` reports file:line:col.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { checkPolicies, CoreSDKError, testPolicies } from '../dist/index.js';
import { examplePolicies, root, tempDir } from './helpers.js';

const CLI = join(root, 'dist', 'sidecar', 'cli.js');
const CORESDK = join(root, 'dist', 'sidecar', 'coresdk-cli.js');
const FIXTURE = join(root, '__test__', 'fixtures', 'policy-tests');

let opa: string;
let opaSrc: string;

interface OpaResult {
  package: string;
  name: string;
  fail?: boolean;
  error?: unknown;
  skip?: boolean;
  sub_results?: Record<string, { fail?: boolean; sub_results?: OpaResult['sub_results'] }>;
}

/** `data.pkg.name` (and `.../case/...` for each case) to PASS, FAIL, ERROR or SKIP. */
function outcomes(results: OpaResult[], errorsAsFail: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const cases = (prefix: string, subs: NonNullable<OpaResult['sub_results']>): void => {
    for (const [k, s] of Object.entries(subs)) {
      out[`${prefix}/${k}`] = s.fail === true ? 'FAIL' : 'PASS';
      if (s.sub_results !== undefined) cases(`${prefix}/${k}`, s.sub_results);
    }
  };
  for (const r of results) {
    const name = `${r.package}.${r.name}`;
    out[name] = r.skip === true ? 'SKIP' : r.error !== undefined ? (errorsAsFail ? 'FAIL' : 'ERROR') : r.fail === true ? 'FAIL' : 'PASS';
    if (r.sub_results !== undefined) cases(name, r.sub_results);
  }
  return out;
}

function opaTest(paths: string[]): { code: number; results: OpaResult[] } {
  const r = spawnSync(opa, ['test', '--format', 'json', ...paths], { encoding: 'utf8', cwd: root });
  return { code: r.status ?? -1, results: JSON.parse(r.stdout) as OpaResult[] };
}

function ours(bin: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  opa = execFileSync(process.execPath, [join(root, 'bench', 'tools', 'ensure-opa.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const mod = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', 'github.com/open-policy-agent/opa@v1.22.4'], { encoding: 'utf8', cwd: tmpdir() }),
  ) as { Dir: string };
  opaSrc = mod.Dir;
}, 600_000);

describe('coresdk-sidecar test', () => {
  it('runs the example bundle tests and exits 0; npx coresdk test does the same', () => {
    const r = ours(CLI, ['test', 'examples/policies']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASS: (\d+)\/\1$/m);
    const v = ours(CORESDK, ['test', '-v', 'examples/policies']);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('data.authz_test.test_viewer_may_not_write: PASS');
    expect(v.stdout).toContain('  editor deletes: PASS');
    // The bundle's own manifest (roots include the test packages) also loads.
    expect(ours(CLI, ['test', '--bundle', 'examples/policies']).code).toBe(0);
    expect(opaTest(['examples/policies']).code).toBe(0);
  });

  it("gives opa test's pass/fail on OPA's own test suites", () => {
    const util = join(opaSrc, 'internal', 'configpolicy');
    const suites = [
      [join(opaSrc, 'v1', 'config'), util],
      [join(opaSrc, 'internal', 'metricsexport'), util],
      [join(opaSrc, 'v1', 'plugins', 'server', 'metrics'), util],
      [join(opaSrc, 'v1', 'plugins', 'server', 'decoding'), util],
      [join(opaSrc, 'v1', 'plugins', 'server', 'encoding'), util],
      [join(opaSrc, 'build', 'policy', 'files')],
      [join(opaSrc, 'build', 'policy', 'pr-check')],
    ];
    let compared = 0;
    let unsupported = 0;
    for (const paths of suites) {
      const theirs = opaTest(paths);
      const mine = ours(CORESDK, ['test', '--format', 'json', ...paths]);
      if (mine.code === 2) {
        // The one known gap: OPA 1.x template strings ($"...{x}..."), which
        // regorus does not parse (docs/conformance.md). The refusal must name
        // a line that uses one, and say so.
        const at = /at (\S+\.rego):(\d+):(\d+): /.exec(mine.stderr);
        expect(at, mine.stderr).not.toBeNull();
        const line = readFileSync(at?.[1] ?? '', 'utf8').split('\n')[Number(at?.[2]) - 1] ?? '';
        expect(line.slice(0, Number(at?.[3]) + 1)).toMatch(/\$["`]/);
        expect(mine.stderr).toContain('template strings');
        unsupported++;
        continue;
      }
      expect(mine.stderr).toBe('');
      const a = outcomes(theirs.results, true);
      const b = outcomes(JSON.parse(mine.stdout) as OpaResult[], true);
      expect(b, paths[0]).toEqual(a);
      expect(mine.code === 0, paths[0]).toBe(theirs.code === 0);
      compared += Object.keys(a).length;
    }
    expect(compared).toBeGreaterThan(50);
    expect(unsupported).toBeLessThan(suites.length);
  });

  it('agrees with opa test on failures, undefined, non-boolean, repeated, skipped and parametrised tests', () => {
    const theirs = opaTest([FIXTURE]);
    const mine = ours(CORESDK, ['test', '--format', 'json', FIXTURE]);
    expect(mine.code).toBe(1);
    const b = outcomes(JSON.parse(mine.stdout) as OpaResult[], false);
    expect(b).toEqual(outcomes(theirs.results, false));
    // The fixture covers every outcome, a missing (failed) case and a nested one.
    expect(Object.values(b)).toEqual(expect.arrayContaining(['PASS', 'FAIL', 'SKIP']));
    expect(b['data.lib_test.test_cases/two']).toBe('FAIL');
    expect(b['data.lib_test.test_nested/y/2']).toBe('FAIL');
    expect(b['data.lib_test.test_dup#01']).toBe('FAIL');
    const text = ours(CORESDK, ['test', FIXTURE]);
    const opaText = spawnSync(opa, ['test', FIXTURE], { encoding: 'utf8', cwd: root }).stdout;
    const summary = (t: string): string[] => t.split('\n').filter((l) => /^(PASS|FAIL|SKIPPED|ERROR): /.test(l));
    expect(summary(text.stdout)).toEqual(summary(opaText));
  });

  it('selects tests with --run, reports builtin errors with --strict-builtin-errors, prints print() with -v', () => {
    const only = ours(CORESDK, ['test', '--format', 'json', '--run', 'test_double', FIXTURE]);
    expect((JSON.parse(only.stdout) as OpaResult[]).map((r) => r.name).sort()).toEqual(['test_double_ok', 'test_double_wrong']);
    expect(ours(CORESDK, ['test', '--run', 'test_double_ok$', FIXTURE]).code).toBe(0);
    const strict = testPolicies([FIXTURE], { run: 'test_(error|regex_error)$', strictBuiltinErrors: true });
    expect(strict.results.map((r) => r.error?.code)).toEqual(['ERR_EVAL', 'ERR_EVAL']);
    expect(strict.errored).toBe(2);
    const verbose = ours(CORESDK, ['test', '-v', '--run', 'test_print', FIXTURE]);
    expect(verbose.stdout).toContain('  hello from test');
    expect(ours(CORESDK, ['test', '--run', '(', FIXTURE]).code).toBe(2);
    expect(ours(CORESDK, ['test', '--run', 'nothing-matches', '--fail-on-empty', FIXTURE]).code).toBe(1);
  });

  it('reports line coverage and enforces --threshold', () => {
    const run = testPolicies(['examples/policies'], { coverage: true });
    expect(run.ok).toBe(true);
    const cov = run.coverage;
    expect(cov).toBeDefined();
    expect(cov?.coverage).toBeGreaterThan(50);
    expect(Object.keys(cov?.files ?? {})).toEqual(expect.arrayContaining([join('examples/policies', 'authz', 'authz.rego')]));
    const json = ours(CLI, ['test', '--coverage', '--format', 'json', 'examples/policies']);
    expect((JSON.parse(json.stdout) as { coverage: number }).coverage).toBe(cov?.coverage);
    expect(ours(CLI, ['test', '--threshold', '100', 'examples/policies']).code).toBe(cov?.coverage === 100 ? 0 : 1);
    expect(ours(CLI, ['test', '--threshold', '1', 'examples/policies']).code).toBe(0);
  });

  it('refuses policies that do not load, with file:line, and exits 2', () => {
    const t = tempDir();
    writeFileSync(join(t.dir, 'p.rego'), 'package p\n\nupper := upper(input.name)\n\ntest_x if upper == "A"\n');
    const r = ours(CORESDK, ['test', t.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[ERR_POLICY_COMPILE\].*p\.rego:3:/);
    expect(() => testPolicies([t.dir])).toThrow(CoreSDKError);
    expect(ours(CORESDK, ['test']).code).toBe(2);
    expect(ours(CORESDK, ['test', '--timeout', 'soon', FIXTURE]).code).toBe(2);
    t.cleanup();
  });
});

describe('coresdk-sidecar check', () => {
  it('accepts the example bundle and names its revision', () => {
    const r = ours(CLI, ['check', examplePolicies]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/modules OK/);
    expect(checkPolicies([examplePolicies]).ok).toBe(true);
  });

  it('refuses literals nested deeper than 16 levels at once, with file:line:col', () => {
    const t = tempDir();
    writeFileSync(join(t.dir, 'deep.rego'), `package deep\n\nok := ${'['.repeat(16)}1${']'.repeat(16)}\n\nbad := ${'{"a": '.repeat(40)}1${'}'.repeat(40)}\n`);
    const c = checkPolicies([t.dir], { bundle: false });
    expect(c.ok).toBe(false);
    expect(c.errors[0]?.location).toMatchObject({ row: 5 });
    expect(c.errors[0]?.message).toMatch(/nest more than 16 levels/);
    t.cleanup();
  });

  it('reports every module that does not parse, and compile errors, with file:line:col', () => {
    const t = tempDir();
    writeFileSync(join(t.dir, 'a.rego'), 'package a\n\nallow if {\n');
    writeFileSync(join(t.dir, 'b.rego'), 'package b\n\nx := [1,\n');
    const r = ours(CLI, ['check', t.dir]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.includes('.rego:'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/a\.rego:\d+:\d+: /);
    expect(lines[1]).toMatch(/b\.rego:\d+:\d+: /);
    const json = JSON.parse(ours(CLI, ['check', '--format', 'json', t.dir]).stdout) as { errors: { code: string; location: { row: number } }[] };
    expect(json.errors.map((e) => e.code)).toEqual(['ERR_POLICY_COMPILE', 'ERR_POLICY_COMPILE']);

    const u = tempDir();
    writeFileSync(join(u.dir, '.manifest'), '{"roots": ["p"]}');
    writeFileSync(join(u.dir, 'p.rego'), 'package p\n\nupper := upper(input.name)\n');
    writeFileSync(join(u.dir, 'q.rego'), 'package q\n\nok := true\n');
    const c = checkPolicies([u.dir]);
    expect(c.ok).toBe(false);
    expect(c.errors[0]?.message).toMatch(/outside the manifest roots/);
    writeFileSync(join(u.dir, '.manifest'), '{"roots": ["p", "q"]}');
    const shadow = ours(CLI, ['check', u.dir]);
    expect(shadow.code).toBe(1);
    expect(shadow.stderr).toMatch(/p\.rego:3:\d+: rego_type_error/);
    // opa check agrees that the shadowing policy is an error.
    expect(spawnSync(opa, ['check', u.dir], { encoding: 'utf8' }).status).not.toBe(0);
    t.cleanup();
    u.cleanup();
  });
});
