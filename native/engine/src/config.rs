//! Configuration: one schema and one loader for `coresdk.toml` plus
//! `CORESDK_*` environment overrides.
//!
//! The loader lives in the engine so that Rust services, the Node addon and
//! the sidecar read configuration identically. Keys are allow-listed: an
//! unknown key is an error naming it, never silently ignored.
//!
//! ```toml
//! [sdk]
//! policy_dir = "./policies"     # CORESDK_POLICY_DIR
//! eval_timeout_ms = 100         # CORESDK_EVAL_TIMEOUT_MS
//! pool_size = 4                 # CORESDK_POOL_SIZE (default: available parallelism)
//! max_input_bytes = 4194304     # CORESDK_MAX_INPUT_BYTES
//! max_input_depth = 64          # CORESDK_MAX_INPUT_DEPTH
//! watch_policies = true         # CORESDK_WATCH_POLICIES
//! rego_v0 = false               # CORESDK_REGO_V0
//! decision_cache_entries = 16384 # CORESDK_DECISION_CACHE_ENTRIES (0: off)
//! fast_path = true               # CORESDK_FAST_PATH
//! sidecar_addr = "[::1]:50051"  # CORESDK_SIDECAR_ADDR
//! tenant_id = "acme-corp"       # CORESDK_TENANT_ID
//! fail_mode = "open"            # CORESDK_FAIL_MODE
//! jwks_url = "https://..."      # CORESDK_JWKS_URL
//! decision_log = "decisions"    # CORESDK_DECISION_LOG: off | decisions | input
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config_file::ConfigFile;
use crate::error::{EngineError, Result};

/// Default execution time limit for one evaluation.
pub const DEFAULT_EVAL_TIMEOUT: Duration = Duration::from_millis(100);
/// Default cap on the size of one input document, in bytes of JSON text.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Default cap on the nesting depth of one input document.
pub const DEFAULT_MAX_INPUT_DEPTH: usize = 64;
/// Hard ceiling for `max_input_depth`: deeper documents would risk the
/// recursion limits of the JSON parser and the evaluator.
pub const MAX_INPUT_DEPTH_CEILING: usize = 120;

/// Where a policy bundle comes from.
#[derive(Debug, Clone)]
pub enum BundleSource {
    /// A directory in OPA's bundle layout, watched for changes when
    /// [`EngineConfig::watch`] is set.
    Dir(PathBuf),
    /// Modules and a base data document given in memory.
    Inline {
        /// `(file name, Rego source)` pairs.
        modules: Vec<(String, String)>,
        /// The base data document (an object), or `null`.
        data: serde_json::Value,
    },
    /// A bundle pulled from a bundle server (OPA's bundle service
    /// protocol), verified, and polled for changes.
    Remote(Box<crate::remote_bundle::RemoteBundleConfig>),
}

/// Everything the policy engine needs to run.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The policy bundle to load.
    pub bundle: BundleSource,
    /// Number of pooled evaluators. Defaults to the available parallelism.
    pub pool_size: usize,
    /// Execution time limit per evaluation; always on.
    pub eval_timeout: Duration,
    /// Maximum input size in bytes of JSON text.
    pub max_input_bytes: usize,
    /// Maximum input nesting depth.
    pub max_input_depth: usize,
    /// Watch a directory bundle and hot-reload it on change.
    pub watch: bool,
    /// Parse policies as Rego v0 (pre-1.0 syntax). Default: Rego v1.
    pub rego_v0: bool,
    /// Decision cache capacity per revision; 0 disables it. See
    /// [`crate::cache`] for what is cached and when.
    pub decision_cache_entries: usize,
    /// Let the register VM answer rule queries that the static pass proves
    /// cannot raise an error (docs/engine.md, "The fast path"); off: the
    /// interpreter answers every call.
    pub fast_path: bool,
    /// Token verification, when configured.
    pub token: Option<crate::token::TokenConfig>,
    /// PII masking settings (`pii_*` keys).
    pub pii: crate::pii::MaskerConfig,
}

/// Default decision cache capacity.
pub const DEFAULT_DECISION_CACHE_ENTRIES: usize = 16_384;

impl EngineConfig {
    /// A configuration for a bundle directory, with defaults for the rest.
    pub fn for_dir(dir: impl Into<PathBuf>) -> Self {
        Self::with_bundle(BundleSource::Dir(dir.into()))
    }

    /// A configuration for in-memory modules and data, with defaults for the rest.
    pub fn inline(modules: Vec<(String, String)>, data: serde_json::Value) -> Self {
        let mut cfg = Self::with_bundle(BundleSource::Inline { modules, data });
        cfg.watch = false;
        cfg
    }

    /// A configuration for any bundle source, with defaults for the rest
    /// (watching is on; it applies to directories only).
    pub fn with_source(bundle: BundleSource) -> Self {
        Self::with_bundle(bundle)
    }

    fn with_bundle(bundle: BundleSource) -> Self {
        EngineConfig {
            bundle,
            pool_size: default_pool_size(),
            eval_timeout: DEFAULT_EVAL_TIMEOUT,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_input_depth: DEFAULT_MAX_INPUT_DEPTH,
            watch: true,
            rego_v0: false,
            decision_cache_entries: DEFAULT_DECISION_CACHE_ENTRIES,
            fast_path: true,
            token: None,
            pii: crate::pii::MaskerConfig::default(),
        }
    }

    /// Checks the limits; called by `Engine::new`.
    pub fn validate(&self) -> Result<()> {
        if self.pool_size == 0 || self.pool_size > 1024 {
            return Err(EngineError::config(
                "pool_size",
                "must be between 1 and 1024",
            ));
        }
        if self.eval_timeout.is_zero() || self.eval_timeout > Duration::from_secs(60) {
            return Err(EngineError::config(
                "eval_timeout_ms",
                "must be between 1 and 60000 (the time limit is always on)",
            ));
        }
        if self.decision_cache_entries > 10_000_000 {
            return Err(EngineError::config(
                "decision_cache_entries",
                "must be at most 10000000",
            ));
        }
        if self.max_input_bytes == 0 {
            return Err(EngineError::config("max_input_bytes", "must be at least 1"));
        }
        if self.max_input_depth == 0 || self.max_input_depth > MAX_INPUT_DEPTH_CEILING {
            return Err(EngineError::config(
                "max_input_depth",
                format!("must be between 1 and {MAX_INPUT_DEPTH_CEILING}"),
            ));
        }
        Ok(())
    }
}

/// The number of pooled evaluators when none is configured.
pub fn default_pool_size() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 64)
}

/// How a client behaves when the sidecar cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Allow with null claims.
    Open,
    /// Deny with a 503.
    Closed,
}

/// What the decision log records (`decision_log`, `CORESDK_DECISION_LOG`).
///
/// The log is exported as OpenTelemetry log records once telemetry is set
/// up (`setupTelemetry()`, or the sidecar with `OTEL_EXPORTER_OTLP_*`); it
/// never carries the token or the verified claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionLog {
    /// No decision log.
    Off,
    /// Query, decision, reason, revision, tenant, duration (the default).
    Decisions,
    /// The same plus the policy input, PII-masked.
    Input,
}

impl DecisionLog {
    /// The configuration spelling: `off`, `decisions` or `input`.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionLog::Off => "off",
            DecisionLog::Decisions => "decisions",
            DecisionLog::Input => "input",
        }
    }
}

/// The `[sdk]` section of `coresdk.toml`, after `CORESDK_*` overrides.
#[derive(Debug, Clone)]
pub struct SdkConfig {
    /// Policy bundle directory (`policy_dir`, `CORESDK_POLICY_DIR`).
    pub policy_dir: Option<PathBuf>,
    /// Evaluation time limit (`eval_timeout_ms`).
    pub eval_timeout: Duration,
    /// Pool size (`pool_size`).
    pub pool_size: usize,
    /// Input size cap (`max_input_bytes`).
    pub max_input_bytes: usize,
    /// Input depth cap (`max_input_depth`).
    pub max_input_depth: usize,
    /// Hot reload (`watch_policies`).
    pub watch_policies: bool,
    /// Rego v0 syntax (`rego_v0`).
    pub rego_v0: bool,
    /// Decision cache capacity (`decision_cache_entries`), 0 disables.
    pub decision_cache_entries: usize,
    /// The VM fast path (`fast_path`).
    pub fast_path: bool,
    /// Sidecar address (`sidecar_addr`), default `[::1]:50051`.
    pub sidecar_addr: String,
    /// Tenant (`tenant_id`), default `acme-corp`.
    pub tenant_id: String,
    /// Fail mode (`fail_mode`), default open.
    pub fail_mode: FailMode,
    /// JWKS URL (`jwks_url`).
    pub jwks_url: Option<String>,
    /// Token verification built from the `jwks_*`, `oidc_issuer`,
    /// `issuer`, `audience`, ... keys; `None` when no key source is set.
    pub token: Option<crate::token::TokenConfig>,
    /// How a client reaches the engine (`mode`): `sidecar` or `in-process`.
    pub mode: ClientMode,
    /// A client's deadline per sidecar call (`timeout_ms`), default 1000 ms.
    pub timeout: Duration,
    /// The client's TLS settings for the sidecar (`tls_*`).
    pub client_tls: ClientTls,
    /// PII masking (`pii_style`, `pii_hash_key`, `pii_entities`,
    /// `pii_dictionary`, `pii_patterns`, `pii_sensitive_names`).
    pub pii: crate::pii::MaskerConfig,
    /// The decision log (`decision_log`), default `decisions`.
    pub decision_log: DecisionLog,
    /// A remote bundle (`bundle_url` and the other `bundle_*` keys), in
    /// place of `policy_dir`.
    pub bundle: Option<crate::remote_bundle::RemoteBundleConfig>,
    /// The offline cache directory (`offline_cache_dir`), shared by the key
    /// cache and the bundle's offline copy.
    pub offline_cache_dir: Option<PathBuf>,
    /// The offline cache's HMAC key (`offline_cache_key`).
    pub offline_cache_key: Option<Vec<u8>>,
}

/// How a client reaches the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    /// Over gRPC to the sidecar at `sidecar_addr`.
    Sidecar,
    /// The engine in the client's own process.
    InProcess,
}

/// A client's TLS files for the sidecar (`tls_ca_file`, `tls_cert_file`,
/// `tls_key_file`, `tls_server_name`). All empty means plaintext, which
/// clients allow only to a loopback address or a unix socket.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// CA that signed the sidecar's certificate.
    pub ca_file: Option<PathBuf>,
    /// The client's certificate chain.
    pub cert_file: Option<PathBuf>,
    /// The client's private key.
    pub key_file: Option<PathBuf>,
    /// The name to verify in the sidecar's certificate (default: the host).
    pub server_name: Option<String>,
}

impl Default for SdkConfig {
    fn default() -> Self {
        SdkConfig {
            policy_dir: None,
            eval_timeout: DEFAULT_EVAL_TIMEOUT,
            pool_size: default_pool_size(),
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_input_depth: DEFAULT_MAX_INPUT_DEPTH,
            watch_policies: true,
            rego_v0: false,
            decision_cache_entries: DEFAULT_DECISION_CACHE_ENTRIES,
            fast_path: true,
            sidecar_addr: "[::1]:50051".to_string(),
            tenant_id: "acme-corp".to_string(),
            fail_mode: FailMode::Open,
            jwks_url: None,
            token: None,
            mode: ClientMode::Sidecar,
            timeout: Duration::from_millis(1000),
            client_tls: ClientTls::default(),
            pii: crate::pii::MaskerConfig::default(),
            decision_log: DecisionLog::Decisions,
            bundle: None,
            offline_cache_dir: None,
            offline_cache_key: None,
        }
    }
}

pub use crate::config_keys::SDK_KEYS;

impl SdkConfig {
    /// Loads `coresdk.toml` (from `CORESDK_CONFIG`, else `./coresdk.toml` when
    /// present) and applies `CORESDK_*` overrides from the process environment.
    pub fn from_env() -> Result<Self> {
        let (file, vars) = crate::config_file::env_sources();
        Self::load(file.as_deref(), &vars)
    }

    /// Loads from an optional TOML file and an explicit map of variables
    /// (`CORESDK_*` names). Relative `policy_dir` values in the file are
    /// resolved against the file's directory.
    pub fn load(file: Option<&Path>, vars: &BTreeMap<String, String>) -> Result<Self> {
        Ok(ConfigFile::load(file, vars)?.sdk)
    }

    /// Applies `entries` (key, display name, value) over `self`.
    /// `base_dir` resolves relative paths given in a file.
    pub(crate) fn apply(
        &mut self,
        entries: BTreeMap<String, (String, RawValue)>,
        base_dir: Option<&Path>,
    ) -> Result<()> {
        let cfg = self;
        let mut tok = TokenDraft::default();
        let mut pii_style: Option<(String, String)> = None;
        let mut pii_key: Option<Vec<u8>> = None;
        let mut bundle = BundleDraft::default();
        let resolve = |name: &str, p: PathBuf| -> PathBuf {
            match (base_dir, p.is_relative()) {
                (Some(base), true) if !name.starts_with("CORESDK_") => base.join(p),
                _ => p,
            }
        };
        for (key, (name, value)) in entries {
            match key.as_str() {
                "policy_dir" => {
                    let p = PathBuf::from(value.string(&name)?);
                    cfg.policy_dir = Some(resolve(&name, p));
                }
                "eval_timeout_ms" => {
                    cfg.eval_timeout = Duration::from_millis(value.int(&name, 1, 60_000)?)
                }
                "pool_size" => cfg.pool_size = value.int(&name, 1, 1024)? as usize,
                "max_input_bytes" => cfg.max_input_bytes = value.int(&name, 1, 1 << 30)? as usize,
                "max_input_depth" => {
                    cfg.max_input_depth =
                        value.int(&name, 1, MAX_INPUT_DEPTH_CEILING as u64)? as usize
                }
                "watch_policies" => cfg.watch_policies = value.boolean(&name)?,
                "rego_v0" => cfg.rego_v0 = value.boolean(&name)?,
                "fast_path" => cfg.fast_path = value.boolean(&name)?,
                "decision_cache_entries" => {
                    cfg.decision_cache_entries = value.int(&name, 0, 10_000_000)? as usize
                }
                "sidecar_addr" => {
                    let s = value.string(&name)?;
                    check_address(&s).map_err(|m| EngineError::config(&name, m))?;
                    cfg.sidecar_addr = s;
                }
                "tenant_id" => {
                    let s = value.string(&name)?;
                    if !is_valid_tenant_id(&s) {
                        return Err(EngineError::config(
                            name,
                            "must be 1-128 characters of letters, digits, '-', '_' or '.'",
                        ));
                    }
                    cfg.tenant_id = s;
                }
                "fail_mode" => {
                    cfg.fail_mode = match value.string(&name)?.as_str() {
                        "open" => FailMode::Open,
                        "closed" => FailMode::Closed,
                        other => {
                            return Err(EngineError::config(
                                name,
                                format!("must be \"open\" or \"closed\", got {other:?}"),
                            ))
                        }
                    }
                }
                "decision_log" => {
                    cfg.decision_log = match value.string(&name)?.as_str() {
                        "off" => DecisionLog::Off,
                        "decisions" => DecisionLog::Decisions,
                        "input" => DecisionLog::Input,
                        other => {
                            return Err(EngineError::config(
                                name,
                                format!(
                                    "must be \"off\", \"decisions\" or \"input\", got {other:?}"
                                ),
                            ))
                        }
                    }
                }
                "jwks_url" => {
                    let s = value.string(&name)?;
                    if !s.starts_with("https://") && !s.starts_with("http://") {
                        return Err(EngineError::config(name, "must be an http(s) URL"));
                    }
                    tok.source(&name, crate::token::KeySourceConfig::Url(s.clone()))?;
                    cfg.jwks_url = Some(s);
                }
                "oidc_issuer" => {
                    let s = value.string(&name)?;
                    if !s.starts_with("https://") && !s.starts_with("http://") {
                        return Err(EngineError::config(name, "must be an http(s) URL"));
                    }
                    tok.issuer_default = Some(s.clone());
                    tok.source(&name, crate::token::KeySourceConfig::Issuer(s))?;
                }
                "jwks_file" => {
                    let p = resolve(&name, PathBuf::from(value.string(&name)?));
                    tok.source(&name, crate::token::KeySourceConfig::File(p))?;
                }
                "issuer" => tok.issuer = Some(value.string(&name)?),
                "audience" => {
                    let a = value.list(&name)?;
                    if a.is_empty() {
                        return Err(EngineError::config(name, "must name at least one audience"));
                    }
                    tok.audience = Some(a);
                }
                "algorithms" => {
                    let mut algs = Vec::new();
                    for a in value.list(&name)? {
                        algs.push(crate::token::Alg::parse(&a).ok_or_else(|| {
                            EngineError::config(
                                &name,
                                format!("unsupported algorithm {a:?} (allowed: RS256/384/512, PS256/384/512, ES256/384, EdDSA)"),
                            )
                        })?);
                    }
                    if algs.is_empty() {
                        return Err(EngineError::config(
                            name,
                            "must name at least one algorithm",
                        ));
                    }
                    tok.algorithms = Some(algs);
                }
                "clock_tolerance_secs" => {
                    tok.leeway = Some(Duration::from_secs(value.int(
                        &name,
                        0,
                        crate::token::MAX_LEEWAY.as_secs(),
                    )?))
                }
                "required_claims" => tok.required = Some(value.list(&name)?),
                "token_typ" => tok.typ = Some(value.string(&name)?),
                "max_token_bytes" => tok.max_bytes = Some(value.int(&name, 256, 1 << 20)? as usize),
                "token_cache_entries" => {
                    tok.cache = Some(value.int(&name, 0, 10_000_000)? as usize)
                }
                "jwks_ca_file" => {
                    tok.ca_file = Some(resolve(&name, PathBuf::from(value.string(&name)?)))
                }
                "jwks_timeout_ms" => {
                    tok.timeout = Some(Duration::from_millis(value.int(&name, 1, 120_000)?))
                }
                "jwks_refresh_min_secs" => {
                    tok.refresh_min = Some(Duration::from_secs(value.int(&name, 1, 86_400)?))
                }
                "jwks_refresh_max_secs" => {
                    tok.refresh_max = Some(Duration::from_secs(value.int(&name, 1, 7 * 86_400)?))
                }
                "jwks_unknown_kid_cooldown_secs" => {
                    tok.cooldown = Some(Duration::from_secs(value.int(&name, 0, 86_400)?))
                }
                "jwks_stale_max_secs" => {
                    tok.stale_max = Some(Duration::from_secs(value.int(&name, 1, 30 * 86_400)?))
                }
                "jwks_allow_insecure_http" => tok.insecure = Some(value.boolean(&name)?),
                "offline_cache_dir" => {
                    let p = resolve(&name, PathBuf::from(value.string(&name)?));
                    cfg.offline_cache_dir = Some(p.clone());
                    tok.offline_dir = Some(p)
                }
                k if k.starts_with("bundle_") => {
                    let path_of = |v: RawValue| -> Result<PathBuf> {
                        Ok(resolve(&name, PathBuf::from(v.string(&name)?)))
                    };
                    match k {
                        "bundle_url" => {
                            let s = value.string(&name)?;
                            if !s.starts_with("https://") && !s.starts_with("http://") {
                                return Err(EngineError::config(name, "must be an http(s) URL"));
                            }
                            bundle.url = Some((name.clone(), s));
                        }
                        "bundle_poll_min_secs" | "bundle_poll_min_s" => {
                            bundle.poll_min =
                                Some(Duration::from_secs(value.int(&name, 1, 86_400)?))
                        }
                        "bundle_poll_max_secs" | "bundle_poll_max_s" => {
                            bundle.poll_max =
                                Some(Duration::from_secs(value.int(&name, 1, 86_400)?))
                        }
                        "bundle_timeout_ms" => {
                            bundle.timeout =
                                Some(Duration::from_millis(value.int(&name, 1, 600_000)?))
                        }
                        "bundle_max_bytes" => {
                            bundle.max_bytes = Some(value.int(&name, 1024, 1 << 30)? as usize)
                        }
                        "bundle_ca_file" => bundle.ca_file = Some(path_of(value)?),
                        "bundle_auth_token_file" => bundle.token_file = Some(path_of(value)?),
                        "bundle_auth_token_env" => bundle.token_env = Some(value.string(&name)?),
                        "bundle_verification_key_file" => bundle.key_file = Some(path_of(value)?),
                        "bundle_key_id" => bundle.key_id = Some(value.string(&name)?),
                        "bundle_scope" => bundle.scope = Some(value.string(&name)?),
                        "bundle_signing_required" => {
                            bundle.signing_required = Some(value.boolean(&name)?)
                        }
                        "bundle_allow_insecure_http" => {
                            bundle.insecure = Some(value.boolean(&name)?)
                        }
                        _ => unreachable!("bundle keys are allow-listed"),
                    }
                }
                "mode" => {
                    cfg.mode = match value.string(&name)?.as_str() {
                        "sidecar" => ClientMode::Sidecar,
                        "in-process" => ClientMode::InProcess,
                        other => {
                            return Err(EngineError::config(
                                name,
                                format!("must be \"sidecar\" or \"in-process\", got {other:?}"),
                            ))
                        }
                    }
                }
                "timeout_ms" => cfg.timeout = Duration::from_millis(value.int(&name, 1, 600_000)?),
                "tls_ca_file" => {
                    cfg.client_tls.ca_file =
                        Some(resolve(&name, PathBuf::from(value.string(&name)?)))
                }
                "tls_cert_file" => {
                    cfg.client_tls.cert_file =
                        Some(resolve(&name, PathBuf::from(value.string(&name)?)))
                }
                "tls_key_file" => {
                    cfg.client_tls.key_file =
                        Some(resolve(&name, PathBuf::from(value.string(&name)?)))
                }
                "tls_server_name" => cfg.client_tls.server_name = Some(value.string(&name)?),
                "pii_style" => {
                    pii_style = Some((name.clone(), value.string(&name)?));
                }
                "pii_hash_key" => {
                    let text = value.string(&name)?;
                    pii_key = Some(decode_hmac_key(&text).ok_or_else(|| {
                        EngineError::config(
                            &name,
                            "must be at least 32 bytes, as hex (64+ digits) or base64",
                        )
                    })?);
                }
                "pii_entities" => {
                    let mut list = Vec::new();
                    for e in value.list(&name)? {
                        list.push(crate::pii::Entity::parse(&e).ok_or_else(|| {
                            EngineError::config(
                                &name,
                                format!(
                                    "unknown entity {e:?} (known: {})",
                                    crate::pii::Entity::ALL.map(|e| e.name()).join(", ")
                                ),
                            )
                        })?);
                    }
                    cfg.pii.entities = list;
                }
                "pii_dictionary" => cfg.pii.dictionary = value.list(&name)?,
                "pii_patterns" => {
                    let mut list = Vec::new();
                    for p in value.list(&name)? {
                        let (n, re) = p
                            .split_once('=')
                            .ok_or_else(|| EngineError::config(&name, "entries are name=regex"))?;
                        list.push((n.trim().to_string(), re.to_string()));
                    }
                    cfg.pii.patterns = list;
                }
                "pii_sensitive_names" => {
                    cfg.pii.sensitive_names = value
                        .list(&name)?
                        .into_iter()
                        .map(|n| {
                            n.chars()
                                .filter(char::is_ascii_alphanumeric)
                                .collect::<String>()
                                .to_ascii_lowercase()
                        })
                        .collect()
                }
                "offline_cache_key" => {
                    let text = value.string(&name)?;
                    let key = decode_hmac_key(&text).ok_or_else(|| {
                        EngineError::config(
                            &name,
                            "must be at least 32 bytes, as hex (64+ digits) or base64",
                        )
                    })?;
                    cfg.offline_cache_key = Some(key.clone());
                    tok.offline_key = Some(key);
                }
                _ => unreachable!("keys are allow-listed by the file parser and SDK_KEYS"),
            }
        }
        cfg.token = tok.build()?;
        if let Some(b) = bundle.build(cfg.bundle.take())? {
            cfg.bundle = Some(b);
        }
        if let Some((name, style)) = pii_style {
            cfg.pii.style = match style.as_str() {
                "tag" => crate::pii::MaskStyle::Tag,
                "partial" => crate::pii::MaskStyle::Partial,
                "hash" => crate::pii::MaskStyle::Hash(pii_key.take().ok_or_else(|| {
                    EngineError::config(&name, "\"hash\" needs pii_hash_key (CORESDK_PII_HASH_KEY)")
                })?),
                other => {
                    return Err(EngineError::config(
                        name,
                        format!("must be \"tag\", \"partial\" or \"hash\", got {other:?}"),
                    ))
                }
            };
        }
        // Compile once here, so that a bad pattern fails at load, naming the key.
        crate::pii::Masker::new(&cfg.pii)?;
        Ok(())
    }

    /// The engine configuration this SDK configuration describes.
    ///
    /// Fails with `ERR_CONFIG` naming `CORESDK_POLICY_DIR` when no policy
    /// directory is set.
    pub fn engine_config(&self) -> Result<EngineConfig> {
        let bundle = match (&self.policy_dir, &self.bundle) {
            (Some(_), Some(_)) => {
                return Err(EngineError::config(
                    "bundle_url",
                    "conflicts with policy_dir: configure one bundle source",
                ))
            }
            (Some(dir), None) => BundleSource::Dir(dir.clone()),
            (None, Some(remote)) => {
                let mut r = remote.clone();
                r.offline_cache_dir = self.offline_cache_dir.clone();
                r.offline_cache_key = self.offline_cache_key.clone();
                r.validate()?;
                BundleSource::Remote(Box::new(r))
            }
            (None, None) => {
                return Err(EngineError::config(
                    "CORESDK_POLICY_DIR",
                    "no policy bundle configured: set sdk.policy_dir in coresdk.toml or CORESDK_POLICY_DIR (or bundle_url / CORESDK_BUNDLE_URL)",
                ))
            }
        };
        Ok(EngineConfig {
            bundle,
            pool_size: self.pool_size,
            eval_timeout: self.eval_timeout,
            max_input_bytes: self.max_input_bytes,
            max_input_depth: self.max_input_depth,
            watch: self.watch_policies,
            rego_v0: self.rego_v0,
            decision_cache_entries: self.decision_cache_entries,
            fast_path: self.fast_path,
            token: self.token.clone(),
            pii: self.pii.clone(),
        })
    }
}

/// Remote bundle settings gathered while parsing.
#[derive(Default)]
struct BundleDraft {
    url: Option<(String, String)>,
    poll_min: Option<Duration>,
    poll_max: Option<Duration>,
    timeout: Option<Duration>,
    max_bytes: Option<usize>,
    ca_file: Option<PathBuf>,
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    key_file: Option<PathBuf>,
    key_id: Option<String>,
    scope: Option<String>,
    signing_required: Option<bool>,
    insecure: Option<bool>,
}

impl BundleDraft {
    /// Applies the keys given over `base` (the settings already loaded, so
    /// that a variable can override one key of a file's bundle).
    fn build(
        self,
        base: Option<crate::remote_bundle::RemoteBundleConfig>,
    ) -> Result<Option<crate::remote_bundle::RemoteBundleConfig>> {
        let mut r = match (self.url, base) {
            (Some((_, url)), Some(mut b)) => {
                b.url = url;
                b
            }
            (Some((_, url)), None) => crate::remote_bundle::RemoteBundleConfig::new(url),
            (None, Some(b)) => b,
            (None, None) => {
                let set = self.poll_min.is_some()
                    || self.poll_max.is_some()
                    || self.key_file.is_some()
                    || self.token_file.is_some();
                if set {
                    return Err(EngineError::config(
                        "bundle_url",
                        "bundle_* settings need bundle_url (CORESDK_BUNDLE_URL)",
                    ));
                }
                return Ok(None);
            }
        };
        if let Some(v) = self.poll_min {
            r.poll_min = v;
            if self.poll_max.is_none() && r.poll_max < v {
                r.poll_max = v;
            }
        }
        if let Some(v) = self.poll_max {
            r.poll_max = v;
            if self.poll_min.is_none() && r.poll_min > v {
                r.poll_min = v;
            }
        }
        if let Some(v) = self.timeout {
            r.fetch.timeout = v;
        }
        if let Some(v) = self.max_bytes {
            r.fetch.max_body_bytes = v;
        }
        if let Some(v) = self.ca_file {
            r.fetch.ca_file = Some(v);
        }
        if let Some(v) = self.insecure {
            r.fetch.allow_insecure_http = v;
        }
        if self.token_file.is_some() && self.token_env.is_some() {
            return Err(EngineError::config(
                "bundle_auth_token_file",
                "conflicts with bundle_auth_token_env: configure one",
            ));
        }
        if let Some(v) = self.token_file {
            r.auth_token_file = Some(v);
        }
        if let Some(v) = self.token_env {
            r.auth_token_env = Some(v);
        }
        if let Some(v) = self.key_file {
            r.verification_key_file = Some(v);
        }
        if let Some(v) = self.key_id {
            r.key_id = Some(v);
        }
        if let Some(v) = self.scope {
            r.scope = Some(v);
        }
        if let Some(v) = self.signing_required {
            r.signing_required = Some(v);
        }
        if r.poll_min > r.poll_max {
            return Err(EngineError::config(
                "bundle_poll_min_secs",
                "must not exceed bundle_poll_max_secs",
            ));
        }
        Ok(Some(r))
    }
}

/// Token settings gathered while parsing, turned into a [`crate::token::TokenConfig`].
#[derive(Default)]
struct TokenDraft {
    source: Option<(String, crate::token::KeySourceConfig)>,
    issuer_default: Option<String>,
    issuer: Option<String>,
    audience: Option<Vec<String>>,
    algorithms: Option<Vec<crate::token::Alg>>,
    leeway: Option<Duration>,
    required: Option<Vec<String>>,
    typ: Option<String>,
    max_bytes: Option<usize>,
    cache: Option<usize>,
    ca_file: Option<PathBuf>,
    timeout: Option<Duration>,
    refresh_min: Option<Duration>,
    refresh_max: Option<Duration>,
    cooldown: Option<Duration>,
    stale_max: Option<Duration>,
    insecure: Option<bool>,
    offline_dir: Option<PathBuf>,
    offline_key: Option<Vec<u8>>,
}

impl TokenDraft {
    fn source(&mut self, name: &str, src: crate::token::KeySourceConfig) -> Result<()> {
        if let Some((other, _)) = &self.source {
            return Err(EngineError::config(
                name,
                format!("conflicts with {other}: configure one key source (jwks_url, jwks_file or oidc_issuer)"),
            ));
        }
        self.source = Some((name.to_string(), src));
        Ok(())
    }

    fn build(self) -> Result<Option<crate::token::TokenConfig>> {
        let Some((_, source)) = self.source else {
            return Ok(None);
        };
        let mut t = crate::token::TokenConfig::new(source);
        t.verifier.issuer = self.issuer.or(self.issuer_default);
        if let Some(a) = self.audience {
            t.verifier.audiences = a;
        }
        if let Some(a) = self.algorithms {
            t.verifier.algorithms = a;
        }
        if let Some(l) = self.leeway {
            t.verifier.leeway = l;
        }
        if let Some(r) = self.required {
            t.verifier.required_claims = r;
        }
        t.verifier.typ = self.typ;
        if let Some(m) = self.max_bytes {
            t.verifier.max_token_bytes = m;
        }
        if let Some(c) = self.cache {
            t.verifier.token_cache_entries = c;
        }
        t.fetch.ca_file = self.ca_file;
        if let Some(v) = self.timeout {
            t.fetch.timeout = v;
        }
        if let Some(v) = self.insecure {
            t.fetch.allow_insecure_http = v;
        }
        if let Some(v) = self.refresh_min {
            t.refresh_min = v;
        }
        if let Some(v) = self.refresh_max {
            t.refresh_max = v;
        }
        if let Some(v) = self.cooldown {
            t.unknown_kid_cooldown = v;
        }
        if let Some(v) = self.stale_max {
            t.stale_max = v;
        }
        t.offline_cache_dir = self.offline_dir;
        t.offline_cache_key = self.offline_key;
        Ok(Some(t))
    }
}

/// Whether `id` is a usable tenant id: 1-128 letters, digits, `-`, `_`, `.`.
pub fn is_valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Decodes an HMAC key given as hex or base64; `None` when shorter than 32 bytes.
pub fn decode_hmac_key(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let t = text.trim();
    let hex = (t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| {
            (0..t.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten();
    let bytes = hex.or_else(|| {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
            .ok()
    })?;
    (bytes.len() >= 32).then_some(bytes)
}

/// A value before validation: typed from TOML, or text from the environment.
pub(crate) enum RawValue {
    Toml(toml::Value),
    Env(String),
}

/// Checks a sidecar address as every client parses it: `host:port`,
/// `[IPv6]:port` or `unix:/path` (port 0-65535; an IPv6 address needs its
/// brackets). The message says what is wrong, without the key.
pub fn check_address(s: &str) -> std::result::Result<(), String> {
    const FORMS: &str = "host:port, [IPv6]:port or unix:/path";
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(path) = s.strip_prefix("unix:") {
        return if path.is_empty() {
            Err(format!("a unix: address names a socket path ({FORMS})"))
        } else {
            Ok(())
        };
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((ip, port)) = rest.split_once("]:") else {
            return Err(format!("must be {FORMS}, got {s:?}"));
        };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{ip:?} is not an IPv6 address ({FORMS})"));
        }
        (ip, port)
    } else {
        match s.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(format!(
                    "write an IPv6 address in brackets, [{host}]:port ({FORMS})"
                ))
            }
            Some((host, port)) => (host, port),
            None => return Err(format!("must be {FORMS} (a port is required), got {s:?}")),
        }
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(format!("must be {FORMS}, got {s:?}"));
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err()
    {
        return Err(format!(
            "the port must be a number from 0 to 65535, got {port:?}"
        ));
    }
    Ok(())
}

impl RawValue {
    pub(crate) fn string(self, name: &str) -> Result<String> {
        match self {
            RawValue::Env(s) => Ok(s),
            RawValue::Toml(toml::Value::String(s)) => Ok(s),
            RawValue::Toml(v) => Err(EngineError::config(
                name,
                format!("expected a string, got {}", v.type_str()),
            )),
        }
    }

    /// A list: a TOML array of strings (or one string), or comma-separated text.
    pub(crate) fn list(self, name: &str) -> Result<Vec<String>> {
        let items: Vec<String> = match self {
            RawValue::Env(s) => s
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            RawValue::Toml(toml::Value::String(s)) => vec![s],
            RawValue::Toml(toml::Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s),
                    other => Err(EngineError::config(
                        name,
                        format!("expected strings, got {}", other.type_str()),
                    )),
                })
                .collect::<Result<_>>()?,
            RawValue::Toml(v) => {
                return Err(EngineError::config(
                    name,
                    format!(
                        "expected a string or an array of strings, got {}",
                        v.type_str()
                    ),
                ))
            }
        };
        Ok(items)
    }

    pub(crate) fn int(self, name: &str, min: u64, max: u64) -> Result<u64> {
        let n = match self {
            RawValue::Env(s) => s.trim().parse::<i64>().map_err(|_| {
                EngineError::config(name, format!("expected an integer, got {s:?}"))
            })?,
            RawValue::Toml(toml::Value::Integer(n)) => n,
            RawValue::Toml(v) => {
                return Err(EngineError::config(
                    name,
                    format!("expected an integer, got {}", v.type_str()),
                ))
            }
        };
        if n < min as i64 || n > max as i64 {
            return Err(EngineError::config(
                name,
                format!("must be between {min} and {max}, got {n}"),
            ));
        }
        Ok(n as u64)
    }

    pub(crate) fn boolean(self, name: &str) -> Result<bool> {
        match self {
            RawValue::Env(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(EngineError::config(
                    name,
                    format!("expected true or false, got {s:?}"),
                )),
            },
            RawValue::Toml(toml::Value::Boolean(b)) => Ok(b),
            RawValue::Toml(v) => Err(EngineError::config(
                name,
                format!("expected a boolean, got {}", v.type_str()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let cfg = SdkConfig::load(None, &vars(&[])).unwrap();
        assert_eq!(cfg.sidecar_addr, "[::1]:50051");
        assert_eq!(cfg.tenant_id, "acme-corp");
        assert_eq!(cfg.fail_mode, FailMode::Open);
        assert!(cfg.engine_config().is_err());
    }

    #[test]
    fn decision_log_setting() {
        let d = SdkConfig::load(None, &vars(&[])).unwrap();
        assert_eq!(d.decision_log, DecisionLog::Decisions);
        let i = SdkConfig::load(None, &vars(&[("CORESDK_DECISION_LOG", "input")])).unwrap();
        assert_eq!(i.decision_log.as_str(), "input");
        let err = SdkConfig::load(None, &vars(&[("CORESDK_DECISION_LOG", "all")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CORESDK_DECISION_LOG"), "{err}");
        assert!(err.contains("\"off\", \"decisions\" or \"input\""), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("coresdk.toml");
        std::fs::write(
            &file,
            "[sdk]\npolicy_dir = \"pol\"\nfail_mode = \"closed\"\neval_timeout_ms = 50\n",
        )
        .unwrap();
        let cfg = SdkConfig::load(Some(&file), &vars(&[("CORESDK_FAIL_MODE", "open")])).unwrap();
        assert_eq!(cfg.fail_mode, FailMode::Open);
        assert_eq!(cfg.policy_dir.unwrap(), dir.path().join("pol"));
        assert_eq!(cfg.eval_timeout, Duration::from_millis(50));
    }

    #[test]
    fn token_settings() {
        let cfg = SdkConfig::load(
            None,
            &vars(&[
                ("CORESDK_OIDC_ISSUER", "https://idp.test"),
                ("CORESDK_AUDIENCE", "api, web"),
                ("CORESDK_ALGORITHMS", "ES256,EdDSA"),
                ("CORESDK_OFFLINE_CACHE_KEY", &"ab".repeat(32)),
            ]),
        )
        .unwrap();
        let t = cfg.token.unwrap();
        assert_eq!(t.verifier.issuer.as_deref(), Some("https://idp.test"));
        assert_eq!(t.verifier.audiences, vec!["api", "web"]);
        assert_eq!(t.verifier.algorithms.len(), 2);
        assert_eq!(t.offline_cache_key.unwrap().len(), 32);

        let err = SdkConfig::load(
            None,
            &vars(&[
                ("CORESDK_JWKS_URL", "https://a.test/jwks"),
                ("CORESDK_JWKS_FILE", "k.json"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("one key source"), "{err}");
        let err = SdkConfig::load(
            None,
            &vars(&[
                ("CORESDK_JWKS_FILE", "k.json"),
                ("CORESDK_ALGORITHMS", "HS256"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("CORESDK_ALGORITHMS"), "{err}");
        let err = SdkConfig::load(
            None,
            &vars(&[
                ("CORESDK_JWKS_FILE", "k.json"),
                ("CORESDK_OFFLINE_CACHE_KEY", "abcd"),
            ]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("CORESDK_OFFLINE_CACHE_KEY"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("abcd"),
            "the key is never echoed: {err}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err = SdkConfig::load(None, &vars(&[("CORESDK_FAIL_MODE", "maybe")])).unwrap_err();
        assert_eq!(err.code(), "ERR_CONFIG");
        assert!(err.to_string().contains("CORESDK_FAIL_MODE"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("coresdk.toml");
        std::fs::write(&file, "[sdk]\npolicy_dri = \"x\"\n").unwrap();
        let err = SdkConfig::load(Some(&file), &vars(&[])).unwrap_err();
        assert!(err.to_string().contains("sdk.policy_dri"), "{err}");

        std::fs::write(&file, "[sdk]\npool_size = \"four\"\n").unwrap();
        let err = SdkConfig::load(Some(&file), &vars(&[])).unwrap_err();
        assert!(err.to_string().contains("sdk.pool_size"), "{err}");
    }
}
