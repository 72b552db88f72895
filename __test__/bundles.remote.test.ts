/**
 * Remote bundles end to end: bundles built and signed by OPA's own CLI
 * (`opa build`, `opa build --signing-key`), served over HTTPS by a real
 * server, pulled by real sidecar processes (docs/bundles.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreSDKClient, Engine } from '../dist/index.js';
import { tempDir } from './helpers.js';
import { startBundleServer, tarGz, untarGz, type BundleServer } from './support/bundle-server.js';
import { makePki, type TestPki } from './support/https-jwks.js';
import { call, clients, healthOf, ROOT, startSidecar, type Clients, type SidecarProc } from './support/sidecar.js';

const POLICY = (version: string, users: string[]): Record<string, string> => ({
  'authz/policy.rego': `package authz\n\ndefault allow := false\n\nallow if input.user in data.authz.users\n\nversion := "${version}"\n`,
  'authz/data.json': JSON.stringify({ users }),
});

let tmp: ReturnType<typeof tempDir>;
let opa: string;
let pki: TestPki;
let server: BundleServer;
const procs: SidecarProc[] = [];
const channels: Clients[] = [];

function sh(bin: string, args: string[], cwd: string): string {
  return execFileSync(bin, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `opa build` of a source tree into a tarball (signed when a key is given). */
function opaBuild(name: string, files: Record<string, string>, revision: string, signingKey?: string): Buffer {
  const src = join(tmp.dir, 'src', name);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), text);
  }
  const out = join(tmp.dir, `${name}.tar.gz`);
  const args = ['build', '-b', '.', '-o', out, '--revision', revision];
  if (signingKey !== undefined) args.push('--signing-key', signingKey);
  sh(opa, args, src);
  return readFileSync(out);
}

function rsaKeyPair(name: string): { priv: string; pub: string } {
  const priv = join(tmp.dir, `${name}.key`);
  const pub = join(tmp.dir, `${name}.pub`);
  sh('/usr/bin/openssl', ['genrsa', '-out', priv, '2048'], tmp.dir);
  sh('/usr/bin/openssl', ['rsa', '-in', priv, '-pubout', '-out', pub], tmp.dir);
  return { priv, pub };
}

async function sidecar(name: string, extra: string[], env: Record<string, string> = {}, waitServing = true): Promise<{ proc: SidecarProc; c: Clients }> {
  const proc = await startSidecar(
    ['--insecure-dev', '--addr', '[::1]:0', '--bundle-url', server.url(name), '--bundle-ca-file', pki.caFile, '--bundle-poll-min-secs', '1', '--bundle-poll-max-secs', '2', ...extra],
    env,
    { waitServing },
  );
  procs.push(proc);
  const c = clients(proc.addr, grpc.credentials.createInsecure());
  channels.push(c);
  return { proc, c };
}

async function decide(c: Clients, user: string): Promise<{ allowed?: boolean; revision?: string; code?: string; reason?: string }> {
  const r = await call<{ allowed: boolean; revision: string }>(c.core, 'evaluatePolicy', { query: 'data.authz.allow', inputJson: JSON.stringify({ user }) });
  if (r.err) return { code: grpc.status[r.err.code], reason: r.err.info?.reason };
  return { allowed: r.ok?.allowed, revision: r.ok?.revision };
}

let signer: { priv: string; pub: string };
let stranger: { priv: string; pub: string };

beforeAll(() => {
  tmp = tempDir('coresdk-bundles-');
  opa = execFileSync(process.execPath, [join(ROOT, 'bench', 'tools', 'ensure-opa.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  pki = makePki(tmp.dir);
  signer = rsaKeyPair('signer');
  stranger = rsaKeyPair('stranger');
  return startBundleServer(pki).then((s) => {
    server = s;
  });
}, 600_000);

afterAll(async () => {
  for (const c of channels) c.close();
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await server.close();
  tmp.cleanup();
});

describe('remote bundles', () => {
  it('activates an opa build bundle in a sidecar with --bundle-url and no policy directory; the manifest revision decides', async () => {
    server.set('plain', { kind: 'serve', body: opaBuild('plain', POLICY('v1', ['alice']), 'plain-r1') });
    const { proc, c } = await sidecar('plain', []);
    expect(await healthOf(c)).toBe('SERVING');
    expect(await decide(c, 'alice')).toEqual({ allowed: true, revision: 'plain-r1' });
    expect(await decide(c, 'mallory')).toEqual({ allowed: false, revision: 'plain-r1' });
    const activated = await proc.waitFor((l) => l.event === 'policy_reloaded');
    expect(activated.revision).toBe('plain-r1');
    // Later polls send the ETag and get 304s.
    await new Promise((r) => setTimeout(r, 2500));
    expect(server.counts.get('plain')?.notModified ?? 0).toBeGreaterThan(0);
  }, 60_000);

  it('a signed bundle activates with the verification key; a re-signed change rolls out to three sidecars with no failed call', async () => {
    server.set('signed', { kind: 'serve', body: opaBuild('signed', POLICY('v1', ['alice']), 'signed-r1', signer.priv) });
    const fleet = await Promise.all([0, 1, 2].map(() => sidecar('signed', ['--bundle-verification-key', signer.pub])));
    for (const { c } of fleet) expect(await decide(c, 'alice')).toEqual({ allowed: true, revision: 'signed-r1' });

    let stop = false;
    let calls = 0;
    const failures: unknown[] = [];
    const load = fleet.map(async ({ c }) => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        const d = await decide(c, 'bob');
        calls++;
        if (d.code !== undefined || (d.revision !== 'signed-r1' && d.revision !== 'signed-r2')) failures.push(d);
        else if (d.allowed !== (d.revision === 'signed-r2')) failures.push(d);
      }
    });
    const changedAt = Date.now();
    server.set('signed', { kind: 'serve', body: opaBuild('signed2', POLICY('v2', ['alice', 'bob']), 'signed-r2', signer.priv) });
    // The poll interval is 1-2 s: each sidecar must activate r2 within bundle_poll_max_secs (2 s) plus
    // the fetch; the wait allows slack for a loaded CI machine.
    const reached = await Promise.all(fleet.map(({ proc }) => proc.waitFor((l) => l.event === 'policy_reloaded' && l.revision === 'signed-r2', 15_000).then(() => Date.now() - changedAt)));
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(load);
    console.log(`rollout: r2 active on 3 sidecars after ${reached.join(', ')} ms; ${calls} calls, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(30);
    for (const { c } of fleet) expect(await decide(c, 'bob')).toEqual({ allowed: true, revision: 'signed-r2' });
  }, 120_000);

  describe('refusals keep the last good revision serving', () => {
    let signed: { proc: SidecarProc; c: Clients };
    let unsigned: { proc: SidecarProc; c: Clients };
    let good: Map<string, Buffer>;

    beforeAll(async () => {
      const body = opaBuild('good', POLICY('v1', ['alice']), 'good-r1', signer.priv);
      good = untarGz(body, gunzipSync);
      server.set('s', { kind: 'serve', body });
      server.set('u', { kind: 'serve', body: opaBuild('goodu', POLICY('v1', ['alice']), 'good-u1') });
      signed = await sidecar('s', ['--bundle-verification-key', signer.pub, '--bundle-poll-min-secs', '3600', '--bundle-poll-max-secs', '3600']);
      unsigned = await sidecar('u', ['--bundle-poll-min-secs', '3600', '--bundle-poll-max-secs', '3600'], { CORESDK_BUNDLE_MAX_BYTES: String(1 << 20), CORESDK_BUNDLE_TIMEOUT_MS: '1500' });
    }, 60_000);

    const entries = (files: Map<string, Buffer>): Array<{ name: string; body: Buffer }> => [...files].map(([name, body]) => ({ name, body }));

    async function refused(target: { proc: SidecarProc; c: Clients }, name: string, body: Buffer | { status: number } | { slow: Buffer }, reason: RegExp, revision: string): Promise<void> {
      server.set(name, Buffer.isBuffer(body) ? { kind: 'serve', body } : 'status' in body ? { kind: 'status', status: body.status } : { kind: 'slow', body: body.slow });
      const seen = target.proc.logs.length;
      target.proc.kill('SIGHUP');
      const line = await target.proc.waitFor((l) => target.proc.logs.indexOf(l) >= seen && l.event === 'policy_reload_failed', 20_000);
      expect(line.msg).toMatch(reason);
      expect(line.revision).toBe(revision);
      expect(await decide(target.c, 'alice')).toEqual({ allowed: true, revision });
      expect(await healthOf(target.c)).toBe('SERVING');
    }

    it('a corrupted signature', async () => {
      const sig = JSON.parse(good.get('/.signatures.json')?.toString() ?? '{}') as { signatures: string[] };
      const jws = sig.signatures[0] ?? '';
      const flipped = jws.slice(0, -4) + (jws.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const files = new Map(good);
      files.set('/.signatures.json', Buffer.from(JSON.stringify({ signatures: [flipped] })));
      await refused(signed, 's', tarGz(entries(files)), /does not verify/, 'good-r1');
    });

    it('a bundle signed with another key', async () => {
      await refused(signed, 's', opaBuild('other', POLICY('v9', ['alice', 'mallory']), 'evil', stranger.priv), /does not verify with the configured key/, 'good-r1');
    });

    it('a file added, removed or changed after signing', async () => {
      const added = new Map(good).set('/authz/extra.rego', Buffer.from('package authz\n\nallow if true\n'));
      await refused(signed, 's', tarGz(entries(added)), /authz\/extra\.rego is not included in the bundle signature/, 'good-r1');
      const removed = new Map(good);
      expect(removed.delete('/data.json')).toBe(true);
      await refused(signed, 's', tarGz(entries(removed)), /missing from the bundle/, 'good-r1');
      const changed = new Map(good).set('/authz/policy.rego', Buffer.from('package authz\n\nallow := true\n'));
      await refused(signed, 's', tarGz(entries(changed)), /authz\/policy\.rego: digest mismatch/, 'good-r1');
      expect(good.has('/data.json')).toBe(true);
      const data = new Map(good).set('/data.json', Buffer.from('{"authz":{"users":["alice","mallory"]}}'));
      await refused(signed, 's', tarGz(entries(data)), /data\.json: digest mismatch/, 'good-r1');
      // Re-indenting a data file is not a change: its canonical JSON signs the same.
      const pretty = new Map(good).set('/data.json', Buffer.from(JSON.stringify(JSON.parse(good.get('/data.json')?.toString() ?? '{}'), null, 2)));
      server.set('s', { kind: 'serve', body: tarGz(entries(pretty)) });
      signed.proc.kill('SIGHUP');
      await signed.proc.waitFor((l) => l.event === 'reload' && JSON.stringify(l.result).includes('good-r1') && !JSON.stringify(l.result).includes('error') && signed.proc.logs.indexOf(l) > signed.proc.logs.length - 3);
      expect(await decide(signed.c, 'alice')).toEqual({ allowed: true, revision: 'good-r1' });
    });

    it('an unsigned bundle where signing is required, and a signed one without a key', async () => {
      await refused(signed, 's', opaBuild('nosig', POLICY('v3', ['alice']), 'nosig'), /no \.signatures\.json and signing is required/, 'good-r1');
      await refused(unsigned, 'u', opaBuild('sig', POLICY('v3', ['alice']), 'sig', signer.priv), /signed but no verification key/, 'good-u1');
    });

    it('a path outside the manifest roots', async () => {
      const body = tarGz([
        { name: '/.manifest', body: JSON.stringify({ revision: 'roots', roots: ['authz'] }) },
        { name: '/authz/policy.rego', body: POLICY('v4', ['alice'])['authz/policy.rego'] },
        { name: '/other/p.rego', body: 'package other\n\nx := 1\n' },
      ]);
      await refused(unsigned, 'u', body, /outside the manifest roots/, 'good-u1');
    });

    it('traversal and symlink entries', async () => {
      await refused(unsigned, 'u', tarGz([{ name: '../escape/p.rego', body: 'package authz\n' }]), /leaves the bundle root/, 'good-u1');
      await refused(unsigned, 'u', tarGz([{ name: 'authz/link.rego', type: '2', linkTarget: '/etc/passwd' }]), /is a symlink/, 'good-u1');
    });

    it('an oversized download and a decompression bomb', async () => {
      const big = Buffer.alloc((1 << 20) + 4096, 7);
      await refused(unsigned, 'u', big, /exceeds 1048576 bytes/, 'good-u1');
      const bomb = tarGz([{ name: '/authz/data.json', body: Buffer.alloc(300 * 1024 * 1024, 32) }]);
      expect(bomb.length).toBeLessThan(1 << 20);
      await refused(unsigned, 'u', bomb, /(over the \d+ byte limit|more than \d+ bytes decompressed)/, 'good-u1');
    }, 60_000);

    it('a server answering 500, and one that stalls mid-body', async () => {
      await refused(unsigned, 'u', { status: 500 }, /HTTP 500/, 'good-u1');
      await refused(unsigned, 'u', { slow: opaBuild('slow', POLICY('v5', ['alice']), 'slow') }, /timed out/, 'good-u1');
    }, 30_000);
  });

  describe('offline copy', () => {
    const key = 'ab'.repeat(32);
    let cacheDir: string;

    it('a sidecar starts from its verified offline copy with the server down', async () => {
      cacheDir = join(tmp.dir, 'offline');
      server.set('off', { kind: 'serve', body: opaBuild('off', POLICY('v1', ['alice']), 'off-r1', signer.priv) });
      const env = { CORESDK_OFFLINE_CACHE_DIR: cacheDir, CORESDK_OFFLINE_CACHE_KEY: key };
      const first = await sidecar('off', ['--bundle-verification-key', signer.pub], env);
      expect(await decide(first.c, 'alice')).toEqual({ allowed: true, revision: 'off-r1' });
      first.proc.kill('SIGTERM');
      await first.proc.exited;

      server.set('off', { kind: 'status', status: 503 });
      const second = await sidecar('off', ['--bundle-verification-key', signer.pub], env);
      expect(await healthOf(second.c)).toBe('SERVING');
      expect(await decide(second.c, 'alice')).toEqual({ allowed: true, revision: 'off-r1' });
      const line = second.proc.logs.find((l) => l.event === 'bundle_source');
      expect(String(line?.msg)).toMatch(/offline copy/);
      second.proc.kill('SIGTERM');
      await second.proc.exited;
    }, 60_000);

    it('a tampered offline copy is refused whole: NOT_SERVING, and clients deny in both fail modes', async () => {
      const entry = execFileSync('ls', [cacheDir], { encoding: 'utf8' }).split('\n').find((n) => n.startsWith('bundle-'));
      expect(entry).toBeDefined();
      const path = join(cacheDir, entry ?? '');
      const doc = JSON.parse(readFileSync(path, 'utf8')) as { payload: string };
      const payload = Buffer.from(doc.payload, 'base64');
      const at = payload.length - 40;
      payload.writeUInt8((payload.readUInt8(at) ^ 1) & 0xff, at);
      doc.payload = payload.toString('base64');
      writeFileSync(path, JSON.stringify(doc));

      const env = { CORESDK_OFFLINE_CACHE_DIR: cacheDir, CORESDK_OFFLINE_CACHE_KEY: key };
      const { proc, c } = await sidecar('off', ['--bundle-verification-key', signer.pub], env, false);
      const line = await proc.waitFor((l) => l.event === 'bundle_source');
      expect(String(line.offline)).toMatch(/offline copy refused/);
      expect(await healthOf(c)).toBe('NOT_SERVING');
      expect(await decide(c, 'alice')).toEqual({ code: 'FAILED_PRECONDITION', reason: 'ERR_BUNDLE_NOT_ACTIVE' });
      for (const failMode of ['open', 'closed'] as const) {
        const client = new CoreSDKClient({ mode: 'sidecar', sidecarAddr: proc.addr, failMode, warn: () => undefined });
        try {
          const e = await client.evaluatePolicy('data.authz.allow', { user: 'alice' }).then(
            () => undefined,
            (err: unknown) => err as { code?: string },
          );
          expect(e?.code).toBe('ERR_BUNDLE_NOT_ACTIVE');
        } finally {
          client.close();
        }
      }
    }, 60_000);
  });

  it('the in-process Engine pulls a remote bundle too, and reports its status', async () => {
    server.set('node', { kind: 'serve', body: opaBuild('node', POLICY('v1', ['carol']), 'node-r1') });
    const engine = new Engine({ remoteBundle: { url: server.url('node'), caFile: pki.caFile, pollMinSec: 1, pollMaxSec: 1 } });
    try {
      const st = await engine.whenBundleActive(20_000);
      expect(st).toMatchObject({ source: 'remote', active: true, revision: 'node-r1', activatedFrom: 'server' });
      expect(engine.evaluatePolicySync('data.authz.allow', { user: 'carol' })).toMatchObject({ value: true, revision: 'node-r1' });
      expect(engine.bundleStatus().url).toBe(server.url('node'));
    } finally {
      engine.close();
    }
    const pending = new Engine({ remoteBundle: { url: server.url('missing'), caFile: pki.caFile, pollMinSec: 1, pollMaxSec: 1 } });
    try {
      await expect(pending.whenBundleActive(1500)).rejects.toMatchObject({ code: 'ERR_BUNDLE_NOT_ACTIVE' });
      expect(() => pending.evaluatePolicySync('data.authz.allow', {})).toThrow(/ERR_BUNDLE_NOT_ACTIVE|no policy bundle is active/);
      expect(pending.bundleStatus()).toMatchObject({ active: false, lastErrorCode: 'ERR_BUNDLE_FETCH' });
    } finally {
      pending.close();
    }
  }, 60_000);
});
