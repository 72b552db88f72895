//! `NativeEngine`: the engine as a JavaScript class.

use std::collections::HashMap;
use std::time::Duration;

use coresdk_engine::{Decision, Engine, EngineConfig, ReloadEvent, SdkConfig};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::errors::{invalid_arg, to_napi};
use crate::tasks::{EvalTask, ReloadTask};

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
}

fn build_config(options: NativeEngineOptions) -> Result<EngineConfig> {
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
    Ok(cfg)
}

#[napi]
impl NativeEngine {
    /// Loads and compiles the bundle (synchronously: construction is rare).
    #[napi(constructor)]
    pub fn new(options: NativeEngineOptions) -> Result<Self> {
        let config = build_config(options)?;
        Ok(NativeEngine {
            engine: Engine::new(config).map_err(to_napi)?,
        })
    }

    /// The revision currently serving.
    #[napi(getter)]
    pub fn revision(&self) -> String {
        self.engine.revision().to_string()
    }

    /// Evaluates with the input as JSON text (empty string: no input).
    #[napi]
    pub fn evaluate_json(&self, query: String, input_json: String) -> Result<NativeDecision> {
        self.engine
            .evaluate_policy_json(&query, &input_json)
            .map(NativeDecision::from)
            .map_err(to_napi)
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

    /// Stops the watcher and refuses further evaluations.
    #[napi]
    pub fn close(&self) {
        self.engine.close();
    }
}
