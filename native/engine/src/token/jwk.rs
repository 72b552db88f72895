//! Key sets: JWKS documents parsed once per revision into verification keys.
//!
//! Every key is checked before use; a key that fails a check is skipped
//! (and the reason kept for diagnostics), never used:
//!
//! * `kty` must be `RSA`, `EC` or `OKP`; symmetric (`oct`) keys never verify
//!   tokens from a key set;
//! * RSA moduli of at least 2048 bits, public exponent odd and at least 3;
//! * EC on `P-256` or `P-384` with coordinates of the curve's size; OKP on
//!   `Ed25519` with a 32-byte `x`;
//! * `use`, when present, must be `sig`; `key_ops`, when present, must
//!   include `verify`; `alg`, when present, must be allow-listed and fit the
//!   key type and curve;
//! * a `kid` shared by two keys is ambiguous: neither is used.
//!
//! A document carrying private key material (`d`, `p`, `q`, `dp`, `dq`,
//! `qi`, `oth`, `k`) is refused whole: publishing private keys is a
//! compromise, not a configuration.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::DecodingKey;

use super::alg::{Alg, KeyKind};
use super::compact;
use super::error::TokenError;

/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Most keys used from one document.
pub const MAX_KEYS: usize = 100;

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// One verification key.
pub struct VerifyKey {
    /// The key id, when the JWK has one.
    pub kid: Option<String>,
    /// The key family.
    pub kind: KeyKind,
    /// The `alg` the JWK pins, if any.
    pub alg: Option<Alg>,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish()
    }
}

impl VerifyKey {
    /// Whether this key may verify a token signed with `alg`.
    pub fn fits(&self, alg: Alg) -> bool {
        self.kind == alg.key_kind() && self.alg.is_none_or(|a| a == alg)
    }
}

/// A parsed key set.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Arc<VerifyKey>>,
    by_kid: HashMap<String, usize>,
    /// Keys that were skipped, with the reason (no key material in it).
    pub skipped: Vec<String>,
}

impl KeySet {
    /// Parses a JWKS document, keeping the keys usable with `allowed`.
    pub fn from_jwks(text: &str, allowed: &[Alg]) -> Result<KeySet, TokenError> {
        if text.len() > MAX_JWKS_BYTES {
            return Err(invalid(format!(
                "document larger than {MAX_JWKS_BYTES} bytes"
            )));
        }
        let doc = compact::object(text.as_bytes(), "key set")
            .map_err(|_| invalid("not a JSON object with unique members"))?;
        let Some(serde_json::Value::Array(items)) = doc.get("keys") else {
            return Err(invalid("no \"keys\" array"));
        };
        if items.iter().any(|k| {
            k.as_object()
                .is_some_and(|o| PRIVATE_MEMBERS.iter().any(|m| o.contains_key(*m)))
        }) {
            return Err(invalid(
                "the document contains private or symmetric key material",
            ));
        }
        let mut set = KeySet::default();
        let mut kid_count: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate().take(MAX_KEYS) {
            match parse_key(item, allowed) {
                Ok(key) => {
                    if let Some(kid) = &key.kid {
                        *kid_count.entry(kid.clone()).or_default() += 1;
                    }
                    set.keys.push(Arc::new(key));
                }
                Err(reason) => set.skipped.push(format!("key #{i}: {reason}")),
            }
        }
        if items.len() > MAX_KEYS {
            set.skipped
                .push(format!("keys after the first {MAX_KEYS} ignored"));
        }
        // Ambiguous kids: drop every key that shares one.
        let before = set.keys.len();
        set.keys
            .retain(|k| k.kid.as_ref().is_none_or(|kid| kid_count[kid] == 1));
        if set.keys.len() != before {
            set.skipped.push(format!(
                "{} keys dropped: duplicate kid",
                before - set.keys.len()
            ));
        }
        for (i, k) in set.keys.iter().enumerate() {
            if let Some(kid) = &k.kid {
                set.by_kid.insert(kid.clone(), i);
            }
        }
        Ok(set)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` exists.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The keys that may verify a token with this `kid` (exact lookup, never
    /// interpreted) and `alg`. Without a `kid`, every fitting key.
    pub fn candidates(&self, kid: Option<&str>, alg: Alg) -> Vec<Arc<VerifyKey>> {
        match kid {
            Some(kid) => self
                .by_kid
                .get(kid)
                .map(|&i| self.keys[i].clone())
                .filter(|k| k.fits(alg))
                .into_iter()
                .collect(),
            None => self.keys.iter().filter(|k| k.fits(alg)).cloned().collect(),
        }
    }
}

fn invalid(reason: impl Into<String>) -> TokenError {
    TokenError::KeySetInvalid {
        reason: reason.into(),
    }
}

fn str_member<'a>(
    o: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match o.get(name) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

fn b64_member(
    o: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let s = str_member(o, name)?.ok_or_else(|| format!("missing \"{name}\""))?;
    compact::b64(s, name).map_err(|_| format!("\"{name}\" is not base64url"))
}

fn parse_key(item: &serde_json::Value, allowed: &[Alg]) -> Result<VerifyKey, String> {
    let o = item.as_object().ok_or("not an object")?;
    let kty = str_member(o, "kty")?.ok_or("missing \"kty\"")?;
    let kid = str_member(o, "kid")?.map(str::to_string);
    if let Some(u) = str_member(o, "use")? {
        if u != "sig" {
            return Err(format!("\"use\" is {u:?}, not \"sig\""));
        }
    }
    if let Some(ops) = o.get("key_ops") {
        let ok = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|op| op.as_str() == Some("verify")));
        if !ok {
            return Err("\"key_ops\" does not include \"verify\"".into());
        }
    }
    let (kind, key) = match kty {
        "RSA" => {
            let n = strip_zeros(b64_member(o, "n")?);
            let e = strip_zeros(b64_member(o, "e")?);
            if let Some(problem) = rsa_key_problem(&n, &e) {
                return Err(problem);
            }
            (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        "EC" => {
            let (kind, size) = match str_member(o, "crv")? {
                Some("P-256") => (KeyKind::P256, 32),
                Some("P-384") => (KeyKind::P384, 48),
                other => return Err(format!("unsupported EC curve {other:?}")),
            };
            let x = b64_member(o, "x")?;
            let y = b64_member(o, "y")?;
            if x.len() != size || y.len() != size {
                return Err("EC coordinates of the wrong size".into());
            }
            let key = DecodingKey::from_ec_components(
                str_member(o, "x")?.unwrap_or_default(),
                str_member(o, "y")?.unwrap_or_default(),
            )
            .map_err(|_| "invalid EC coordinates".to_string())?;
            (kind, key)
        }
        "OKP" => {
            match str_member(o, "crv")? {
                Some("Ed25519") => {}
                other => return Err(format!("unsupported OKP curve {other:?}")),
            }
            if b64_member(o, "x")?.len() != 32 {
                return Err("Ed25519 key of the wrong size".into());
            }
            let key = DecodingKey::from_ed_components(str_member(o, "x")?.unwrap_or_default())
                .map_err(|_| "invalid Ed25519 key".to_string())?;
            (KeyKind::Ed25519, key)
        }
        "oct" => return Err("symmetric keys never verify tokens from a key set".into()),
        other => return Err(format!("unsupported kty {other:?}")),
    };
    let alg = match str_member(o, "alg")? {
        None => None,
        Some(name) => {
            let alg = Alg::parse(name).ok_or_else(|| format!("alg {name:?} is not supported"))?;
            if !allowed.contains(&alg) {
                return Err(format!("alg {name} is not allowed"));
            }
            if alg.key_kind() != kind {
                return Err(format!("alg {name} does not fit the key type or curve"));
            }
            Some(alg)
        }
    };
    if !allowed.iter().any(|a| a.key_kind() == kind) {
        return Err("no allowed algorithm uses this key type".into());
    }
    Ok(VerifyKey {
        kid,
        kind,
        alg,
        key,
    })
}

/// Why an RSA public key (modulus `n` and exponent `e`, big-endian, without
/// leading zero bytes) must not verify anything, if it must not: fewer than
/// 2048 or more than 8192 bits, a ROCA-vulnerable modulus, or an exponent
/// that is even, below 3 or longer than 8 bytes. Every verifier in CoreSDK
/// (key sets and the policy builtins `io.jwt.*`) applies these checks.
pub(crate) fn rsa_key_problem(n: &[u8], e: &[u8]) -> Option<String> {
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if bits < 2048 {
        return Some(format!("RSA key of {bits} bits (at least 2048 required)"));
    }
    if bits > 8192 {
        return Some(format!("RSA key of {bits} bits (at most 8192)"));
    }
    if roca::is_vulnerable(n) {
        return Some("RSA key generated by a ROCA-vulnerable library (CVE-2017-15361)".into());
    }
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    if e.is_empty() || e.len() > 8 || !e_odd || (e.len() == 1 && e[0] < 3) {
        return Some("RSA public exponent must be odd and at least 3".into());
    }
    None
}

/// Detection of RSA moduli from the Infineon library flaw (ROCA, Nemec et
/// al., CCS 2017): such a modulus `N` lies, modulo each of a set of small
/// primes `p`, in the subgroup generated by 65537. A random modulus does so
/// for all of them with negligible probability.
mod roca {
    const PRIMES: [u32; 37] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163,
    ];

    fn rem(n: &[u8], p: u32) -> u32 {
        n.iter().fold(0u32, |r, b| ((r << 8) | u32::from(*b)) % p)
    }

    fn in_subgroup(r: u32, p: u32) -> bool {
        let g = 65537 % p;
        let mut x = 1u32;
        for _ in 0..p {
            if x == r {
                return true;
            }
            x = x * g % p;
            if x == 1 {
                break;
            }
        }
        false
    }

    pub(super) fn is_vulnerable(n: &[u8]) -> bool {
        PRIMES.iter().all(|&p| in_subgroup(rem(n, p), p))
    }
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let nz = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    v.drain(..nz);
    v
}
