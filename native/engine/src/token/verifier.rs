//! The verifier: one path for every token, in every runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::alg::{Alg, ALL_ALGS};
use super::compact;
use super::error::TokenError;
use super::jwk::KeySet;
use super::keys::KeyProvider;

/// Default token size cap (RFC 8725 §3.x: bound work before decoding).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Default clock tolerance.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Largest clock tolerance accepted in configuration.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Default capacity of the verified-token cache.
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = 4096;

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Allowed algorithms (default: all nine asymmetric ones).
    pub algorithms: Vec<Alg>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Accepted audiences; when non-empty, the token's `aud` must name one.
    pub audiences: Vec<String>,
    /// Clock tolerance for `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Claims that must be present (default: `exp`).
    pub required_claims: Vec<String>,
    /// Required `typ` header (e.g. `at+jwt`), compared case-insensitively
    /// with an optional `application/` prefix (RFC 8725 §3.11).
    pub typ: Option<String>,
    /// Token size cap in bytes.
    pub max_token_bytes: usize,
    /// Verified-token cache capacity; 0 disables it.
    pub token_cache_entries: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            algorithms: ALL_ALGS.to_vec(),
            issuer: None,
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            required_claims: vec!["exp".to_string()],
            typ: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            token_cache_entries: DEFAULT_TOKEN_CACHE_ENTRIES,
        }
    }
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The claims (the JWT payload).
    pub claims: Arc<serde_json::Map<String, serde_json::Value>>,
    /// The claims as JSON text, for handing to a policy without re-encoding.
    pub claims_json: Arc<str>,
    /// The algorithm that signed it.
    pub alg: Alg,
    /// SHA-256 of the whole token: a compact identity for caches keyed by
    /// the token (never the signature alone).
    pub digest: [u8; 32],
}

struct CachedToken {
    keys: Arc<KeySet>,
    verified: VerifiedToken,
    exp: Option<f64>,
    nbf: Option<f64>,
}

/// Verifies tokens against a key provider.
pub struct Verifier {
    config: VerifierConfig,
    keys: Arc<dyn KeyProvider>,
    cache: Option<Mutex<HashMap<[u8; 32], CachedToken>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish()
    }
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Verifier {
    /// A verifier over `keys`.
    pub fn new(config: VerifierConfig, keys: Arc<dyn KeyProvider>) -> Self {
        let cache = (config.token_cache_entries > 0).then(|| Mutex::new(HashMap::new()));
        Verifier {
            config,
            keys,
            cache,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// The key provider.
    pub fn keys(&self) -> &Arc<dyn KeyProvider> {
        &self.keys
    }

    /// Verifies a compact JWS now.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        self.verify_at(token, now_secs())
    }

    /// Verifies a compact JWS as of `now` (seconds since the epoch).
    pub fn verify_at(&self, token: &str, now: f64) -> Result<VerifiedToken, TokenError> {
        let parts = compact::split(token, self.config.max_token_bytes)?;
        let keys = self.keys.current()?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(cache) = &self.cache {
            let guard = cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = guard.get(&digest) {
                // Only for the key set it was verified against: a rotated-out
                // key stops vouching for its tokens at once.
                if Arc::ptr_eq(&hit.keys, &keys) {
                    self.check_times(hit.exp, hit.nbf, now)?;
                    return Ok(hit.verified.clone());
                }
            }
        }
        let (verified, exp, nbf, used) = self.verify_uncached(parts, keys, now, digest)?;
        if let Some(cache) = &self.cache {
            let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
            if guard.len() >= self.config.token_cache_entries {
                guard.clear();
            }
            guard.insert(
                digest,
                CachedToken {
                    keys: used,
                    verified: verified.clone(),
                    exp,
                    nbf,
                },
            );
        }
        Ok(verified)
    }

    /// Checks a compact JWS's shape, header and signature, and returns the
    /// algorithm and the raw payload, without interpreting the payload as
    /// claims. This is the signature layer the Wycheproof vectors exercise;
    /// [`Verifier::verify`] is what services call.
    pub fn verify_signature(&self, token: &str) -> Result<(Alg, Vec<u8>), TokenError> {
        let parts = compact::split(token, self.config.max_token_bytes)?;
        let keys = self.keys.current()?;
        let (alg, payload, _) = self.verify_jws(parts, keys)?;
        Ok((alg, payload))
    }

    fn verify_jws(
        &self,
        [h64, p64, s64]: [&str; 3],
        mut keys: Arc<KeySet>,
    ) -> Result<(Alg, Vec<u8>, Arc<KeySet>), TokenError> {
        // --- header
        let header = compact::object(&compact::b64(h64, "header")?, "header")?;
        let alg_name = match header.get("alg") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(_) => return Err(TokenError::malformed("\"alg\" is not a string")),
            None => return Err(TokenError::malformed("no \"alg\" header")),
        };
        let alg = Alg::parse(alg_name)
            .filter(|a| self.config.algorithms.contains(a))
            .ok_or_else(|| TokenError::Algorithm {
                reason: if alg_name.eq_ignore_ascii_case("none") {
                    "unsigned tokens (alg none) are never accepted".into()
                } else if alg_name.starts_with("HS") {
                    "HMAC algorithms are never accepted with a key set".into()
                } else {
                    "not in the allow-list".into()
                },
            })?;
        if header.contains_key("enc") {
            return Err(TokenError::malformed(
                "a JWE header where a JWS is expected",
            ));
        }
        if let Some(crit) = header.get("crit") {
            // RFC 7515 §4.1.11: every listed extension must be understood.
            // CoreSDK understands none, so any `crit` is refused.
            let valid_shape = crit
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|v| v.is_string()));
            return Err(TokenError::malformed(if valid_shape {
                "\"crit\" names an extension this verifier does not understand"
            } else {
                "\"crit\" is not a non-empty array of names"
            }));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(serde_json::Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(TokenError::malformed("\"kid\" is not a string")),
        };
        if let Some(want) = &self.config.typ {
            let got = match header.get("typ") {
                Some(serde_json::Value::String(s)) => s.as_str(),
                _ => return Err(TokenError::claim("typ", "missing")),
            };
            if !typ_matches(got, want) {
                return Err(TokenError::claim("typ", "unexpected token type"));
            }
        }
        // `jku`, `x5u`, `jwk` and `x5c` are never read: keys come only from
        // the configured key set.

        // --- key and signature
        let signature = compact::b64(s64, "signature")?;
        if let Some(len) = alg.fixed_signature_len() {
            if signature.len() != len {
                return Err(TokenError::Signature);
            }
        }
        let mut candidates = keys.candidates(kid, alg);
        // Unknown kid: perhaps the provider rotated. The provider
        // rate-limits how often this refetches.
        if candidates.is_empty() && kid.is_some_and(|k| !keys.has_kid(k)) {
            if let Some(fresh) = self.keys.refresh_for_unknown_kid() {
                keys = fresh;
                candidates = keys.candidates(kid, alg);
            }
        }
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey);
        }
        let signing_input_len = h64.len() + 1 + p64.len();
        let mut signing_input = Vec::with_capacity(signing_input_len);
        signing_input.extend_from_slice(h64.as_bytes());
        signing_input.push(b'.');
        signing_input.extend_from_slice(p64.as_bytes());
        let ok = candidates.iter().take(16).any(|key| {
            jsonwebtoken::crypto::verify(s64, &signing_input, &key.key, alg.to_jwt())
                .unwrap_or(false)
        });
        if !ok {
            return Err(TokenError::Signature);
        }
        let payload = compact::b64(p64, "payload")?;
        Ok((alg, payload, keys))
    }

    #[allow(clippy::type_complexity)]
    fn verify_uncached(
        &self,
        parts: [&str; 3],
        keys: Arc<KeySet>,
        now: f64,
        digest: [u8; 32],
    ) -> Result<(VerifiedToken, Option<f64>, Option<f64>, Arc<KeySet>), TokenError> {
        let (alg, payload, keys) = self.verify_jws(parts, keys)?;
        // --- claims (only for an authentic token)
        let claims = compact::object(&payload, "payload")?;
        let exp = numeric(&claims, "exp")?;
        let nbf = numeric(&claims, "nbf")?;
        let iat = numeric(&claims, "iat")?;
        for name in &self.config.required_claims {
            if !claims.contains_key(name) {
                return Err(TokenError::claim(name, "missing"));
            }
        }
        self.check_times(exp, nbf, now)?;
        if let Some(iat) = iat {
            if iat > now + self.config.leeway.as_secs_f64() {
                return Err(TokenError::claim("iat", "issued in the future"));
            }
        }
        if let Some(want) = &self.config.issuer {
            match claims.get("iss") {
                Some(serde_json::Value::String(s)) if s == want => {}
                Some(serde_json::Value::String(_)) => {
                    return Err(TokenError::claim("iss", "unexpected issuer"))
                }
                Some(_) => return Err(TokenError::claim("iss", "not a string")),
                None => return Err(TokenError::claim("iss", "missing")),
            }
        }
        if !self.config.audiences.is_empty() {
            let matches = |s: &str| self.config.audiences.iter().any(|a| a == s);
            match claims.get("aud") {
                Some(serde_json::Value::String(s)) if matches(s) => {}
                Some(serde_json::Value::Array(items))
                    if items.iter().all(|v| v.is_string())
                        && items.iter().any(|v| v.as_str().is_some_and(matches)) => {}
                Some(serde_json::Value::String(_)) | Some(serde_json::Value::Array(_)) => {
                    return Err(TokenError::claim("aud", "unexpected audience"))
                }
                Some(_) => {
                    return Err(TokenError::claim("aud", "not a string or array of strings"))
                }
                None => return Err(TokenError::claim("aud", "missing")),
            }
        }
        for name in ["sub", "jti"] {
            if claims.get(name).is_some_and(|v| !v.is_string()) {
                return Err(TokenError::claim(name, "not a string"));
            }
        }
        let claims_json: Arc<str> = serde_json::to_string(&claims)
            .map_err(|_| TokenError::malformed("claims not serializable"))?
            .into();
        Ok((
            VerifiedToken {
                claims: Arc::new(claims),
                claims_json,
                alg,
                digest,
            },
            exp,
            nbf,
            keys,
        ))
    }

    fn check_times(&self, exp: Option<f64>, nbf: Option<f64>, now: f64) -> Result<(), TokenError> {
        let leeway = self.config.leeway.as_secs_f64();
        if let Some(exp) = exp {
            if now > exp + leeway {
                return Err(TokenError::Expired);
            }
        }
        if let Some(nbf) = nbf {
            if now + leeway < nbf {
                return Err(TokenError::NotYetValid);
            }
        }
        Ok(())
    }
}

fn numeric(
    claims: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| TokenError::claim(name, "not a finite number")),
        Some(_) => Err(TokenError::claim(name, "not a NumericDate")),
    }
}

fn typ_matches(got: &str, want: &str) -> bool {
    let strip = |s: &str| {
        let lower = s.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_string)
            .unwrap_or(lower)
    };
    strip(got) == strip(want)
}
