//! Transport errors as RFC 9457 problem details, with stable codes.
//!
//! The body is `application/problem+json`: `type`
//! (`urn:coresdk:error:<CODE>`), `title`, `status`, `detail` (the short
//! message the AuthZEN specification asks for) and `code`. Messages name
//! members and limits, never values from the request or secrets.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The codes of the AuthZEN API's request errors and their HTTP statuses,
/// generated from the error contract (`proto/contract/errors.json`).
#[path = "../generated/authzen_errors.rs"]
mod codes;
pub use codes::*;

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

    /// A problem with `code`, answered with the HTTP status the error
    /// contract gives it (500 for a code it does not list).
    pub fn of(code: &'static str, detail: impl Into<String>) -> Self {
        let status = codes::STATUS
            .iter()
            .find(|(c, _)| *c == code)
            .and_then(|(_, s)| StatusCode::from_u16(*s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Problem::new(status, code, detail)
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::of(ERR_BAD_REQUEST, detail)
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
