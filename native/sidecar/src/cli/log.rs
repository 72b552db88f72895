//! The process log: one JSON object per line on stdout, in pino's shape
//! (`level` as a number, `time` in milliseconds, `pid`, `name`, the
//! event's fields, `msg` last), so that the lines read the same whichever
//! way the sidecar was installed. Lifecycle events only: nothing per call,
//! and never a token, claims or input.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::args::LogLevel;
use crate::events::{Event, Level};

/// pino's number for a level.
fn number(level: LogLevel) -> u8 {
    match level {
        LogLevel::Trace => 10,
        LogLevel::Debug => 20,
        LogLevel::Info => 30,
        LogLevel::Warn => 40,
        LogLevel::Error => 50,
        LogLevel::Fatal => 60,
        LogLevel::Silent => u8::MAX,
    }
}

/// The data plane's levels as the log's.
pub fn of(level: Level) -> LogLevel {
    match level {
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    }
}

/// Writes log lines at or above a level.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    min: u8,
    pid: u32,
}

impl Log {
    /// A log that writes lines at `level` and above.
    pub fn new(level: LogLevel) -> Log {
        Log {
            min: number(level),
            pid: std::process::id(),
        }
    }

    /// Writes one line: `event`, `fields` (in their order), `msg`.
    pub fn write(&self, level: LogLevel, event: &str, fields: &[(&str, Value)], msg: &str) {
        let n = number(level);
        if n < self.min || level == LogLevel::Silent {
            return;
        }
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut line = format!(
            "{{\"level\":{n},\"time\":{time},\"pid\":{},\"name\":\"coresdk-sidecar\"",
            self.pid
        );
        let mut push = |k: &str, v: &Value| {
            line.push(',');
            line.push_str(&Value::String(k.to_string()).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        };
        push("event", &Value::String(event.to_string()));
        for (k, v) in fields {
            push(k, v);
        }
        push("msg", &Value::String(msg.to_string()));
        line.push_str("}\n");
        // A closed stdout (a pipe whose reader left) must not stop serving.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }

    /// Writes a data-plane event, marked `source: "data-plane"`.
    pub fn event(&self, e: &Event) {
        let mut fields: Vec<(&str, Value)> = vec![("source", Value::from("data-plane"))];
        let map: &Map<String, Value> = &e.fields;
        fields.extend(map.iter().map(|(k, v)| (k.as_str(), v.clone())));
        self.write(of(e.level), e.event, &fields, &e.message);
    }

    /// `info`.
    pub fn info(&self, event: &str, fields: &[(&str, Value)], msg: &str) {
        self.write(LogLevel::Info, event, fields, msg);
    }

    /// `warn`.
    pub fn warn(&self, event: &str, fields: &[(&str, Value)], msg: &str) {
        self.write(LogLevel::Warn, event, fields, msg);
    }
}
