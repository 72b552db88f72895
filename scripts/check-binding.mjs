#!/usr/bin/env node
// Rebuilds the addon with napi-rs and fails if the generated loader or type
// declarations differ from the committed ones (they are generated files:
// commit the regenerated versions when the Rust API changes).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = ['native/node/binding.cjs', 'native/node/binding.d.cts'];
const before = files.map((f) => readFileSync(join(root, f), 'utf8'));
const r = spawnSync('npm', ['run', '--silent', 'build:native'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
let drift = false;
files.forEach((f, i) => {
  if (readFileSync(join(root, f), 'utf8') !== before[i]) {
    console.error(`binding drift: ${f} differs from a fresh napi build; commit the regenerated file.`);
    drift = true;
  }
});
if (drift) process.exit(1);
console.log('binding: generated loader and declarations match a fresh build');
