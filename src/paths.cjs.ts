/**
 * Where the package is installed, for the CommonJS build (`dist/cjs/`);
 * the ES module build uses `paths.ts`.
 *
 * @internal
 * @packageDocumentation
 */
import { resolve } from 'node:path';

/** The package's root directory (where package.json, native/, proto/ and examples/ are). */
export const PACKAGE_ROOT: string = resolve(__dirname, '..', '..');

/** A `require` for loading the CommonJS napi loader. */
export const requireFromHere: NodeJS.Require = require;
