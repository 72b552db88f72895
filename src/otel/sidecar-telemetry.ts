/**
 * Export of the sidecar data plane's telemetry over OTLP.
 *
 * The data plane records per-call spans, metrics and decision-log records
 * in Rust, masked there, without JavaScript on the call path
 * (`coresdk_sidecar::telemetry`). This module takes them in batches every
 * 250 ms ({@link SidecarServer.takeTelemetry}) and hands them to the
 * OpenTelemetry SDK: spans to a `BatchSpanProcessor` (as `ReadableSpan`s),
 * decision records to a `BatchLogRecordProcessor` (as `ReadableLogRecord`s:
 * the records are final, so the `Logger`'s per-attribute validation and
 * copying is skipped), and the data plane's cumulative counters and
 * histograms to the metric reader through a `MetricProducer` (no
 * re-recording: the SDK exports the data plane's own aggregates).
 *
 * @packageDocumentation
 */
import { SpanKind, SpanStatusCode, TraceFlags, ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { hrTimeDuration } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, type ReadableLogRecord, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

import type { SidecarLogRecord, SidecarServer, SidecarSpanRecord } from '../sidecar/server.js';
import { logExporter, metricExporter, metricIntervalMs, traceExporter } from './exporters.js';

/** Options of {@link SidecarTelemetry.start}. */
export interface SidecarTelemetryOptions {
  /** `service.name` (default `OTEL_SERVICE_NAME`, else `coresdk-sidecar`). */
  serviceName?: string;
  /** The package version, for the instrumentation scope. */
  version?: string;
  /** How often batches are taken from the data plane, in ms. Default 250. */
  intervalMs?: number;
  /** How often metrics are exported, in ms. Default: `OTEL_METRIC_EXPORT_INTERVAL`, else 10,000. */
  metricIntervalMs?: number;
}

const SCOPE = 'coresdk-sidecar';

/** Exports a running data plane's telemetry; see the module docs. */
export class SidecarTelemetry {
  readonly #server: SidecarServer;
  readonly #resource: Resource;
  readonly #scope: { name: string; version?: string };
  readonly #spans: BatchSpanProcessor;
  readonly #meterProvider: MeterProvider;
  readonly #logs: BatchLogRecordProcessor;
  readonly #timer: NodeJS.Timeout;
  #pumping: Promise<void> | undefined;
  #droppedSpans = 0;
  #droppedLogs = 0;
  #exported = { spans: 0, logs: 0 };

  private constructor(server: SidecarServer, options: SidecarTelemetryOptions) {
    this.#server = server;
    this.#resource = defaultResource().merge(resourceFromAttributes({ 'service.name': options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? SCOPE }));
    this.#scope = { name: SCOPE, version: options.version };
    this.#spans = new BatchSpanProcessor(traceExporter(), { scheduledDelayMillis: 500, maxQueueSize: 16_384, maxExportBatchSize: 1024 });
    this.#meterProvider = new MeterProvider({
      resource: this.#resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: metricExporter(),
          exportIntervalMillis: options.metricIntervalMs ?? metricIntervalMs(),
          metricProducers: [new DataPlaneMetrics(this)],
        }),
      ],
    });
    this.#logs = new BatchLogRecordProcessor({ exporter: logExporter(), scheduledDelayMillis: 500, maxQueueSize: 16_384, maxExportBatchSize: 1024 });
    this.#timer = setInterval(() => {
      void this.pump();
    }, options.intervalMs ?? 250);
    this.#timer.unref();
  }

  /**
   * Starts exporting `server`'s telemetry (it must have been started with
   * `telemetry`). Exporters follow the standard `OTEL_*` variables.
   */
  static start(server: SidecarServer, options: SidecarTelemetryOptions = {}): SidecarTelemetry {
    return new SidecarTelemetry(server, options);
  }

  /** Spans and records handed to the SDK, and those the data plane dropped. */
  get stats(): { spans: number; logs: number; droppedSpans: number; droppedLogs: number } {
    return { ...this.#exported, droppedSpans: this.#droppedSpans, droppedLogs: this.#droppedLogs };
  }

  /** The server whose metrics the producer reads. */
  get server(): SidecarServer {
    return this.#server;
  }

  /** The resource of every signal. */
  get resource(): Resource {
    return this.#resource;
  }

  /** Cumulative drops, for the metric producer. */
  get dropped(): { spans: number; logs: number } {
    return { spans: this.#droppedSpans, logs: this.#droppedLogs };
  }

  /** Takes one batch from the data plane and hands it to the SDK. One at a time. */
  async pump(): Promise<void> {
    this.#pumping ??= this.#pumpOnce().finally(() => {
      this.#pumping = undefined;
    });
    return this.#pumping;
  }

  async #pumpOnce(): Promise<void> {
    const batch = await this.#server.takeTelemetry();
    if (batch === null) return;
    this.#droppedSpans += batch.droppedSpans;
    this.#droppedLogs += batch.droppedLogs;
    for (const s of batch.spans) this.#spans.onEnd(this.#readable(s));
    for (const l of batch.logs) this.#emit(l);
    this.#exported.spans += batch.spans.length;
    this.#exported.logs += batch.logs.length;
  }

  #readable(s: SidecarSpanRecord): ReadableSpan {
    const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: TraceFlags.SAMPLED };
    const start: HrTime = s.start;
    const end: HrTime = s.end;
    return {
      name: s.name,
      kind: SpanKind.SERVER,
      spanContext: () => ctx,
      parentSpanContext: s.parentSpanId === null ? undefined : { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true },
      startTime: start,
      endTime: end,
      duration: hrTimeDuration(start, end),
      status: s.status.code === 2 ? { code: SpanStatusCode.ERROR, message: s.status.message } : { code: SpanStatusCode.UNSET },
      attributes: s.attributes,
      links: [],
      events: [],
      ended: true,
      resource: this.#resource,
      instrumentationScope: this.#scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }

  #emit(l: SidecarLogRecord): void {
    const record: ReadableLogRecord = {
      hrTime: l.time,
      hrTimeObserved: l.time,
      spanContext: l.traceId !== null && l.spanId !== null ? { traceId: l.traceId, spanId: l.spanId, traceFlags: TraceFlags.SAMPLED } : undefined,
      eventName: 'coresdk.decision',
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: l.body,
      resource: this.#resource,
      instrumentationScope: this.#scope,
      attributes: l.attributes,
      droppedAttributesCount: 0,
    };
    this.#logs.onEmit(record as ReadWriteLogRecord);
  }

  /** Takes what is left, then exports everything buffered. */
  async flush(): Promise<void> {
    await this.pump();
    await this.#spans.forceFlush();
    await this.#logs.forceFlush();
    await this.#meterProvider.forceFlush();
  }

  /** Flushes, then stops every provider. Call after the data plane drained. */
  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    await this.#spans.shutdown();
    await this.#logs.shutdown();
    await this.#meterProvider.shutdown();
  }
}

/** Reads the data plane's cumulative aggregates at each metric collection. */
class DataPlaneMetrics implements MetricProducer {
  readonly #owner: SidecarTelemetry;

  constructor(owner: SidecarTelemetry) {
    this.#owner = owner;
  }

  collect(): Promise<CollectionResult> {
    const m = this.#owner.server.telemetryMetrics();
    const metrics: MetricData[] = [];
    if (m !== null) {
      const startTime: HrTime = m.startTime;
      const endTime: HrTime = nowHr();
      const sum = (name: string, description: string, points: Array<{ attributes: Attributes; value: number }>): void => {
        if (points.length === 0) return;
        metrics.push({
          descriptor: { name, description, unit: '', valueType: ValueType.INT },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: points.map((p) => ({ startTime, endTime, attributes: p.attributes, value: p.value })),
        });
      };
      sum(
        'coresdk.authz.decisions',
        'Authorization decisions, by decision and reason',
        m.decisions.map((d) => ({ attributes: d.attributes, value: d.count })),
      );
      if (m.durations.length > 0) {
        metrics.push({
          descriptor: { name: 'coresdk.authz.decision.duration', description: 'Time to verify and decide', unit: 's', valueType: ValueType.DOUBLE },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: m.durations.map((d) => ({
            startTime,
            endTime,
            attributes: d.attributes,
            value: { buckets: { boundaries: m.boundaries, counts: d.buckets }, sum: d.sum, count: d.count, min: d.min, max: d.max },
          })),
        });
      }
      sum(
        'coresdk.pii.masked',
        'Values masked, by entity type',
        m.piiMasked.map((p) => ({ attributes: { entity: p.entity }, value: p.count })),
      );
      sum(
        'coresdk.jwks.refreshes',
        'Key-set (JWKS) fetches, by outcome',
        m.jwksRefreshes.map((r) => ({ attributes: { tenant: r.tenant, outcome: r.outcome }, value: r.count })),
      );
      sum(
        'coresdk.bundle.loads',
        'Remote policy bundle loads, by outcome (activated, unchanged, refused, failed)',
        (m.bundleLoads ?? []).map((r) => ({ attributes: { tenant: r.tenant, outcome: r.outcome }, value: r.count })),
      );
      const ages = m.bundleAge ?? [];
      if (ages.length > 0) {
        metrics.push({
          descriptor: { name: 'coresdk.bundle.age', description: 'Seconds since the bundle server last confirmed the serving bundle', unit: 's', valueType: ValueType.DOUBLE },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: ages.map((a) => ({ startTime: endTime, endTime, attributes: { tenant: a.tenant }, value: a.seconds })),
        });
      }
      const dropped = this.#owner.dropped;
      sum('coresdk.telemetry.spans.dropped', 'Spans the data plane dropped because its queue was full', [{ attributes: {}, value: dropped.spans }]);
      sum('coresdk.decision_log.dropped', 'Decision-log records dropped because the buffer was full', [{ attributes: {}, value: dropped.logs }]);
    }
    return Promise.resolve({
      resourceMetrics: { resource: this.#owner.resource, scopeMetrics: metrics.length > 0 ? [{ scope: { name: SCOPE }, metrics }] : [] },
      errors: [],
    });
  }
}

function nowHr(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}
