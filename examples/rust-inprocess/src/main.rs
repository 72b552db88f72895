//! An axum service that uses `coresdk-engine` in-process as its auth
//! middleware: every request's bearer token is verified and the route is
//! authorized by `data.authz.allow` in one `Engine::authorize` call.
//!
//! ```sh
//! cd examples/rust-inprocess
//! cargo run                       # dev mode: ../policies, a freshly generated key, prints a token
//! CORESDK_POLICY_DIR=../policies CORESDK_OIDC_ISSUER=https://idp.example CORESDK_AUDIENCE=api cargo run
//! ```
//!
//! Then:
//!
//! ```sh
//! curl -i http://127.0.0.1:3000/documents/doc-1 -H "Authorization: Bearer $TOKEN"   # 200
//! curl -i http://127.0.0.1:3000/documents/doc-1 -H "Authorization: Bearer nope"     # 401 invalid_token
//! curl -i http://127.0.0.1:3000/documents/doc-1                                     # 401, challenge only
//! ```
//!
//! `CORESDK_LISTEN` sets the address (default `127.0.0.1:3000`).

mod dev;

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use coresdk_engine::token::VerifiedToken;
use coresdk_engine::{Engine, EngineConfig, SdkConfig};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // coresdk.toml / CORESDK_*; the example bundle and a dev key when they name none.
    let sdk = SdkConfig::from_env()?;
    let mut config = match sdk.engine_config() {
        Ok(cfg) => cfg,
        Err(_) => {
            let mut cfg = EngineConfig::for_dir(here.join("../policies"));
            cfg.token = sdk.token.clone();
            cfg
        }
    };
    if config.token.is_none() {
        let (token_cfg, sample) = dev::dev_keys()?;
        config.token = Some(token_cfg);
        println!("dev mode: no key source configured; generated an ES256 key for this run.");
        println!("a token for alice (role editor), valid 1 hour:\n\n  TOKEN={sample}\n");
    }
    let engine = Arc::new(Engine::new(config)?);

    let app = Router::new()
        .route("/documents/{id}", get(read_document).put(write_document))
        .route("/invoices/{id}", get(read_invoice))
        .layer(middleware::from_fn_with_state(engine.clone(), authorize))
        .route("/healthz", get(|| async { "ok" }));

    let addr = std::env::var("CORESDK_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The auth middleware: bearer token -> `Engine::authorize` -> claims on the request.
async fn authorize(State(engine): State<Arc<Engine>>, mut req: Request, next: Next) -> Response {
    let token = match bearer(&req) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    let mut parts = req.uri().path().trim_start_matches('/').splitn(2, '/');
    let resource_type = match parts.next().unwrap_or_default() {
        "documents" => "document",
        "invoices" => "invoice",
        other => other,
    };
    let input = json!({
        "action": if req.method() == Method::GET { "read" } else { "write" },
        "resource": { "type": resource_type, "id": parts.next().unwrap_or_default() },
    });
    let engine2 = engine.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        engine2.authorize(&token, "data.authz.allow", &input.to_string())
    })
    .await;
    let Ok(outcome) = outcome else {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error", None);
    };
    if outcome.allowed {
        if let Some(claims) = outcome.claims {
            req.extensions_mut().insert(claims);
        }
        return next.run(req).await;
    }
    match outcome.token_error() {
        Some(e) if e.is_rejection() => {
            problem(StatusCode::UNAUTHORIZED, &e.to_string(), e.rfc6750_error())
        }
        Some(e) => problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), None),
        None => problem(
            StatusCode::FORBIDDEN,
            &format!("denied by policy ({})", outcome.reason),
            None,
        ),
    }
}

/// Exactly one `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(req: &Request) -> Result<String, Box<Response>> {
    let mut values = req.headers().get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            "bearer token required",
            None,
        )));
    };
    let text = value.to_str().unwrap_or_default();
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_string())
        }
        _ => Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "malformed Authorization header",
            Some("invalid_request"),
        ))),
    }
}

/// An RFC 9457 problem response; 401s carry an RFC 6750 challenge.
fn problem(status: StatusCode, detail: &str, bearer_error: Option<&str>) -> Response {
    let body = json!({
        "type": format!("https://coresdk.dev/problems/{}", status.as_u16()),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::UNAUTHORIZED || bearer_error == Some("invalid_request") {
        let challenge = match bearer_error {
            Some(e) => format!("Bearer error=\"{e}\""),
            None => "Bearer".to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

async fn read_document(
    Path(id): Path<String>,
    Extension(token): Extension<VerifiedToken>,
) -> Json<serde_json::Value> {
    Json(json!({ "document": id, "read_by": token.claims.get("sub") }))
}

async fn write_document(
    Path(id): Path<String>,
    Extension(token): Extension<VerifiedToken>,
) -> Json<serde_json::Value> {
    Json(json!({ "document": id, "written_by": token.claims.get("sub") }))
}

async fn read_invoice(
    Path(id): Path<String>,
    Extension(token): Extension<VerifiedToken>,
) -> Json<serde_json::Value> {
    Json(json!({ "invoice": id, "read_by": token.claims.get("sub") }))
}
