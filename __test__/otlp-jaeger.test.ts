/**
 * End to end with a real collector: Jaeger v1.76.0 all-in-one (built from the
 * Go module proxy by scripts/ensure-jaeger.mjs, which `npm test` runs first),
 * its OTLP receiver and query API on loopback. Jaeger v2 is an OpenTelemetry
 * collector build, so the same process also takes metrics (exposed through
 * its Prometheus exporter, which the test scrapes) and logs (printed by its
 * debug exporter, which the test reads).
 *
 * 1. A service using CoreSDK in-process with `setupTelemetry()` exports over
 *    OTLP/gRPC; the spans arrive masked with the decision attributes present.
 * 2. examples/express-app in sidecar mode and the `coresdk-sidecar` CLI both
 *    export: one trace holds the app's spans and the sidecar's per-call
 *    spans (recorded in Rust, parented through `traceparent`), masked; the
 *    metrics and the decision log of both arrive too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { makePki, startJwksServer } from './support/https-jwks.js';
import { AUDIENCE, ISSUER, jwksOf, makeKey, mint, nowSec } from './support/keys.js';
import { call, clients, startSidecar } from './support/sidecar.js';

const root = join(import.meta.dirname, '..');
let dir: string;
let jaeger: ChildProcess | undefined;
let queryPort: number;
let otlpHttpPort: number;
let promPort: number;
let otlpGrpcPort: number;
let collectorOut = '';

/**
 * `n` distinct loopback ports the kernel has just handed out, all held open
 * together while they are chosen so none repeats. Another process may still
 * take one before Jaeger binds it, so startJaeger tries again on that.
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => { r(); }))));
  return ports;
}

beforeAll(async () => {
  const located = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-jaeger.mjs')], { encoding: 'utf8', timeout: 55_000 });
  if (located.status !== 0) throw new Error(`Jaeger is not built (run node scripts/ensure-jaeger.mjs): ${located.stderr}`);
  const bin = located.stdout.trim();
  dir = mkdtempSync(join(tmpdir(), 'coresdk-jaeger-'));
  for (let attempt = 1; ; attempt++) {
    const outcome = await startJaeger(bin);
    if (outcome === 'up') return;
    // A port chosen a moment ago was taken by another process before Jaeger
    // bound it: choose again (anything else is a real failure).
    if (!outcome.includes('address already in use') || attempt === 3) throw new Error(`Jaeger did not start: ${outcome.slice(-2000)}`);
    jaeger?.kill('SIGKILL');
  }
}, 90_000);

/** Writes Jaeger's configuration on fresh ports and starts it; `'up'`, or why not (its stderr). */
async function startJaeger(bin: string): Promise<string> {
  const [query, otlpHttp, prom, grpcQuery, otlpGrpc, health] = (await freePorts(6)) as [number, number, number, number, number, number];
  [queryPort, otlpHttpPort, promPort, otlpGrpcPort] = [query, otlpHttp, prom, otlpGrpc];
  collectorOut = '';
  writeFileSync(
    join(dir, 'jaeger.yaml'),
    `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
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
      endpoint: 127.0.0.1:${grpcQuery}
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
  prometheus:
    endpoint: 127.0.0.1:${promPort}
    resource_to_telemetry_conversion:
      enabled: true
  debug:
    verbosity: detailed
    use_internal_logger: false
`,
  );
  jaeger = spawn(bin, ['--config', `file:${join(dir, 'jaeger.yaml')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  jaeger.stdout?.setEncoding('utf8').on('data', (c: string) => (collectorOut += c));
  let err = '';
  jaeger.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${queryPort}/api/services`);
      if (r.ok) return 'up';
    } catch {
      // not up yet
    }
    if (jaeger.exitCode !== null) return err || `exit code ${jaeger.exitCode}`;
    if (Date.now() > deadline) return `not up after 30 s: ${err}`;
    await new Promise((r) => setTimeout(r, 200));
  }
}

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
    // OTLP over gRPC here (the sidecar test below uses http/protobuf): traces, metrics and logs.
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpGrpcPort}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
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
  // Metrics and the decision log came over gRPC too.
  let prom = '';
  const until = Date.now() + 20_000;
  while (Date.now() < until && !/coresdk_authz_decisions_total\{[^}]*job="coresdk-e2e"/.test(prom)) {
    prom = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(prom).toMatch(/coresdk_authz_decisions_total\{(?=[^}]*decision="allow")(?=[^}]*job="coresdk-e2e")[^}]*\} 1/);
  expect(prom).toMatch(/coresdk_pii_masked_total\{(?=[^}]*entity="email")(?=[^}]*job="coresdk-e2e")/);
  const logsUntil = Date.now() + 20_000;
  while (Date.now() < logsUntil && !collectorOut.includes('coresdk-e2e')) await new Promise((r) => setTimeout(r, 200));
  expect(collectorOut).toMatch(/service\.name: Str\(coresdk-e2e\)[\s\S]*EventName: coresdk\.decision/);
}, 60_000);

interface JaegerTrace {
  traceID: string;
  spans: Array<JaegerSpan & { spanID: string; processID: string; references: Array<{ refType: string; spanID: string }> }>;
  processes: Record<string, { serviceName: string }>;
}

/** Runs `cmd` until it exits (bounded), for the app and the sidecar. */
function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process did not exit in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

it('the example app and the sidecar export one masked trace, their metrics and the decision log', async () => {
  const work = mkdtempSync(join(tmpdir(), 'coresdk-e2e-sidecar-'));
  const key = await makeKey('ES256', 'k-e2e');
  const jwks = await startJwksServer(makePki(work), jwksOf(key));
  const sock = join(work, 'sidecar.sock');
  const children: ChildProcess[] = [];
  try {
    mkdirSync(join(work, 'bundle'));
    writeFileSync(
      join(work, 'bundle', 'authz.rego'),
      'package authz\nimport rego.v1\ndefault allow := false\nallow if {\n  input.action == "read"\n  input.claims.role == "reader"\n}\n',
    );
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'user-e2e-sidecar', role: 'reader', iat: nowSec() };
    const ok = await mint(key, 'ES256', { ...claims, exp: nowSec() + 600 });
    const expired = await mint(key, 'ES256', { ...claims, exp: nowSec() - 600 });
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpHttpPort}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', CORESDK_DECISION_LOG: 'input' };
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CORESDK_') && !k.startsWith('OTEL_') && v !== undefined) base[k] = v;

    const sidecar = spawn(process.execPath, [join(root, 'dist', 'sidecar', 'cli.js'), '--insecure-dev', '--addr', `unix:${sock}`], {
      env: {
        ...base,
        ...otel,
        OTEL_SERVICE_NAME: 'coresdk-sidecar',
        CORESDK_POLICY_DIR: join(work, 'bundle'),
        CORESDK_JWKS_URL: jwks.jwksUrl,
        CORESDK_JWKS_CA_FILE: jwks.pki.caFile,
        CORESDK_ISSUER: ISSUER,
        CORESDK_AUDIENCE: AUDIENCE,
        CORESDK_TENANT_ID: 'acme-corp',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(sidecar);
    let sidecarOut = '';
    sidecar.stdout.setEncoding('utf8').on('data', (c: string) => (sidecarOut += c));
    sidecar.stderr.setEncoding('utf8').on('data', (c: string) => (sidecarOut += c));
    const sidecarExit = exitOf(sidecar, 60_000);
    const until = async (what: string, pred: () => boolean, ms = 20_000): Promise<void> => {
      const end = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; sidecar: ${sidecarOut.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until('the sidecar to serve', () => sidecarOut.includes('"event":"serving"'));
    expect(sidecarOut).toContain('"event":"telemetry"');

    const [appPort] = (await freePorts(1)) as [number];
    const app = spawn(process.execPath, [join(root, 'examples', 'express-app', 'app.mjs')], {
      env: { ...base, ...otel, OTEL_SERVICE_NAME: 'express-app', CORESDK_MODE: 'sidecar', CORESDK_SIDECAR_ADDR: `unix:${sock}`, CORESDK_TENANT_ID: 'acme-corp', PORT: String(appPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(app);
    let appOut = '';
    app.stdout.setEncoding('utf8').on('data', (c: string) => (appOut += c));
    app.stderr.setEncoding('utf8').on('data', (c: string) => (appOut += c));
    const appExit = exitOf(app, 60_000);
    await until('the app to listen', () => appOut.includes('express-app on'));

    const url = (p: string): string => `http://127.0.0.1:${appPort}${p}`;
    const auth = (t: string): RequestInit => ({ headers: { authorization: `Bearer ${t}` } });
    const statuses = [
      (await fetch(url('/documents/bob@example.com'), auth(ok))).status,
      (await fetch(url('/documents/doc-2'), auth(expired))).status,
      (await fetch(url('/documents/doc-3'), { ...auth(ok), method: 'PUT' })).status,
    ];
    expect(statuses).toEqual([200, 401, 403]);

    app.kill('SIGTERM');
    sidecar.kill('SIGTERM');
    expect(await appExit).toBe(0);
    expect(await sidecarExit).toBe(0);
    expect(sidecarOut).toContain('"event":"telemetry_stopped"');

    // Traces: one trace with the app's spans and the sidecar's children.
    let traces: JaegerTrace[] = [];
    let raw = '';
    const deadline = Date.now() + 20_000;
    const spansOf = (): Array<JaegerTrace['spans'][number] & { service: string; traceID: string }> =>
      traces.flatMap((t) => t.spans.map((s) => ({ ...s, service: t.processes[s.processID]?.serviceName ?? '', traceID: t.traceID })));
    while (Date.now() < deadline) {
      const r = await fetch(`http://127.0.0.1:${queryPort}/api/traces?service=coresdk-sidecar&limit=100`);
      raw = await r.text();
      traces = (JSON.parse(raw) as { data?: JaegerTrace[] }).data ?? [];
      if (spansOf().filter((s) => s.service === 'coresdk-sidecar').length >= 4 && spansOf().some((s) => s.operationName.startsWith('load document'))) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const spans = spansOf();
    const tag = (s: JaegerSpan, k: string): unknown => s.tags.find((t) => t.key === k)?.value;
    const request = spans.find((s) => s.service === 'express-app' && s.operationName.startsWith('GET /documents/') && tag(s, 'http.response.status_code') === 200);
    expect(request?.operationName).toBe('GET /documents/[REDACTED:email]');
    expect(request && tag(request, 'url.path')).toBe('/documents/[REDACTED:email]');
    const inTrace = spans.filter((s) => s.traceID === request?.traceID);
    const load = inTrace.find((s) => s.operationName.startsWith('load document'));
    expect(load?.operationName).toBe('load document [REDACTED:email]');
    expect(load && tag(load, 'document.id')).toBe('[REDACTED:email]');
    const childOf = (parentName: string, childName: string): JaegerTrace['spans'][number] & { service: string } => {
      const parent = inTrace.find((s) => s.operationName === parentName && s.service === 'express-app');
      const child = inTrace.find((s) => s.operationName === childName && s.service === 'coresdk-sidecar');
      expect(parent, `${parentName} in the app's trace`).toBeDefined();
      expect(child, `${childName} in the app's trace`).toBeDefined();
      expect(child?.references.some((r) => r.refType === 'CHILD_OF' && r.spanID === parent?.spanID)).toBe(true);
      return child as JaegerTrace['spans'][number] & { service: string };
    };
    childOf('coresdk.verify', 'coresdk.v1.CoreSDK/VerifyToken');
    const evaluated = childOf('coresdk.evaluate', 'coresdk.v1.CoreSDK/EvaluatePolicy');
    expect(tag(evaluated, 'coresdk.decision')).toBe('allow');
    expect(tag(evaluated, 'coresdk.reason')).toBe('allowed');
    expect(tag(evaluated, 'coresdk.tenant')).toBe('acme-corp');
    expect(String(tag(evaluated, 'coresdk.policy.revision'))).toMatch(/^sha256:/);
    expect(tag(evaluated, 'rpc.method')).toBe('EvaluatePolicy');
    const refused = spans.find((s) => s.service === 'coresdk-sidecar' && tag(s, 'coresdk.reason') === 'ERR_TOKEN_EXPIRED');
    expect(refused && tag(refused, 'coresdk.decision')).toBe('deny');
    expect(refused && tag(refused, 'rpc.grpc.status_code')).toBe(16);
    expect(refused && tag(refused, 'error')).toBeUndefined(); // a refused token is an answer, not a fault
    const denied = spans.find((s) => s.service === 'coresdk-sidecar' && s.operationName.endsWith('EvaluatePolicy') && tag(s, 'coresdk.decision') === 'deny');
    expect(denied && tag(denied, 'coresdk.reason')).toBe('denied'); // default allow := false
    for (const secret of ['bob@example.com', ok, expired, 'user-e2e-sidecar']) expect(raw).not.toContain(secret);

    // Metrics of both services, scraped from the collector's Prometheus exporter.
    let prom = '';
    const metricsDeadline = Date.now() + 20_000;
    const has = (re: RegExp): boolean => re.test(prom);
    while (Date.now() < metricsDeadline) {
      prom = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
      if (has(/coresdk_jwks_refreshes_total\{[^}]*job="coresdk-sidecar"/) && has(/coresdk_authz_decisions_total\{[^}]*job="express-app"/)) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const sample = (re: RegExp): number => Number(prom.split('\n').find((l) => re.test(l))?.split(' ').at(-1));
    expect(sample(/^coresdk_authz_decisions_total\{(?=[^}]*decision="allow")(?=[^}]*job="coresdk-sidecar")(?=[^}]*rpc_method="EvaluatePolicy")/)).toBe(1);
    expect(sample(/^coresdk_authz_decisions_total\{(?=[^}]*decision="deny")(?=[^}]*job="coresdk-sidecar")(?=[^}]*reason="ERR_TOKEN_EXPIRED")/)).toBe(1);
    expect(sample(/^coresdk_jwks_refreshes_total\{(?=[^}]*job="coresdk-sidecar")(?=[^}]*outcome="success")/)).toBeGreaterThanOrEqual(1);
    expect(sample(/^coresdk_authz_decision_duration_seconds_count\{(?=[^}]*job="coresdk-sidecar")(?=[^}]*decision="allow")(?=[^}]*rpc_method="EvaluatePolicy")/)).toBe(1);
    expect(sample(/^coresdk_pii_masked_total\{(?=[^}]*entity="email")(?=[^}]*job="express-app")/)).toBeGreaterThanOrEqual(1);
    expect(sample(/^coresdk_pii_masked_total\{(?=[^}]*entity="email")(?=[^}]*job="coresdk-sidecar")/)).toBeGreaterThanOrEqual(1);
    expect(sample(/^coresdk_authz_decisions_total\{(?=[^}]*decision="deny")(?=[^}]*job="express-app")(?=[^}]*reason="denied")/)).toBe(1);
    expect(prom).not.toContain('user-e2e-sidecar');

    // The decision log of both, as OTel log records, masked.
    const logDeadline = Date.now() + 20_000;
    while (Date.now() < logDeadline && !(collectorOut.includes('coresdk-sidecar') && collectorOut.includes('express-app') && /EventName: coresdk\.decision/.test(collectorOut))) {
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(collectorOut).toMatch(/EventName: coresdk\.decision/);
    expect(collectorOut).toContain('Body: Str(allow data.authz.allow)');
    expect(collectorOut).toContain('"id":"[REDACTED:email]"');
    expect(collectorOut).not.toMatch(/coresdk\.input: Str\([^)]*claims/);
    expect(collectorOut).toContain('coresdk.reason: Str(ERR_TOKEN_EXPIRED)');
    for (const secret of ['bob@example.com', ok, expired, 'user-e2e-sidecar']) expect(collectorOut).not.toContain(secret);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await jwks.close();
    rmSync(work, { recursive: true, force: true });
  }
}, 120_000);

it('the coresdk-sidecar program alone (no Node) exports over OTLP/gRPC: spans in the caller trace, AuthZEN spans, metrics and the masked decision log', async () => {
  const work = mkdtempSync(join(tmpdir(), 'coresdk-e2e-program-'));
  const emptyPath = join(work, 'bin');
  mkdirSync(emptyPath);
  const service = 'coresdk-sidecar-grpc';
  const callerTrace = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
  const sc = await startSidecar(['--dev', '--dev-dir', join(work, 'dev'), '--addr', '127.0.0.1:0', '--authzen-addr', '127.0.0.1:0'], {
    PATH: emptyPath,
    HOME: work,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpGrpcPort}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_SERVICE_NAME: service,
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    CORESDK_DECISION_LOG: 'input',
  }, { program: true });
  try {
    expect(await sc.waitFor((l) => l.event === 'telemetry')).toMatchObject({ protocol: 'grpc', source: 'data-plane' });
    await sc.waitFor((l) => l.event === 'dev_mode'); // printed after the token and the addresses
    const token = /Development token[^\n]*\n(\S+)/.exec(sc.stdout())?.[1] ?? '';
    const authzen = /AuthZEN PDP[^\n]*http:\/\/([^/]+)\//.exec(sc.stdout())?.[1] ?? '';
    const md = new grpc.Metadata();
    md.set('traceparent', `00-${callerTrace.traceId}-${callerTrace.spanId}-01`);
    const c = clients(sc.addr, grpc.credentials.createInsecure());
    const r = await call<{ allowed: boolean }>(c.core, 'authorize', { token, inputJson: '{"action":"read","note":"mail bob@example.com"}' }, 10_000, md);
    expect(r.ok?.allowed).toBe(true);
    c.close();
    const azTrace = randomBytes(16).toString('hex');
    const az = await fetch(`http://${authzen}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${azTrace}-${callerTrace.spanId}-01` },
      body: JSON.stringify({ subject: { type: 'user', id: 'bob@example.com' }, action: { name: 'can_read' }, resource: { type: 'document', id: 'handbook' } }),
    });
    expect(((await az.json()) as { decision: boolean }).decision).toBe(true);
    if (process.platform === 'linux') {
      // Export yields to calls (docs/telemetry.md): every export thread runs in the idle
      // scheduling class (SCHED_IDLE, 5) and 10 nice levels below the data plane.
      const threads = niceness(sc.child.pid ?? 0);
      const dataPlane = threads.filter((t) => t.name === 'coresdk-sidecar');
      const exporting = threads.filter((t) => /^(coresdk-otlp|OpenTelemetry|reqwest)/.test(t.name));
      expect(dataPlane.length).toBeGreaterThan(0);
      expect(exporting.map((t) => t.name), 'the pump (thread names are cut to 15 bytes)').toEqual(expect.arrayContaining(['coresdk-otlp-pu']));
      const base = dataPlane[0]?.nice ?? 0;
      for (const t of dataPlane) expect([t.nice, t.policy], t.name).toEqual([base, 0]);
      for (const t of exporting) expect([t.nice, t.policy], t.name).toEqual([Math.min(19, base + 10), 5]);
    }
  } finally {
    sc.kill('SIGTERM');
  }
  expect(await sc.exited).toBe(0);
  const stopped = await sc.waitFor((l) => l.event === 'telemetry_stopped');
  expect(stopped).toMatchObject({ droppedSpans: 0, droppedLogs: 0, failedExports: 0 });
  // Everything handed to the SDK reached the collector, and says so.
  expect(stopped.spans).toBeGreaterThan(0);
  expect([stopped.exportedSpans, stopped.exportedLogs]).toEqual([stopped.spans, stopped.logs]);

  // Traces: the gRPC span is a child of the caller's span; the AuthZEN call is an HTTP server span.
  let spans: Array<JaegerTrace['spans'][number] & { traceID: string }> = [];
  let raw = '';
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    raw = await (await fetch(`http://127.0.0.1:${queryPort}/api/traces?service=${service}&limit=20`)).text();
    spans = ((JSON.parse(raw) as { data?: JaegerTrace[] }).data ?? []).flatMap((t) => t.spans.map((s) => ({ ...s, traceID: t.traceID })));
    if (spans.length >= 2) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  const tag = (s: JaegerSpan, k: string): unknown => s.tags.find((t) => t.key === k)?.value;
  const authorize = spans.find((s) => s.operationName === 'coresdk.v1.CoreSDK/Authorize');
  expect(authorize?.traceID).toBe(callerTrace.traceId);
  expect(authorize?.references.some((ref) => ref.refType === 'CHILD_OF' && ref.spanID === callerTrace.spanId)).toBe(true);
  expect(authorize && tag(authorize, 'coresdk.decision')).toBe('allow');
  expect(authorize && tag(authorize, 'rpc.system')).toBe('grpc');
  const evaluation = spans.find((s) => s.operationName === 'POST /access/v1/evaluation');
  expect(evaluation && tag(evaluation, 'http.route')).toBe('/access/v1/evaluation');
  expect(evaluation && tag(evaluation, 'rpc.system')).toBe('authzen');
  expect(raw).not.toContain('bob@example.com');

  // Metrics, scraped from the collector's Prometheus exporter.
  let prom = '';
  const metricsDeadline = Date.now() + 20_000;
  while (Date.now() < metricsDeadline) {
    prom = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
    if (new RegExp(`coresdk_authz_decisions_total\\{[^}]*job="${service}"[^}]*rpc_method="authzen.evaluation"|coresdk_authz_decisions_total\\{[^}]*rpc_method="authzen.evaluation"[^}]*job="${service}"`).test(prom)) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  const sample = (re: RegExp): number => Number(prom.split('\n').find((l) => re.test(l))?.split(' ').at(-1));
  expect(sample(new RegExp(`^coresdk_authz_decisions_total\\{(?=[^}]*job="${service}")(?=[^}]*rpc_method="Authorize")(?=[^}]*decision="allow")`))).toBe(1);
  expect(sample(new RegExp(`^coresdk_authz_decisions_total\\{(?=[^}]*job="${service}")(?=[^}]*rpc_method="authzen.evaluation")`))).toBe(1);
  expect(sample(new RegExp(`^coresdk_authz_decision_duration_seconds_count\\{(?=[^}]*job="${service}")(?=[^}]*rpc_method="Authorize")`))).toBe(1);

  // The decision log, masked.
  const logDeadline = Date.now() + 20_000;
  while (Date.now() < logDeadline && !(collectorOut.includes(service) && collectorOut.includes('allow data.authzen.allow'))) {
    await new Promise((r) => setTimeout(r, 300));
  }
  expect(collectorOut).toContain('Body: Str(allow data.authzen.allow)');
  expect(collectorOut).not.toContain('bob@example.com');
  rmSync(work, { recursive: true, force: true });
}, 120_000);

/** Each thread of process `pid`: its name, nice value and scheduling policy (/proc/<pid>/task/<tid>/stat, fields 19 and 41). */
function niceness(pid: number): Array<{ name: string; nice: number; policy: number }> {
  const out: Array<{ name: string; nice: number; policy: number }> = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]), policy: Number(fields[38]) });
    } catch {
      // the thread ended
    }
  }
  return out;
}
