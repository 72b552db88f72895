/**
 * Where the package is installed, for the ES module build.
 *
 * The CommonJS build compiles `paths.cjs.ts` in this file's place (see
 * scripts/build-ts.mjs): `import.meta` does not exist in CommonJS, and the
 * two builds sit at different depths (`dist/` and `dist/cjs/`).
 *
 * @internal
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory (where package.json, native/, proto/ and examples/ are). */
export const PACKAGE_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A `require` for loading the CommonJS napi loader. */
export const requireFromHere: NodeJS.Require = createRequire(import.meta.url);
