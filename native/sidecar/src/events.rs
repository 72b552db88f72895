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
