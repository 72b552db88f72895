//! Input limits, checked before anything is parsed or evaluated.
//!
//! Size is measured in bytes of JSON text; depth counts nested arrays and
//! objects (a scalar has depth 0, `{}` depth 1). Both are checked in one
//! linear pass without recursion, so a hostile input costs at most one scan,
//! which also refuses a number the engine cannot evaluate exactly (a
//! decimal with more precision than a double holds: see `numbers.rs`).

use crate::error::{EngineError, Result};

/// Why a scan of JSON text stopped.
enum Stop<'a> {
    /// Nested deeper than allowed.
    TooDeep,
    /// A number the engine does not evaluate exactly: its byte offset and
    /// text.
    Inexact(usize, &'a str),
}

/// One linear pass over JSON text outside its strings: nesting depth
/// (at most `max_depth`) and every number token (exact, `numbers.rs`).
fn scan(text: &str, max_depth: usize) -> std::result::Result<(), Stop<'_>> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // A number can start at the beginning and after `[`, `{`, `,`, `:`
    // (and whitespace, which keeps the flag).
    let mut number_start = true;
    let mut number_at: Option<usize> = None;
    let number = |start: usize, end: usize| {
        let t = &text[start..end];
        if crate::numbers::is_exact(t) {
            Ok(())
        } else {
            Err(Stop::Inexact(start, t))
        }
    };
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if number_start {
            number_start = false;
            if b == b'-' || b.is_ascii_digit() {
                number_at = Some(i);
            }
        }
        if let Some(start) = number_at {
            if matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                continue;
            }
            number_at = None;
            number(start, i)?;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(Stop::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        number_start = matches!(b, b'[' | b'{' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r');
    }
    match number_at {
        Some(start) => number(start, text.len()),
        None => Ok(()),
    }
}

/// Checks the size and nesting depth of JSON text, and that every number
/// in it is one the engine evaluates exactly.
pub fn check_json_text(text: &str, max_bytes: usize, max_depth: usize) -> Result<()> {
    if text.len() > max_bytes {
        return Err(EngineError::InputTooLarge {
            size: text.len(),
            limit: max_bytes,
        });
    }
    match scan(text, max_depth) {
        Ok(()) => Ok(()),
        Err(Stop::TooDeep) => Err(EngineError::InputTooDeep { limit: max_depth }),
        Err(Stop::Inexact(at, t)) => Err(EngineError::InputInvalid {
            message: format!(
                "the number {t} (byte {at}) has more precision than CoreSDK evaluates exactly (an IEEE double), where OPA compares decimals exactly: send it as a string or round it"
            ),
        }),
    }
}

/// The first number in JSON text that the engine does not evaluate
/// exactly: its byte offset and text.
pub(crate) fn first_inexact_number(text: &str) -> Option<(usize, &str)> {
    match scan(text, usize::MAX) {
        Err(Stop::Inexact(at, t)) => Some((at, t)),
        _ => None,
    }
}

/// Checks the size (as JSON text would be) and depth of a JSON value,
/// iteratively.
pub fn check_value(value: &serde_json::Value, max_bytes: usize, max_depth: usize) -> Result<()> {
    let mut size = 0usize;
    let mut stack: Vec<(&serde_json::Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            serde_json::Value::Null => size += 4,
            serde_json::Value::Bool(_) => size += 5,
            serde_json::Value::Number(_) => size += 8,
            serde_json::Value::String(s) => size += s.len() + 2,
            serde_json::Value::Array(items) => {
                if depth + 1 > max_depth {
                    return Err(EngineError::InputTooDeep { limit: max_depth });
                }
                size += 2 + items.len();
                stack.extend(items.iter().map(|i| (i, depth + 1)));
            }
            serde_json::Value::Object(map) => {
                if depth + 1 > max_depth {
                    return Err(EngineError::InputTooDeep { limit: max_depth });
                }
                size += 2;
                for (k, item) in map {
                    size += k.len() + 4;
                    stack.push((item, depth + 1));
                }
            }
        }
        if size > max_bytes {
            return Err(EngineError::InputTooLarge {
                size,
                limit: max_bytes,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_containers_not_brackets_in_strings() {
        assert!(check_json_text(r#"{"a":[[1]]}"#, 100, 3).is_ok());
        assert!(matches!(
            check_json_text(r#"{"a":[[[1]]]}"#, 100, 3),
            Err(EngineError::InputTooDeep { limit: 3 })
        ));
        assert!(check_json_text(r#"{"a":"[[[[[[\"[["}"#, 100, 1).is_ok());
    }

    #[test]
    fn numbers_a_double_cannot_hold_are_refused() {
        for t in [
            r#"{"a": 100.0000000000000001}"#,
            r#"[1, 9007199254740993.0]"#,
            "1e-400",
            r#"{"x":{"y":[1e400]}}"#,
        ] {
            assert!(
                matches!(
                    check_json_text(t, 1000, 10),
                    Err(EngineError::InputInvalid { .. })
                ),
                "{t}"
            );
        }
        for t in [
            r#"{"a": 0.1, "b": -2.5e3, "c": "100.0000000000000001", "d": 12345678901234567890}"#,
            "-0.0",
            r#"[1,2,3]"#,
        ] {
            assert!(check_json_text(t, 1000, 10).is_ok(), "{t}");
        }
    }

    #[test]
    fn the_scan_skips_strings_and_reports_the_first_inexact_number() {
        let text = r#"{"a": "1e-400", "b": [0.1, 2], "c": 100.0000000000000001, "d": 1e-400}"#;
        let (at, t) = first_inexact_number(text).unwrap();
        assert_eq!(t, "100.0000000000000001");
        assert_eq!(&text[at..at + t.len()], t);
        assert!(first_inexact_number(r#"{"x": "9007199254740993.0", "y": -0.5}"#).is_none());
    }

    #[test]
    fn size_limit() {
        assert!(matches!(
            check_json_text(&"1".repeat(11), 10, 5),
            Err(EngineError::InputTooLarge {
                size: 11,
                limit: 10
            })
        ));
    }

    #[test]
    fn value_checks_match_text_checks() {
        let deep: serde_json::Value = serde_json::from_str("[[[[1]]]]").unwrap();
        assert!(check_value(&deep, 100, 4).is_ok());
        assert!(check_value(&deep, 100, 3).is_err());
        let big = serde_json::Value::String("x".repeat(100));
        assert!(check_value(&big, 50, 3).is_err());
    }
}
