//! Per-call telemetry of the data plane, recorded in Rust.
//!
//! Every call the sidecar answers produces, when telemetry is on:
//!
//! - a **span** (`coresdk.v1.CoreSDK/<Method>`, kind server) in the trace
//!   named by the call's `traceparent` metadata, when the sampler says so.
//!   It carries `coresdk.decision`, `coresdk.reason`,
//!   `coresdk.policy.revision`, `coresdk.tenant`, the (masked) query and the
//!   gRPC status, never the token, the claims or the subject;
//! - **measurements**: `coresdk.authz.decisions` (by decision, reason,
//!   tenant) and `coresdk.authz.decision.duration` (seconds), aggregated
//!   here into cumulative counters and histogram buckets;
//! - a **decision-log record** (`decision_log = "decisions"`, the default;
//!   `"input"` adds the policy input, PII-masked).
//!
//! The call path only fills a few fields and pushes onto bounded lock-free
//! queues ([`crossbeam_queue::ArrayQueue`]); a full queue drops the record
//! and counts it, it never blocks or grows. Masking, JSON and export happen
//! later, off the call path, when the embedder drains the queues with
//! [`Recorder::take`] (the `coresdk-sidecar` CLI does so every 250 ms and
//! hands the batch to the OpenTelemetry SDK) and reads the cumulative
//! metrics with [`Recorder::metrics`]. No JavaScript runs per call.
//!
//! Sampling follows the standard `OTEL_TRACES_SAMPLER` /
//! `OTEL_TRACES_SAMPLER_ARG` values ([`Sampler::from_otel`]); the default is
//! `parentbased_always_on`, like every OpenTelemetry SDK.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coresdk_engine::pii::{MaskCounts, Masker};
use coresdk_engine::DecisionLog;
use crossbeam_queue::ArrayQueue;
use serde_json::{json, Map, Value};

use crate::json_out::Obj;

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

/// Which calls get a span (the OpenTelemetry samplers).
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Every call.
    AlwaysOn,
    /// No call.
    AlwaysOff,
    /// A fraction of traces, decided by the trace id (so every service in
    /// a trace decides alike).
    TraceIdRatio(f64),
    /// The parent's decision (the `traceparent` sampled flag) when there is
    /// one, else the root sampler's.
    ParentBased(Box<Sampler>),
}

impl Sampler {
    /// From `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`: `always_on`,
    /// `always_off`, `traceidratio`, `parentbased_always_on` (the default),
    /// `parentbased_always_off`, `parentbased_traceidratio`. The ratio
    /// defaults to 1.0. Errors name the variable.
    pub fn from_otel(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, String> {
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
            "traceidratio" => Sampler::TraceIdRatio(ratio()?),
            "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            "parentbased_traceidratio" => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(ratio()?)))
            }
            other => {
                return Err(format!(
                    "OTEL_TRACES_SAMPLER {other:?} is not supported here; use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
                ))
            }
        })
    }

    fn should_sample(&self, parent: Option<&Parent>, trace_id: &[u8; 16]) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(r) => {
                // As the OpenTelemetry SDKs do: the trace id's low 8 bytes
                // against the ratio of the id space.
                let low = u64::from_be_bytes(trace_id[8..].try_into().unwrap_or([0; 8])) >> 1;
                (low as f64) < r * (u64::MAX >> 1) as f64
            }
            Sampler::ParentBased(root) => match parent {
                Some(p) => p.sampled,
                None => root.should_sample(None, trace_id),
            },
        }
    }
}

/// What the embedder asks of telemetry.
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// Which calls get a span.
    pub sampler: Sampler,
    /// What the decision log records.
    pub decision_log: DecisionLog,
    /// Spans held between two [`Recorder::take`]s; more are dropped and
    /// counted. Default 8,192.
    pub max_queued_spans: usize,
    /// Decision-log records held between two takes. Default 8,192.
    pub max_queued_logs: usize,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        TelemetryOptions {
            sampler: Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            decision_log: DecisionLog::Decisions,
            max_queued_spans: 8192,
            max_queued_logs: 8192,
        }
    }
}

/// The W3C trace context a call arrived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    /// The trace.
    pub trace_id: [u8; 16],
    /// The caller's span.
    pub span_id: [u8; 8],
    /// The caller's sampled flag.
    pub sampled: bool,
}

/// Parses a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`). Anything
/// else, all-zero ids and version `ff` give `None`: the call starts a new
/// trace, as the W3C recommendation says.
pub fn parse_traceparent(v: &str) -> Option<Parent> {
    let b = v.trim().as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = hex_byte(&b[0..2])?;
    if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    let mut trace_id = [0u8; 16];
    for (i, out) in trace_id.iter_mut().enumerate() {
        *out = hex_byte(&b[3 + 2 * i..5 + 2 * i])?;
    }
    let mut span_id = [0u8; 8];
    for (i, out) in span_id.iter_mut().enumerate() {
        *out = hex_byte(&b[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&b[53..55])?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
    })
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let d = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None, // W3C: lowercase only
    };
    Some(d(two[0])? << 4 | d(two[1])?)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn random_nonzero<const N: usize>() -> [u8; N] {
    loop {
        let mut out = [0u8; N];
        fastrand::fill(&mut out);
        if out != [0; N] {
            return out;
        }
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
    trace_id: [u8; 16],
    parent: Option<Parent>,
    sampled: bool,
    /// What the handler learned.
    pub facts: CallFacts,
}

#[derive(Debug)]
struct SpanRecord {
    method: Method,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span_id: Option<[u8; 8]>,
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
    trace: Option<([u8; 16], [u8; 8])>,
    tenant: Option<usize>,
    revision: Option<Arc<str>>,
    decision: DecisionFacts,
    duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MetricKey {
    method: Method,
    tenant: Option<usize>,
    decision: &'static str,
    reason: Cow<'static, str>,
}

#[derive(Debug, Clone, Default)]
struct Counts {
    decisions: u64,
    /// Single-decision calls only (a batch has no one duration).
    timed: u64,
    sum: f64,
    min: f64,
    max: f64,
    buckets: [u64; DURATION_BOUNDARIES.len() + 1],
}

/// The data plane's telemetry: queues of spans and decision-log records,
/// cumulative metrics. Shared by every handler; see the module docs.
pub struct Recorder {
    opts: TelemetryOptions,
    tenant_ids: Vec<String>,
    spans: ArrayQueue<SpanRecord>,
    logs: ArrayQueue<LogRecord>,
    dropped_spans: AtomicU64,
    dropped_logs: AtomicU64,
    metrics: Mutex<HashMap<MetricKey, Counts>>,
    masked: Mutex<BTreeMap<String, u64>>,
    start_time: SystemTime,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A batch taken by [`Recorder::take`]: spans and decision-log records as
/// JSON object texts ready for an OpenTelemetry SDK, and how many were
/// dropped since the last take.
#[derive(Debug, Default)]
pub struct Batch {
    /// Span objects, each a JSON text.
    pub spans: Vec<String>,
    /// Decision-log records, each a JSON text.
    pub logs: Vec<String>,
    /// Spans dropped (queue full) since the last take.
    pub dropped_spans: u64,
    /// Decision-log records dropped since the last take.
    pub dropped_logs: u64,
}

impl Batch {
    /// `{spans, logs, droppedSpans, droppedLogs}` as JSON text.
    pub fn to_json(&self) -> String {
        let len: usize = self
            .spans
            .iter()
            .chain(&self.logs)
            .map(|r| r.len() + 1)
            .sum();
        let mut out = String::with_capacity(len + 64);
        out.push_str("{\"spans\":[");
        out.push_str(&self.spans.join(","));
        out.push_str("],\"logs\":[");
        out.push_str(&self.logs.join(","));
        out.push_str(&format!(
            "],\"droppedSpans\":{},\"droppedLogs\":{}}}",
            self.dropped_spans, self.dropped_logs
        ));
        out
    }
}

impl Recorder {
    /// A recorder for the tenants `tenant_ids` (in the sidecar's order).
    pub fn new(opts: TelemetryOptions, tenant_ids: Vec<String>) -> Recorder {
        Recorder {
            spans: ArrayQueue::new(opts.max_queued_spans.max(1)),
            logs: ArrayQueue::new(opts.max_queued_logs.max(1)),
            opts,
            tenant_ids,
            dropped_spans: AtomicU64::new(0),
            dropped_logs: AtomicU64::new(0),
            metrics: Mutex::new(HashMap::new()),
            masked: Mutex::new(BTreeMap::new()),
            start_time: SystemTime::now(),
        }
    }

    /// What the decision log records.
    pub fn decision_log(&self) -> DecisionLog {
        self.opts.decision_log
    }

    /// Starts recording a call that arrived with `traceparent` (if any).
    pub fn begin(&self, method: Method, traceparent: Option<&str>) -> Call {
        let parent = traceparent.and_then(parse_traceparent);
        let trace_id = parent.map_or_else(random_nonzero::<16>, |p| p.trace_id);
        Call {
            method,
            started: Instant::now(),
            start_time: SystemTime::now(),
            trace_id,
            sampled: self.opts.sampler.should_sample(parent.as_ref(), &trace_id),
            parent,
            facts: CallFacts::default(),
        }
    }

    /// Ends a call with its gRPC status code (the HTTP status for AuthZEN): counts its decisions, queues
    /// its span (when sampled) and its decision-log records. Never blocks.
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
        {
            let mut m = lock(&self.metrics);
            let single = facts.decisions.len() == 1
                && method != Method::EvaluatePolicies
                && method != Method::AuthzenEvaluations;
            for d in &facts.decisions {
                let c = m
                    .entry(MetricKey {
                        method,
                        tenant: facts.tenant,
                        decision: d.decision,
                        reason: d.reason.clone(),
                    })
                    .or_default();
                c.decisions += 1;
                if single {
                    let secs = duration.as_secs_f64();
                    if c.timed == 0 || secs < c.min {
                        c.min = secs;
                    }
                    if secs > c.max {
                        c.max = secs;
                    }
                    c.timed += 1;
                    c.sum += secs;
                    let i = DURATION_BOUNDARIES.partition_point(|b| *b < secs);
                    c.buckets[i] += 1;
                }
            }
        }
        let masked_total = match facts.masked.take() {
            Some(counts) if !counts.is_empty() => {
                let total = counts.values().sum();
                let mut m = lock(&self.masked);
                for (k, v) in counts {
                    *m.entry(k).or_insert(0) += v;
                }
                total
            }
            _ => 0,
        };
        let span_id = random_nonzero::<8>();
        if self.opts.decision_log != DecisionLog::Off {
            let trace = if sampled {
                Some((trace_id, span_id))
            } else {
                parent.map(|p| (p.trace_id, p.span_id))
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
                parent_span_id: parent.map(|p| p.span_id),
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

    fn tenant_id(&self, i: Option<usize>) -> Option<&str> {
        i.and_then(|i| self.tenant_ids.get(i)).map(String::as_str)
    }

    /// Drains the queues into JSON records for export, masking the queries
    /// and inputs with `masker_of(tenant)` (the tenant's own masker).
    /// Runs off the call path.
    pub fn take<'m>(&self, masker_of: impl Fn(Option<usize>) -> &'m Masker) -> Batch {
        let mut counts = MaskCounts::new();
        let mut batch = Batch::default();
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
            let mut out = String::with_capacity(640);
            let mut o = Obj::open(&mut out);
            o.str("name", s.method.span_name())
                .str("traceId", &hex(&s.trace_id))
                .str("spanId", &hex(&s.span_id))
                .opt_str("parentSpanId", s.parent_span_id.map(|p| hex(&p)).as_deref())
                .pair("start", hr_time(s.start))
                .pair("end", hr_time(s.start + s.duration));
            // Server spans are errors for these codes only (OpenTelemetry's
            // RPC and HTTP conventions); a refused token is an answer, not a fault.
            let route = s.method.http_route();
            let error = match route {
                Some(_) => s.grpc_code >= 500,
                None => matches!(s.grpc_code, 2 | 4 | 12 | 13 | 14 | 15),
            };
            o.obj("status", |st| {
                st.int("code", if error { 2 } else { 0 });
                if error {
                    st.str("message", s.error_code.as_deref().unwrap_or("ERR_INTERNAL"));
                }
            });
            o.obj("attributes", |a| {
                match route {
                    Some(route) => {
                        a.str("rpc.system", "authzen")
                            .str("rpc.method", s.method.as_str())
                            .str("http.request.method", "POST")
                            .str("http.route", route)
                            .int("http.response.status_code", i64::from(s.grpc_code));
                    }
                    None => {
                        a.str("rpc.system", "grpc")
                            .str("rpc.service", "coresdk.v1.CoreSDK")
                            .str("rpc.method", s.method.as_str())
                            .int("rpc.grpc.status_code", i64::from(s.grpc_code));
                    }
                }
                if let Some(t) = self.tenant_id(s.tenant) {
                    a.str("coresdk.tenant", t);
                }
                if let Some(r) = &s.revision {
                    a.str("coresdk.policy.revision", r);
                }
                match s.decisions.as_slice() {
                    [d] => {
                        a.str("coresdk.decision", d.decision)
                            .str("coresdk.reason", &d.reason);
                        if !d.query.is_empty() {
                            a.str(
                                "coresdk.query",
                                &mask_query(s.tenant, &d.query, &mut counts),
                            );
                        }
                    }
                    [] => {}
                    many => {
                        let allowed = many.iter().filter(|d| d.decision == "allow").count();
                        a.int("coresdk.batch.size", many.len() as i64)
                            .int("coresdk.batch.allowed", allowed as i64);
                    }
                }
                if s.method == Method::MaskPii {
                    a.int("coresdk.pii.masked", s.masked_total as i64);
                }
            });
            o.close();
            batch.spans.push(out);
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
            let mut out = String::with_capacity(512);
            let mut o = Obj::open(&mut out);
            o.pair("time", hr_time(l.time))
                .opt_str("traceId", l.trace.map(|t| hex(&t.0)).as_deref())
                .opt_str("spanId", l.trace.map(|t| hex(&t.1)).as_deref())
                .str("body", &body)
                .obj("attributes", |a| {
                    a.str("rpc.method", l.method.as_str())
                        .str("coresdk.decision", l.decision.decision)
                        .str("coresdk.reason", &l.decision.reason);
                    if !query.is_empty() {
                        a.str("coresdk.query", &query);
                    }
                    if let Some(t) = self.tenant_id(l.tenant) {
                        a.str("coresdk.tenant", t);
                    }
                    if let Some(r) = &l.revision {
                        a.str("coresdk.policy.revision", r);
                    }
                    a.float("coresdk.duration_ms", l.duration.as_secs_f64() * 1000.0);
                    if let Some(input) = &input {
                        a.str("coresdk.input", input);
                    }
                });
            o.close();
            batch.logs.push(out);
        }
        if !counts.is_empty() {
            let mut m = lock(&self.masked);
            for (k, v) in counts {
                *m.entry(k).or_insert(0) += v;
            }
        }
        batch.dropped_spans = self.dropped_spans.swap(0, Ordering::Relaxed);
        batch.dropped_logs = self.dropped_logs.swap(0, Ordering::Relaxed);
        batch
    }

    /// Cumulative metrics since start, as JSON: `startTime` (HrTime),
    /// `boundaries`, `decisions` (`{attributes, count}`), `durations`
    /// (`{attributes, count, sum, min, max, buckets}`), `piiMasked`
    /// (`{entity, count}`). `coresdk.jwks.refreshes` comes from the tenants'
    /// key sources and is added by the caller.
    pub fn metrics(&self) -> Value {
        let m = lock(&self.metrics).clone();
        let mut decisions = Vec::new();
        let mut durations: HashMap<(Method, Option<usize>, &'static str), Counts> = HashMap::new();
        for (k, c) in &m {
            let mut attrs = Map::new();
            attrs.insert("decision".into(), k.decision.into());
            attrs.insert("reason".into(), k.reason.as_ref().into());
            attrs.insert("rpc.method".into(), k.method.as_str().into());
            if let Some(t) = self.tenant_id(k.tenant) {
                attrs.insert("tenant".into(), t.into());
            }
            decisions.push(json!({"attributes": attrs, "count": c.decisions}));
            if c.timed > 0 {
                let d = durations
                    .entry((k.method, k.tenant, k.decision))
                    .or_default();
                if d.timed == 0 || c.min < d.min {
                    d.min = c.min;
                }
                d.max = d.max.max(c.max);
                d.timed += c.timed;
                d.sum += c.sum;
                for (a, b) in d.buckets.iter_mut().zip(c.buckets.iter()) {
                    *a += b;
                }
            }
        }
        let durations: Vec<Value> = durations
            .into_iter()
            .map(|((method, tenant, decision), c)| {
                let mut attrs = Map::new();
                attrs.insert("decision".into(), decision.into());
                attrs.insert("rpc.method".into(), method.as_str().into());
                if let Some(t) = self.tenant_id(tenant) {
                    attrs.insert("tenant".into(), t.into());
                }
                json!({"attributes": attrs, "count": c.timed, "sum": c.sum, "min": c.min, "max": c.max, "buckets": c.buckets.to_vec()})
            })
            .collect();
        let masked: Vec<Value> = lock(&self.masked)
            .iter()
            .map(|(k, v)| json!({"entity": k, "count": v}))
            .collect();
        json!({
            "startTime": hr_time(self.start_time),
            "boundaries": DURATION_BOUNDARIES.to_vec(),
            "decisions": decisions,
            "durations": durations,
            "piiMasked": masked,
        })
    }
}

/// `[seconds, nanoseconds]` since the epoch (OpenTelemetry JS's `HrTime`).
fn hr_time(t: SystemTime) -> [u64; 2] {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    [d.as_secs(), u64::from(d.subsec_nanos())]
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

    fn v(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn traceparent_is_parsed_strictly() {
        let p =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(hex(&p.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&p.span_id), "00f067aa0ba902b7");
        assert!(p.sampled);
        assert!(
            !parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .unwrap()
                .sampled
        );
        for bad in [
            "",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        // A future version may append fields after a dash.
        assert!(parse_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"
        )
        .is_some());
    }

    #[test]
    fn samplers_follow_the_otel_names() {
        assert_eq!(
            Sampler::from_otel(None, None).unwrap(),
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
        );
        assert_eq!(
            Sampler::from_otel(Some("traceidratio"), Some("0.25")).unwrap(),
            Sampler::TraceIdRatio(0.25)
        );
        assert!(Sampler::from_otel(Some("traceidratio"), Some("2"))
            .unwrap_err()
            .contains("OTEL_TRACES_SAMPLER_ARG"));
        assert!(Sampler::from_otel(Some("jaeger_remote"), None)
            .unwrap_err()
            .contains("OTEL_TRACES_SAMPLER"));
        let pb = Sampler::from_otel(Some("parentbased_always_off"), None).unwrap();
        let parent = |sampled| Parent {
            trace_id: [1; 16],
            span_id: [1; 8],
            sampled,
        };
        assert!(pb.should_sample(Some(&parent(true)), &[1; 16]));
        assert!(!pb.should_sample(None, &[1; 16]));
        let half = Sampler::TraceIdRatio(0.5);
        let sampled = (0..2000)
            .filter(|_| half.should_sample(None, &random_nonzero::<16>()))
            .count();
        assert!((800..1200).contains(&sampled), "{sampled}");
    }

    #[test]
    fn an_authzen_call_is_an_http_server_span() {
        let r = Recorder::new(
            TelemetryOptions {
                decision_log: DecisionLog::Input,
                ..Default::default()
            },
            vec!["acme".into()],
        );
        let mut call = r.begin(Method::AuthzenEvaluations, None);
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
        let failed = r.begin(Method::AuthzenEvaluation, None);
        r.finish(failed, 503);
        let m = masker();
        let b = r.take(|_| &m);
        assert_eq!(b.spans.len(), 2);
        let s = &v(&b.spans[0]);
        assert_eq!(s["name"], "POST /access/v1/evaluations");
        let a = &s["attributes"];
        assert_eq!(a["rpc.system"], "authzen");
        assert_eq!(a["rpc.method"], "authzen.evaluations");
        assert_eq!(a["http.route"], "/access/v1/evaluations");
        assert_eq!(a["http.response.status_code"], 200);
        assert!(a.get("rpc.grpc.status_code").is_none());
        assert_eq!(a["coresdk.batch.size"], 2);
        assert_eq!(a["coresdk.batch.allowed"], 1);
        assert_eq!(s["status"]["code"], 0);
        assert_eq!(v(&b.spans[1])["status"]["code"], 2, "5xx is an error span");
        assert_eq!(b.logs.len(), 3);
        let input = v(&b.logs[0])["attributes"]["coresdk.input"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!input.contains("bob@"), "{input}");
        let metrics = r.metrics();
        let methods: Vec<_> = metrics["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["attributes"]["rpc.method"].as_str().unwrap().to_string())
            .collect();
        assert!(
            methods.iter().all(|m| m.starts_with("authzen.")),
            "{methods:?}"
        );
    }

    #[test]
    fn a_call_becomes_a_span_a_log_record_and_counts() {
        let r = Recorder::new(
            TelemetryOptions {
                decision_log: DecisionLog::Input,
                ..Default::default()
            },
            vec!["acme".into()],
        );
        let mut call = r.begin(
            Method::Authorize,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
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
        let b = r.take(|_| &m);
        assert_eq!(b.spans.len(), 1);
        let s = &v(&b.spans[0]);
        assert_eq!(s["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(s["name"], "coresdk.v1.CoreSDK/Authorize");
        assert_eq!(s["attributes"]["coresdk.decision"], "allow");
        assert_eq!(s["attributes"]["coresdk.tenant"], "acme");
        assert_eq!(s["attributes"]["coresdk.policy.revision"], "sha256:abc");
        assert_eq!(s["status"]["code"], 0);
        assert_eq!(b.logs.len(), 1);
        let l = &v(&b.logs[0]);
        assert_eq!(l["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(l["spanId"], s["spanId"]);
        assert_eq!(l["body"], "allow data.authz.allow");
        let input = l["attributes"]["coresdk.input"].as_str().unwrap();
        assert!(input.contains("[REDACTED:email]"), "{input}");
        assert!(
            !input.contains("hunter2") && !input.contains("bob@"),
            "{input}"
        );
        assert!(
            !input.contains("u-1") && !input.contains("claims"),
            "{input}"
        );
        let metrics = r.metrics();
        assert_eq!(metrics["decisions"][0]["count"], 1);
        assert_eq!(metrics["decisions"][0]["attributes"]["tenant"], "acme");
        assert_eq!(metrics["durations"][0]["count"], 1);
        let masked = metrics["piiMasked"].as_array().unwrap();
        assert!(masked.iter().any(|e| e["entity"] == "email"));
        // Drained: the next take is empty.
        assert!(r.take(|_| &m).spans.is_empty());
    }

    #[test]
    fn unsampled_calls_still_count_and_log_with_the_parent_context() {
        let r = Recorder::new(TelemetryOptions::default(), vec!["t".into()]);
        let call = r.begin(
            Method::EvaluatePolicy,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        );
        r.finish(call, 5);
        let m = masker();
        let b = r.take(|_| &m);
        assert!(b.spans.is_empty());
        let l = v(&b.logs[0]);
        assert_eq!(l["spanId"], "00f067aa0ba902b7");
        assert_eq!(l["attributes"]["coresdk.decision"], "deny");
        assert_eq!(l["attributes"]["coresdk.reason"], "ERR_INTERNAL");
        assert!(l["attributes"].get("coresdk.input").is_none());
        // The whole batch is one JSON document.
        let all: Value = serde_json::from_str(&b.to_json()).unwrap();
        assert_eq!(all["logs"].as_array().unwrap().len(), 1);
        assert_eq!(all["droppedSpans"], 0);
    }

    #[test]
    fn full_queues_drop_and_count_instead_of_growing() {
        let r = Recorder::new(
            TelemetryOptions {
                max_queued_spans: 4,
                max_queued_logs: 2,
                ..Default::default()
            },
            vec![],
        );
        for _ in 0..10 {
            let mut c = r.begin(Method::EvaluatePolicy, None);
            c.facts.decisions.push(DecisionFacts {
                decision: "deny",
                reason: "undefined".into(),
                ..Default::default()
            });
            r.finish(c, 0);
        }
        let m = masker();
        let b = r.take(|_| &m);
        assert_eq!((b.spans.len(), b.dropped_spans), (4, 6));
        assert_eq!((b.logs.len(), b.dropped_logs), (2, 8));
        assert_eq!(r.metrics()["decisions"][0]["count"], 10);
        let b = r.take(|_| &m);
        assert_eq!((b.dropped_spans, b.dropped_logs), (0, 0));
    }

    #[test]
    fn server_errors_mark_the_span_and_token_refusals_do_not() {
        let r = Recorder::new(TelemetryOptions::default(), vec![]);
        for (code, reason) in [(16, "ERR_TOKEN_EXPIRED"), (13, "ERR_EVAL_TIMEOUT")] {
            let mut c = r.begin(Method::VerifyToken, None);
            c.facts.error_code = Some(reason.into());
            r.finish(c, code);
        }
        let m = masker();
        let b = r.take(|_| &m);
        let (s0, s1) = (v(&b.spans[0]), v(&b.spans[1]));
        assert_eq!(s0["status"]["code"], 0);
        assert_eq!(s1["status"]["code"], 2);
        assert_eq!(s1["status"]["message"], "ERR_EVAL_TIMEOUT");
        assert_eq!(s0["attributes"]["coresdk.reason"], "ERR_TOKEN_EXPIRED");
    }
}
