/**
 * End to end with a real collector: Jaeger v1.76.0 all-in-one (built from the
 * Go module proxy by scripts/ensure-jaeger.mjs, which `npm test` runs first),
 * its OTLP receiver and query API on loopback. A service using CoreSDK with
 * `setupTelemetry()` exports to it; the test reads Jaeger's HTTP query API and
 * finds the spans with PII masked and the decision attributes present.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, nowSec } from './support/keys.js';

const root = join(import.meta.dirname, '..');
let dir: string;
let jaeger: ChildProcess | undefined;
let queryPort: number;
let otlpHttpPort: number;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => { r(); }));
  return port;
}

beforeAll(async () => {
  const located = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-jaeger.mjs')], { encoding: 'utf8', timeout: 55_000 });
  if (located.status !== 0) throw new Error(`Jaeger is not built (run node scripts/ensure-jaeger.mjs): ${located.stderr}`);
  const bin = located.stdout.trim();
  dir = mkdtempSync(join(tmpdir(), 'coresdk-jaeger-'));
  [queryPort, otlpHttpPort] = [await freePort(), await freePort()];
  const [otlpGrpc, health] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'jaeger.yaml'),
    `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryPort}
    grpc:
      endpoint: 127.0.0.1:${await freePort()}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${health}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${otlpGrpc}
      http:
        endpoint: 127.0.0.1:${otlpHttpPort}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  jaeger = spawn(bin, ['--config', `file:${join(dir, 'jaeger.yaml')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  jaeger.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${queryPort}/api/services`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || jaeger.exitCode !== null) throw new Error(`Jaeger did not start: ${err.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 60_000);

afterAll(() => {
  jaeger?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface JaegerSpan {
  operationName: string;
  tags: Array<{ key: string; value: unknown }>;
}

it('exports masked spans with decision attributes to Jaeger over OTLP', async () => {
  const key = await makeKey('ES256', 'k1');
  mkdirSync(join(dir, 'bundle'));
  writeFileSync(join(dir, 'bundle', 'authz.rego'), 'package authz\nimport rego.v1\ndefault allow := false\nallow if input.claims.role == "reader"\n');
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'user-e2e', role: 'reader', iat: nowSec() };
  const ok = await mint(key, 'ES256', { ...claims, exp: nowSec() + 600 });
  const expired = await mint(key, 'ES256', { ...claims, exp: nowSec() - 600 });
  const app = spawnSync(process.execPath, [join(root, '__test__', 'support', 'otel-app.mjs'), join(dir, 'bundle'), join(dir, 'jwks.json'), ISSUER, AUDIENCE, ok, expired], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpHttpPort}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
  });
  expect(app.stderr).toBe('');
  expect(JSON.parse(app.stdout.trim())).toEqual({ ok: 200, expired: 401 });

  let spans: JaegerSpan[] = [];
  let raw = '';
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await fetch(`http://127.0.0.1:${queryPort}/api/traces?service=coresdk-e2e&limit=100`);
    raw = await r.text();
    spans = ((JSON.parse(raw) as { data?: Array<{ spans: JaegerSpan[] }> }).data ?? []).flatMap((t) => t.spans);
    if (spans.length >= 3) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  const tag = (s: JaegerSpan, k: string): unknown => s.tags.find((t) => t.key === k)?.value;
  const authz = spans.filter((s) => s.operationName === 'coresdk.authorize');
  expect(authz.map((s) => tag(s, 'coresdk.decision')).sort()).toEqual(['allow', 'deny']);
  const allowed = authz.find((s) => tag(s, 'coresdk.decision') === 'allow') as JaegerSpan;
  expect(String(tag(allowed, 'coresdk.policy.revision'))).toMatch(/^sha256:/);
  expect(tag(allowed, 'coresdk.tenant')).toBe('default');
  expect(authz.find((s) => tag(s, 'coresdk.decision') === 'deny')?.tags.find((t) => t.key === 'coresdk.reason')?.value).toBe('ERR_TOKEN_EXPIRED');
  const app1 = spans.find((s) => s.operationName.startsWith('lookup profile'));
  expect(app1?.operationName).toBe('lookup profile of [REDACTED:email]');
  expect(tag(app1 as JaegerSpan, 'user.email')).toBe('[REDACTED:email]');
  expect(tag(app1 as JaegerSpan, 'http.request.header.authorization')).toBe('[REDACTED:secret]');
  expect(tag(app1 as JaegerSpan, 'card.note')).toBe('paid with [REDACTED:card_number]');
  // Nothing personal or secret reached the collector, and no subject on the decision spans.
  expect(raw).not.toContain('bob@example.com');
  expect(raw).not.toContain('4111 1111');
  expect(raw).not.toContain(ok);
  expect(raw).not.toContain('user-e2e');
}, 60_000);
