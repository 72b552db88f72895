//! `json.marshal`, `json.marshal_with_options` and `json.is_valid`, as
//! OPA computes them with Go's `encoding/json`.
//!
//! - Strings are escaped as Go escapes them: `<`, `>` and `&` as
//!   `\u003c`, `\u003e`, `\u0026`, U+2028 and U+2029 too, control
//!   characters as `\b`, `\f`, `\n`, `\r`, `\t` or `\u00XX`. regorus
//!   0.14.1 wrote `<&>` as is.
//! - Object keys are in Go's byte order; a key that is not a string is its
//!   JSON text; sets are arrays in OPA's order.
//! - OPA writes a number with the text it was read from (`1.0`, `1e30`);
//!   regorus keeps a number with a fraction or an exponent as a double and
//!   not its text: a double is written as its shortest decimal where every
//!   common JSON writer writes that (a non-integral value between 0.001 and
//!   10^7), and is an error otherwise, a denial where OPA answers (see
//!   [`super::rego_text`]). Integers are exact.
//! - `json.is_valid` is Go's `json.Valid`: syntax only, so `"\ud800"` (a
//!   lone surrogate escape) is valid and nesting is limited to 10,000
//!   levels, not serde_json's 128; regorus 0.14.1 answered `false` for
//!   both, and `not json.is_valid(input.doc)` held where OPA's body fails.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use regorus::Value;

use super::order::compare;
use super::rego_text::number_text;
use super::type_name;

/// Go's JSON string literal of `s` (with HTML escaping).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Compact JSON of `v` as Go writes OPA's JSON form of it.
fn compact(out: &mut String, v: &Value) -> Result<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => {
            out.push_str(&number_text(v).map_err(|e| anyhow!("json.marshal: {e}"))?)
        }
        Value::String(s) => string(out, s),
        Value::Array(a) => list(out, a.iter())?,
        Value::Set(s) => {
            let mut items: Vec<&Value> = s.iter().collect();
            items.sort_by(|a, b| compare(a, b));
            list(out, items.into_iter())?;
        }
        Value::Object(o) => {
            let mut pairs: Vec<(&Value, &Value)> = o.iter().collect();
            pairs.sort_by(|a, b| compare(a.0, b.0));
            // Go's map: a later key with the same text replaces an earlier one.
            let mut fields: BTreeMap<Vec<u8>, &Value> = BTreeMap::new();
            for (k, x) in pairs {
                let key = match k {
                    Value::String(s) => s.to_string(),
                    other => {
                        let mut t = String::new();
                        compact(&mut t, other)?;
                        t
                    }
                };
                fields.insert(key.into_bytes(), x);
            }
            out.push('{');
            for (i, (k, x)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, &String::from_utf8_lossy(&k));
                out.push(':');
                compact(out, x)?;
            }
            out.push('}');
        }
        Value::Undefined => bail!("json.marshal: an undefined value"),
    }
    Ok(())
}

fn list<'a>(out: &mut String, items: impl Iterator<Item = &'a Value>) -> Result<()> {
    out.push('[');
    for (i, x) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        compact(out, x)?;
    }
    out.push(']');
    Ok(())
}

/// Go's `json.Indent` of compact JSON `src`.
fn indent(src: &str, prefix: &str, step: &str) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut need_indent = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(prefix);
        for _ in 0..depth {
            out.push_str(step);
        }
    };
    for c in src.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if need_indent && c != ']' && c != '}' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                need_indent = true;
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            '}' | ']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `json.marshal(x)`.
pub(super) fn marshal(args: &[Value]) -> Result<Value> {
    let mut out = String::new();
    compact(&mut out, &args[0])?;
    Ok(Value::String(out.into()))
}

/// `json.marshal_with_options(x, opts)`: `pretty`, `indent`, `prefix`.
pub(super) fn marshal_with_options(args: &[Value]) -> Result<Value> {
    const NAME: &str = "json.marshal_with_options";
    let Value::Object(opts) = &args[1] else {
        bail!(
            "{NAME}: operand 2 must be object but got {}",
            type_name(&args[1])
        );
    };
    let (mut step, mut prefix) = ("\t".to_string(), String::new());
    let (mut implicit, mut explicit) = (false, None);
    for (k, v) in opts.iter() {
        let Value::String(key) = k else {
            bail!("{NAME}: operand 2 failed to stringify key {k}");
        };
        match (key.as_ref(), v) {
            ("prefix", Value::String(s)) => {
                prefix = s.to_string();
                implicit = true;
            }
            ("indent", Value::String(s)) => {
                step = s.to_string();
                implicit = true;
            }
            ("pretty", Value::Bool(b)) => explicit = Some(*b),
            ("prefix" | "indent", _) => bail!("{NAME}: operand 2 key {key} failed cast to string"),
            ("pretty", _) => bail!("{NAME}: operand 2 key pretty failed cast to bool"),
            _ => bail!("{NAME}: operand 2 object contained unknown key {key}"),
        }
    }
    let mut out = String::new();
    compact(&mut out, &args[0]).map_err(|e| anyhow!("{NAME}: {e}"))?;
    if explicit.unwrap_or(implicit) {
        out = format!("{prefix}{}", indent(&out, &prefix, &step));
    }
    Ok(Value::String(out.into()))
}

/// Go's `json.Valid`.
fn valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0usize;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    // Containers open: true for an object (expecting keys), false for an array.
    let mut stack: Vec<bool> = Vec::new();
    ws(&mut i);
    loop {
        // A value at `i`.
        match b.get(i) {
            Some(b'{') | Some(b'[') => {
                let object = b[i] == b'{';
                i += 1;
                if stack.len() >= 10_000 {
                    return false;
                }
                ws(&mut i);
                let close = if object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    i += 1;
                } else {
                    stack.push(object);
                    if object && !key(b, &mut i, &ws) {
                        return false;
                    }
                    continue;
                }
            }
            Some(b'"') => {
                if !string_token(b, &mut i) {
                    return false;
                }
            }
            Some(b't') if b[i..].starts_with(b"true") => i += 4,
            Some(b'f') if b[i..].starts_with(b"false") => i += 5,
            Some(b'n') if b[i..].starts_with(b"null") => i += 4,
            Some(b'-' | b'0'..=b'9') => {
                if !number(b, &mut i) {
                    return false;
                }
            }
            _ => return false,
        }
        // After a value: close containers, or a comma and the next one.
        loop {
            ws(&mut i);
            let Some(&object) = stack.last() else {
                return i == b.len();
            };
            match b.get(i) {
                Some(b',') => {
                    i += 1;
                    ws(&mut i);
                    if object && !key(b, &mut i, &ws) {
                        return false;
                    }
                    break;
                }
                Some(b'}') if object => {
                    i += 1;
                    stack.pop();
                }
                Some(b']') if !object => {
                    i += 1;
                    stack.pop();
                }
                _ => return false,
            }
        }
        ws(&mut i);
    }
}

/// An object key and its colon at `i`, then whitespace.
fn key(b: &[u8], i: &mut usize, ws: &dyn Fn(&mut usize)) -> bool {
    if b.get(*i) != Some(&b'"') || !string_token(b, i) {
        return false;
    }
    ws(i);
    if b.get(*i) != Some(&b':') {
        return false;
    }
    *i += 1;
    ws(i);
    true
}

/// A string token at `i` (which is `"`).
fn string_token(b: &[u8], i: &mut usize) -> bool {
    *i += 1;
    while let Some(&c) = b.get(*i) {
        match c {
            b'"' => {
                *i += 1;
                return true;
            }
            b'\\' => {
                *i += 1;
                match b.get(*i) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => *i += 1,
                    Some(b'u') => {
                        let hex = b.get(*i + 1..*i + 5);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return false;
                        }
                        *i += 5;
                    }
                    _ => return false,
                }
            }
            c if c < 0x20 => return false,
            _ => *i += 1,
        }
    }
    false
}

/// A number token at `i`.
fn number(b: &[u8], i: &mut usize) -> bool {
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if b.get(*i) == Some(&b'-') {
        *i += 1;
    }
    match b.get(*i) {
        Some(b'0') => *i += 1,
        Some(b'1'..=b'9') => {
            digits(i);
        }
        _ => return false,
    }
    if b.get(*i) == Some(&b'.') {
        *i += 1;
        if !digits(i) {
            return false;
        }
    }
    if matches!(b.get(*i), Some(b'e' | b'E')) {
        *i += 1;
        if matches!(b.get(*i), Some(b'+' | b'-')) {
            *i += 1;
        }
        if !digits(i) {
            return false;
        }
    }
    true
}

/// `json.is_valid(x)`: `false` for anything but a string of valid JSON.
pub(super) fn is_valid(args: &[Value]) -> Result<Value> {
    Ok(Value::Bool(
        matches!(&args[0], Value::String(s) if valid(s)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &str) -> Value {
        Value::from_json_str(t).unwrap()
    }

    fn s(t: &str) -> Value {
        Value::String(t.into())
    }

    #[test]
    fn marshals_as_go() {
        assert_eq!(
            marshal(&[v(
                r#"["\b\f\u2028<>&", {"b": 1, "B": 2, "a": [null, true]}]"#
            )])
            .unwrap(),
            s(r#"["\b\f\u2028\u003c\u003e\u0026",{"B":2,"a":[null,true],"b":1}]"#)
        );
        assert_eq!(marshal(&[v("[1.5]")]).unwrap(), s("[1.5]"));
        assert!(marshal(&[v("[2.0]")]).is_err());
        let opts = v(r#"{"pretty": true}"#);
        assert_eq!(
            marshal_with_options(&[v(r#"{"a": [1, 2], "b": {}, "c": []}"#), opts]).unwrap(),
            s("{\n\t\"a\": [\n\t\t1,\n\t\t2\n\t],\n\t\"b\": {},\n\t\"c\": []\n}")
        );
        let opts = v(r#"{"indent": "  ", "prefix": ">"}"#);
        assert_eq!(
            marshal_with_options(&[v(r#"{"a": "x,y:z"}"#), opts]).unwrap(),
            s(">{\n>  \"a\": \"x,y:z\"\n>}")
        );
        assert!(marshal_with_options(&[v("1"), v(r#"{"bad": 1}"#)]).is_err());
    }

    #[test]
    fn validates_as_go() {
        for ok in [
            "{}",
            " [1, -0.5e+3, \"\\ud800\", {\"a\": [true, false, null]}] ",
            "\"a\"",
            "0",
        ] {
            assert!(valid(ok), "{ok}");
        }
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            "\"\\x\"",
            "\"a\nb\"",
            "[1] 2",
            "{\"a\":1,}",
            "nul",
            "-",
        ] {
            assert!(!valid(bad), "{bad}");
        }
        assert!(valid(&format!("{}{}", "[".repeat(5000), "]".repeat(5000))));
        assert!(!valid(&format!(
            "{}{}",
            "[".repeat(10_001),
            "]".repeat(10_001)
        )));
    }
}
