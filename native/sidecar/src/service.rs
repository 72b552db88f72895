//! The `coresdk.v1.CoreSDK` handlers: engine calls, nothing else.
//!
//! Each handler checks the message size, finds the tenant, calls the engine
//! inline on the runtime's worker (a decision costs microseconds; the
//! engine's own time limit bounds a slow policy) and maps errors to statuses
//! with details ([`crate::status`]). Nothing here logs or touches
//! JavaScript; with telemetry on, each call fills a few facts for the
//! [`Recorder`] (decision, reason, revision, tenant) and pushes them onto its
//! bounded queues, nothing more.

use std::borrow::Cow;
use std::sync::Arc;

use coresdk_engine::DecisionLog;
use prost::Message;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

use crate::access::ClientLists;
use crate::listen::ConnInfo;
use crate::pb;
use crate::pb::core_sdk_server::CoreSdk;
use crate::status::{
    from_engine, status, ERR_BATCH_TOO_LARGE, ERR_MESSAGE_TOO_LARGE, ERR_QUERY_NOT_ALLOWED,
    ERR_TOKENS_NOT_CONFIGURED,
};
use crate::telemetry::{Call, CallFacts, DecisionFacts, Method, Recorder};
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

/// The service: the tenants, the per-client query lists and the limits.
#[derive(Clone)]
pub struct CoreSdkService {
    tenants: Arc<Tenants>,
    clients: Arc<ClientLists>,
    limits: Limits,
    telemetry: Option<Arc<Recorder>>,
}

/// The facts of a call being recorded, or nothing when telemetry is off.
type Facts<'a> = Option<&'a mut CallFacts>;

impl CoreSdkService {
    /// A service over `tenants`, holding clients to `clients`' query lists,
    /// recording telemetry into `telemetry`.
    pub fn new(
        tenants: Arc<Tenants>,
        clients: Arc<ClientLists>,
        limits: Limits,
        telemetry: Option<Arc<Recorder>>,
    ) -> Self {
        CoreSdkService {
            tenants,
            clients,
            limits,
            telemetry,
        }
    }

    /// The per-client lists this call's connection is held to (none when
    /// no list is configured, or the client presented no certificate).
    fn client_lists<'r, T>(&self, request: &'r Request<T>) -> &'r [usize] {
        if self.clients.is_empty() {
            return &[];
        }
        let Some(info) = request.extensions().get::<ConnInfo>() else {
            return &[];
        };
        info.client_lists.get_or_init(|| {
            info.peer_cert
                .as_ref()
                .map(|c| self.clients.for_certificate(c))
                .unwrap_or_default()
        })
    }

    /// Whether the tenant's list and the client's lists both let `query` run.
    fn permits(&self, tenant: &crate::tenants::Tenant, client: &[usize], query: &str) -> bool {
        tenant.queries.permits(&tenant.engine, query)
            && self.clients.permits(client, &tenant.engine, query)
    }

    fn begin<T>(&self, method: Method, request: &Request<T>) -> Option<Call> {
        self.telemetry.as_ref().map(|t| {
            let header = |name: &str| request.metadata().get(name).and_then(|v| v.to_str().ok());
            t.begin(method, header("traceparent"), header("tracestate"))
        })
    }

    fn finish<T>(&self, call: Option<Call>, out: &Result<Response<T>, Status>) {
        let (Some(t), Some(mut call)) = (&self.telemetry, call) else {
            return;
        };
        let code = match out {
            Ok(_) => 0,
            Err(s) => {
                call.facts.error_code = Some(
                    s.get_details_error_info()
                        .map_or(Cow::Borrowed("ERR_INTERNAL"), |i| Cow::Owned(i.reason)),
                );
                s.code() as i32
            }
        };
        t.finish(call, code);
    }

    /// Whether the decision log wants the input.
    fn log_input(&self) -> bool {
        self.telemetry
            .as_ref()
            .is_some_and(|t| t.decision_log() == DecisionLog::Input)
    }

    fn decided(
        &self,
        facts: &mut Facts<'_>,
        allowed: bool,
        reason: &'static str,
        query: &str,
        input: &str,
    ) {
        if let Some(f) = facts.as_deref_mut() {
            f.decisions.push(DecisionFacts {
                decision: if allowed { "allow" } else { "deny" },
                reason: Cow::Borrowed(reason),
                query: query.to_string(),
                input: self.log_input().then(|| input.to_string()),
            });
        }
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

    /// `PERMISSION_DENIED` `ERR_QUERY_NOT_ALLOWED` unless the tenant's
    /// clients may run `query` ([`crate::access`]).
    /// A malformed query (empty, too long, too deeply nested) is
    /// `ERR_QUERY_INVALID` first, whatever the allow-list says.
    fn check_query(
        &self,
        tenant: &crate::tenants::Tenant,
        client: &[usize],
        query: &str,
    ) -> Result<(), Status> {
        coresdk_engine::query::classify(query).map_err(|e| from_engine(&e))?;
        // Before a remote bundle is active there are no rules to compare
        // with: ERR_BUNDLE_NOT_ACTIVE, as the engine would answer.
        tenant.engine.check_active().map_err(|e| from_engine(&e))?;
        if self.permits(tenant, client, query) {
            return Ok(());
        }
        Err(status(
            Code::PermissionDenied,
            ERR_QUERY_NOT_ALLOWED,
            not_allowed(tenant, !client.is_empty(), query),
        ))
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
        let mut call = self.begin(Method::Authorize, &request);
        let client = self.client_lists(&request);
        let out = self.authorize_call(
            request.get_ref(),
            client,
            call.as_mut().map(|c| &mut c.facts),
        );
        self.finish(call, &out);
        out
    }

    async fn verify_token(
        &self,
        request: Request<pb::VerifyTokenRequest>,
    ) -> Result<Response<pb::VerifyTokenResponse>, Status> {
        let mut call = self.begin(Method::VerifyToken, &request);
        let out = self.verify_token_call(request.get_ref(), call.as_mut().map(|c| &mut c.facts));
        self.finish(call, &out);
        out
    }

    async fn evaluate_policy(
        &self,
        request: Request<pb::EvaluatePolicyRequest>,
    ) -> Result<Response<pb::EvaluatePolicyResponse>, Status> {
        let mut call = self.begin(Method::EvaluatePolicy, &request);
        let client = self.client_lists(&request);
        let out = self.evaluate_policy_call(
            request.get_ref(),
            client,
            call.as_mut().map(|c| &mut c.facts),
        );
        self.finish(call, &out);
        out
    }

    async fn evaluate_policies(
        &self,
        request: Request<pb::EvaluatePoliciesRequest>,
    ) -> Result<Response<pb::EvaluatePoliciesResponse>, Status> {
        let mut call = self.begin(Method::EvaluatePolicies, &request);
        let client = self.client_lists(&request);
        let out = self.evaluate_policies_call(
            request.get_ref(),
            client,
            call.as_mut().map(|c| &mut c.facts),
        );
        self.finish(call, &out);
        out
    }

    async fn mask_pii(
        &self,
        request: Request<pb::MaskPiiRequest>,
    ) -> Result<Response<pb::MaskPiiResponse>, Status> {
        let mut call = self.begin(Method::MaskPii, &request);
        let out = self.mask_pii_call(request.get_ref(), call.as_mut().map(|c| &mut c.facts));
        self.finish(call, &out);
        out
    }
}

impl CoreSdkService {
    fn authorize_call(
        &self,
        r: &pb::AuthorizeRequest,
        client: &[usize],
        mut facts: Facts<'_>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        if let Some(f) = facts.as_deref_mut() {
            f.tenant = Some(tenant.index);
        }
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
        self.check_query(tenant, client, query)?;
        let a = tenant.engine.authorize(&r.token, query, &r.input_json);
        if let Some(e) = &a.error {
            return Err(from_engine(e));
        }
        if let Some(f) = facts.as_deref_mut() {
            f.revision = a.decision.as_ref().map(|d| d.revision.clone());
        }
        self.decided(&mut facts, a.allowed, a.reason, query, &r.input_json);
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

    fn verify_token_call(
        &self,
        r: &pb::VerifyTokenRequest,
        mut facts: Facts<'_>,
    ) -> Result<Response<pb::VerifyTokenResponse>, Status> {
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        if let Some(f) = facts.as_deref_mut() {
            f.tenant = Some(tenant.index);
        }
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
        self.decided(&mut facts, true, "allowed", "", "");
        Ok(Response::new(pb::VerifyTokenResponse {
            claims_json: v.claims_json.to_string(),
            alg: v.alg.name().to_string(),
        }))
    }

    fn evaluate_policy_call(
        &self,
        r: &pb::EvaluatePolicyRequest,
        client: &[usize],
        mut facts: Facts<'_>,
    ) -> Result<Response<pb::EvaluatePolicyResponse>, Status> {
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        if let Some(f) = facts.as_deref_mut() {
            f.tenant = Some(tenant.index);
        }
        self.check_query(tenant, client, &r.query)?;
        let d = tenant
            .engine
            .evaluate_policy_json(&r.query, &r.input_json)
            .map_err(|e| from_engine(&e))?;
        if let Some(f) = facts.as_deref_mut() {
            f.revision = Some(d.revision.clone());
        }
        self.decided(
            &mut facts,
            d.is_true(),
            reason_of(&d),
            &r.query,
            &r.input_json,
        );
        Ok(Response::new(pb::EvaluatePolicyResponse {
            value_json: value_json(&d.value),
            defined: d.is_defined(),
            allowed: d.is_true(),
            revision: d.revision.to_string(),
        }))
    }

    fn evaluate_policies_call(
        &self,
        r: &pb::EvaluatePoliciesRequest,
        client: &[usize],
        mut facts: Facts<'_>,
    ) -> Result<Response<pb::EvaluatePoliciesResponse>, Status> {
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        if let Some(f) = facts.as_deref_mut() {
            f.tenant = Some(tenant.index);
        }
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
                // A malformed query, an inactive bundle, a query the
                // tenant's clients may not run: the item's error, and the
                // engine is not called.
                let refused = match coresdk_engine::query::classify(&item.query)
                    .and_then(|_| tenant.engine.check_active())
                {
                    Err(e) => Some((e.code(), e.to_string())),
                    Ok(()) if !self.permits(tenant, client, &item.query) => Some((
                        ERR_QUERY_NOT_ALLOWED,
                        not_allowed(tenant, !client.is_empty(), &item.query),
                    )),
                    Ok(()) => None,
                };
                if let Some((code, message)) = refused {
                    self.decided(&mut facts, false, code, &item.query, &item.input_json);
                    return pb::PolicyResult {
                        error_code: code.to_string(),
                        error_message: message,
                        ..Default::default()
                    };
                }
                match tenant
                    .engine
                    .evaluate_policy_json(&item.query, &item.input_json)
                {
                    Ok(d) => {
                        if revision.is_empty() {
                            revision = d.revision.to_string();
                        }
                        self.decided(
                            &mut facts,
                            d.is_true(),
                            reason_of(&d),
                            &item.query,
                            &item.input_json,
                        );
                        pb::PolicyResult {
                            value_json: value_json(&d.value),
                            defined: d.is_defined(),
                            allowed: d.is_true(),
                            error_code: String::new(),
                            error_message: String::new(),
                        }
                    }
                    Err(e) => {
                        self.decided(&mut facts, false, e.code(), &item.query, &item.input_json);
                        pb::PolicyResult {
                            error_code: e.code().to_string(),
                            error_message: e.to_string(),
                            ..Default::default()
                        }
                    }
                }
            })
            .collect();
        if revision.is_empty() {
            revision = tenant.engine.revision().to_string();
        }
        if let Some(f) = facts {
            f.revision = Some(revision.as_str().into());
        }
        Ok(Response::new(pb::EvaluatePoliciesResponse {
            results,
            revision,
        }))
    }

    fn mask_pii_call(
        &self,
        r: &pb::MaskPiiRequest,
        facts: Facts<'_>,
    ) -> Result<Response<pb::MaskPiiResponse>, Status> {
        self.check_size(r)?;
        let tenant = self.tenants.get(&r.tenant_id)?;
        let mut counts = coresdk_engine::pii::MaskCounts::new();
        let values = tenant.engine.mask_pii(&r.values, &mut counts);
        if let Some(f) = facts {
            f.tenant = Some(tenant.index);
            f.masked = Some(counts);
        }
        Ok(Response::new(pb::MaskPiiResponse { values }))
    }
}

/// Why a query was refused. Names the query only when it is a path into
/// `data` (a general query may carry values), and says the same whether
/// such a path is a base document or nothing at all.
fn not_allowed(tenant: &crate::tenants::Tenant, client_listed: bool, query: &str) -> String {
    if client_listed && tenant.queries.permits(&tenant.engine, query) {
        return "this client's certificate may not run this query: it is outside its [sidecar.clients] allowed_queries (docs/security.md)".to_string();
    }
    if tenant.queries.is_default() {
        let what = match coresdk_engine::query::data_path(query) {
            Some(p) if !p.is_empty() => format!("data.{} is not a rule of its bundle", p.join(".")),
            Some(_) => "data is not a rule of its bundle".to_string(),
            None => "general queries are off".to_string(),
        };
        format!(
            "tenant {}'s clients may not run this query: {what}; only rules (data.<package>.<rule>) and paths inside them are served by default, not packages, base documents or general queries; allowed_queries widens it (docs/security.md)",
            tenant.id
        )
    } else {
        format!(
            "tenant {}'s clients may not run this query: it is outside the tenant's allowed_queries (docs/security.md)",
            tenant.id
        )
    }
}

/// `allowed` (exactly `true`), `denied` (another value) or `undefined`.
fn reason_of(d: &coresdk_engine::Decision) -> &'static str {
    if d.is_true() {
        "allowed"
    } else if d.is_defined() {
        "denied"
    } else {
        "undefined"
    }
}
