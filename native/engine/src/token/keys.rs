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
}

impl StaticKeys {
    /// Parses a JWKS document.
    pub fn from_jwks(text: &str, allowed: &[Alg]) -> Result<Self, TokenError> {
        Ok(StaticKeys {
            keys: Arc::new(KeySet::from_jwks(text, allowed)?),
        })
    }

    /// Reads and parses a JWKS file.
    pub fn from_file(path: &std::path::Path, allowed: &[Alg]) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenError::KeysUnavailable {
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        Self::from_jwks(&text, allowed)
    }
}

impl KeyProvider for StaticKeys {
    fn current(&self) -> Result<Arc<KeySet>, TokenError> {
        Ok(self.keys.clone())
    }
}
