import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The examples/ policy bundle. */
export const examplePolicies = join(root, 'examples', 'policies');

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'coresdk-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => { rmSync(dir, { recursive: true, force: true }); } };
}

/** Polls `check` every 5 ms until it returns a value or `ms` pass. */
export async function waitFor<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
  const start = performance.now();
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (performance.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
