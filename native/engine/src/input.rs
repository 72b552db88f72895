//! Input limits, checked before anything is parsed or evaluated.
//!
//! Size is measured in bytes of JSON text; depth counts nested arrays and
//! objects (a scalar has depth 0, `{}` depth 1). Both are checked in one
//! linear pass without recursion, so a hostile input costs at most one scan.

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
    for &b in text.as_bytes() {
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
