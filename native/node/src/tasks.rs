//! Evaluations run on libuv's thread pool, resolving a Promise.

use coresdk_engine::{Decision, Engine};
use napi::bindgen_prelude::*;

use crate::engine::NativeDecision;
use crate::errors::to_napi;

/// Evaluates one query off the main thread.
pub struct EvalTask {
    pub(crate) engine: Engine,
    pub(crate) query: String,
    pub(crate) input_json: Option<String>,
}

impl Task for EvalTask {
    type Output = Decision;
    type JsValue = NativeDecision;

    fn compute(&mut self) -> Result<Self::Output> {
        self.engine
            .evaluate_policy_json(&self.query, self.input_json.as_deref().unwrap_or(""))
            .map_err(to_napi)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(NativeDecision::from(output))
    }
}

/// Re-reads and recompiles the bundle off the main thread.
pub struct ReloadTask {
    pub(crate) engine: Engine,
}

impl Task for ReloadTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<Self::Output> {
        self.engine.reload().map(|r| r.to_string()).map_err(to_napi)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}
