/**
 * OPA's compile checks at load, through the Node `Engine`: a bundle that
 * `opa check` refuses (here a rule named like the builtin it calls) is
 * refused with `ERR_POLICY_COMPILE`, OPA's message and its file:line:col,
 * from inline policies and from a bundle directory alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CoreSDKError, Engine } from '../src/index.js';
import { opaBinary } from './support/opa-oracle.js';
import { ROOT } from './support/sidecar.js';

function refusal(make: () => Engine): CoreSDKError {
  try {
    make().close();
  } catch (err) {
    expect(err).toBeInstanceOf(CoreSDKError);
    return err as CoreSDKError;
  }
  throw new Error('the bundle loaded, but OPA refuses it');
}

describe('OPA compile checks at load', () => {
  const shadowing = 'package p\n\nupper := upper(input.name)\n';

  it('refuses a rule named like the builtin it calls, with file:line', () => {
    const e = refusal(() => new Engine({ policies: { 'authz/p.rego': shadowing }, watch: false }));
    expect(e.code).toBe('ERR_POLICY_COMPILE');
    expect(e.message).toContain('rego_type_error: function data.p.upper has arity 0, got 1 argument');
    expect(e.location).toEqual({ file: 'authz/p.rego', line: 3, column: 10 });
  });

  it('refuses it from a bundle directory too, and loads the renamed rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coresdk-opa-check-'));
    try {
      writeFileSync(join(dir, 'p.rego'), shadowing);
      const e = refusal(() => new Engine({ policyDir: dir, watch: false }));
      expect(e.location).toMatchObject({ file: 'p.rego', line: 3 });
      writeFileSync(join(dir, 'p.rego'), 'package p\n\nname := upper(input.name)\n');
      const engine = new Engine({ policyDir: dir, watch: false });
      expect(engine.evaluatePolicySync('data.p.name', { name: 'bob' }).value).toBe('BOB');
      engine.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses wrong argument counts and unknown functions', () => {
    for (const [src, text] of [
      ['package p\n\nf(x) := x\n\ny := f(1, 2, 3)\n', 'function data.p.f has arity 1, got 3 arguments'],
      ['package p\n\ny := count([1], 2)\n', 'count: arity mismatch'],
      ['package p\n\ny := nosuchfn(1)\n', 'undefined function nosuchfn'],
    ] as const) {
      const e = refusal(() => new Engine({ policies: { 'p.rego': src }, watch: false }));
      expect(e.message).toContain(text);
      expect(e.location?.line).toBe(5 - (src.includes('f(x)') ? 0 : 2));
    }
  });

  it('refuses a constant argument of a type the builtin does not take, as OPA types it', () => {
    const e = refusal(() => new Engine({ policies: { 'p.rego': 'package p\n\nx := concat(",", ["a", 1])\n' }, watch: false }));
    expect(e.message).toContain('rego_type_error: concat: invalid argument(s)');
    expect(e.location).toMatchObject({ file: 'p.rego', line: 3 });
  });

  it('refuses declared variables as OPA does: unused, declared above, bound by nothing but the head', () => {
    for (const [src, text] of [
      ['package p\n\nallow if { some y; input.ok }\n', 'rego_compile_error: declared var y unused'],
      ['package p\n\nallow if { every k, v in input.xs { v > 0 } }\n', 'rego_compile_error: declared var k unused'],
      ['package p\n\nallow if { some y; y := 1 }\n', 'rego_compile_error: var y declared above'],
      ['package p\n\ndeny contains y if { some y; input.bad }\n', 'rego_unsafe_var_error: var y is unsafe'],
    ] as const) {
      const e = refusal(() => new Engine({ policies: { 'p.rego': src }, watch: false }));
      expect(e.message).toContain(text);
      expect(e.location).toMatchObject({ file: 'p.rego', line: 3 });
      // The pinned OPA refuses it with the same words.
      const dir = mkdtempSync(join(tmpdir(), 'coresdk-declared-'));
      try {
        writeFileSync(join(dir, 'p.rego'), src);
        const opa = spawnSync(opaBinary(ROOT), ['check', join(dir, 'p.rego')], { encoding: 'utf8' });
        expect(opa.status, src).not.toBe(0);
        expect(`${opa.stdout}${opa.stderr}`).toContain(text.split(': ')[1]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("keeps OPA's builtin declarations (native/engine/src/opa_builtins.tsv) in step with the pinned OPA", () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-opa-builtins.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  }, 600_000);
});
