#!/usr/bin/env node
// `npm install` hook: make sure a native addon and the compiled TypeScript
// are present.
//
// * A published install ships dist/ and gets the addon from the prebuilt
//   per-platform package (optionalDependencies): nothing to do.
// * A clone (or a platform without a prebuilt package) builds the addon
//   from source with cargo, then compiles src/ to dist/.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`coresdk: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
};

function loadsNatively() {
  const r = spawnSync(process.execPath, ['-e', "require('./native/node/binding.cjs')"], { cwd: root, stdio: 'ignore' });
  return r.status === 0;
}

const isClone = existsSync(join(root, 'Cargo.toml')) && existsSync(join(root, 'native', 'node', 'src'));
const hasLocalBinary = readdirSync(join(root, 'native', 'node')).some((f) => f.endsWith('.node'));

if (!(hasLocalBinary && loadsNatively()) && !loadsNatively()) {
  if (!isClone) {
    console.error('coresdk: no prebuilt binary for this platform and no sources to build from.');
    process.exit(1);
  }
  const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
  if (cargo.status !== 0) {
    console.error('coresdk: no prebuilt binary fits this platform; building from source needs Rust (https://rustup.rs).');
    process.exit(1);
  }
  console.log('coresdk: building the native addon from source (cargo, release)...');
  run('npm', ['run', '--silent', 'build:native']);
}

// The coresdk-sidecar program (the npm bin runs it): from the platform package when published; a
// clone builds it beside the addon.
const program = join(root, 'native', 'node', process.platform === 'win32' ? 'coresdk-sidecar.exe' : 'coresdk-sidecar');
if (isClone && !existsSync(program)) {
  console.log('coresdk: building the coresdk-sidecar program from source (cargo, release)...');
  run('npm', ['run', '--silent', 'build:sidecar']);
}

if (isClone && existsSync(join(root, 'node_modules', 'typescript'))) {
  run('npm', ['run', '--silent', 'build:ts']);
}

// In a clone, the package's own bins are not linked into node_modules/.bin by
// npm (it only links dependencies' bins). Link them so that
// `npx coresdk-sidecar --help` and `npx coresdk test ...` work right after
// `npm install`, as they do for a project that depends on coresdk.
if (isClone) {
  const binDir = join(root, 'node_modules', '.bin');
  const bins = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin ?? {};
  for (const [name, target] of Object.entries(bins)) {
    const link = join(binDir, name);
    const targetFile = join(root, target);
    if (!existsSync(targetFile)) continue;
    try {
      mkdirSync(binDir, { recursive: true });
      rmSync(link, { force: true });
      symlinkSync(relative(binDir, targetFile), link);
      chmodSync(targetFile, 0o755);
    } catch (e) {
      console.warn(`coresdk: could not link the ${name} bin (${e.message}); run it as node ${target}`);
    }
  }
}
