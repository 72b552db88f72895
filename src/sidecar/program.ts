/**
 * Where the `coresdk-sidecar` program is: the one Rust program every
 * channel ships (release binaries, the container image, the PyPI wheel and
 * this package). From npm it comes in the platform package beside the
 * addon (`@coresdk/binding-<platform>`); in a clone of the repository,
 * `npm install` builds it into `native/node/` (`npm run build:sidecar`).
 *
 * @internal
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { CoreSDKError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';

/** The program's file name on this platform. */
export const PROGRAM_NAME = process.platform === 'win32' ? 'coresdk-sidecar.exe' : 'coresdk-sidecar';

/** The napi-rs platform package suffix for this machine (`linux-x64-gnu`, `darwin-arm64`, ...). */
export function platformSuffix(): string {
  const arch = process.arch;
  if (process.platform === 'linux') {
    const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
    return `linux-${arch}-${report.header?.glibcVersionRuntime === undefined ? 'musl' : 'gnu'}`;
  }
  if (process.platform === 'win32') return `win32-${arch}-msvc`;
  return `${process.platform}-${arch}`;
}

/**
 * The path of the `coresdk-sidecar` program. Throws `ERR_CONFIG` saying how to get it when neither
 * the platform package nor a local build has it.
 */
export function sidecarProgram(): string {
  const candidates: string[] = [];
  try {
    const req = createRequire(join(PACKAGE_ROOT, 'package.json'));
    candidates.push(join(dirname(req.resolve(`@coresdk/binding-${platformSuffix()}/package.json`)), PROGRAM_NAME));
  } catch {
    // No platform package installed (a clone, or a platform without one).
  }
  candidates.push(join(PACKAGE_ROOT, 'native', 'node', PROGRAM_NAME));
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    throw new CoreSDKError(
      'ERR_CONFIG',
      `the coresdk-sidecar program is not installed (looked in ${candidates.join(', ')}): in a clone, run \`npm run build:sidecar\`; elsewhere, install it with \`cargo install --locked --path native/sidecar\` or from a release`,
    );
  }
  return found;
}
