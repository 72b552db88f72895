//! The digest OPA's bundle signatures record for a structured file
//! (`data.json`, `data.yaml`, `.manifest`): the document re-encoded with
//! every object's keys in byte order, no whitespace, numbers exactly as
//! written and strings escaped as Go's `encoding/json` escapes them with
//! HTML escaping off. A signature therefore survives re-indenting a data
//! file but not a change of any value.
//!
//! serde_json cannot be used: without its crate-wide `arbitrary_precision`
//! feature it keeps no number's text, and OPA hashes that text verbatim
//! (`1.50` and `1.5` digest differently). This is a small strict parser
//! that keeps it; anything that is not valid JSON is an error.

use std::collections::BTreeMap;

/// A parsed JSON value that keeps each number's literal text.
enum Node<'a> {
    Literal(&'a str),
    Str(String),
    Array(Vec<Node<'a>>),
    Object(BTreeMap<String, Node<'a>>),
}

/// Most nesting the parser follows before refusing the document.
const MAX_DEPTH: usize = 512;

/// The canonical encoding of the JSON document `text`, or why it is not JSON.
pub(crate) fn canonical_json(text: &str) -> Result<Vec<u8>, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
    };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing characters at byte {}", p.i));
    }
    let mut out = Vec::with_capacity(text.len());
    encode(&node, &mut out);
    Ok(out)
}

/// The canonical encoding of an already parsed value (YAML data files,
/// whose numbers are written as serde_json writes them).
pub(crate) fn canonical_value(v: &serde_json::Value) -> Vec<u8> {
    canonical_json(&v.to_string()).expect("serde_json writes valid JSON")
}

fn encode(n: &Node<'_>, out: &mut Vec<u8>) {
    match n {
        Node::Literal(s) => out.extend_from_slice(s.as_bytes()),
        Node::Str(s) => encode_string(s, out),
        Node::Array(items) => {
            out.push(b'[');
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode(e, out);
            }
            out.push(b']');
        }
        Node::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode_string(k, out);
                out.push(b':');
                encode(v, out);
            }
            out.push(b'}');
        }
    }
}

/// Go's `encoding/json` string encoding with `SetEscapeHTML(false)`.
fn encode_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 => {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, String> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut map = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Node::Object(map));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.err("expected a string key");
                    }
                    let key = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected ':'");
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    // Go's decoder keeps the last of repeated keys.
                    map.insert(key, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Node::Object(map));
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Node::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Node::Array(items));
                        }
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b't') => self.word("true"),
            Some(b'f') => self.word("false"),
            Some(b'n') => self.word("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.err("expected a value"),
        }
    }

    fn word(&mut self, w: &'static str) -> Result<Node<'a>, String> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(Node::Literal(w))
        } else {
            self.err("invalid literal")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Node<'a>, String> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.err("invalid number"),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        Ok(Node::Literal(&self.src[start..self.i]))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        match h {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("invalid \\u escape"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // Slicing on ASCII boundaries of valid UTF-8 text stays valid.
            out.push_str(&self.src[start..self.i]);
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.s.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    // Go decodes a lone surrogate as U+FFFD and
                                    // reads the next escape on its own.
                                    self.i = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(c.unwrap_or('\u{fffd}'));
                            continue;
                        }
                        _ => return self.err("invalid escape"),
                    };
                    self.i += 1;
                    out.push(c);
                }
                _ => return self.err("unterminated string"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(canonical_json(s).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_and_keeps_number_text() {
        assert_eq!(
            canon(r#" { "x": {"b": 2, "a": 1.50}, "A": [1e3, -0, true, null] } "#),
            r#"{"A":[1e3,-0,true,null],"x":{"a":1.50,"b":2}}"#
        );
    }

    #[test]
    fn escapes_like_go_without_html_escaping() {
        assert_eq!(
            canon(r#""<&>\u0001\b\f\n\u2028/é\ud83d\ude00\ud800""#),
            "\"<&>\\u0001\\b\\f\\n\\u2028/é😀\u{fffd}\""
        );
    }

    #[test]
    fn last_repeated_key_wins() {
        assert_eq!(canon(r#"{"a":1,"a":2}"#), r#"{"a":2}"#);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "", "{", "[1,]", "01", "1.", "\"\\x\"", "{} x", "nul", "\"a\nb\"",
        ] {
            assert!(canonical_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matches_an_opa_signature_digest() {
        use sha2::{Digest, Sha256};
        // `opa build --signing-key` over data.json `{"x":{"b":2,"a":1.50}}`
        // (OPA 1.22.3) recorded this SHA-256 for data.json.
        let d = Sha256::digest(canonical_json("{\"x\":{\"b\":2,\"a\":1.50}}\n").unwrap());
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5382461c5d78ca7ce91f8fbae48f2dd3559a451a189681b632e85995ceba9cdf"
        );
    }
}
