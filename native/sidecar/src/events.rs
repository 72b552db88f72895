//! Lifecycle events the data plane reports: start, readiness, reloads, TLS
//! handshake failures (summarised), drain. Never one per call: the per-call
//! path records nothing here, and no event carries a token, claims or input.
//!
//! The embedder decides where events go: the Node addon hands them to pino in
//! the `coresdk-sidecar` CLI, the plain binary prints JSON lines.

use std::sync::Arc;

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Detail for troubleshooting.
    Debug,
    /// Normal operation.
    Info,
    /// Degraded but serving.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// The pino-style name: `debug`, `info`, `warn`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One lifecycle event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Severity.
    pub level: Level,
    /// A stable event name (`listening`, `serving`, `policy_reloaded`, ...).
    pub event: &'static str,
    /// A human-readable sentence.
    pub message: String,
    /// Structured fields (tenant, revision, address, counts...).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// An event without fields.
    pub fn new(level: Level, event: &'static str, message: impl Into<String>) -> Self {
        Event {
            level,
            event,
            message: message.into(),
            fields: serde_json::Map::new(),
        }
    }

    /// Adds a field.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    /// The event as one JSON object (`level`, `event`, `msg`, fields).
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = self.fields.clone();
        m.insert("level".into(), self.level.as_str().into());
        m.insert("event".into(), self.event.into());
        m.insert("msg".into(), self.message.clone().into());
        serde_json::Value::Object(m)
    }
}

/// Where events go. Called from the data plane's threads; must not block.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// At most one event per interval, for warnings a misconfiguration could
/// otherwise repeat on every call; counts what it held back. Lock-free.
#[derive(Debug)]
pub struct Throttle {
    start: std::time::Instant,
    interval_ms: u64,
    /// Milliseconds since `start` before which nothing is admitted.
    next: std::sync::atomic::AtomicU64,
    held: std::sync::atomic::AtomicU64,
}

impl Throttle {
    /// A throttle admitting one event per `interval`.
    pub fn new(interval: std::time::Duration) -> Self {
        Throttle {
            start: std::time::Instant::now(),
            interval_ms: interval.as_millis() as u64,
            next: std::sync::atomic::AtomicU64::new(0),
            held: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `Some(n)` when an event may go out now, `n` being how many were held
    /// back since the last one; `None` (and one more held back) otherwise.
    pub fn admit(&self) -> Option<u64> {
        use std::sync::atomic::Ordering;
        let now = self.start.elapsed().as_millis() as u64;
        let next = self.next.load(Ordering::Relaxed);
        if now >= next
            && self
                .next
                .compare_exchange(
                    next,
                    now + self.interval_ms,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.held.swap(0, Ordering::AcqRel));
        }
        self.held.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::Throttle;

    #[test]
    fn one_event_per_interval_and_a_count_of_the_rest() {
        let t = Throttle::new(std::time::Duration::from_secs(3600));
        assert_eq!(t.admit(), Some(0));
        assert_eq!(t.admit(), None);
        assert_eq!(t.admit(), None);
        let t0 = Throttle::new(std::time::Duration::ZERO);
        assert_eq!(t0.admit(), Some(0));
        assert_eq!(t0.admit(), Some(0));
    }
}
