//! `NativeEngine`: the engine as a JavaScript class.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use coresdk_engine::{Decision, Engine, EngineConfig, ReloadEvent, SdkConfig};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::errors::{invalid_arg, to_napi};
use crate::tasks::{AuthorizeTask, EvalTask, ReloadTask, VerifyTask};

/// Options for `new NativeEngine(options)`; absent fields take the
/// configuration from `coresdk.toml` and `CORESDK_*` when `fromEnv` is set,
/// else the engine's defaults.
#[napi(object)]
pub struct NativeEngineOptions {
    /// Bundle directory.
    pub policy_dir: Option<String>,
    /// Inline modules: file name to Rego source.
    pub policies: Option<HashMap<String, String>>,
    /// Inline base data document, as JSON text.
    pub data_json: Option<String>,
    /// Start from `coresdk.toml` + `CORESDK_*`, then apply the fields above.
    pub from_env: Option<bool>,
    /// Rego v0 syntax.
    pub rego_v0: Option<bool>,
    /// The VM fast path (default true).
    pub fast_path: Option<bool>,
    /// Number of pooled evaluators.
    pub pool_size: Option<u32>,
    /// Evaluation time limit in milliseconds.
    pub eval_timeout_ms: Option<u32>,
    /// Input size cap in bytes of JSON text.
    pub max_input_bytes: Option<u32>,
    /// Input nesting cap.
    pub max_input_depth: Option<u32>,
    /// Hot reload a directory bundle.
    pub watch: Option<bool>,
    /// Decision cache capacity per revision; 0 disables it.
    pub decision_cache_entries: Option<u32>,
    /// Token verification settings.
    pub token: Option<NativeTokenOptions>,
    /// A remote bundle in place of `policyDir`/`policies`.
    pub remote_bundle: Option<NativeRemoteBundleOptions>,
}

/// A remote bundle: OPA's bundle service protocol, signatures, offline copy.
#[napi(object)]
pub struct NativeRemoteBundleOptions {
    /// The bundle URL.
    pub url: String,
    /// PEM public key signatures must verify with.
    pub verification_key_file: Option<String>,
    /// Key id signatures must name.
    pub key_id: Option<String>,
    /// Scope signatures must carry.
    pub scope: Option<String>,
    /// Refuse unsigned bundles (default: whether a key is configured).
    pub signing_required: Option<bool>,
    /// CA file replacing the built-in roots.
    pub ca_file: Option<String>,
    /// File holding the bearer token.
    pub auth_token_file: Option<String>,
    /// Shortest wait between polls, seconds.
    pub poll_min_sec: Option<u32>,
    /// Longest wait between polls, seconds.
    pub poll_max_sec: Option<u32>,
    /// Whole-request timeout, ms.
    pub timeout_ms: Option<u32>,
    /// Allow plain http (development only).
    pub allow_insecure_http: Option<bool>,
    /// Offline cache directory.
    pub offline_cache_dir: Option<String>,
    /// Offline cache HMAC key (hex or base64, at least 32 bytes).
    pub offline_cache_key: Option<String>,
}

/// The bundle's state.
#[napi(object)]
pub struct NativeBundleStatus {
    /// `dir`, `inline` or `remote`.
    pub source: String,
    /// The URL, redacted.
    pub url: Option<String>,
    /// Whether a revision is serving.
    pub active: bool,
    /// The serving revision.
    pub revision: Option<String>,
    /// `local`, `server` or `offline`.
    pub activated_from: Option<String>,
    /// When activated, ms since the epoch.
    pub activated_at: Option<f64>,
    /// When the server last confirmed it, ms since the epoch.
    pub confirmed_at: Option<f64>,
    /// When the server was last asked, ms since the epoch.
    pub last_check_at: Option<f64>,
    /// The serving bundle's ETag.
    pub etag: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
    /// Its code.
    pub last_error_code: Option<String>,
    /// Why the offline copy was not used.
    pub offline_note: Option<String>,
    /// Bundles activated.
    pub activated: f64,
    /// Polls that found the bundle unchanged.
    pub unchanged: f64,
    /// Bundles refused.
    pub refused: f64,
    /// Polls that got no bundle.
    pub failed: f64,
}

impl From<coresdk_engine::BundleStatus> for NativeBundleStatus {
    fn from(b: coresdk_engine::BundleStatus) -> Self {
        let ms = |t: Option<std::time::SystemTime>| t.map(coresdk_engine::token::epoch_ms);
        NativeBundleStatus {
            source: b.source.to_string(),
            url: b.url,
            active: b.active,
            revision: b.revision,
            activated_from: b.activated_from.map(str::to_string),
            activated_at: ms(b.activated_at),
            confirmed_at: ms(b.confirmed_at),
            last_check_at: ms(b.last_check_at),
            etag: b.etag,
            last_error: b.last_error,
            last_error_code: b.last_error_code.map(str::to_string),
            offline_note: b.offline_note,
            activated: b.loads.activated as f64,
            unchanged: b.loads.unchanged as f64,
            refused: b.loads.refused as f64,
            failed: b.loads.failed as f64,
        }
    }
}

fn remote_bundle_config(
    r: NativeRemoteBundleOptions,
) -> Result<coresdk_engine::RemoteBundleConfig> {
    let mut c = coresdk_engine::RemoteBundleConfig::new(r.url);
    c.verification_key_file = r.verification_key_file.map(Into::into);
    c.key_id = r.key_id;
    c.scope = r.scope;
    c.signing_required = r.signing_required;
    c.fetch.ca_file = r.ca_file.map(Into::into);
    c.auth_token_file = r.auth_token_file.map(Into::into);
    if let Some(v) = r.poll_min_sec {
        c.poll_min = Duration::from_secs(v.into());
        c.poll_max = c.poll_max.max(c.poll_min);
    }
    if let Some(v) = r.poll_max_sec {
        c.poll_max = Duration::from_secs(v.into());
        c.poll_min = c.poll_min.min(c.poll_max);
    }
    if let Some(v) = r.timeout_ms {
        c.fetch.timeout = Duration::from_millis(v.into());
    }
    if let Some(v) = r.allow_insecure_http {
        c.fetch.allow_insecure_http = v;
    }
    c.offline_cache_dir = r.offline_cache_dir.map(Into::into);
    if let Some(k) = r.offline_cache_key {
        c.offline_cache_key = Some(coresdk_engine::config::decode_hmac_key(&k).ok_or_else(|| {
            invalid_arg(
                "ERR_CONFIG",
                "invalid configuration: remoteBundle.offlineCacheKey: must be at least 32 bytes, as hex or base64",
            )
        })?);
    }
    Ok(c)
}

/// Token verification settings (see `TokenConfig` in coresdk-engine).
#[napi(object)]
pub struct NativeTokenOptions {
    /// Inline JWKS document (JSON text).
    pub jwks_json: Option<String>,
    /// JWKS file.
    pub jwks_file: Option<String>,
    /// JWKS URL.
    pub jwks_url: Option<String>,
    /// OIDC issuer for discovery.
    pub oidc_issuer: Option<String>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Accepted audiences.
    pub audience: Option<Vec<String>>,
    /// Algorithm allow-list.
    pub algorithms: Option<Vec<String>>,
    /// Clock tolerance, seconds.
    pub clock_tolerance_sec: Option<u32>,
    /// Required claims.
    pub required_claims: Option<Vec<String>>,
    /// Required `typ` header.
    pub typ: Option<String>,
    /// Token size cap.
    pub max_token_bytes: Option<u32>,
    /// Verified-token cache capacity; 0 disables it.
    pub token_cache_entries: Option<u32>,
    /// PEM CA bundle for the key source.
    pub ca_file: Option<String>,
    /// Fetch timeout, ms.
    pub fetch_timeout_ms: Option<u32>,
    /// Allow plain http (tests only).
    pub allow_insecure_http: Option<bool>,
    /// Offline cache directory.
    pub offline_cache_dir: Option<String>,
    /// Offline cache key (hex or base64, at least 32 bytes).
    pub offline_cache_key: Option<String>,
    /// Shortest refresh interval, s.
    pub refresh_min_sec: Option<u32>,
    /// Longest refresh interval, s.
    pub refresh_max_sec: Option<u32>,
    /// Unknown-kid refetch cooldown, s.
    pub unknown_kid_cooldown_sec: Option<u32>,
    /// How long stale keys serve while unreachable, s.
    pub stale_max_sec: Option<u32>,
}

/// A verified token.
#[napi(object)]
pub struct NativeVerified {
    /// The claims, as JSON text (parsed by the TypeScript layer: faster
    /// than napi's value-by-value conversion, see docs/engine.md).
    pub claims_json: String,
    /// The algorithm that signed it.
    pub alg: String,
}

/// The outcome of `authorize`.
#[napi(object)]
pub struct NativeAuthorization {
    /// Allowed only when the token verified and the query was exactly true.
    pub allowed: bool,
    /// `allowed`, `denied`, `undefined`, or an error code.
    pub reason: String,
    /// Verified claims as JSON text, when verification succeeded.
    pub claims_json: Option<String>,
    /// Whether the query was defined.
    pub defined: bool,
    /// The decision value.
    pub value: Option<serde_json::Value>,
    /// The revision that decided.
    pub revision: Option<String>,
    /// `[ERR_CODE] message` of the failure, if any.
    pub error: Option<String>,
    /// The RFC 6750 error value for a token failure.
    pub rfc6750_error: Option<String>,
}

impl From<coresdk_engine::Authorization> for NativeAuthorization {
    fn from(a: coresdk_engine::Authorization) -> Self {
        NativeAuthorization {
            allowed: a.allowed,
            reason: a.reason.to_string(),
            rfc6750_error: a
                .token_error()
                .and_then(|e| e.rfc6750_error())
                .map(str::to_string),
            claims_json: a.claims.map(|c| c.claims_json.to_string()),
            defined: a.decision.as_ref().is_some_and(|d| d.value.is_some()),
            revision: a.decision.as_ref().map(|d| d.revision.to_string()),
            value: a.decision.and_then(|d| d.value),
            error: a.error.map(|e| format!("[{}] {}", e.code(), e)),
        }
    }
}

/// The key source's state.
#[napi(object)]
pub struct NativeKeyStatus {
    /// Source description.
    pub source: String,
    /// Usable keys.
    pub keys: u32,
    /// When fetched, ms since the epoch.
    pub fetched_at: Option<f64>,
    /// Whether the keys came from the offline cache.
    pub from_offline_cache: bool,
    /// Last problem.
    pub last_error: Option<String>,
    /// `enabled` or `disabled: why`.
    pub offline_cache: String,
    /// Times the offline cache was rejected whole.
    pub offline_cache_rejections: u32,
    /// Successful key-set fetches since start (0 for static keys).
    pub refreshes_ok: f64,
    /// Failed key-set fetches since start.
    pub refreshes_failed: f64,
}

fn token_config(t: NativeTokenOptions) -> Result<coresdk_engine::token::TokenConfig> {
    use coresdk_engine::token::{Alg, KeySourceConfig, TokenConfig};
    let cfg_err = |key: &str, msg: &str| {
        invalid_arg(
            "ERR_CONFIG",
            format!("invalid configuration: token.{key}: {msg}"),
        )
    };
    let mut sources = Vec::new();
    if let Some(j) = t.jwks_json {
        sources.push(("jwks", KeySourceConfig::Inline(j)));
    }
    if let Some(f) = t.jwks_file {
        sources.push(("jwksFile", KeySourceConfig::File(f.into())));
    }
    if let Some(u) = t.jwks_url {
        sources.push(("jwksUrl", KeySourceConfig::Url(u)));
    }
    if let Some(i) = &t.oidc_issuer {
        sources.push(("oidcIssuer", KeySourceConfig::Issuer(i.clone())));
    }
    if sources.len() != 1 {
        return Err(cfg_err(
            sources.first().map_or("jwks", |s| s.0),
            "give exactly one key source: jwks, jwksFile, jwksUrl or oidcIssuer",
        ));
    }
    let (_, source) = sources.pop().expect("one source");
    let mut c = TokenConfig::new(source);
    c.verifier.issuer = t.issuer.or(t.oidc_issuer);
    if let Some(a) = t.audience {
        if a.is_empty() || a.iter().any(|s| s.is_empty()) {
            return Err(cfg_err(
                "audience",
                "must name at least one non-empty audience (omit it to skip the aud check)",
            ));
        }
        c.verifier.audiences = a;
    }
    if let Some(algs) = t.algorithms {
        let mut parsed = Vec::new();
        for a in algs {
            parsed.push(
                Alg::parse(&a).ok_or_else(|| {
                    cfg_err("algorithms", &format!("unsupported algorithm {a:?}"))
                })?,
            );
        }
        if parsed.is_empty() {
            return Err(cfg_err("algorithms", "must name at least one algorithm"));
        }
        c.verifier.algorithms = parsed;
    }
    if let Some(v) = t.clock_tolerance_sec {
        if u64::from(v) > coresdk_engine::token::MAX_LEEWAY.as_secs() {
            return Err(cfg_err("clockToleranceSec", "must be at most 300"));
        }
        c.verifier.leeway = Duration::from_secs(v.into());
    }
    if let Some(r) = t.required_claims {
        c.verifier.required_claims = r;
    }
    c.verifier.typ = t.typ;
    if let Some(v) = t.max_token_bytes {
        if !(256..=1 << 20).contains(&v) {
            return Err(cfg_err("maxTokenBytes", "must be between 256 and 1048576"));
        }
        c.verifier.max_token_bytes = v as usize;
    }
    if let Some(v) = t.token_cache_entries {
        c.verifier.token_cache_entries = v as usize;
    }
    c.fetch.ca_file = t.ca_file.map(Into::into);
    if let Some(v) = t.fetch_timeout_ms {
        if v == 0 {
            return Err(cfg_err("fetchTimeoutMs", "must be at least 1"));
        }
        c.fetch.timeout = Duration::from_millis(v.into());
    }
    if let Some(v) = t.allow_insecure_http {
        c.fetch.allow_insecure_http = v;
    }
    c.offline_cache_dir = t.offline_cache_dir.map(Into::into);
    if let Some(k) = t.offline_cache_key {
        let bytes = coresdk_engine::config::decode_hmac_key(&k).ok_or_else(|| {
            cfg_err(
                "offlineCacheKey",
                "must be at least 32 bytes, as hex or base64",
            )
        })?;
        c.offline_cache_key = Some(bytes);
    }
    if let Some(v) = t.refresh_min_sec {
        c.refresh_min = Duration::from_secs(v.max(1).into());
    }
    if let Some(v) = t.refresh_max_sec {
        c.refresh_max = Duration::from_secs(v.max(1).into());
    }
    if let Some(v) = t.unknown_kid_cooldown_sec {
        c.unknown_kid_cooldown = Duration::from_secs(v.into());
    }
    if let Some(v) = t.stale_max_sec {
        c.stale_max = Duration::from_secs(v.max(1).into());
    }
    Ok(c)
}

/// Decision cache counters of the revision now serving.
#[napi(object)]
pub struct NativeDecisionCacheStats {
    /// Whether the serving revision has a cache.
    pub enabled: bool,
    /// Lookups answered from the cache.
    pub hits: f64,
    /// Lookups that evaluated.
    pub misses: f64,
}

/// How the serving revision answered its evaluations.
#[napi(object)]
pub struct NativeFastPathStats {
    /// Evaluations the fast path (the tree evaluator) answered.
    pub vm: f64,
    /// Evaluations the interpreter answered.
    pub interpreter: f64,
}

/// How one rule query is evaluated on the serving revision.
#[napi(object)]
pub struct NativeFastPathPlan {
    /// `"tree"` (CoreSDK's own evaluator of proven queries) or
    /// `"interpreter"`.
    pub evaluator: String,
    /// Why the interpreter answers every call; absent on the fast path.
    pub reason: Option<String>,
    /// Input guards each call checks before the tree evaluator may answer.
    pub guards: u32,
    /// Whether many-bodied rules were indexed.
    pub indexed: bool,
}

/// One evaluation result.
#[napi(object)]
pub struct NativeDecision {
    /// Whether the query produced a value.
    pub defined: bool,
    /// The value, when defined.
    pub value: Option<serde_json::Value>,
    /// The policy revision that decided.
    pub revision: String,
}

/// Whether `v` holds an integer napi converts to a BigInt (beyond
/// ±(2^53 - 1)), which JSON text parsed by JavaScript would round.
fn needs_bigint(v: &serde_json::Value) -> bool {
    const MAX_SAFE: i64 = (1 << 53) - 1;
    match v {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => !(-MAX_SAFE..=MAX_SAFE).contains(&i),
            None => n.is_u64(),
        },
        serde_json::Value::Array(items) => items.iter().any(needs_bigint),
        serde_json::Value::Object(map) => map.values().any(needs_bigint),
        _ => false,
    }
}

impl From<Decision> for NativeDecision {
    fn from(d: Decision) -> Self {
        NativeDecision {
            defined: d.value.is_some(),
            value: d.value,
            revision: d.revision.to_string(),
        }
    }
}

/// A reload outcome.
#[napi(object)]
pub struct NativeReloadEvent {
    /// `"reloaded"` or `"failed"`.
    pub kind: String,
    /// The revision serving after the event.
    pub revision: String,
    /// The revision replaced (`reloaded` only).
    pub previous: Option<String>,
    /// Error code (`failed` only).
    pub code: Option<String>,
    /// Error message (`failed` only).
    pub message: Option<String>,
    /// File of the error, when known.
    pub file: Option<String>,
    /// Line of the error, when known.
    pub line: Option<u32>,
    /// Column of the error, when known.
    pub column: Option<u32>,
}

impl From<&ReloadEvent> for NativeReloadEvent {
    fn from(e: &ReloadEvent) -> Self {
        match e {
            ReloadEvent::Reloaded { revision, previous } => NativeReloadEvent {
                kind: "reloaded".into(),
                revision: revision.to_string(),
                previous: Some(previous.to_string()),
                code: None,
                message: None,
                file: None,
                line: None,
                column: None,
            },
            ReloadEvent::Failed { error, revision } => {
                let loc = match error {
                    coresdk_engine::EngineError::PolicyCompile { location, .. } => location.clone(),
                    _ => None,
                };
                NativeReloadEvent {
                    kind: "failed".into(),
                    revision: revision.to_string(),
                    previous: None,
                    code: Some(error.code().into()),
                    message: Some(error.to_string()),
                    file: loc.as_ref().map(|l| l.file.clone()),
                    line: loc.as_ref().map(|l| l.line),
                    column: loc.as_ref().map(|l| l.column),
                }
            }
        }
    }
}

type ReloadCallback =
    ThreadsafeFunction<NativeReloadEvent, (), NativeReloadEvent, Status, false, true>;

/// The engine handle exposed to JavaScript.
#[napi]
pub struct NativeEngine {
    engine: Engine,
    /// The revision `evaluate_json_packed` last reported in full; a
    /// boolean or undefined decision by that same revision crosses as a
    /// number (see there).
    reported: std::sync::Mutex<Option<Arc<str>>>,
}

fn build_config(mut options: NativeEngineOptions) -> Result<EngineConfig> {
    if let Some(r) = options.remote_bundle.take() {
        if options.policy_dir.is_some() || options.policies.is_some() {
            return Err(invalid_arg(
                "ERR_CONFIG",
                "invalid configuration: remoteBundle: give remoteBundle, policyDir or policies, not several",
            ));
        }
        let mut cfg = EngineConfig::with_source(coresdk_engine::BundleSource::Remote(Box::new(
            remote_bundle_config(r)?,
        )));
        if let Some(v) = options.rego_v0 {
            cfg.rego_v0 = v;
        }
        if let Some(v) = options.pool_size {
            cfg.pool_size = v as usize;
        }
        if let Some(v) = options.eval_timeout_ms {
            cfg.eval_timeout = Duration::from_millis(v as u64);
        }
        if let Some(t) = options.token {
            cfg.token = Some(token_config(t)?);
        }
        return Ok(cfg);
    }
    let mut cfg = if options.from_env.unwrap_or(false)
        && options.policy_dir.is_none()
        && options.policies.is_none()
    {
        SdkConfig::from_env()
            .and_then(|c| c.engine_config())
            .map_err(to_napi)?
    } else if let Some(dir) = &options.policy_dir {
        let mut cfg = if options.from_env.unwrap_or(false) {
            let sdk = SdkConfig::from_env().map_err(to_napi)?;
            let mut c = EngineConfig::for_dir(dir);
            c.pool_size = sdk.pool_size;
            c.eval_timeout = sdk.eval_timeout;
            c.max_input_bytes = sdk.max_input_bytes;
            c.max_input_depth = sdk.max_input_depth;
            c.watch = sdk.watch_policies;
            c.rego_v0 = sdk.rego_v0;
            c.decision_cache_entries = sdk.decision_cache_entries;
            c.fast_path = sdk.fast_path;
            c
        } else {
            EngineConfig::for_dir(dir)
        };
        if options.policies.is_some() {
            return Err(invalid_arg(
                "ERR_CONFIG",
                "invalid configuration: give policyDir or policies, not both",
            ));
        }
        cfg.bundle = coresdk_engine::BundleSource::Dir(dir.into());
        cfg
    } else if let Some(policies) = options.policies {
        let data = match options.data_json.as_deref() {
            None => serde_json::Value::Null,
            Some(text) => serde_json::from_str(text).map_err(|e| {
                invalid_arg("ERR_CONFIG", format!("invalid configuration: data: {e}"))
            })?,
        };
        EngineConfig::inline(policies.into_iter().collect(), data)
    } else {
        return Err(invalid_arg(
            "ERR_CONFIG",
            "invalid configuration: policyDir: no policy bundle given (policyDir, policies, or CORESDK_POLICY_DIR with Engine.fromEnv())",
        ));
    };
    if let Some(v) = options.rego_v0 {
        cfg.rego_v0 = v;
    }
    if let Some(v) = options.fast_path {
        cfg.fast_path = v;
    }
    if let Some(v) = options.pool_size {
        cfg.pool_size = v as usize;
    }
    if let Some(v) = options.eval_timeout_ms {
        cfg.eval_timeout = Duration::from_millis(v as u64);
    }
    if let Some(v) = options.max_input_bytes {
        cfg.max_input_bytes = v as usize;
    }
    if let Some(v) = options.max_input_depth {
        cfg.max_input_depth = v as usize;
    }
    if let Some(v) = options.watch {
        cfg.watch = v;
    }
    if let Some(v) = options.decision_cache_entries {
        cfg.decision_cache_entries = v as usize;
    }
    if let Some(t) = options.token {
        cfg.token = Some(token_config(t)?);
    }
    Ok(cfg)
}

#[napi]
impl NativeEngine {
    /// Loads and compiles the bundle (synchronously: construction is rare).
    #[napi(constructor)]
    pub fn new(options: NativeEngineOptions) -> Result<Self> {
        let config = build_config(options)?;
        Ok(NativeEngine {
            reported: std::sync::Mutex::new(None),
            engine: Engine::new(config).map_err(to_napi)?,
        })
    }

    /// The revision currently serving.
    #[napi(getter)]
    pub fn revision(&self) -> String {
        self.engine.revision().to_string()
    }

    /// The bundle's state (source, active revision, remote polling).
    #[napi]
    pub fn bundle_status(&self) -> NativeBundleStatus {
        self.engine.bundle_status().into()
    }

    /// Evaluates with the input as JSON text (empty string: no input).
    #[napi]
    pub fn evaluate_json(&self, query: String, input_json: String) -> Result<NativeDecision> {
        self.engine
            .evaluate_policy_json(&query, &input_json)
            .map(NativeDecision::from)
            .map_err(to_napi)
    }

    /// Evaluates with the input as JSON text and returns the decision in
    /// the cheapest form that crosses the boundary:
    ///
    /// - a number when the value is undefined (`0`), `false` (`1`) or
    ///   `true` (`2`) and the revision that decided is the one this method
    ///   last reported in full (allow-style queries, nearly every call);
    /// - else one string: the value as JSON text (empty when undefined), a
    ///   NUL, then the revision (JSON text never holds a raw NUL, so the
    ///   first NUL splits it); one string costs less than an object of
    ///   three fields (docs/engine.md, "Crossing into Node");
    /// - a `NativeDecision` when the value holds an integer beyond 2^53,
    ///   whose conversion makes it a BigInt, as `evaluateJson` does.
    ///
    /// The last two forms carry the revision, which the caller keeps for
    /// the numbers that follow.
    #[napi]
    pub fn evaluate_json_packed(
        &self,
        query: String,
        input_json: String,
    ) -> Result<Either3<u32, String, NativeDecision>> {
        let d = self
            .engine
            .evaluate_policy_json(&query, &input_json)
            .map_err(to_napi)?;
        let mut reported = self
            .reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let same = reported
            .as_ref()
            .is_some_and(|r| Arc::ptr_eq(r, &d.revision));
        if same {
            match &d.value {
                None => return Ok(Either3::A(0)),
                Some(serde_json::Value::Bool(false)) => return Ok(Either3::A(1)),
                Some(serde_json::Value::Bool(true)) => return Ok(Either3::A(2)),
                _ => {}
            }
        }
        *reported = Some(d.revision.clone());
        let mut out = match &d.value {
            Some(v) if needs_bigint(v) => return Ok(Either3::C(NativeDecision::from(d))),
            Some(v) => serde_json::to_string(v)
                .map_err(|e| napi::Error::from_reason(format!("[ERR_INTERNAL] {e}")))?,
            None => String::new(),
        };
        out.push('\0');
        out.push_str(&d.revision);
        Ok(Either3::B(out))
    }

    /// Evaluates with the input converted from a JavaScript value by napi.
    /// Kept for the boundary benchmark (bench/napi-input.bench.mjs); the
    /// TypeScript API uses `evaluateJson`, which measured faster.
    #[napi]
    pub fn evaluate_value(
        &self,
        query: String,
        input: serde_json::Value,
    ) -> Result<NativeDecision> {
        self.engine
            .evaluate_policy(&query, &input)
            .map(NativeDecision::from)
            .map_err(to_napi)
    }

    /// Evaluates on libuv's thread pool; resolves with the decision.
    #[napi(ts_return_type = "Promise<NativeDecision>")]
    pub fn evaluate_json_async(&self, query: String, input_json: String) -> AsyncTask<EvalTask> {
        AsyncTask::new(EvalTask {
            engine: self.engine.clone(),
            query,
            input_json: Some(input_json),
        })
    }

    /// Re-reads and recompiles the bundle on the thread pool; resolves with
    /// the revision now serving.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn reload(&self) -> AsyncTask<ReloadTask> {
        AsyncTask::new(ReloadTask {
            engine: self.engine.clone(),
        })
    }

    /// Registers a reload listener. The listener does not keep the process
    /// alive; the TypeScript layer registers one and fans events out.
    #[napi(ts_args_type = "callback: (event: NativeReloadEvent) => void")]
    pub fn on_reload(&self, callback: ReloadCallback) {
        self.engine.on_reload(move |event| {
            callback.call(
                NativeReloadEvent::from(event),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        });
    }

    /// Verifies a bearer token; returns its claims.
    #[napi]
    pub fn verify_token(&self, token: String) -> Result<NativeVerified> {
        let v = self.engine.verify_token(&token).map_err(to_napi)?;
        Ok(NativeVerified {
            claims_json: v.claims_json.to_string(),
            alg: v.alg.name().to_string(),
        })
    }

    /// Verifies on the thread pool.
    #[napi(ts_return_type = "Promise<NativeVerified>")]
    pub fn verify_token_async(&self, token: String) -> AsyncTask<VerifyTask> {
        AsyncTask::new(VerifyTask {
            engine: self.engine.clone(),
            token,
        })
    }

    /// Verification and policy evaluation in one crossing.
    #[napi]
    pub fn authorize(
        &self,
        token: String,
        query: String,
        input_json: String,
    ) -> NativeAuthorization {
        self.engine.authorize(&token, &query, &input_json).into()
    }

    /// `authorize` on the thread pool.
    #[napi(ts_return_type = "Promise<NativeAuthorization>")]
    pub fn authorize_async(
        &self,
        token: String,
        query: String,
        input_json: String,
    ) -> AsyncTask<AuthorizeTask> {
        AsyncTask::new(AuthorizeTask {
            engine: self.engine.clone(),
            token,
            query,
            input_json,
        })
    }

    /// Masks PII in `values` with the engine's masker (`pii_*` settings):
    /// `null` for a value left unchanged, else the masked text.
    #[napi]
    pub fn mask_pii(&self, values: Vec<String>) -> Vec<Option<String>> {
        crate::pii::mask_each(
            self.engine.masker(),
            &values,
            &mut coresdk_engine::pii::MaskCounts::new(),
        )
    }

    /// The key source's state, when tokens are configured.
    #[napi]
    pub fn key_status(&self) -> Option<NativeKeyStatus> {
        self.engine.key_status().map(|s| NativeKeyStatus {
            source: s.source,
            keys: s.keys as u32,
            fetched_at: s.fetched_at.map(coresdk_engine::token::epoch_ms),
            from_offline_cache: s.from_offline_cache,
            last_error: s.last_error,
            offline_cache: s.offline_cache,
            offline_cache_rejections: s.offline_cache_rejections.min(u32::MAX as u64) as u32,
            refreshes_ok: s.refreshes_ok as f64,
            refreshes_failed: s.refreshes_failed as f64,
        })
    }

    /// Decision cache counters of the revision now serving.
    #[napi]
    pub fn decision_cache_stats(&self) -> NativeDecisionCacheStats {
        let s = self.engine.decision_cache_stats();
        NativeDecisionCacheStats {
            enabled: s.enabled,
            hits: s.hits as f64,
            misses: s.misses as f64,
        }
    }

    /// How the serving revision answered its evaluations (fast path or
    /// interpreter).
    #[napi]
    pub fn fast_path_stats(&self) -> NativeFastPathStats {
        let s = self.engine.fast_path_stats();
        NativeFastPathStats {
            vm: s.vm as f64,
            interpreter: s.interpreter as f64,
        }
    }

    /// Which evaluator answers rule query `query`, and why when it is the
    /// interpreter. Plans the query if needed.
    #[napi]
    pub fn fast_path_plan(&self, query: String) -> NativeFastPathPlan {
        let p = self.engine.fast_path_plan(&query);
        NativeFastPathPlan {
            evaluator: p.evaluator.to_string(),
            reason: p.reason,
            guards: u32::try_from(p.guards).unwrap_or(u32::MAX),
            indexed: p.indexed,
        }
    }

    /// `null` when the tree evaluator may answer rule query `query`, else
    /// why the interpreter answers it.
    #[napi]
    pub fn fast_path_route(&self, query: String) -> Option<String> {
        self.engine.fast_path_route(&query)
    }

    /// Stops the watcher and refuses further evaluations.
    #[napi]
    pub fn close(&self) {
        self.engine.close();
    }
}
