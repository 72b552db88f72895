//! Key providers: where the verifier's key set comes from.

use std::path::PathBuf;
use std::sync::Arc;

use super::alg::Alg;
use super::error::TokenError;
use super::jwk::KeySet;

/// A source of the current key set.
///
/// Implementations keep a parsed [`KeySet`] and hand out `Arc`s to it: keys
/// are parsed once per key-set revision, never per verification.
pub trait KeyProvider: Send + Sync {
    /// The key set to verify with now.
    fn current(&self) -> Result<Arc<KeySet>, TokenError>;

    /// Called when a token names a `kid` the current set lacks. A provider
    /// that can refetch does so (rate-limited) and returns the new set.
    fn refresh_for_unknown_kid(&self) -> Option<Arc<KeySet>> {
        None
    }

    /// Where the keys come from and how they are doing.
    fn status(&self) -> KeyStatus;
}

/// A key provider's state, for health checks and operators (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// The source (`inline`, `file <path>`, `jwks_url <url>`, `oidc_issuer <url>`).
    pub source: String,
    /// Usable keys held.
    pub keys: usize,
    /// When the held set was fetched (or written to the offline cache).
    pub fetched_at: Option<std::time::SystemTime>,
    /// Whether the held set came from the offline cache.
    pub from_offline_cache: bool,
    /// The last problem (fetch failure, rejected offline cache), if any.
    pub last_error: Option<String>,
    /// `enabled`, or `disabled: <why>`.
    pub offline_cache: String,
    /// Times the offline cache was rejected whole (tampering, wrong key).
    pub offline_cache_rejections: u64,
    /// Key-set fetches that succeeded since start (the initial fetch
    /// included). Always 0 for static keys. Exported as
    /// `coresdk.jwks.refreshes{outcome="success"}`.
    pub refreshes_ok: u64,
    /// Key-set fetches that failed since start.
    pub refreshes_failed: u64,
}

/// Where keys come from, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySourceConfig {
    /// A JWKS document given inline.
    Inline(String),
    /// A JWKS file, read at start and on [`crate::Engine::reload`].
    File(PathBuf),
    /// A JWKS URL, fetched over HTTPS.
    Url(String),
    /// An OIDC issuer: its discovery document names the JWKS URL.
    Issuer(String),
}

/// A key set fixed at construction (inline or file).
pub struct StaticKeys {
    keys: Arc<KeySet>,
    source: String,
}

impl StaticKeys {
    /// Parses a JWKS document.
    pub fn from_jwks(text: &str, allowed: &[Alg]) -> Result<Self, TokenError> {
        let keys = KeySet::from_jwks(text, allowed)?;
        if keys.is_empty() {
            // A configuration error, not a token's fault: say so at start.
            return Err(TokenError::KeySetInvalid {
                reason: format!("no usable key ({})", keys.skipped.join("; ")),
            });
        }
        Ok(StaticKeys {
            keys: Arc::new(keys),
            source: "inline".into(),
        })
    }

    /// Reads and parses a JWKS file.
    pub fn from_file(path: &std::path::Path, allowed: &[Alg]) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenError::KeysUnavailable {
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        let mut keys = Self::from_jwks(&text, allowed)?;
        keys.source = format!("file {}", path.display());
        Ok(keys)
    }
}

impl KeyProvider for StaticKeys {
    fn current(&self) -> Result<Arc<KeySet>, TokenError> {
        Ok(self.keys.clone())
    }

    fn status(&self) -> KeyStatus {
        KeyStatus {
            source: self.source.clone(),
            keys: self.keys.len(),
            fetched_at: None,
            from_offline_cache: false,
            last_error: None,
            offline_cache: "not used for static keys".into(),
            offline_cache_rejections: 0,
            refreshes_ok: 0,
            refreshes_failed: 0,
        }
    }
}
