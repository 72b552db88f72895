//! `crypto.md5`, `crypto.sha1`, `crypto.sha256`, `crypto.hmac.md5`,
//! `crypto.hmac.sha1`, `crypto.hmac.sha256`, `crypto.hmac.sha512` and
//! `crypto.hmac.equal`, as OPA computes them.
//!
//! regorus 0.14.1 has the digests only behind a cargo feature the engine
//! does not enable, and no `crypto.hmac.*`. Here the digests are RustCrypto's
//! (`md-5`, `sha1`, `sha2`, `hmac`), written as lowercase hex as OPA writes
//! them; the operands are the strings' UTF-8 bytes (OPA's
//! `StringOperandByteSlice`). `crypto.hmac.equal` compares in constant time
//! (`subtle`, as Go's `hmac.Equal`): operands of different lengths are
//! unequal.

use anyhow::Result;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::Md5;
use regorus::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::string_operand;

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> Value {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    Value::String(s.into())
}

/// The digest `D` of the one string operand of builtin `name`, in hex.
fn digest<D: Digest>(name: &str, args: &[Value]) -> Result<Value> {
    let s = string_operand(name, 1, &args[0])?;
    Ok(hex(&D::digest(s.as_bytes())))
}

/// The MAC `M` (an HMAC) of message `args[0]` under key `args[1]`, in
/// hex.
fn hmac<M: Mac + KeyInit>(name: &str, args: &[Value]) -> Result<Value> {
    let message = string_operand(name, 1, &args[0])?;
    let key = string_operand(name, 2, &args[1])?;
    // HMAC takes a key of any length (a long one is hashed first).
    let mut mac = <M as KeyInit>::new_from_slice(key.as_bytes())
        .map_err(|_| anyhow::anyhow!("{name}: invalid key"))?;
    mac.update(message.as_bytes());
    Ok(hex(&mac.finalize().into_bytes()))
}

/// `crypto.md5(string)`.
pub(super) fn md5(args: &[Value]) -> Result<Value> {
    digest::<Md5>("crypto.md5", args)
}

/// `crypto.sha1(string)`.
pub(super) fn sha1(args: &[Value]) -> Result<Value> {
    digest::<Sha1>("crypto.sha1", args)
}

/// `crypto.sha256(string)`.
pub(super) fn sha256(args: &[Value]) -> Result<Value> {
    digest::<Sha256>("crypto.sha256", args)
}

/// `crypto.hmac.md5(message, key)`.
pub(super) fn hmac_md5(args: &[Value]) -> Result<Value> {
    hmac::<Hmac<Md5>>("crypto.hmac.md5", args)
}

/// `crypto.hmac.sha1(message, key)`.
pub(super) fn hmac_sha1(args: &[Value]) -> Result<Value> {
    hmac::<Hmac<Sha1>>("crypto.hmac.sha1", args)
}

/// `crypto.hmac.sha256(message, key)`.
pub(super) fn hmac_sha256(args: &[Value]) -> Result<Value> {
    hmac::<Hmac<Sha256>>("crypto.hmac.sha256", args)
}

/// `crypto.hmac.sha512(message, key)`.
pub(super) fn hmac_sha512(args: &[Value]) -> Result<Value> {
    hmac::<Hmac<Sha512>>("crypto.hmac.sha512", args)
}

/// `crypto.hmac.equal(mac1, mac2)`: the two strings' bytes compared in
/// constant time.
pub(super) fn hmac_equal(args: &[Value]) -> Result<Value> {
    let a = string_operand("crypto.hmac.equal", 1, &args[0])?;
    let b = string_operand("crypto.hmac.equal", 2, &args[1])?;
    Ok(Value::Bool(a.as_bytes().ct_eq(b.as_bytes()).into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn digests_are_lowercase_hex() {
        assert_eq!(
            md5(&[s("lorem ipsum")]).unwrap(),
            s("80a751fde577028640c419000e33eba6")
        );
        assert_eq!(
            sha1(&[s("lorem ipsum")]).unwrap(),
            s("bfb7759a67daeb65410490b4d98bb9da7d1ea2ce")
        );
        assert_eq!(
            sha256(&[s("lorem ipsum")]).unwrap(),
            s("5e2bf57d3f40c4b6df69daf1936cb766f832374b4fc0259a7cbff06e2f70f269")
        );
        assert_eq!(
            sha256(&[s("")]).unwrap(),
            s("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert!(md5(&[Value::from(1)]).is_err());
    }

    #[test]
    fn hmacs_match_rfc_4231_and_opa() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256(&[s("what do ya want for nothing?"), s("Jefe")]).unwrap(),
            s("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(
            hmac_sha512(&[s("what do ya want for nothing?"), s("Jefe")]).unwrap(),
            s("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")
        );
        // RFC 2202.
        assert_eq!(
            hmac_md5(&[s("what do ya want for nothing?"), s("Jefe")]).unwrap(),
            s("750c783e6ab0b503eaa86e310a5db738")
        );
        assert_eq!(
            hmac_sha1(&[s("what do ya want for nothing?"), s("Jefe")]).unwrap(),
            s("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
        // An empty key and a key longer than a block are keys too.
        assert!(hmac_sha256(&[s("m"), s("")]).is_ok());
        assert!(hmac_sha256(&[s("m"), s(&"k".repeat(1000))]).is_ok());
        assert!(hmac_sha1(&[s("m"), Value::Null]).is_err());
        assert!(hmac_sha1(&[Value::Null, s("k")]).is_err());
    }

    #[test]
    fn hmac_equal_compares_bytes() {
        assert_eq!(
            hmac_equal(&[s("abc"), s("abc")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            hmac_equal(&[s("abc"), s("abd")]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            hmac_equal(&[s("abc"), s("ab")]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(hmac_equal(&[s(""), s("")]).unwrap(), Value::Bool(true));
        assert!(hmac_equal(&[s("a"), Value::from(1)]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_strings_hash_and_equal_is_equality(a in ".{0,80}", b in ".{0,80}") {
            for f in [md5, sha1, sha256] {
                prop_assert!(f(&[s(&a)]).is_ok());
            }
            for f in [hmac_md5, hmac_sha1, hmac_sha256, hmac_sha512] {
                prop_assert!(f(&[s(&a), s(&b)]).is_ok());
            }
            prop_assert_eq!(hmac_equal(&[s(&a), s(&b)]).unwrap(), Value::Bool(a == b));
        }
    }
}
