/**
 * OTLP exporters for traces, metrics and logs, chosen by the standard
 * OpenTelemetry variables: `OTEL_EXPORTER_OTLP_PROTOCOL` and its per-signal
 * forms (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `..._METRICS_...`,
 * `..._LOGS_...`): `http/protobuf` (the default) or `grpc`. The exporters
 * themselves read the endpoint, headers, timeout and TLS variables
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, ...).
 *
 * Used by `setupTelemetry()` and by the `coresdk-sidecar` CLI.
 *
 * @packageDocumentation
 */
import { OTLPLogExporter as OTLPGrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as OTLPHttpLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as OTLPGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as OTLPHttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as OTLPGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OTLPHttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

import { CoreSDKError } from '../errors.js';

/** An OTLP transport. */
export type OtlpProtocol = 'http/protobuf' | 'grpc';

type Signal = 'TRACES' | 'METRICS' | 'LOGS';

/**
 * The protocol for one signal: the per-signal variable, else
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. Throws
 * `ERR_CONFIG` naming the variable for anything else (`http/json` is not
 * offered: protobuf is smaller and every collector takes it).
 */
export function otlpProtocol(signal: Signal, env: NodeJS.ProcessEnv = process.env): OtlpProtocol {
  const specific = `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`;
  const name = env[specific] !== undefined && env[specific] !== '' ? specific : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const value = (env[name] ?? '').trim() || 'http/protobuf';
  if (value === 'http/protobuf' || value === 'grpc') return value;
  throw new CoreSDKError('ERR_CONFIG', `invalid configuration: ${name} must be "http/protobuf" or "grpc", got ${JSON.stringify(value)}`);
}

/**
 * Whether OTLP export is configured at all: an endpoint variable is set
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or a per-signal one) and
 * `OTEL_SDK_DISABLED` is not `true`.
 */
export function otlpConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return ['', 'TRACES_', 'METRICS_', 'LOGS_'].some((s) => (env[`OTEL_EXPORTER_OTLP_${s}ENDPOINT`] ?? '').trim() !== '');
}

/** The span exporter for the configured protocol. */
export function traceExporter(env: NodeJS.ProcessEnv = process.env): SpanExporter {
  return otlpProtocol('TRACES', env) === 'grpc' ? new OTLPGrpcTraceExporter() : new OTLPHttpTraceExporter();
}

/** The metric exporter for the configured protocol (cumulative temporality). */
export function metricExporter(env: NodeJS.ProcessEnv = process.env): PushMetricExporter {
  return otlpProtocol('METRICS', env) === 'grpc' ? new OTLPGrpcMetricExporter() : new OTLPHttpMetricExporter();
}

/** The log-record exporter for the configured protocol. */
export function logExporter(env: NodeJS.ProcessEnv = process.env): LogRecordExporter {
  return otlpProtocol('LOGS', env) === 'grpc' ? new OTLPGrpcLogExporter() : new OTLPHttpLogExporter();
}

/**
 * The metric export interval: `OTEL_METRIC_EXPORT_INTERVAL` (ms), else
 * 10,000 (OpenTelemetry's default). A value that is not a positive number
 * is refused with `ERR_CONFIG`.
 */
export function metricIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = (env.OTEL_METRIC_EXPORT_INTERVAL ?? '').trim();
  if (raw === '') return 10_000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new CoreSDKError('ERR_CONFIG', `invalid configuration: OTEL_METRIC_EXPORT_INTERVAL must be a positive number of milliseconds, got ${JSON.stringify(raw)}`);
  return n;
}
