import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { CoreSDKError, Engine, type ReloadEvent } from '../src/index.js';
import { examplePolicies, root, tempDir, waitFor } from './helpers.js';

interface Case { name: string; query: string; input: unknown }
const cases = JSON.parse(readFileSync(join(root, 'examples', 'inputs.json'), 'utf8')) as Case[];

const engines: Engine[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
  for (const c of cleanups.splice(0)) c();
});
function engine(options: ConstructorParameters<typeof Engine>[0]): Engine {
  const e = new Engine(options);
  engines.push(e);
  return e;
}
function inline(src: string, extra: Partial<ConstructorParameters<typeof Engine>[0]> = {}): Engine {
  return engine({ policies: { 'test.rego': src }, ...extra });
}
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CoreSDKError);
    return (err as CoreSDKError).code;
  }
  throw new Error('expected a CoreSDKError');
}

describe('Engine on the examples/ bundle', () => {
  it('gives the same decisions as the Rust crate', { timeout: 300_000 }, () => {
    // `npm test` builds the binary before vitest; `cargo run` builds it when run alone.
    const built = join(root, 'target', 'debug', 'examples', process.platform === 'win32' ? 'decide.exe' : 'decide');
    const [cmd, args] = existsSync(built) ? [built, []] : ['cargo', ['run', '-q', '-p', 'coresdk-engine', '--example', 'decide', '--']];
    const out = execFileSync(cmd, [...args, join(root, 'examples', 'inputs.json')], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CORESDK_POLICY_DIR: examplePolicies },
    });
    const rust = out.trim().split('\n').map((l) => JSON.parse(l) as { name: string; defined: boolean; value: unknown; revision: string });
    expect(rust).toHaveLength(cases.length);
    const e = engine({ policyDir: examplePolicies, watch: false });
    cases.forEach((c, i) => {
      const d = e.evaluatePolicySync(c.query, c.input);
      expect({ name: c.name, defined: d.defined, value: d.value, revision: d.revision }).toEqual({
        name: rust[i]?.name,
        defined: rust[i]?.defined,
        value: rust[i]?.value,
        revision: rust[i]?.revision,
      });
    });
  });

  it('sync, async and allow-style calls agree', async () => {
    const e = engine({ policyDir: examplePolicies });
    for (const c of cases) {
      const sync = e.evaluatePolicySync(c.query, c.input);
      expect(await e.evaluatePolicy(c.query, c.input)).toEqual(sync);
      expect(e.isAllowedSync(c.query, c.input)).toBe(sync.value === true);
      expect(await e.isAllowed(c.query, c.input)).toBe(sync.value === true);
    }
  });

  it('serves many concurrent async evaluations', async () => {
    const e = engine({ policyDir: examplePolicies, watch: false });
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => e.evaluatePolicy('data.authz.allow', cases[i % cases.length]?.input)),
    );
    results.forEach((d, i) => {
      expect(d.value).toEqual(e.evaluatePolicySync('data.authz.allow', cases[i % cases.length]?.input).value);
    });
  });
});

describe('decision cache', () => {
  it('answers repeats from the cache with the same decisions, and can be turned off', () => {
    const cached = engine({ policyDir: examplePolicies, watch: false });
    const plain = engine({ policyDir: examplePolicies, watch: false, decisionCacheEntries: 0 });
    for (let round = 0; round < 3; round++) {
      for (const c of cases) expect(cached.evaluatePolicySync(c.query, c.input)).toEqual(plain.evaluatePolicySync(c.query, c.input));
    }
    expect(cached.decisionCacheStats()).toMatchObject({ enabled: true });
    expect(cached.decisionCacheStats().hits).toBeGreaterThanOrEqual(cases.length * 2);
    expect(plain.decisionCacheStats()).toEqual({ enabled: false, hits: 0, misses: 0 });
    expect(codeOf(() => new Engine({ policyDir: examplePolicies, decisionCacheEntries: -1 }))).toBe('ERR_CONFIG');
  });

  it('is off for policies that read the clock', () => {
    const e = inline('package t\nallow if time.now_ns() > 0\n');
    expect(e.isAllowedSync('data.t.allow')).toBe(true);
    expect(e.decisionCacheStats().enabled).toBe(false);
  });
});

describe('decisions', () => {
  it('keeps undefined distinct from false and denies both', () => {
    const e = inline('package t\ndefault f := false\nu if input.x == 1\n');
    expect(e.evaluatePolicySync('data.t.f', {})).toMatchObject({ defined: true, value: false });
    expect(e.evaluatePolicySync('data.t.u', {})).toMatchObject({ defined: false, value: undefined });
    expect(e.decideSync('data.t.f', {})).toMatchObject({ allowed: false, reason: 'denied' });
    expect(e.decideSync('data.t.u', {})).toMatchObject({ allowed: false, reason: 'undefined' });
    expect(e.decideSync('data.t.u', { x: 1 })).toMatchObject({ allowed: true, reason: 'allowed' });
  });

  it('allows only on exactly true', () => {
    const e = inline('package t\nv := input.v\n');
    for (const v of ['true', 1, [true], { ok: true }, null]) expect(e.isAllowedSync('data.t.v', { v })).toBe(false);
    expect(e.isAllowedSync('data.t.v', { v: true })).toBe(true);
  });

  it('returns bindings for general queries', () => {
    const e = inline('package t\nxs := [1, 2, 3]\n');
    expect(e.evaluatePolicySync('some i; x := data.t.xs[i]; x > 2').value).toEqual([{ i: 2, x: 3 }]);
    expect(e.evaluatePolicySync('data.t.xs[_] > 9').defined).toBe(false);
  });

  it('reads data documents and inline data', () => {
    const e = inline('package t\nlimit := data.cfg.limit\n', { data: { cfg: { limit: 7 } } });
    expect(e.evaluatePolicySync('data.t.limit').value).toBe(7);
    expect(e.evaluatePolicySync('data.cfg').value).toEqual({ limit: 7 });
  });
});

describe('which evaluator answers (fastPathPlan)', () => {
  it('names the tree evaluator for a proven query and the reason otherwise', () => {
    const e = inline('package t\nallow if input.role == "admin"\nwild if to_number(input.n) > 3\n');
    expect(e.fastPathPlan('data.t.allow')).toEqual({ evaluator: 'tree', guards: 0, indexed: false });
    const wild = e.fastPathPlan('data.t.wild');
    expect(wild.evaluator).toBe('interpreter');
    expect(wild.reason).toMatch(/to_number/);
    expect(e.fastPathPlan('x := data.t.allow')).toMatchObject({ evaluator: 'interpreter', reason: 'a general query' });
  });

  it('answers the former fast-path bypasses as OPA does', () => {
    // Two values of `role`: OPA raises eval_conflict_error, so the decision is never an allow.
    const conflict = inline('package t\nrole := "admin" if input.a\nrole := "guest" if input.b\nallow if role = "admin"\n');
    expect(conflict.decideSync('data.t.allow', { a: true, b: true }).allowed).toBe(false);
    expect(conflict.decideSync('data.t.allow', { a: true }).allowed).toBe(true);
    // A call's missing argument fails the body outside the `not`, as in OPA.
    const negated = inline('package t\nallow if not startswith(input.path, "/admin")\n');
    expect(negated.evaluatePolicySync('data.t.allow', {}).defined).toBe(false);
    expect(negated.evaluatePolicySync('data.t.allow', { path: '/docs' }).value).toBe(true);
    expect(negated.fastPathPlan('data.t.allow').evaluator).toBe('tree');
  });
});

describe('bad input gets a typed error and the next call is served', () => {
  const e = (): Engine => inline('package t\nallow := true\n');

  it('a syntax error names file, line and column', () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    mkdirSync(join(dir, 'authz'));
    writeFileSync(join(dir, 'authz', 'bad.rego'), 'package authz\n\nallow if {\n  input.x ==\n}\n');
    try {
      new Engine({ policyDir: dir });
      expect.fail('should not compile');
    } catch (err) {
      expect(err).toBeInstanceOf(CoreSDKError);
      const ce = err as CoreSDKError;
      expect(ce.code).toBe('ERR_POLICY_COMPILE');
      expect(ce.location).toEqual({ file: 'authz/bad.rego', line: 5, column: 1 });
      expect(ce.message).toContain('authz/bad.rego:5:1');
    }
  });

  it('an unknown query path', () => {
    const en = e();
    expect(codeOf(() => en.evaluatePolicySync('data.nope.allow', {}))).toBe('ERR_UNKNOWN_RULE');
    // A typo inside an existing package too: never a silent undefined.
    expect(codeOf(() => en.evaluatePolicySync('data.t.alow', {}))).toBe('ERR_UNKNOWN_RULE');
    expect(en.decideSync('data.nope.allow', {})).toMatchObject({ allowed: false, reason: 'ERR_UNKNOWN_RULE' });
    expect(en.isAllowedSync('data.t.allow', {})).toBe(true);
  });

  it('an invalid query', () => {
    const en = e();
    expect(['ERR_QUERY_INVALID', 'ERR_EVAL']).toContain(codeOf(() => en.evaluatePolicySync('x := := 1')));
    expect(codeOf(() => en.evaluatePolicySync(''))).toBe('ERR_QUERY_INVALID');
    expect(en.isAllowedSync('data.t.allow')).toBe(true);
  });

  it('inputs JSON cannot carry: function, cycle, BigInt, symbol', async () => {
    const en = e();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [{ f: () => 1 }, cyclic, { n: 10n }, { s: Symbol('x') }, () => 1]) {
      expect(codeOf(() => en.evaluatePolicySync('data.t.allow', bad))).toBe('ERR_INPUT_INVALID');
      await expect(en.evaluatePolicy('data.t.allow', bad)).rejects.toMatchObject({ code: 'ERR_INPUT_INVALID' });
      expect(en.decideSync('data.t.allow', bad)).toMatchObject({ allowed: false, reason: 'ERR_INPUT_INVALID' });
    }
    expect(en.isAllowedSync('data.t.allow', {})).toBe(true);
  });

  it('input nested 10,000 deep', () => {
    const en = e();
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 10_000; i++) {
      const next: Record<string, unknown> = {};
      cur.a = next;
      cur = next;
    }
    expect(codeOf(() => en.evaluatePolicySync('data.t.allow', deep))).toBe('ERR_INPUT_TOO_DEEP');
    let arr: unknown = 1;
    for (let i = 0; i < 100; i++) arr = [arr];
    expect(codeOf(() => en.evaluatePolicySync('data.t.allow', arr))).toBe('ERR_INPUT_TOO_DEEP');
    expect(en.isAllowedSync('data.t.allow', {})).toBe(true);
  });

  it('a 50 MB input', async () => {
    const en = e();
    const big = { blob: 'x'.repeat(50 * 1024 * 1024) };
    expect(codeOf(() => en.evaluatePolicySync('data.t.allow', big))).toBe('ERR_INPUT_TOO_LARGE');
    await expect(en.evaluatePolicy('data.t.allow', big)).rejects.toMatchObject({ code: 'ERR_INPUT_TOO_LARGE' });
    expect(en.isAllowedSync('data.t.allow', {})).toBe(true);
  });

  it('a policy that runs long hits the time limit', async () => {
    const en = inline(
      'package slow\nallow if { count([x | some a in numbers.range(1, 3000); some b in numbers.range(1, 3000); x := a * b]) > 0 }\nfast := true\n',
      { evalTimeoutMs: 50 },
    );
    const started = performance.now();
    expect(codeOf(() => en.evaluatePolicySync('data.slow.allow', {}))).toBe('ERR_EVAL_TIMEOUT');
    await expect(en.evaluatePolicy('data.slow.allow', {})).rejects.toMatchObject({ code: 'ERR_EVAL_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(10_000); // bounded, not a benchmark
    expect(en.isAllowedSync('data.slow.fast', {})).toBe(true);
  });

  it('a builtin error inside an allow rule denies', () => {
    const en = inline('package t\nallow if regex.match(input.p, "abc")\n');
    expect(en.decideSync('data.t.allow', { p: '(unclosed' })).toMatchObject({ allowed: false, reason: 'ERR_EVAL' });
    expect(en.isAllowedSync('data.t.allow', { p: '^a' })).toBe(true);
  });

  it('invalid options name the key', () => {
    expect(codeOf(() => new Engine({ policyDir: examplePolicies, poolSize: 0 }))).toBe('ERR_CONFIG');
    expect(codeOf(() => new Engine({}))).toBe('ERR_CONFIG');
    expect(codeOf(() => new Engine({ policyDir: '/no/such/dir' }))).toBe('ERR_POLICY_LOAD');
    try {
      new Engine({ policyDir: examplePolicies, evalTimeoutMs: -5 });
    } catch (err) {
      expect((err as Error).message).toContain('evalTimeoutMs');
    }
  });

  it('a closed engine refuses work', async () => {
    const en = e();
    en.close();
    expect(codeOf(() => en.evaluatePolicySync('data.t.allow'))).toBe('ERR_ENGINE_CLOSED');
    await expect(en.evaluatePolicy('data.t.allow')).rejects.toMatchObject({ code: 'ERR_ENGINE_CLOSED' });
    expect(en.isAllowedSync('data.t.allow')).toBe(false);
  });
});

describe('token configuration is checked', () => {
  const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
  const make = (token: Record<string, unknown>) => (): Engine => new Engine({ policies: { 'a.rego': 'package a\n' }, token });

  it('refuses settings that would weaken a check', () => {
    expect(codeOf(make({ jwks, audience: [] }))).toBe('ERR_CONFIG');
    expect(codeOf(make({ jwks, clockToleranceSec: -1 }))).toBe('ERR_CONFIG');
    expect(codeOf(make({ jwks, clockToleranceSec: 301 }))).toBe('ERR_CONFIG');
    expect(codeOf(make({ jwks, maxTokenBytes: 0 }))).toBe('ERR_CONFIG');
    expect(codeOf(make({ jwks, algorithms: ['HS256'] }))).toBe('ERR_CONFIG');
    expect(codeOf(make({ jwks, algorithms: [] }))).toBe('ERR_CONFIG');
    expect(codeOf(make({ jwks, jwksUrl: 'https://idp.test/jwks' }))).toBe('ERR_CONFIG');
    expect(codeOf(make({ jwks: { keys: [{ kty: 'oct', kid: 'x' }] } }))).toBe('ERR_JWKS_INVALID');
    expect(codeOf(make({ jwks: { keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }] } }))).toBe('ERR_JWKS_INVALID');
    const ok = make({ jwks, audience: 'api' })();
    engines.push(ok);
    expect(ok.keyStatus()).toMatchObject({ source: 'inline', keys: 1 });
  });
});

describe('configuration from the environment', () => {
  it('Engine.fromEnv reads CORESDK_POLICY_DIR and coresdk.toml', () => {
    const saved = { ...process.env };
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    try {
      process.env.CORESDK_POLICY_DIR = examplePolicies;
      const a = Engine.fromEnv();
      engines.push(a);
      expect(a.isAllowedSync('data.authz.allow', cases[0]?.input)).toBe(true);

      delete process.env.CORESDK_POLICY_DIR;
      writeFileSync(join(dir, 'coresdk.toml'), `[sdk]\npolicy_dir = ${JSON.stringify(examplePolicies)}\neval_timeout_ms = 20\n`);
      process.env.CORESDK_CONFIG = join(dir, 'coresdk.toml');
      const b = Engine.fromEnv();
      engines.push(b);
      expect(b.revision).toBe(a.revision);

      process.env.CORESDK_EVAL_TIMEOUT_MS = 'soon';
      try {
        Engine.fromEnv();
        expect.fail('should reject');
      } catch (err) {
        expect(err).toMatchObject({ code: 'ERR_CONFIG' });
        expect((err as Error).message).toContain('CORESDK_EVAL_TIMEOUT_MS');
      }
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) Reflect.deleteProperty(process.env, k);
      Object.assign(process.env, saved);
    }
  });
});

describe('hot reload', () => {
  it('serves edits within 1 s, keeps the last good revision on a broken edit, and no evaluation fails', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const file = join(dir, 'p.rego');
    writeFileSync(file, 'package p\nversion := 1\n');
    const e = engine({ policyDir: dir });
    const events: ReloadEvent[] = [];
    e.onReload((ev) => events.push(ev));

    let evaluations = 0;
    let failures = 0;
    const state = { running: true };
    const loop = (async () => {
      while (state.running) {
        try {
          if (!e.evaluatePolicySync('data.p.version').defined) failures++;
          if (!(await e.evaluatePolicy('data.p.version')).defined) failures++;
        } catch {
          failures++;
        }
        evaluations += 2;
        await new Promise((r) => setImmediate(r));
      }
    })();

    const first = e.revision;
    writeFileSync(file, 'package p\nversion := 2\n');
    const t0 = performance.now();
    await waitFor(() => (e.evaluatePolicySync('data.p.version').value === 2 ? true : undefined), 5000, 'version 2');
    expect(performance.now() - t0).toBeLessThan(1000);
    const second = e.revision;
    expect(second).not.toBe(first);
    await waitFor(() => events.find((ev) => ev.type === 'reloaded'), 2000, 'reloaded event');

    writeFileSync(file, 'package p\nversion := \n');
    const failed = await waitFor(
      () => events.find((ev): ev is Extract<ReloadEvent, { type: 'failed' }> => ev.type === 'failed'),
      5000,
      'failed event',
    );
    expect(failed.error.code).toBe('ERR_POLICY_COMPILE');
    expect(failed.error.location?.file).toBe('p.rego');
    expect(failed.revision).toBe(second);
    expect(e.revision).toBe(second);
    expect(e.evaluatePolicySync('data.p.version').value).toBe(2);

    writeFileSync(file, 'package p\nversion := 3\n');
    await waitFor(() => (e.evaluatePolicySync('data.p.version').value === 3 ? true : undefined), 5000, 'version 3');

    state.running = false;
    await loop;
    expect(evaluations).toBeGreaterThan(10);
    expect(failures).toBe(0);
  });

  it('reload() reports a broken bundle and keeps serving', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    writeFileSync(join(dir, 'p.rego'), 'package p\nx := 1\n');
    const e = engine({ policyDir: dir, watch: false });
    writeFileSync(join(dir, 'p.rego'), 'package p\nx := 2\n');
    const rev = await e.reload();
    expect(e.revision).toBe(rev);
    writeFileSync(join(dir, 'p.rego'), 'package p\nx := {\n');
    await expect(e.reload()).rejects.toMatchObject({ code: 'ERR_POLICY_COMPILE' });
    expect(e.evaluatePolicySync('data.p.x').value).toBe(2);
  });
});

describe('decisions crossing as numbers', () => {
  it('reports the revision that decided, before and after a reload, for boolean, undefined and other values', async () => {
    const { dir, cleanup } = tempDir();
    writeFileSync(join(dir, 'p.rego'), 'package p\nallow if input.x == 1\nname := "a"\n');
    const e = new Engine({ policyDir: dir, watch: false, decisionCacheEntries: 0 });
    const first = e.revision;
    // The first answer carries the revision in full; the next ones cross as numbers.
    for (let i = 0; i < 3; i++) {
      expect(e.evaluatePolicySync('data.p.allow', { x: 1 })).toEqual({ defined: true, value: true, revision: first });
      expect(e.evaluatePolicySync('data.p.allow', { x: 2 })).toEqual({ defined: false, value: undefined, revision: first });
      expect(e.evaluatePolicySync('data.p.name')).toEqual({ defined: true, value: 'a', revision: first });
    }
    writeFileSync(join(dir, 'p.rego'), 'package p\nallow if input.x == 2\nname := "b"\ndeny := false\n');
    const second = await e.reload();
    expect(second).not.toBe(first);
    expect(e.evaluatePolicySync('data.p.allow', { x: 1 })).toEqual({ defined: false, value: undefined, revision: second });
    expect(e.evaluatePolicySync('data.p.allow', { x: 2 })).toEqual({ defined: true, value: true, revision: second });
    expect(e.evaluatePolicySync('data.p.deny')).toEqual({ defined: true, value: false, revision: second });
    expect(e.decideSync('data.p.allow', { x: 2 })).toEqual({ allowed: true, reason: 'allowed', revision: second });
    e.close();
    cleanup();
  });
});
