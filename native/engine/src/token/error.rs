//! Token verification errors, with stable codes shared with TypeScript and
//! their RFC 6750 `error` values.
//!
//! No message ever contains the token, a claim value, or a `kid` (all are
//! attacker-controlled text that would end up in logs).

/// Why a token was rejected, or why it could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No token was given.
    #[error("no bearer token")]
    Missing,
    /// Not a compact JWS of acceptable shape, size or encoding.
    #[error("malformed token: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The `alg` is not allowed (including `none` and HMAC algorithms).
    #[error("token algorithm not allowed: {reason}")]
    Algorithm {
        /// What is wrong.
        reason: String,
    },
    /// No key in the key set matches the token's `kid` and `alg`.
    #[error("no key in the key set matches the token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    Signature,
    /// `exp` is past (beyond the clock tolerance).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock tolerance).
    #[error("token not yet valid")]
    NotYetValid,
    /// A claim is missing, has the wrong type, or the wrong value.
    #[error("token claim rejected: {claim}: {reason}")]
    Claim {
        /// The claim name (`iss`, `aud`, `typ`, ...).
        claim: String,
        /// What is wrong.
        reason: String,
    },
    /// The key set could not be obtained and no usable copy is held.
    #[error("signing keys unavailable: {reason}")]
    KeysUnavailable {
        /// Why (fetch error, tampered offline cache, ...).
        reason: String,
    },
    /// A key set was obtained but is unusable (bad JSON, private keys, ...).
    #[error("invalid key set: {reason}")]
    KeySetInvalid {
        /// Why.
        reason: String,
    },
}

impl TokenError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Missing => "ERR_TOKEN_MISSING",
            TokenError::Malformed { .. } => "ERR_TOKEN_MALFORMED",
            TokenError::Algorithm { .. } => "ERR_TOKEN_ALGORITHM",
            TokenError::UnknownKey => "ERR_TOKEN_UNKNOWN_KEY",
            TokenError::Signature => "ERR_TOKEN_SIGNATURE",
            TokenError::Expired => "ERR_TOKEN_EXPIRED",
            TokenError::NotYetValid => "ERR_TOKEN_NOT_YET_VALID",
            TokenError::Claim { .. } => "ERR_TOKEN_CLAIM",
            TokenError::KeysUnavailable { .. } => "ERR_JWKS_UNAVAILABLE",
            TokenError::KeySetInvalid { .. } => "ERR_JWKS_INVALID",
        }
    }

    /// The RFC 6750 §3.1 `error` value for a `WWW-Authenticate: Bearer`
    /// challenge, or `None` when the failure is the server's (the key set is
    /// unavailable or invalid: answer 503, not 401) or when no credentials
    /// were sent (a challenge without an error code).
    pub fn rfc6750_error(&self) -> Option<&'static str> {
        match self {
            TokenError::Missing
            | TokenError::KeysUnavailable { .. }
            | TokenError::KeySetInvalid { .. } => None,
            _ => Some("invalid_token"),
        }
    }

    /// Whether the token itself was rejected (as opposed to the server being
    /// unable to check it). A rejected token is never let through by any
    /// fail mode.
    pub fn is_rejection(&self) -> bool {
        !matches!(
            self,
            TokenError::KeysUnavailable { .. } | TokenError::KeySetInvalid { .. }
        )
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        TokenError::Malformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn claim(claim: &str, reason: impl Into<String>) -> Self {
        TokenError::Claim {
            claim: claim.to_string(),
            reason: reason.into(),
        }
    }
}
