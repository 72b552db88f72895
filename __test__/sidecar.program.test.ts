/**
 * The coresdk-sidecar program itself (target/debug/coresdk-sidecar), run as a Python, Go or Java
 * team runs it: no Node on PATH, a fresh HOME. Its command line (clap), `--dev` (key set in the
 * per-user state directory, the example bundle carried inside the binary, a printed token), the
 * `test` and `check` policy commands, `--check`, signals and exit codes.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makePki } from './support/https-jwks.js';
import { call, clients, PROGRAM, ROOT, startSidecar } from './support/sidecar.js';

let dir: string;
let nodeless: Record<string, string>;

/** A fresh HOME and a PATH with nothing on it (so no `node`). */
function freshEnv(name: string): Record<string, string> {
  const home = join(dir, name, 'home');
  const bin = join(dir, name, 'bin');
  mkdirSync(home, { recursive: true });
  mkdirSync(bin, { recursive: true });
  return { HOME: home, PATH: bin, XDG_STATE_HOME: '' };
}

const run = (args: string[], env: Record<string, string> = nodeless, cwd = dir) =>
  spawnSync(PROGRAM, args, { encoding: 'utf8', env, cwd, timeout: 60_000 });

beforeAll(() => {
  if (!existsSync(PROGRAM)) throw new Error(`${PROGRAM} is missing: run \`cargo build -p coresdk-sidecar\` first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), 'coresdk-program-'));
  nodeless = freshEnv('base');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('command line', () => {
  it('--help lists every flag with its variable, --version the version', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: coresdk-sidecar');
    for (const text of ['--dev-dir', '--authzen-search-resource-query', 'CORESDK_SIDECAR_AUTHZEN_SEARCH_RESOURCE_QUERY', '--allowed-queries', 'CORESDK_SIDECAR_TLS_CERT_FILE', 'test', 'check', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
      expect(help.stdout).toContain(text);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const version = run(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(`coresdk-sidecar ${pkg.version}`);
  });

  it('bad input: one line naming the flag or key, exit 2, no stack trace', () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['--tls-crt', 'x'], {}, '--tls-crt'],
      [['--addr', ''], {}, '--addr'],
      [['--log-level', 'loud'], {}, '--log-level'],
      [['--dev-dir', '/tmp/x'], {}, '--dev'],
      [['--check'], { CORESDK_POLICY_DIR: join(ROOT, 'examples', 'policies'), CORESDK_SIDECAR_MAX_BATCH: '0', CORESDK_SIDECAR_INSECURE_DEV: 'true' }, 'CORESDK_SIDECAR_MAX_BATCH'],
      [['--check', '--config', join(dir, 'missing.toml')], {}, 'missing.toml'],
      [['--insecure-dev', '--addr', '0.0.0.0:0'], { CORESDK_POLICY_DIR: join(ROOT, 'examples', 'policies') }, 'CORESDK_SIDECAR_INSECURE_DEV'],
      [['test', join(dir, 'nope'), '--timeout', '2h'], {}, '--timeout'],
    ];
    for (const [args, env, needle] of cases) {
      const r = run(args, { ...nodeless, ...env });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(needle);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/panicked|RUST_BACKTRACE/);
    }
  });

  it('--check accepts the one coresdk.toml that the config conformance cases load in every client', () => {
    // clients/conformance/config.json's shared file: [sdk] bundle keys, fast_path, [sidecar], [sidecar.authzen], ...
    const cases = JSON.parse(readFileSync(join(ROOT, 'clients', 'conformance', 'config.json'), 'utf8')) as { cases: Array<{ name: string; file?: string }> };
    const shared = cases.cases.find((c) => c.name.startsWith('one file for the sidecar and its clients'))?.file;
    if (shared === undefined) throw new Error('the shared case is missing from clients/conformance/config.json');
    const home = join(dir, 'shared-config');
    for (const sub of ['certs', 'keys', 'policies']) mkdirSync(join(home, sub), { recursive: true });
    const pki = makePki(join(home, 'certs'));
    writeFileSync(join(home, 'certs', 'server.pem'), pki.serverCertPem);
    writeFileSync(join(home, 'certs', 'server.key'), pki.serverKeyPem);
    writeFileSync(join(home, 'certs', 'ca.pem'), readFileSync(pki.caFile));
    writeFileSync(join(home, 'keys', 'bundle.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    cpSync(join(ROOT, 'examples', 'policies'), join(home, 'policies', 'globex'), { recursive: true });
    writeFileSync(join(home, 'coresdk.toml'), shared);
    const ok = run(['--check', '--config', join(home, 'coresdk.toml')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('"tenants":["acme-corp","globex"]');
    // `check --config FILE` is the same check, beside `check <bundle>`.
    const sub = run(['check', '--config', join(home, 'coresdk.toml')]);
    expect(sub.status, sub.stderr).toBe(0);
    expect(sub.stdout).toContain('configuration OK');
    // A certificate file that is not there fails the check, as it would fail the start.
    rmSync(join(home, 'certs', 'server.pem'));
    const missing = run(['--check', '--config', join(home, 'coresdk.toml')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('sidecar.tls_cert_file');
  });

  it('--check compiles every bundle and reports a configured AuthZEN query that names no rule', () => {
    const ok = run(['--check', '--policy-dir', join(ROOT, 'examples', 'policies'), '--insecure-dev']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('configuration OK');
    const bad = run(['--check', '--dev', '--dev-dir', join(dir, 'check-dev'), '--authzen-search-action-query', 'data.authzen.serch_actions']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('sidecar.authzen.search_action_query');
    const broken = join(dir, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'p.rego'), 'package p\nallow if {\n');
    const compile = run(['--check', '--policy-dir', broken, '--insecure-dev']);
    expect(compile.status).toBe(2);
    expect(compile.stderr).toContain('ERR_POLICY_COMPILE');
  });
});

describe('--dev without Node', () => {
  it('starts in a fresh HOME, keeps its key set in ~/.local/state/coresdk/dev, prints a token that authorizes', async () => {
    const env = freshEnv('dev');
    const sc = await startSidecar(['--dev', '--addr', '127.0.0.1:0'], env, { program: true, cwd: join(dir, 'dev') });
    try {
      const devDir = join(env.HOME ?? '', '.local', 'state', 'coresdk', 'dev');
      expect((statSync(join(devDir, 'signing-key.pem')).mode & 0o777).toString(8)).toBe('600');
      expect(existsSync(join(devDir, 'jwks.json'))).toBe(true);
      expect(readdirSync(devDir).some((f) => f.startsWith('policies-') && existsSync(join(devDir, f, 'authz', 'authz.rego')))).toBe(true);
      // Nothing is written into the working directory.
      expect(existsSync(join(dir, 'dev', '.coresdk'))).toBe(false);
      await sc.waitFor((l) => l.event === 'dev_mode');
      const token = /Development token[^\n]*\n(\S+)/.exec(sc.stdout())?.[1];
      expect(token).toMatch(/^ey/);
      expect(sc.stdout()).toMatch(/AuthZEN PDP \(plaintext, development only\): http:\/\/127\.0\.0\.1:\d+\//);
      const c = clients(sc.addr, grpc.credentials.createInsecure());
      const r = await call<{ allowed: boolean; claimsJson: string }>(c.core, 'authorize', { token, inputJson: '{"action":"read"}' });
      expect(r.ok?.allowed, JSON.stringify(r.err)).toBe(true);
      expect(JSON.parse(r.ok?.claimsJson ?? '{}')).toMatchObject({ sub: 'dev-user', roles: ['admin'] });
      // --dev serves any query (outside --dev only rules).
      const general = await call<{ defined: boolean }>(c.core, 'evaluatePolicy', { query: 'x := 1', inputJson: '{}' });
      expect(general.ok?.defined).toBe(true);
      c.close();
    } finally {
      sc.kill();
      expect(await sc.exited).toBe(0);
    }
    // A second start reuses the key set: the first token still verifies.
    const again = await startSidecar(['--dev', '--addr', '127.0.0.1:0'], env, { program: true });
    try {
      const line = await again.waitFor((l) => l.event === 'started');
      expect(line).toMatchObject({ name: 'coresdk-sidecar', level: 30 });
    } finally {
      again.kill();
      await again.exited;
    }
  });

  it('dev-token mints tokens that --dev verifies: any subject, roles and claims; bad input exits 2', async () => {
    const devDir = join(dir, 'mint-dev');
    const mint = (...args: string[]) => {
      const r = run(['dev-token', '--dev-dir', devDir, ...args]);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    // Minted before the first --dev start: the key set is made then, and --dev reuses it.
    const viewer = mint('--sub', 'carol', '--roles', 'viewer', '--claim', 'tier=3');
    const expired = mint('--claim', `exp=${String(Math.floor(Date.now() / 1000) - 3600)}`);
    const elsewhere = mint('--claim', 'aud=another-api');
    const sc = await startSidecar(['--dev', '--dev-dir', devDir, '--addr', '127.0.0.1:0'], nodeless, { program: true });
    const c = clients(sc.addr, grpc.credentials.createInsecure());
    try {
      const ok = await call<{ allowed: boolean; claimsJson: string }>(c.core, 'authorize', { token: viewer, inputJson: '{"action":"read","resource":{"type":"document","id":"doc-1"}}' });
      expect(ok.ok?.allowed, JSON.stringify(ok.err)).toBe(true);
      expect(JSON.parse(ok.ok?.claimsJson ?? '{}')).toMatchObject({ sub: 'carol', roles: ['viewer'], tier: 3, iss: 'https://dev.coresdk.local', aud: 'coresdk-dev' });
      const late = await call(c.core, 'authorize', { token: expired, inputJson: '{}' });
      expect(late.err?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(late.err?.info?.reason).toBe('ERR_TOKEN_EXPIRED');
      const wrong = await call(c.core, 'authorize', { token: elsewhere, inputJson: '{}' });
      expect(wrong.err?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(wrong.err?.info?.reason).toBe('ERR_TOKEN_CLAIM');
    } finally {
      c.close();
      sc.kill();
      await sc.exited;
    }
    const bad = run(['dev-token', '--dev-dir', devDir, '--claim', 'no-equals-sign']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--claim');
    expect(bad.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('--dev-dir and XDG_STATE_HOME choose where the key set lives', async () => {
    const env = { ...freshEnv('xdg'), XDG_STATE_HOME: join(dir, 'xdg', 'state') };
    const sc = await startSidecar(['--dev', '--addr', '[::1]:0'], env, { program: true });
    sc.kill();
    await sc.exited;
    expect(existsSync(join(dir, 'xdg', 'state', 'coresdk', 'dev', 'jwks.json'))).toBe(true);
    const chosen = join(dir, 'chosen-dev');
    const sc2 = await startSidecar(['--dev', '--dev-dir', chosen, '--addr', '[::1]:0'], env, { program: true });
    sc2.kill();
    await sc2.exited;
    expect(existsSync(join(chosen, 'signing-key.pem'))).toBe(true);
  });

  it('SIGHUP reloads; SIGTERM drains and exits 0', async () => {
    const sc = await startSidecar(['--dev', '--dev-dir', join(dir, 'sig-dev'), '--addr', '[::1]:0'], nodeless, { program: true });
    // Documented order (docs/operations.md): the address before the first health status.
    const events = sc.logs.map((l) => l.event);
    expect(events.indexOf('listening')).toBeGreaterThanOrEqual(0);
    expect(events.indexOf('listening')).toBeLessThan(events.indexOf('serving'));
    sc.kill('SIGHUP');
    const reload = await sc.waitFor((l) => l.event === 'reload');
    expect(reload.result).toBeDefined();
    sc.kill('SIGTERM');
    expect(await sc.exited).toBe(0);
    const exit = sc.logs.find((l) => l.event === 'exit');
    expect(exit).toMatchObject({ complete: true, abandoned: 0 });
  });
});

describe('health', () => {
  it('asks the plaintext health listener: 0 and SERVING when up, 1 when nothing listens (the image HEALTHCHECK)', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => {
          resolve(p);
        });
      });
    });
    const down = run(['health', '--addr', `127.0.0.1:${port}`, '--timeout-ms', '1000']);
    expect(down.status).toBe(1);
    expect(down.stderr).toContain(`127.0.0.1:${port}`);
    const sc = await startSidecar(['--insecure-dev', '--policy-dir', join(ROOT, 'examples', 'policies'), '--addr', '127.0.0.1:0', '--health-addr', `127.0.0.1:${port}`], nodeless, { program: true });
    try {
      const up = run(['health', '--addr', `127.0.0.1:${port}`]);
      expect(up.status, up.stderr).toBe(0);
      expect(up.stdout.trim()).toBe('SERVING');
      expect(run(['health', '--addr', `127.0.0.1:${port}`, '--service', 'coresdk.v1.CoreSDK']).status).toBe(0);
    } finally {
      sc.kill();
      await sc.exited;
    }
  });
});

describe('policy commands', () => {
  it('test runs the example bundle\'s tests; a failing test exits 1; json output is opa test\'s', () => {
    const ok = run(['test', join(ROOT, 'examples', 'policies'), '--coverage']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/PASS: \d+\/\d+/);
    expect(ok.stdout).toContain('COVERAGE:');
    const failing = join(dir, 'failing');
    mkdirSync(failing, { recursive: true });
    writeFileSync(join(failing, 'p.rego'), 'package p\nallow if input.ok\ntest_allow if allow with input as {"ok": false}\n');
    const bad = run(['test', failing, '--format', 'json']);
    expect(bad.status).toBe(1);
    const results = JSON.parse(bad.stdout) as Array<{ name: string; fail?: boolean }>;
    expect(results).toEqual([expect.objectContaining({ name: 'test_allow', fail: true })]);
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, 'p.rego'), 'package p\nallow := true\n');
    expect(run(['test', empty, '--fail-on-empty']).status).toBe(1);
  });

  it('check compiles a bundle as served: file:line:col on a problem, exit 1', () => {
    const ok = run(['check', join(ROOT, 'examples', 'policies')]);
    expect(ok.status, ok.stderr).toBe(0);
    const broken = join(dir, 'broken-check');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'p.rego'), 'package p\n\nallow if {\n  input.x ==\n}\n');
    const bad = run(['check', broken]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/p\.rego:\d+:\d+/);
    const json = run(['check', broken, '--format', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, modules: 1 });
  });
});
