//! Client (PEP) authentication: a client certificate, or an API key.
//!
//! API keys are configured as SHA-256 digests, never in clear. A presented
//! key is hashed and compared with every configured digest in constant time
//! (all of them, whatever matched), so neither the position of a match nor
//! the length of a common prefix shows in the timing. A key may be scoped
//! to one tenant (`tenant:digest`): used on another tenant's path it is
//! refused with 403. A missing or unknown key is 401. Nothing about a key
//! is ever logged or echoed.

use http::{header, HeaderMap};
use rustls_pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::problem::{Problem, ERR_FORBIDDEN, ERR_UNAUTHENTICATED};
use crate::error::SidecarError;

/// One accepted API key.
#[derive(Clone)]
struct ApiKey {
    digest: [u8; 32],
    tenant: Option<String>,
}

/// How the listener authenticates its clients.
#[derive(Clone)]
pub enum ClientAuth {
    /// No authentication: insecure development mode on loopback only.
    None,
    /// A client certificate (verified by the TLS handshake against the
    /// client CA) holding one of `names` as a DNS name, when `names` is not empty.
    Mtls {
        /// Accepted DNS names; empty accepts any certificate from the CA.
        names: Vec<String>,
    },
    /// `Authorization: Bearer <key>`.
    ApiKeys(Vec<ApiKeyEntry>),
}

/// An accepted API key as configured (opaque outside this module).
#[derive(Clone)]
pub struct ApiKeyEntry(ApiKey);

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::None => f.write_str("None"),
            ClientAuth::Mtls { names } => f.debug_struct("Mtls").field("names", names).finish(),
            // Digests are not secrets, but there is no reason to print them.
            ClientAuth::ApiKeys(k) => write!(f, "ApiKeys({} keys)", k.len()),
        }
    }
}

/// Parses `api_key_sha256` entries: 64 hex digits, optionally `tenant:` first.
pub fn parse_api_keys(entries: &[String], key: &str) -> Result<Vec<ApiKeyEntry>, SidecarError> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (tenant, hex) = match e.rsplit_once(':') {
                Some((t, h)) => (Some(t.trim().to_string()), h.trim()),
                None => (None, e.trim()),
            };
            let digest = decode_hex32(hex).ok_or_else(|| {
                SidecarError::config(
                    key,
                    format!("entry {i}: expected a SHA-256 digest as 64 hex digits (optionally tenant:digest); compute one with: printf %s \"$KEY\" | sha256sum"),
                )
            })?;
            Ok(ApiKeyEntry(ApiKey { digest, tenant }))
        })
        .collect()
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl ApiKeyEntry {
    /// The tenant the key is scoped to, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.0.tenant.as_deref()
    }
}

/// What the connection proved: the client's end-entity certificate.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The verified client certificate, when one was presented.
    pub cert: Option<CertificateDer<'static>>,
}

impl ClientAuth {
    /// `none`, `mtls` or `api_key`, for events and status.
    pub fn name(&self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Mtls { .. } => "mtls",
            ClientAuth::ApiKeys(_) => "api_key",
        }
    }

    /// Checks a request to `tenant`'s endpoints.
    pub fn check(&self, peer: &Peer, headers: &HeaderMap, tenant: &str) -> Result<(), Problem> {
        match self {
            ClientAuth::None => Ok(()),
            ClientAuth::Mtls { names } => {
                let Some(cert) = &peer.cert else {
                    return Err(Problem::of(
                        ERR_UNAUTHENTICATED,
                        "a client certificate is required",
                    ));
                };
                if names.is_empty() || cert_has_name(cert, names) {
                    Ok(())
                } else {
                    Err(Problem::of(
                        ERR_FORBIDDEN,
                        "the client certificate is not allowed here",
                    ))
                }
            }
            ClientAuth::ApiKeys(keys) => {
                let presented = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        let (scheme, rest) = v.split_once(' ')?;
                        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
                    })
                    .filter(|k| !k.is_empty());
                let Some(presented) = presented else {
                    return Err(Problem::of(
                        ERR_UNAUTHENTICATED,
                        "an API key is required (Authorization: Bearer <key>)",
                    ));
                };
                let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
                let mut known = Choice::from(0);
                let mut here = Choice::from(0);
                for k in keys {
                    let m = k.0.digest.ct_eq(&digest);
                    let scope =
                        Choice::from(u8::from(k.0.tenant.as_deref().is_none_or(|t| t == tenant)));
                    known |= m;
                    here |= m & scope;
                }
                if !bool::from(known) {
                    Err(Problem::of(ERR_UNAUTHENTICATED, "the API key is not valid"))
                } else if !bool::from(here) {
                    Err(Problem::of(
                        ERR_FORBIDDEN,
                        "the API key is not valid for this tenant",
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

fn cert_has_name(cert: &CertificateDer<'_>, names: &[String]) -> bool {
    let Ok(ee) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    names.iter().any(|n| {
        ServerName::try_from(n.as_str())
            .map(|sn| ee.verify_is_valid_for_subject_name(&sn).is_ok())
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn bearer(k: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {k}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn api_keys() {
        let a = hex(&Sha256::digest(b"key-a"));
        let b = hex(&Sha256::digest(b"key-b"));
        let keys = parse_api_keys(&[a.clone(), format!("globex:{b}")], "k").unwrap();
        assert_eq!(keys[1].tenant(), Some("globex"));
        let auth = ClientAuth::ApiKeys(keys);
        let p = Peer::default();
        assert!(auth.check(&p, &bearer("key-a"), "acme").is_ok());
        assert!(auth.check(&p, &bearer("key-b"), "globex").is_ok());
        assert_eq!(
            auth.check(&p, &bearer("key-b"), "acme").unwrap_err().status,
            403
        );
        assert_eq!(
            auth.check(&p, &bearer("key-c"), "acme").unwrap_err().status,
            401
        );
        assert_eq!(
            auth.check(&p, &HeaderMap::new(), "acme")
                .unwrap_err()
                .status,
            401
        );
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic key-a".parse().unwrap());
        assert_eq!(auth.check(&p, &h, "acme").unwrap_err().status, 401);
        assert!(
            !format!("{auth:?}").contains(&a[..16]),
            "no digests in Debug"
        );
        assert!(parse_api_keys(&["abc".into()], "k").is_err());
        assert!(
            parse_api_keys(&["key-a".into()], "k")
                .err()
                .is_some_and(|e| !e.to_string().contains("key-a")),
            "errors never echo the entry"
        );
    }

    #[test]
    fn mtls_requires_a_certificate() {
        let auth = ClientAuth::Mtls { names: vec![] };
        let e = auth
            .check(&Peer::default(), &HeaderMap::new(), "t")
            .unwrap_err();
        assert_eq!(e.status, 401);
    }
}
