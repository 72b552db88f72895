//! Remote policy bundles: pulled from a bundle server with OPA's bundle
//! service protocol, verified, activated, and persisted for offline start.
//!
//! * **Protocol.** `GET bundle_url` with `If-None-Match` (the last ETag) and
//!   `Authorization: Bearer` when a token is configured; `304` keeps the
//!   current revision. Polls are jittered uniformly between
//!   `poll_min` and `poll_max`, so a fleet does not poll in step.
//! * **Format.** gzip tarballs exactly as `opa build` writes them, read by
//!   [`archive`] under size, entry-count and decompression limits.
//! * **Signatures.** `.signatures.json` as `opa sign` writes it, verified by
//!   [`signature`] with the configured public key. With a key configured,
//!   unsigned bundles are refused unless `signing_required` is turned off.
//! * **Activation.** A bundle that verifies and compiles is swapped in
//!   atomically; anything else is refused whole, reported to reload
//!   listeners, and the last good revision keeps serving.
//! * **Offline copy.** The last activated tarball goes into the
//!   HMAC-verified offline cache (`offline_cache_dir`/`offline_cache_key`),
//!   so an engine starts with the bundle server down. The copy is verified
//!   again (MAC, archive, signature, compile) when it is loaded; a tampered
//!   cache is refused whole.

pub mod archive;
mod canonical;
pub mod signature;

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::bundle::{self, BundleFiles};
use crate::error::{EngineError, Result};
use crate::token::fetch::{BundleResponse, FetchConfig, HttpFetcher};
use crate::token::offline::OfflineCache;

pub use archive::ArchiveLimits;
pub use signature::BundleVerifier;

/// Default largest bundle download (compressed), 64 MiB.
pub const DEFAULT_MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;

/// Where and how to fetch a remote bundle (`bundle_*` keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBundleConfig {
    /// The bundle's URL (`bundle_url`); `https://`, or `http://` with
    /// `fetch.allow_insecure_http`.
    pub url: String,
    /// Shortest wait between polls (`bundle_poll_min_secs`, default 60).
    pub poll_min: Duration,
    /// Longest wait between polls (`bundle_poll_max_secs`, default 120).
    pub poll_max: Duration,
    /// Timeout (`bundle_timeout_ms`, default 10 s), CA file
    /// (`bundle_ca_file`), download limit (`bundle_max_bytes`) and
    /// `bundle_allow_insecure_http`.
    pub fetch: FetchConfig,
    /// A file holding the bearer token (`bundle_auth_token_file`), read
    /// before every request so that rotated tokens apply.
    pub auth_token_file: Option<PathBuf>,
    /// The name of an environment variable holding the bearer token
    /// (`bundle_auth_token_env`).
    pub auth_token_env: Option<String>,
    /// A PEM public key that bundle signatures must verify with
    /// (`bundle_verification_key_file`).
    pub verification_key_file: Option<PathBuf>,
    /// The key id signatures must name, when set (`bundle_key_id`).
    pub key_id: Option<String>,
    /// The scope signatures must carry (`bundle_scope`, default empty).
    pub scope: Option<String>,
    /// Refuse unsigned bundles (`bundle_signing_required`); defaults to
    /// whether a verification key is configured.
    pub signing_required: Option<bool>,
    /// The offline cache directory (`offline_cache_dir`).
    pub offline_cache_dir: Option<PathBuf>,
    /// The offline cache's HMAC key (`offline_cache_key`).
    pub offline_cache_key: Option<Vec<u8>>,
    /// Archive limits.
    pub limits: ArchiveLimits,
}

impl RemoteBundleConfig {
    /// A configuration for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        RemoteBundleConfig {
            url: url.into(),
            poll_min: Duration::from_secs(60),
            poll_max: Duration::from_secs(120),
            fetch: FetchConfig {
                timeout: Duration::from_secs(10),
                max_body_bytes: DEFAULT_MAX_BUNDLE_BYTES,
                ..FetchConfig::default()
            },
            auth_token_file: None,
            auth_token_env: None,
            verification_key_file: None,
            key_id: None,
            scope: None,
            signing_required: None,
            offline_cache_dir: None,
            offline_cache_key: None,
            limits: ArchiveLimits::default(),
        }
    }

    fn signing_required(&self) -> bool {
        self.signing_required
            .unwrap_or(self.verification_key_file.is_some())
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !self.url.starts_with("https://") && !self.url.starts_with("http://") {
            return Err(EngineError::config("bundle_url", "must be an http(s) URL"));
        }
        if self.url.starts_with("http://") && !self.fetch.allow_insecure_http {
            return Err(EngineError::config(
                "bundle_url",
                "plain http needs bundle_allow_insecure_http = true (development only); use https",
            ));
        }
        if self.poll_min.is_zero() || self.poll_max < self.poll_min {
            return Err(EngineError::config(
                "bundle_poll_max_secs",
                "polling needs 0 < bundle_poll_min_secs <= bundle_poll_max_secs",
            ));
        }
        if self.signing_required() && self.verification_key_file.is_none() {
            return Err(EngineError::config(
                "bundle_signing_required",
                "needs bundle_verification_key_file, the public key signatures verify with",
            ));
        }
        if self.offline_cache_dir.is_some() != self.offline_cache_key.is_some() {
            return Err(EngineError::config(
                "offline_cache_dir",
                "the offline cache needs both offline_cache_dir and offline_cache_key",
            ));
        }
        Ok(())
    }
}

/// How many bundle loads ended how (the `coresdk.bundle.loads` metric).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BundleLoads {
    /// A new revision was activated.
    pub activated: u64,
    /// The server answered 304, or sent the bundle already serving.
    pub unchanged: u64,
    /// A bundle arrived and was refused (archive, signature, manifest,
    /// compile).
    pub refused: u64,
    /// No bundle arrived (connect, TLS, timeout, HTTP status, size).
    pub failed: u64,
}

/// The state of an engine's bundle, for `bundleStatus()` and health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleStatus {
    /// `"dir"`, `"inline"` or `"remote"`.
    pub source: &'static str,
    /// The bundle URL, redacted (no userinfo, query or fragment).
    pub url: Option<String>,
    /// Whether a revision is serving. Only a remote bundle can be
    /// inactive: before its first activation, decisions fail with
    /// `ERR_BUNDLE_NOT_ACTIVE`.
    pub active: bool,
    /// The serving revision.
    pub revision: Option<String>,
    /// Where it came from: `"local"`, `"server"` or `"offline"`.
    pub activated_from: Option<&'static str>,
    /// When it was activated.
    pub activated_at: Option<SystemTime>,
    /// When the server last confirmed the serving revision (200 or 304);
    /// for a revision from the offline copy, when the copy was written.
    /// `coresdk.bundle.age` is measured from it.
    pub confirmed_at: Option<SystemTime>,
    /// When the server was last asked.
    pub last_check_at: Option<SystemTime>,
    /// The ETag of the serving bundle.
    pub etag: Option<String>,
    /// The last error, cleared by the next success.
    pub last_error: Option<String>,
    /// Its stable code.
    pub last_error_code: Option<&'static str>,
    /// Load outcomes so far.
    pub loads: BundleLoads,
    /// Why the offline copy was not used, when it was not.
    pub offline_note: Option<String>,
}

/// What one poll did.
pub(crate) enum Polled {
    /// A verified bundle to activate, with its ETag and raw bytes.
    New {
        files: Box<BundleFiles>,
        etag: Option<String>,
        raw: Vec<u8>,
    },
    /// 304 or the same ETag.
    Unchanged,
}

/// The remote side of one engine: fetcher, verifier, offline cache, state.
pub(crate) struct Remote {
    cfg: RemoteBundleConfig,
    fetcher: HttpFetcher,
    verifier: Option<BundleVerifier>,
    offline: Option<OfflineCache>,
    pub(crate) status: Mutex<BundleStatus>,
    wake: Arc<Wake>,
}

/// Wakes the poller early (reload, listener registered) or stops it.
#[derive(Default)]
pub(crate) struct Wake {
    state: Mutex<(bool, bool)>, // (poke, stop)
    cv: Condvar,
}

impl Wake {
    pub(crate) fn poke(&self) {
        lock(&self.state).0 = true;
        self.cv.notify_all();
    }

    pub(crate) fn stop(&self) {
        lock(&self.state).1 = true;
        self.cv.notify_all();
    }

    /// Waits up to `d` or until poked; `false` once stopped.
    fn wait(&self, d: Duration) -> bool {
        let deadline = std::time::Instant::now() + d;
        let mut g = lock(&self.state);
        loop {
            if g.1 {
                return false;
            }
            if g.0 {
                g.0 = false;
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return true;
            }
            g = self
                .cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Remote {
    pub(crate) fn new(cfg: &RemoteBundleConfig) -> Result<Remote> {
        cfg.validate()?;
        let fetcher = HttpFetcher::new(&cfg.fetch)
            .map_err(|e| EngineError::config("bundle_ca_file", e.to_string()))?;
        let verifier = match &cfg.verification_key_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    EngineError::config(
                        "bundle_verification_key_file",
                        format!("{}: {e}", path.display()),
                    )
                })?;
                Some(
                    BundleVerifier::from_pem(&pem, cfg.key_id.clone(), cfg.scope.clone()).map_err(
                        |e| {
                            EngineError::config(
                                "bundle_verification_key_file",
                                format!("{}: {e}", path.display()),
                            )
                        },
                    )?,
                )
            }
            None => None,
        };
        let offline = match (&cfg.offline_cache_dir, &cfg.offline_cache_key) {
            (Some(dir), Some(key)) => Some(
                OfflineCache::new(dir, key)
                    .map_err(|e| EngineError::config("offline_cache_dir", e.to_string()))?,
            ),
            _ => None,
        };
        Ok(Remote {
            status: Mutex::new(BundleStatus {
                source: "remote",
                url: Some(crate::token::fetch::redact_url(&cfg.url)),
                ..BundleStatus::default()
            }),
            cfg: cfg.clone(),
            fetcher,
            verifier,
            offline,
            wake: Arc::new(Wake::default()),
        })
    }

    pub(crate) fn wake(&self) -> &Arc<Wake> {
        &self.wake
    }

    fn origin(&self) -> PathBuf {
        PathBuf::from(crate::token::fetch::redact_url(&self.cfg.url))
    }

    /// Unpacks, verifies and reads a downloaded (or cached) tarball.
    pub(crate) fn prepare(&self, raw: &[u8]) -> Result<BundleFiles> {
        let refused = |m: String| EngineError::BundleRefused { message: m };
        let files = archive::read_tar_gz(raw, &self.cfg.limits).map_err(refused)?;
        let sigs = files
            .iter()
            .find(|(p, _)| p == signature::SIGNATURES_FILE)
            .map(|(_, b)| b.as_slice());
        match (sigs, &self.verifier) {
            (Some(s), Some(v)) => v.verify(s, &files).map_err(refused)?,
            (Some(_), None) => {
                return Err(refused(
                    "the bundle is signed but no verification key is configured (bundle_verification_key_file)".into(),
                ))
            }
            (None, _) if self.cfg.signing_required() => {
                return Err(refused(
                    "the bundle has no .signatures.json and signing is required".into(),
                ))
            }
            (None, _) => {}
        }
        bundle::from_archive(&self.origin(), files)
    }

    fn bearer(&self) -> Result<Option<String>> {
        if let Some(path) = &self.cfg.auth_token_file {
            let t = std::fs::read_to_string(path).map_err(|e| EngineError::BundleFetch {
                message: format!("cannot read bundle_auth_token_file {}: {e}", path.display()),
            })?;
            return Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty()));
        }
        if let Some(var) = &self.cfg.auth_token_env {
            return Ok(std::env::var(var).ok().filter(|t| !t.trim().is_empty()));
        }
        Ok(None)
    }

    /// Asks the server once.
    pub(crate) fn poll(&self) -> Result<Polled> {
        let etag = lock(&self.status).etag.clone();
        let token = self.bearer()?;
        lock(&self.status).last_check_at = Some(SystemTime::now());
        let resp = self
            .fetcher
            .get_bundle(&self.cfg.url, etag.as_deref(), token.as_deref())
            .map_err(|e| EngineError::BundleFetch {
                message: e.to_string(),
            })?;
        match resp {
            BundleResponse::NotModified => Ok(Polled::Unchanged),
            BundleResponse::Body {
                body,
                etag: new_etag,
            } => {
                if new_etag.is_some() && new_etag == etag {
                    return Ok(Polled::Unchanged);
                }
                let files = self.prepare(&body)?;
                Ok(Polled::New {
                    files: Box::new(files),
                    etag: new_etag,
                    raw: body,
                })
            }
        }
    }

    fn offline_name(&self) -> String {
        let d = Sha256::digest(self.cfg.url.as_bytes());
        let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("bundle-{hex}")
    }

    /// Persists an activated tarball; failures are noted, never fatal.
    pub(crate) fn store_offline(&self, etag: Option<&str>, raw: &[u8]) {
        let Some(cache) = &self.offline else { return };
        let header = serde_json::json!({"v": 1, "etag": etag}).to_string();
        let mut payload = Vec::with_capacity(header.len() + 1 + raw.len());
        payload.extend_from_slice(header.as_bytes());
        payload.push(b'\n');
        payload.extend_from_slice(raw);
        if let Err(e) = cache.store(&self.offline_name(), &payload) {
            lock(&self.status).offline_note =
                Some(format!("could not write the offline copy: {e}"));
        }
    }

    /// The verified offline copy, if there is a usable one.
    pub(crate) fn load_offline(&self) -> Option<(BundleFiles, Option<String>, SystemTime)> {
        let cache = self.offline.as_ref()?;
        let note = |m: String| {
            lock(&self.status).offline_note = Some(m);
            None
        };
        let (payload, written) = match cache.load(&self.offline_name()) {
            Ok(Some(e)) => e,
            Ok(None) => return note("no offline copy yet".into()),
            Err(e) => return note(format!("offline copy refused: {e}")),
        };
        let Some(nl) = payload.iter().position(|&b| b == b'\n') else {
            return note("offline copy refused: malformed entry".into());
        };
        let header: serde_json::Value = match serde_json::from_slice(&payload[..nl]) {
            Ok(h) => h,
            Err(_) => return note("offline copy refused: malformed entry".into()),
        };
        match self.prepare(&payload[nl + 1..]) {
            Ok(files) => Some((
                files,
                header
                    .get("etag")
                    .and_then(|e| e.as_str())
                    .map(str::to_string),
                written,
            )),
            Err(e) => note(format!("offline copy refused: {e}")),
        }
    }

    /// The wait before the next poll: uniform in `[poll_min, poll_max]`.
    fn next_wait(&self) -> Duration {
        let (min, max) = (self.cfg.poll_min, self.cfg.poll_max);
        let span = max.saturating_sub(min).as_millis() as u64;
        if span == 0 {
            return min;
        }
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(span);
        min + Duration::from_millis(h.finish() % (span + 1))
    }
}

/// Runs the polling loop for the engine behind `weak` until it is dropped
/// or closed. The first poll waits for the first reload listener (or
/// 250 ms), so the embedder hears about the first activation.
pub(crate) fn spawn_poller(
    weak: Weak<crate::engine::Inner>,
    wake: Arc<Wake>,
    first_wait: Duration,
    poll: fn(&crate::engine::Inner) -> Option<Duration>,
) -> Result<()> {
    std::thread::Builder::new()
        .name("coresdk-bundle-poll".into())
        .spawn(move || {
            let mut wait = first_wait;
            while wake.wait(wait) {
                let Some(inner) = weak.upgrade() else { break };
                match poll(&inner) {
                    Some(next) => wait = next,
                    None => break,
                }
            }
        })
        .map_err(|e| EngineError::PolicyLoad {
            path: Path::new("<bundle poller>").to_path_buf(),
            message: e.to_string(),
        })?;
    Ok(())
}

impl Remote {
    /// The wait after a poll.
    pub(crate) fn wait_after_poll(&self) -> Duration {
        self.next_wait()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
