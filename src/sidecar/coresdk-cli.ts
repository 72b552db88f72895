#!/usr/bin/env node
/**
 * `coresdk`: the policy author's commands without a sidecar,
 * `npx coresdk test <path>...` and `npx coresdk check <dir>`
 * (the same as `coresdk-sidecar test` / `check`).
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from './dev.js';
import { policyHelp, runPolicyCommand } from './policy-commands.js';

const io = { out: (t: string) => process.stdout.write(t), err: (t: string) => process.stderr.write(t) };
const [command, ...rest] = process.argv.slice(2);
if (command === 'test' || command === 'check') {
  process.exitCode = runPolicyCommand('coresdk', command, rest, io);
} else if (command === '--version' || command === '-V') {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  io.out(`coresdk ${pkg.version}\n`);
} else if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  io.out(`coresdk: CoreSDK's policy tools (the sidecar is coresdk-sidecar)\n\n${policyHelp('coresdk')}`);
} else {
  io.err(`coresdk: unknown command ${JSON.stringify(command)}\n\n${policyHelp('coresdk')}`);
  process.exitCode = 2;
}
