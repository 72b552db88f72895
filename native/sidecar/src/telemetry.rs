//! Per-call telemetry of the data plane, recorded in Rust.
//!
//! Every call the sidecar answers produces, when telemetry is on:
//!
//! - a **span** (`coresdk.v1.CoreSDK/<Method>`, kind server) in the trace
//!   named by the call's `traceparent` metadata (read with the W3C
//!   [`TraceContextPropagator`]), when the sampler (the OpenTelemetry SDK's,
//!   from `OTEL_TRACES_SAMPLER`) says so. It carries `coresdk.decision`,
//!   `coresdk.reason`, `coresdk.policy.revision`, `coresdk.tenant`, the
//!   (masked) query and the gRPC status, never the token, the claims or the
//!   subject;
//! - **measurements** on the SDK's instruments: `coresdk.authz.decisions`
//!   (by decision, reason, method, tenant) and
//!   `coresdk.authz.decision.duration` (seconds, [`DURATION_BOUNDARIES`]),
//!   `coresdk.pii.masked` (by entity);
//! - a **decision-log record** (`decision_log = "decisions"`, the default;
//!   `"input"` adds the policy input, PII-masked).
//!
//! The call path fills a few fields, adds to the SDK's counters and pushes
//! onto bounded lock-free queues ([`crate::bounded_queue::BoundedQueue`],
//! whose memory follows what they hold); a full queue drops the record and
//! counts it, it never blocks or grows past its bound. Masking
//! and the SDK's span and log records are made later, off the call path,
//! when the exporter ([`crate::otlp`]) drains the queues with
//! [`Recorder::take`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::bounded_queue::BoundedQueue;
use coresdk_engine::pii::{MaskCounts, Masker};
use coresdk_engine::DecisionLog;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample, SpanData, SpanEvents,
    SpanLinks,
};
use serde_json::Value;

/// Bucket boundaries of `coresdk.authz.decision.duration`, in seconds: from
/// 10 µs (a cached decision) to 1 s. The TypeScript middleware uses the
/// same boundaries, so in-process and sidecar histograms merge.
pub const DURATION_BOUNDARIES: [f64; 16] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0,
];

/// Largest policy input, in bytes of JSON, copied into a decision-log
/// record; a larger one is noted as omitted.
pub const MAX_LOGGED_INPUT_BYTES: usize = 64 * 1024;

/// The instrumentation scope of every signal.
pub const SCOPE: &str = "coresdk-sidecar";

/// The OpenTelemetry SDK sampler named by `OTEL_TRACES_SAMPLER` and
/// `OTEL_TRACES_SAMPLER_ARG`: `always_on`, `always_off`, `traceidratio`,
/// `parentbased_always_on` (the default), `parentbased_always_off`,
/// `parentbased_traceidratio`. The ratio defaults to 1.0. Errors name the
/// variable.
pub fn sampler_from_otel(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, String> {
    let ratio = || -> Result<f64, String> {
        match arg.map(str::trim).filter(|a| !a.is_empty()) {
            None => Ok(1.0),
            Some(a) => match a.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(format!(
                    "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got {a:?}"
                )),
            },
        }
    };
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    Ok(match name.unwrap_or("parentbased_always_on") {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
        "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
        }
        other => {
            return Err(format!(
                "OTEL_TRACES_SAMPLER {other:?} is not supported here; use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
            ))
        }
    })
}

/// What is recorded, and how much may wait for the exporter.
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// Which calls get a span.
    pub sampler: Sampler,
    /// What the decision log records.
    pub decision_log: DecisionLog,
    /// Spans held between two [`Recorder::take`]s; more are dropped and
    /// counted. Default 4,096 (the pump drains every 50 ms).
    pub max_queued_spans: usize,
    /// Decision-log records held between two takes. Default 4,096.
    pub max_queued_logs: usize,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        TelemetryOptions {
            sampler: Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            decision_log: DecisionLog::Decisions,
            max_queued_spans: 4096,
            max_queued_logs: 4096,
        }
    }
}

/// The `traceparent` (and `tracestate`) a call arrived with, as the
/// propagator reads them.
struct Carrier<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// The gRPC method a call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `Authorize`.
    Authorize,
    /// `VerifyToken`.
    VerifyToken,
    /// `EvaluatePolicy`.
    EvaluatePolicy,
    /// `EvaluatePolicies`.
    EvaluatePolicies,
    /// `MaskPii`.
    MaskPii,
    /// AuthZEN `POST /access/v1/evaluation`.
    AuthzenEvaluation,
    /// AuthZEN `POST /access/v1/evaluations`.
    AuthzenEvaluations,
    /// AuthZEN `POST /access/v1/search/subject`.
    AuthzenSearchSubject,
    /// AuthZEN `POST /access/v1/search/resource`.
    AuthzenSearchResource,
    /// AuthZEN `POST /access/v1/search/action`.
    AuthzenSearchAction,
}

impl Method {
    /// The span name: `coresdk.v1.CoreSDK/<Method>`.
    pub fn span_name(self) -> &'static str {
        match self {
            Method::Authorize => "coresdk.v1.CoreSDK/Authorize",
            Method::VerifyToken => "coresdk.v1.CoreSDK/VerifyToken",
            Method::EvaluatePolicy => "coresdk.v1.CoreSDK/EvaluatePolicy",
            Method::EvaluatePolicies => "coresdk.v1.CoreSDK/EvaluatePolicies",
            Method::MaskPii => "coresdk.v1.CoreSDK/MaskPii",
            Method::AuthzenEvaluation => "POST /access/v1/evaluation",
            Method::AuthzenEvaluations => "POST /access/v1/evaluations",
            Method::AuthzenSearchSubject => "POST /access/v1/search/subject",
            Method::AuthzenSearchResource => "POST /access/v1/search/resource",
            Method::AuthzenSearchAction => "POST /access/v1/search/action",
        }
    }

    /// The HTTP route of an AuthZEN call; `None` for gRPC methods.
    pub fn http_route(self) -> Option<&'static str> {
        self.span_name().strip_prefix("POST ")
    }

    /// The method's name in the service.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Authorize => "Authorize",
            Method::VerifyToken => "VerifyToken",
            Method::EvaluatePolicy => "EvaluatePolicy",
            Method::EvaluatePolicies => "EvaluatePolicies",
            Method::MaskPii => "MaskPii",
            Method::AuthzenEvaluation => "authzen.evaluation",
            Method::AuthzenEvaluations => "authzen.evaluations",
            Method::AuthzenSearchSubject => "authzen.search.subject",
            Method::AuthzenSearchResource => "authzen.search.resource",
            Method::AuthzenSearchAction => "authzen.search.action",
        }
    }
}

/// One decision a call made (a batch makes several).
#[derive(Debug, Clone, Default)]
pub struct DecisionFacts {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// `allowed`, `denied`, `undefined`, or an error code.
    pub reason: Cow<'static, str>,
    /// The query (masked before it leaves).
    pub query: String,
    /// The policy input's JSON text, kept only for `decision_log = "input"`.
    pub input: Option<String>,
}

/// What a handler learned while answering; filled as it goes.
#[derive(Debug, Default)]
pub struct CallFacts {
    /// The tenant's position in the sidecar's tenant list, once resolved.
    pub tenant: Option<usize>,
    /// The policy revision that decided.
    pub revision: Option<Arc<str>>,
    /// The decisions made (none for `MaskPii`, several for a batch).
    pub decisions: Vec<DecisionFacts>,
    /// Values masked by `MaskPii`, by entity.
    pub masked: Option<MaskCounts>,
    /// The error code when the call failed (the status's `ErrorInfo`
    /// reason); filled by the service from the status.
    pub error_code: Option<Cow<'static, str>>,
}

/// A call being recorded: [`Recorder::begin`] to [`Recorder::finish`].
#[derive(Debug)]
pub struct Call {
    method: Method,
    started: Instant,
    start_time: SystemTime,
    trace_id: TraceId,
    parent: Option<SpanContext>,
    sampled: bool,
    /// What the handler learned.
    pub facts: CallFacts,
}

#[derive(Debug)]
struct SpanRecord {
    method: Method,
    trace_id: TraceId,
    span_id: SpanId,
    parent: Option<SpanContext>,
    start: SystemTime,
    duration: Duration,
    grpc_code: i32,
    tenant: Option<usize>,
    revision: Option<Arc<str>>,
    decisions: Vec<DecisionFacts>,
    masked_total: u64,
    error_code: Option<Cow<'static, str>>,
}

#[derive(Debug)]
struct LogRecord {
    method: Method,
    time: SystemTime,
    trace: Option<(TraceId, SpanId, TraceFlags)>,
    tenant: Option<usize>,
    revision: Option<Arc<str>>,
    decision: DecisionFacts,
    duration: Duration,
}

/// The SDK instruments the call path adds to.
struct Instruments {
    decisions: Counter<u64>,
    duration: Histogram<f64>,
    pii: Counter<u64>,
}

/// One decision-log record, masked, ready for the SDK's logger.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// When the call ended.
    pub time: SystemTime,
    /// The call's span (or its caller's, when the call was not sampled).
    pub trace: Option<(TraceId, SpanId, TraceFlags)>,
    /// `allow data.authz.allow`, `deny Authorize`.
    pub body: String,
    /// `rpc.method`, `coresdk.decision`, `coresdk.reason`, `coresdk.query`,
    /// `coresdk.tenant`, `coresdk.policy.revision`, `coresdk.duration_ms`,
    /// and `coresdk.input` with `decision_log = "input"`.
    pub attributes: Vec<KeyValue>,
}

/// What [`Recorder::take`] drained, masked and ready for the SDK.
#[derive(Debug, Default)]
pub struct Taken {
    /// Finished spans.
    pub spans: Vec<SpanData>,
    /// Decision-log records.
    pub logs: Vec<DecisionRecord>,
    /// Spans dropped (queue full) since the last take.
    pub dropped_spans: u64,
    /// Decision-log records dropped since the last take.
    pub dropped_logs: u64,
}

/// The data plane's telemetry: the SDK's instruments, and queues of spans
/// and decision-log records for the exporter. Shared by every handler; see
/// the module docs.
pub struct Recorder {
    opts: TelemetryOptions,
    tenant_ids: Vec<Arc<str>>,
    spans: BoundedQueue<SpanRecord>,
    logs: BoundedQueue<LogRecord>,
    dropped_spans: AtomicU64,
    dropped_logs: AtomicU64,
    instruments: Instruments,
    propagator: TraceContextPropagator,
    ids: RandomIdGenerator,
    scope: InstrumentationScope,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for the tenants `tenant_ids` (in the sidecar's order),
    /// measuring with `meter`.
    pub fn new(opts: TelemetryOptions, tenant_ids: Vec<String>, meter: &Meter) -> Recorder {
        let instruments = Instruments {
            decisions: meter
                .u64_counter("coresdk.authz.decisions")
                .with_description("Authorization decisions, by decision and reason")
                .build(),
            duration: meter
                .f64_histogram("coresdk.authz.decision.duration")
                .with_description("Time to verify and decide")
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            pii: meter
                .u64_counter("coresdk.pii.masked")
                .with_description("Values masked, by entity type")
                .build(),
        };
        Recorder {
            spans: BoundedQueue::new(opts.max_queued_spans),
            logs: BoundedQueue::new(opts.max_queued_logs),
            opts,
            tenant_ids: tenant_ids.into_iter().map(Arc::from).collect(),
            dropped_spans: AtomicU64::new(0),
            dropped_logs: AtomicU64::new(0),
            instruments,
            propagator: TraceContextPropagator::new(),
            ids: RandomIdGenerator::default(),
            scope: InstrumentationScope::builder(SCOPE)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        }
    }

    /// What the decision log records.
    pub fn decision_log(&self) -> DecisionLog {
        self.opts.decision_log
    }

    /// Starts recording a call that arrived with W3C trace context
    /// (`traceparent`, `tracestate`), if any. A malformed `traceparent`
    /// starts a new trace, as the W3C recommendation says.
    pub fn begin(
        &self,
        method: Method,
        traceparent: Option<&str>,
        tracestate: Option<&str>,
    ) -> Call {
        let cx = self.propagator.extract(&Carrier {
            traceparent,
            tracestate,
        });
        let parent = {
            let sc = cx.span().span_context().clone();
            sc.is_valid().then_some(sc)
        };
        let trace_id = parent
            .as_ref()
            .map_or_else(|| self.ids.new_trace_id(), SpanContext::trace_id);
        let sampled = self
            .opts
            .sampler
            .should_sample(
                Some(&cx),
                trace_id,
                method.span_name(),
                &SpanKind::Server,
                &[],
                &[],
            )
            .decision
            == SamplingDecision::RecordAndSample;
        Call {
            method,
            started: Instant::now(),
            start_time: SystemTime::now(),
            trace_id,
            sampled,
            parent,
            facts: CallFacts::default(),
        }
    }

    fn tenant(&self, i: Option<usize>) -> Option<&Arc<str>> {
        i.and_then(|i| self.tenant_ids.get(i))
    }

    /// Ends a call with its gRPC status code (the HTTP status for AuthZEN):
    /// counts its decisions, queues its span (when sampled) and its
    /// decision-log records. Never blocks.
    pub fn finish(&self, call: Call, grpc_code: i32) {
        let duration = call.started.elapsed();
        let Call {
            method,
            start_time,
            trace_id,
            parent,
            sampled,
            mut facts,
            ..
        } = call;
        if facts.decisions.is_empty() && method != Method::MaskPii {
            // Failed before deciding (unknown tenant, message too large...):
            // for a decision call that is a deny, with the error as reason.
            facts.decisions.push(DecisionFacts {
                decision: "deny",
                reason: facts
                    .error_code
                    .clone()
                    .unwrap_or(Cow::Borrowed("ERR_INTERNAL")),
                ..Default::default()
            });
        }
        let tenant = self.tenant(facts.tenant).cloned();
        let single = facts.decisions.len() == 1
            && method != Method::EvaluatePolicies
            && method != Method::AuthzenEvaluations;
        for d in &facts.decisions {
            let mut attrs = Vec::with_capacity(4);
            attrs.push(KeyValue::new("decision", d.decision));
            attrs.push(KeyValue::new("rpc.method", method.as_str()));
            if let Some(t) = &tenant {
                attrs.push(KeyValue::new("tenant", t.clone()));
            }
            if single {
                self.instruments
                    .duration
                    .record(duration.as_secs_f64(), &attrs);
            }
            attrs.push(KeyValue::new("reason", d.reason.clone()));
            self.instruments.decisions.add(1, &attrs);
        }
        let masked_total = match facts.masked.take() {
            Some(counts) if !counts.is_empty() => {
                let mut total = 0;
                for (k, v) in counts {
                    total += v;
                    self.instruments.pii.add(v, &[KeyValue::new("entity", k)]);
                }
                total
            }
            _ => 0,
        };
        let span_id = self.ids.new_span_id();
        if self.opts.decision_log != DecisionLog::Off {
            let trace = if sampled {
                Some((trace_id, span_id, TraceFlags::SAMPLED))
            } else {
                parent
                    .as_ref()
                    .map(|p| (p.trace_id(), p.span_id(), p.trace_flags()))
            };
            for d in &facts.decisions {
                let rec = LogRecord {
                    method,
                    time: start_time + duration,
                    trace,
                    tenant: facts.tenant,
                    revision: facts.revision.clone(),
                    decision: d.clone(),
                    duration,
                };
                if self.logs.push(rec).is_err() {
                    self.dropped_logs.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if sampled {
            let rec = SpanRecord {
                method,
                trace_id,
                span_id,
                parent,
                start: start_time,
                duration,
                grpc_code,
                tenant: facts.tenant,
                revision: facts.revision,
                decisions: facts.decisions,
                masked_total,
                error_code: facts.error_code,
            };
            if self.spans.push(rec).is_err() {
                self.dropped_spans.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Drains the queues into the SDK's span data and decision-log records,
    /// masking the queries and inputs with `masker_of(tenant)` (the
    /// tenant's own masker) and counting what was masked. Runs off the call
    /// path, on the exporter's thread.
    pub fn take<'m>(&self, masker_of: impl Fn(Option<usize>) -> &'m Masker) -> Taken {
        let mut counts = MaskCounts::new();
        let mut out = Taken::default();
        // A service asks a handful of distinct queries: each is masked once
        // per take, not once per record (its counts are added per record).
        let mut queries: HashMap<(Option<usize>, String), (String, MaskCounts)> = HashMap::new();
        let mut mask_query = |tenant: Option<usize>, q: &str, counts: &mut MaskCounts| -> String {
            let (masked, c) = queries.entry((tenant, q.to_string())).or_insert_with(|| {
                let mut c = MaskCounts::new();
                let m = masker_of(tenant).mask_counting(q, &mut c).into_owned();
                (m, c)
            });
            for (k, v) in c.iter() {
                *counts.entry(k.clone()).or_insert(0) += v;
            }
            masked.clone()
        };
        while let Some(s) = self.spans.pop() {
            // Server spans are errors for these codes only (OpenTelemetry's
            // RPC and HTTP conventions); a refused token is an answer, not a fault.
            let route = s.method.http_route();
            let error = match route {
                Some(_) => s.grpc_code >= 500,
                None => matches!(s.grpc_code, 2 | 4 | 12 | 13 | 14 | 15),
            };
            let mut a: Vec<KeyValue> = Vec::with_capacity(12);
            match route {
                Some(route) => {
                    a.push(KeyValue::new("rpc.system", "authzen"));
                    a.push(KeyValue::new("rpc.method", s.method.as_str()));
                    a.push(KeyValue::new("http.request.method", "POST"));
                    a.push(KeyValue::new("http.route", route));
                    a.push(KeyValue::new(
                        "http.response.status_code",
                        i64::from(s.grpc_code),
                    ));
                }
                None => {
                    a.push(KeyValue::new("rpc.system", "grpc"));
                    a.push(KeyValue::new("rpc.service", "coresdk.v1.CoreSDK"));
                    a.push(KeyValue::new("rpc.method", s.method.as_str()));
                    a.push(KeyValue::new(
                        "rpc.grpc.status_code",
                        i64::from(s.grpc_code),
                    ));
                }
            }
            if let Some(t) = self.tenant(s.tenant) {
                a.push(KeyValue::new("coresdk.tenant", t.clone()));
            }
            if let Some(r) = &s.revision {
                a.push(KeyValue::new("coresdk.policy.revision", r.clone()));
            }
            match s.decisions.as_slice() {
                [d] => {
                    a.push(KeyValue::new("coresdk.decision", d.decision));
                    a.push(KeyValue::new("coresdk.reason", d.reason.clone()));
                    if !d.query.is_empty() {
                        a.push(KeyValue::new(
                            "coresdk.query",
                            mask_query(s.tenant, &d.query, &mut counts),
                        ));
                    }
                }
                [] => {}
                many => {
                    let allowed = many.iter().filter(|d| d.decision == "allow").count();
                    a.push(KeyValue::new("coresdk.batch.size", many.len() as i64));
                    a.push(KeyValue::new("coresdk.batch.allowed", allowed as i64));
                }
            }
            if s.method == Method::MaskPii {
                a.push(KeyValue::new("coresdk.pii.masked", s.masked_total as i64));
            }
            let trace_state = s
                .parent
                .as_ref()
                .map_or_else(TraceState::default, |p| p.trace_state().clone());
            out.spans.push(SpanData {
                span_context: SpanContext::new(
                    s.trace_id,
                    s.span_id,
                    TraceFlags::SAMPLED,
                    false,
                    trace_state,
                ),
                parent_span_id: s.parent.as_ref().map_or(SpanId::INVALID, |p| p.span_id()),
                parent_span_is_remote: s.parent.is_some(),
                span_kind: SpanKind::Server,
                name: Cow::Borrowed(s.method.span_name()),
                start_time: s.start,
                end_time: s.start + s.duration,
                attributes: a,
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: if error {
                    Status::error(
                        s.error_code
                            .clone()
                            .unwrap_or(Cow::Borrowed("ERR_INTERNAL")),
                    )
                } else {
                    Status::Unset
                },
                instrumentation_scope: self.scope.clone(),
            });
        }
        while let Some(l) = self.logs.pop() {
            let masker = masker_of(l.tenant);
            let query = mask_query(l.tenant, &l.decision.query, &mut counts);
            let input = l.decision.input.as_ref().map(|input| {
                if input.len() > MAX_LOGGED_INPUT_BYTES {
                    format!(
                        "[omitted: {} bytes, over {MAX_LOGGED_INPUT_BYTES}]",
                        input.len()
                    )
                } else {
                    match serde_json::from_str::<Value>(input) {
                        Ok(mut v) => {
                            // Verified claims travel as `input.claims` by
                            // convention; the log never carries them.
                            if let Value::Object(members) = &mut v {
                                members.remove("claims");
                            }
                            mask_json(masker, &v, false, &mut counts).to_string()
                        }
                        Err(_) => "[omitted: not JSON]".to_string(),
                    }
                }
            });
            let body = if query.is_empty() {
                format!("{} {}", l.decision.decision, l.method.as_str())
            } else {
                format!("{} {}", l.decision.decision, query)
            };
            let mut a = vec![
                KeyValue::new("rpc.method", l.method.as_str()),
                KeyValue::new("coresdk.decision", l.decision.decision),
                KeyValue::new("coresdk.reason", l.decision.reason.clone()),
            ];
            if !query.is_empty() {
                a.push(KeyValue::new("coresdk.query", query));
            }
            if let Some(t) = self.tenant(l.tenant) {
                a.push(KeyValue::new("coresdk.tenant", t.clone()));
            }
            if let Some(r) = &l.revision {
                a.push(KeyValue::new("coresdk.policy.revision", r.clone()));
            }
            a.push(KeyValue::new(
                "coresdk.duration_ms",
                l.duration.as_secs_f64() * 1000.0,
            ));
            if let Some(input) = input {
                a.push(KeyValue::new("coresdk.input", input));
            }
            out.logs.push(DecisionRecord {
                time: l.time,
                trace: l.trace,
                body,
                attributes: a,
            });
        }
        for (k, v) in counts {
            self.instruments.pii.add(v, &[KeyValue::new("entity", k)]);
        }
        out.dropped_spans = self.dropped_spans.swap(0, Ordering::Relaxed);
        out.dropped_logs = self.dropped_logs.swap(0, Ordering::Relaxed);
        out
    }
}

/// Masks a JSON document for the decision log: every string through the
/// masker, and whole values under sensitive member names (`password`,
/// `authorization`, ...).
pub fn mask_json(masker: &Masker, v: &Value, sensitive: bool, counts: &mut MaskCounts) -> Value {
    match v {
        Value::String(s) => Value::String(masker.mask_value(sensitive, s, counts).into_owned()),
        Value::Number(n) if sensitive => {
            Value::String(masker.mask_value(true, &n.to_string(), counts).into_owned())
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| mask_json(masker, i, sensitive, counts))
                .collect(),
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| {
                    let s = sensitive || masker.is_sensitive_name(k);
                    (k.clone(), mask_json(masker, v, s, counts))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker() -> Masker {
        Masker::new(&Default::default()).unwrap()
    }

    fn recorder(opts: TelemetryOptions, tenants: Vec<String>) -> Recorder {
        Recorder::new(opts, tenants, &opentelemetry::global::meter("test"))
    }

    /// A recorder for tenant `acme` whose decision log carries inputs.
    fn logging_inputs() -> Recorder {
        recorder(
            TelemetryOptions {
                decision_log: DecisionLog::Input,
                ..Default::default()
            },
            vec!["acme".into()],
        )
    }

    fn attr<'a>(a: &'a [KeyValue], k: &str) -> Option<&'a opentelemetry::Value> {
        a.iter().find(|kv| kv.key.as_str() == k).map(|kv| &kv.value)
    }

    fn text(a: &[KeyValue], k: &str) -> String {
        attr(a, k)
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default()
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn samplers_follow_the_otel_names() {
        assert!(matches!(
            sampler_from_otel(None, None).unwrap(),
            Sampler::ParentBased(_)
        ));
        assert!(matches!(
            sampler_from_otel(Some("traceidratio"), Some("0.25")).unwrap(),
            Sampler::TraceIdRatioBased(r) if r == 0.25
        ));
        assert!(sampler_from_otel(Some("traceidratio"), Some("2"))
            .unwrap_err()
            .contains("OTEL_TRACES_SAMPLER_ARG"));
        assert!(sampler_from_otel(Some("jaeger_remote"), None)
            .unwrap_err()
            .contains("OTEL_TRACES_SAMPLER"));
        // Parent-based, always off: a sampled parent is followed, no parent is not sampled.
        let r = recorder(
            TelemetryOptions {
                sampler: sampler_from_otel(Some("parentbased_always_off"), None).unwrap(),
                ..Default::default()
            },
            vec![],
        );
        assert!(r.begin(Method::EvaluatePolicy, Some(TP), None).sampled);
        assert!(!r.begin(Method::EvaluatePolicy, None, None).sampled);
        let half = recorder(
            TelemetryOptions {
                sampler: Sampler::TraceIdRatioBased(0.5),
                ..Default::default()
            },
            vec![],
        );
        let sampled = (0..2000)
            .filter(|_| half.begin(Method::EvaluatePolicy, None, None).sampled)
            .count();
        assert!((800..1200).contains(&sampled), "{sampled}");
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace() {
        let r = recorder(TelemetryOptions::default(), vec![]);
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "junk",
        ] {
            let c = r.begin(Method::Authorize, Some(bad), None);
            assert!(c.parent.is_none(), "{bad}");
            assert_ne!(c.trace_id, TraceId::INVALID);
        }
    }

    #[test]
    fn a_call_becomes_a_span_and_a_masked_log_record() {
        let r = logging_inputs();
        let mut call = r.begin(Method::Authorize, Some(TP), Some("vendor=1"));
        call.facts.tenant = Some(0);
        call.facts.revision = Some("sha256:abc".into());
        call.facts.decisions.push(DecisionFacts {
            decision: "allow",
            reason: "allowed".into(),
            query: "data.authz.allow".into(),
            input: Some(
                r#"{"user":"bob@example.com","password":"hunter2","n":1,"claims":{"sub":"u-1"}}"#
                    .into(),
            ),
        });
        r.finish(call, 0);
        let m = masker();
        let t = r.take(|_| &m);
        assert_eq!(t.spans.len(), 1);
        let s = &t.spans[0];
        assert_eq!(
            s.span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(s.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert!(s.parent_span_is_remote);
        assert_eq!(s.span_context.trace_state().header(), "vendor=1");
        assert_eq!(s.name, "coresdk.v1.CoreSDK/Authorize");
        assert_eq!(s.span_kind, SpanKind::Server);
        assert_eq!(text(&s.attributes, "coresdk.decision"), "allow");
        assert_eq!(text(&s.attributes, "coresdk.tenant"), "acme");
        assert_eq!(text(&s.attributes, "coresdk.policy.revision"), "sha256:abc");
        assert_eq!(s.status, Status::Unset);
        assert_eq!(t.logs.len(), 1);
        let l = &t.logs[0];
        let (trace, span, _) = l.trace.unwrap();
        assert_eq!(trace, s.span_context.trace_id());
        assert_eq!(span, s.span_context.span_id());
        assert_eq!(l.body, "allow data.authz.allow");
        let input = text(&l.attributes, "coresdk.input");
        assert!(input.contains("[REDACTED:email]"), "{input}");
        for secret in ["hunter2", "bob@", "u-1", "claims"] {
            assert!(!input.contains(secret), "{input}");
        }
        // Drained: the next take is empty.
        assert!(r.take(|_| &m).spans.is_empty());
    }

    #[test]
    fn an_authzen_call_is_an_http_server_span() {
        let r = logging_inputs();
        let mut call = r.begin(Method::AuthzenEvaluations, None, None);
        call.facts.tenant = Some(0);
        for allowed in [true, false] {
            call.facts.decisions.push(DecisionFacts {
                decision: if allowed { "allow" } else { "deny" },
                reason: if allowed { "allowed" } else { "denied" }.into(),
                query: "data.authzen.allow".into(),
                input: Some(r#"{"subject":{"type":"user","id":"bob@example.com"}}"#.into()),
            });
        }
        r.finish(call, 200);
        let failed = r.begin(Method::AuthzenEvaluation, None, None);
        r.finish(failed, 503);
        let m = masker();
        let t = r.take(|_| &m);
        assert_eq!(t.spans.len(), 2);
        let a = &t.spans[0].attributes;
        assert_eq!(t.spans[0].name, "POST /access/v1/evaluations");
        assert_eq!(text(a, "rpc.system"), "authzen");
        assert_eq!(text(a, "http.route"), "/access/v1/evaluations");
        assert_eq!(attr(a, "http.response.status_code"), Some(&200i64.into()));
        assert!(attr(a, "rpc.grpc.status_code").is_none());
        assert_eq!(attr(a, "coresdk.batch.size"), Some(&2i64.into()));
        assert_eq!(attr(a, "coresdk.batch.allowed"), Some(&1i64.into()));
        assert_eq!(t.spans[0].status, Status::Unset);
        assert!(
            matches!(t.spans[1].status, Status::Error { .. }),
            "5xx is an error span"
        );
        assert_eq!(t.logs.len(), 3);
        assert!(!text(&t.logs[0].attributes, "coresdk.input").contains("bob@"));
    }

    #[test]
    fn unsampled_calls_still_log_with_the_parent_context() {
        let r = recorder(TelemetryOptions::default(), vec!["t".into()]);
        let call = r.begin(
            Method::EvaluatePolicy,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            None,
        );
        r.finish(call, 5);
        let m = masker();
        let t = r.take(|_| &m);
        assert!(t.spans.is_empty());
        let (_, span, flags) = t.logs[0].trace.unwrap();
        assert_eq!(span.to_string(), "00f067aa0ba902b7");
        assert!(!flags.is_sampled());
        assert_eq!(text(&t.logs[0].attributes, "coresdk.decision"), "deny");
        assert_eq!(
            text(&t.logs[0].attributes, "coresdk.reason"),
            "ERR_INTERNAL"
        );
        assert!(attr(&t.logs[0].attributes, "coresdk.input").is_none());
    }

    #[test]
    fn full_queues_drop_and_count_instead_of_growing() {
        let r = recorder(
            TelemetryOptions {
                max_queued_spans: 4,
                max_queued_logs: 2,
                ..Default::default()
            },
            vec![],
        );
        for _ in 0..10 {
            let mut c = r.begin(Method::EvaluatePolicy, None, None);
            c.facts.decisions.push(DecisionFacts {
                decision: "deny",
                reason: "undefined".into(),
                ..Default::default()
            });
            r.finish(c, 0);
        }
        let m = masker();
        let t = r.take(|_| &m);
        assert_eq!((t.spans.len(), t.dropped_spans), (4, 6));
        assert_eq!((t.logs.len(), t.dropped_logs), (2, 8));
        let t = r.take(|_| &m);
        assert_eq!((t.dropped_spans, t.dropped_logs), (0, 0));
    }

    #[test]
    fn server_errors_mark_the_span_and_token_refusals_do_not() {
        let r = recorder(TelemetryOptions::default(), vec![]);
        for (code, reason) in [(16, "ERR_TOKEN_EXPIRED"), (13, "ERR_EVAL_TIMEOUT")] {
            let mut c = r.begin(Method::VerifyToken, None, None);
            c.facts.error_code = Some(reason.into());
            r.finish(c, code);
        }
        let m = masker();
        let t = r.take(|_| &m);
        assert_eq!(t.spans[0].status, Status::Unset);
        assert_eq!(t.spans[1].status, Status::error("ERR_EVAL_TIMEOUT"));
        assert_eq!(
            text(&t.spans[0].attributes, "coresdk.reason"),
            "ERR_TOKEN_EXPIRED"
        );
    }
}
