//! `io.jwt.*`: OPA's JWT builtins (regorus 0.14.1 has none of them), with
//! OPA's results, errors and edge cases (`v1/topdown/tokens.go`), on the
//! same cryptography as CoreSDK's token verifier (aws-lc-rs, the backend of
//! the `jsonwebtoken` crate the verifier uses, with the same parameters:
//! RSA keys of 2048 to 8192 bits vetted by the verifier's own checks,
//! fixed-length ECDSA signatures, Ed25519).
//!
//! - `io.jwt.decode(jwt)`: `[header, payload, signature_hex]`, nothing
//!   verified; a nested token (`cty: "JWT"`) is decoded instead.
//! - `io.jwt.verify_{rs,ps,es}{256,384,512}(jwt, key)`,
//!   `io.jwt.verify_eddsa(jwt, key)`: the key is a PEM certificate, a PEM
//!   public key, a JWK or a JWK set.
//! - `io.jwt.verify_hs{256,384,512}(jwt, secret)`.
//! - `io.jwt.decode_verify(jwt, constraints)`: `[valid, header, payload]`,
//!   `[false, {}, {}]` when the signature or a constraint fails.
//! - `io.jwt.encode_sign(header, payload, jwk)` and
//!   `io.jwt.encode_sign_raw(header_json, payload_json, jwk_json)`.
//!
//! Where OPA errors these error (the same message where practical); where
//! OPA's verification is looser than RFC 8725 (and RFC 7515/7518 it
//! builds on) these answer `false` instead of `true` (see
//! docs/engine.md, "io.jwt.*"):
//!
//! - the token's `alg` header must name the builtin's algorithm
//!   (`verify_rs256` of a token whose header says `PS256` or `none` is
//!   `false`; OPA ignores the header there);
//! - a key only verifies the algorithms of its type and curve (ES256 only
//!   with P-256, and so on) and a JWK's `alg`, when present, is binding;
//! - an HMAC secret that is a public key (a PEM block, a JWK or JWK set) is
//!   never used (the algorithm-confusion attack);
//! - a `crit` header is never understood, so such a token never verifies;
//! - RSA keys below 2048 bits (or failing the verifier's vetting), PSS
//!   salts other than the hash length and ECDSA signatures of the wrong
//!   length do not verify.
//!
//! These builtins only answer the policy: they never populate the claims a
//! request carries (those come only from the middleware's verifier).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair, RsaPublicKeyComponents,
};
use aws_lc_rs::{hmac, rsa};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use regorus::Value;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384,
    OID_NIST_EC_P521, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::{string_operand, type_name};
use crate::token::rsa_key_problem;

// --- Algorithms

/// The JWS algorithms OPA's builtins know (`tokenAlgorithms`). The
/// verifier's [`crate::token::Alg`] cannot represent HMAC (a key set holds
/// public keys) nor ES512; a policy names its key and algorithm itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

const ALGS: [Alg; 13] = [
    Alg::HS256,
    Alg::HS384,
    Alg::HS512,
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::PS256,
    Alg::PS384,
    Alg::PS512,
    Alg::ES256,
    Alg::ES384,
    Alg::ES512,
    Alg::EdDSA,
];

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The algorithm of a JOSE name, case-sensitively (`none` is none).
    fn parse(name: &str) -> Option<Alg> {
        ALGS.iter().copied().find(|a| a.name() == name)
    }

    fn hmac(self) -> Option<hmac::Algorithm> {
        match self {
            Alg::HS256 => Some(hmac::HMAC_SHA256),
            Alg::HS384 => Some(hmac::HMAC_SHA384),
            Alg::HS512 => Some(hmac::HMAC_SHA512),
            _ => None,
        }
    }

    fn rsa_verify(self) -> Option<&'static rsa::RsaParameters> {
        Some(match self {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    fn rsa_sign(self) -> Option<&'static dyn signature::RsaEncoding> {
        Some(match self {
            Alg::RS256 => &signature::RSA_PKCS1_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_SHA512,
            Alg::PS256 => &signature::RSA_PSS_SHA256,
            Alg::PS384 => &signature::RSA_PSS_SHA384,
            Alg::PS512 => &signature::RSA_PSS_SHA512,
            _ => return None,
        })
    }

    /// The curve an ECDSA algorithm signs on (RFC 7518 §3.4: one each).
    fn curve(self) -> Option<Curve> {
        match self {
            Alg::ES256 => Some(Curve::P256),
            Alg::ES384 => Some(Curve::P384),
            Alg::ES512 => Some(Curve::P521),
            _ => None,
        }
    }
}

/// The NIST curves of ECDSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// A coordinate's length in bytes.
    fn size(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    fn verify_alg(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
        }
    }

    fn sign_alg(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        }
    }

    fn from_jwk(crv: &str) -> Option<Curve> {
        match crv {
            "P-256" => Some(Curve::P256),
            "P-384" => Some(Curve::P384),
            "P-521" => Some(Curve::P521),
            _ => None,
        }
    }
}

// --- Keys

/// A verification key's material.
#[derive(Debug, Clone)]
enum Material {
    /// RSA modulus and exponent, without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed EC point (`04 || x || y`).
    Ec { curve: Curve, point: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
    /// A symmetric (`oct`) JWK's bytes.
    Oct(Vec<u8>),
    /// A key OPA parses but nothing here verifies with (DSA, X25519, P-224,
    /// an unknown certificate key algorithm, a malformed JWK point).
    Unusable,
}

/// A verification key: `kid` and `alg` are empty when absent, as in OPA.
#[derive(Debug, Clone)]
struct Key {
    kid: String,
    alg: String,
    material: Material,
}

impl Material {
    /// Whether `sig` is a valid `alg` signature of `msg` under this key.
    /// The key's type (and curve) must be the one `alg` uses.
    fn verifies(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Material::Oct(k) => alg
                .hmac()
                .is_some_and(|h| hmac::verify(&hmac::Key::new(h, k), msg, sig).is_ok()),
            Material::Rsa { n, e } => alg.rsa_verify().is_some_and(|params| {
                rsa_key_problem(n, e).is_none()
                    && RsaPublicKeyComponents {
                        n: n.as_slice(),
                        e: e.as_slice(),
                    }
                    .verify(params, msg, sig)
                    .is_ok()
            }),
            Material::Ec { curve, point } => {
                alg.curve() == Some(*curve)
                    && signature::UnparsedPublicKey::new(curve.verify_alg(), point)
                        .verify(msg, sig)
                        .is_ok()
            }
            Material::Ed25519(x) => {
                alg == Alg::EdDSA
                    && signature::UnparsedPublicKey::new(&signature::ED25519, x)
                        .verify(msg, sig)
                        .is_ok()
            }
            Material::Unusable => false,
        }
    }
}

/// Keys from a builtin's key argument, as OPA's `parseKeysFromCertOrJWK`
/// reads it: a PEM certificate, a PEM public key, else a JWK or JWK set.
fn parse_keys(text: &str) -> Result<Vec<Key>> {
    if let Some((label, der, rest)) = pem_decode(text.as_bytes()) {
        if !rest.is_empty() {
            bail!("extra data after a PEM certificate block");
        }
        let material = match label.as_str() {
            "CERTIFICATE" => certificate_key(&der)
                .map_err(|e| anyhow!("failed to parse a PEM certificate: {e}"))?,
            "PUBLIC KEY" => {
                public_key(&der).map_err(|e| anyhow!("failed to parse a PEM public key: {e}"))?
            }
            _ => bail!("failed to extract a Key from the PEM certificate"),
        };
        return Ok(vec![Key {
            kid: String::new(),
            alg: String::new(),
            material,
        }]);
    }
    jwk_keys(text).map_err(|e| anyhow!("failed to parse a JWK key (set): {e}"))
}

/// The public key of a DER certificate (Go's `x509.ParseCertificate`: an
/// unknown key algorithm is no error, a malformed known one is).
fn certificate_key(der: &[u8]) -> Result<Material, String> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("x509: {e}"))?;
    if !rest.is_empty() {
        return Err("x509: trailing data".into());
    }
    spki_material(cert.public_key(), false)
}

/// A DER SubjectPublicKeyInfo (Go's `x509.ParsePKIXPublicKey`).
fn public_key(der: &[u8]) -> Result<Material, String> {
    let (rest, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|e| format!("x509: {e}"))?;
    if !rest.is_empty() {
        return Err("x509: trailing data after ASN.1 of public-key".into());
    }
    spki_material(&spki, true)
}

/// The X25519 key type (RFC 8410), which Go parses and nothing here uses.
fn is_x25519(oid: &Oid) -> bool {
    Oid::from(&[1, 3, 101, 110]).is_ok_and(|x| *oid == x)
}

/// The P-224 curve, which Go parses and JOSE does not use.
fn is_p224(oid: &Oid) -> bool {
    Oid::from(&[1, 3, 132, 0, 33]).is_ok_and(|x| *oid == x)
}

fn spki_material(spki: &SubjectPublicKeyInfo, unknown_is_error: bool) -> Result<Material, String> {
    let oid = &spki.algorithm.algorithm;
    let bits = spki.subject_public_key.data.as_ref();
    if *oid == OID_PKCS1_RSAENCRYPTION {
        match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(k)) => {
                let (n, e) = (strip_zeros(k.modulus), strip_zeros(k.exponent));
                if n.is_empty() || e.is_empty() {
                    return Err("x509: RSA modulus or exponent is not a positive number".into());
                }
                Ok(Material::Rsa { n, e })
            }
            _ => Err("x509: invalid RSA public key".into()),
        }
    } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let named = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let curve = match named {
            Some(c) if c == OID_EC_P256 => Curve::P256,
            Some(c) if c == OID_NIST_EC_P384 => Curve::P384,
            Some(c) if c == OID_NIST_EC_P521 => Curve::P521,
            Some(c) if is_p224(&c) => return Ok(Material::Unusable),
            _ => return Err("x509: unsupported elliptic curve".into()),
        };
        // Go accepts only an uncompressed point on the curve.
        if bits.len() != 1 + 2 * curve.size()
            || bits[0] != 4
            || ParsedPublicKey::new(curve.verify_alg(), bits).is_err()
        {
            return Err("x509: failed to unmarshal elliptic curve point".into());
        }
        Ok(Material::Ec {
            curve,
            point: bits.to_vec(),
        })
    } else if *oid == OID_SIG_ED25519 {
        if bits.len() != 32 {
            return Err("x509: wrong Ed25519 public key size".into());
        }
        Ok(Material::Ed25519(bits.to_vec()))
    } else if is_x25519(oid) || *oid == OID_KEY_TYPE_DSA || !unknown_is_error {
        Ok(Material::Unusable)
    } else {
        Err("x509: unknown public key algorithm".into())
    }
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let nz = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b[nz..].to_vec()
}

/// Go's `encoding/pem.Decode`: the first PEM block of `data` (its type and
/// bytes) and what follows its END line, or `None` when `data` holds no
/// block. Ported rather than taken from a PEM crate because what counts as
/// a block, and as data after it, decides between OPA's PEM and JSON paths
/// and its "extra data" error.
fn pem_decode(data: &[u8]) -> Option<(String, Vec<u8>, &[u8])> {
    const START: &[u8] = b"\n-----BEGIN ";
    const END: &[u8] = b"\n-----END ";
    const EOL: &[u8] = b"-----";
    let mut rest = data;
    loop {
        if rest.starts_with(&START[1..]) {
            rest = &rest[START.len() - 1..];
        } else if let Some(i) = find(rest, START) {
            rest = &rest[i + START.len()..];
        } else {
            return None;
        }
        let (type_line, after) = get_line(rest);
        rest = after;
        let Some(typ) = type_line.strip_suffix(EOL) else {
            continue;
        };
        let mut has_headers = false;
        let mut ended = false;
        loop {
            if rest.is_empty() {
                ended = true;
                break;
            }
            let (line, next) = get_line(rest);
            if !line.contains(&b':') {
                break;
            }
            has_headers = true;
            rest = next;
        }
        if ended {
            return None;
        }
        let (end_index, trailer_index) = if !has_headers && rest.starts_with(&END[1..]) {
            (0, END.len() - 1)
        } else {
            match find(rest, END) {
                Some(i) => (i, i + END.len()),
                None => continue,
            }
        };
        let trailer = &rest[trailer_index..];
        let trailer_len = typ.len() + EOL.len();
        if trailer.len() < trailer_len {
            continue;
        }
        let (trailer, rest_of_end) = trailer.split_at(trailer_len);
        if !trailer.starts_with(typ) || !trailer.ends_with(EOL) {
            continue;
        }
        if !get_line(rest_of_end).0.is_empty() {
            continue;
        }
        let body: Vec<u8> = rest[..end_index]
            .iter()
            .copied()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .collect();
        let Ok(bytes) = GO_STD.decode(&body) else {
            continue;
        };
        let (_, after_end) = get_line(&rest[end_index + END.len() - 1..]);
        return Some((String::from_utf8_lossy(typ).into_owned(), bytes, after_end));
    }
}

/// Go's `pem.getLine`: the first line (trailing spaces, tabs and `\r`
/// trimmed) and the rest after its newline.
fn get_line(data: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let end = line
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    (&line[..end], rest)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Go's `base64.StdEncoding` (padded, lenient about the last bits).
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Go's `base64.URLEncoding` (padded, lenient about the last bits).
const GO_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Any base64 form of a JWK member (jwx accepts either alphabet, padded
/// or not).
const JWK_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn jwk_b64(s: &str) -> Option<Vec<u8>> {
    let s: String = s
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    JWK_B64.decode(s).ok()
}

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The keys of a JWK or JWK set (`{"keys": [...]}`), as jwx parses them;
/// keys naming an algorithm OPA does not know are left out, as OPA does.
fn jwk_keys(text: &str) -> Result<Vec<Key>, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let obj = doc.as_object().ok_or("not a JSON object")?;
    let items: Vec<&JsonMap> = match obj.get("keys") {
        Some(serde_json::Value::Array(keys)) => keys
            .iter()
            .map(|k| k.as_object().ok_or("a key of the set is not an object"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"keys\" is not an array".into()),
        None => vec![obj],
    };
    let mut keys = Vec::with_capacity(items.len());
    for o in items {
        let key = jwk_key(o)?;
        if key.alg.is_empty() || Alg::parse(&key.alg).is_some() {
            keys.push(key);
        }
    }
    Ok(keys)
}

fn str_member<'a>(o: &'a JsonMap, name: &str) -> Result<Option<&'a str>, String> {
    match o.get(name) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

fn bytes_member(o: &JsonMap, name: &str) -> Result<Vec<u8>, String> {
    let s = str_member(o, name)?.ok_or_else(|| format!("required field {name} is missing"))?;
    jwk_b64(s).ok_or_else(|| format!("field {name} is not base64"))
}

/// One JWK's public key.
fn jwk_key(o: &JsonMap) -> Result<Key, String> {
    let kty = str_member(o, "kty")?.ok_or("invalid key type from JSON ()")?;
    let kid = str_member(o, "kid")?.unwrap_or_default().to_string();
    let alg = str_member(o, "alg")?.unwrap_or_default().to_string();
    let material = match kty {
        "RSA" => {
            let n = strip_zeros(&bytes_member(o, "n")?);
            let e = strip_zeros(&bytes_member(o, "e")?);
            Material::Rsa { n, e }
        }
        "EC" => {
            let crv = str_member(o, "crv")?.ok_or("required field crv is missing")?;
            let curve = Curve::from_jwk(crv).ok_or_else(|| format!("invalid curve {crv:?}"))?;
            let (x, y) = (bytes_member(o, "x")?, bytes_member(o, "y")?);
            match (pad_to(&x, curve.size()), pad_to(&y, curve.size())) {
                (Some(x), Some(y)) => {
                    let mut point = Vec::with_capacity(1 + 2 * curve.size());
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    Material::Ec { curve, point }
                }
                _ => Material::Unusable,
            }
        }
        "OKP" => {
            let crv = str_member(o, "crv")?.ok_or("required field crv is missing")?;
            let x = bytes_member(o, "x")?;
            match crv {
                "Ed25519" if x.len() == 32 => Material::Ed25519(x),
                "Ed25519" | "X25519" => Material::Unusable,
                other => return Err(format!("invalid curve {other:?}")),
            }
        }
        "oct" => Material::Oct(bytes_member(o, "k")?),
        other => return Err(format!("invalid key type from JSON ({other})")),
    };
    Ok(Key { kid, alg, material })
}

/// A big-endian coordinate left-padded to `size` bytes, unless longer.
fn pad_to(v: &[u8], size: usize) -> Option<Vec<u8>> {
    let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len())..];
    (v.len() <= size).then(|| {
        let mut out = vec![0; size - v.len()];
        out.extend_from_slice(v);
        out
    })
}

/// Whether an HMAC secret is in fact a public key (a PEM block, a JWK or a
/// JWK set): the algorithm-confusion attack (RFC 8725 §2.1) is a token
/// MACed with the public key as the secret, so such a secret never
/// verifies.
fn secret_is_public_key(secret: &str) -> bool {
    if secret.contains("-----BEGIN ") {
        return true;
    }
    serde_json::from_str::<JsonMap>(secret).is_ok_and(|o| {
        o.contains_key("keys")
            || matches!(
                o.get("kty").and_then(|k| k.as_str()),
                Some("RSA" | "EC" | "OKP")
            )
    })
}

// --- Tokens

/// OPA's `decodeJWT`: the three segments of a compact token.
fn split(name: &str, v: &Value) -> Result<[String; 3]> {
    let s = string_operand(name, 1, v)?;
    if !s.contains('.') {
        bail!("encoded JWT had no period separators");
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 3 {
        bail!("encoded JWT must have 3 sections, found {}", parts.len());
    }
    Ok([parts[0].into(), parts[1].into(), parts[2].into()])
}

/// OPA's `base64url.decode`: padding added when absent, then Go's padded
/// URL decoding (which skips `\r` and `\n`).
fn b64url(s: &str) -> Result<Vec<u8>> {
    let mut padded = s.to_string();
    if !s.ends_with('=') {
        match s.len() % 4 {
            0 => {}
            2 => padded.push_str("=="),
            3 => padded.push('='),
            _ => bail!("illegal base64url string: {s}"),
        }
    }
    let clean: String = padded
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    GO_URL.decode(clean).map_err(|e| match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => {
            anyhow!("illegal base64 data at input byte {i}")
        }
        _ => anyhow!("illegal base64 data at input byte {}", s.len()),
    })
}

/// OPA's `extractJSONObject`: JSON text (as `json.unmarshal` reads it)
/// that must be an object.
fn json_object(bytes: &[u8]) -> Result<Value> {
    let text = String::from_utf8_lossy(bytes);
    super::wide::json_text_numbers("io.jwt", &text)?;
    let v = Value::from_json_str(&text).map_err(|e| anyhow!("invalid JSON: {e}"))?;
    match v {
        Value::Object(_) => Ok(v),
        _ => bail!("decoded JSON type was not an Object"),
    }
}

fn get<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    match obj {
        Value::Object(o) => o.get(&Value::from(key)),
        _ => None,
    }
}

/// OPA's `decodeHeader`: the header object, refusing a JWE.
fn decode_header(h64: &str) -> Result<Value> {
    let bytes = b64url(h64).map_err(|e| anyhow!("JWT header had invalid encoding: {e}"))?;
    let header = json_object(&bytes).map_err(|e| anyhow!("bad JWT header: {e}"))?;
    if get(&header, "enc").is_some() {
        bail!("JWT is a JWE object, which is not supported");
    }
    Ok(header)
}

/// The header fields OPA reads (`parseTokenHeader`), with its errors.
#[derive(Default)]
struct Header {
    alg: String,
    kid: String,
    cty: String,
    /// `crit` was present (a non-empty list of names).
    crit: bool,
}

fn parse_header(header: &Value) -> Result<Header> {
    let mut h = Header::default();
    let Value::Object(o) = header else {
        return Ok(h);
    };
    for (k, v) in o.iter_sorted() {
        let Value::String(k) = k else { continue };
        let slot = match k.as_ref() {
            "alg" => &mut h.alg,
            "kid" => &mut h.kid,
            "cty" => &mut h.cty,
            "typ" => {
                if !matches!(v, Value::String(_)) {
                    bail!("typ: must be a string");
                }
                continue;
            }
            "crit" => {
                let Value::Array(a) = v else {
                    bail!("crit: must be a list");
                };
                if !a.iter().any(|e| matches!(e, Value::String(_))) {
                    bail!("crit: must be a nonempty list");
                }
                h.crit = true;
                continue;
            }
            _ => continue,
        };
        match v {
            Value::String(s) => *slot = s.to_string(),
            _ => bail!("{k}: must be a string"),
        }
    }
    Ok(h)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `io.jwt.decode(jwt)`.
pub(super) fn decode(args: &[Value]) -> Result<Value> {
    let mut token = args[0].clone();
    loop {
        let [h64, p64, s64] = split("io.jwt.decode", &token)?;
        let header = decode_header(&h64)?;
        let payload = b64url(&p64).map_err(|e| anyhow!("JWT payload had invalid encoding: {e}"))?;
        if let Some(cty) = get(&header, "cty") {
            let Value::String(cty) = cty else {
                bail!("cty: must be a string");
            };
            if cty.as_ref() == "JWT" {
                // A nested token, quoted as jwt.io quotes it.
                let inner = String::from_utf8_lossy(&payload);
                token = Value::from(inner.trim_matches(|c| c == '"' || c == '\''));
                continue;
            }
        }
        let payload = json_object(&payload)?;
        let sig = b64url(&s64).map_err(|e| anyhow!("JWT signature had invalid encoding: {e}"))?;
        return Ok(Value::from(vec![header, payload, Value::from(hex(&sig))]));
    }
}

/// Which keys may verify a token: the one whose `kid` the header names, if
/// any; else every key whose `alg` (when it has one) is the header's.
fn verify_keys(keys: &[Key], kid: &str, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
    if !kid.is_empty() {
        if let Some(k) = keys.iter().find(|k| k.kid == kid) {
            return (k.alg.is_empty() || k.alg == alg.name()) && k.material.verifies(alg, msg, sig);
        }
    }
    keys.iter()
        .any(|k| (k.alg.is_empty() || k.alg == alg.name()) && k.material.verifies(alg, msg, sig))
}

/// `io.jwt.verify_<alg>(jwt, key)` for an asymmetric `alg`.
fn verify_asymmetric(name: &str, alg: Alg, args: &[Value]) -> Result<Value> {
    let [h64, p64, s64] = split(name, &args[0])?;
    let key_text = string_operand(name, 2, &args[1])?;
    let keys = parse_keys(key_text)?;
    let sig = b64url(&s64)?;
    let header = parse_header(&decode_header(&h64)?)?;
    // RFC 8725 §3.1: the header's algorithm is the one verified with.
    if header.alg != alg.name() || header.crit {
        return Ok(Value::Bool(false));
    }
    let msg = format!("{h64}.{p64}");
    Ok(Value::Bool(verify_keys(
        &keys,
        &header.kid,
        alg,
        msg.as_bytes(),
        &sig,
    )))
}

/// `io.jwt.verify_hs<n>(jwt, secret)`.
fn verify_hmac(name: &str, alg: Alg, args: &[Value]) -> Result<Value> {
    string_operand(name, 1, &args[0])?;
    let secret = string_operand(name, 2, &args[1])?;
    let [h64, p64, s64] = split(name, &args[0])?;
    let sig = b64url(&s64)?;
    // OPA does not read the header here; RFC 8725 §3.1 has the header name
    // the algorithm, and a public key is never an HMAC secret.
    let header_ok = decode_header(&h64)
        .and_then(|h| parse_header(&h))
        .is_ok_and(|h| h.alg == alg.name() && !h.crit);
    if !header_ok || secret_is_public_key(secret) {
        return Ok(Value::Bool(false));
    }
    let msg = format!("{h64}.{p64}");
    Ok(Value::Bool(
        Material::Oct(secret.as_bytes().to_vec()).verifies(alg, msg.as_bytes(), &sig),
    ))
}

macro_rules! verify_fns {
    ($($fn:ident, $name:literal, $alg:ident, $how:ident;)*) => {
        $(
            #[doc = concat!("`", $name, "(jwt, key)`.")]
            pub(super) fn $fn(args: &[Value]) -> Result<Value> {
                $how($name, Alg::$alg, args)
            }
        )*
    };
}

verify_fns! {
    verify_rs256, "io.jwt.verify_rs256", RS256, verify_asymmetric;
    verify_rs384, "io.jwt.verify_rs384", RS384, verify_asymmetric;
    verify_rs512, "io.jwt.verify_rs512", RS512, verify_asymmetric;
    verify_ps256, "io.jwt.verify_ps256", PS256, verify_asymmetric;
    verify_ps384, "io.jwt.verify_ps384", PS384, verify_asymmetric;
    verify_ps512, "io.jwt.verify_ps512", PS512, verify_asymmetric;
    verify_es256, "io.jwt.verify_es256", ES256, verify_asymmetric;
    verify_es384, "io.jwt.verify_es384", ES384, verify_asymmetric;
    verify_es512, "io.jwt.verify_es512", ES512, verify_asymmetric;
    verify_eddsa, "io.jwt.verify_eddsa", EdDSA, verify_asymmetric;
    verify_hs256, "io.jwt.verify_hs256", HS256, verify_hmac;
    verify_hs384, "io.jwt.verify_hs384", HS384, verify_hmac;
    verify_hs512, "io.jwt.verify_hs512", HS512, verify_hmac;
}

// --- decode_verify

/// The constraints object of `io.jwt.decode_verify`.
struct Constraints {
    keys: Option<Vec<Key>>,
    secret: String,
    alg: String,
    iss: String,
    aud: String,
    /// Nanoseconds since the epoch.
    time: f64,
}

/// A number as the nearest double (Go's `strconv.ParseFloat` of its text).
fn number_f64(v: &Value) -> Option<f64> {
    let Value::Number(n) = v else {
        return None;
    };
    n.as_f64()
        .or_else(|| n.format_decimal().parse::<f64>().ok())
}

fn time_from(v: &Value) -> Result<f64> {
    if !matches!(v, Value::Number(_)) {
        bail!("token time constraint: must be a number");
    }
    let Some(t) = number_f64(v).filter(|t| t.is_finite()) else {
        bail!("token time constraint: unvalid float64");
    };
    if t < 0.0 {
        bail!("token time constraint: must not be negative");
    }
    Ok(t)
}

fn parse_constraints(o: &Value) -> Result<Constraints> {
    let Value::Object(o) = o else {
        bail!(
            "io.jwt.decode_verify: operand 2 must be object but got {}",
            type_name(o)
        );
    };
    let mut c = Constraints {
        keys: None,
        secret: String::new(),
        alg: String::new(),
        iss: String::new(),
        aud: String::new(),
        time: -1.0,
    };
    for (k, v) in o.iter_sorted() {
        let Value::String(name) = k else {
            bail!("unknown token validation constraint: {k}");
        };
        let slot = match name.as_ref() {
            "cert" => {
                let Value::String(s) = v else {
                    bail!("cert constraint: must be a string");
                };
                c.keys = Some(parse_keys(s)?);
                continue;
            }
            "time" => {
                c.time = time_from(v)?;
                continue;
            }
            "secret" => &mut c.secret,
            "alg" => &mut c.alg,
            "iss" => &mut c.iss,
            "aud" => &mut c.aud,
            other => bail!("unknown token validation constraint: {other}"),
        };
        match v {
            Value::String(s) => *slot = s.to_string(),
            _ => bail!("{name} constraint: must be a string"),
        }
    }
    if c.time < 0.0 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_nanos() as f64);
        c.time = now;
    }
    match (c.keys.is_some(), !c.secret.is_empty()) {
        (true, true) => bail!("duplicate key constraints"),
        (false, false) => bail!("no key constraint"),
        _ => {}
    }
    Ok(c)
}

impl Constraints {
    /// Whether the signature verifies with the constrained key(s).
    fn verifies(&self, header: &Header, msg: &[u8], sig: &[u8]) -> bool {
        let Some(alg) = Alg::parse(&header.alg) else {
            return false;
        };
        match &self.keys {
            Some(keys) => verify_keys(keys, &header.kid, alg, msg, sig),
            None => {
                !secret_is_public_key(&self.secret)
                    && Material::Oct(self.secret.as_bytes().to_vec()).verifies(alg, msg, sig)
            }
        }
    }

    /// OPA's `validAudience`.
    fn valid_audience(&self, aud: &Value) -> bool {
        match aud {
            Value::String(s) => s.as_ref() == self.aud,
            Value::Array(a) => a
                .iter()
                .any(|e| matches!(e, Value::String(s) if s.as_ref() == self.aud)),
            _ => false,
        }
    }
}

/// How the time `t` (seconds, a double) compares with a claim, when the
/// claim is a number.
fn cmp_time(t: f64, claim: &Value) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    let Value::Number(n) = claim else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        // Exact for any i64, unlike converting it to a double.
        let f = t.floor();
        if f >= 9.2e18 {
            return Some(Ordering::Greater);
        }
        return Some(match (f as i64).cmp(&i) {
            Ordering::Equal if t > f => Ordering::Greater,
            o => o,
        });
    }
    let v = number_f64(claim).unwrap_or(f64::NAN);
    Some(t.partial_cmp(&v).unwrap_or(Ordering::Less))
}

/// `io.jwt.decode_verify(jwt, constraints)`.
pub(super) fn decode_verify(args: &[Value]) -> Result<Value> {
    const NAME: &str = "io.jwt.decode_verify";
    let c = parse_constraints(&args[1])?;
    let unverified = || {
        Ok(Value::from(vec![
            Value::Bool(false),
            Value::new_object(),
            Value::new_object(),
        ]))
    };
    let mut token = args[0].clone();
    let (header, payload) = loop {
        let [h64, p64, s64] = split(NAME, &token)?;
        let header = decode_header(&h64)?;
        let fields = parse_header(&header)?;
        // RFC 7515 §4.1.11: no extension is understood here, so a `crit`
        // token is invalid (OPA: only when a listed name is present).
        if fields.alg.is_empty() || fields.crit {
            return unverified();
        }
        if !c.alg.is_empty() && c.alg != fields.alg {
            return unverified();
        }
        let sig = b64url(&s64)?;
        if !c.verifies(&fields, format!("{h64}.{p64}").as_bytes(), &sig) {
            return unverified();
        }
        let payload = b64url(&p64).map_err(|e| anyhow!("JWT payload had invalid encoding: {e}"))?;
        if fields.cty.eq_ignore_ascii_case("JWT") {
            token = Value::from(String::from_utf8_lossy(&payload).into_owned());
            continue;
        }
        break (header, json_object(&payload)?);
    };
    if !c.iss.is_empty() {
        match get(&payload, "iss") {
            None => return unverified(),
            Some(Value::String(s)) if s.as_ref() == c.iss => {}
            // OPA crashes on a non-string `iss`; an error here.
            Some(Value::String(_)) => return unverified(),
            Some(_) => bail!("iss value must be a string"),
        }
    }
    match get(&payload, "aud") {
        Some(aud) if !c.valid_audience(aud) => return unverified(),
        None if !c.aud.is_empty() => return unverified(),
        _ => {}
    }
    let now = c.time / 1e9;
    if let Some(exp) = get(&payload, "exp") {
        match cmp_time(now, exp) {
            None => bail!("exp value must be a number"),
            Some(std::cmp::Ordering::Less) => {}
            Some(_) => return unverified(),
        }
    }
    if let Some(nbf) = get(&payload, "nbf") {
        match cmp_time(now, nbf) {
            None => bail!("nbf value must be a number"),
            Some(std::cmp::Ordering::Less) => return unverified(),
            Some(_) => {}
        }
    }
    Ok(Value::from(vec![Value::Bool(true), header, payload]))
}

// --- encode_sign

/// A value as Go's `json.Marshal` writes OPA's JSON of it: object keys
/// sorted (a non-string key as its JSON text), sets as arrays, `<`, `>`,
/// `&`, U+2028 and U+2029 escaped.
fn go_json(v: &Value, out: &mut String) -> Result<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.format_decimal()),
        Value::String(s) => go_string(s, out),
        Value::Array(a) => go_list(a.iter(), out)?,
        Value::Set(s) => go_list(s.iter_sorted(), out)?,
        Value::Object(o) => {
            let mut entries = Vec::with_capacity(o.len());
            for (k, v) in o.iter_sorted() {
                let key = match k {
                    Value::String(s) => s.to_string(),
                    other => {
                        let mut t = String::new();
                        go_json(other, &mut t)?;
                        t
                    }
                };
                entries.push((key, v));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(&k, out);
                out.push(':');
                go_json(v, out)?;
            }
            out.push('}');
        }
        Value::Undefined => bail!("undefined value"),
    }
    Ok(())
}

fn go_list<'a>(items: impl Iterator<Item = &'a Value>, out: &mut String) -> Result<()> {
    out.push('[');
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json(v, out)?;
    }
    out.push(']');
    Ok(())
}

fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON document's top-level members, the first of duplicates winning
/// (as fastjson, which jwx reads headers with, finds them); `None` when it
/// is not an object.
struct FirstWins;

impl<'de> Visitor<'de> for FirstWins {
    type Value = Option<JsonMap>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = JsonMap::new();
        while let Some((k, v)) = access.next_entry::<String, serde_json::Value>()? {
            map.entry(k).or_insert(v);
        }
        Ok(Some(map))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// jwsbb's `HeaderGetString`.
fn header_string(header: &str, name: &str) -> Result<String, String> {
    if header.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
        return Err("cannot parse JSON: cannot parse empty string".into());
    }
    let mut de = serde_json::Deserializer::from_str(header);
    let members = de
        .deserialize_any(FirstWins)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| format!("cannot parse JSON: {e}"))?;
    match members.as_ref().and_then(|m| m.get(name)) {
        None => Err(format!("jwsbb: header \"{name}\" not found")),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(format!(
            "value doesn't contain string; it contains {}",
            match v {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "bool",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Object(_) => "object",
                serde_json::Value::String(_) => "string",
            }
        )),
    }
}

/// A signing key: the first key of a JWK or JWK set, with its private part.
fn signing_key(jwk: &str) -> Result<JsonMap> {
    let doc: serde_json::Value = serde_json::from_str(jwk)
        .map_err(|e| anyhow!("failed to unmarshal JSON into key hint: {e}"))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| anyhow!("failed to parse JWK: not a JSON object"))?;
    let first = match obj.get("keys") {
        Some(serde_json::Value::Array(keys)) => match keys.first() {
            None => bail!("no keys found in JWK set"),
            Some(k) => k
                .as_object()
                .ok_or_else(|| anyhow!("failed to parse JWK set: a key is not an object"))?,
        },
        Some(_) => bail!("failed to parse JWK set: \"keys\" is not an array"),
        None => obj,
    };
    // jwx refuses what it cannot parse as a key at all.
    jwk_key(first).map_err(|e| anyhow!("failed to parse JWK: {e}"))?;
    Ok(first.clone())
}

fn priv_bytes(o: &JsonMap, name: &str) -> Result<Vec<u8>> {
    bytes_member(o, name).map_err(|e| anyhow!("failed to sign: {e}"))
}

/// The signature of `msg` with `key` (a JWK) under `alg`.
fn sign(key: &JsonMap, alg: Alg, msg: &[u8]) -> Result<Vec<u8>> {
    let kty = key.get("kty").and_then(|k| k.as_str()).unwrap_or_default();
    let wrong = || anyhow!("failed to sign: a {kty} key cannot sign {}", alg.name());
    let rng = SystemRandom::new();
    match kty {
        "oct" => {
            let h = alg.hmac().ok_or_else(wrong)?;
            let k = priv_bytes(key, "k")?;
            Ok(hmac::sign(&hmac::Key::new(h, &k), msg).as_ref().to_vec())
        }
        "RSA" => {
            let enc = alg.rsa_sign().ok_or_else(wrong)?;
            let public_key = rsa::PublicKeyComponents {
                n: strip_zeros(&priv_bytes(key, "n")?),
                e: strip_zeros(&priv_bytes(key, "e")?),
            };
            let components = rsa::KeyPairComponents {
                public_key,
                d: priv_bytes(key, "d")?,
                p: priv_bytes(key, "p")?,
                q: priv_bytes(key, "q")?,
                dP: priv_bytes(key, "dp")?,
                dQ: priv_bytes(key, "dq")?,
                qInv: priv_bytes(key, "qi")?,
            };
            let pair = RsaKeyPair::from_components(&components)
                .map_err(|e| anyhow!("failed to sign: invalid RSA private key: {e}"))?;
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(enc, &rng, msg, &mut sig)
                .map_err(|_| anyhow!("failed to sign: RSA signing failed"))?;
            Ok(sig)
        }
        "EC" => {
            let curve = alg.curve().ok_or_else(wrong)?;
            let crv = key.get("crv").and_then(|c| c.as_str()).unwrap_or_default();
            if Curve::from_jwk(crv) != Some(curve) {
                return Err(wrong());
            }
            let pad = |v: Vec<u8>| pad_to(&v, curve.size()).ok_or_else(wrong);
            let d = pad(priv_bytes(key, "d")?)?;
            let mut point = vec![4];
            point.extend(pad(priv_bytes(key, "x")?)?);
            point.extend(pad(priv_bytes(key, "y")?)?);
            let pair = EcdsaKeyPair::from_private_key_and_public_key(curve.sign_alg(), &d, &point)
                .map_err(|e| anyhow!("failed to sign: invalid EC private key: {e}"))?;
            let sig = pair
                .sign(&rng, msg)
                .map_err(|_| anyhow!("failed to sign: ECDSA signing failed"))?;
            Ok(sig.as_ref().to_vec())
        }
        "OKP" => {
            let crv = key.get("crv").and_then(|c| c.as_str()).unwrap_or_default();
            if alg != Alg::EdDSA || crv != "Ed25519" {
                return Err(wrong());
            }
            let seed = priv_bytes(key, "d")?;
            let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
                .map_err(|e| anyhow!("failed to sign: invalid Ed25519 private key: {e}"))?;
            let sig = pair
                .try_sign(msg)
                .map_err(|_| anyhow!("failed to sign: Ed25519 signing failed"))?;
            Ok(sig.as_ref().to_vec())
        }
        _ => Err(wrong()),
    }
}

/// OPA's `commonBuiltinJWTEncodeSign`.
fn encode_sign_common(header: &str, payload: &str, jwk: &str) -> Result<Value> {
    let key = signing_key(jwk)?;
    let alg_name = header_string(header, "alg")
        .map_err(|e| anyhow!("missing or invalid 'alg' header: {e}"))?;
    let alg = Alg::parse(&alg_name).ok_or_else(|| anyhow!("unknown JWS algorithm: {alg_name}"))?;
    let typ = header_string(header, "typ");
    let is_json = serde_json::from_str::<IgnoredAny>(payload).is_ok();
    if typ.as_deref().map_or(true, |t| t == "JWT") && !is_json {
        bail!("type is JWT but payload is not JSON");
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = sign(&key, alg, signing_input.as_bytes())?;
    Ok(Value::from(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(sig)
    )))
}

fn marshal(v: &Value, what: &str) -> Result<String> {
    let mut s = String::new();
    go_json(v, &mut s).map_err(|e| anyhow!("failed to prepare JWT {what} for marshalling: {e}"))?;
    Ok(s)
}

/// `io.jwt.encode_sign(header, payload, jwk)`.
pub(super) fn encode_sign(args: &[Value]) -> Result<Value> {
    let header = marshal(&args[0], "headers")?;
    let payload = marshal(&args[1], "payload")?;
    let jwk = marshal(&args[2], "signature")?;
    encode_sign_common(&header, &payload, &jwk)
}

/// `io.jwt.encode_sign_raw(header, payload, jwk)`.
pub(super) fn encode_sign_raw(args: &[Value]) -> Result<Value> {
    const NAME: &str = "io.jwt.encode_sign_raw";
    let jwk = string_operand(NAME, 3, &args[2])?;
    let header = string_operand(NAME, 1, &args[0])?;
    let payload = string_operand(NAME, 2, &args[1])?;
    encode_sign_common(header, payload, jwk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING};
    use proptest::prelude::*;

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    fn json(text: &str) -> Value {
        Value::from_json_str(text).unwrap()
    }

    fn err(r: Result<Value>) -> String {
        r.expect_err("an error").to_string()
    }

    const HS_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwIiwiaXNzIjoib3BhIn0.XmVoLoHI3pxMtMO_WRONMSJzGUDP9pDjy8Jp0_tdRXY";

    /// RFC 7515 appendix A.2's RSA key (2048 bits), private.
    const RSA_JWK: &str = r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB","d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ","p":"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc","q":"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc","dp":"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0","dq":"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU","qi":"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"}"#;

    /// Its public half, with a `kid`.
    fn rsa_public() -> String {
        let v: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
        serde_json::json!({"kty": "RSA", "kid": "r1", "n": v["n"], "e": v["e"]}).to_string()
    }

    const ED_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"wEZFfoAj1rFKTLOOmjJjVZlCHwksuvMb2I5y_hg70E8","d":"9XI34uQzYUJfWhDZf_0nYsLMBRVu8a6dFsy60P8uugk"}"#;
    const ED_PUBLIC: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"wEZFfoAj1rFKTLOOmjJjVZlCHwksuvMb2I5y_hg70E8"}"#;
    const OCT_JWK: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
    const CLAIMS: &str = r#"{"aud": ["bob", "saul"], "exp": 1300819380, "http://example.com/is_root": true, "iss": "joe", "privateParams": {"private_one": "one", "private_two": "two"}}"#;

    fn sign_raw(header: &str, payload: &str, jwk: &str) -> String {
        match encode_sign_raw(&[s(header), s(payload), s(jwk)]).unwrap() {
            Value::String(t) => t.to_string(),
            other => panic!("{other:?}"),
        }
    }

    fn bool_of(v: Result<Value>) -> bool {
        match v.unwrap() {
            Value::Bool(b) => b,
            other => panic!("{other:?}"),
        }
    }

    /// A token signed by hand with an aws-lc-rs key pair (ECDSA, fixed).
    fn es_token(alg: &str, pair: &EcdsaKeyPair, claims: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#)),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn ec_cert(
        alg: &'static rcgen::SignatureAlgorithm,
        signing: &'static signature::EcdsaSigningAlgorithm,
    ) -> (String, String, EcdsaKeyPair) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(signing, &key.serialize_der()).unwrap();
        (cert.pem(), key.public_key_pem(), pair)
    }

    #[test]
    fn decode_answers_header_payload_and_signature_hex() {
        let out = decode(&[s(HS_TOKEN)]).unwrap();
        assert_eq!(
            out,
            json(
                r#"[{"alg":"HS256","typ":"JWT"},{"iss":"opa","sub":"0"},"5e65682e81c8de9c4cb4c3bf59138d3122731940cff690e3cbc269d3fb5d4576"]"#
            )
        );
        // A nested token (cty JWT, the inner token quoted) decodes to the inner one.
        let nested = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImN0eSI6IkpXVCJ9.ImV5SmhiR2NpT2lKSVV6STFOaUlzSW5SNWNDSTZJa3BYVkNKOS5leUp6ZFdJaU9pSXdJaXdpYVhOeklqb2liM0JoSW4wLlhtVm9Mb0hJM3B4TXRNT19XUk9OTVNKekdVRFA5cERqeThKcDBfdGRSWFki.8W0qx4mLxslmZl7wEMUWBxH7tST3XsEuWXxesXqFnRI";
        assert_eq!(decode(&[s(nested)]).unwrap(), out);
    }

    #[test]
    fn decode_errors_as_opa_does() {
        assert_eq!(
            err(decode(&[s("abc")])),
            "encoded JWT had no period separators"
        );
        assert_eq!(
            err(decode(&[s("a.b")])),
            "encoded JWT must have 3 sections, found 2"
        );
        assert_eq!(
            err(decode(&[Value::from(1)])),
            "io.jwt.decode: operand 1 must be string but got number"
        );
        assert_eq!(
            err(decode(&[s(
                "eyJhbGciOiJIU^%zI1NiI+sInR5cCI6IkpXVCJ9.eyJzdWIiOiIwIiwiaXNzIjoib3BhIn0.XmVo"
            )])),
            "JWT header had invalid encoding: illegal base64 data at input byte 13"
        );
        assert!(err(decode(&[s(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwIiwia/XNzIjoib3BhIn0.XmVo"
        )]))
        .starts_with("JWT payload had invalid encoding: illegal base64 data at input byte 17"));
        let jwe = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImVuYyI6ImJsYWgifQ.eyJuZXciOiJJIGFtIGEgdXNlciBjcmVhdGVkIGZpZWxkIiwiaXNzIjoib3BhIn0.McGUb1e-UviZKy6UyQErNNQzEUgeV25Buwk7OHOa8U8";
        assert_eq!(
            err(decode(&[s(jwe)])),
            "JWT is a JWE object, which is not supported"
        );
        // A payload that is not an object, a header that is not JSON.
        let t = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode("[1]")
        );
        assert_eq!(err(decode(&[s(&t)])), "decoded JSON type was not an Object");
        let t = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode("{"),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert!(err(decode(&[s(&t)])).starts_with("bad JWT header: invalid JSON"));
        // A non-string `cty` (OPA crashes) is an error.
        let t = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"cty":1}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert!(decode(&[s(&t)]).is_err());
    }

    #[test]
    fn base64url_is_opas() {
        assert_eq!(b64url("Zm9v").unwrap(), b"foo");
        assert_eq!(b64url("Zm8").unwrap(), b"fo");
        assert_eq!(b64url("Zm8=").unwrap(), b"fo");
        assert_eq!(b64url("Zm9").unwrap(), b"fo"); // Go ignores the last bits
        assert!(b64url("Zm9vY").is_err());
        assert!(b64url("Zm\n9v").is_err()); // length 5, as OPA counts it
        assert_eq!(b64url("Zm9v\r\nZm8=").unwrap(), b"foofo");
        assert_eq!(b64url("").unwrap(), b"");
    }

    #[test]
    fn hmac_tokens_verify_with_their_secret_only() {
        let tok = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiYWxpY2UiLCJhenAiOiJhbGljZSIsInN1Ym9yZGluYXRlcyI6W10sImhyIjpmYWxzZX0.rz3jTY033z-NrKfwrK89_dcLF7TN4gwCMj-fVBDyLoM";
        assert!(bool_of(verify_hs256(&[s(tok), s("secret")])));
        assert!(!bool_of(verify_hs256(&[s(tok), s("secreT")])));
        assert!(!bool_of(verify_hs384(&[s(tok), s("secret")])));
        assert_eq!(
            err(verify_hs256(&[s("a.b"), s("secret")])),
            "encoded JWT must have 3 sections, found 2"
        );
        assert_eq!(
            err(verify_hs256(&[s(tok), Value::Null])),
            "io.jwt.verify_hs256: operand 2 must be string but got null"
        );
    }

    #[test]
    fn encode_sign_gives_opas_exact_tokens() {
        let hs = encode_sign(&[
            json(r#"{"alg":"HS256","typ":"JWT"}"#),
            json(CLAIMS),
            json(OCT_JWK),
        ])
        .unwrap();
        assert_eq!(hs, s("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOlsiYm9iIiwic2F1bCJdLCJleHAiOjEzMDA4MTkzODAsImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlLCJpc3MiOiJqb2UiLCJwcml2YXRlUGFyYW1zIjp7InByaXZhdGVfb25lIjoib25lIiwicHJpdmF0ZV90d28iOiJ0d28ifX0.-Or2eol8bzly-Ztb0v7_7UkcKBkN_aNNpK33HK0MeOY"));
        let ed = encode_sign(&[
            json(r#"{"alg":"EdDSA","typ":"JWT"}"#),
            json(CLAIMS),
            json(ED_JWK),
        ])
        .unwrap();
        assert_eq!(ed, s("eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJhdWQiOlsiYm9iIiwic2F1bCJdLCJleHAiOjEzMDA4MTkzODAsImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlLCJpc3MiOiJqb2UiLCJwcml2YXRlUGFyYW1zIjp7InByaXZhdGVfb25lIjoib25lIiwicHJpdmF0ZV90d28iOiJ0d28ifX0.T_X7SzKEehTnRdgYrDobpKO-EqZ0LW3Y-idx16wNHXCL5aiR24h2Ei0pWRHG2X2BYomwbvNwyxPcasgHqs_eBA"));
        let rs = encode_sign(&[json(r#"{"alg":"RS256"}"#), json(CLAIMS), json(RSA_JWK)]).unwrap();
        assert!(matches!(&rs, Value::String(t) if t.ends_with("tAGzpZnhg")));
        // Sets become arrays; Go escapes HTML characters.
        let raw = encode_sign(&[
            json(r#"{"alg":"HS256"}"#),
            Value::from_json_str(r#"{"a":"<&>\u2028\b\u0001"}"#).unwrap(),
            json(OCT_JWK),
        ])
        .unwrap();
        let Value::String(t) = raw else { panic!() };
        let payload = t.split('.').nth(1).unwrap();
        assert_eq!(
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap(),
            r#"{"a":"\u003c\u0026\u003e\u2028\b\u0001"}"#
        );
    }

    #[test]
    fn encode_sign_raw_errors_as_opa_does() {
        let e = |h: &str, p: &str| err(encode_sign_raw(&[s(h), s(p), s(OCT_JWK)]));
        assert_eq!(
            e("", "{}"),
            "missing or invalid 'alg' header: cannot parse JSON: cannot parse empty string"
        );
        assert_eq!(
            e("{}", "{}"),
            "missing or invalid 'alg' header: jwsbb: header \"alg\" not found"
        );
        assert_eq!(
            e(r#"{"alg":"dummy"}"#, "{}"),
            "unknown JWS algorithm: dummy"
        );
        assert_eq!(e(r#"{"alg":"none"}"#, "{}"), "unknown JWS algorithm: none");
        assert!(e(r#"{"alg":"HS256""#, "{}")
            .starts_with("missing or invalid 'alg' header: cannot parse JSON"));
        assert_eq!(
            e(r#"{"alg":"HS256"}"#, "x"),
            "type is JWT but payload is not JSON"
        );
        // Not JSON is fine when the type says so.
        let t = sign_raw(r#"{"typ":"text/plain","alg":"HS256"}"#, "", OCT_JWK);
        assert!(t.contains(".."));
        // The key must fit the algorithm; a public key cannot sign.
        assert!(encode_sign_raw(&[s(r#"{"alg":"RS256"}"#), s("{}"), s(OCT_JWK)]).is_err());
        assert!(encode_sign_raw(&[s(r#"{"alg":"EdDSA"}"#), s("{}"), s(ED_PUBLIC)]).is_err());
        assert!(encode_sign_raw(&[s(r#"{"alg":"HS256"}"#), s("{}"), s(r#"{"keys":[]}"#)]).is_err());
    }

    #[test]
    fn asymmetric_tokens_verify_with_pem_jwk_and_jwks() {
        let rs = sign_raw(r#"{"alg":"RS256"}"#, r#"{"iss":"x"}"#, RSA_JWK);
        let public = rsa_public();
        assert!(bool_of(verify_rs256(&[s(&rs), s(&public)])));
        let set = format!(r#"{{"keys":[{ED_PUBLIC},{public}]}}"#);
        assert!(bool_of(verify_rs256(&[s(&rs), s(&set)])));
        // RFC 8725 §3.1: the header names the algorithm verified with.
        assert!(!bool_of(verify_ps256(&[s(&rs), s(&public)])));
        let ps = sign_raw(r#"{"alg":"PS256"}"#, r#"{"iss":"x"}"#, RSA_JWK);
        assert!(bool_of(verify_ps256(&[s(&ps), s(&public)])));
        assert!(!bool_of(verify_rs256(&[s(&ps), s(&public)])));
        let ed = sign_raw(r#"{"alg":"EdDSA"}"#, r#"{"iss":"x"}"#, ED_JWK);
        assert!(bool_of(verify_eddsa(&[s(&ed), s(ED_PUBLIC)])));
        assert!(!bool_of(verify_eddsa(&[s(&ed), s(&public)])));

        let (cert, pem, pair) = ec_cert(
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &ECDSA_P256_SHA256_FIXED_SIGNING,
        );
        let es = es_token("ES256", &pair, "{}");
        assert!(bool_of(verify_es256(&[s(&es), s(&cert)])));
        assert!(bool_of(verify_es256(&[s(&es), s(&pem)])));
        // A P-256 key never verifies ES384, nor a P-384 key ES256.
        assert!(!bool_of(verify_es384(&[
            s(&es_token("ES384", &pair, "{}")),
            s(&cert)
        ])));
        let (cert384, _, pair384) = ec_cert(
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &ECDSA_P384_SHA384_FIXED_SIGNING,
        );
        assert!(bool_of(verify_es384(&[
            s(&es_token("ES384", &pair384, "{}")),
            s(&cert384)
        ])));
        assert!(!bool_of(verify_es256(&[s(&es), s(&cert384)])));
    }

    #[test]
    fn key_arguments_error_as_opa_does() {
        let rs = sign_raw(r#"{"alg":"RS256"}"#, "{}", RSA_JWK);
        let (cert, _, _) = ec_cert(
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &ECDSA_P256_SHA256_FIXED_SIGNING,
        );
        let e = |k: &str| err(verify_rs256(&[s(&rs), s(k)]));
        assert_eq!(
            e(&format!("{cert}\n")),
            "extra data after a PEM certificate block"
        );
        assert_eq!(
            e("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"),
            "failed to extract a Key from the PEM certificate"
        );
        assert!(
            e("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .starts_with("failed to parse a PEM certificate")
        );
        assert!(e(r#"{"kty":"bogus"}"#).starts_with("failed to parse a JWK key (set)"));
        assert!(e("not json").starts_with("failed to parse a JWK key (set)"));
        // A block Go does not recognise (END type differs) is read as JSON.
        assert!(e("-----BEGIN A-----\nAAAA\n-----END B-----\n")
            .starts_with("failed to parse a JWK key (set)"));
        // The signature is decoded before the header.
        assert_eq!(
            err(verify_rs256(&[s("e30.e30.a(b"), s(&rsa_public())])),
            "illegal base64 data at input byte 1"
        );
    }

    #[test]
    fn pem_decode_is_gos() {
        let body = "-----BEGIN X-----\nAAAA\n-----END X-----";
        let (t, b, rest) = pem_decode(body.as_bytes()).unwrap();
        assert_eq!(
            (t.as_str(), b.as_slice(), rest),
            ("X", &[0u8, 0, 0][..], &b""[..])
        );
        let with_rest = format!("junk\n{body}\n\nmore");
        assert_eq!(pem_decode(with_rest.as_bytes()).unwrap().2, b"\nmore");
        assert!(pem_decode(b"-----BEGIN X-----\nAAA\n-----END X-----").is_none());
        assert!(pem_decode(b"{\"kty\":\"oct\"}").is_none());
        let headers = "-----BEGIN X-----\nProc-Type: 4\n\nAAAA\n-----END X-----\n";
        assert!(pem_decode(headers.as_bytes()).is_some());
    }

    fn dv(token: &str, constraints: &str) -> Result<Value> {
        decode_verify(&[s(token), json(constraints)])
    }

    fn unverified() -> Value {
        json("[false, {}, {}]")
    }

    #[test]
    fn decode_verify_checks_signature_and_claims() {
        let tok = sign_raw(
            r#"{"alg":"HS256"}"#,
            r#"{"iss":"xxx","aud":["fred","bob"],"nbf":1000,"exp":3000}"#,
            r#"{"kty":"oct","k":"c2VjcmV0"}"#,
        );
        let ok = |c: &str| dv(&tok, c).unwrap();
        let base = r#""secret": "secret", "time": 2000000000000, "aud": "bob""#;
        assert_eq!(
            ok(&format!("{{{base}}}")),
            json(
                r#"[true, {"alg":"HS256"}, {"iss":"xxx","aud":["fred","bob"],"nbf":1000,"exp":3000}]"#
            )
        );
        assert_eq!(
            ok(&format!(r#"{{{base}, "iss": "xxx", "alg": "HS256"}}"#))
                .as_array()
                .unwrap()[0],
            Value::Bool(true)
        );
        for bad in [
            r#""iss": "yyy""#,
            r#""alg": "HS384""#,
            r#""time": 3000000000000"#,
            r#""time": 999999999999"#,
        ] {
            let c = format!(
                "{{{}, {bad}}}",
                base.replace(r#", "time": 2000000000000"#, "")
            );
            let c = if bad.contains("time") {
                c
            } else {
                format!("{{{base}, {bad}}}")
            };
            assert_eq!(ok(&c), unverified(), "{c}");
        }
        assert_eq!(
            ok(r#"{"secret": "secret", "time": 2000000000000}"#),
            unverified()
        );
        assert_eq!(
            ok(r#"{"secret": "wrong", "time": 2000000000000, "aud": "bob"}"#),
            unverified()
        );
        // exp is exclusive, nbf inclusive.
        assert_eq!(
            ok(r#"{"secret": "secret", "time": 3000000000000, "aud": "bob"}"#),
            unverified()
        );
        assert_eq!(
            ok(r#"{"secret": "secret", "time": 1000000000000, "aud": "bob"}"#)
                .as_array()
                .unwrap()[0],
            Value::Bool(true)
        );
    }

    #[test]
    fn decode_verify_constraint_errors_are_opas() {
        let tok = sign_raw(
            r#"{"alg":"HS256"}"#,
            "{}",
            r#"{"kty":"oct","k":"c2VjcmV0"}"#,
        );
        let e = |c: &str| err(dv(&tok, c));
        assert_eq!(e("{}"), "no key constraint");
        assert_eq!(e(r#"{"secret": ""}"#), "no key constraint");
        assert_eq!(
            e(&format!(r#"{{"secret": "s", "cert": {:?}}}"#, rsa_public())),
            "duplicate key constraints"
        );
        assert_eq!(
            e(r#"{"secret": "s", "foo": 1}"#),
            "unknown token validation constraint: foo"
        );
        assert_eq!(e(r#"{"secret": 1}"#), "secret constraint: must be a string");
        assert_eq!(e(r#"{"cert": 1}"#), "cert constraint: must be a string");
        assert_eq!(
            e(r#"{"secret": "s", "time": "x"}"#),
            "token time constraint: must be a number"
        );
        assert_eq!(
            e(r#"{"secret": "s", "time": -1}"#),
            "token time constraint: must not be negative"
        );
        assert_eq!(
            err(decode_verify(&[s(&tok), s("x")])),
            "io.jwt.decode_verify: operand 2 must be object but got string"
        );
        // exp, nbf and iss of the wrong type, once the signature holds.
        for (claims, msg) in [
            (r#"{"exp": null}"#, "exp value must be a number"),
            (r#"{"nbf": "1"}"#, "nbf value must be a number"),
        ] {
            let t = sign_raw(
                r#"{"alg":"HS256"}"#,
                claims,
                r#"{"kty":"oct","k":"c2VjcmV0"}"#,
            );
            assert_eq!(err(dv(&t, r#"{"secret": "secret"}"#)), msg);
            assert_eq!(dv(&t, r#"{"secret": "wrong"}"#).unwrap(), unverified());
        }
        let t = sign_raw(
            r#"{"alg":"HS256"}"#,
            r#"{"iss": 5}"#,
            r#"{"kty":"oct","k":"c2VjcmV0"}"#,
        );
        assert!(dv(&t, r#"{"secret": "secret", "iss": "x"}"#).is_err());
    }

    #[test]
    fn decode_verify_refuses_what_rfc_8725_forbids() {
        let public = rsa_public();
        let rs = sign_raw(r#"{"alg":"RS256","kid":"r1"}"#, "{}", RSA_JWK);
        let cert = |t: &str| dv(t, &serde_json::json!({ "cert": public }).to_string()).unwrap();
        assert_eq!(cert(&rs).as_array().unwrap()[0], Value::Bool(true));
        // `crit` is never understood.
        let crit = sign_raw(r#"{"alg":"RS256","crit":["exp"]}"#, "{}", RSA_JWK);
        assert_eq!(cert(&crit), unverified());
        // `none` and a missing alg.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert_eq!(cert(&none), unverified());
        let none = format!(
            "{}.{}.AA",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert_eq!(cert(&none), unverified());
        // Algorithm confusion: an HMAC token whose secret is the public key.
        let confused = sign_raw(
            r#"{"alg":"HS256"}"#,
            "{}",
            &serde_json::json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(&public)}).to_string(),
        );
        assert_eq!(cert(&confused), unverified());
        assert_eq!(
            dv(
                &confused,
                &serde_json::json!({ "secret": public }).to_string()
            )
            .unwrap(),
            unverified()
        );
        assert!(!bool_of(verify_hs256(&[s(&confused), s(&public)])));
        // A JWK's alg binds it.
        let pinned = serde_json::json!({"keys": [{"kty": "RSA", "alg": "PS256", "kid": "r1",
            "n": serde_json::from_str::<serde_json::Value>(&public).unwrap()["n"], "e": "AQAB"}]});
        assert_eq!(
            dv(
                &rs,
                &serde_json::json!({"cert": pinned.to_string()}).to_string()
            )
            .unwrap(),
            unverified()
        );
    }

    #[test]
    fn decode_verify_follows_nested_tokens() {
        let key = r#"{"kty":"oct","k":"c2VjcmV0"}"#;
        let inner = sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, r#"{"iss":"xxx"}"#, key);
        let outer = sign_raw(r#"{"alg":"HS256","typ":"x","cty":"jwt"}"#, &inner, key);
        assert_eq!(
            dv(&outer, r#"{"secret": "secret"}"#).unwrap(),
            json(r#"[true, {"alg":"HS256","typ":"JWT"}, {"iss":"xxx"}]"#)
        );
        let bad_inner = format!("{}x", &inner[..inner.len() - 1]);
        let outer = sign_raw(r#"{"alg":"HS256","typ":"x","cty":"JWT"}"#, &bad_inner, key);
        assert_eq!(dv(&outer, r#"{"secret": "secret"}"#).unwrap(), unverified());
    }

    fn token_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9_=.-]{0,40}",
            ".{0,40}",
            (
                prop::sample::select(vec![
                    "{\"alg\":\"HS256\"}",
                    "{\"alg\":\"RS256\",\"crit\":[1]}",
                    "{}",
                    "[",
                    "{\"enc\":1}",
                    "{\"cty\":\"JWT\"}"
                ]),
                ".{0,12}",
                "[A-Za-z0-9_-]{0,8}"
            )
                .prop_map(|(h, p, sig)| format!(
                    "{}.{}.{sig}",
                    URL_SAFE_NO_PAD.encode(h),
                    URL_SAFE_NO_PAD.encode(p)
                )),
        ]
    }

    fn key_like() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,40}",
            Just(rsa_public()),
            Just(ED_PUBLIC.to_string()),
            "-----BEGIN (CERTIFICATE|PUBLIC KEY|X)-----\n[A-Za-z0-9+/=\n]{0,40}\n-----END (CERTIFICATE|PUBLIC KEY|X)-----\n?",
            "\\{\"kty\":\"(RSA|EC|OKP|oct)\",\"(n|e|x|y|k|crv)\":\"[A-Za-z0-9_-]{0,12}\"\\}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// No input panics; a token that is not three segments is an error.
        #[test]
        fn random_inputs_never_panic(token in token_like(), key in key_like(), secret in ".{0,12}") {
            let t = s(&token);
            let _ = decode(std::slice::from_ref(&t));
            let _ = verify_rs256(&[t.clone(), s(&key)]);
            let _ = verify_es512(&[t.clone(), s(&key)]);
            let _ = verify_eddsa(&[t.clone(), s(&key)]);
            let _ = verify_hs512(&[t.clone(), s(&secret)]);
            let c = serde_json::json!({"cert": key, "time": 1}).to_string();
            let _ = decode_verify(&[t.clone(), json(&c)]);
            let c = serde_json::json!({"secret": secret, "iss": "x", "aud": "y"}).to_string();
            let r = decode_verify(&[t.clone(), json(&c)]);
            if token.split('.').count() != 3 {
                prop_assert!(r.is_err());
                prop_assert!(decode(std::slice::from_ref(&t)).is_err());
                prop_assert!(verify_hs256(&[t.clone(), s(&secret)]).is_err());
            }
            let _ = encode_sign_raw(&[s(&secret), s(&token), s(&key)]);
        }
    }
}
