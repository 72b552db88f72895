//! Dev mode: a key generated for this run, so `cargo run` works with no
//! identity provider. Never used when a key source is configured.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use coresdk_engine::token::{KeySourceConfig, TokenConfig};
use serde_json::json;

/// A token configuration with a fresh ES256 key, and a sample token signed by it.
pub fn dev_keys() -> Result<(TokenConfig, String), Box<dyn std::error::Error>> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| "keygen failed")?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|_| "bad key")?;
    let point = key.public_key().as_ref();
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "dev", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let header = json!({"alg": "ES256", "kid": "dev", "typ": "JWT"});
    let claims = json!({"iss": "coresdk-dev", "aud": "rust-inprocess", "sub": "alice", "roles": ["editor"], "iat": now, "exp": now + 3600});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key
        .sign(&rng, input.as_bytes())
        .map_err(|_| "sign failed")?;
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
    let mut cfg = TokenConfig::new(KeySourceConfig::Inline(jwks.to_string()));
    cfg.verifier.issuer = Some("coresdk-dev".into());
    cfg.verifier.audiences = vec!["rust-inprocess".into()];
    Ok((cfg, token))
}
