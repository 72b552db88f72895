//! A bound on how deeply `[ ]` and `{ }` nest in Rego text, checked before
//! the text reaches regorus's parser.
//!
//! regorus 0.14.1 parses nested array, set and object literals in time that
//! doubles with every level (measured: 20 levels of `[` take 0.5 s, 22 take
//! 1.7 s, and the execution time limit does not cover parsing). Left
//! unchecked, a 40-level query sent to `EvaluatePolicy` would hold an
//! evaluator for days. Parentheses are not affected. Real policies keep deep
//! documents in `data.json`, which is parsed by serde_json, not here.

use crate::error::{EngineError, SourceLocation};

/// Deepest nesting of `[`/`{` allowed in a policy module (about 60 ms of
/// parsing at the limit).
pub const MAX_MODULE_NESTING: usize = 16;

/// Deepest nesting of `[`/`{` allowed in a query sent with a request (well
/// under a millisecond of parsing at the limit).
pub const MAX_QUERY_NESTING: usize = 8;

/// Where `text` first nests deeper than `limit`: `(line, column)`, 1-based.
/// Strings, raw strings and comments are skipped.
pub(crate) fn too_deep(text: &str, limit: usize) -> Option<(u32, u32)> {
    let mut depth = 0usize;
    let (mut line, mut col) = (1u32, 0u32);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        col += 1;
        match c {
            '\n' => {
                line += 1;
                col = 0;
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        col = 0;
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    col += 1;
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        '\n' => {
                            line += 1;
                            col = 0;
                        }
                        _ => {}
                    }
                }
            }
            '`' => {
                for c in chars.by_ref() {
                    col += 1;
                    match c {
                        '`' => break,
                        '\n' => {
                            line += 1;
                            col = 0;
                        }
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > limit {
                    return Some((line, col));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// [`too_deep`] as the engine's compile error for module `file`.
pub(crate) fn check_module(file: &str, text: &str) -> Result<(), EngineError> {
    match too_deep(text, MAX_MODULE_NESTING) {
        None => Ok(()),
        Some((line, column)) => Err(EngineError::PolicyCompile {
            location: Some(SourceLocation {
                file: file.to_string(),
                line,
                column,
            }),
            message: format!(
                "array, set and object literals nest more than {MAX_MODULE_NESTING} levels deep; the Rego parser's cost doubles with each level, so keep deep documents in data.json"
            ),
        }),
    }
}

/// [`too_deep`] as the engine's invalid-query error.
pub(crate) fn check_query(query: &str) -> Result<(), EngineError> {
    match too_deep(query, MAX_QUERY_NESTING) {
        None => Ok(()),
        Some((_, column)) => Err(EngineError::QueryInvalid {
            message: format!(
                "array, set and object literals nest more than {MAX_QUERY_NESTING} levels deep (at column {column}); pass deep values in the input instead"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_brackets_outside_strings_and_comments() {
        assert_eq!(too_deep("[[[1]]]", 3), None);
        assert_eq!(too_deep("[[[[1]]]]", 3), Some((1, 4)));
        assert_eq!(too_deep("{\"a\": [{\"b\": 1}]}", 3), None);
        assert_eq!(too_deep("{\"a\": [{\"b\": [1]}]}", 3), Some((1, 14)));
        assert_eq!(too_deep("x := \"[[[[[[\"", 2), None);
        assert_eq!(too_deep("x := `{{{{{{`", 2), None);
        assert_eq!(too_deep("# [[[[[[\nx := [[1]]", 2), None);
        assert_eq!(too_deep("x := \"\\\"[[[[\"", 2), None);
        assert_eq!(too_deep("a := [1]\nb := [[[2]]]", 2), Some((2, 8)));
        // Closers without openers never go below zero.
        assert_eq!(too_deep("]]]] [[1]]", 2), None);
        // Parentheses are not counted.
        assert_eq!(too_deep("((((((((1))))))))", 2), None);
    }

    #[test]
    fn errors_name_the_place() {
        let deep = format!("package p\n\nx := {}1{}\n", "[".repeat(17), "]".repeat(17));
        let e = check_module("p.rego", &deep).expect_err("too deep");
        assert_eq!(e.code(), "ERR_POLICY_COMPILE");
        assert!(e.to_string().contains("p.rego:3:"), "{e}");
        let q = format!("x := {}1{}", "{".repeat(9), "}".repeat(9));
        assert_eq!(
            check_query(&q).expect_err("too deep").code(),
            "ERR_QUERY_INVALID"
        );
        assert!(check_query("data.authz.allow").is_ok());
    }
}
