//! Engine errors as gRPC statuses with structured details.
//!
//! Every status the handlers return carries one `google.rpc.ErrorInfo` in
//! `grpc-status-details-bin`: domain [`DOMAIN`], reason the engine's stable
//! error code. A client can therefore tell an answer from the sidecar (which
//! must never trigger a fail-open) from a transport failure (which has no
//! such detail). Messages never contain tokens, claims or input values.

use std::collections::HashMap;

use coresdk_engine::EngineError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every status the sidecar produces.
pub const DOMAIN: &str = "coresdk.dev";

/// Reason: the tenant id names no configured tenant.
pub const ERR_UNKNOWN_TENANT: &str = "ERR_UNKNOWN_TENANT";
/// Reason: the tenant id is not a valid id.
pub const ERR_TENANT_INVALID: &str = "ERR_TENANT_INVALID";
/// Reason: too many calls in flight.
pub const ERR_OVERLOADED: &str = "ERR_OVERLOADED";
/// Reason: the request message exceeds `max_message_bytes`.
pub const ERR_MESSAGE_TOO_LARGE: &str = "ERR_MESSAGE_TOO_LARGE";
/// Reason: an `EvaluatePolicies` call with more than `max_batch` items.
pub const ERR_BATCH_TOO_LARGE: &str = "ERR_BATCH_TOO_LARGE";
/// Reason: the query is outside what the tenant's clients may run
/// (`allowed_queries`, [`crate::access`]).
pub const ERR_QUERY_NOT_ALLOWED: &str = "ERR_QUERY_NOT_ALLOWED";
/// Reason: the tenant serves no tokens (no key source configured).
pub const ERR_TOKENS_NOT_CONFIGURED: &str = "ERR_TOKENS_NOT_CONFIGURED";

/// A status with an `ErrorInfo{reason, domain}` and optional metadata.
pub fn status(code: Code, reason: &str, message: impl Into<String>) -> Status {
    status_with(code, reason, message, HashMap::new())
}

/// [`status`] with `ErrorInfo.metadata`.
pub fn status_with(
    code: Code,
    reason: &str,
    message: impl Into<String>,
    metadata: HashMap<String, String>,
) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, DOMAIN, metadata),
    )
}

/// The gRPC code an engine error maps to (docs/proto.md has the table).
///
/// Token rejections are UNAUTHENTICATED; a key source that cannot be read is
/// FAILED_PRECONDITION, never UNAVAILABLE, because UNAVAILABLE means "the
/// sidecar could not be reached" to a client and may trigger its fail-open.
/// For the same reason an evaluation timeout is INTERNAL, not
/// DEADLINE_EXCEEDED.
pub fn code_for(e: &EngineError) -> Code {
    match e {
        EngineError::Token(t) => match t.code() {
            "ERR_JWKS_UNAVAILABLE" | "ERR_JWKS_INVALID" => Code::FailedPrecondition,
            _ => Code::Unauthenticated,
        },
        EngineError::Config { .. } => Code::FailedPrecondition,
        EngineError::QueryInvalid { .. }
        | EngineError::InputInvalid { .. }
        | EngineError::InputTooLarge { .. }
        | EngineError::InputTooDeep { .. } => Code::InvalidArgument,
        EngineError::UnknownRule { .. } => Code::NotFound,
        EngineError::Closed => Code::Unavailable,
        // Never UNAVAILABLE: clients would take it for an unreachable
        // sidecar and apply fail-open.
        EngineError::BundleNotActive { .. }
        | EngineError::BundleRefused { .. }
        | EngineError::BundleFetch { .. } => Code::FailedPrecondition,
        EngineError::PolicyLoad { .. }
        | EngineError::PolicyCompile { .. }
        | EngineError::EvalTimeout { .. }
        | EngineError::Eval { .. } => Code::Internal,
        _ => Code::Internal,
    }
}

/// An engine error as a status. Token rejections carry the RFC 6750 error
/// (`invalid_token`, `invalid_request`) as `rfc6750_error` metadata.
pub fn from_engine(e: &EngineError) -> Status {
    let mut metadata = HashMap::new();
    if let EngineError::Token(t) = e {
        if let Some(err) = t.rfc6750_error() {
            metadata.insert("rfc6750_error".to_string(), err.to_string());
        }
    }
    status_with(code_for(e), e.code(), e.to_string(), metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coresdk_engine::token::TokenError;

    #[test]
    fn token_errors_are_unauthenticated_with_details() {
        let s = from_engine(&EngineError::Token(TokenError::Expired));
        assert_eq!(s.code(), Code::Unauthenticated);
        let info = s.get_details_error_info().unwrap();
        assert_eq!(info.reason, "ERR_TOKEN_EXPIRED");
        assert_eq!(info.domain, DOMAIN);
        assert_eq!(info.metadata["rfc6750_error"], "invalid_token");
    }

    #[test]
    fn unavailable_keys_never_look_like_an_unreachable_sidecar() {
        let s = from_engine(&EngineError::Token(TokenError::KeysUnavailable {
            reason: "down".into(),
        }));
        assert_eq!(s.code(), Code::FailedPrecondition);
        let s = from_engine(&EngineError::BundleNotActive {
            message: "server down".into(),
        });
        assert_eq!(s.code(), Code::FailedPrecondition);
        let s = from_engine(&EngineError::EvalTimeout { limit_ms: 5 });
        assert_eq!(s.code(), Code::Internal);
    }

    /// The contract every language shares (proto/contract/errors.json)
    /// gives the gRPC status of each code: the engine's errors and the
    /// sidecar's own reasons must answer with it.
    #[test]
    fn statuses_follow_the_error_contract() {
        let contract: serde_json::Value =
            serde_json::from_str(include_str!("../../../proto/contract/errors.json")).unwrap();
        let grpc = |code: &str| -> Option<String> {
            let e = contract["errors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["code"] == code)
                .unwrap_or_else(|| panic!("{code} is not in the contract"));
            e["grpc"].as_str().map(str::to_string)
        };
        let name = |c: Code| -> String {
            match c {
                Code::InvalidArgument => "INVALID_ARGUMENT",
                Code::NotFound => "NOT_FOUND",
                Code::PermissionDenied => "PERMISSION_DENIED",
                Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
                Code::FailedPrecondition => "FAILED_PRECONDITION",
                Code::Unauthenticated => "UNAUTHENTICATED",
                Code::Internal => "INTERNAL",
                Code::Unavailable => "UNAVAILABLE",
                other => panic!("the sidecar does not answer with {other:?}"),
            }
            .to_string()
        };
        let m = || "m".to_string();
        let engine = [
            EngineError::Config {
                key: m(),
                message: m(),
            },
            EngineError::PolicyLoad {
                path: "p".into(),
                message: m(),
            },
            EngineError::PolicyCompile {
                location: None,
                message: m(),
            },
            EngineError::QueryInvalid { message: m() },
            EngineError::UnknownRule { path: m() },
            EngineError::InputInvalid { message: m() },
            EngineError::InputTooLarge { size: 2, limit: 1 },
            EngineError::InputTooDeep { limit: 1 },
            EngineError::EvalTimeout { limit_ms: 1 },
            EngineError::Eval { message: m() },
            EngineError::Closed,
            EngineError::BundleRefused { message: m() },
            EngineError::BundleFetch { message: m() },
            EngineError::BundleNotActive { message: m() },
            EngineError::Token(TokenError::Missing),
            EngineError::Token(TokenError::Malformed { reason: m() }),
            EngineError::Token(TokenError::Algorithm { reason: m() }),
            EngineError::Token(TokenError::UnknownKey),
            EngineError::Token(TokenError::Signature),
            EngineError::Token(TokenError::Expired),
            EngineError::Token(TokenError::NotYetValid),
            EngineError::Token(TokenError::Claim {
                claim: m(),
                reason: m(),
            }),
            EngineError::Token(TokenError::KeysUnavailable { reason: m() }),
            EngineError::Token(TokenError::KeySetInvalid { reason: m() }),
        ];
        for e in &engine {
            assert_eq!(Some(name(code_for(e))), grpc(e.code()), "{}", e.code());
        }
        // The sidecar's own reasons, with the codes their call sites use.
        for (reason, code) in [
            (ERR_UNKNOWN_TENANT, Code::NotFound),
            (ERR_TENANT_INVALID, Code::InvalidArgument),
            (ERR_OVERLOADED, Code::ResourceExhausted),
            (ERR_MESSAGE_TOO_LARGE, Code::ResourceExhausted),
            (ERR_BATCH_TOO_LARGE, Code::InvalidArgument),
            (ERR_QUERY_NOT_ALLOWED, Code::PermissionDenied),
            (ERR_TOKENS_NOT_CONFIGURED, Code::FailedPrecondition),
        ] {
            assert_eq!(Some(name(code)), grpc(reason), "{reason}");
        }
    }
}
