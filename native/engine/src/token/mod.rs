//! Token verification: JWT (compact JWS) against JWKS key sets, hardened
//! per RFC 8725.
//!
//! One verifier serves every path (Rust services, the Node addon, the
//! sidecar), so a token gets the same verdict everywhere. The order of
//! checks is fixed: size and alphabet, segments, header (`alg` allow-list,
//! `crit`, `kid` type, `typ` pin), key lookup, **signature**, and only then
//! the claims (`exp`, `nbf`, `iat`, `iss`, `aud`, required claims). See
//! docs/security.md for every check and the test that proves it.

mod alg;
mod compact;
mod error;
mod jwk;
mod keys;
mod verifier;

pub use alg::{Alg, KeyKind, ALL_ALGS};
pub use error::TokenError;
pub use jwk::{KeySet, VerifyKey, MAX_JWKS_BYTES};
pub use keys::{KeyProvider, KeySourceConfig, StaticKeys};
pub use verifier::{
    VerifiedToken, Verifier, VerifierConfig, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES,
    DEFAULT_TOKEN_CACHE_ENTRIES, MAX_LEEWAY,
};
