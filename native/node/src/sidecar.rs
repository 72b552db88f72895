//! The sidecar data plane, started and driven from JavaScript.
//!
//! The `coresdk-sidecar` CLI (TypeScript) loads configuration through
//! [`start_sidecar`], then owns the lifecycle: signals, reload, drain, logs.
//! Calls are served entirely in Rust on the data plane's own threads; the only
//! traffic between the two sides is lifecycle: lifecycle events queue here
//! and the CLI takes them in batches ([`NativeSidecar::take_events`]), never
//! one JavaScript callback per call.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coresdk_sidecar::{Event, Sidecar, SidecarError, SidecarOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Most events kept between two `takeEvents` calls; older ones are dropped
/// and counted.
const EVENT_QUEUE_CAPACITY: usize = 10_000;

#[derive(Default)]
struct EventQueue {
    events: Mutex<VecDeque<Event>>,
    dropped: AtomicU64,
}

impl EventQueue {
    fn push(&self, e: Event) {
        let mut q = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= EVENT_QUEUE_CAPACITY {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(e);
    }
}

fn sidecar_error(e: SidecarError) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("[{}] {}", e.code(), e),
    )
}

/// A running data plane.
#[napi]
pub struct NativeSidecar {
    inner: Arc<Sidecar>,
    queue: Arc<EventQueue>,
}

#[napi]
impl NativeSidecar {
    /// The address bound (the real port when 0 was configured).
    #[napi(getter)]
    pub fn local_addr(&self) -> String {
        self.inner.local_addr().to_string()
    }

    /// The health-only listener's address, if configured.
    #[napi(getter)]
    pub fn health_addr(&self) -> Option<String> {
        self.inner.health_addr().map(str::to_string)
    }

    /// The configured drain deadline in milliseconds.
    #[napi(getter)]
    pub fn drain_timeout_ms(&self) -> u32 {
        self.inner.drain_timeout().as_millis().min(u32::MAX as u128) as u32
    }

    /// Serving state, tenants, revisions, key sources, calls in flight
    /// (JSON text).
    #[napi]
    pub fn status(&self) -> String {
        self.inner.status().to_string()
    }

    /// Events queued since the last call, as a JSON array of objects, plus a
    /// synthetic `events_dropped` event when the queue overflowed.
    #[napi]
    pub fn take_events(&self) -> String {
        let drained: Vec<Event> = {
            let mut q = self.queue.events.lock().unwrap_or_else(|p| p.into_inner());
            q.drain(..).collect()
        };
        let mut out: Vec<serde_json::Value> = drained.iter().map(Event::to_json).collect();
        let dropped = self.queue.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            out.push(serde_json::json!({
                "level": "warn", "event": "events_dropped",
                "msg": format!("{dropped} lifecycle events were dropped (queue full)"),
                "dropped": dropped,
            }));
        }
        serde_json::Value::Array(out).to_string()
    }

    /// Recompiles every tenant's bundle and reloads certificates, off the
    /// main thread. Resolves with a JSON summary; failures keep the previous
    /// state serving.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn reload(&self) -> AsyncTask<SidecarReloadTask> {
        AsyncTask::new(SidecarReloadTask {
            inner: self.inner.clone(),
        })
    }

    /// Graceful shutdown off the main thread: resolves with
    /// `{complete, abandoned, elapsedMs}` as JSON text.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn drain(&self, deadline_ms: Option<u32>) -> AsyncTask<SidecarDrainTask> {
        AsyncTask::new(SidecarDrainTask {
            inner: self.inner.clone(),
            deadline: deadline_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        })
    }
}

/// OTLP export of the data plane's per-call telemetry, done in Rust (see
/// `coresdk_sidecar::otlp`): exporters, endpoint, headers and timeouts come
/// from the process's `OTEL_*` variables; these override the sampler and
/// the queue sizes. The decision log's content comes from `decision_log`.
#[napi(object)]
pub struct NativeTelemetryOptions {
    /// `OTEL_TRACES_SAMPLER` (default: the variable, else `parentbased_always_on`).
    pub sampler: Option<String>,
    /// `OTEL_TRACES_SAMPLER_ARG` (a ratio).
    pub sampler_arg: Option<String>,
    /// Spans held between two exports (default 8192); more are dropped and counted.
    pub max_queued_spans: Option<u32>,
    /// Decision-log records held between two exports (default 8192).
    pub max_queued_logs: Option<u32>,
}

/// Starts the data plane off the main thread: loads `configFile` (optional)
/// with `vars` (`CORESDK_*` names) through the engine's one configuration
/// loader, builds every tenant, binds and serves. With `telemetry`, every
/// call's span, metrics and decision-log records are exported over OTLP
/// by the data plane itself.
#[napi(ts_return_type = "Promise<NativeSidecar>")]
pub fn start_sidecar(
    config_file: Option<String>,
    vars: HashMap<String, String>,
    telemetry: Option<NativeTelemetryOptions>,
) -> Result<AsyncTask<SidecarStartTask>> {
    let invalid = |e: coresdk_sidecar::SidecarError| {
        napi::Error::new(
            napi::Status::InvalidArg,
            format!("[{}] invalid configuration: {e}", e.code()),
        )
    };
    let telemetry = telemetry
        .map(|t| -> Result<_> {
            let env = |k: &str| std::env::var(k).ok();
            let mut s = coresdk_sidecar::otlp::OtlpSettings::from_env(env)
                .map_err(invalid)?
                .ok_or_else(|| {
                    invalid(coresdk_sidecar::SidecarError::config(
                        "OTEL_EXPORTER_OTLP_ENDPOINT",
                        "telemetry export needs an OTLP endpoint",
                    ))
                })?;
            if t.sampler.is_some() || t.sampler_arg.is_some() {
                s.telemetry.sampler = coresdk_sidecar::telemetry::sampler_from_otel(
                    t.sampler.as_deref(),
                    t.sampler_arg.as_deref(),
                )
                .map_err(|m| {
                    invalid(coresdk_sidecar::SidecarError::config(
                        "OTEL_TRACES_SAMPLER",
                        m,
                    ))
                })?;
            }
            if let Some(n) = t.max_queued_spans {
                s.telemetry.max_queued_spans = n as usize;
            }
            if let Some(n) = t.max_queued_logs {
                s.telemetry.max_queued_logs = n as usize;
            }
            Ok(s)
        })
        .transpose()?;
    Ok(AsyncTask::new(SidecarStartTask {
        config_file: config_file.map(PathBuf::from),
        vars: vars.into_iter().collect(),
        telemetry,
        started: None,
    }))
}

/// Validates configuration (file + vars) and returns the tenants and the
/// listen settings as JSON text, without starting anything.
#[napi]
pub fn check_sidecar_config(
    config_file: Option<String>,
    vars: HashMap<String, String>,
) -> Result<String> {
    let vars = vars.into_iter().collect();
    let cfg = coresdk_engine::ConfigFile::load(config_file.map(PathBuf::from).as_deref(), &vars)
        .map_err(crate::errors::to_napi)?;
    coresdk_sidecar::check::check(&cfg)
        .map(|r| r.to_json().to_string())
        .map_err(sidecar_error)
}

/// Starts the sidecar on libuv's pool.
pub struct SidecarStartTask {
    config_file: Option<PathBuf>,
    vars: std::collections::BTreeMap<String, String>,
    telemetry: Option<coresdk_sidecar::otlp::OtlpSettings>,
    started: Option<(Arc<Sidecar>, Arc<EventQueue>)>,
}

impl Task for SidecarStartTask {
    type Output = ();
    type JsValue = NativeSidecar;

    fn compute(&mut self) -> Result<()> {
        let config = coresdk_engine::ConfigFile::load(self.config_file.as_deref(), &self.vars)
            .map_err(crate::errors::to_napi)?;
        let queue = Arc::new(EventQueue::default());
        let q = queue.clone();
        let telemetry = self.telemetry.take();
        let sidecar = Sidecar::start(SidecarOptions {
            config,
            events: Arc::new(move |e| q.push(e)),
            telemetry,
        })
        .map_err(sidecar_error)?;
        self.started = Some((Arc::new(sidecar), queue));
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<NativeSidecar> {
        let (inner, queue) = self.started.take().ok_or_else(|| {
            napi::Error::from_reason("[ERR_RUNTIME] sidecar start produced nothing")
        })?;
        Ok(NativeSidecar { inner, queue })
    }
}

/// Reloads on libuv's pool.
pub struct SidecarReloadTask {
    inner: Arc<Sidecar>,
}

impl Task for SidecarReloadTask {
    type Output = String;
    type JsValue = String;
    fn compute(&mut self) -> Result<String> {
        Ok(self.inner.reload().to_string())
    }
    fn resolve(&mut self, _env: Env, s: String) -> Result<String> {
        Ok(s)
    }
}

/// Drains on libuv's pool.
pub struct SidecarDrainTask {
    inner: Arc<Sidecar>,
    deadline: Option<Duration>,
}

impl Task for SidecarDrainTask {
    type Output = String;
    type JsValue = String;
    fn compute(&mut self) -> Result<String> {
        let r = self.inner.drain(self.deadline);
        Ok(serde_json::json!({
            "complete": r.complete,
            "abandoned": r.abandoned,
            "elapsedMs": r.elapsed.as_millis() as u64,
        })
        .to_string())
    }
    fn resolve(&mut self, _env: Env, s: String) -> Result<String> {
        Ok(s)
    }
}

/// Loads the `[sdk]` settings a client needs (file + `CORESDK_*` vars,
/// through the engine's one loader) as JSON text: `sidecarAddr`,
/// `tenantId`, `failMode`, `mode`, `timeoutMs`, `tls`, `policyDir`,
/// `configFile`. Errors name the key.
#[napi]
pub fn load_client_config(
    config_file: Option<String>,
    vars: HashMap<String, String>,
) -> Result<String> {
    let vars = vars.into_iter().collect();
    let path = config_file.map(PathBuf::from);
    // A client reads its own keys (the contract's client and Node keys) and
    // accepts the engine's and the sidecar's without reading them.
    let keys: Vec<&str> = coresdk_engine::config_keys::CLIENT_KEYS
        .iter()
        .chain(coresdk_engine::config_keys::NODE_KEYS)
        .copied()
        .collect();
    let sdk = coresdk_engine::SdkConfig::load_client(path.as_deref(), &vars, &keys)
        .map_err(crate::errors::to_napi)?;
    let p = |v: &Option<PathBuf>| v.as_ref().map(|p| p.display().to_string());
    Ok(serde_json::json!({
        "sidecarAddr": sdk.sidecar_addr,
        "tenantId": sdk.tenant_id,
        "failMode": match sdk.fail_mode { coresdk_engine::FailMode::Open => "open", coresdk_engine::FailMode::Closed => "closed" },
        "mode": match sdk.mode { coresdk_engine::ClientMode::Sidecar => "sidecar", coresdk_engine::ClientMode::InProcess => "in-process" },
        "timeoutMs": sdk.timeout.as_millis() as u64,
        "tls": {
            "caFile": p(&sdk.client_tls.ca_file),
            "certFile": p(&sdk.client_tls.cert_file),
            "keyFile": p(&sdk.client_tls.key_file),
            "serverName": sdk.client_tls.server_name,
        },
        "decisionLog": sdk.decision_log.as_str(),
        "configFile": path.map(|p| p.display().to_string()),
    })
    .to_string())
}
