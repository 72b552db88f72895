#!/usr/bin/env node
// `npm test` step "python venv": makes clients/python/.venv (once) with a
// Python >= 3.10 and installs the package editable with every extra the
// checks need (fastapi, flask, django, otel, test). maturin builds the native
// extension (native/python) in the dev profile, reusing the workspace's debug
// build (MATURIN_PEP517_ARGS overrides). Idempotent and quick when nothing
// changed. CORESDK_PYTHON picks the interpreter (default python3).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(pkg, '.venv');
const py = process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
const base = process.env.CORESDK_PYTHON ?? (process.platform === 'win32' ? 'python' : 'python3');

function run(cmd, args) {
  const env = { ...process.env, MATURIN_PEP517_ARGS: process.env.MATURIN_PEP517_ARGS ?? '--profile dev' };
  const r = spawnSync(cmd, args, { cwd: pkg, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`python venv: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const version = spawnSync(base, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(sys.version_info < (3, 10))'], { encoding: 'utf8' });
if (version.error !== undefined || version.status !== 0) {
  console.error(`python venv: needs Python 3.10 or newer as \`${base}\` (got ${version.stdout?.trim() || version.error?.message || 'nothing'}); set CORESDK_PYTHON`);
  process.exit(1);
}
if (!existsSync(py)) {
  console.log(`python venv: creating clients/python/.venv with ${base} ${version.stdout.trim()}`);
  run(base, ['-m', 'venv', venv]);
  run(py, ['-m', 'pip', 'install', '--quiet', '--upgrade', 'pip']);
}
run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-e', '.[fastapi,flask,django,otel,test]']);
