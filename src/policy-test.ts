/**
 * Policy unit tests and bundle checks on CoreSDK's engine, as `opa test`
 * and `opa check` run them: every rule named `test_*` passes when it is
 * defined and exactly `true`. The same loader and compile checks as a
 * served bundle apply, so a passing run also proves the policies load.
 *
 * These calls are synchronous (they read files and evaluate every test):
 * use them from scripts, test suites and the `coresdk test` CLI, not on a
 * request path.
 *
 * @example
 * ```ts
 * import { testPolicies } from 'coresdk';
 * const run = testPolicies(['examples/policies']);
 * if (!run.ok) throw new Error(run.text);
 * ```
 *
 * @packageDocumentation
 */
import { native } from './binding.js';
import { fromNative } from './errors.js';

/** Options of {@link testPolicies} (all optional). */
export interface PolicyTestOptions {
  /** Run only tests whose full name (`data.pkg.test_x`) matches this regular expression. */
  run?: string;
  /** Gather line coverage (regorus's: lines with an expression evaluated, or not). */
  coverage?: boolean;
  /** Read one directory as a served bundle: its `.manifest` roots and `rego_version` apply. */
  bundle?: boolean;
  /** Parse as Rego v0 (pre-1.0 syntax). */
  regoV0?: boolean;
  /** Time limit per test in milliseconds (default 5000). */
  timeoutMs?: number;
  /**
   * Builtin errors (a bad regex, a division by zero) make the test an error, as
   * the engine treats them when serving. Default off: they are undefined, as in `opa test`.
   */
  strictBuiltinErrors?: boolean;
  /** `text` lists every test, not only those that did not pass. */
  verbose?: boolean;
}

/** Where a test rule is defined. */
export interface PolicyTestLocation {
  /** The file as given. */
  file: string;
  /** 1-based line. */
  row: number;
  /** 1-based column. */
  col: number;
}

/** One case of a parametrised test (`test_x[tc.note] if ...`). */
export interface PolicyTestSubResult {
  /** The case key. */
  name: string;
  /** The case failed. */
  fail?: true;
  /** Nested cases. */
  sub_results?: Record<string, PolicyTestSubResult>;
}

/** One test's outcome, in `opa test --format json`'s shape. */
export interface PolicyTestResult {
  /** Where the rule is. */
  location: PolicyTestLocation;
  /** `data.<package>`. */
  package: string;
  /** The rule name; a repeated definition is `name#01`. */
  name: string;
  /** Undefined, not `true`, or a failed case. */
  fail?: true;
  /** The rule could not be evaluated. */
  error?: { code: string; message: string };
  /** A `todo_test_` rule, not run. */
  skip?: true;
  /** Evaluation time in nanoseconds. */
  duration: number;
  /** `print()` output, base64 encoded (as OPA writes it). */
  output?: string;
  /** Cases of a parametrised test. */
  sub_results?: Record<string, PolicyTestSubResult>;
}

/** What {@link testPolicies} found. */
export interface PolicyTestRun {
  /** No test failed or errored. */
  ok: boolean;
  /** The report as `opa test` prints it. */
  text: string;
  /** Every selected test, in file and line order. */
  results: PolicyTestResult[];
  /** Line coverage in `opa test --coverage`'s JSON shape, when asked for. */
  coverage?: { coverage: number; covered_lines: number; not_covered_lines: number; files: Record<string, unknown> };
  /** Counts. */
  passed: number;
  /** Tests that failed. */
  failed: number;
  /** Tests that could not be evaluated. */
  errored: number;
  /** `todo_test_` rules. */
  skipped: number;
  /** Tests selected. */
  total: number;
}

/**
 * Runs every `test_*` rule under `paths` (directories or files).
 *
 * @throws {@link CoreSDKError} `ERR_POLICY_LOAD` or `ERR_POLICY_COMPILE` (with
 *   `location`) when the policies do not load, `ERR_CONFIG` for a bad `run` pattern.
 */
export function testPolicies(paths: readonly string[], options: PolicyTestOptions = {}): PolicyTestRun {
  let r;
  try {
    r = native.runPolicyTests([...paths], {
      run: options.run,
      coverage: options.coverage,
      bundle: options.bundle,
      regoV0: options.regoV0,
      timeoutMs: options.timeoutMs,
      strictBuiltinErrors: options.strictBuiltinErrors,
      verbose: options.verbose,
    });
  } catch (e) {
    throw fromNative(e);
  }
  const run: PolicyTestRun = {
    ok: r.ok,
    text: r.text,
    results: JSON.parse(r.resultsJson) as PolicyTestResult[],
    passed: r.passed,
    failed: r.failed,
    errored: r.errored,
    skipped: r.skipped,
    total: r.total,
  };
  if (r.coverageJson != null) run.coverage = JSON.parse(r.coverageJson) as NonNullable<PolicyTestRun['coverage']>;
  return run;
}

/** One problem {@link checkPolicies} found. */
export interface PolicyDiagnostic {
  /** `ERR_POLICY_COMPILE` or `ERR_POLICY_LOAD`. */
  code: string;
  /** What is wrong. */
  message: string;
  /** Where, when known. */
  location?: PolicyTestLocation;
}

/** What {@link checkPolicies} found. */
export interface PolicyCheck {
  /** Nothing wrong. */
  ok: boolean;
  /** `file:line:col: message` lines and a summary. */
  text: string;
  /** Every module that does not parse, else the first compile error. */
  errors: PolicyDiagnostic[];
  /** Modules read. */
  modules: number;
  /** The revision the bundle would load as (bundle mode, when it compiles). */
  revision?: string;
}

/**
 * Compiles `paths` as the engine loads them and reports every problem with
 * `file:line:col`. By default one directory is read as a served bundle
 * (`.manifest` roots and `rego_version` apply); `bundle: false` reads plain files.
 */
export function checkPolicies(paths: readonly string[], options: { bundle?: boolean; regoV0?: boolean } = {}): PolicyCheck {
  const r = native.checkPolicies([...paths], options.bundle ?? true, options.regoV0 ?? false);
  const body = JSON.parse(r.json) as Omit<PolicyCheck, 'ok' | 'text'>;
  return { ok: r.ok, text: r.text, ...body };
}
