/**
 * Loads the generated napi-rs binding (`native/node/binding.cjs`).
 *
 * The generated loader and its declarations are committed apart from this
 * hand-written API and checked for drift by `npm test`. Nothing else in
 * `src/` touches the binding directly.
 *
 * @internal
 * @packageDocumentation
 */
import { join } from 'node:path';

import type * as Binding from '../native/node/binding.cjs';
import { PACKAGE_ROOT, requireFromHere } from './paths.js';

function platformName(): string {
  let libc = '';
  if (process.platform === 'linux') {
    const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
    libc = report.header?.glibcVersionRuntime ? '-gnu' : '-musl';
  }
  return `${process.platform}-${process.arch}${libc}`;
}

function load(): typeof Binding {
  try {
    return requireFromHere(join(PACKAGE_ROOT, 'native', 'node', 'binding.cjs')) as typeof Binding;
  } catch (err) {
    const platform = platformName();
    throw new Error(
      `coresdk: no native binary fits this platform (${platform}): the package @coresdk/binding-${platform} is not installed or does not load. ` +
        'Prebuilt binaries exist for linux x64/arm64 (gnu, musl), macOS x64/arm64 and Windows x64/arm64; check that optional dependencies were not omitted (npm install --include=optional). ' +
        'To build from source instead, install Rust (https://rustup.rs) and run `npm rebuild coresdk` in a clone of the repository (npm run build:native).',
      { cause: err },
    );
  }
}

/** The native module, typed by its generated declarations. @internal */
export const native: typeof Binding = load();

export type {
  NativeAuthorization,
  NativeDecision,
  NativeEngineOptions,
  NativeReloadEvent,
  NativeMasker,
  NativeSidecar,
} from '../native/node/binding.cjs';
