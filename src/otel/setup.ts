/**
 * `setupTelemetry()`: traces and metrics over OTLP for a service using
 * CoreSDK, with every span masked by {@link PiiMaskingSpanProcessor} before
 * it is exported.
 *
 * Honours the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (and the
 * `_TRACES_`/`_METRICS_` forms), `OTEL_EXPORTER_OTLP_PROTOCOL`
 * (`http/protobuf`, the default, or `grpc`), `OTEL_SERVICE_NAME`,
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`. With no endpoint
 * configured, OTLP's default (`http://localhost:4318`) is used.
 *
 * @packageDocumentation
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as OTLPGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OTLPHttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

import type { MaskerOptions } from '../pii/masker.js';
import { PiiMaskingSpanProcessor } from './pii-span-processor.js';

/** Options of {@link setupTelemetry}. */
export interface TelemetryOptions {
  /** The service name (default: `OTEL_SERVICE_NAME`, else `coresdk-service`). */
  serviceName?: string;
  /** Masking of exported spans (default: every detector, tag style). */
  masking?: MaskerOptions;
  /** How often metrics are exported, in ms. Default 10,000. */
  metricIntervalMs?: number;
}

/** What {@link setupTelemetry} installed. */
export interface Telemetry {
  /** The global tracer provider. */
  tracerProvider: BasicTracerProvider;
  /** The global meter provider. */
  meterProvider: MeterProvider;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes and stops both providers. */
  shutdown(): Promise<void>;
}

/** Installs global OTLP trace and metric providers, spans masked before export. */
export function setupTelemetry(options: TelemetryOptions = {}): Telemetry {
  const env = process.env;
  const serviceName = options.serviceName ?? env.OTEL_SERVICE_NAME ?? 'coresdk-service';
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': serviceName }));
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  const traceExporter = protocol === 'grpc' ? new OTLPGrpcTraceExporter() : new OTLPHttpTraceExporter();
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new PiiMaskingSpanProcessor(new BatchSpanProcessor(traceExporter, { scheduledDelayMillis: 500 }), options.masking)],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: options.metricIntervalMs ?? 10_000 })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    tracerProvider,
    meterProvider,
    flush: async () => {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
