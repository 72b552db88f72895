//! Result collection (sharded HdrHistograms) and the final report.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Name of an error kind: a gRPC code name (`UNAVAILABLE`), `http_<status>`,
/// or one of the generator's own kinds (`timeout`, `dropped`, `not_allowed`...).
pub type ErrorKind = Cow<'static, str>;

/// The result of one request: `Ok` or the kind of error.
pub type Outcome = Result<(), ErrorKind>;

/// Highest recordable latency: 60 s, in microseconds.
const MAX_US: u64 = 60_000_000;
/// Number of independently locked shards; requests pick one by sequence number.
const SHARDS: usize = 32;

/// A new latency histogram: 1 µs to 60 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// Records `d` in `h` in microseconds, clamped to the histogram's range.
pub fn record_duration(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros())
        .unwrap_or(MAX_US)
        .clamp(1, MAX_US);
    h.saturating_record(us);
}

struct Shard {
    hist: Histogram<u64>,
    ok: u64,
    errors: HashMap<ErrorKind, u64>,
    last_done: Option<Instant>,
}

/// Collects the outcomes of measured requests from many tasks at once.
///
/// Latencies of successful requests go into one of several mutex-guarded
/// histograms (chosen by the caller's sequence number, so contention stays
/// low); they are merged once at the end. After [`Recorder::close`], late
/// results are ignored and the requests still outstanding count as `timeout`.
pub struct Recorder {
    shards: Vec<Mutex<Shard>>,
    sent: AtomicU64,
    warmup_ok: AtomicU64,
    closed: AtomicBool,
}

/// Merged results of a run, before formatting.
pub struct Totals {
    /// Measured requests scheduled (open loop) or started (saturation).
    pub sent: u64,
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed, by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Latencies of the successful requests, in microseconds.
    pub hist: Histogram<u64>,
    /// When the last measured request finished.
    pub last_done: Option<Instant>,
    /// Warmup requests that succeeded (not measured, but the server did the work).
    pub warmup_ok: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    hist: new_histogram(),
                    ok: 0,
                    errors: HashMap::new(),
                    last_done: None,
                })
            })
            .collect();
        Recorder {
            shards,
            sent: AtomicU64::new(0),
            warmup_ok: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Counts one measured request as sent; each must later be [`record`](Self::record)ed
    /// (or it is counted as `timeout` by [`close`](Self::close)).
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the outcome of a warmup request: only successes, so a caller
    /// can tell how many calls the server answered in all.
    pub fn warmup(&self, outcome: &Outcome) {
        if outcome.is_ok() {
            self.warmup_ok.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the outcome of a measured request that took `latency`.
    /// Ignored once the recorder is closed.
    pub fn record(&self, seq: u64, outcome: Outcome, latency: Duration, done: Instant) {
        let mut shard = self.shards[(seq % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        match outcome {
            Ok(()) => {
                shard.ok += 1;
                record_duration(&mut shard.hist, latency);
            }
            Err(kind) => *shard.errors.entry(kind).or_insert(0) += 1,
        }
        if shard.last_done.is_none_or(|t| done > t) {
            shard.last_done = Some(done);
        }
    }

    /// Stops recording and merges the shards. Sent requests without an
    /// outcome are counted as error `timeout`.
    pub fn close(&self) -> Totals {
        self.closed.store(true, Ordering::SeqCst);
        let mut hist = new_histogram();
        let mut ok = 0;
        let mut error_kinds = BTreeMap::new();
        let mut last_done: Option<Instant> = None;
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            hist.add(&shard.hist).expect("same histogram bounds");
            ok += shard.ok;
            for (k, n) in &shard.errors {
                *error_kinds.entry(k.to_string()).or_insert(0) += n;
            }
            if let Some(t) = shard.last_done {
                if last_done.is_none_or(|l| t > l) {
                    last_done = Some(t);
                }
            }
        }
        let sent = self.sent.load(Ordering::SeqCst);
        let finished = ok + error_kinds.values().sum::<u64>();
        if sent > finished {
            *error_kinds.entry("timeout".to_string()).or_insert(0) += sent - finished;
        }
        Totals {
            sent,
            ok,
            error_kinds,
            hist,
            last_done,
            warmup_ok: self.warmup_ok.load(Ordering::SeqCst),
        }
    }
}

/// The JSON object printed at the end of a run.
#[derive(Serialize, Debug)]
pub struct Report {
    /// `grpc` or `http`.
    pub target: &'static str,
    /// `open` or `saturate`.
    pub mode: &'static str,
    /// The scheduled rate (open loop); `null` in saturation mode.
    pub rate: Option<f64>,
    /// Length of the measured period.
    pub duration_secs: f64,
    /// Measured requests sent (= ok + errors).
    pub sent: u64,
    /// Successful requests.
    pub ok: u64,
    /// Successful warmup requests (before the measured period; the server's
    /// CPU and telemetry include them).
    pub warmup_ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Failed requests by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Median latency of successful requests, µs (`null` without any).
    pub p50_us: Option<u64>,
    /// 90th percentile, µs.
    pub p90_us: Option<u64>,
    /// 99th percentile, µs.
    pub p99_us: Option<u64>,
    /// 99.9th percentile, µs.
    pub p999_us: Option<u64>,
    /// Highest latency, µs.
    pub max_us: Option<u64>,
    /// Successful requests per second of measured wall time.
    pub achieved_rps: f64,
    /// Open loop only: 99th percentile of how late the generator itself sent
    /// a request after its intended time, µs (already part of the latencies).
    pub send_lag_p99_us: Option<u64>,
    /// Open loop only: the largest such lag, µs.
    pub send_lag_max_us: Option<u64>,
}

impl Report {
    /// Builds the report from merged totals. `measure_start` is when the
    /// measured period began and `measure_end` when it was scheduled to end.
    pub fn new(
        target: &'static str,
        rate: Option<f64>,
        duration_secs: f64,
        totals: &Totals,
        measure_start: Instant,
        measure_end: Instant,
        send_lag: Option<&Histogram<u64>>,
    ) -> Report {
        let errors = totals.error_kinds.values().sum();
        let end = totals.last_done.map_or(measure_end, |t| t.max(measure_end));
        let wall = end.saturating_duration_since(measure_start).as_secs_f64();
        let achieved_rps = if wall > 0.0 {
            (totals.ok as f64 / wall * 10.0).round() / 10.0
        } else {
            0.0
        };
        let h = &totals.hist;
        let q = |q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q));
        let lag = |q: f64| {
            send_lag
                .filter(|l| !l.is_empty())
                .map(|l| l.value_at_quantile(q))
        };
        Report {
            target,
            mode: if rate.is_some() { "open" } else { "saturate" },
            rate,
            duration_secs,
            sent: totals.sent,
            ok: totals.ok,
            warmup_ok: totals.warmup_ok,
            errors,
            error_kinds: totals.error_kinds.clone(),
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: (!h.is_empty()).then(|| h.max()),
            achieved_rps,
            send_lag_p99_us: lag(0.99),
            send_lag_max_us: send_lag.filter(|l| !l.is_empty()).map(|l| l.max()),
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("report serializes")
    }

    /// A short human-readable summary (several lines).
    pub fn to_text(&self) -> String {
        let us = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let mode = match self.rate {
            Some(r) => format!("open loop at {r} rps"),
            None => "saturation".to_string(),
        };
        let mut s = format!(
            "{} {} for {} s: sent {}, ok {}, errors {}\n",
            self.target, mode, self.duration_secs, self.sent, self.ok, self.errors
        );
        if !self.error_kinds.is_empty() {
            let kinds: Vec<String> = self
                .error_kinds
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            s += &format!("  errors by kind: {}\n", kinds.join(", "));
        }
        s += &format!(
            "  latency (us): p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
            us(self.p50_us),
            us(self.p90_us),
            us(self.p99_us),
            us(self.p999_us),
            us(self.max_us)
        );
        s += &format!("  achieved {} rps", self.achieved_rps);
        if self.rate.is_some() {
            s += &format!(
                "  (generator send lag: p99 {} us, max {} us)",
                us(self.send_lag_p99_us),
                us(self.send_lag_max_us)
            );
        }
        s
    }
}
