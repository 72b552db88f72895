//! OTLP export of the data plane's telemetry, with the OpenTelemetry Rust
//! SDK: spans, metrics and the decision log go to the collector named by
//! the standard `OTEL_*` variables, over gRPC or HTTP/protobuf.
//!
//! The call path only records ([`crate::telemetry::Recorder`]); a pump
//! thread here drains it every 50 ms (masking off the call path), hands
//! spans to the SDK's `BatchSpanProcessor` and decision-log records to its
//! logger, while a `PeriodicReader` exports the SDK's instruments (and the
//! key-set, bundle and drop counts, read at each collection). Exports run on
//! the SDK's own threads (and, for gRPC, a one-thread tokio runtime of their
//! own): an unreachable or slow collector never slows or fails a call. A
//! failed export is reported as the `telemetry_error` event, at most once
//! every 10 s with how many were held back; records the queues could not
//! hold are counted (`coresdk.telemetry.spans.dropped`,
//! `coresdk.decision_log.dropped`).
//!
//! Export yields to calls. Every thread of the export (the pump, the SDK's
//! batch and metric threads, the exporters' HTTP client and runtime) is
//! started from one thread that first moves itself to the idle scheduling
//! class (`SCHED_IDLE`, after lowering its niceness by [`EXPORT_NICENESS`];
//! Linux; threads inherit both), so a call that becomes runnable preempts
//! export work at once. Under sustained saturation the export gets what the
//! calls leave: the queues fill and the excess is dropped and counted, never
//! queued without bound. The pump hands the SDK only what its queue can
//! hold ([`Flow`]), so the SDK never drops a record uncounted.
//! The pump drains small batches often (every 50 ms) and the SDK's batches
//! default to 512 records every 200 ms (the `OTEL_BSP_*` and `OTEL_BLRP_*`
//! variables override), which keeps each unit of export work short and the
//! queues, hence the memory they hold, small.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder as LogBatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter,
    SdkLogger, SdkLoggerProvider,
};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanExporter, SpanProcessor,
};
use opentelemetry_sdk::Resource;

use crate::error::SidecarError;
use crate::events::{Event, EventSink, Level, Throttle};
use crate::telemetry::{sampler_from_otel, Recorder, TelemetryOptions, SCOPE};
use crate::tenants::Tenants;

/// How often the pump drains the recorder.
const PUMP_INTERVAL: Duration = Duration::from_millis(50);

/// How much lower than the process the export's threads are scheduled
/// (Linux nice increment), besides the idle class; it is what remains
/// where the idle class is refused.
pub const EXPORT_NICENESS: i32 = 10;

/// The SDK's batch queues (spans, decision-log records), unless
/// `OTEL_BSP_MAX_QUEUE_SIZE` / `OTEL_BLRP_MAX_QUEUE_SIZE` say otherwise:
/// about 0.8 s of calls at 5,000/s beyond what the pump holds.
const SDK_QUEUE: usize = 4096;
/// Records per export request, unless `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` /
/// `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` say otherwise.
const SDK_BATCH: usize = 512;
/// How long a partial batch waits, unless `OTEL_BSP_SCHEDULE_DELAY` /
/// `OTEL_BLRP_SCHEDULE_DELAY` say otherwise.
const SDK_DELAY: Duration = Duration::from_millis(200);

/// Lowers the calling thread's scheduling priority by [`EXPORT_NICENESS`]
/// and moves it to the idle class (`SCHED_IDLE`); threads it starts inherit
/// both. Best effort: where the platform has neither per-thread niceness
/// nor the class (or refuses), nothing changes.
fn yield_to_data_plane() {
    #[cfg(target_os = "linux")]
    // SAFETY: nice(2) and sched_setscheduler(2) with pid 0 change only the
    // calling thread's niceness and policy on Linux (NPTL threads each have
    // their own); sched_param is a plain C struct, valid zeroed.
    unsafe {
        libc::nice(EXPORT_NICENESS);
        // Zeroed, then the one field SCHED_IDLE reads: musl's sched_param
        // has more fields than glibc's.
        let mut param: libc::sched_param = std::mem::zeroed();
        param.sched_priority = 0;
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

/// Whether the environment sets `var` (the SDK then reads it itself).
fn env_sets(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}

/// An OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `grpc`.
    Grpc,
    /// `http/protobuf` (the specification's default).
    HttpProtobuf,
}

impl Transport {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::HttpProtobuf => "http/protobuf",
        }
    }
}

/// What the environment asks of export.
#[derive(Debug, Clone)]
pub struct OtlpSettings {
    /// What the recorder records (sampler from `OTEL_TRACES_SAMPLER`; the
    /// decision log's content is set from `decision_log` at start).
    pub telemetry: TelemetryOptions,
    /// Transport of each signal: traces, metrics, logs.
    pub transports: [Transport; 3],
    /// `OTEL_METRIC_EXPORT_INTERVAL` (default 10 s).
    pub metric_interval: Duration,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, for the start event.
    pub endpoint: Option<String>,
}

impl OtlpSettings {
    /// From the environment (`get` reads a variable): `None` unless an OTLP
    /// endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or a per-signal one)
    /// and `OTEL_SDK_DISABLED` is not `true`. A bad protocol, sampler or
    /// interval is `ERR_CONFIG` naming the variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, SidecarError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let any = endpoint.is_some()
            || ["TRACES", "METRICS", "LOGS"]
                .iter()
                .any(|s| var(&format!("OTEL_EXPORTER_OTLP_{s}_ENDPOINT")).is_some());
        if !any {
            return Ok(None);
        }
        let transport = |signal: &str| -> Result<Transport, SidecarError> {
            let specific = format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL");
            let (name, value) = match var(&specific) {
                Some(v) => (specific, Some(v)),
                None => (
                    "OTEL_EXPORTER_OTLP_PROTOCOL".to_string(),
                    var("OTEL_EXPORTER_OTLP_PROTOCOL"),
                ),
            };
            match value.as_deref() {
                None | Some("http/protobuf") => Ok(Transport::HttpProtobuf),
                Some("grpc") => Ok(Transport::Grpc),
                Some(other) => Err(SidecarError::config(
                    name,
                    format!("must be grpc or http/protobuf, got {other:?}"),
                )),
            }
        };
        let transports = [
            transport("TRACES")?,
            transport("METRICS")?,
            transport("LOGS")?,
        ];
        let metric_interval = match var("OTEL_METRIC_EXPORT_INTERVAL") {
            None => Duration::from_secs(10),
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    return Err(SidecarError::config(
                        "OTEL_METRIC_EXPORT_INTERVAL",
                        format!("must be a positive number of milliseconds, got {v:?}"),
                    ))
                }
            },
        };
        let sampler = sampler_from_otel(
            var("OTEL_TRACES_SAMPLER").as_deref(),
            var("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )
        .map_err(|m| {
            let key = if m.starts_with("OTEL_TRACES_SAMPLER_ARG") {
                "OTEL_TRACES_SAMPLER_ARG"
            } else {
                "OTEL_TRACES_SAMPLER"
            };
            SidecarError::config(key, m)
        })?;
        Ok(Some(OtlpSettings {
            telemetry: TelemetryOptions {
                sampler,
                ..TelemetryOptions::default()
            },
            transports,
            metric_interval,
            endpoint,
        }))
    }
}

/// Failed exports, reported at most once every 10 s.
struct Failures {
    events: EventSink,
    throttle: Throttle,
    count: AtomicU64,
}

impl Failures {
    fn report(&self, signal: &str, error: &dyn std::fmt::Display) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.throttle.admit() {
            (self.events)(
                Event::new(
                    Level::Warn,
                    "telemetry_error",
                    format!("telemetry export: {signal}: {error}"),
                )
                .with("signal", signal)
                .with("suppressed", suppressed),
            );
        }
    }
}

/// What one signal's records did between the pump and the collector: how
/// many the pump handed to the SDK's batch processor, how many of those an
/// export has finished with (sent or failed) and how many were sent. The
/// SDK's queue holds at most `handed - settled`, so the pump hands over only
/// while that is below the queue's capacity and drops (and counts) the rest
/// itself: the SDK never drops a record uncounted.
#[derive(Debug)]
struct Flow {
    capacity: u64,
    handed: AtomicU64,
    settled: AtomicU64,
    exported: AtomicU64,
}

impl Flow {
    /// A flow into a queue of `capacity` records.
    fn new(capacity: usize) -> Flow {
        Flow {
            capacity: capacity as u64,
            handed: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            exported: AtomicU64::new(0),
        }
    }

    /// Takes a place in the SDK's queue for one record, if there is one.
    fn admit(&self) -> bool {
        let held = self.handed.load(Ordering::Relaxed) - self.settled.load(Ordering::Acquire);
        if held >= self.capacity {
            return false;
        }
        self.handed.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Marks `n` records settled when dropped: an export the SDK abandons at
/// its timeout (dropping the future) still frees their places.
struct Settle<'a>(&'a Flow, u64);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        self.0.settled.fetch_add(self.1, Ordering::Release);
    }
}

/// The capacity of the SDK queue `var` configures: the variable's value
/// when set (the SDK's default, 2,048, when it does not parse, as the SDK
/// reads it), else ours.
fn queue_capacity(var: &str) -> usize {
    if !env_sets(var) {
        return SDK_QUEUE;
    }
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(2048)
}

/// An exporter whose failures are reported, and whose records are counted
/// into their [`Flow`] (spans and logs).
#[derive(Clone)]
struct Reported<E> {
    inner: E,
    signal: &'static str,
    failures: Arc<Failures>,
    flow: Option<Arc<Flow>>,
}

impl<E: std::fmt::Debug> std::fmt::Debug for Reported<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<E> Reported<E> {
    fn outcome(&self, r: OTelSdkResult, records: u64) -> OTelSdkResult {
        match &r {
            Err(e) => self.failures.report(self.signal, e),
            Ok(()) => {
                if let Some(flow) = &self.flow {
                    flow.exported.fetch_add(records, Ordering::Relaxed);
                }
            }
        }
        r
    }

    /// Settles `records` of this exporter's flow when the export ends,
    /// whichever way it ends.
    fn settle(&self, records: u64) -> Option<Settle<'_>> {
        self.flow.as_deref().map(|f| Settle(f, records))
    }
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let _settle = self.settle(n);
        let r = self.inner.export(batch).await;
        self.outcome(r, n)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: LogExporter> LogExporter for Reported<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count() as u64;
        let _settle = self.settle(n);
        let r = self.inner.export(batch).await;
        self.outcome(r, n)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reported<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let r = self.inner.export(metrics).await;
        self.outcome(r, 0)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// What was handed to the SDK, and what the queues dropped.
#[derive(Debug, Default)]
struct Counts {
    spans: AtomicU64,
    logs: AtomicU64,
    dropped_spans: AtomicU64,
    dropped_logs: AtomicU64,
}

/// What an export did over the process's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportStats {
    /// Spans handed to the SDK.
    pub spans: u64,
    /// Decision-log records handed to the SDK.
    pub logs: u64,
    /// Spans the collector accepted.
    pub exported_spans: u64,
    /// Decision-log records the collector accepted.
    pub exported_logs: u64,
    /// Spans dropped because a queue (the recorder's, or the SDK's as the
    /// pump tracks it) was full.
    pub dropped_spans: u64,
    /// Decision-log records dropped because a queue was full.
    pub dropped_logs: u64,
    /// Exports that failed.
    pub failed_exports: u64,
}

/// The running export: the SDK's providers and the pump.
pub struct Export {
    recorder: Arc<Recorder>,
    pipeline: Arc<Pipeline>,
    stop: Arc<AtomicBool>,
    pump: Mutex<Option<std::thread::JoinHandle<()>>>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    failures: Arc<Failures>,
}

/// What the pump feeds.
struct Pipeline {
    recorder: Arc<Recorder>,
    tenants: Arc<Tenants>,
    spans: BatchSpanProcessor,
    logger_provider: SdkLoggerProvider,
    logger: SdkLogger,
    meter_provider: SdkMeterProvider,
    counts: Counts,
    span_flow: Arc<Flow>,
    log_flow: Arc<Flow>,
}

impl Pipeline {
    /// Drains the recorder into the SDK.
    fn pump(&self) {
        let default = self.tenants.default_tenant().clone();
        let tenants: Vec<_> = self.tenants.iter().cloned().collect();
        let taken = self.recorder.take(|i| {
            i.and_then(|i| tenants.get(i))
                .unwrap_or(&default)
                .engine
                .masker()
        });
        let c = &self.counts;
        let (mut spans, mut logs) = (0u64, 0u64);
        let (mut dropped_spans, mut dropped_logs) = (taken.dropped_spans, taken.dropped_logs);
        for s in taken.spans {
            if self.span_flow.admit() {
                self.spans.on_end(s);
                spans += 1;
            } else {
                dropped_spans += 1;
            }
        }
        for l in taken.logs {
            if !self.log_flow.admit() {
                dropped_logs += 1;
                continue;
            }
            logs += 1;
            let mut r = self.logger.create_log_record();
            r.set_event_name("coresdk.decision");
            r.set_timestamp(l.time);
            r.set_observed_timestamp(l.time);
            r.set_severity_number(Severity::Info);
            r.set_severity_text("INFO");
            r.set_body(l.body.into());
            if let Some((trace, span, flags)) = l.trace {
                r.set_trace_context(trace, span, Some(flags));
            }
            for kv in l.attributes {
                r.add_attribute(kv.key, any(kv.value));
            }
            self.logger.emit(r);
        }
        c.spans.fetch_add(spans, Ordering::Relaxed);
        c.logs.fetch_add(logs, Ordering::Relaxed);
        c.dropped_spans.fetch_add(dropped_spans, Ordering::Relaxed);
        c.dropped_logs.fetch_add(dropped_logs, Ordering::Relaxed);
    }
}

/// An attribute value as a log record holds it.
fn any(v: opentelemetry::Value) -> AnyValue {
    match v {
        opentelemetry::Value::Bool(b) => AnyValue::Boolean(b),
        opentelemetry::Value::I64(i) => AnyValue::Int(i),
        opentelemetry::Value::F64(f) => AnyValue::Double(f),
        other => AnyValue::String(other.as_str().into_owned().into()),
    }
}

/// The resource of every signal: the SDK's (`OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_SERVICE_NAME`), with `service.name` `coresdk-sidecar` unless the
/// environment names one.
fn resource() -> Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| {
            v.split(',')
                .any(|kv| kv.trim().starts_with("service.name="))
        });
    let b = Resource::builder();
    if named {
        b.build()
    } else {
        b.with_service_name(SCOPE).build()
    }
}

/// The OTLP/HTTP exporters' blocking clients, one per export timeout, so
/// that the three signals normally share one (its thread, runtime,
/// connection pool and TLS roots). A client's timeout bounds each request,
/// as the SDK's own client does.
#[derive(Default)]
struct HttpClients(std::collections::BTreeMap<Duration, reqwest::blocking::Client>);

impl HttpClients {
    /// The client for a signal whose timeout variable is `signal_var`.
    fn get(
        &mut self,
        signal: &str,
        signal_var: &str,
    ) -> Result<reqwest::blocking::Client, SidecarError> {
        let timeout = export_timeout(|k| std::env::var(k).ok(), signal_var);
        if let Some(c) = self.0.get(&timeout) {
            return Ok(c.clone());
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| build_error(signal, e))?;
        self.0.insert(timeout, client.clone());
        Ok(client)
    }
}

/// A signal's export timeout as the SDK resolves it: its own variable, else
/// `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds; else 10 s.
fn export_timeout(get: impl Fn(&str) -> Option<String>, signal_var: &str) -> Duration {
    [signal_var, "OTEL_EXPORTER_OTLP_TIMEOUT"]
        .iter()
        .find_map(|k| get(k).and_then(|v| v.parse::<u64>().ok()))
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

fn build_error(signal: &str, e: impl std::fmt::Display) -> SidecarError {
    SidecarError::config(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("cannot build the OTLP {signal} exporter: {e}"),
    )
}

impl Export {
    /// Builds the exporters (from the `OTEL_*` variables the SDK reads:
    /// endpoints, headers, timeouts, compression), the recorder for
    /// `tenants`, and starts the pump. Nothing is sent until a call is
    /// recorded or metrics are collected.
    pub fn start(
        settings: &OtlpSettings,
        tenants: Arc<Tenants>,
        events: EventSink,
    ) -> Result<Export, SidecarError> {
        // Built on a thread of its own at a lower priority: every thread
        // the SDK, the exporters and the pump start inherits it.
        let settings = settings.clone();
        std::thread::Builder::new()
            .name("coresdk-otlp-init".into())
            .spawn(move || {
                yield_to_data_plane();
                Export::build(&settings, tenants, events)
            })
            .map_err(|e| SidecarError::config("OTEL_EXPORTER_OTLP_ENDPOINT", e.to_string()))?
            .join()
            .map_err(|_| {
                SidecarError::config(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "building the OTLP export failed",
                )
            })?
    }

    fn build(
        settings: &OtlpSettings,
        tenants: Arc<Tenants>,
        events: EventSink,
    ) -> Result<Export, SidecarError> {
        // Only gRPC exporters need a runtime (tonic's channel lives there);
        // an all-HTTP export starts none, one thread fewer.
        let runtime = if settings.transports.contains(&Transport::Grpc) {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("coresdk-otlp")
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        SidecarError::config("OTEL_EXPORTER_OTLP_ENDPOINT", e.to_string())
                    })?,
            )
        } else {
            None
        };
        let failures = Arc::new(Failures {
            events: events.clone(),
            throttle: Throttle::new(Duration::from_secs(10)),
            count: AtomicU64::new(0),
        });
        let span_flow = Arc::new(Flow::new(queue_capacity("OTEL_BSP_MAX_QUEUE_SIZE")));
        let log_flow = Arc::new(Flow::new(queue_capacity("OTEL_BLRP_MAX_QUEUE_SIZE")));
        let reported = |signal: &'static str, flow: Option<&Arc<Flow>>| {
            (signal, failures.clone(), flow.cloned())
        };
        fn wrap<E>(
            inner: E,
            (signal, failures, flow): (&'static str, Arc<Failures>, Option<Arc<Flow>>),
        ) -> Reported<E> {
            Reported {
                inner,
                signal,
                failures,
                flow,
            }
        }
        let resource = resource();
        let [tt, mt, lt] = settings.transports;

        // gRPC exporters are built inside their runtime (tonic's channel
        // lives there); HTTP ones outside it, on one blocking client per
        // export timeout (the SDK would build one, with its own thread,
        // runtime and TLS roots, per signal).
        let mut clients = HttpClients::default();
        macro_rules! exporter {
            ($kind:ident, $transport:expr, $signal:literal, $timeout_var:literal) => {{
                let b = opentelemetry_otlp::$kind::builder();
                match $transport {
                    Transport::Grpc => {
                        let _in = runtime.as_ref().map(|r| r.enter());
                        b.with_tonic().build()
                    }
                    Transport::HttpProtobuf => b
                        .with_http()
                        .with_protocol(Protocol::HttpBinary)
                        .with_http_client(clients.get($signal, $timeout_var)?)
                        .build(),
                }
                .map_err(|e| build_error($signal, e))?
            }};
        }
        let span_exporter = exporter!(
            SpanExporter,
            tt,
            "trace",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
        );
        let metric_exporter = exporter!(
            MetricExporter,
            mt,
            "metric",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
        );
        let log_exporter = exporter!(LogExporter, lt, "log", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT");

        // The SDK reads its OTEL_BSP_* / OTEL_BLRP_* variables in
        // default(); ours apply only where they are not set.
        let mut span_config = BatchConfigBuilder::default();
        if !env_sets("OTEL_BSP_MAX_QUEUE_SIZE") {
            span_config = span_config.with_max_queue_size(SDK_QUEUE);
        }
        if !env_sets("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            span_config = span_config.with_max_export_batch_size(SDK_BATCH);
        }
        if !env_sets("OTEL_BSP_SCHEDULE_DELAY") {
            span_config = span_config.with_scheduled_delay(SDK_DELAY);
        }
        let mut spans =
            BatchSpanProcessor::builder(wrap(span_exporter, reported("traces", Some(&span_flow))))
                .with_batch_config(span_config.build())
                .build();
        spans.set_resource(&resource);
        let mut log_config = LogBatchConfigBuilder::default();
        if !env_sets("OTEL_BLRP_MAX_QUEUE_SIZE") {
            log_config = log_config.with_max_queue_size(SDK_QUEUE);
        }
        if !env_sets("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE") {
            log_config = log_config.with_max_export_batch_size(SDK_BATCH);
        }
        if !env_sets("OTEL_BLRP_SCHEDULE_DELAY") {
            log_config = log_config.with_scheduled_delay(SDK_DELAY);
        }
        let log_processor =
            BatchLogProcessor::builder(wrap(log_exporter, reported("logs", Some(&log_flow))))
                .with_batch_config(log_config.build())
                .build();
        let logger_provider = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_log_processor(log_processor)
            .build();
        let logger = logger_provider.logger_with_scope(
            opentelemetry::InstrumentationScope::builder(SCOPE)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let reader = PeriodicReader::builder(wrap(metric_exporter, reported("metrics", None)))
            .with_interval(settings.metric_interval)
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(reader)
            .build();
        let meter = meter_provider.meter_with_scope(
            opentelemetry::InstrumentationScope::builder(SCOPE)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let recorder = Arc::new(Recorder::new(
            settings.telemetry.clone(),
            tenants.iter().map(|t| t.id.clone()).collect(),
            &meter,
        ));
        let pipeline = Arc::new(Pipeline {
            recorder: recorder.clone(),
            tenants: tenants.clone(),
            spans,
            logger_provider,
            logger,
            meter_provider,
            counts: Counts::default(),
            span_flow,
            log_flow,
        });
        observe(&meter, &pipeline);

        let stop = Arc::new(AtomicBool::new(false));
        let pump = {
            let (p, stop) = (pipeline.clone(), stop.clone());
            std::thread::Builder::new()
                .name("coresdk-otlp-pump".into())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        std::thread::park_timeout(PUMP_INTERVAL);
                        p.pump();
                    }
                })
                .map_err(|e| SidecarError::config("OTEL_EXPORTER_OTLP_ENDPOINT", e.to_string()))?
        };
        (events)(
            Event::new(
                Level::Info,
                "telemetry",
                "exporting per-call spans, metrics and the decision log over OTLP",
            )
            .with("endpoint", settings.endpoint.clone())
            .with("protocol", tt.as_str()),
        );
        Ok(Export {
            recorder,
            pipeline,
            stop,
            pump: Mutex::new(Some(pump)),
            runtime: Mutex::new(runtime),
            failures,
        })
    }

    /// The recorder the handlers record into.
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// Takes what is left, exports everything buffered (each exporter
    /// bounded by its timeout, `OTEL_EXPORTER_OTLP_TIMEOUT`) and stops.
    /// Idempotent; call after the data plane drained.
    pub fn shutdown(&self) -> ExportStats {
        self.stop.store(true, Ordering::Release);
        if let Some(pump) = self.pump.lock().unwrap_or_else(|p| p.into_inner()).take() {
            pump.thread().unpark();
            let _ = pump.join();
            let p = &self.pipeline;
            p.pump();
            let _ = p.spans.force_flush();
            let _ = p.spans.shutdown();
            let _ = p.logger_provider.shutdown();
            let _ = p.meter_provider.shutdown();
        }
        if let Some(rt) = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            rt.shutdown_timeout(Duration::from_millis(500));
        }
        let c = &self.pipeline.counts;
        ExportStats {
            spans: c.spans.load(Ordering::Relaxed),
            logs: c.logs.load(Ordering::Relaxed),
            exported_spans: self.pipeline.span_flow.exported.load(Ordering::Relaxed),
            exported_logs: self.pipeline.log_flow.exported.load(Ordering::Relaxed),
            dropped_spans: c.dropped_spans.load(Ordering::Relaxed),
            dropped_logs: c.dropped_logs.load(Ordering::Relaxed),
            failed_exports: self.failures.count.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Instruments read at each collection: key-set fetches, remote bundle
/// loads and age (from each tenant), and what the queues dropped.
fn observe(meter: &opentelemetry::metrics::Meter, p: &Arc<Pipeline>) {
    let t = p.tenants.clone();
    meter
        .u64_observable_counter("coresdk.jwks.refreshes")
        .with_description("Key-set (JWKS) fetches, by outcome")
        .with_callback(move |o| {
            for tenant in t.iter() {
                if let Some(k) = tenant.engine.key_status() {
                    if k.source.starts_with("jwks_url") || k.source.starts_with("oidc_issuer") {
                        let id = KeyValue::new("tenant", tenant.id.clone());
                        o.observe(
                            k.refreshes_ok,
                            &[id.clone(), KeyValue::new("outcome", "success")],
                        );
                        o.observe(
                            k.refreshes_failed,
                            &[id, KeyValue::new("outcome", "failure")],
                        );
                    }
                }
            }
        })
        .build();
    let t = p.tenants.clone();
    meter
        .u64_observable_counter("coresdk.bundle.loads")
        .with_description(
            "Remote policy bundle loads, by outcome (activated, unchanged, refused, failed)",
        )
        .with_callback(move |o| {
            for tenant in t.iter() {
                let b = tenant.engine.bundle_status();
                if b.source != "remote" {
                    continue;
                }
                for (outcome, count) in [
                    ("activated", b.loads.activated),
                    ("unchanged", b.loads.unchanged),
                    ("refused", b.loads.refused),
                    ("failed", b.loads.failed),
                ] {
                    o.observe(
                        count,
                        &[
                            KeyValue::new("tenant", tenant.id.clone()),
                            KeyValue::new("outcome", outcome),
                        ],
                    );
                }
            }
        })
        .build();
    let t = p.tenants.clone();
    meter
        .f64_observable_gauge("coresdk.bundle.age")
        .with_description("Seconds since the bundle server last confirmed the serving bundle")
        .with_unit("s")
        .with_callback(move |o| {
            for tenant in t.iter() {
                let b = tenant.engine.bundle_status();
                if let Some(age) = b
                    .confirmed_at
                    .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
                {
                    o.observe(
                        age.as_secs_f64(),
                        &[KeyValue::new("tenant", tenant.id.clone())],
                    );
                }
            }
        })
        .build();
    let weak = Arc::downgrade(p);
    meter
        .u64_observable_counter("coresdk.telemetry.spans.dropped")
        .with_description("Spans the data plane dropped because its queue was full")
        .with_callback(move |o| {
            if let Some(p) = weak.upgrade() {
                o.observe(p.counts.dropped_spans.load(Ordering::Relaxed), &[]);
            }
        })
        .build();
    let weak = Arc::downgrade(p);
    meter
        .u64_observable_counter("coresdk.decision_log.dropped")
        .with_description("Decision-log records dropped because the buffer was full")
        .with_callback(move |o| {
            if let Some(p) = weak.upgrade() {
                o.observe(p.counts.dropped_logs.load(Ordering::Relaxed), &[]);
            }
        })
        .build();
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use super::*;

    #[test]
    fn export_timeouts_as_the_sdk_resolves_them() {
        fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
            let owned: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |k: &str| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        }
        let traces = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
        let general = "OTEL_EXPORTER_OTLP_TIMEOUT";
        assert_eq!(export_timeout(env(&[]), traces), Duration::from_secs(10));
        assert_eq!(
            export_timeout(env(&[(general, "2500")]), traces),
            Duration::from_millis(2500)
        );
        assert_eq!(
            export_timeout(env(&[(traces, "700"), (general, "2500")]), traces),
            Duration::from_millis(700)
        );
        assert_eq!(
            export_timeout(env(&[(traces, "x"), (general, "2500")]), traces),
            Duration::from_millis(2500)
        );
    }

    #[test]
    fn a_flow_admits_up_to_its_queue_and_frees_places_as_exports_settle() {
        let flow = Flow::new(3);
        assert!((0..3).all(|_| flow.admit()));
        assert!(!flow.admit(), "the SDK's queue would be full");
        {
            // An export of two records ends (sent, failed or abandoned).
            let _settle = Settle(&flow, 2);
        }
        assert!(flow.admit() && flow.admit());
        assert!(!flow.admit());
        assert_eq!(flow.handed.load(Ordering::Relaxed), 5);
        assert_eq!(flow.exported.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_abandoned_export_still_settles_its_records() {
        let flow = Flow::new(1);
        assert!(flow.admit());
        // The SDK drops an export future at its timeout: the guard it held
        // settles the records all the same.
        let mut abandoned = Box::pin(async {
            let _settle = Settle(&flow, 1);
            std::future::pending::<()>().await;
        });
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(abandoned.as_mut().poll(&mut cx).is_pending());
        assert!(!flow.admit(), "the export still holds its place");
        drop(abandoned);
        assert!(flow.admit());
    }
}
