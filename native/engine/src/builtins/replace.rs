//! `strings.replace_n`, as OPA computes it: Go's `strings.NewReplacer`
//! over the pattern object's pairs in key order.
//!
//! At each position the first key in that order that the text continues
//! with is replaced (not the longest), the output is not scanned again,
//! and an empty key inserts its value at every position (once per
//! position, before any other key's match there). regorus 0.14.1 replaced
//! key by key over the whole text, so a replacement could be replaced
//! again and `{"a": "b", "b": "c"}` turned `"a"` into `"c"` (OPA: `"b"`).

use anyhow::{bail, Result};
use regorus::Value;

use super::string_operand;

/// `strings.replace_n(patterns, value)`.
pub(super) fn replace_n(args: &[Value]) -> Result<Value> {
    const NAME: &str = "strings.replace_n";
    let Value::Object(patterns) = &args[0] else {
        bail!(
            "{NAME}: operand 1 must be object but got {}",
            super::type_name(&args[0])
        );
    };
    let s = string_operand(NAME, 2, &args[1])?;
    // Keys in OPA's order (strings: by their bytes), which is Go's priority.
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(patterns.len());
    for (k, v) in patterns.iter() {
        let (Value::String(k), Value::String(v)) = (k, v) else {
            bail!("{NAME}: operand 1 non-string key or value found in pattern object");
        };
        pairs.push((k, v));
    }
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut last) = (0usize, 0usize);
    let mut prev_empty = false;
    while i <= bytes.len() {
        // Go's genericReplacer.lookup: the first pair whose key the text
        // continues with; the empty key is skipped right after it matched.
        let found = pairs
            .iter()
            .find(|(k, _)| !(prev_empty && k.is_empty()) && bytes[i..].starts_with(k.as_bytes()));
        match found {
            Some((k, v)) => {
                if !s.is_char_boundary(i) {
                    bail!("{NAME}: an empty key would split a character of the text (Go writes invalid UTF-8 there)");
                }
                out.push_str(&s[last..i]);
                out.push_str(v);
                prev_empty = k.is_empty();
                i += k.len();
                last = i;
            }
            None => {
                prev_empty = false;
                i += 1;
            }
        }
    }
    if last < s.len() {
        out.push_str(&s[last..]);
    }
    Ok(Value::String(out.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(patterns: &str, s: &str) -> Result<Value> {
        replace_n(&[
            Value::from_json_str(patterns).unwrap(),
            Value::String(s.into()),
        ])
    }

    fn ok(patterns: &str, s: &str, want: &str) {
        assert_eq!(
            r(patterns, s).unwrap(),
            Value::String(want.into()),
            "{patterns} {s}"
        );
    }

    #[test]
    fn answers_as_go_replacer() {
        // OPA's v1/test/cases/testdata/v1/replacen/test-replacen-semantics.yaml.
        ok(r#"{"a": "1", "ab": "2"}"#, "abc", "1bc");
        ok(r#"{"a": "b", "b": "c"}"#, "ab", "bc");
        ok(r#"{"cat": "dog", "dog": "cat"}"#, "cat dog", "dog cat");
        ok(r#"{"aa": "X"}"#, "aaa", "Xa");
        ok(r#"{"": "X"}"#, "", "X");
        ok(r#"{"": "X"}"#, "ab", "XaXbX");
        ok(r#"{"": "X", "a": "Y"}"#, "ab", "XYXbX");
        ok(r#"{"": "-", "é": "e"}"#, "aéb", "-a-e-b-");
        ok(r#"{"x": "y"}"#, "", "");
        assert!(r(r#"{"": "-"}"#, "é").is_err());
        assert!(r(r#"{"a": 1}"#, "a").is_err());
    }
}
