#!/usr/bin/env node
/**
 * `coresdk-sidecar` from npm: runs the `coresdk-sidecar` program (Rust), the same program every
 * channel ships, with the same arguments, standard streams and exit code. Signals (SIGTERM,
 * SIGINT, SIGHUP) are passed on, so draining and reloading behave as when the program runs alone.
 * Nothing of the sidecar runs in Node: `coresdk-sidecar --help` lists what it does.
 *
 * @packageDocumentation
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

import { CoreSDKError } from '../errors.js';
import { sidecarProgram } from './program.js';

/** Runs the program with `args` until it exits; exits with its code. */
function runProgram(args: string[]): void {
  let program: string;
  try {
    program = sidecarProgram();
  } catch (e) {
    const err = e instanceof CoreSDKError ? e : new CoreSDKError('ERR_CONFIG', String(e));
    process.stderr.write(`coresdk-sidecar: [${err.code}] ${err.message}\n`);
    process.exit(2);
  }
  // The program ends with this process even when it is killed with SIGKILL (Linux).
  const child = spawn(program, args, { stdio: 'inherit', env: { ...process.env, CORESDK_SIDECAR_LAUNCHER_PID: String(process.pid) } });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      child.kill(signal);
    });
  }
  child.on('error', (e) => {
    process.stderr.write(`coresdk-sidecar: [ERR_RUNTIME] cannot run ${program}: ${e.message}\n`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
  });
}

runProgram(process.argv.slice(2));
