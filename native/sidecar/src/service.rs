//! The `coresdk.v1.CoreSDK` handlers: engine calls, nothing else.
//!
//! Each handler checks the message size, finds the tenant, calls the engine
//! inline on the runtime's worker (a decision costs microseconds; the
//! engine's own time limit bounds a slow policy) and maps errors to statuses
//! with details ([`crate::status`]). Nothing here logs, allocates a span or
//! touches JavaScript.

use std::sync::Arc;

use prost::Message;
use tonic::{Code, Request, Response, Status};

use crate::pb;
use crate::pb::core_sdk_server::CoreSdk;
use crate::status::{
    from_engine, status, ERR_BATCH_TOO_LARGE, ERR_MESSAGE_TOO_LARGE, ERR_TOKENS_NOT_CONFIGURED,
};
use crate::tenants::Tenants;

/// The query `Authorize` evaluates when the request names none.
pub const DEFAULT_QUERY: &str = "data.authz.allow";

/// Limits the handlers enforce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request message, in bytes.
    pub max_message_bytes: usize,
    /// Most items in one `EvaluatePolicies` call.
    pub max_batch: usize,
}

/// The service: the tenants and the limits.
#[derive(Clone)]
pub struct CoreSdkService {
    tenants: Arc<Tenants>,
    limits: Limits,
}

impl CoreSdkService {
    /// A service over `tenants`.
    pub fn new(tenants: Arc<Tenants>, limits: Limits) -> Self {
        CoreSdkService { tenants, limits }
    }

    fn require_tokens(&self, tenant: &crate::tenants::Tenant) -> Result<(), Status> {
        if tenant.engine.config().token.is_none() {
            return Err(status(
                Code::FailedPrecondition,
                ERR_TOKENS_NOT_CONFIGURED,
                format!(
                    "tenant {} has no key source (jwks_url, jwks_file or oidc_issuer)",
                    tenant.id
                ),
            ));
        }
        Ok(())
    }

    fn check_size(&self, m: &impl Message) -> Result<(), Status> {
        let len = m.encoded_len();
        if len > self.limits.max_message_bytes {
            return Err(crate::status::status_with(
                Code::ResourceExhausted,
                ERR_MESSAGE_TOO_LARGE,
                format!(
                    "the request is {len} bytes; the limit is {} (sidecar.max_message_bytes)",
                    self.limits.max_message_bytes
                ),
                [(
                    "limit".to_string(),
                    self.limits.max_message_bytes.to_string(),
                )]
                .into(),
            ));
        }
        Ok(())
    }
}

fn value_json(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

#[tonic::async_trait]
impl CoreSdk for CoreSdkService {
    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        let r = request.get_ref();
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        self.require_tokens(tenant)?;
        if r.token.is_empty() {
            return Err(from_engine(&coresdk_engine::EngineError::Token(
                coresdk_engine::token::TokenError::Missing,
            )));
        }
        let query = if r.query.is_empty() {
            DEFAULT_QUERY
        } else {
            &r.query
        };
        let a = tenant.engine.authorize(&r.token, query, &r.input_json);
        if let Some(e) = &a.error {
            return Err(from_engine(e));
        }
        let (claims, alg) = a
            .claims
            .as_ref()
            .map(|c| (c.claims_json.to_string(), c.alg.name().to_string()))
            .unwrap_or_default();
        let (decision_json, revision) = a
            .decision
            .as_ref()
            .map(|d| (value_json(&d.value), d.revision.to_string()))
            .unwrap_or_default();
        Ok(Response::new(pb::AuthorizeResponse {
            allowed: a.allowed,
            reason: a.reason.to_string(),
            claims_json: claims,
            decision_json,
            revision,
            alg,
        }))
    }

    async fn verify_token(
        &self,
        request: Request<pb::VerifyTokenRequest>,
    ) -> Result<Response<pb::VerifyTokenResponse>, Status> {
        let r = request.get_ref();
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        self.require_tokens(tenant)?;
        if r.token.is_empty() {
            return Err(from_engine(&coresdk_engine::EngineError::Token(
                coresdk_engine::token::TokenError::Missing,
            )));
        }
        let v = tenant
            .engine
            .verify_token(&r.token)
            .map_err(|e| from_engine(&e))?;
        Ok(Response::new(pb::VerifyTokenResponse {
            claims_json: v.claims_json.to_string(),
            alg: v.alg.name().to_string(),
        }))
    }

    async fn evaluate_policy(
        &self,
        request: Request<pb::EvaluatePolicyRequest>,
    ) -> Result<Response<pb::EvaluatePolicyResponse>, Status> {
        let r = request.get_ref();
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        let d = tenant
            .engine
            .evaluate_policy_json(&r.query, &r.input_json)
            .map_err(|e| from_engine(&e))?;
        Ok(Response::new(pb::EvaluatePolicyResponse {
            value_json: value_json(&d.value),
            defined: d.is_defined(),
            allowed: d.is_true(),
            revision: d.revision.to_string(),
        }))
    }

    async fn evaluate_policies(
        &self,
        request: Request<pb::EvaluatePoliciesRequest>,
    ) -> Result<Response<pb::EvaluatePoliciesResponse>, Status> {
        let r = request.get_ref();
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        if r.items.len() > self.limits.max_batch {
            return Err(crate::status::status_with(
                Code::InvalidArgument,
                ERR_BATCH_TOO_LARGE,
                format!(
                    "{} items; at most {} per call (sidecar.max_batch)",
                    r.items.len(),
                    self.limits.max_batch
                ),
                [("limit".to_string(), self.limits.max_batch.to_string())].into(),
            ));
        }
        let mut revision = String::new();
        let results = r
            .items
            .iter()
            .map(|item| {
                match tenant
                    .engine
                    .evaluate_policy_json(&item.query, &item.input_json)
                {
                    Ok(d) => {
                        if revision.is_empty() {
                            revision = d.revision.to_string();
                        }
                        pb::PolicyResult {
                            value_json: value_json(&d.value),
                            defined: d.is_defined(),
                            allowed: d.is_true(),
                            error_code: String::new(),
                            error_message: String::new(),
                        }
                    }
                    Err(e) => pb::PolicyResult {
                        error_code: e.code().to_string(),
                        error_message: e.to_string(),
                        ..Default::default()
                    },
                }
            })
            .collect();
        if revision.is_empty() {
            revision = tenant.engine.revision().to_string();
        }
        Ok(Response::new(pb::EvaluatePoliciesResponse {
            results,
            revision,
        }))
    }

    async fn mask_pii(
        &self,
        request: Request<pb::MaskPiiRequest>,
    ) -> Result<Response<pb::MaskPiiResponse>, Status> {
        let r = request.get_ref();
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        let mut counts = coresdk_engine::pii::MaskCounts::new();
        let values = tenant.engine.mask_pii(&r.values, &mut counts);
        Ok(Response::new(pb::MaskPiiResponse { values }))
    }
}
