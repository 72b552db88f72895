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
//! sidecar_addr = "[::1]:50051"  # CORESDK_SIDECAR_ADDR
//! tenant_id = "acme-corp"       # CORESDK_TENANT_ID
//! fail_mode = "open"            # CORESDK_FAIL_MODE
//! jwks_url = "https://..."      # CORESDK_JWKS_URL
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Sidecar address (`sidecar_addr`), default `[::1]:50051`.
    pub sidecar_addr: String,
    /// Tenant (`tenant_id`), default `acme-corp`.
    pub tenant_id: String,
    /// Fail mode (`fail_mode`), default open.
    pub fail_mode: FailMode,
    /// JWKS URL (`jwks_url`).
    pub jwks_url: Option<String>,
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
            sidecar_addr: "[::1]:50051".to_string(),
            tenant_id: "acme-corp".to_string(),
            fail_mode: FailMode::Open,
            jwks_url: None,
        }
    }
}

/// The allow-listed keys of the `[sdk]` table; each maps to `CORESDK_<KEY>`.
pub const SDK_KEYS: &[&str] = &[
    "policy_dir",
    "eval_timeout_ms",
    "pool_size",
    "max_input_bytes",
    "max_input_depth",
    "watch_policies",
    "rego_v0",
    "decision_cache_entries",
    "sidecar_addr",
    "tenant_id",
    "fail_mode",
    "jwks_url",
];

impl SdkConfig {
    /// Loads `coresdk.toml` (from `CORESDK_CONFIG`, else `./coresdk.toml` when
    /// present) and applies `CORESDK_*` overrides from the process environment.
    pub fn from_env() -> Result<Self> {
        let vars: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("CORESDK_"))
            .collect();
        let file = match vars.get("CORESDK_CONFIG") {
            Some(p) => Some(PathBuf::from(p)),
            None => {
                let p = PathBuf::from("coresdk.toml");
                p.is_file().then_some(p)
            }
        };
        Self::load(file.as_deref(), &vars)
    }

    /// Loads from an optional TOML file and an explicit map of variables
    /// (`CORESDK_*` names). Relative `policy_dir` values in the file are
    /// resolved against the file's directory.
    pub fn load(file: Option<&Path>, vars: &BTreeMap<String, String>) -> Result<Self> {
        let mut raw: BTreeMap<String, (String, RawValue)> = BTreeMap::new();
        let mut base_dir = None;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                EngineError::config("CORESDK_CONFIG", format!("{}: {e}", path.display()))
            })?;
            base_dir = path.parent().map(Path::to_path_buf);
            for (key, value) in parse_toml(&text)? {
                raw.insert(key.clone(), (format!("sdk.{key}"), value));
            }
        }
        for key in SDK_KEYS {
            let var = format!("CORESDK_{}", key.to_ascii_uppercase());
            if let Some(v) = vars.get(&var) {
                raw.insert((*key).to_string(), (var, RawValue::Env(v.clone())));
            }
        }
        let mut cfg = SdkConfig::default();
        for (key, (name, value)) in raw {
            match key.as_str() {
                "policy_dir" => {
                    let p = PathBuf::from(value.string(&name)?);
                    cfg.policy_dir = Some(match (&base_dir, p.is_relative()) {
                        (Some(base), true) if name.starts_with("sdk.") => base.join(p),
                        _ => p,
                    });
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
                "decision_cache_entries" => {
                    cfg.decision_cache_entries = value.int(&name, 0, 10_000_000)? as usize
                }
                "sidecar_addr" => {
                    let s = value.string(&name)?;
                    if s.trim().is_empty() {
                        return Err(EngineError::config(name, "must not be empty"));
                    }
                    cfg.sidecar_addr = s;
                }
                "tenant_id" => {
                    let s = value.string(&name)?;
                    let ok = !s.is_empty()
                        && s.len() <= 128
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                    if !ok {
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
                "jwks_url" => {
                    let s = value.string(&name)?;
                    if !s.starts_with("https://") && !s.starts_with("http://") {
                        return Err(EngineError::config(name, "must be an http(s) URL"));
                    }
                    cfg.jwks_url = Some(s);
                }
                _ => unreachable!("keys are allow-listed by parse_toml and SDK_KEYS"),
            }
        }
        Ok(cfg)
    }

    /// The engine configuration this SDK configuration describes.
    ///
    /// Fails with `ERR_CONFIG` naming `CORESDK_POLICY_DIR` when no policy
    /// directory is set.
    pub fn engine_config(&self) -> Result<EngineConfig> {
        let dir = self.policy_dir.clone().ok_or_else(|| {
            EngineError::config(
                "CORESDK_POLICY_DIR",
                "no policy bundle configured: set sdk.policy_dir in coresdk.toml or CORESDK_POLICY_DIR",
            )
        })?;
        Ok(EngineConfig {
            bundle: BundleSource::Dir(dir),
            pool_size: self.pool_size,
            eval_timeout: self.eval_timeout,
            max_input_bytes: self.max_input_bytes,
            max_input_depth: self.max_input_depth,
            watch: self.watch_policies,
            rego_v0: self.rego_v0,
            decision_cache_entries: self.decision_cache_entries,
        })
    }
}

/// A value before validation: typed from TOML, or text from the environment.
enum RawValue {
    Toml(toml::Value),
    Env(String),
}

impl RawValue {
    fn string(self, name: &str) -> Result<String> {
        match self {
            RawValue::Env(s) => Ok(s),
            RawValue::Toml(toml::Value::String(s)) => Ok(s),
            RawValue::Toml(v) => Err(EngineError::config(
                name,
                format!("expected a string, got {}", v.type_str()),
            )),
        }
    }

    fn int(self, name: &str, min: u64, max: u64) -> Result<u64> {
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

    fn boolean(self, name: &str) -> Result<bool> {
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

fn parse_toml(text: &str) -> Result<Vec<(String, RawValue)>> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| EngineError::config("coresdk.toml", e.to_string()))?;
    let mut out = Vec::new();
    for (section, value) in doc {
        match (section.as_str(), value) {
            ("sdk", toml::Value::Table(table)) => {
                for (key, v) in table {
                    if !SDK_KEYS.contains(&key.as_str()) {
                        return Err(EngineError::config(
                            format!("sdk.{key}"),
                            format!("unknown key (known keys: {})", SDK_KEYS.join(", ")),
                        ));
                    }
                    out.push((key, RawValue::Toml(v)));
                }
            }
            ("sdk", _) => return Err(EngineError::config("sdk", "must be a table")),
            (other, _) => return Err(EngineError::config(other, "unknown section (known: [sdk])")),
        }
    }
    Ok(out)
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
