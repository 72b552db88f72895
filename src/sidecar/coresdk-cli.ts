#!/usr/bin/env node
/**
 * `coresdk`: the policy author's commands without a sidecar,
 * `npx coresdk test <path>...` and `npx coresdk check <dir>`: the
 * `coresdk-sidecar` program's `test` and `check` (docs/policy-testing.md).
 *
 * @packageDocumentation
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CoreSDKError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { sidecarProgram } from './program.js';

const USAGE = `coresdk: CoreSDK's policy tools (the sidecar is coresdk-sidecar)

Usage:
  coresdk test <path>... [options]    run every test_* rule, as opa test does
  coresdk check <path>... [options]   compile as the sidecar loads it; errors with file:line:col
  (coresdk test --help and coresdk check --help list the options)
`;

const [command, ...rest] = process.argv.slice(2);
if (command === 'test' || command === 'check') {
  let program: string;
  try {
    program = sidecarProgram();
  } catch (e) {
    const err = e instanceof CoreSDKError ? e : new CoreSDKError('ERR_CONFIG', String(e));
    process.stderr.write(`coresdk: [${err.code}] ${err.message}\n`);
    process.exit(2);
  }
  const r = spawnSync(program, [command, ...rest], { stdio: 'inherit' });
  process.exitCode = r.status ?? 2;
} else if (command === '--version' || command === '-V') {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  process.stdout.write(`coresdk ${pkg.version}\n`);
} else if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(USAGE);
} else {
  process.stderr.write(`coresdk: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  process.exitCode = 2;
}
