//! Starting, reloading and draining the data plane.
//!
//! [`Sidecar::start`] builds every tenant's engine, binds the listener, and
//! serves on a tokio runtime of the sidecar's own threads. Health starts
//! NOT_SERVING and turns SERVING once every tenant's policies are compiled
//! and its keys loaded; a readiness task keeps it current (keys may arrive
//! late, or go stale). [`Sidecar::drain`] is the graceful shutdown: health
//! NOT_SERVING, the listener closed, HTTP/2 GOAWAY to every connection, and a
//! wait, bounded by the drain deadline, for calls in flight to finish.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coresdk_engine::ConfigFile;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::admission::{AdmissionLayer, Gate};
use crate::certwatch::CertWatcher;
use crate::error::SidecarError;
use crate::events::{Event, EventSink, Level};
use crate::health::HealthReporter;
use crate::listen::{accept_loop, Bound, ListenAddr};
use crate::otlp::{Export, OtlpSettings};
use crate::pb::core_sdk_server::CoreSdkServer;
use crate::service::{CoreSdkService, Limits};
use crate::tenants::Tenants;
use crate::tls::{ReloadableTls, TlsFiles};

/// The gRPC service name health reports on (besides the server-wide "").
pub const SERVICE_NAME: &str = "coresdk.v1.CoreSDK";

/// How the data plane is started.
pub struct SidecarOptions {
    /// The loaded configuration.
    pub config: ConfigFile,
    /// Where lifecycle events go.
    pub events: EventSink,
    /// OTLP export of per-call spans, metrics and the decision log
    /// ([`crate::otlp`], [`OtlpSettings::from_env`]); `None` records
    /// nothing (no cost on the call path).
    pub telemetry: Option<OtlpSettings>,
}

/// What a drain achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Every call in flight finished before the deadline.
    pub complete: bool,
    /// Calls still in flight when the drain gave up (0 when complete).
    pub abandoned: usize,
    /// How long the drain took.
    pub elapsed: Duration,
}

/// A running data plane.
pub struct Sidecar {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    tenants: Arc<Tenants>,
    gate: Arc<Gate>,
    health: HealthReporter,
    stop: watch::Sender<bool>,
    draining: Arc<AtomicBool>,
    serve_done: Mutex<Option<tokio::task::JoinHandle<()>>>,
    drained: Mutex<Option<DrainReport>>,
    tls: Option<Arc<ReloadableTls>>,
    local_addr: String,
    health_addr: Option<String>,
    drain_timeout: Duration,
    events: EventSink,
    export: Option<Export>,
    _cert_watcher: Option<CertWatcher>,
    authzen: Option<AuthzenRunning>,
}

/// The AuthZEN listener, when configured.
struct AuthzenRunning {
    addr: String,
    tls: Option<Arc<ReloadableTls>>,
    done: Mutex<Option<tokio::task::JoinHandle<()>>>,
    _cert_watcher: Option<CertWatcher>,
}

impl Sidecar {
    /// Builds the tenants, binds, and starts serving. Blocks while the
    /// tenants' bundles compile and their key sources make a first fetch.
    pub fn start(opts: SidecarOptions) -> Result<Sidecar, SidecarError> {
        let SidecarOptions {
            config,
            events,
            telemetry,
        } = opts;
        let sc = config.sidecar.clone();
        let addr = ListenAddr::parse(&config.sdk.sidecar_addr)?;

        let tls = data_plane_tls(&sc, &addr)?
            .map(|files| ReloadableTls::load(files).map(Arc::new))
            .transpose()?;
        let health_addr = sc
            .health_addr
            .as_deref()
            .map(ListenAddr::parse)
            .transpose()
            .map_err(|e| SidecarError::config("CORESDK_SIDECAR_HEALTH_ADDR", e.to_string()))?;

        let tenants = Arc::new(Tenants::build(config.tenants()?, &config.sdk.tenant_id)?);
        let authzen_settings = crate::authzen::config::Settings::from_config(&config, |t| {
            tenants.iter().any(|x| x.id == t)
        })?;
        if let Some(settings) = &authzen_settings {
            for (tenant, k, q) in settings.unknown_rules(&tenants) {
                events(
                    Event::new(
                        Level::Warn,
                        "authzen_query_unknown",
                        format!(
                            "sidecar.authzen.{k} = {q:?} names no rule of tenant {tenant}'s bundle: its answers will be empty or deny"
                        ),
                    )
                    .with("tenant", tenant)
                    .with("key", format!("sidecar.authzen.{k}"))
                    .with("query", q),
                );
            }
        }
        let authzen_tls = authzen_settings
            .as_ref()
            .and_then(|s| s.tls.clone())
            .map(|f| ReloadableTls::load(f).map(Arc::new))
            .transpose()?;
        for t in tenants.iter() {
            let ev = events.clone();
            let id = t.id.clone();
            t.engine.on_reload(move |e| {
                let event = match e {
                    coresdk_engine::ReloadEvent::Reloaded { revision, previous } => {
                        Event::new(Level::Info, "policy_reloaded", "policy bundle reloaded")
                            .with("revision", revision.to_string())
                            .with("previous", previous.to_string())
                    }
                    coresdk_engine::ReloadEvent::Failed { error, revision }
                        if revision.is_empty() =>
                    {
                        Event::new(
                            Level::Error,
                            "policy_reload_failed",
                            format!("no policy bundle active yet (health NOT_SERVING): {error}"),
                        )
                        .with("revision", revision.to_string())
                        .with("code", error.code())
                    }
                    coresdk_engine::ReloadEvent::Failed { error, revision } => Event::new(
                        Level::Error,
                        "policy_reload_failed",
                        format!(
                            "policy reload failed; the last good revision keeps serving: {error}"
                        ),
                    )
                    .with("revision", revision.to_string())
                    .with("code", error.code()),
                };
                ev(event.with("tenant", id.clone()));
            });
            let b = t.engine.bundle_status();
            if b.source == "remote" {
                let mut ev = Event::new(
                    if b.active { Level::Info } else { Level::Warn },
                    "bundle_source",
                    match (&b.revision, &b.offline_note) {
                        (Some(rev), _) => format!("remote bundle: serving revision {rev} from the offline copy until the server answers"),
                        (None, Some(note)) => format!("remote bundle: waiting for the server ({note})"),
                        (None, None) => "remote bundle: waiting for the server".to_string(),
                    },
                )
                .with("tenant", t.id.clone())
                .with("url", b.url.clone().unwrap_or_default());
                if let Some(note) = &b.offline_note {
                    ev = ev.with("offline", note.clone());
                }
                events(ev);
            }
        }

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(sc.worker_threads)
            .thread_name("coresdk-sidecar")
            .enable_all()
            .build()
            .map_err(|e| SidecarError::Runtime(e.to_string()))?;
        let _enter = runtime.enter();

        let listener = Bound::bind(&addr)?;
        let local_addr = listener.local_addr();
        let health_listener = health_addr.as_ref().map(Bound::bind).transpose()?;
        let authzen_listener = authzen_settings
            .as_ref()
            .map(|s| Bound::bind(&s.addr))
            .transpose()?;
        let health_local = health_listener.as_ref().map(Bound::local_addr);

        let gate = Gate::new(sc.max_concurrent_calls);
        let limits = Limits {
            max_message_bytes: sc.max_message_bytes,
            max_batch: sc.max_batch,
        };
        let export = telemetry
            .map(|mut t| {
                t.telemetry.decision_log = config.sdk.decision_log;
                Export::start(&t, tenants.clone(), events.clone())
            })
            .transpose()?;
        let recorder = export.as_ref().map(|e| e.recorder().clone());
        let clients = Arc::new(crate::access::ClientLists::parse(&sc.client_queries)?);
        let service = CoreSdkServer::new(CoreSdkService::new(
            tenants.clone(),
            clients,
            limits,
            recorder.clone(),
        ))
        // Messages up to twice the limit are decoded so that the handler
        // can answer RESOURCE_EXHAUSTED with details; beyond that the
        // transport refuses before decoding.
        .max_decoding_message_size(sc.max_message_bytes.saturating_mul(2))
        .max_encoding_message_size(sc.max_message_bytes.saturating_mul(2));

        let (stop, stop_rx) = watch::channel(false);
        let (health, health_service) = crate::health::health(stop_rx.clone());
        let (conn_tx, conn_rx) = mpsc::channel(1024);
        runtime.spawn(accept_loop(
            listener,
            tls.clone(),
            conn_tx,
            stop_rx.clone(),
            events.clone(),
        ));
        let incoming = ReceiverStream::new(conn_rx).map(Ok::<_, Infallible>);
        let mut shutdown = stop_rx.clone();
        let server = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(sc.keepalive_interval))
            .http2_keepalive_timeout(Some(sc.keepalive_timeout))
            .tcp_nodelay(true)
            .layer(AdmissionLayer(gate.clone()))
            .add_service(health_service.clone())
            .add_service(service);
        let ev = events.clone();
        let serve_done = runtime.spawn(async move {
            let signal = async move {
                let _ = shutdown.wait_for(|s| *s).await;
            };
            if let Err(e) = server.serve_with_incoming_shutdown(incoming, signal).await {
                ev(Event::new(
                    Level::Error,
                    "serve_failed",
                    format!("server error: {e}"),
                ));
            }
        });

        if let Some(l) = health_listener {
            let (htx, hrx) = mpsc::channel(64);
            runtime.spawn(accept_loop(l, None, htx, stop_rx.clone(), events.clone()));
            let mut shutdown = stop_rx.clone();
            let hs = health_service.clone();
            runtime.spawn(async move {
                let signal = async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                };
                let _ = tonic::transport::Server::builder()
                    .add_service(hs)
                    .serve_with_incoming_shutdown(
                        ReceiverStream::new(hrx).map(Ok::<_, Infallible>),
                        signal,
                    )
                    .await;
            });
        }

        let authzen = match (authzen_settings, authzen_listener) {
            (Some(settings), Some(listener)) => {
                let addr = listener.local_addr();
                let auth = settings.auth.name();
                let app = Arc::new(crate::authzen::http::App {
                    scheme: if authzen_tls.is_some() {
                        "https"
                    } else {
                        "http"
                    },
                    settings,
                    tenants: tenants.clone(),
                    gate: gate.clone(),
                    recorder: recorder.clone(),
                    events: events.clone(),
                    search_warnings: crate::events::Throttle::new(Duration::from_secs(60)),
                });
                let done = runtime.spawn(crate::authzen::serve(
                    listener,
                    authzen_tls.clone(),
                    app,
                    stop_rx.clone(),
                    events.clone(),
                ));
                let watcher = match (&authzen_tls, sc.watch_certs) {
                    (Some(t), true) => {
                        let t2 = t.clone();
                        let ev = events.clone();
                        Some(
                            CertWatcher::start(&t.files().paths(), move || {
                                report_tls_reload(&ev, t2.reload(false))
                            })
                            .map_err(|e| SidecarError::tls("sidecar.watch_certs", e.to_string()))?,
                        )
                    }
                    _ => None,
                };
                if authzen_tls.is_none() {
                    events(
                        Event::new(
                            Level::Warn,
                            "insecure_dev_authzen",
                            "INSECURE DEV MODE: AuthZEN over plaintext HTTP, no client authentication; bound to loopback only. Never use this in production.",
                        )
                        .with("addr", addr.clone()),
                    );
                }
                events(
                    Event::new(
                        Level::Info,
                        "authzen_listening",
                        format!("AuthZEN PDP listening on {addr}"),
                    )
                    .with("addr", addr.clone())
                    .with(
                        "tls",
                        if authzen_tls.is_some() {
                            "tls-1.3"
                        } else {
                            "none"
                        },
                    )
                    .with(
                        "client_auth",
                        auth.split([' ', '(', '{']).next().unwrap_or("").to_string(),
                    ),
                );
                Some(AuthzenRunning {
                    addr,
                    tls: authzen_tls,
                    done: Mutex::new(Some(done)),
                    _cert_watcher: watcher,
                })
            }
            _ => None,
        };

        let cert_watcher = match (&tls, sc.watch_certs) {
            (Some(t), true) => {
                let t2 = t.clone();
                let ev = events.clone();
                let w = CertWatcher::start(&t.files().paths(), move || {
                    report_tls_reload(&ev, t2.reload(false))
                })
                .map_err(|e| SidecarError::tls("sidecar.watch_certs", e.to_string()))?;
                Some(w)
            }
            _ => None,
        };

        if tls.is_none() {
            events(
                Event::new(
                    Level::Warn,
                    "insecure_dev",
                    "INSECURE DEV MODE: plaintext gRPC, no client authentication; bound to loopback only. Never use this in production.",
                )
                .with("addr", local_addr.clone()),
            );
        }
        events(
            Event::new(
                Level::Info,
                "listening",
                format!("data plane listening on {local_addr}"),
            )
            .with("addr", local_addr.clone())
            .with("tls", if tls.is_some() { "mtls-1.3" } else { "none" })
            .with(
                "tenants",
                tenants.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            )
            .with("default_tenant", tenants.default_tenant().id.clone()),
        );
        // Health (and its `serving` event) only after `listening`: whoever
        // waits for `serving` has the address by then.
        let draining = Arc::new(AtomicBool::new(false));
        runtime.spawn(readiness_loop(
            tenants.clone(),
            health.clone(),
            draining.clone(),
            stop_rx,
            events.clone(),
        ));
        drop(_enter);
        Ok(Sidecar {
            runtime: Mutex::new(Some(runtime)),
            tenants,
            gate,
            health,
            stop,
            draining,
            serve_done: Mutex::new(Some(serve_done)),
            drained: Mutex::new(None),
            tls,
            local_addr,
            health_addr: health_local,
            drain_timeout: sc.drain_timeout,
            events,
            export,
            _cert_watcher: cert_watcher,
            authzen,
        })
    }

    /// The AuthZEN listener's address, when configured.
    pub fn authzen_addr(&self) -> Option<&str> {
        self.authzen.as_ref().map(|a| a.addr.as_str())
    }

    /// Whether telemetry is being recorded and exported.
    pub fn telemetry_enabled(&self) -> bool {
        self.export.is_some()
    }

    /// The address actually bound (the real port when 0 was configured).
    pub fn local_addr(&self) -> &str {
        &self.local_addr
    }

    /// The health-only listener's address, when configured.
    pub fn health_addr(&self) -> Option<&str> {
        self.health_addr.as_deref()
    }

    /// The configured drain deadline.
    pub fn drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// Recompiles every tenant's bundle and reloads the certificates
    /// (SIGHUP). Failures keep the previous state serving and are reported
    /// in the result and as events; the call itself never fails.
    pub fn reload(&self) -> serde_json::Value {
        let mut tenants = Vec::new();
        for t in self.tenants.iter() {
            match t.engine.reload() {
                Ok(rev) => {
                    tenants.push(serde_json::json!({"tenant": t.id, "revision": rev.to_string()}))
                }
                Err(e) => tenants.push(serde_json::json!({
                    "tenant": t.id, "revision": t.engine.revision().to_string(),
                    "error": {"code": e.code(), "message": e.to_string()}
                })),
            }
        }
        let tls = self.tls.as_ref().map(|t| {
            let r = t.reload(true);
            let out = match &r {
                Ok(_) => serde_json::json!({"reloaded": true}),
                Err(e) => serde_json::json!({"reloaded": false, "error": {"code": e.code(), "message": e.to_string()}}),
            };
            report_tls_reload(&self.events, r);
            out
        });
        let authzen_tls = self.authzen.as_ref().and_then(|a| a.tls.as_ref()).map(|t| {
            let r = t.reload(true);
            let out = match &r {
                Ok(_) => serde_json::json!({"reloaded": true}),
                Err(e) => serde_json::json!({"reloaded": false, "error": {"code": e.code(), "message": e.to_string()}}),
            };
            report_tls_reload(&self.events, r);
            out
        });
        serde_json::json!({"tenants": tenants, "tls": tls, "authzen_tls": authzen_tls})
    }

    /// A snapshot for operators: serving state, tenants and their revisions
    /// and key sources, calls in flight and refused. No key material.
    pub fn status(&self) -> serde_json::Value {
        let readiness = self.tenants.readiness();
        let draining = self.draining.load(Ordering::SeqCst);
        let tenants: Vec<_> = self
            .tenants
            .iter()
            .map(|t| {
                let keys = t.engine.key_status().map(|k| {
                    serde_json::json!({
                        "source": k.source,
                        "keys": k.keys,
                        "from_offline_cache": k.from_offline_cache,
                        "last_error": k.last_error,
                        "offline_cache": k.offline_cache,
                        "offline_cache_rejections": k.offline_cache_rejections,
                        "refreshes_ok": k.refreshes_ok,
                        "refreshes_failed": k.refreshes_failed,
                    })
                });
                let b = t.engine.bundle_status();
                let bundle = serde_json::json!({
                    "source": b.source,
                    "url": b.url,
                    "active": b.active,
                    "revision": b.revision,
                    "activated_from": b.activated_from,
                    "etag": b.etag,
                    "last_error": b.last_error,
                    "last_error_code": b.last_error_code,
                    "offline_note": b.offline_note,
                    "loads": {"activated": b.loads.activated, "unchanged": b.loads.unchanged, "refused": b.loads.refused, "failed": b.loads.failed},
                });
                serde_json::json!({"id": t.id, "revision": t.engine.revision().to_string(), "keys": keys, "bundle": bundle})
            })
            .collect();
        serde_json::json!({
            "addr": self.local_addr,
            "health_addr": self.health_addr,
            "authzen_addr": self.authzen_addr(),
            "serving": readiness.ready && !draining,
            "reason": if draining { Some("draining".to_string()) } else { readiness.reason },
            "draining": draining,
            "tenants": tenants,
            "default_tenant": self.tenants.default_tenant().id,
            "in_flight": self.gate.in_flight(),
            "calls_admitted": self.gate.admitted(),
            "calls_refused_overload": self.gate.refused(),
        })
    }

    /// Graceful shutdown: health NOT_SERVING, stop accepting, GOAWAY, wait
    /// up to `deadline` (the configured drain timeout when `None`) for calls
    /// in flight, then stop the runtime. Idempotent: a second call returns
    /// the first one's report.
    pub fn drain(&self, deadline: Option<Duration>) -> DrainReport {
        let mut drained = self.drained.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = *drained {
            return r;
        }
        let started = Instant::now();
        let deadline = deadline.unwrap_or(self.drain_timeout);
        self.draining.store(true, Ordering::SeqCst);
        let in_flight = self.gate.in_flight();
        (self.events)(
            Event::new(
                Level::Info,
                "draining",
                "draining: no new connections; waiting for calls in flight",
            )
            .with("in_flight", in_flight)
            .with("deadline_ms", deadline.as_millis() as u64),
        );
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let mut complete = true;
        if let Some(rt) = runtime {
            let health = self.health.clone();
            let done = self
                .serve_done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let authzen_done = self
                .authzen
                .as_ref()
                .and_then(|a| a.done.lock().unwrap_or_else(|p| p.into_inner()).take());
            let stop = self.stop.clone();
            complete = rt.block_on(async move {
                health.set(ServingStatus::NotServing);
                let _ = stop.send(true);
                let both = async move {
                    if let Some(j) = done {
                        let _ = j.await;
                    }
                    if let Some(j) = authzen_done {
                        let _ = j.await;
                    }
                };
                tokio::time::timeout(deadline, both).await.is_ok()
            });
            rt.shutdown_timeout(Duration::from_millis(500));
        }
        let abandoned = if complete { 0 } else { self.gate.in_flight() };
        for t in self.tenants.iter() {
            t.engine.close();
        }
        let report = DrainReport {
            complete,
            abandoned,
            elapsed: started.elapsed(),
        };
        (self.events)(
            Event::new(
                if complete { Level::Info } else { Level::Warn },
                "drained",
                if complete {
                    "drained: every call in flight was answered".to_string()
                } else {
                    format!("drain deadline passed with {abandoned} calls in flight")
                },
            )
            .with("elapsed_ms", report.elapsed.as_millis() as u64)
            .with("complete", complete),
        );
        if let Some(export) = &self.export {
            // Bounded by the exporters' own timeouts (OTEL_EXPORTER_OTLP_TIMEOUT).
            let stats = export.shutdown();
            (self.events)(
                Event::new(Level::Info, "telemetry_stopped", "telemetry exported")
                    .with("spans", stats.spans)
                    .with("logs", stats.logs)
                    .with("exportedSpans", stats.exported_spans)
                    .with("exportedLogs", stats.exported_logs)
                    .with("droppedSpans", stats.dropped_spans)
                    .with("droppedLogs", stats.dropped_logs)
                    .with("failedExports", stats.failed_exports),
            );
        }
        *drained = Some(report);
        report
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if self.drained.lock().map(|d| d.is_none()).unwrap_or(false) {
            self.drain(Some(Duration::from_millis(0)));
        }
    }
}

fn report_tls_reload(events: &EventSink, r: Result<bool, SidecarError>) {
    match r {
        Ok(true) => events(Event::new(
            Level::Info,
            "tls_reloaded",
            "TLS certificates reloaded; new connections use them",
        )),
        Ok(false) => {}
        Err(e) => events(
            Event::new(
                Level::Error,
                "tls_reload_failed",
                format!("TLS reload failed; the previous certificates keep serving: {e}"),
            )
            .with("code", e.code()),
        ),
    }
}

/// The data plane's certificate files: none with `insecure_dev` (which
/// must then be on loopback or a unix socket), else all three are required.
pub(crate) fn data_plane_tls(
    sc: &coresdk_engine::SidecarConfig,
    addr: &ListenAddr,
) -> Result<Option<TlsFiles>, SidecarError> {
    if sc.insecure_dev {
        if !addr.is_local() {
            return Err(SidecarError::config(
                "CORESDK_SIDECAR_INSECURE_DEV",
                format!("insecure-dev serves plaintext and binds to loopback or a unix socket only; {addr} is neither"),
            ));
        }
        return Ok(None);
    }
    let need = |v: &Option<std::path::PathBuf>, key: &str| {
        v.clone().ok_or_else(|| {
            SidecarError::config(
                format!("sidecar.{key} (CORESDK_SIDECAR_{})", key.to_ascii_uppercase()),
                "mutual TLS needs tls_cert_file, tls_key_file and tls_client_ca_file (or insecure-dev on loopback for development)",
            )
        })
    };
    Ok(Some(TlsFiles {
        cert: need(&sc.tls_cert_file, "tls_cert_file")?,
        key: need(&sc.tls_key_file, "tls_key_file")?,
        client_ca: Some(need(&sc.tls_client_ca_file, "tls_client_ca_file")?),
        https: false,
    }))
}

/// Keeps health in step with readiness until the sidecar stops.
async fn readiness_loop(
    tenants: Arc<Tenants>,
    health: HealthReporter,
    draining: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
    events: EventSink,
) {
    let mut last: Option<bool> = None;
    loop {
        if draining.load(Ordering::SeqCst) {
            return;
        }
        let r = tenants.readiness();
        if last != Some(r.ready) {
            let status = if r.ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            health.set(status);
            events(match &r.reason {
                None => Event::new(Level::Info, "serving", "health: SERVING"),
                Some(why) => Event::new(
                    Level::Warn,
                    "not_serving",
                    format!("health: NOT_SERVING ({why})"),
                ),
            });
            last = Some(r.ready);
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
