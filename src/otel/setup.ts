/**
 * `setupTelemetry()`: traces, metrics and the decision log over OTLP for a
 * service using CoreSDK, with every span masked by
 * {@link PiiMaskingSpanProcessor} before it is exported and every decision
 * record masked before it is emitted.
 *
 * Honours the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (and the
 * `_TRACES_`/`_METRICS_`/`_LOGS_` forms), `OTEL_EXPORTER_OTLP_PROTOCOL`
 * (`http/protobuf`, the default, or `grpc`, also per signal),
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_EXPORTER_OTLP_HEADERS`. With no endpoint configured, OTLP's default
 * (`http://localhost:4318`, or `:4317` for grpc) is used.
 *
 * @packageDocumentation
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

import { loadSdkSettings } from '../client/client.js';
import { Masker, type MaskerOptions } from '../pii/masker.js';
import { DecisionLog, setDecisionLog, type DecisionLogMode } from './decision-log.js';
import { logExporter, metricExporter, metricIntervalMs, traceExporter } from './exporters.js';
import { authzInstruments } from './instruments.js';
import { PiiMaskingSpanProcessor } from './pii-span-processor.js';

/** Options of {@link setupTelemetry}. */
export interface TelemetryOptions {
  /** The service name (default: `OTEL_SERVICE_NAME`, else `coresdk-service`). */
  serviceName?: string;
  /** Masking of exported spans and decision records (default: every detector, tag style). */
  masking?: MaskerOptions;
  /** How often metrics are exported, in ms. Default: `OTEL_METRIC_EXPORT_INTERVAL`, else 10,000. */
  metricIntervalMs?: number;
  /** What the decision log records. Default: `decision_log` from `coresdk.toml` / `CORESDK_DECISION_LOG`, else `decisions`. */
  decisionLog?: DecisionLogMode;
  /** Extra metric producers (the `coresdk-sidecar` CLI adds the data plane's). */
  metricProducers?: MetricProducer[];
  /** Install the providers globally (default `true`). */
  global?: boolean;
}

/** What {@link setupTelemetry} installed. */
export interface Telemetry {
  /** The resource every signal carries. */
  resource: Resource;
  /** The tracer provider (masked export). */
  tracerProvider: BasicTracerProvider;
  /** The meter provider. */
  meterProvider: MeterProvider;
  /** The logger provider (the decision log). */
  loggerProvider: LoggerProvider;
  /** The decision log the middleware records into. */
  decisionLog: DecisionLog;
  /** The masker used for spans and decision records. */
  masker: Masker;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes and stops every provider. */
  shutdown(): Promise<void>;
}

/** Installs OTLP trace, metric and log providers, everything masked before export. */
export function setupTelemetry(options: TelemetryOptions = {}): Telemetry {
  const env = process.env;
  const serviceName = options.serviceName ?? env.OTEL_SERVICE_NAME ?? 'coresdk-service';
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': serviceName }));
  const masker = new Masker(options.masking);
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new PiiMaskingSpanProcessor(new BatchSpanProcessor(traceExporter(env), { scheduledDelayMillis: 500, maxQueueSize: 8192 }), masker)],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: metricExporter(env),
        exportIntervalMillis: options.metricIntervalMs ?? metricIntervalMs(env),
        metricProducers: options.metricProducers,
      }),
    ],
  });
  const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: logExporter(env), scheduledDelayMillis: 500, maxQueueSize: 8192 })] });
  const decisionLog = new DecisionLog({
    logger: loggerProvider.getLogger('coresdk.decisions'),
    masker,
    mode: options.decisionLog ?? loadSdkSettings(env).decisionLog,
  });
  if (options.global !== false) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    logs.setGlobalLoggerProvider(loggerProvider);
    setDecisionLog(decisionLog);
  }
  authzInstruments(meterProvider);
  return {
    resource,
    tracerProvider,
    meterProvider,
    loggerProvider,
    decisionLog,
    masker,
    flush: async () => {
      decisionLog.flush();
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
      await loggerProvider.forceFlush();
    },
    shutdown: async () => {
      decisionLog.shutdown();
      setDecisionLog(undefined);
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      await loggerProvider.shutdown();
    },
  };
}
