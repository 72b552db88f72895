#!/usr/bin/env node
// `npm run build:sidecar`: builds the coresdk-sidecar program (crate native/sidecar, release) and
// puts it beside the addon, in native/node/, where the npm bin finds it in a clone. Published
// installs get it from the platform package instead (npm/<platform>/), next to the addon.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.platform === 'win32' ? 'coresdk-sidecar.exe' : 'coresdk-sidecar';
const r = spawnSync('cargo', ['build', '--release', '-p', 'coresdk-sidecar', '--bin', 'coresdk-sidecar'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`coresdk: building the coresdk-sidecar program failed (exit ${r.status ?? r.signal})`);
  process.exit(r.status ?? 1);
}
const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const dest = join(root, 'native', 'node', name);
// Copied beside, then renamed over: a running sidecar keeps its old file (no ETXTBSY).
const tmp = `${dest}.${process.pid}.tmp`;
copyFileSync(join(target, 'release', name), tmp);
chmodSync(tmp, 0o755);
renameSync(tmp, dest);
console.log(`coresdk: ${dest}`);
