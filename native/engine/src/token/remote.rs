//! Remote key sets: a JWKS URL or an OIDC issuer, fetched over HTTPS,
//! refreshed in the background, persisted to the offline cache.
//!
//! * **Lock-free reads.** The current key set sits behind an `ArcSwap`;
//!   verifications never take a lock and never wait on the network, except
//!   for the rate-limited refetch when a token names an unknown `kid`.
//! * **One fetch in flight.** Fetches are serialized by a mutex: a thread
//!   that arrives while another fetches waits for it and uses its result.
//! * **Refresh.** A background thread refetches when the key set's
//!   `Cache-Control: max-age` runs out, clamped to `[refresh_min,
//!   refresh_max]` (`refresh_max` when the server says nothing); failures
//!   back off (1 s, doubling, at most `refresh_min`).
//! * **Unknown `kid`.** Triggers a refetch at most once per
//!   `unknown_kid_cooldown` (an attacker spraying random kids costs one
//!   fetch per cooldown, not one per request).
//! * **Staleness bound.** While the provider is unreachable the last good
//!   set keeps serving for at most `stale_max` after it was fetched; then
//!   verification fails with `ERR_JWKS_UNAVAILABLE` rather than trusting
//!   keys that may have been revoked.
//! * **Offline cache.** Each good set is written (atomically, HMAC-SHA256
//!   tagged) to the offline cache; when the provider is unreachable at
//!   start, the verifier serves from it. Any tampering rejects the whole
//!   cache: nothing from it is used, and the status says why.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use sha2::{Digest, Sha256};

use super::alg::Alg;
use super::error::TokenError;
use super::fetch::{discover_jwks_uri, FetchConfig, HttpFetcher};
use super::jwk::KeySet;
use super::keys::{KeyProvider, KeyStatus};
use super::offline::OfflineCache;

/// Where a remote key set is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSource {
    /// A JWKS URL.
    JwksUrl(String),
    /// An OIDC issuer (discovery names the JWKS URL).
    Issuer(String),
}

/// Settings of [`RemoteKeys`].
#[derive(Debug, Clone)]
pub struct RemoteKeysConfig {
    /// Where the keys are.
    pub source: RemoteSource,
    /// HTTP settings (timeout, CA bundle, body cap).
    pub fetch: FetchConfig,
    /// Algorithms keys may be used with.
    pub algorithms: Vec<Alg>,
    /// Shortest refresh interval (also the cap of the failure backoff).
    pub refresh_min: Duration,
    /// Longest refresh interval (and the interval without `max-age`).
    pub refresh_max: Duration,
    /// Least time between two refetches caused by unknown `kid`s.
    pub unknown_kid_cooldown: Duration,
    /// How long the last good set serves while the provider is unreachable.
    pub stale_max: Duration,
}

impl RemoteKeysConfig {
    /// Defaults for a source: refresh between 1 min and 1 h, unknown-kid
    /// cooldown 30 s, stale keys usable for 24 h.
    pub fn new(source: RemoteSource) -> Self {
        RemoteKeysConfig {
            source,
            fetch: FetchConfig::default(),
            algorithms: super::alg::ALL_ALGS.to_vec(),
            refresh_min: Duration::from_secs(60),
            refresh_max: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            stale_max: Duration::from_secs(24 * 3600),
        }
    }
}

struct Current {
    keys: Arc<KeySet>,
    fetched_at: SystemTime,
    from_offline: bool,
}

#[derive(Default)]
struct State {
    last_error: Option<String>,
    last_unknown_kid_fetch: Option<Instant>,
    next_refresh: Option<Instant>,
    failures: u32,
    jwks_uri: Option<String>,
}

struct Inner {
    cfg: RemoteKeysConfig,
    fetcher: HttpFetcher,
    offline: Option<OfflineCache>,
    offline_note: Option<String>,
    current: ArcSwapOption<Current>,
    state: Mutex<State>,
    fetching: Mutex<()>,
    /// Completed successful fetches: a caller that waited for another
    /// caller's fetch sees it change and uses that result.
    generation: AtomicU64,
    /// Times the offline cache was rejected (tampered or unreadable).
    offline_rejections: AtomicU64,
    /// Failed fetches since start (successes are `generation`).
    failed_fetches: AtomicU64,
    stop: AtomicBool,
    wake: Condvar,
}

/// A key provider backed by a JWKS URL or an OIDC issuer.
pub struct RemoteKeys {
    inner: Arc<Inner>,
}

impl RemoteKeys {
    /// Fetches the key set once (falling back to the offline cache), then
    /// starts the background refresher. Never fails on an unreachable
    /// provider: verification reports `ERR_JWKS_UNAVAILABLE` until keys
    /// arrive. Fails only on invalid configuration (a bad CA file).
    ///
    /// `offline`: the cache, or `Err(note)` saying why there is none (told
    /// once, in the status).
    pub fn start(
        cfg: RemoteKeysConfig,
        offline: Result<OfflineCache, String>,
    ) -> Result<Self, TokenError> {
        let fetcher = HttpFetcher::new(&cfg.fetch).map_err(|e| TokenError::KeysUnavailable {
            reason: e.to_string(),
        })?;
        let (offline, offline_note) = match offline {
            Ok(c) => (Some(c), None),
            Err(note) => {
                // Said once per process, at start: without the offline cache a
                // provider outage at start means no keys.
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| eprintln!("coresdk: offline key cache disabled: {note}"));
                (None, Some(note))
            }
        };
        let inner = Arc::new(Inner {
            cfg,
            fetcher,
            offline,
            offline_note,
            current: ArcSwapOption::empty(),
            state: Mutex::new(State::default()),
            fetching: Mutex::new(()),
            generation: AtomicU64::new(0),
            offline_rejections: AtomicU64::new(0),
            failed_fetches: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            wake: Condvar::new(),
        });
        if inner.fetch_now().is_err() {
            inner.load_offline();
        }
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("coresdk-jwks-refresh".into())
            .spawn(move || refresher(weak))
            .map_err(|e| TokenError::KeysUnavailable {
                reason: format!("cannot start the key refresher: {e}"),
            })?;
        Ok(RemoteKeys { inner })
    }

    /// Fetches now (single-flight), e.g. for an explicit reload.
    pub fn refresh(&self) -> Result<Arc<KeySet>, TokenError> {
        self.inner.fetch_now()
    }
}

impl Drop for RemoteKeys {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wake.notify_all();
    }
}

impl KeyProvider for RemoteKeys {
    fn current(&self) -> Result<Arc<KeySet>, TokenError> {
        let Some(cur) = self.inner.current.load_full() else {
            let reason = lock(&self.inner.state)
                .last_error
                .clone()
                .unwrap_or_else(|| "no key set fetched yet".into());
            return Err(TokenError::KeysUnavailable { reason });
        };
        let age = SystemTime::now()
            .duration_since(cur.fetched_at)
            .unwrap_or_default();
        if age > self.inner.cfg.stale_max {
            return Err(TokenError::KeysUnavailable {
                reason: format!(
                    "the last good key set is {} s old (limit {} s) and the provider is unreachable",
                    age.as_secs(),
                    self.inner.cfg.stale_max.as_secs()
                ),
            });
        }
        Ok(cur.keys.clone())
    }

    fn refresh_for_unknown_kid(&self) -> Option<Arc<KeySet>> {
        {
            let mut st = lock(&self.inner.state);
            if st
                .last_unknown_kid_fetch
                .is_some_and(|t| t.elapsed() < self.inner.cfg.unknown_kid_cooldown)
            {
                return None;
            }
            st.last_unknown_kid_fetch = Some(Instant::now());
        }
        self.inner.fetch_now().ok()
    }

    fn status(&self) -> KeyStatus {
        let cur = self.inner.current.load_full();
        let st = lock(&self.inner.state);
        KeyStatus {
            source: match &self.inner.cfg.source {
                RemoteSource::JwksUrl(u) => format!("jwks_url {}", redact(u)),
                RemoteSource::Issuer(i) => format!("oidc_issuer {}", redact(i)),
            },
            keys: cur.as_ref().map_or(0, |c| c.keys.len()),
            fetched_at: cur.as_ref().map(|c| c.fetched_at),
            from_offline_cache: cur.as_ref().is_some_and(|c| c.from_offline),
            last_error: st.last_error.clone(),
            offline_cache_rejections: self.inner.offline_rejections.load(Ordering::Relaxed),
            refreshes_ok: self.inner.generation.load(Ordering::Relaxed),
            refreshes_failed: self.inner.failed_fetches.load(Ordering::Relaxed),
            offline_cache: match (&self.inner.offline, &self.inner.offline_note) {
                (Some(_), _) => "enabled".into(),
                (None, Some(note)) => format!("disabled: {note}"),
                (None, None) => "disabled".into(),
            },
        }
    }
}

impl Inner {
    fn entry_name(&self) -> String {
        let id = match &self.cfg.source {
            RemoteSource::JwksUrl(u) => u,
            RemoteSource::Issuer(i) => i,
        };
        let digest = Sha256::digest(id.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("jwks-{hex}")
    }

    fn fetch_now(&self) -> Result<Arc<KeySet>, TokenError> {
        let seen = self.generation.load(Ordering::SeqCst);
        let _single = lock(&self.fetching);
        // Someone else completed a fetch while we waited: use theirs.
        if self.generation.load(Ordering::SeqCst) != seen {
            if let Some(cur) = self.current.load_full() {
                return Ok(cur.keys.clone());
            }
        }
        match self.fetch_once() {
            Ok((keys, body, max_age)) => {
                let keys = Arc::new(keys);
                self.current.store(Some(Arc::new(Current {
                    keys: keys.clone(),
                    fetched_at: SystemTime::now(),
                    from_offline: false,
                })));
                self.generation.fetch_add(1, Ordering::SeqCst);
                let interval = max_age
                    .unwrap_or(self.cfg.refresh_max)
                    .clamp(self.cfg.refresh_min, self.cfg.refresh_max);
                {
                    let mut st = lock(&self.state);
                    st.last_error = None;
                    st.failures = 0;
                    st.next_refresh = Some(Instant::now() + interval);
                }
                if let Some(cache) = &self.offline {
                    if let Err(e) = cache.store(&self.entry_name(), body.as_bytes()) {
                        lock(&self.state).last_error =
                            Some(format!("offline cache write failed: {e}"));
                    }
                }
                self.wake.notify_all();
                Ok(keys)
            }
            Err(e) => {
                self.failed_fetches.fetch_add(1, Ordering::Relaxed);
                let mut st = lock(&self.state);
                st.failures = st.failures.saturating_add(1);
                let backoff =
                    Duration::from_secs(1u64 << st.failures.min(16)).min(self.cfg.refresh_min);
                st.next_refresh = Some(Instant::now() + backoff);
                let keep = st
                    .last_error
                    .as_ref()
                    .filter(|m| m.contains("offline cache rejected"))
                    .cloned();
                st.last_error = Some(match keep {
                    Some(prev) => format!("{e}; {prev}"),
                    None => e.to_string(),
                });
                Err(e)
            }
        }
    }

    fn fetch_once(&self) -> Result<(KeySet, String, Option<Duration>), TokenError> {
        let unavailable = |e: super::fetch::FetchError| TokenError::KeysUnavailable {
            reason: e.to_string(),
        };
        let url = match &self.cfg.source {
            RemoteSource::JwksUrl(u) => u.clone(),
            RemoteSource::Issuer(issuer) => {
                let known = lock(&self.state).jwks_uri.clone();
                match known {
                    Some(u) => u,
                    None => {
                        let (u, _) =
                            discover_jwks_uri(&self.fetcher, issuer).map_err(unavailable)?;
                        lock(&self.state).jwks_uri = Some(u.clone());
                        u
                    }
                }
            }
        };
        let fetched = match self.fetcher.get_json(&url) {
            Ok(f) => f,
            Err(e) => {
                // The issuer may have moved its keys: rediscover next time.
                lock(&self.state).jwks_uri = None;
                return Err(unavailable(e));
            }
        };
        let keys = KeySet::from_jwks(&fetched.body, &self.cfg.algorithms)?;
        if keys.is_empty() {
            return Err(TokenError::KeySetInvalid {
                reason: format!(
                    "no usable key in the fetched set ({})",
                    keys.skipped.join("; ")
                ),
            });
        }
        Ok((keys, fetched.body, fetched.max_age))
    }

    /// Serves the offline copy when nothing fresher is held.
    fn load_offline(&self) {
        let Some(cache) = &self.offline else { return };
        let outcome = cache.load(&self.entry_name());
        let mut st = lock(&self.state);
        match outcome {
            Ok(Some((payload, written_at))) => {
                let parsed = std::str::from_utf8(&payload)
                    .map_err(|_| "offline key set is not UTF-8".to_string())
                    .and_then(|text| {
                        KeySet::from_jwks(text, &self.cfg.algorithms).map_err(|e| e.to_string())
                    });
                match parsed {
                    Ok(keys) if !keys.is_empty() => {
                        self.current.store(Some(Arc::new(Current {
                            keys: Arc::new(keys),
                            fetched_at: written_at,
                            from_offline: true,
                        })));
                        let fetch_err = st.last_error.take().unwrap_or_default();
                        st.last_error = Some(format!("{fetch_err}; serving the offline cache"));
                    }
                    Ok(_) => append(&mut st, "offline key set has no usable key"),
                    Err(e) => append(&mut st, &format!("offline key set unusable: {e}")),
                }
            }
            Ok(None) => append(&mut st, "no offline copy of the key set"),
            Err(e) => {
                // Tampered (or unreadable): nothing from the cache is used.
                self.offline_rejections.fetch_add(1, Ordering::Relaxed);
                eprintln!("coresdk: {e}; nothing from the offline key cache is used");
                append(&mut st, &e.to_string());
            }
        }
    }
}

fn append(st: &mut State, msg: &str) {
    st.last_error = Some(match st.last_error.take() {
        Some(prev) if !prev.is_empty() => format!("{prev}; {msg}"),
        _ => msg.to_string(),
    });
}

fn refresher(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let wait = {
            let st = lock(&inner.state);
            st.next_refresh.map_or(Duration::from_secs(1), |t| {
                t.saturating_duration_since(Instant::now())
            })
        };
        if wait.is_zero() {
            let _ = inner.fetch_now();
            continue;
        }
        // Sleep until due, woken early on stop; re-check at least every 5 s
        // so a dropped engine's thread ends promptly.
        let st = lock(&inner.state);
        let _ = inner
            .wake
            .wait_timeout(st, wait.min(Duration::from_secs(5)))
            .map(|(g, _)| drop(g));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn redact(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or_default();
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{host_and_path}")
        }
        None => no_query.to_string(),
    }
}

/// Milliseconds since the epoch, for status reports.
pub fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}
