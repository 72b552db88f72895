//! Verifying a bundle's `.signatures.json` the way OPA does
//! (<https://www.openpolicyagent.org/docs/management-bundles#signing>):
//! exactly one compact JWS whose payload lists every file of the bundle
//! with its digest, signed by the configured public key.
//!
//! * The JWS `alg` must fit the key's family (RS*/PS* for RSA, ES256/ES384
//!   for EC, EdDSA for Ed25519); `none`, HMAC and `crit` are refused.
//! * The key id is the header's `kid`, else the payload's `keyid`; when a
//!   key id is configured, a signature naming another one is refused.
//! * The payload's `scope` must equal the configured scope (both may be
//!   empty), as in OPA.
//! * Every file in the archive except `.signatures.json` must be listed,
//!   every listed file must be present, and each digest must match:
//!   SHA-256, SHA-384 or SHA-512 (MD5, SHA-1 and SHA-224 are refused) of the
//!   raw bytes, or for `data.json`, `data.yaml` and `.manifest` of their
//!   canonical JSON (OPA's structured-file digest).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::canonical;

/// The file holding a bundle's signatures.
pub const SIGNATURES_FILE: &str = ".signatures.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    Ec,
    Ed,
}

/// The public key bundles are verified with.
pub struct BundleVerifier {
    key: DecodingKey,
    family: Family,
    key_id: Option<String>,
    scope: String,
}

impl std::fmt::Debug for BundleVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleVerifier")
            .field("family", &self.family)
            .field("key_id", &self.key_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl BundleVerifier {
    /// A verifier for a PEM public key (`PUBLIC KEY` or `RSA PUBLIC KEY`:
    /// RSA, EC P-256/P-384 or Ed25519). A private key is refused: only the
    /// public half belongs on the machines that verify.
    pub fn from_pem(
        pem: &[u8],
        key_id: Option<String>,
        scope: Option<String>,
    ) -> Result<Self, String> {
        let text =
            std::str::from_utf8(pem).map_err(|_| "the key file is not PEM text".to_string())?;
        if text.contains("PRIVATE KEY-----") {
            return Err("the key file holds a private key; configure the public key".into());
        }
        let (key, family) = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
            (k, Family::Rsa)
        } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
            (k, Family::Ec)
        } else if let Ok(k) = DecodingKey::from_ed_pem(pem) {
            (k, Family::Ed)
        } else {
            return Err("no RSA, EC or Ed25519 public key in PEM form found".into());
        };
        Ok(BundleVerifier {
            key,
            family,
            key_id: key_id.filter(|k| !k.is_empty()),
            scope: scope.unwrap_or_default(),
        })
    }

    /// Checks `signatures_json` against `files` (every file of the bundle,
    /// `.signatures.json` included or not). The error says what failed.
    pub fn verify(
        &self,
        signatures_json: &[u8],
        files: &[(String, Vec<u8>)],
    ) -> Result<(), String> {
        let doc: serde_json::Value = serde_json::from_slice(signatures_json)
            .map_err(|e| format!("{SIGNATURES_FILE} is not valid JSON: {e}"))?;
        if let Some(p) = doc
            .get("plugin")
            .and_then(|p| p.as_str())
            .filter(|p| !p.is_empty() && *p != "_default")
        {
            return Err(format!(
                "{SIGNATURES_FILE} names verification plugin {p:?}, which is not supported"
            ));
        }
        let token = match doc
            .get("signatures")
            .and_then(|s| s.as_array())
            .map(Vec::as_slice)
        {
            Some([serde_json::Value::String(t)]) => t.as_str(),
            Some([]) | None => {
                return Err(format!(
                    "{SIGNATURES_FILE}: missing JWT (expected exactly one)"
                ))
            }
            Some([_]) => return Err(format!("{SIGNATURES_FILE}: the signature is not a string")),
            Some(_) => {
                return Err(format!(
                    "{SIGNATURES_FILE}: multiple JWTs not supported (expected exactly one)"
                ))
            }
        };
        let payload = self.verify_jws(token)?;
        check_files(&payload, files)
    }

    fn verify_jws(&self, token: &str) -> Result<serde_json::Value, String> {
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the signature is not a compact JWS".into());
        };
        let decode = |seg: &str, what: &str| -> Result<serde_json::Value, String> {
            let bytes = B64URL
                .decode(seg)
                .map_err(|_| format!("the signature's {what} is not base64url"))?;
            serde_json::from_slice(&bytes)
                .map_err(|_| format!("the signature's {what} is not a JSON object"))
        };
        let header = decode(h64, "header")?;
        let payload = decode(p64, "payload")?;
        if !header.is_object() || !payload.is_object() {
            return Err("the signature's header or payload is not a JSON object".into());
        }
        if header.get("crit").is_some() {
            return Err(
                "the signature's header has \"crit\" extensions, which are not understood".into(),
            );
        }
        let alg_name = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
        let alg = match (self.family, alg_name) {
            (Family::Rsa, "RS256") => Algorithm::RS256,
            (Family::Rsa, "RS384") => Algorithm::RS384,
            (Family::Rsa, "RS512") => Algorithm::RS512,
            (Family::Rsa, "PS256") => Algorithm::PS256,
            (Family::Rsa, "PS384") => Algorithm::PS384,
            (Family::Rsa, "PS512") => Algorithm::PS512,
            (Family::Ec, "ES256") => Algorithm::ES256,
            (Family::Ec, "ES384") => Algorithm::ES384,
            (Family::Ed, "EdDSA") => Algorithm::EdDSA,
            _ => {
                return Err(format!(
                    "signed with alg {alg_name:?}, which the configured {:?} key does not verify",
                    self.family
                ))
            }
        };
        let kid = header
            .get("kid")
            .and_then(|k| k.as_str())
            .or_else(|| payload.get("keyid").and_then(|k| k.as_str()))
            .filter(|k| !k.is_empty());
        if let (Some(want), Some(got)) = (&self.key_id, kid) {
            if want != got {
                return Err(format!(
                    "signed with key id {got:?}; the configured key is {want:?}"
                ));
            }
        }
        let message = &token[..h64.len() + 1 + p64.len()];
        let ok =
            jsonwebtoken::crypto::verify(s64, message.as_bytes(), &self.key, alg).unwrap_or(false);
        if !ok {
            return Err("the signature does not verify with the configured key".into());
        }
        let scope = payload.get("scope").and_then(|s| s.as_str()).unwrap_or("");
        if scope != self.scope {
            return Err(format!(
                "scope mismatch: signed for {scope:?}, configured {:?}",
                self.scope
            ));
        }
        Ok(payload)
    }
}

fn check_files(payload: &serde_json::Value, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    let listed = payload
        .get("files")
        .and_then(|f| f.as_array())
        .ok_or_else(|| "the signature's payload lists no files".to_string())?;
    let mut want: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for f in listed {
        let name = f.get("name").and_then(|v| v.as_str());
        let hash = f.get("hash").and_then(|v| v.as_str());
        let alg = f.get("algorithm").and_then(|v| v.as_str());
        let (Some(name), Some(hash), Some(alg)) = (name, hash, alg) else {
            return Err("a file entry of the signature lacks name, hash or algorithm".into());
        };
        if want
            .insert(name.trim_start_matches('/'), (hash, alg))
            .is_some()
        {
            return Err(format!("the signature lists {name} twice"));
        }
    }
    for (path, bytes) in files {
        if path == SIGNATURES_FILE {
            continue;
        }
        let (hash, alg) = want
            .remove(path.as_str())
            .ok_or_else(|| format!("{path} is not included in the bundle signature"))?;
        let content;
        let hashed: &[u8] = if is_structured(path) {
            content = structured(path, bytes)?;
            &content
        } else {
            bytes
        };
        let got = match alg {
            "SHA-256" => hex(&Sha256::digest(hashed)),
            "SHA-384" => hex(&Sha384::digest(hashed)),
            "SHA-512" => hex(&Sha512::digest(hashed)),
            other => {
                return Err(format!(
                "{path}: hashing algorithm {other:?} is not accepted (SHA-256, SHA-384, SHA-512)"
            ))
            }
        };
        if !got.eq_ignore_ascii_case(hash) {
            return Err(format!(
                "{path}: digest mismatch: the file changed after signing"
            ));
        }
    }
    if let Some(missing) = want.keys().next() {
        return Err(format!(
            "{} file(s) listed in the signature are missing from the bundle, e.g. {missing}",
            want.len()
        ));
    }
    Ok(())
}

fn is_structured(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    matches!(base, "data.json" | ".manifest" | "data.yaml" | "data.yml")
}

fn structured(path: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8"))?;
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        let v = regorus::Value::from_yaml_str(text)
            .map_err(|e| format!("{path}: invalid YAML: {e}"))?;
        let json = serde_json::to_value(&v).map_err(|e| format!("{path}: {e}"))?;
        return Ok(canonical::canonical_value(&json));
    }
    canonical::canonical_json(text).map_err(|e| format!("{path}: invalid JSON: {e}"))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
