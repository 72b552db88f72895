//! Input limits, checked before anything is parsed or evaluated.
//!
//! Size is measured in bytes of JSON text; depth counts nested arrays and
//! objects (a scalar has depth 0, `{}` depth 1). Both are checked in one
//! linear pass without recursion, so a hostile input costs at most one scan,
//! which also refuses a number the engine cannot evaluate exactly (a
//! decimal with more precision than a double holds: see `numbers.rs`).

use crate::error::{EngineError, Result};

/// Checks the size and nesting depth of JSON text.
pub fn check_json_text(text: &str, max_bytes: usize, max_depth: usize) -> Result<()> {
    if text.len() > max_bytes {
        return Err(EngineError::InputTooLarge {
            size: text.len(),
            limit: max_bytes,
        });
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // A number can start at the beginning and after `[`, `{`, `,`, `:`
    // (and whitespace, which keeps the flag).
    let mut number_start = true;
    let mut number_at: Option<usize> = None;
    let inexact = |t: &str, at: usize| -> Result<()> {
        if crate::numbers::is_exact(t) {
            Ok(())
        } else {
            Err(EngineError::InputInvalid {
                message: format!(
                    "the number {t} (byte {at}) has more precision than CoreSDK evaluates exactly (an IEEE double), where OPA compares decimals exactly: send it as a string or round it"
                ),
            })
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
            inexact(&text[start..i], start)?;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(EngineError::InputTooDeep { limit: max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        number_start = matches!(b, b'[' | b'{' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r')
            || (number_start && b.is_ascii_whitespace());
    }
    if let Some(start) = number_at {
        inexact(&text[start..], start)?;
    }
    Ok(())
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
