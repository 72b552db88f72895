//! The [`Engine`]: pooled, hot-reloaded Rego evaluation.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Deserialize;

use crate::bundle::{self, BundleFiles};
use crate::cache::{DecisionCacheStats, MAX_CACHED_INPUT_BYTES};
use crate::config::{BundleSource, EngineConfig, SdkConfig};
use crate::decision::{Decision, Verdict, VerdictReason};
use crate::error::{EngineError, Result};
use crate::fastpath::{Input, VmOutcome};
use crate::input;
use crate::pool::Pool;
use crate::query::{classify, QueryKind};
use crate::remote_bundle::{BundleStatus, Polled, Remote};
use crate::revision::Revision;
use crate::token::{KeyStatus, TokenError, VerifiedToken, Verifier};
use crate::watch::BundleWatcher;
use std::time::{Duration, SystemTime};

/// What happened on a reload, as told to [`Engine::on_reload`] listeners.
#[derive(Debug, Clone)]
pub enum ReloadEvent {
    /// A new revision compiled and now serves.
    Reloaded {
        /// The new revision id.
        revision: Arc<str>,
        /// The revision it replaced.
        previous: Arc<str>,
    },
    /// The bundle failed to load or compile; `revision` keeps serving.
    Failed {
        /// What went wrong, with file, line and column when known.
        error: EngineError,
        /// The last good revision, still serving.
        revision: Arc<str>,
    },
}

/// Identifies a reload listener, for [`Engine::remove_reload_listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Listener = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

pub(crate) struct Inner {
    masker: crate::pii::Masker,
    config: EngineConfig,
    verifier: Option<Verifier>,
    current: ArcSwap<Revision>,
    digest: Mutex<String>,
    pool: Pool,
    closed: AtomicBool,
    listeners: Mutex<Vec<(ListenerId, Listener)>>,
    next_listener: AtomicU64,
    watcher: Mutex<Option<BundleWatcher>>,
    reload_lock: Mutex<()>,
    /// The bundle server side, for a remote bundle.
    remote: Option<Remote>,
    /// False until a remote bundle's first activation.
    active: AtomicBool,
    /// When the serving revision was activated (local bundles).
    activated_at: Mutex<SystemTime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(r) = &self.remote {
            r.wake().stop();
        }
    }
}

/// The policy engine: a compiled bundle revision, a pool of evaluators, and
/// (for directory bundles) a watcher that hot-reloads on change.
///
/// `Engine` is cheap to clone (it is a handle) and safe to share across
/// threads; concurrent evaluations run on separate pooled evaluators.
///
/// ```no_run
/// use coresdk_engine::{Engine, EngineConfig};
/// use serde_json::json;
///
/// let engine = Engine::new(EngineConfig::for_dir("examples/policies"))?;
/// let decision = engine.evaluate_policy(
///     "data.authz.allow",
///     &json!({"user": {"roles": ["admin"]}, "action": "read"}),
/// )?;
/// println!("allowed={} revision={}", decision.is_true(), decision.revision);
/// # Ok::<(), coresdk_engine::EngineError>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("revision", &self.revision())
            .field("pool_size", &self.inner.config.pool_size)
            .finish()
    }
}

impl Engine {
    /// Builds an engine from `coresdk.toml` and `CORESDK_*` variables
    /// (see [`SdkConfig::from_env`]).
    pub fn from_env() -> Result<Self> {
        Self::new(SdkConfig::from_env()?.engine_config()?)
    }

    /// Loads and compiles the bundle, and starts watching it when configured.
    ///
    /// A remote bundle ([`BundleSource::Remote`]) is not fetched here: the
    /// engine starts from its verified offline copy when there is one, and
    /// a background poller fetches it. Until a revision is active,
    /// decisions fail with `ERR_BUNDLE_NOT_ACTIVE`; see
    /// [`Engine::wait_for_bundle`] and [`Engine::bundle_status`].
    pub fn new(config: EngineConfig) -> Result<Self> {
        config.validate()?;
        let remote = match &config.bundle {
            BundleSource::Remote(r) => Some(Remote::new(r)?),
            _ => None,
        };
        let files = match remote {
            Some(_) => BundleFiles::empty(),
            None => bundle::read(&config)?,
        };
        let digest = files.digest.clone();
        let revision = Revision::compile(files, &config)?;
        let verifier = config.token.as_ref().map(|t| t.build()).transpose()?;
        let masker = crate::pii::Masker::new(&config.pii)?;
        let inner = Arc::new(Inner {
            verifier,
            masker,
            pool: Pool::new(config.pool_size),
            current: ArcSwap::from_pointee(revision),
            digest: Mutex::new(digest),
            closed: AtomicBool::new(false),
            listeners: Mutex::new(Vec::new()),
            next_listener: AtomicU64::new(1),
            watcher: Mutex::new(None),
            reload_lock: Mutex::new(()),
            active: AtomicBool::new(remote.is_none()),
            remote,
            activated_at: Mutex::new(SystemTime::now()),
            config,
        });
        if let Some(remote) = &inner.remote {
            if let Some((files, etag, written)) = remote.load_offline() {
                // Failures are kept in the status (no listener exists yet).
                let _ = inner.activate_remote(*Box::new(files), etag, None, "offline", written);
            }
            crate::remote_bundle::spawn_poller(
                Arc::downgrade(&inner),
                remote.wake().clone(),
                Duration::from_millis(250),
                Inner::poll_remote,
            )?;
        }
        if let (BundleSource::Dir(dir), true) = (&inner.config.bundle, inner.config.watch) {
            let watcher = BundleWatcher::start(dir, Arc::downgrade(&inner))?;
            *lock(&inner.watcher) = Some(watcher);
        }
        Ok(Engine { inner })
    }

    /// The configuration this engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The id of the revision currently serving.
    pub fn revision(&self) -> Arc<str> {
        self.inner.current.load().id.clone()
    }

    /// Whether `query` reads a rule of the revision serving now: a plain
    /// reference into `data` naming a rule that is not a function
    /// (`data.authz.allow`), or a path inside such a rule's value. `false`
    /// for general queries, packages (`data.authz`), `data` itself and base
    /// documents (`data.json`'s values). The sidecar's default query
    /// allow-list.
    pub fn serves_rule(&self, query: &str) -> bool {
        crate::query::data_path(query).is_some_and(|p| self.inner.current.load().serves_rule(&p))
    }

    /// Evaluates `query` against an input given as a JSON value.
    ///
    /// A plain reference into `data` (`data.authz.allow`) returns the
    /// document's value; any other query returns the list of its results'
    /// variable bindings (OPA's `/v1/query` shape). `None` means undefined.
    pub fn evaluate_policy(&self, query: &str, input: &serde_json::Value) -> Result<Decision> {
        let cfg = &self.inner.config;
        input::check_value(input, cfg.max_input_bytes, cfg.max_input_depth)?;
        if self.inner.current.load().cache.is_some() {
            // The cache is keyed on JSON text.
            return self.evaluate_policy_json(query, &input.to_string());
        }
        if self.is_closed() {
            return Err(EngineError::Closed);
        }
        self.eval_on(&self.inner.current.load(), query, Input::Json(input))
    }

    /// Evaluates `query` against an input given as JSON text (the fastest
    /// form from other languages: no intermediate tree is built).
    pub fn evaluate_policy_json(&self, query: &str, input_json: &str) -> Result<Decision> {
        if self.is_closed() {
            return Err(EngineError::Closed);
        }
        // A guard, not a new reference: no shared counter is written per call.
        let current = self.inner.current.load();
        let cache = current
            .cache
            .as_ref()
            .filter(|_| input_json.len() <= MAX_CACHED_INPUT_BYTES);
        if let Some(value) = cache.and_then(|c| c.get(query, input_json)) {
            return Ok(Decision {
                value,
                revision: current.id.clone(),
            });
        }
        let decision = self.evaluate_uncached(&current, query, input_json)?;
        if let Some(cache) = cache {
            // Only for the revision that decided: a reload may have swapped
            // revisions meanwhile, and `current` still is the one we used.
            cache.insert(query, input_json, decision.value.clone());
        }
        Ok(decision)
    }

    /// Checks, parses and evaluates JSON text input on `current`.
    fn evaluate_uncached(
        &self,
        current: &Arc<Revision>,
        query: &str,
        input_json: &str,
    ) -> Result<Decision> {
        let cfg = &self.inner.config;
        input::check_json_text(input_json, cfg.max_input_bytes, cfg.max_input_depth)?;
        if input_json.trim().is_empty() {
            return self.eval_on(current, query, Input::None);
        }
        // Parsed by whichever evaluator answers: the fast path keeps only
        // the part its program reads, the interpreter takes it whole.
        self.eval_on(current, query, Input::Text(input_json))
    }

    /// How the revision now serving answered its evaluations: by the
    /// register VM or by the interpreter (docs/engine.md, "The fast path").
    pub fn fast_path_stats(&self) -> crate::revision::FastPathStats {
        self.inner.current.load().fast_path_stats()
    }

    /// Whether the fast path (the tree evaluator) may answer rule query `query` on the
    /// revision now serving: `None` when it may (for inputs that pass its
    /// guards), else why the interpreter answers. Plans the query if needed.
    pub fn fast_path_route(&self, query: &str) -> Option<String> {
        self.fast_path_plan(query).reason
    }

    /// How rule query `query` is evaluated on the revision now serving:
    /// by the tree evaluator (with how many input guards, and whether its rules were
    /// indexed) or by the interpreter (and why). Plans the query if needed.
    pub fn fast_path_plan(&self, query: &str) -> crate::revision::FastPathPlan {
        let query = query.trim();
        let interpreter = |reason: String| crate::revision::FastPathPlan {
            reason: Some(reason),
            guards: 0,
            indexed: false,
            evaluator: "interpreter",
        };
        match classify(query) {
            Ok(QueryKind::Ref) => match self.inner.current.load().route(query) {
                crate::fastpath::Route::Vm(plan) => crate::revision::FastPathPlan {
                    reason: None,
                    guards: plan.guard_count(),
                    indexed: plan.indexed,
                    evaluator: plan.evaluator(),
                },
                crate::fastpath::Route::Interpreter(r) => interpreter(r.to_string()),
            },
            Ok(QueryKind::General) => interpreter("a general query".into()),
            Err(e) => interpreter(e.to_string()),
        }
    }

    /// Decision cache counters of the revision now serving (plain
    /// evaluations and `authorize` decisions together).
    pub fn decision_cache_stats(&self) -> DecisionCacheStats {
        let current = self.inner.current.load();
        let mut stats = current
            .cache
            .as_ref()
            .map(|c| c.stats())
            .unwrap_or_default();
        if let Some(a) = current.authorize_cache.as_ref().map(|c| c.stats()) {
            stats.hits += a.hits;
            stats.misses += a.misses;
        }
        stats
    }

    /// Verifies a bearer token (compact JWS) against the configured key
    /// source. `ERR_CONFIG` when no key source is configured.
    pub fn verify_token(&self, token: &str) -> Result<VerifiedToken> {
        if self.is_closed() {
            return Err(EngineError::Closed);
        }
        let verifier = self.inner.verifier.as_ref().ok_or_else(|| {
            EngineError::config(
                "jwks_url",
                "no token key source configured (jwks_url, jwks_file, oidc_issuer, or an inline JWKS)",
            )
        })?;
        Ok(verifier.verify(token)?)
    }

    /// Verification and policy evaluation in one call.
    ///
    /// The policy's input is the caller's input object (JSON text; empty
    /// means `{}`) with the verified claims added as `input.claims`; a
    /// caller-supplied `claims` member is refused, so a request can never
    /// smuggle claims past the verifier. A rejected token is never
    /// evaluated and never allowed.
    pub fn authorize(&self, token: &str, query: &str, input_json: &str) -> Authorization {
        let verified = match self.verify_token(token) {
            Ok(v) => v,
            Err(e) => return Authorization::failed(None, e),
        };
        // The decision depends on the claims, which the token determines: the
        // decision cache keys it by the token's digest and the caller's input,
        // so a repeat skips composing the input and hashing the claims.
        let current = self.inner.current.load_full();
        let cache = current
            .authorize_cache
            .as_ref()
            .filter(|_| input_json.len() <= MAX_CACHED_INPUT_BYTES);
        let key = cache.map(|_| {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut k = String::with_capacity(65 + input_json.len());
            for b in verified.digest {
                k.push(HEX[usize::from(b >> 4)] as char);
                k.push(HEX[usize::from(b & 15)] as char);
            }
            k.push(' ');
            k.push_str(input_json);
            k
        });
        if let (Some(cache), Some(key)) = (cache, &key) {
            if let Some(value) = cache.get(query, key) {
                return Authorization::decided(
                    verified,
                    Decision {
                        value,
                        revision: current.id.clone(),
                    },
                );
            }
        }
        let input = match compose_input(&verified, input_json, &self.inner.config) {
            Ok(text) => text,
            Err(e) => return Authorization::failed(Some(verified), e),
        };
        let outcome = if self.is_closed() {
            Err(EngineError::Closed)
        } else {
            self.evaluate_uncached(&current, query, &input)
        };
        if let (Ok(decision), Some(cache), Some(key)) = (&outcome, cache, &key) {
            cache.insert(query, key, decision.value.clone());
        }
        match outcome {
            Ok(decision) => Authorization::decided(verified, decision),
            Err(e) => Authorization::failed(Some(verified), e),
        }
    }

    /// The PII masker configured for this engine (`pii_*` keys).
    pub fn masker(&self) -> &crate::pii::Masker {
        &self.inner.masker
    }

    /// Masks personal data and secrets in `values` (see [`crate::pii`]);
    /// `counts` receives what was masked, by type.
    pub fn mask_pii<S: AsRef<str>>(
        &self,
        values: &[S],
        counts: &mut crate::pii::MaskCounts,
    ) -> Vec<String> {
        self.inner.masker.mask_batch(values, counts)
    }

    /// The key source's state (no key material), when tokens are configured.
    pub fn key_status(&self) -> Option<KeyStatus> {
        self.inner.verifier.as_ref().map(|v| v.keys().status())
    }

    /// Allow-style check: allowed only when `query` is exactly `true`.
    /// Undefined, any other value, and any error deny, with the reason.
    pub fn decide(&self, query: &str, input: &serde_json::Value) -> Verdict {
        verdict(self.evaluate_policy(query, input))
    }

    /// [`Engine::decide`] for JSON text input.
    pub fn decide_json(&self, query: &str, input_json: &str) -> Verdict {
        verdict(self.evaluate_policy_json(query, input_json))
    }

    /// `true` only when `query` evaluates to exactly `true`; undefined or any
    /// error is a deny.
    pub fn is_allowed(&self, query: &str, input: &serde_json::Value) -> bool {
        self.decide(query, input).allowed
    }

    /// Re-reads and recompiles the bundle now. On success the new revision
    /// serves from the next evaluation on; on failure the last good revision
    /// keeps serving, listeners hear [`ReloadEvent::Failed`], and the error
    /// is returned.
    pub fn reload(&self) -> Result<Arc<str>> {
        self.inner.reload(true)
    }

    /// Registers a listener for reload outcomes (from [`Engine::reload`],
    /// the file watcher and the remote bundle poller). Listeners run on the
    /// reloading thread. A remote bundle's poller makes its first request
    /// once the first listener is registered (or after 250 ms), so that
    /// listener hears of the first activation.
    pub fn on_reload(&self, listener: impl Fn(&ReloadEvent) + Send + Sync + 'static) -> ListenerId {
        let id = ListenerId(self.inner.next_listener.fetch_add(1, Ordering::Relaxed));
        let first = {
            let mut l = lock(&self.inner.listeners);
            l.push((id, Arc::new(listener)));
            l.len() == 1
        };
        if let (true, Some(r)) = (first, &self.inner.remote) {
            r.wake().poke();
        }
        id
    }

    /// The state of the bundle: its source, whether a revision is active,
    /// and for a remote bundle its ETag, last check, last error and load
    /// counts.
    pub fn bundle_status(&self) -> BundleStatus {
        let inner = &self.inner;
        let active = inner.active.load(Ordering::SeqCst);
        match &inner.remote {
            Some(r) => {
                let mut s = lock(&r.status).clone();
                s.active = active;
                s.revision = active.then(|| self.revision().to_string());
                s
            }
            None => BundleStatus {
                source: match inner.config.bundle {
                    BundleSource::Inline { .. } => "inline",
                    _ => "dir",
                },
                active: true,
                revision: Some(self.revision().to_string()),
                activated_from: Some("local"),
                activated_at: Some(*lock(&inner.activated_at)),
                ..BundleStatus::default()
            },
        }
    }

    /// Waits until a revision is active (at once for local bundles), at
    /// most `timeout`; returns whether one is.
    pub fn wait_for_bundle(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.inner.active.load(Ordering::SeqCst) {
                return true;
            }
            if self.is_closed() || std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Removes a listener registered with [`Engine::on_reload`].
    pub fn remove_reload_listener(&self, id: ListenerId) {
        lock(&self.inner.listeners).retain(|(i, _)| *i != id);
    }

    /// Stops the watcher and refuses further evaluations with
    /// `ERR_ENGINE_CLOSED`. Evaluations already running finish.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Some(r) = &self.inner.remote {
            r.wake().stop();
        }
        lock(&self.inner.watcher).take();
        lock(&self.inner.listeners).clear();
    }

    /// `ERR_BUNDLE_NOT_ACTIVE` until a remote bundle (or its verified
    /// offline copy) has been activated; every evaluation answers so
    /// meanwhile. Once active, an engine stays active.
    pub fn check_active(&self) -> Result<()> {
        if self.inner.active.load(Ordering::Relaxed) {
            return Ok(());
        }
        Err(EngineError::BundleNotActive {
            message: self
                .bundle_status()
                .last_error
                .unwrap_or_else(|| "no bundle fetched yet".into()),
        })
    }

    /// Whether [`Engine::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Evaluates on `current`: `input` is the parsed input (`None`: no
    /// input) and `text` its JSON text when the caller gave text.
    fn eval_on(&self, current: &Arc<Revision>, query: &str, input: Input<'_>) -> Result<Decision> {
        self.check_active()?;
        let kind = classify(query)?;
        let limit_ms = self.inner.config.eval_timeout.as_millis() as u64;
        let query = query.trim();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.inner.pool.with(current, |ev| {
                let invalid = |message: String| EngineError::InputInvalid { message };
                if kind == QueryKind::Ref {
                    if let Some((plan, vm)) = ev.vm(query) {
                        match vm.answer(plan, input).map_err(|e| invalid(e.to_string()))? {
                            VmOutcome::Value(v) => {
                                ev.revision.count_answer(true);
                                return Ok(Decision {
                                    value: match v {
                                        regorus::Value::Undefined => None,
                                        v => Some(to_json(&v)?),
                                    },
                                    revision: ev.revision.id.clone(),
                                });
                            }
                            VmOutcome::Timeout => {
                                return Err(EngineError::EvalTimeout { limit_ms })
                            }
                            // The interpreter is the reference: it answers.
                            VmOutcome::Fallback => {}
                        }
                    }
                }
                ev.revision.count_answer(false);
                let value = match input {
                    Input::None => regorus::Value::Undefined,
                    Input::Text(t) => {
                        regorus::Value::from_json_str(t).map_err(|e| invalid(e.to_string()))?
                    }
                    Input::Json(j) => {
                        regorus::Value::deserialize(j).map_err(|e| invalid(e.to_string()))?
                    }
                };
                let engine = &mut ev.engine;
                engine.set_input(value);
                let value = match kind {
                    QueryKind::Ref => eval_ref(engine, query, limit_ms),
                    QueryKind::General => eval_general(engine, query, limit_ms),
                }?;
                Ok(Decision {
                    value,
                    revision: ev.revision.id.clone(),
                })
            })
        }));
        outcome.unwrap_or_else(|_| {
            Err(EngineError::Eval {
                message: "internal evaluator error (the evaluator was reset)".into(),
            })
        })
    }
}

impl Inner {
    pub(crate) fn reload_if_changed(&self) -> Result<Arc<str>> {
        self.reload(false)
    }

    /// One poll of the remote bundle; the wait before the next, or `None`
    /// once the engine is closed.
    fn poll_remote(&self) -> Option<Duration> {
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        let _ = self.reload(true);
        self.remote.as_ref().map(Remote::wait_after_poll)
    }

    /// Asks the bundle server once and activates what it sends.
    fn reload_remote(&self, remote: &Remote) -> Result<Arc<str>> {
        let _guard = lock(&self.reload_lock);
        let previous = self.current.load().id.clone();
        let now = SystemTime::now();
        match remote.poll() {
            Ok(Polled::Unchanged) => {
                let mut st = lock(&remote.status);
                st.loads.unchanged += 1;
                st.confirmed_at = Some(now);
                st.last_error = None;
                st.last_error_code = None;
                Ok(previous)
            }
            Ok(Polled::New { files, etag, raw }) => {
                let same =
                    self.active.load(Ordering::SeqCst) && *lock(&self.digest) == files.digest;
                if same {
                    let mut st = lock(&remote.status);
                    st.loads.unchanged += 1;
                    st.confirmed_at = Some(now);
                    st.etag = etag;
                    st.last_error = None;
                    st.last_error_code = None;
                    return Ok(previous);
                }
                self.activate_remote(*files, etag, Some(&raw), "server", now)
            }
            Err(error) => {
                {
                    let mut st = lock(&remote.status);
                    if matches!(error, EngineError::BundleFetch { .. }) {
                        st.loads.failed += 1;
                    } else {
                        st.loads.refused += 1;
                    }
                    st.last_error = Some(error.to_string());
                    st.last_error_code = Some(error.code());
                }
                self.notify(&ReloadEvent::Failed {
                    error: error.clone(),
                    revision: previous,
                });
                Err(error)
            }
        }
    }

    /// Compiles and activates a verified remote bundle.
    fn activate_remote(
        &self,
        files: BundleFiles,
        etag: Option<String>,
        raw: Option<&[u8]>,
        from: &'static str,
        confirmed: SystemTime,
    ) -> Result<Arc<str>> {
        let Some(remote) = &self.remote else {
            return Err(EngineError::Closed);
        };
        let previous = self.current.load().id.clone();
        let digest = files.digest.clone();
        match Revision::compile(files, &self.config) {
            Ok(revision) => {
                let id = revision.id.clone();
                self.current.store(Arc::new(revision));
                *lock(&self.digest) = digest;
                let was_active = self.active.swap(true, Ordering::SeqCst);
                if let Some(raw) = raw {
                    remote.store_offline(etag.as_deref(), raw);
                }
                {
                    let mut st = lock(&remote.status);
                    st.loads.activated += 1;
                    st.activated_from = Some(from);
                    st.activated_at = Some(SystemTime::now());
                    st.confirmed_at = Some(confirmed);
                    st.etag = etag;
                    st.last_error = None;
                    st.last_error_code = None;
                }
                self.notify(&ReloadEvent::Reloaded {
                    revision: id.clone(),
                    previous: if was_active { previous } else { Arc::from("") },
                });
                Ok(id)
            }
            Err(error) => {
                {
                    let mut st = lock(&remote.status);
                    st.loads.refused += 1;
                    st.last_error = Some(error.to_string());
                    st.last_error_code = Some(error.code());
                    if from == "offline" {
                        st.offline_note = Some(format!("offline copy refused: {error}"));
                    }
                }
                self.notify(&ReloadEvent::Failed {
                    error: error.clone(),
                    revision: previous,
                });
                Err(error)
            }
        }
    }

    fn reload(&self, force: bool) -> Result<Arc<str>> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(EngineError::Closed);
        }
        if let Some(remote) = &self.remote {
            return self.reload_remote(remote);
        }
        let _guard = lock(&self.reload_lock);
        let previous = self.current.load().id.clone();
        let result = bundle::read(&self.config).and_then(|files| {
            if !force && *lock(&self.digest) == files.digest {
                return Ok(None);
            }
            let digest = files.digest.clone();
            let revision = Revision::compile(files, &self.config)?;
            Ok(Some((revision, digest)))
        });
        match result {
            Ok(None) => Ok(previous),
            Ok(Some((revision, digest))) => {
                let id = revision.id.clone();
                self.current.store(Arc::new(revision));
                *lock(&self.digest) = digest;
                *lock(&self.activated_at) = SystemTime::now();
                self.notify(&ReloadEvent::Reloaded {
                    revision: id.clone(),
                    previous,
                });
                Ok(id)
            }
            Err(error) => {
                self.notify(&ReloadEvent::Failed {
                    error: error.clone(),
                    revision: previous,
                });
                Err(error)
            }
        }
    }

    fn notify(&self, event: &ReloadEvent) {
        let listeners: Vec<Listener> = lock(&self.listeners)
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for listener in listeners {
            // A panicking listener must not take the watcher down.
            let _ = catch_unwind(AssertUnwindSafe(|| listener(event)));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The outcome of [`Engine::authorize`].
#[derive(Debug, Clone)]
pub struct Authorization {
    /// Allowed only when the token verified and the query was exactly `true`.
    pub allowed: bool,
    /// `allowed`, `denied`, `undefined`, or the error code (`ERR_TOKEN_*`,
    /// `ERR_JWKS_UNAVAILABLE`, `ERR_EVAL`, ...).
    pub reason: &'static str,
    /// The verified token, when verification succeeded.
    pub claims: Option<VerifiedToken>,
    /// The policy decision, when evaluation ran.
    pub decision: Option<Decision>,
    /// What failed, if anything.
    pub error: Option<EngineError>,
}

impl Authorization {
    fn decided(claims: VerifiedToken, decision: Decision) -> Self {
        let verdict = verdict(Ok(decision.clone()));
        Authorization {
            allowed: verdict.allowed,
            reason: verdict.reason.code(),
            claims: Some(claims),
            decision: Some(decision),
            error: None,
        }
    }

    fn failed(claims: Option<VerifiedToken>, error: EngineError) -> Self {
        Authorization {
            allowed: false,
            reason: error.code(),
            claims,
            decision: None,
            error: Some(error),
        }
    }

    /// The token error, when the token was rejected or could not be checked.
    pub fn token_error(&self) -> Option<&TokenError> {
        match &self.error {
            Some(EngineError::Token(e)) => Some(e),
            _ => None,
        }
    }
}

/// `{"claims": <verified claims>, ...input}` as JSON text.
fn compose_input(verified: &VerifiedToken, input_json: &str, cfg: &EngineConfig) -> Result<String> {
    let trimmed = input_json.trim();
    if trimmed.is_empty() {
        return Ok(format!("{{\"claims\":{}}}", verified.claims_json));
    }
    input::check_json_text(trimmed, cfg.max_input_bytes, cfg.max_input_depth)?;
    // Validate the object and look at its top-level names only; member values
    // are skipped, not built (this runs on every authorize call).
    let has_claims = top_level_has(trimmed, "claims").ok_or_else(|| EngineError::InputInvalid {
        message: "authorize input must be a JSON object".into(),
    })?;
    if has_claims {
        return Err(EngineError::InputInvalid {
            message: "input.claims is reserved for the verified token's claims".into(),
        });
    }
    // `trimmed` is a valid JSON object: splice the claims in as its first member.
    let rest = trimmed[1..].trim_start();
    Ok(if rest.starts_with('}') {
        format!("{{\"claims\":{}}}", verified.claims_json)
    } else {
        format!("{{\"claims\":{},{}", verified.claims_json, rest)
    })
}

/// Whether a JSON object text has a top-level member `name`; `None` when the
/// text is not a JSON object.
fn top_level_has(text: &str, name: &str) -> Option<bool> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys<'a>(&'a str);
    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<bool, A::Error> {
            let mut found = false;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                found |= key == self.0;
                map.next_value::<IgnoredAny>()?;
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let found = de.deserialize_map(Keys(name)).ok()?;
    de.end().ok()?;
    Some(found)
}

fn verdict(result: Result<Decision>) -> Verdict {
    match result {
        Ok(d) if d.is_true() => Verdict {
            allowed: true,
            reason: VerdictReason::Allowed,
            revision: Some(d.revision),
        },
        Ok(d) if d.is_defined() => Verdict {
            allowed: false,
            reason: VerdictReason::Denied,
            revision: Some(d.revision),
        },
        Ok(d) => Verdict {
            allowed: false,
            reason: VerdictReason::Undefined,
            revision: Some(d.revision),
        },
        Err(e) => Verdict {
            allowed: false,
            reason: VerdictReason::Error(e.code()),
            revision: None,
        },
    }
}

fn to_json(v: &regorus::Value) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| EngineError::Eval {
        message: format!("result is not representable as JSON: {e}"),
    })
}

fn eval_error(e: &dyn std::fmt::Display, limit_ms: u64) -> EngineError {
    let text = e.to_string();
    if text.contains("exceeded time limit") {
        return EngineError::EvalTimeout { limit_ms };
    }
    EngineError::Eval {
        message: crate::error::describe(&text),
    }
}

fn eval_ref(
    engine: &mut regorus::Engine,
    query: &str,
    limit_ms: u64,
) -> Result<Option<serde_json::Value>> {
    match engine.eval_rule(query.to_string()) {
        Ok(regorus::Value::Undefined) => Ok(None),
        Ok(v) => to_json(&v).map(Some),
        Err(e) => {
            let err = eval_error(&e, limit_ms);
            if matches!(err, EngineError::EvalTimeout { .. }) {
                return Err(err);
            }
            // Not a rule (a data document, a package, or nothing at all):
            // evaluate it as a query instead.
            eval_doc(engine, query, limit_ms)
        }
    }
}

/// Evaluates a `data` reference that is not a rule path.
fn eval_doc(
    engine: &mut regorus::Engine,
    query: &str,
    limit_ms: u64,
) -> Result<Option<serde_json::Value>> {
    let results = engine
        .eval_query(query.to_string(), false)
        .map_err(|e| eval_error(&e, limit_ms))?;
    match results.result.first().and_then(|r| r.expressions.first()) {
        Some(expr) if expr.value != regorus::Value::Undefined => to_json(&expr.value).map(Some),
        _ => {
            if path_exists(engine, query) {
                Ok(None)
            } else {
                Err(EngineError::UnknownRule {
                    path: query.to_string(),
                })
            }
        }
    }
}

/// Whether an undefined `query` is a real "undefined" rather than a typo:
/// true when it names a package (or a prefix of one), reaches into a rule
/// that exists, or reaches into the base data document. A path inside a
/// package whose next component is no rule (`data.authz.alow`) is unknown.
fn path_exists(engine: &mut regorus::Engine, query: &str) -> bool {
    let packages = engine.get_packages().unwrap_or_default();
    if packages
        .iter()
        .any(|p| p == query || p.starts_with(&format!("{query}.")))
    {
        return true;
    }
    // The longest package that `query` lies inside.
    let inside = packages
        .iter()
        .filter(|p| query.starts_with(&format!("{p}.")))
        .max_by_key(|p| p.len());
    if let Some(package) = inside {
        let rest = &query[package.len() + 1..];
        let rule = rest.split(['.', '[']).next().unwrap_or_default();
        return engine.eval_rule(format!("{package}.{rule}")).is_ok();
    }
    // A prefix that exists in the base data document.
    let data = engine.get_data();
    let mut node = &data;
    for part in query
        .trim_start_matches("data")
        .split('.')
        .filter(|s| !s.is_empty())
    {
        let key = regorus::Value::from(part);
        match node {
            regorus::Value::Object(map) => match map.get(&key) {
                Some(next) => node = next,
                None => return false,
            },
            _ => return true,
        }
    }
    true
}

fn eval_general(
    engine: &mut regorus::Engine,
    query: &str,
    limit_ms: u64,
) -> Result<Option<serde_json::Value>> {
    let results = engine
        .eval_query(crate::frontend::prepare_query(query), false)
        .map_err(|e| {
            let text = e.to_string();
            // Parse errors in the query itself are located in `<query.rego>`.
            if text.contains("<query.rego>") && !text.contains("exceeded time limit") {
                EngineError::QueryInvalid {
                    message: crate::error::describe(&text),
                }
            } else {
                eval_error(&e, limit_ms)
            }
        })?;
    // As in OPA, a result counts only when no expression in it is `false`:
    // `1 == 2` yields no result rather than one with empty bindings.
    let mut rows = Vec::with_capacity(results.result.len());
    for r in &results.result {
        if r.expressions
            .iter()
            .any(|e| e.value == regorus::Value::Bool(false))
        {
            continue;
        }
        rows.push(match &r.bindings {
            regorus::Value::Undefined => serde_json::Value::Object(Default::default()),
            b => to_json(b)?,
        });
    }
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::Value::Array(rows)))
}
