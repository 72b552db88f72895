/**
 * Soak and faults through a real sidecar over mutual TLS, on loopback:
 * steady calls (half `Authorize` with a verified token, half
 * `EvaluatePolicy`), a policy reload every 5 s, a server-certificate
 * rotation and a JWKS signing-key rotation on a schedule, and a `kill -9`
 * halfway followed by a restart with the key server down (keys from the
 * HMAC-verified offline cache). Every call is counted; RSS and open file
 * descriptors of the sidecar process are sampled every second.
 *
 * `npm test` runs 30 s at 1,000 calls/s (rotations every 10 s);
 * `npm run soak` runs 10 minutes at 2,000 calls/s (rotations every minute)
 * and writes its report (docs/operations.md, "Soak"). SOAK_SECONDS,
 * SOAK_RATE and SOAK_REPORT override. Bounded: the load stops by itself.
 *
 * What must hold: no call fails except those in flight at the kill; the
 * restarted sidecar serves with the key server down; RSS grows by less than
 * 64 MiB between the end of warm-up and the end of each process's life;
 * the open descriptors stay within 32 of their count after warm-up.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';

import { afterAll, describe, expect, it } from 'vitest';

import { CoreSDKClient } from '../dist/index.js';
import { makePki, startJwksServer, type JwksServer } from './support/https-jwks.js';
import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, nowSec, type TestKey } from './support/keys.js';
import { issue, makeMtlsPki } from './support/mtls.js';
import { startSidecar, type SidecarProc } from './support/sidecar.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 30);
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const ROTATE_S = Math.min(60, Math.max(5, Math.floor(SECONDS / 3)));
const RELOAD_S = 5;
const RSS_BOUND_MB = 64;
const FD_BOUND = 32;
const TICK_MS = 10;
const MAX_IN_FLIGHT = 4000;

interface Sample {
  t: number;
  pid: number;
  rssMb: number;
  fds: number;
}

const dirs: string[] = [];
const stops: Array<() => Promise<void> | void> = [];

afterAll(async () => {
  for (const s of stops.reverse()) await s();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '::1', () => {
      const a = srv.address();
      srv.close(() => {
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
  });
}

function sample(pid: number, t: number): Sample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    return { t, pid, rssMb: rss / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const policy = (n: number): string => `package authz\n\n# revision ${n}\ndefault allow := false\n\nallow if input.claims.sub == "soak"\n\nallow if input.user == "soak"\n\nrevision := ${n}\n`;

describe('soak', () => {
  it(`${SECONDS} s at ${RATE} calls/s with reloads, rotations and a kill -9`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coresdk-soak-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'mtls'));
    mkdirSync(join(dir, 'jwks'));
    mkdirSync(join(dir, 'bundle'));
    mkdirSync(join(dir, 'cache'));
    const mtls = makeMtlsPki(join(dir, 'mtls'));
    const jwksPki = makePki(join(dir, 'jwks'));
    writeFileSync(join(dir, 'bundle', 'authz.rego'), policy(0));

    // Keys: the set always holds the key in use and the next one, so a rotation never
    // names a key the sidecar has not fetched yet.
    const keys: TestKey[] = [await makeKey('ES256', 'k0'), await makeKey('ES256', 'k1')];
    let current = 0;
    const jwks: JwksServer = await startJwksServer(jwksPki, jwksOf(...keys));
    stops.push(() => jwks.close());
    await jwks.setCacheControl('max-age=1');
    const tokens = new Map<number, string>();
    const tokenFor = async (i: number): Promise<string> => {
      let t = tokens.get(i);
      if (t === undefined) {
        t = await mint(keys[i] as TestKey, 'ES256', { iss: ISSUER, aud: AUDIENCE, sub: 'soak', exp: nowSec() + SECONDS + 3600 });
        tokens.set(i, t);
      }
      return t;
    };
    let token = await tokenFor(0);

    const port = await freePort();
    const env = {
      CORESDK_SIDECAR_ADDR: `[::1]:${port}`,
      CORESDK_POLICY_DIR: join(dir, 'bundle'),
      CORESDK_JWKS_URL: jwks.jwksUrl,
      CORESDK_JWKS_CA_FILE: jwksPki.caFile,
      CORESDK_JWKS_REFRESH_MIN_SECS: '1',
      CORESDK_JWKS_REFRESH_MAX_SECS: '2',
      CORESDK_ISSUER: ISSUER,
      CORESDK_AUDIENCE: AUDIENCE,
      CORESDK_OFFLINE_CACHE_DIR: join(dir, 'cache'),
      CORESDK_OFFLINE_CACHE_KEY: randomBytes(32).toString('hex'),
      CORESDK_SIDECAR_TLS_CERT_FILE: mtls.serverCert,
      CORESDK_SIDECAR_TLS_KEY_FILE: mtls.serverKey,
      CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: mtls.caFile,
    };
    let sidecar: SidecarProc = await startSidecar([], env);
    stops.push(async () => {
      sidecar.kill('SIGKILL');
      await sidecar.exited;
    });
    const client = new CoreSDKClient({
      sidecarAddr: `[::1]:${port}`,
      failMode: 'closed',
      timeoutMs: 10_000,
      retries: 0,
      tls: { caFile: mtls.caFile, certFile: mtls.clientCert, keyFile: mtls.clientKey, serverName: 'localhost' },
      warn: () => undefined,
    });
    stops.push(() => {
      client.close();
    });

    const counts = { sent: 0, answered: 0, failed: 0, failedInFlightAtKill: 0, failedOtherwise: 0 };
    const reasons = new Map<string, number>();
    const events: Array<{ t: number; what: string }> = [];
    const samples: Sample[] = [];
    const t0 = Date.now();
    const now = (): number => (Date.now() - t0) / 1000;
    let inFlight = 0;
    let paused = false;
    let killEpoch = 0; // calls started before the kill carry the epoch they started in
    let epoch = 0;

    const one = async (i: number): Promise<void> => {
      const started = epoch;
      inFlight++;
      counts.sent++;
      let ok: boolean;
      let reason = '';
      try {
        if (i % 2 === 0) {
          const r = await client.authorize(token, { query: 'data.authz.allow', input: { action: 'read' } });
          ok = r.allowed;
          reason = r.reason;
        } else {
          const d = await client.evaluatePolicy('data.authz.allow', { user: 'soak' });
          ok = d.value === true;
          reason = String(d.value);
        }
      } catch (e) {
        ok = false;
        reason = (e as { code?: string }).code ?? String(e);
      }
      inFlight--;
      if (ok) {
        counts.answered++;
        return;
      }
      counts.failed++;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      if (started < killEpoch) counts.failedInFlightAtKill++;
      else counts.failedOtherwise++;
    };

    const pending = new Set<Promise<void>>();
    let i = 0;
    const perTick = RATE / (1000 / TICK_MS);
    let credit = 0;
    // The kill happens inside a load tick, right after it sent its calls, so that
    // calls are in flight when the process dies.
    let killNow: ((inFlightAtKill: number) => void) | undefined;
    const load = setInterval(() => {
      if (paused) return;
      credit += perTick;
      while (credit >= 1 && inFlight < MAX_IN_FLIGHT) {
        credit--;
        const p = one(i++);
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      if (killNow !== undefined) {
        killEpoch = ++epoch;
        sidecar.kill('SIGKILL');
        paused = true;
        killNow(inFlight);
        killNow = undefined;
      }
    }, TICK_MS);
    const sampler = setInterval(() => {
      const s = sample(sidecar.child.pid ?? 0, now());
      if (s !== undefined) samples.push(s);
    }, 1000);

    let reloads = 0;
    const reloader = setInterval(() => {
      reloads++;
      writeAtomic(join(dir, 'bundle', 'authz.rego'), policy(reloads));
    }, RELOAD_S * 1000);

    let certRotations = 0;
    let keyRotations = 0;
    const rotator = setInterval(() => {
      // A new server certificate from the same CA, swapped in by rename.
      certRotations++;
      const fresh = issue(join(dir, 'mtls'), 'ca', `server-${certRotations}`, 'serverAuth');
      renameSync(fresh.key, mtls.serverKey);
      renameSync(fresh.cert, mtls.serverCert);
      // The next signing key is already published: sign with it, publish the one after.
      void (async () => {
        current++;
        keys.push(await makeKey('ES256', `k${current + 1}`));
        await jwks.setKeys(jwksOf(...keys.slice(-3)));
        token = await tokenFor(current);
        keyRotations++;
        events.push({ t: now(), what: `rotated to certificate ${certRotations} and key k${current}` });
      })();
    }, ROTATE_S * 1000);

    const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
    try {
      await sleep((SECONDS / 2) * 1000);
      // kill -9 with calls in flight; the key server goes down before the restart.
      await jwks.setMode({ mode: 'status', status: 503 });
      // The load runs up to the kill: calls sent before it are in flight; none is sent
      // while no sidecar is there (a restarted pod gets no traffic before it is ready).
      const oldPid = sidecar.child.pid;
      const inFlightAtKill = await new Promise<number>((resolve) => {
        killNow = resolve;
      });
      const killedAt = now();
      await sidecar.exited;
      events.push({ t: killedAt, what: `kill -9 (pid ${String(oldPid)}), ${inFlightAtKill} calls in flight; key server down` });
      sidecar = await startSidecar([], env);
      for (let tries = 0; tries < 100 && (await client.health({ timeoutMs: 1000 })) !== 'SERVING'; tries++) await sleep(100);
      events.push({ t: now(), what: `restarted (pid ${String(sidecar.child.pid)}) from the offline caches, serving after ${(now() - killedAt).toFixed(2)} s` });
      paused = false;
      await sleep(3000);
      await jwks.setMode({ mode: 'ok' });
      events.push({ t: now(), what: 'key server up again' });
      await sleep(Math.max(0, (SECONDS - now()) * 1000));
    } finally {
      clearInterval(load);
      clearInterval(reloader);
      clearInterval(rotator);
      clearInterval(sampler);
    }
    await Promise.all(pending);
    const elapsed = now();

    // The last reload, certificate and key are the ones in use.
    let served: unknown;
    for (let tries = 0; tries < 50; tries++) {
      served = (await client.evaluatePolicy('data.authz.revision')).value;
      if (served === reloads) break;
      await sleep(100);
    }
    // A rotation may have landed just before the end: give the certificate watcher its moment.
    const latest = new X509Certificate(readFileSync(mtls.serverCert)).serialNumber;
    let presented = '';
    for (let tries = 0; tries < 50 && presented !== latest; tries++) {
      if (tries > 0) await sleep(200);
      presented = await new Promise<string>((resolve, reject) => {
        const sock = tlsConnect({ host: '::1', port, servername: 'localhost', ca: readFileSync(mtls.caFile), cert: readFileSync(mtls.clientCert), key: readFileSync(mtls.clientKey), ALPNProtocols: ['h2'] }, () => {
          resolve(sock.getPeerX509Certificate()?.serialNumber ?? '');
          sock.destroy();
        });
        sock.once('error', reject);
      });
    }
    const lastKey = await client.authorize(token, { query: 'data.authz.allow' });

    // Memory and descriptors per process life, after a warm-up of a fifth of it.
    const lives = [...new Set(samples.map((s) => s.pid))].map((pid) => {
      const mine = samples.filter((s) => s.pid === pid);
      const warm = mine.slice(Math.floor(mine.length / 5));
      const first = warm[0];
      const last = warm[warm.length - 1];
      return {
        pid,
        samples: mine.length,
        rssStartMb: first?.rssMb ?? 0,
        rssEndMb: last?.rssMb ?? 0,
        rssMaxMb: Math.max(...warm.map((s) => s.rssMb)),
        rssGrowthMb: (last?.rssMb ?? 0) - (first?.rssMb ?? 0),
        fdsStart: first?.fds ?? 0,
        fdsMax: Math.max(...warm.map((s) => s.fds)),
      };
    });
    const report = {
      when: new Date().toISOString(),
      seconds: Number(elapsed.toFixed(1)),
      targetRate: RATE,
      achievedRate: Math.round(counts.sent / elapsed),
      ...counts,
      failureReasons: Object.fromEntries(reasons),
      reloads,
      revisionServedAtEnd: served,
      certRotations,
      newestCertificatePresented: presented === latest,
      newestKeyAccepted: lastKey.allowed,
      keyRotations,
      events,
      lives,
      rssTimeline: samples.filter((_, k) => k % Math.max(1, Math.floor(samples.length / 20)) === 0).map((s) => ({ t: Math.round(s.t), pid: s.pid, rssMb: Number(s.rssMb.toFixed(1)), fds: s.fds })),
    };
    const text = JSON.stringify(report, null, 2);
    if (process.env.SOAK_REPORT !== undefined) writeFileSync(process.env.SOAK_REPORT, `${text}\n`);
    process.stdout.write(`soak report\n${text}\n`);

    expect(counts.failedOtherwise, text).toBe(0);
    expect(counts.answered).toBeGreaterThan(0);
    expect(counts.answered + counts.failed).toBe(counts.sent);
    expect(reloads).toBeGreaterThanOrEqual(Math.floor(SECONDS / RELOAD_S) - 1);
    expect(keyRotations).toBeGreaterThanOrEqual(1);
    expect(served, text).toBe(reloads);
    expect(presented, text).toBe(latest);
    expect(lastKey.allowed, text).toBe(true);
    expect(lives).toHaveLength(2);
    for (const life of lives) {
      expect(life.rssGrowthMb, text).toBeLessThan(RSS_BOUND_MB);
      expect(life.fdsMax - life.fdsStart, text).toBeLessThan(FD_BOUND);
    }
  }, (SECONDS + 120) * 1000);
});
