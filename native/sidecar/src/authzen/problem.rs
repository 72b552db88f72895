//! Transport errors as RFC 9457 problem details, with stable codes.
//!
//! The body is `application/problem+json`: `type`
//! (`urn:coresdk:error:<CODE>`), `title`, `status`, `detail` (the short
//! message the AuthZEN specification asks for) and `code`. Messages name
//! members and limits, never values from the request or secrets.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The body is not JSON, not an object, or breaks the information model.
pub const ERR_BAD_REQUEST: &str = "ERR_BAD_REQUEST";
/// The request has no usable credentials (API key or client certificate).
pub const ERR_UNAUTHENTICATED: &str = "ERR_UNAUTHENTICATED";
/// The credentials are valid but not for this tenant or client name.
pub const ERR_FORBIDDEN: &str = "ERR_FORBIDDEN";
/// No such endpoint (or one that is not configured).
pub const ERR_NOT_FOUND: &str = "ERR_NOT_FOUND";
/// The endpoint does not answer this method.
pub const ERR_METHOD_NOT_ALLOWED: &str = "ERR_METHOD_NOT_ALLOWED";
/// `Content-Type` is not `application/json`.
pub const ERR_UNSUPPORTED_MEDIA_TYPE: &str = "ERR_UNSUPPORTED_MEDIA_TYPE";
/// The body is over `max_body_bytes`.
pub const ERR_BODY_TOO_LARGE: &str = "ERR_BODY_TOO_LARGE";
/// More evaluations than `max_evaluations`.
pub const ERR_BATCH_TOO_LARGE: &str = crate::status::ERR_BATCH_TOO_LARGE;
/// `max_concurrent_calls` calls are in flight.
pub const ERR_OVERLOADED: &str = crate::status::ERR_OVERLOADED;
/// The sidecar is draining.
pub const ERR_UNAVAILABLE: &str = "ERR_UNAVAILABLE";

/// The response body type of the AuthZEN listener.
pub type Body = Full<Bytes>;

/// A transport error: status, stable code, short message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code.
    pub code: &'static str,
    /// A short message.
    pub detail: String,
}

impl Problem {
    /// A problem with `status`, `code` and `detail`.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, ERR_BAD_REQUEST, detail)
    }

    /// The response: problem JSON, plus `WWW-Authenticate` on a 401.
    pub fn response(&self) -> Response<Body> {
        let body = serde_json::json!({
            "type": format!("urn:coresdk:error:{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
        *r.status_mut() = self.status;
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"coresdk-authzen\""),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

/// A 200 `application/json` response with `body`.
pub fn json_response(body: &serde_json::Value) -> Response<Body> {
    json_text_response(body.to_string())
}

/// A 200 `application/json` response with already serialized `text`.
pub fn json_text_response(text: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
