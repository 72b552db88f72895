#!/usr/bin/env node
// `npm run demo`: CoreSDK end to end, on embedded defaults.
//
// 1. Starts the sidecar (`coresdk-sidecar --dev`: the examples/ bundle, a
//    development key set made on first start, plaintext on loopback).
// 2. Starts examples/express-app with the CoreSDK middleware, talking to it.
// 3. Sends a scripted set of requests: a valid token, an expired one, one for
//    another audience, a policy deny, no token, a malformed header; then kills
//    the sidecar and sends again under fail-open and under fail-closed; then
//    runs the same app in-process.
// 4. Traces every request through PiiMaskingSpanProcessor: one request
//    carries an e-mail address in its query string and the bearer token in
//    its headers; the exported span is printed with both masked.
// 5. Prints a table (request, status, decision, latency), stops everything,
//    exits 0 (1 if any answer was not the expected one).
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import express from 'express';

import { CoreSDKClient, PiiMaskingSpanProcessor } from '../dist/index.js';
import { createApp } from './express-app/app.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'sidecar', 'cli.js');
// The development key set, shared with the sidecar (--dev-dir); `coresdk-sidecar dev-token` mints
// tokens signed with it, as a Python, Go or Java test would.
const dev = { dir: join(root, '.coresdk', 'dev'), issuer: 'https://dev.coresdk.local', audience: 'coresdk-dev' };
function mint({ sub, roles, ...claims }) {
  const args = [cli, 'dev-token', '--dev-dir', dev.dir, '--sub', sub, '--roles', roles.join(',')];
  for (const [name, value] of Object.entries(claims)) args.push('--claim', `${name}=${JSON.stringify(value)}`);
  return execFileSync(process.execPath, args, { encoding: 'utf8' }).trim();
}

function startSidecar() {
  const child = spawn(process.execPath, [cli, '--dev', '--dev-dir', dev.dir, '--addr', '127.0.0.1:0', '--log-level', 'info'], {
    cwd: root,
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    let stderr = '';
    let addr;
    let serving = false;
    const seen = [];
    const why = () => `; its last events: ${JSON.stringify(seen.slice(-5))}; stderr: ${JSON.stringify(stderr.slice(-2000))}`;
    const timer = setTimeout(() => reject(new Error(`the sidecar did not start within 45 s${why()}`)), 45_000);
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buf += chunk;
      for (;;) {
        const i = buf.indexOf('\n');
        if (i < 0) break;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        const l = JSON.parse(line);
        seen.push(l.event);
        if (l.event === 'listening') addr = l.addr;
        if (l.event === 'serving') serving = true;
        if (serving && addr) {
          clearTimeout(timer);
          resolve({ child, addr });
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`the sidecar exited (${code})${why()}`)));
  });
}

// Tracing: every request becomes a span, masked before it is exported.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new PiiMaskingSpanProcessor(new SimpleSpanProcessor(exporter))] });
const tracer = provider.getTracer('coresdk-demo');
function traced(app) {
  const outer = express();
  outer.use((req, res, next) => {
    const span = tracer.startSpan(`${req.method} ${req.path}`, {
      attributes: {
        'http.request.method': req.method,
        'url.path': req.path,
        'url.query': req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '',
        'http.request.header.authorization': req.headers.authorization ?? '',
        'user_agent.original': 'coresdk-demo',
      },
    });
    res.on('finish', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      span.end();
    });
    next();
  });
  outer.use(app);
  return outer;
}

async function listen(app) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, port: server.address().port };
}

const rows = [];
let unexpected = 0;
async function send(label, port, method, path, token, expected, header) {
  const headers = {};
  if (header !== undefined) headers.authorization = header;
  else if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers });
  const ms = performance.now() - t0;
  const body = await res.json();
  const decision = res.ok ? `allowed (${body.readBy ?? body.writtenBy ?? 'claims: null'})` : `${body.code}`;
  if (res.status !== expected) unexpected++;
  rows.push([label, `${method} ${path}`, `${res.status}${res.status === expected ? '' : ` (expected ${expected})`}`, decision, `${ms.toFixed(1)} ms`]);
}

const now = Math.floor(Date.now() / 1000);
const viewer = mint({ sub: 'carol', roles: ['viewer'] });
const editor = mint({ sub: 'alice', roles: ['editor'] });
const expired = mint({ sub: 'carol', roles: ['viewer'], iat: now - 7200, exp: now - 3600 });
const otherAudience = mint({ sub: 'carol', roles: ['viewer'], aud: 'another-api' });

const { child, addr } = await startSidecar();
const common = { sidecarAddr: addr, timeoutMs: 500, retries: 1, warn: () => {} };
const openClient = new CoreSDKClient({ ...common, failMode: 'open' });
const closedClient = new CoreSDKClient({ ...common, failMode: 'closed' });
const inProcess = new CoreSDKClient({
  mode: 'in-process',
  engine: { policyDir: join(root, 'examples', 'policies'), watch: false, token: { jwksFile: join(dev.dir, 'jwks.json'), issuer: dev.issuer, audience: dev.audience } },
});
const open = await listen(traced(createApp(openClient)));
const closed = await listen(createApp(closedClient));
const local = await listen(createApp(inProcess));

try {
  // Warm up connections and caches so that latencies show steady state.
  for (let i = 0; i < 20; i++) await fetch(`http://127.0.0.1:${open.port}/documents/doc-2`, { headers: { authorization: `Bearer ${viewer}` } });

  await send('valid token, viewer reads', open.port, 'GET', '/documents/doc-2', viewer, 200);
  await send('valid token, editor writes', open.port, 'PUT', '/documents/doc-2', editor, 200);
  await send('policy deny: viewer writes', open.port, 'PUT', '/documents/doc-2', viewer, 403);
  await send('expired token', open.port, 'GET', '/documents/doc-2', expired, 401);
  await send('wrong audience', open.port, 'GET', '/documents/doc-2', otherAudience, 401);
  await send('no token', open.port, 'GET', '/documents/doc-2', undefined, 401);
  await send('malformed header', open.port, 'GET', '/documents/doc-2', undefined, 400, 'Bearer not a token');
  await send('PII in the query string', open.port, 'GET', '/documents/doc-2?contact=bob.smith@example.com', viewer, 200);

  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await send('sidecar killed, fail-open', open.port, 'GET', '/documents/doc-2', viewer, 200);
  await send('sidecar killed, fail-open, expired', open.port, 'GET', '/documents/doc-2', expired, 200);
  await send('sidecar killed, fail-closed', closed.port, 'GET', '/documents/doc-2', viewer, 503);

  await send('in-process, viewer reads', local.port, 'GET', '/documents/doc-2', viewer, 200);
  await send('in-process, policy deny', local.port, 'PUT', '/documents/doc-2', viewer, 403);
  await send('in-process, expired token', local.port, 'GET', '/documents/doc-2', expired, 401);
} finally {
  for (const s of [open, closed, local]) s.server.close();
  openClient.close();
  closedClient.close();
  inProcess.close();
  if (child.exitCode === null) child.kill('SIGTERM');
}

const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...[['request', 'call', 'status', 'decision', 'latency'][i].length, ...rows.map((r) => r[i].length)]));
const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(`CoreSDK demo: examples/express-app with the CoreSDK middleware; sidecar on ${addr} (mTLS off: --dev)\n`);
console.log(line(['request', 'call', 'status', 'decision', 'latency']));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
await provider.forceFlush();
const piiSpan = exporter.getFinishedSpans().find((sp) => String(sp.attributes['url.query'] ?? '').includes('contact='));
if (piiSpan === undefined) {
  console.error('no span was exported for the PII request');
  unexpected++;
} else {
  console.log(`\nThe exported span of "PII in the query string", masked by PiiMaskingSpanProcessor:`);
  console.log(JSON.stringify({ name: piiSpan.name, attributes: piiSpan.attributes }, null, 2));
  const text = JSON.stringify(piiSpan.attributes);
  if (text.includes('bob.smith@example.com') || text.includes(viewer)) {
    console.error('the exported span still holds PII');
    unexpected++;
  }
}
await provider.shutdown();

console.log(`
Fail-open lets requests through with null claims only when the sidecar cannot be reached; an
expired token is still 401 whenever the sidecar answers. The engine alone, in process:
npm run demo:engine.`);
if (unexpected > 0) {
  console.error(`\n${unexpected} answers were not the expected ones`);
  process.exit(1);
}
