#!/usr/bin/env node
// `node bench/python/bench.mjs`: what authorization costs a FastAPI request, and what the Python
// client costs per call.
//
// 1. autocannon against the same FastAPI route (uvicorn, one worker) in four variants, one at a
//    time, each app in its own process, all verifying the same RS256 token:
//      (a) no auth;
//      (b) CoreSDKMiddleware through the sidecar (mutual TLS): verification (VerifyToken);
//      (b') CoreSDKMiddleware(query=...): verification and the policy decision in one call;
//      (c) FastAPI + PyJWT's PyJWKClient (keys fetched once, cached) + jwt.decode: verification only.
// 2. bench/python/client_cpu.py: N sequential calls, the client process's CPU per call for
//    CoreSDKClient / AsyncCoreSDKClient against a raw grpcio call on the same kind of channel.
// The apps and the sidecar run on CPU 0, autocannon and client_cpu.py on CPU 1, when taskset is
// available. Loopback only; every loop is bounded (BENCH_SECS per variant, BENCH_CALLS calls).
// Env: BENCH_SECS (default 8, per variant, split into BENCH_ROUNDS rounds, default 4, taken in
// turns), BENCH_CONNECTIONS (default 32), BENCH_CALLS (default 5000),
// BENCH_PIN=0 to not pin. Needs clients/python/.venv with the bench extra:
//   node clients/python/scripts/bootstrap.mjs && clients/python/.venv/bin/pip install -e 'clients/python[bench]'
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECS = Number(process.env.BENCH_SECS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CALLS = Number(process.env.BENCH_CALLS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
// BENCH_PYTHON: another interpreter with coresdk installed (a virtualenv with the release wheel:
// clients/python/.venv's extension is a debug build).
const PY = process.env.BENCH_PYTHON ?? join(root, 'clients', 'python', '.venv', 'bin', 'python');
const PIN = process.env.BENCH_PIN !== '0' && os.availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const log = (m) => process.stderr.write(`[python-bench] ${m}\n`);
if (PIN) spawnSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
const on = (cpu, cmd, args) => (PIN ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function waitListening(child, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what}: not listening after 30 s`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (c) => {
      buf += c;
      for (const line of buf.split('\n')) {
        let found = /^listening (\d+)/.exec(line)?.[1];
        if (!found && line.startsWith('{')) {
          try {
            const j = JSON.parse(line);
            if (j.event === 'listening') found = j.addr;
          } catch {
            // not a JSON log line
          }
        }
        if (found) {
          clearTimeout(t);
          resolve(found);
          return;
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c) => process.stderr.write(c));
    child.on('exit', (c) => reject(new Error(`${what} exited (${c})`)));
  });
}

async function main() {
  if (!existsSync(PY)) throw new Error('clients/python/.venv is missing: run `node clients/python/scripts/bootstrap.mjs` first');
  const dir = mkdtempSync(join(tmpdir(), 'coresdk-py-bench-'));
  const children = [];
  let jwksServer;
  const results = [];
  let cpu;
  const probe = [
    'import importlib.util as u, sys, grpc, fastapi, uvicorn, jwt',
    'std = all(u.find_spec(m) for m in ("uvloop", "httptools"))',
    'print(f"Python {sys.version.split()[0]}, grpcio {grpc.__version__}, FastAPI {fastapi.__version__}, uvicorn {uvicorn.__version__}"',
    '      f" ({\'uvloop + httptools\' if std else \'asyncio + h11\'}), PyJWT {jwt.__version__}")',
  ].join('\n');
  const versions = spawnSync(PY, ['-c', probe], { encoding: 'utf8' }).stdout.trim();
  try {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };
    const jwks = JSON.stringify({ keys: [jwk] });
    writeFileSync(join(dir, 'jwks.json'), jwks);
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: 'https://bench.test', aud: 'bench', sub: 'carol', roles: ['viewer'], iat: now, exp: now + 3600 };
    const signing = `${b64({ alg: 'RS256', kid: 'bench', typ: 'JWT' })}.${b64(claims)}`;
    const token = `${signing}.${sign('sha256', Buffer.from(signing), privateKey).toString('base64url')}`;
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r));

    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    for (const [name, usage, san] of [['server', 'serverAuth', 'IP:127.0.0.1,DNS:localhost'], ['client', 'clientAuth', 'DNS:client']]) {
      openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n`);
      openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x1${name.length}${Date.now().toString(16)}`, '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
    }
    const sidecar = spawn(...on(0, process.execPath, [join(root, 'dist', 'sidecar', 'cli.js')]), {
      env: {
        PATH: process.env.PATH,
        CORESDK_SIDECAR_ADDR: '127.0.0.1:0',
        CORESDK_POLICY_DIR: join(root, 'examples', 'policies'),
        CORESDK_JWKS_FILE: join(dir, 'jwks.json'),
        CORESDK_ISSUER: claims.iss,
        CORESDK_AUDIENCE: claims.aud,
        CORESDK_WATCH_POLICIES: 'false',
        CORESDK_SIDECAR_TLS_CERT_FILE: join(dir, 'server.pem'),
        CORESDK_SIDECAR_TLS_KEY_FILE: join(dir, 'server.key'),
        CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: join(dir, 'ca.pem'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(sidecar);
    const sidecarAddr = await waitListening(sidecar, 'sidecar');
    const cfg = {
      sidecar_addr: sidecarAddr,
      ca: join(dir, 'ca.pem'),
      cert: join(dir, 'client.pem'),
      key: join(dir, 'client.key'),
      jwks_url: `http://127.0.0.1:${jwksServer.address().port}/jwks`,
      issuer: claims.iss,
      audience: claims.aud,
      policy_dir: join(root, 'examples', 'policies'),
    };
    const cfgFile = join(dir, 'cfg.json');
    writeFileSync(cfgFile, JSON.stringify(cfg));
    const headers = { authorization: `Bearer ${token}` };

    const variants = [
      ['none', '(a) FastAPI, no auth'],
      ['coresdk', '(b) CoreSDKMiddleware via the sidecar (mTLS): verify'],
      ['coresdk-authorize', "(b') CoreSDKMiddleware via the sidecar: verify + decide"],
      ['pyjwt', '(c) FastAPI + PyJWT PyJWKClient: verify only'],
      ['inprocess', '(d) CoreSDKMiddleware in-process: verify'],
      ['inprocess-authorize', "(d') CoreSDKMiddleware in-process: verify + decide"],
    ];
    // Every app runs at once (an idle one costs nothing); the variants take turns in ROUNDS rounds,
    // so that drifting load on the machine hits them all alike.
    const apps = [];
    for (const [variant, label] of variants) {
      const app = spawn(...on(0, PY, [join(root, 'bench', 'python', 'bench_app.py'), variant, cfgFile]), { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(app);
      const port = await waitListening(app, variant);
      const url = `http://127.0.0.1:${port}/documents/doc-2`;
      const check = await fetch(url, { headers });
      if (check.status !== 200) throw new Error(`${variant}: the check request got ${check.status}: ${await check.text()}`);
      await autocannon({ url, connections: CONNECTIONS, duration: 2, headers });
      apps.push({ variant, label, url, rounds: [] });
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const a of apps) {
        const r = await autocannon({ url: a.url, connections: CONNECTIONS, duration: SECS / ROUNDS, headers });
        a.rounds.push({ requests: r.requests.total, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors + r.timeouts });
      }
    }
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    for (const a of apps) {
      const rps = a.rounds.reduce((n, r) => n + r.requests, 0) / a.rounds.reduce((t, r) => t + r.seconds, 0);
      const res = { variant: a.variant, label: a.label, rps, p50: median(a.rounds.map((r) => r.p50)), p99: median(a.rounds.map((r) => r.p99)), errors: a.rounds.reduce((n, r) => n + r.errors, 0), rounds: a.rounds };
      results.push(res);
      log(`${a.label}: ${Math.round(rps)} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, errors ${res.errors}`);
    }

    // Not spawnSync: this process serves the key set PyJWKClient fetches.
    const c = spawn(...on(1, PY, [join(root, 'bench', 'python', 'client_cpu.py'), cfgFile, token, String(CALLS)]), { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    let outText = '';
    c.stdout.setEncoding('utf8').on('data', (d) => {
      outText += d;
    });
    const code = await new Promise((res) => c.once('exit', res));
    if (code !== 0) throw new Error(`client_cpu.py failed (exit ${code})`);
    cpu = JSON.parse(outText.trim().split('\n').pop());
  } finally {
    for (const ch of children) ch.kill('SIGTERM');
    jwksServer?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'python.json'), JSON.stringify({ date: new Date().toISOString(), versions, secs: SECS, rounds: ROUNDS, connections: CONNECTIONS, results, cpu }, null, 2));
  const base = results.find((r) => r.variant === 'none');
  const perReq = (r) => 1e6 / r.rps - 1e6 / base.rps;
  console.log(`\n### FastAPI (uvicorn, one worker; autocannon, ${CONNECTIONS} connections, ${SECS} s per variant in ${ROUNDS} interleaved rounds${PIN ? '; app and sidecar on CPU 0, autocannon on CPU 1' : ''})\n`);
  console.log(`${versions}\n`);
  console.log('| variant | req/s | p50 | p99 | errors | added cost per request |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.label} | ${Math.round(r.rps)} | ${r.p50} ms | ${r.p99} ms | ${r.errors} | ${r.variant === 'none' ? '–' : `${perReq(r).toFixed(1)} µs`} |`);
  console.log(`\n### The client's own CPU per call (${cpu.n} VerifyToken calls per row, five interleaved rounds${PIN ? '; client on CPU 1, sidecar on CPU 0' : ''})\n`);
  console.log('| client | CPU per call | wall per call |');
  console.log('|---|---:|---:|');
  for (const [name, m] of Object.entries(cpu)) {
    if (name === 'n') continue;
    console.log(`| ${name} | ${m.cpu_us.toFixed(1)} µs | ${m.wall_us.toFixed(1)} µs |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
