/**
 * The package's entry points, as a consumer loads them: `require` and
 * `import` of `coresdk`, `coresdk/express` and `coresdk/fastify` (through the
 * package's own "exports", by self-reference), each giving working modules.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 30_000 });

it('require() gets the CommonJS build, with working exports', () => {
  const r = node([
    '-e',
    `const c = require('coresdk');
     const e = new c.Engine({ policyDir: 'examples/policies', watch: false });
     if (e.isAllowedSync('data.authz.allow', { user: { roles: ['admin'] } }) !== true) process.exit(3);
     if (typeof require('coresdk/express').coresdk !== 'function') process.exit(4);
     if (typeof require('coresdk/fastify').coresdkPlugin !== 'function') process.exit(5);
     if (!require.resolve('coresdk').includes('/dist/cjs/')) process.exit(6);
     console.log('ok');`,
  ]);
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe('ok');
});

it('import gets the ES module build', () => {
  const r = node([
    '--input-type=module',
    '-e',
    `const c = await import('coresdk');
     const { coresdk } = await import('coresdk/express');
     const { coresdkPlugin } = await import('coresdk/fastify');
     if (typeof c.CoreSDKClient !== 'function' || typeof coresdk !== 'function' || typeof coresdkPlugin !== 'function') process.exit(3);
     if (!import.meta.resolve('coresdk').endsWith('/dist/index.js')) process.exit(4);
     console.log('ok');`,
  ]);
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe('ok');
});

it('a platform without a binary gets an error naming it and how to build from source', () => {
  // The package's JavaScript without any .node file or platform package next to it.
  const dir = mkdtempSync(join(tmpdir(), 'coresdk-nobinary-'));
  try {
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    mkdirSync(join(dir, 'native', 'node'), { recursive: true });
    copyFileSync(join(root, 'native', 'node', 'binding.cjs'), join(dir, 'native', 'node', 'binding.cjs'));
    copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
    const r = spawnSync(process.execPath, ['-e', "require('./dist/cjs/index.js')"], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`no native binary fits this platform (${process.platform}-${process.arch}`);
    expect(r.stderr).toContain('https://rustup.rs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
