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

/// Linux rounds a sleeping thread's wakeup up by its timer slack (50 µs by
/// default); the scheduler thread asks for 1 µs. Best effort: on failure
/// (or elsewhere than Linux) it keeps the default, which only adds send lag.
fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    {
        // `/proc/thread-self` links to `<pid>/task/<tid>`, and the per-thread
        // setting lives at `/proc/<tid>/timerslack_ns`.
        if let Ok(link) = std::fs::read_link("/proc/thread-self") {
            if let Some(tid) = link.file_name() {
                let path = std::path::Path::new("/proc")
                    .join(tid)
                    .join("timerslack_ns");
                let _ = std::fs::write(path, "1000");
            }
        }
    }
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
            tighten_timer_slack();
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
                    } else {
                        recorder.warmup(&outcome);
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
                } else {
                    recorder.warmup(&outcome);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers after `delay`; `Err("x")` when `fail` is set.
    struct Fake {
        delay: Duration,
        fail: bool,
    }

    impl Caller for Fake {
        fn call(&self, _conn: usize) -> impl Future<Output = Outcome> + Send + 'static {
            let (delay, fail) = (self.delay, self.fail);
            async move {
                tokio::time::sleep(delay).await;
                if fail {
                    Err("x".into())
                } else {
                    Ok(())
                }
            }
        }
    }

    fn plan(duration_ms: u64, timeout_ms: u64) -> Plan {
        Plan {
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(duration_ms),
            timeout: Duration::from_millis(timeout_ms),
            connections: 3,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_sends_on_schedule() {
        let fake = Arc::new(Fake {
            delay: Duration::from_millis(2),
            fail: false,
        });
        let r = open_loop(fake, plan(500, 1000), 400.0, 10_000).await;
        // 0.5 s at 400 rps after the warmup: exactly 200 due times.
        assert_eq!(r.totals.sent, 200);
        assert_eq!(r.totals.ok, 200);
        assert!(r.totals.error_kinds.is_empty());
        assert!(r.totals.hist.value_at_quantile(0.5) >= 2_000);
        assert_eq!(r.send_lag.map(|h| h.len()), Some(200));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_counts_timeouts_drops_and_errors() {
        let started = Instant::now();
        let slow = Arc::new(Fake {
            delay: Duration::from_secs(30),
            fail: false,
        });
        let r = open_loop(slow, plan(200, 100), 100.0, 5).await;
        // 20 measured sends: the 10 warmup requests already fill the cap of 5.
        assert_eq!(r.totals.sent, 20);
        assert_eq!(r.totals.ok, 0);
        let kinds = &r.totals.error_kinds;
        assert_eq!(kinds.values().sum::<u64>(), 20);
        assert!(kinds.get("dropped").copied().unwrap_or(0) > 0, "{kinds:?}");
        assert!(kinds.get("timeout").copied().unwrap_or(0) > 0, "{kinds:?}");
        // Bounded: warmup + duration + at most one timeout, with slack.
        assert!(started.elapsed() < Duration::from_millis(1500));

        let failing = Arc::new(Fake {
            delay: Duration::ZERO,
            fail: true,
        });
        let r = open_loop(failing, plan(100, 100), 100.0, 100).await;
        assert_eq!(r.totals.error_kinds.get("x"), Some(&10));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saturate_is_closed_loop_and_bounded() {
        let fake = Arc::new(Fake {
            delay: Duration::from_millis(10),
            fail: false,
        });
        let r = saturate(fake, plan(300, 1000), 4).await;
        // 4 workers, about 10 ms each: roughly 120 requests in 0.3 s.
        assert_eq!(r.totals.sent, r.totals.ok);
        assert!((30..=130).contains(&r.totals.ok), "{}", r.totals.ok);

        let started = Instant::now();
        let stuck = Arc::new(Fake {
            delay: Duration::from_secs(30),
            fail: false,
        });
        // Requests time out after 100 ms: 3 workers send 3 each in the period.
        let r = saturate(stuck, plan(300, 100), 3).await;
        assert!(r.totals.sent >= 6, "{}", r.totals.sent);
        assert_eq!(r.totals.error_kinds.get("timeout"), Some(&r.totals.sent));
        assert!(started.elapsed() < Duration::from_millis(1500));
    }
}
