/**
 * Telemetry without a collector: the decision log (bounded, masked, with
 * trace context) into the SDK's in-memory log exporter; the metric
 * instruments into a real MeterProvider; the sidecar's OTLP settings
 * (refused with exit 2 naming the variable) and a collector that is down.
 * The sidecar's own recording is tested in Rust (native/sidecar/src/
 * telemetry.rs); the Jaeger test (otlp-jaeger.test.ts) covers the OTLP
 * path end to end, from the sidecar program alone too.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type SpanContext } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';

import { startSidecar } from './support/sidecar.js';
import { authzInstruments, CoreSDKClient, CoreSDKError, DecisionLog, Masker, otlpConfigured, otlpProtocol } from '../dist/index.js';

const spanContext: SpanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };

function logSetup(): { exporter: InMemoryLogRecordExporter; provider: LoggerProvider } {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  return { exporter, provider };
}

describe('DecisionLog', () => {
  it('emits masked records with the decision, the trace context and no claims', async () => {
    const { exporter, provider } = logSetup();
    const log = new DecisionLog({ logger: provider.getLogger('t'), masker: new Masker(), mode: 'input', flushIntervalMs: 60_000 });
    log.record({
      time: 1_700_000_000_000,
      decision: 'deny',
      reason: 'denied',
      query: 'data.authz.allow',
      tenant: 'acme-corp',
      revision: 'sha256:abc',
      mode: 'in-process',
      durationMs: 0.05,
      spanContext,
      input: {
        action: 'read',
        owner: 'bob@example.com',
        password: 'hunter2',
        pin: 1234,
        credentials: { apiKey: 'k-123', nested: ['x'] },
        claims: { sub: 'user-7' },
        tags: ['call +1 415 555 2671', 'plain'],
      },
    });
    expect(exporter.getFinishedLogRecords()).toHaveLength(0); // nothing on the request path
    log.flush();
    await provider.forceFlush();
    const [rec] = exporter.getFinishedLogRecords();
    expect(rec?.eventName).toBe('coresdk.decision');
    expect(rec?.body).toBe('deny data.authz.allow');
    expect(rec?.spanContext?.traceId).toBe(spanContext.traceId);
    expect(rec?.spanContext?.spanId).toBe(spanContext.spanId);
    const a = rec?.attributes ?? {};
    expect(a['coresdk.decision']).toBe('deny');
    expect(a['coresdk.reason']).toBe('denied');
    expect(a['coresdk.policy.revision']).toBe('sha256:abc');
    const input = JSON.parse(a['coresdk.input'] as string) as Record<string, unknown>;
    expect(input).toEqual({
      action: 'read',
      owner: '[REDACTED:email]',
      password: '[REDACTED:secret]',
      pin: '[REDACTED:secret]',
      credentials: { apiKey: '[REDACTED:secret]', nested: ['[REDACTED:secret]'] },
      tags: ['call [REDACTED:phone]', 'plain'],
    });
    log.shutdown();
  });

  it('drops and counts when the buffer is full, and logs nothing when off', async () => {
    const { exporter, provider } = logSetup();
    const log = new DecisionLog({ logger: provider.getLogger('t'), masker: new Masker(), maxQueue: 2, flushIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) log.record({ time: Date.now(), decision: 'allow', reason: 'allowed', tenant: 't', mode: 'in-process', durationMs: 1, input: { secret: 'x' } });
    expect(log.dropped).toBe(3);
    log.flush();
    await provider.forceFlush();
    const recs = exporter.getFinishedLogRecords();
    expect(recs).toHaveLength(2);
    expect(recs[0]?.attributes['coresdk.input']).toBeUndefined(); // mode `decisions` keeps no input
    expect(recs[0]?.body).toBe('allow verify');
    const off = new DecisionLog({ logger: provider.getLogger('t'), masker: new Masker(), mode: 'off' });
    off.record({ time: Date.now(), decision: 'allow', reason: 'allowed', tenant: 't', mode: 'in-process', durationMs: 1 });
    off.flush();
    await provider.forceFlush();
    expect(exporter.getFinishedLogRecords()).toHaveLength(2);
    log.shutdown();
    off.shutdown();
  });

  it('notes an input too large or not serializable instead of logging it', async () => {
    const { exporter, provider } = logSetup();
    const log = new DecisionLog({ logger: provider.getLogger('t'), masker: new Masker(), mode: 'input', flushIntervalMs: 60_000 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    log.record({ time: Date.now(), decision: 'allow', reason: 'allowed', tenant: 't', mode: 'in-process', durationMs: 1, input: { blob: 'a'.repeat(70_000) } });
    log.record({ time: Date.now(), decision: 'allow', reason: 'allowed', tenant: 't', mode: 'in-process', durationMs: 1, input: cyclic });
    log.flush();
    await provider.forceFlush();
    const [big, bad] = exporter.getFinishedLogRecords();
    expect(big?.attributes['coresdk.input'] as string).toMatch(/^\[omitted: \d+ bytes, over 65536\]$/);
    expect(bad?.attributes['coresdk.input']).toBe('[omitted: not serializable]');
    log.shutdown();
  });
});

describe('metric instruments', () => {
  it('are created on the provider registered now, with the PII counts of every masker', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const { decisions, duration } = authzInstruments(provider);
    expect(authzInstruments(provider).decisions).toBe(decisions); // one set per provider
    decisions.add(1, { decision: 'allow', reason: 'allowed' });
    duration.record(0.00002, { decision: 'allow' });
    const masker = new Masker();
    masker.mask(['mail bob@example.com and alice@example.org']);
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const byName = (n: string): SumMetricData | undefined => metrics.find((m) => m.descriptor.name === n) as SumMetricData | undefined;
    expect(byName('coresdk.authz.decisions')?.dataPoints[0]?.value).toBe(1);
    const email = byName('coresdk.pii.masked')?.dataPoints.find((p) => p.attributes.entity === 'email');
    expect(email?.value).toBeGreaterThanOrEqual(2);
    const hist = metrics.find((m) => m.descriptor.name === 'coresdk.authz.decision.duration');
    expect(hist?.descriptor.unit).toBe('s');
    expect(masker.takeCounts()).toEqual({ email: 2 }); // totals() for the metric did not steal them
    expect(masker.takeCounts()).toEqual({});
    await provider.shutdown();
  });
});

describe('OTLP settings', () => {
  it('read the standard variables and refuse an unknown protocol', () => {
    expect(otlpConfigured({})).toBe(false);
    expect(otlpConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
    expect(otlpConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(otlpProtocol('TRACES', {})).toBe('http/protobuf');
    expect(otlpProtocol('METRICS', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBe('grpc');
    expect(otlpProtocol('LOGS', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf' })).toBe('http/protobuf');
    let err: unknown;
    try {
      otlpProtocol('TRACES', { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CoreSDKError);
    expect((err as CoreSDKError).code).toBe('ERR_CONFIG');
    expect((err as CoreSDKError).message).toContain('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
  });
});

describe('coresdk-sidecar with OTLP settings', () => {
  const bin = join(import.meta.dirname, '..', 'dist', 'sidecar', 'cli.js');
  const run = (env: Record<string, string>): { status: number | null; stderr: string } => {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CORESDK_') && !k.startsWith('OTEL_') && v !== undefined) clean[k] = v;
    const r = spawnSync(process.execPath, [bin, '--dev', '--addr', '[::1]:0'], { env: { ...clean, ...env }, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stderr: r.stderr };
  };

  it('refuses a bad protocol, sampler or interval at start with exit 2, naming the variable', () => {
    for (const [env, variable] of [
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_METRIC_EXPORT_INTERVAL: 'soon' }, 'OTEL_METRIC_EXPORT_INTERVAL'],
      [{ CORESDK_DECISION_LOG: 'everything' }, 'CORESDK_DECISION_LOG'],
    ] as const) {
      const r = run(env);
      expect(r.status, JSON.stringify(env)).toBe(2);
      expect(r.stderr).toContain('[ERR_CONFIG]');
      expect(r.stderr).toContain(variable);
    }
  });
});

describe('coresdk-sidecar when the collector is down', () => {
  it('keeps serving, says so in its log (rate-limited), and still stops cleanly', async () => {
    const work = mkdtempSync(join(tmpdir(), 'coresdk-otlp-down-'));
    mkdirSync(join(work, 'bundle'));
    writeFileSync(join(work, 'bundle', 'authz.rego'), 'package authz\nimport rego.v1\ndefault allow := false\nallow if input.ok\n');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => { r(); }));
    const sock = join(work, 's.sock');
    const sc = await startSidecar(['--insecure-dev', '--addr', `unix:${sock}`], {
      CORESDK_POLICY_DIR: join(work, 'bundle'),
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    });
    const client = new CoreSDKClient({ mode: 'sidecar', sidecarAddr: sc.addr });
    try {
      for (let i = 0; i < 20; i++) expect((await client.evaluatePolicy('data.authz.allow', { ok: true })).value).toBe(true);
      const warned = await sc.waitFor((l) => l.event === 'telemetry_error', 15_000);
      expect(warned.msg).toMatch(/^telemetry export/);
      expect((await client.evaluatePolicy('data.authz.allow', { ok: true })).value).toBe(true);
    } finally {
      client.close();
      sc.kill('SIGTERM');
    }
    expect(await sc.exited).toBe(0);
    expect(sc.logs.filter((l) => l.event === 'telemetry_error').length).toBeLessThanOrEqual(3);
    expect(sc.logs.some((l) => l.event === 'telemetry_stopped')).toBe(true);
    rmSync(work, { recursive: true, force: true });
  }, 60_000);
});
