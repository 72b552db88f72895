/**
 * `npm run demo` is the README's main job: it must run to the end, print its
 * table and exit 0 (it exits 1 itself if any answer differs from the
 * expected one). Runs the built package, like the README's command.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { expect, it } from 'vitest';

it('npm run demo prints the table and exits 0', () => {
  const root = join(import.meta.dirname, '..');
  const r = spawnSync(process.execPath, [join(root, 'examples', 'demo.mjs')], { cwd: root, encoding: 'utf8', timeout: 100_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  for (const row of ['valid token, viewer reads', 'expired token', 'wrong audience', 'policy deny', 'sidecar killed, fail-open', 'sidecar killed, fail-closed', 'in-process, viewer reads']) {
    expect(r.stdout).toContain(row);
  }
  expect(r.stdout).toMatch(/sidecar killed, fail-closed\s+GET \/documents\/doc-2\s+503/);
  const span = r.stdout.slice(r.stdout.indexOf('The exported span'));
  expect(span).toContain('"url.query": "contact=[REDACTED:email]"');
  expect(span).toContain('"http.request.header.authorization": "[REDACTED:secret]"');
  expect(span).not.toContain('bob.smith@example.com');
}, 120_000);
