//! Strict decoding of compact JWS segments (RFC 7515 §7.1, RFC 8725 §3).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::error::TokenError;

/// Checks the whole token's size and alphabet before anything is decoded:
/// letters, digits, `-`, `_` and `.` only (no padding, whitespace or
/// newlines), exactly three segments, none of them empty.
pub(crate) fn split(token: &str, max_bytes: usize) -> Result<[&str; 3], TokenError> {
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    if token.len() > max_bytes {
        return Err(TokenError::malformed(format!(
            "longer than {max_bytes} bytes"
        )));
    }
    if let Some(bad) = token
        .bytes()
        .find(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_' || *b == b'.'))
    {
        let what = match bad {
            b'=' => "base64 padding",
            b' ' | b'\t' | b'\r' | b'\n' => "whitespace",
            b'+' | b'/' => "standard (not URL-safe) base64",
            _ => "a character outside base64url",
        };
        return Err(TokenError::malformed(format!("contains {what}")));
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(TokenError::malformed(
                "a JWE (5 segments) where a JWS is expected",
            ))
        }
        n => return Err(TokenError::malformed(format!("{n} segments, expected 3"))),
    }
    // An empty payload is a valid JWS (Wycheproof checks it); it fails later
    // as a JWT because it is not a claims object.
    if parts[0].is_empty() {
        return Err(TokenError::malformed("empty header"));
    }
    if parts[2].is_empty() {
        return Err(TokenError::malformed("missing signature"));
    }
    Ok([parts[0], parts[1], parts[2]])
}

/// Decodes one base64url segment, rejecting non-canonical encodings
/// (a length of 1 mod 4, or set trailing bits).
pub(crate) fn b64(segment: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::malformed(format!("{what} is not valid base64url")))
}

/// Parses a JSON object, refusing duplicate member names (a header with two
/// `alg`s is read differently by different parsers).
pub(crate) fn object(
    bytes: &[u8],
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let map = de.deserialize_map(UniqueMap).map_err(|e| {
        TokenError::malformed(format!(
            "{what} is not a JSON object with unique members ({})",
            short(&e)
        ))
    })?;
    de.end()
        .map_err(|_| TokenError::malformed(format!("{what} has trailing data")))?;
    Ok(map)
}

fn short(e: &serde_json::Error) -> String {
    // serde_json's message may quote input; keep only its category.
    match e.classify() {
        serde_json::error::Category::Data => "duplicate or invalid member".into(),
        serde_json::error::Category::Syntax => "syntax".into(),
        serde_json::error::Category::Eof => "truncated".into(),
        serde_json::error::Category::Io => "io".into(),
    }
}

struct UniqueMap;

impl<'de> Visitor<'de> for UniqueMap {
    type Value = serde_json::Map<String, serde_json::Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = serde_json::Map::new();
        while let Some((k, v)) = access.next_entry::<String, serde_json::Value>()? {
            if map.insert(k, v).is_some() {
                return Err(serde::de::Error::custom("duplicate member"));
            }
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_clean_compact_tokens() {
        assert!(split("a.b.c", 100).is_ok());
        assert_eq!(split("", 100).unwrap_err(), TokenError::Missing);
        for bad in [
            "a.b.c\n",
            "a.b.c=",
            "a.b",
            "a.b.c.d.e",
            ".b.c",
            "a.b.",
            "a b.c.d",
            "a+b.c.d",
        ] {
            assert_eq!(
                split(bad, 100).unwrap_err().code(),
                "ERR_TOKEN_MALFORMED",
                "{bad:?}"
            );
        }
        assert!(split(&"a".repeat(101), 100).is_err());
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(b64("Zm9v", "x").unwrap(), b"foo");
        assert_eq!(b64("Zm8", "x").unwrap(), b"fo");
        assert!(b64("Zm9", "x").is_err()); // non-canonical trailing bits
        assert!(b64("Zm9vY", "x").is_err()); // length 1 mod 4
        assert!(b64("Zm9=", "x").is_err());
    }

    #[test]
    fn duplicate_members_are_refused() {
        assert!(object(br#"{"alg":"RS256","alg":"none"}"#, "header").is_err());
        assert!(object(br#"{"alg":"RS256"}"#, "header").is_ok());
        assert!(object(br#"[1]"#, "header").is_err());
        assert!(object(br#"{"a":1} x"#, "header").is_err());
    }
}
