//! The two drivers: the open-loop scheduler and closed-loop saturation.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::runtime::Handle;
use tokio::task::JoinSet;

use crate::report::{new_histogram, record_duration, Outcome, Recorder, Totals};

/// Something that can send one request. `conn` picks the connection
/// (`0..connections`, round-robin); implementations may ignore it.
pub trait Caller: Send + Sync + 'static {
    /// Starts one request. The returned future must not borrow `self`.
    fn call(&self, conn: usize) -> impl Future<Output = Outcome> + Send + 'static;
}

/// The timing of a run: warmup, then the measured period.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Unrecorded warmup length.
    pub warmup: Duration,
    /// Measured period length.
    pub duration: Duration,
    /// Per-request deadline; also the drain limit after the period ends.
    pub timeout: Duration,
    /// Number of connections to spread requests over.
    pub connections: usize,
}

/// What a driver hands back for the report.
pub struct RunResult {
    /// Merged outcomes of the measured requests.
    pub totals: Totals,
    /// Start of the measured period.
    pub measure_start: Instant,
    /// Scheduled end of the measured period.
    pub measure_end: Instant,
    /// Open loop: how late each measured request left compared with its
    /// intended time (the generator's own lag, µs).
    pub send_lag: Option<Histogram<u64>>,
}

/// Runs `f` with a deadline; a late request is error `timeout`.
async fn with_deadline<F: Future<Output = Outcome>>(timeout: Duration, f: F) -> Outcome {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or_else(|_| Err("timeout".into()))
}

/// Decrements the in-flight count when a request task ends, even if aborted.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Open loop: request `i` is due at `start + i / rate` over warmup plus
/// duration, each one spawned as its own task. Latency runs from the due
/// time, so a late send (the generator or the runtime falling behind) and
/// any queueing count against the server, as a real client would see them.
///
/// The schedule runs on a dedicated blocking thread that sleeps with the OS
/// timer (tens of µs precision, against tokio's 1 ms timer wheel). When it is
/// behind it sends the backlog at once without sleeping. More than
/// `max_in_flight` outstanding requests makes a send count as `dropped`.
/// After the period, outstanding requests get at most `plan.timeout` to
/// finish; the rest count as `timeout`.
pub async fn open_loop<C: Caller>(
    caller: Arc<C>,
    plan: Plan,
    rate: f64,
    max_in_flight: usize,
) -> RunResult {
    let recorder = Arc::new(Recorder::new());
    let in_flight = Arc::new(AtomicUsize::new(0));
    // A short head start so the first due times are not already in the past.
    let t0 = Instant::now() + Duration::from_millis(5);
    let measure_start = t0 + plan.warmup;
    let measure_end = measure_start + plan.duration;
    let handle = Handle::current();

    let sched = {
        let recorder = recorder.clone();
        let in_flight = in_flight.clone();
        tokio::task::spawn_blocking(move || {
            let mut lag = new_histogram();
            let interval_ns = 1e9 / rate;
            let mut i: u64 = 0;
            loop {
                let due = t0 + Duration::from_nanos((i as f64 * interval_ns) as u64);
                if due >= measure_end {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let measured = due >= measure_start;
                let seq = i;
                i += 1;
                if measured {
                    record_duration(&mut lag, Instant::now().saturating_duration_since(due));
                    recorder.sent();
                }
                if in_flight.load(Ordering::Acquire) >= max_in_flight {
                    if measured {
                        recorder.record(seq, Err("dropped".into()), Duration::ZERO, Instant::now());
                    }
                    continue;
                }
                in_flight.fetch_add(1, Ordering::AcqRel);
                let guard = InFlight(in_flight.clone());
                let fut = caller.call((seq % plan.connections as u64) as usize);
                let recorder = recorder.clone();
                handle.spawn(async move {
                    let _guard = guard;
                    let outcome = with_deadline(plan.timeout, fut).await;
                    if measured {
                        let done = Instant::now();
                        recorder.record(seq, outcome, done.saturating_duration_since(due), done);
                    }
                });
            }
            lag
        })
    };
    let send_lag = sched.await.ok();

    // Drain: wait at most `timeout` for the outstanding requests.
    let drain_deadline = Instant::now() + plan.timeout;
    while in_flight.load(Ordering::Acquire) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    RunResult {
        totals: recorder.close(),
        measure_start,
        measure_end,
        send_lag,
    }
}

/// Saturation: `concurrency` closed-loop workers each send a request, await
/// it, and send the next, until warmup plus duration is over. Latency runs
/// from the actual send; the useful figure is the achieved throughput.
pub async fn saturate<C: Caller>(caller: Arc<C>, plan: Plan, concurrency: usize) -> RunResult {
    let recorder = Arc::new(Recorder::new());
    let next_conn = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let measure_start = t0 + plan.warmup;
    let measure_end = measure_start + plan.duration;

    let mut workers = JoinSet::new();
    for worker in 0..concurrency as u64 {
        let caller = caller.clone();
        let recorder = recorder.clone();
        let next_conn = next_conn.clone();
        workers.spawn(async move {
            loop {
                let start = Instant::now();
                if start >= measure_end {
                    break;
                }
                let measured = start >= measure_start;
                if measured {
                    recorder.sent();
                }
                let conn = next_conn.fetch_add(1, Ordering::Relaxed) % plan.connections;
                let outcome = with_deadline(plan.timeout, caller.call(conn)).await;
                if measured {
                    let done = Instant::now();
                    recorder.record(worker, outcome, done - start, done);
                }
            }
        });
    }

    // Drain: after the period, wait at most `timeout` for the workers.
    let drain_deadline = tokio::time::Instant::from_std(measure_end + plan.timeout);
    let _ = tokio::time::timeout_at(drain_deadline, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    workers.abort_all();
    RunResult {
        totals: recorder.close(),
        measure_start,
        measure_end,
        send_lag: None,
    }
}
