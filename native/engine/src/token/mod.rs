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
pub mod fetch;
mod jwk;
mod keys;
pub mod offline;
mod remote;
mod verifier;

pub use alg::{Alg, KeyKind, ALL_ALGS};
pub use error::TokenError;
pub(crate) use jwk::rsa_key_problem;
pub use jwk::{KeySet, VerifyKey, MAX_JWKS_BYTES};
pub use keys::{KeyProvider, KeySourceConfig, KeyStatus, StaticKeys};
pub use remote::{epoch_ms, RemoteKeys, RemoteKeysConfig, RemoteSource};
pub use verifier::{
    VerifiedToken, Verifier, VerifierConfig, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES,
    DEFAULT_TOKEN_CACHE_ENTRIES, MAX_LEEWAY,
};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything token verification needs: where keys come from, how tokens
/// are checked, how keys are fetched and cached.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The key source.
    pub keys: KeySourceConfig,
    /// The checks.
    pub verifier: VerifierConfig,
    /// HTTP settings for remote sources.
    pub fetch: fetch::FetchConfig,
    /// Shortest refresh interval of a remote set.
    pub refresh_min: Duration,
    /// Longest refresh interval of a remote set.
    pub refresh_max: Duration,
    /// Least time between unknown-`kid` refetches.
    pub unknown_kid_cooldown: Duration,
    /// How long the last good remote set serves while unreachable.
    pub stale_max: Duration,
    /// Offline cache directory.
    pub offline_cache_dir: Option<PathBuf>,
    /// Offline cache HMAC key (at least 32 bytes).
    pub offline_cache_key: Option<Vec<u8>>,
}

impl TokenConfig {
    /// Defaults for a key source.
    pub fn new(keys: KeySourceConfig) -> Self {
        let remote = RemoteKeysConfig::new(RemoteSource::JwksUrl(String::new()));
        TokenConfig {
            keys,
            verifier: VerifierConfig::default(),
            fetch: fetch::FetchConfig::default(),
            refresh_min: remote.refresh_min,
            refresh_max: remote.refresh_max,
            unknown_kid_cooldown: remote.unknown_kid_cooldown,
            stale_max: remote.stale_max,
            offline_cache_dir: None,
            offline_cache_key: None,
        }
    }

    /// Builds the verifier and its key provider (starting the refresher of a
    /// remote source).
    pub fn build(&self) -> Result<Verifier, TokenError> {
        let algs = &self.verifier.algorithms;
        if algs.is_empty() {
            return Err(TokenError::KeySetInvalid {
                reason: "the algorithm allow-list is empty".into(),
            });
        }
        let provider: Arc<dyn KeyProvider> = match &self.keys {
            KeySourceConfig::Inline(text) => Arc::new(StaticKeys::from_jwks(text, algs)?),
            KeySourceConfig::File(path) => Arc::new(StaticKeys::from_file(path, algs)?),
            KeySourceConfig::Url(url) => Arc::new(self.remote(RemoteSource::JwksUrl(url.clone()))?),
            KeySourceConfig::Issuer(issuer) => {
                Arc::new(self.remote(RemoteSource::Issuer(issuer.clone()))?)
            }
        };
        Ok(Verifier::new(self.verifier.clone(), provider))
    }

    fn remote(&self, source: RemoteSource) -> Result<RemoteKeys, TokenError> {
        let cfg = RemoteKeysConfig {
            source,
            fetch: self.fetch.clone(),
            algorithms: self.verifier.algorithms.clone(),
            refresh_min: self.refresh_min,
            refresh_max: self.refresh_max.max(self.refresh_min),
            unknown_kid_cooldown: self.unknown_kid_cooldown,
            stale_max: self.stale_max,
        };
        let offline = match (&self.offline_cache_dir, &self.offline_cache_key) {
            (Some(dir), Some(key)) => {
                offline::OfflineCache::new(dir, key).map_err(|e| e.to_string())
            }
            (Some(_), None) => Err("no HMAC key configured (offline_cache_key)".to_string()),
            (None, _) => Err("no offline_cache_dir configured".to_string()),
        };
        RemoteKeys::start(cfg, offline)
    }
}
