//! The HTTP side of the AuthZEN listener: routing, client authentication,
//! admission, `Content-Type`, body limits, JSON, `X-Request-ID`, telemetry.
//!
//! Every request gets an answer: a Decision, a search page, the metadata,
//! or a problem (RFC 9457) with a stable code. `X-Request-ID` is echoed on
//! all of them. Decisions are made inline on the runtime's worker, like the
//! gRPC handlers: no JavaScript and no logging per request.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method as HttpMethod, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use super::auth::Peer;
use super::config::Settings;
use super::evaluate::{Outcome, Policy};
use super::problem::{
    json_response, json_text_response, Body, Problem, ERR_BATCH_TOO_LARGE, ERR_BODY_TOO_LARGE,
    ERR_METHOD_NOT_ALLOWED, ERR_NOT_FOUND, ERR_OVERLOADED, ERR_UNSUPPORTED_MEDIA_TYPE,
};
use super::request::{self, Kind};
use super::{search, wellknown};
use crate::admission::Gate;
use crate::events::{Event, EventSink, Level, Throttle};
use crate::telemetry::{CallFacts, DecisionFacts, Method, Recorder};
use crate::tenants::{Tenant, Tenants};
use coresdk_engine::DecisionLog;

/// The well-known metadata path.
pub const WELL_KNOWN: &str = "/.well-known/authzen-configuration";

/// What the listener serves with: settings, tenants, the shared admission
/// gate and the telemetry recorder.
pub struct App {
    /// The checked settings.
    pub settings: Settings,
    /// Every tenant.
    pub tenants: Arc<Tenants>,
    /// The data plane's admission gate (shared with gRPC).
    pub gate: Arc<Gate>,
    /// Telemetry, when on.
    pub recorder: Option<Arc<Recorder>>,
    /// `https` or `http` (insecure-dev), for the PDP identifier.
    pub scheme: &'static str,
    /// Where lifecycle events and operator warnings go.
    pub events: EventSink,
    /// At most one search-rule warning a minute.
    pub search_warnings: Throttle,
}

/// An access endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Evaluation,
    Evaluations,
    Search(Kind),
}

impl Endpoint {
    fn method(self) -> Method {
        match self {
            Endpoint::Evaluation => Method::AuthzenEvaluation,
            Endpoint::Evaluations => Method::AuthzenEvaluations,
            Endpoint::Search(Kind::Subject) => Method::AuthzenSearchSubject,
            Endpoint::Search(Kind::Resource) => Method::AuthzenSearchResource,
            Endpoint::Search(Kind::Action) => Method::AuthzenSearchAction,
        }
    }
}

impl App {
    /// Tells the operator, at most once a minute, that a search rule returned
    /// items that are not entities or failed: either is a policy bug that
    /// would otherwise look like an empty result.
    fn report_search(&self, tenant: &str, query: &str, o: &search::Outcome) {
        if o.malformed == 0 && o.error.is_none() {
            return;
        }
        let Some(held) = self.search_warnings.admit() else {
            return;
        };
        let msg = match o.error {
            Some(code) => format!(
                "AuthZEN search rule {query} failed ({code}) for tenant {tenant}: answered with empty results"
            ),
            None => format!(
                "AuthZEN search rule {query} returned {} item(s) that are not entities for tenant {tenant} (an entity is {{\"type\": string, \"id\": string}}, an action {{\"name\": string}}): dropped",
                o.malformed
            ),
        };
        (self.events)(
            Event::new(Level::Warn, "authzen_search_rule", msg)
                .with("tenant", tenant)
                .with("query", query)
                .with("malformed", o.malformed as u64)
                .with("error", o.error)
                .with("suppressed", held),
        );
    }

    /// Answers one request. Never fails: errors are problem responses.
    pub async fn handle(
        self: Arc<Self>,
        peer: Arc<Peer>,
        req: Request<Incoming>,
    ) -> Response<Body> {
        let request_id = req.headers().get("x-request-id").cloned();
        let mut res = self.route(&peer, req).await;
        if let Some(id) = request_id {
            res.headers_mut().insert("x-request-id", id);
        }
        res
    }

    async fn route(&self, peer: &Peer, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        if let Some(rest) = path.strip_prefix(WELL_KNOWN) {
            if rest.is_empty() || rest.starts_with('/') {
                return self.well_known(&req, rest);
            }
        }
        let (prefix_tenant, rest) = self.settings.route(&path);
        let s = &self.settings.search;
        let endpoint = match rest {
            "/access/v1/evaluation" => Endpoint::Evaluation,
            "/access/v1/evaluations" => Endpoint::Evaluations,
            "/access/v1/search/subject" if s.subject.is_some() => Endpoint::Search(Kind::Subject),
            "/access/v1/search/resource" if s.resource.is_some() => {
                Endpoint::Search(Kind::Resource)
            }
            "/access/v1/search/action" if s.action.is_some() => Endpoint::Search(Kind::Action),
            _ => {
                return Problem::of(
                    ERR_NOT_FOUND,
                    "no such endpoint (see /.well-known/authzen-configuration)",
                )
                .response()
            }
        };
        if req.method() != HttpMethod::POST {
            let mut r = Problem::of(ERR_METHOD_NOT_ALLOWED, "use POST").response();
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        let tenant = match prefix_tenant {
            Some(id) => match self.tenants.get(id) {
                Ok(t) => t.clone(),
                Err(_) => return Problem::of(ERR_NOT_FOUND, "unknown tenant").response(),
            },
            None => self.tenants.default_tenant().clone(),
        };
        let mut call = self.recorder.as_ref().map(|r| {
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
            let mut c = r.begin(
                endpoint.method(),
                header("traceparent"),
                header("tracestate"),
            );
            c.facts.tenant = Some(tenant.index);
            c
        });
        let out = self
            .answer(
                peer,
                req,
                endpoint,
                &tenant,
                call.as_mut().map(|c| &mut c.facts),
            )
            .await;
        let res = match out {
            Ok(r) => r,
            Err(p) => {
                if let Some(c) = call.as_mut() {
                    c.facts.error_code = Some(Cow::Borrowed(p.code));
                }
                p.response()
            }
        };
        if let (Some(r), Some(c)) = (&self.recorder, call) {
            r.finish(c, i32::from(res.status().as_u16()));
        }
        res
    }

    async fn answer(
        &self,
        peer: &Peer,
        req: Request<Incoming>,
        endpoint: Endpoint,
        tenant: &Arc<Tenant>,
        mut facts: Option<&mut CallFacts>,
    ) -> Result<Response<Body>, Problem> {
        self.settings.auth.check(peer, req.headers(), &tenant.id)?;
        let _permit = self.gate.try_admit().ok_or_else(|| {
            Problem::of(
                ERR_OVERLOADED,
                format!(
                    "{} calls in flight (sidecar.max_concurrent_calls); retry with backoff",
                    self.gate.max()
                ),
            )
        })?;
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json_type {
            return Err(Problem::of(
                ERR_UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            ));
        }
        let body = self.read_body(req).await?;
        let Value::Object(body) = serde_json::from_slice::<Value>(&body).map_err(|e| {
            Problem::bad_request(format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?
        else {
            return Err(Problem::bad_request("the body must be a JSON object"));
        };
        let policy = Policy {
            engine: &tenant.engine,
            decision_query: &self.settings.decision_query,
            context_query: self.settings.context_query.as_deref(),
            expose_reasons: self.settings.expose_reasons,
        };
        let log_input = self
            .recorder
            .as_ref()
            .is_some_and(|r| r.decision_log() == DecisionLog::Input);
        let query = self.settings.decision_query.as_str();
        let mut seen = |o: &Outcome, input: &Value| {
            if let Some(f) = facts.as_deref_mut() {
                if f.revision.is_none() {
                    f.revision.clone_from(&o.revision);
                }
                f.decisions.push(DecisionFacts {
                    decision: if o.decision { "allow" } else { "deny" },
                    reason: o.reason.clone(),
                    query: query.to_string(),
                    input: (log_input && !input.is_null()).then(|| input.to_string()),
                });
            }
        };
        let res = match endpoint {
            Endpoint::Evaluation => {
                let e = request::evaluation(&body).map_err(Problem::bad_request)?;
                json_response(&policy.decide_evaluation(e, &mut seen).to_json())
            }
            Endpoint::Evaluations => {
                let b = request::batch(&body).map_err(Problem::bad_request)?;
                if let request::Batch::Many { items, .. } = &b {
                    if items.len() > self.settings.max_evaluations {
                        return Err(Problem::of(ERR_BATCH_TOO_LARGE,
                            format!(
                                "{} evaluations; at most {} per request (sidecar.authzen.max_evaluations)",
                                items.len(),
                                self.settings.max_evaluations
                            ),
                        ));
                    }
                }
                json_response(&policy.decide_batch(b, &mut seen))
            }
            Endpoint::Search(kind) => {
                let s = search::parse(&body, kind)?;
                let q = match kind {
                    Kind::Subject => &self.settings.search.subject,
                    Kind::Resource => &self.settings.search.resource,
                    Kind::Action => &self.settings.search.action,
                };
                let q = q.as_deref().unwrap_or_default();
                let outcome = search::run(&policy, q, &s, self.settings.search_page_size)?;
                self.report_search(&tenant.id, q, &outcome);
                let (text, count) = (outcome.body, outcome.count);
                if let Some(f) = facts {
                    f.revision = Some(tenant.engine.revision());
                    f.decisions.push(DecisionFacts {
                        decision: if count > 0 { "allow" } else { "deny" },
                        reason: Cow::Borrowed(if count > 0 { "allowed" } else { "undefined" }),
                        query: q.to_string(),
                        input: log_input.then(|| s.input.to_string()),
                    });
                }
                json_text_response(text)
            }
        };
        Ok(res)
    }

    async fn read_body(&self, req: Request<Incoming>) -> Result<Bytes, Problem> {
        let max = self.settings.max_body_bytes;
        let too_large = || {
            Problem::of(
                ERR_BODY_TOO_LARGE,
                format!("the body is over {max} bytes (sidecar.authzen.max_body_bytes)"),
            )
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        match Limited::new(req.into_body(), max).collect().await {
            Ok(b) => Ok(b.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(_) => Err(Problem::bad_request("the body could not be read")),
        }
    }

    fn well_known(&self, req: &Request<Incoming>, rest: &str) -> Response<Body> {
        if req.method() != HttpMethod::GET && req.method() != HttpMethod::HEAD {
            let mut r = Problem::of(ERR_METHOD_NOT_ALLOWED, "use GET").response();
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let Some(prefix) = self.settings.well_known_prefix(rest) else {
            return Problem::of(ERR_NOT_FOUND, "no such tenant").response();
        };
        let base =
            match &self.settings.public_url {
                Some(u) => u.clone(),
                None => {
                    let host = req
                        .uri()
                        .authority()
                        .map(|a| a.as_str().to_string())
                        .or_else(|| {
                            req.headers()
                                .get(header::HOST)
                                .and_then(|h| h.to_str().ok())
                                .map(str::to_string)
                        });
                    match host {
                        Some(h) if !h.is_empty() && !h.contains(['/', '?', '#', '@', ' ']) => {
                            format!("{}://{h}", self.scheme)
                        }
                        _ => return Problem::bad_request(
                            "a Host header is required (or configure sidecar.authzen.public_url)",
                        )
                        .response(),
                    }
                }
            };
        let pdp = match prefix {
            Some((p, _)) => format!("{base}{p}"),
            None => base,
        };
        let mut r = json_response(&wellknown::metadata(&pdp, &self.settings.search));
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=300"),
        );
        r
    }
}
