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

/** The native module, typed by its generated declarations. @internal */
export const native: typeof Binding = requireFromHere(join(PACKAGE_ROOT, 'native', 'node', 'binding.cjs')) as typeof Binding;

export type {
  NativeAuthorization,
  NativeDecision,
  NativeEngineOptions,
  NativeReloadEvent,
  NativeMasker,
  NativeSidecar,
} from '../native/node/binding.cjs';
