/**
 * Engine helpers shared by the token suites.
 */
import { expect } from 'vitest';

import { CoreSDKError, Engine, type EngineOptions } from '../../src/index.js';

/** Engines made by {@link TrackedEngines.make}, closed by {@link TrackedEngines.closeAll}. */
export class TrackedEngines {
  readonly #engines: Engine[] = [];

  make(options: EngineOptions): Engine {
    const e = new Engine(options);
    this.#engines.push(e);
    return e;
  }

  closeAll(): void {
    for (const e of this.#engines.splice(0)) e.close();
  }
}

/** The CoreSDKError `fn` throws; fails the test when it returns or throws anything else. */
export function errorOf(fn: () => unknown): CoreSDKError {
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CoreSDKError);
    return err as CoreSDKError;
  }
  throw new Error(`expected a CoreSDKError, got a result: ${JSON.stringify(value)}`);
}

/** The CoreSDKError `p` rejects with. */
export async function rejectionOf(p: Promise<unknown>): Promise<CoreSDKError> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CoreSDKError);
    return err as CoreSDKError;
  }
  throw new Error(`expected a CoreSDKError rejection, got a result: ${JSON.stringify(value)}`);
}

/** `{ ok: true, claims }` or `{ ok: false, code }` for one synchronous verification. */
export function verdictOf(engine: Engine, token: string): { ok: true; claims: Record<string, unknown> } | { ok: false; code: string; message: string } {
  try {
    return { ok: true, claims: engine.verifyTokenSync(token) };
  } catch (err) {
    if (!(err instanceof CoreSDKError)) throw err;
    return { ok: false, code: err.code, message: err.message };
  }
}
