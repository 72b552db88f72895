//! Evaluations run on libuv's thread pool, resolving a Promise.

use coresdk_engine::{Decision, Engine};
use napi::bindgen_prelude::*;

use crate::engine::{NativeAuthorization, NativeDecision, NativeVerified};
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

/// Verifies a token off the main thread.
pub struct VerifyTask {
    pub(crate) engine: Engine,
    pub(crate) token: String,
}

impl Task for VerifyTask {
    type Output = coresdk_engine::token::VerifiedToken;
    type JsValue = NativeVerified;

    fn compute(&mut self) -> Result<Self::Output> {
        self.engine.verify_token(&self.token).map_err(to_napi)
    }

    fn resolve(&mut self, _env: Env, v: Self::Output) -> Result<Self::JsValue> {
        Ok(NativeVerified {
            claims_json: v.claims_json.to_string(),
            alg: v.alg.name().to_string(),
        })
    }
}

/// Verifies and evaluates off the main thread.
pub struct AuthorizeTask {
    pub(crate) engine: Engine,
    pub(crate) token: String,
    pub(crate) query: String,
    pub(crate) input_json: String,
}

impl Task for AuthorizeTask {
    type Output = coresdk_engine::Authorization;
    type JsValue = NativeAuthorization;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(self
            .engine
            .authorize(&self.token, &self.query, &self.input_json))
    }

    fn resolve(&mut self, _env: Env, a: Self::Output) -> Result<Self::JsValue> {
        Ok(a.into())
    }
}
