/**
 * The `test` and `check` commands of `coresdk-sidecar` and `coresdk`:
 * policy unit tests as `opa test` runs them, and a bundle check that
 * compiles a directory exactly as the data plane would load it.
 *
 * Exit codes: 0 everything passed; 1 a test failed or errored, coverage is
 * below `--threshold`, no test ran with `--fail-on-empty`, or (check) a
 * problem was found; 2 a usage error, or policies that do not load (test).
 *
 * @internal
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';

import { CoreSDKError } from '../errors.js';
import { checkPolicies, testPolicies } from '../policy-test.js';

/** Where the commands write. */
export interface CommandIo {
  /** Standard output. */
  out: (text: string) => void;
  /** Standard error. */
  err: (text: string) => void;
}

/** Names of the policy commands. */
export const POLICY_COMMANDS = ['test', 'check'] as const;

/** The help text of both commands. */
export function policyHelp(bin: string): string {
  return `Usage:
  ${bin} test <path>... [options]    run every test_* rule, as opa test does
  ${bin} check <path>... [options]   compile as the sidecar loads it; errors with file:line:col

test options:
  -v, --verbose                 list every test (and print() output), not only failures
  -r, --run <regex>             only tests whose full name (data.pkg.test_x) matches
  -f, --format <pretty|json>    json: opa test --format json's array (with --coverage,
                                opa test --coverage's report)
  -c, --coverage                line coverage from regorus, per file and in total
  --threshold <percent>         exit 1 when coverage is below this (implies --coverage)
  -b, --bundle                  read one directory as a bundle (its .manifest applies)
  -t, --timeout <duration>      time limit per test: 500ms, 5s (default), 1m
  --strict-builtin-errors       builtin errors are test errors, as when serving
                                (default: undefined, as in opa test)
  --fail-on-empty               exit 1 when no test ran
  --v0-compatible               parse as Rego v0

check options:
  --ignore-manifest             read plain files (opa check without -b); default: one
                                directory is read as a served bundle (roots apply)
  -f, --format <pretty|json>
  --v0-compatible               parse as Rego v0

Exit codes: 0 passed; 1 a test failed or errored, coverage below --threshold, or check
found a problem; 2 usage error, or (test) policies that do not load.
`;
}

function duration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (m?.[1] === undefined) throw new CoreSDKError('ERR_CONFIG', `--timeout: expected a duration such as 500ms or 5s, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const ms = unit === 'm' ? n * 60_000 : unit === 's' ? n * 1000 : n;
  if (!Number.isFinite(ms) || ms < 1 || ms > 3_600_000) throw new CoreSDKError('ERR_CONFIG', '--timeout: must be between 1ms and 1h');
  return Math.round(ms);
}

function format(value: unknown): 'pretty' | 'json' {
  const f = typeof value === 'string' ? value : 'pretty';
  if (f !== 'pretty' && f !== 'json') throw new CoreSDKError('ERR_CONFIG', `--format: must be pretty or json, got ${JSON.stringify(f)}`);
  return f;
}

function usage(io: CommandIo, bin: string, e: unknown): number {
  const message = e instanceof Error ? e.message : String(e);
  io.err(`${bin}: ${message}\n\n${policyHelp(bin)}`);
  return 2;
}

/** Runs `test` or `check` with its arguments; returns the exit code. */
export function runPolicyCommand(bin: string, command: (typeof POLICY_COMMANDS)[number], argv: string[], io: CommandIo): number {
  return command === 'test' ? testCommand(bin, argv, io) : checkCommand(bin, argv, io);
}

function testCommand(bin: string, argv: string[], io: CommandIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        verbose: { type: 'boolean', short: 'v' },
        run: { type: 'string', short: 'r' },
        format: { type: 'string', short: 'f' },
        coverage: { type: 'boolean', short: 'c' },
        threshold: { type: 'string' },
        bundle: { type: 'boolean', short: 'b' },
        timeout: { type: 'string', short: 't' },
        'strict-builtin-errors': { type: 'boolean' },
        'fail-on-empty': { type: 'boolean' },
        'v0-compatible': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usage(io, bin, e);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.out(policyHelp(bin));
    return 0;
  }
  let fmt: 'pretty' | 'json';
  let timeoutMs: number | undefined;
  let threshold: number | undefined;
  try {
    if (positionals.length === 0) throw new Error('test: give at least one policy directory or file');
    fmt = format(values.format);
    if (values.timeout !== undefined) timeoutMs = duration(values.timeout);
    if (values.threshold !== undefined) {
      threshold = Number(values.threshold);
      if (!Number.isFinite(threshold) || threshold < 0 || threshold > 100) throw new Error('--threshold: must be a percentage between 0 and 100');
    }
  } catch (e) {
    return usage(io, bin, e);
  }
  const coverage = values.coverage === true || threshold !== undefined;
  let run;
  try {
    run = testPolicies(positionals, {
      run: values.run,
      coverage,
      bundle: values.bundle === true,
      regoV0: values['v0-compatible'] === true,
      timeoutMs,
      strictBuiltinErrors: values['strict-builtin-errors'] === true,
      verbose: values.verbose === true,
    });
  } catch (e) {
    const err = e instanceof CoreSDKError ? e : new CoreSDKError('ERR_POLICY_LOAD', String(e));
    io.err(`${bin} test: [${err.code}] ${err.message}\n`);
    return 2;
  }
  if (fmt === 'json') {
    io.out(`${JSON.stringify(coverage ? run.coverage : run.results, null, 2)}\n`);
  } else {
    io.out(run.text);
    if (run.coverage !== undefined) {
      const files = Object.entries(run.coverage.files as Record<string, { coverage: number }>);
      for (const [file, c] of files) io.out(`${file}: ${c.coverage.toFixed(2)}% covered\n`);
      io.out(`COVERAGE: ${run.coverage.coverage.toFixed(2)}% of ${run.coverage.covered_lines + run.coverage.not_covered_lines} lines\n`);
    }
  }
  let code = run.ok ? 0 : 1;
  if (threshold !== undefined && run.coverage !== undefined && run.coverage.coverage < threshold) {
    io.err(`${bin} test: coverage ${run.coverage.coverage.toFixed(2)}% is below the threshold ${threshold}%\n`);
    code = 1;
  }
  if (values['fail-on-empty'] === true && run.total === 0) {
    io.err(`${bin} test: no tests found\n`);
    code = 1;
  }
  return code;
}

function checkCommand(bin: string, argv: string[], io: CommandIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'ignore-manifest': { type: 'boolean' },
        format: { type: 'string', short: 'f' },
        'v0-compatible': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usage(io, bin, e);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.out(policyHelp(bin));
    return 0;
  }
  let fmt: 'pretty' | 'json';
  try {
    if (positionals.length === 0) throw new Error('check: give a bundle directory (or, with --ignore-manifest, files and directories)');
    fmt = format(values.format);
  } catch (e) {
    return usage(io, bin, e);
  }
  const bundle = values['ignore-manifest'] !== true;
  if (bundle && positionals.length > 1) return usage(io, bin, new Error('check: one bundle directory at a time (or --ignore-manifest)'));
  const result = checkPolicies(positionals, { bundle, regoV0: values['v0-compatible'] === true });
  if (fmt === 'json') {
    io.out(`${JSON.stringify({ ok: result.ok, errors: result.errors, modules: result.modules, revision: result.revision }, null, 2)}\n`);
  } else if (result.ok) {
    io.out(result.text);
  } else {
    io.err(result.text);
  }
  return result.ok ? 0 : 1;
}
