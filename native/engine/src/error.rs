//! Typed errors with stable codes.
//!
//! Every failure the engine can report is an [`EngineError`] variant. Its
//! [`EngineError::code`] is a stable string (`ERR_*`) shared with the
//! TypeScript package, so callers branch on codes, never on message text.
//! Messages never contain the caller's input or tokens.

use std::path::PathBuf;

/// A location in a policy bundle file, as reported by the Rego parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// Path of the file, relative to the bundle root (or the inline module name).
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column number.
    pub column: u32,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Everything that can go wrong in the engine.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A configuration key has an invalid value, or an unknown key was given.
    #[error("invalid configuration: {key}: {message}")]
    Config {
        /// The offending key, e.g. `sdk.policy_dir` or `CORESDK_FAIL_MODE`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A bundle file or directory could not be read.
    #[error("cannot read policy bundle at {path}: {message}")]
    PolicyLoad {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O or format problem.
        message: String,
    },
    /// A Rego module or data document failed to parse or compile.
    #[error("policy compile error{}: {message}", location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default())]
    PolicyCompile {
        /// Where, when the parser said so.
        location: Option<SourceLocation>,
        /// The compiler's message.
        message: String,
    },
    /// The query text is not a valid Rego query.
    #[error("invalid query: {message}")]
    QueryInvalid {
        /// Why the query was rejected.
        message: String,
    },
    /// The query names a rule or document path that no loaded policy defines.
    #[error("unknown rule path: {path}")]
    UnknownRule {
        /// The path as given.
        path: String,
    },
    /// The input is not valid JSON (or not representable as JSON).
    #[error("invalid input: {message}")]
    InputInvalid {
        /// Why the input was rejected.
        message: String,
    },
    /// The input exceeds the configured size limit.
    #[error("input too large: {size} bytes exceeds the limit of {limit} bytes")]
    InputTooLarge {
        /// Size of the input in bytes of JSON text.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The input nests deeper than the configured limit.
    #[error("input nested too deeply: more than {limit} levels")]
    InputTooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// Evaluation ran past the configured time limit.
    #[error("policy evaluation exceeded the time limit of {limit_ms} ms")]
    EvalTimeout {
        /// The configured limit in milliseconds.
        limit_ms: u64,
    },
    /// Evaluation failed (a builtin error, a conflict between rule values, ...).
    #[error("policy evaluation failed: {message}")]
    Eval {
        /// The evaluator's message.
        message: String,
    },
    /// The engine was closed.
    #[error("engine is closed")]
    Closed,
    /// A remote bundle was refused: archive, signature or manifest.
    #[error("bundle refused: {message}")]
    BundleRefused {
        /// Why.
        message: String,
    },
    /// A remote bundle could not be fetched.
    #[error("bundle fetch failed: {message}")]
    BundleFetch {
        /// What failed (URLs redacted).
        message: String,
    },
    /// No remote bundle revision has been activated yet.
    #[error("no policy bundle is active yet: {message}")]
    BundleNotActive {
        /// The last fetch or verification error, or why none happened.
        message: String,
    },
    /// A token was rejected, or could not be checked.
    #[error(transparent)]
    Token(#[from] crate::token::TokenError),
}

/// The `file:line:col` (1-based, columns in bytes) of byte `at` of `text`.
pub(crate) fn location_at(file: &str, text: &str, at: usize) -> SourceLocation {
    let before = &text[..at.min(text.len())];
    SourceLocation {
        file: file.to_string(),
        line: u32::try_from(before.matches('\n').count() + 1).unwrap_or(u32::MAX),
        column: u32::try_from(before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1)
            .unwrap_or(u32::MAX),
    }
}

impl EngineError {
    /// The stable error code, shared with the TypeScript package.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Config { .. } => "ERR_CONFIG",
            EngineError::PolicyLoad { .. } => "ERR_POLICY_LOAD",
            EngineError::PolicyCompile { .. } => "ERR_POLICY_COMPILE",
            EngineError::QueryInvalid { .. } => "ERR_QUERY_INVALID",
            EngineError::UnknownRule { .. } => "ERR_UNKNOWN_RULE",
            EngineError::InputInvalid { .. } => "ERR_INPUT_INVALID",
            EngineError::InputTooLarge { .. } => "ERR_INPUT_TOO_LARGE",
            EngineError::InputTooDeep { .. } => "ERR_INPUT_TOO_DEEP",
            EngineError::EvalTimeout { .. } => "ERR_EVAL_TIMEOUT",
            EngineError::Eval { .. } => "ERR_EVAL",
            EngineError::Closed => "ERR_ENGINE_CLOSED",
            EngineError::BundleRefused { .. } => "ERR_BUNDLE_REFUSED",
            EngineError::BundleFetch { .. } => "ERR_BUNDLE_FETCH",
            EngineError::BundleNotActive { .. } => "ERR_BUNDLE_NOT_ACTIVE",
            EngineError::Token(e) => e.code(),
        }
    }

    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Turns a regorus compile/parse error into [`EngineError::PolicyCompile`],
    /// extracting `file:line:col` from the message when present.
    pub(crate) fn compile(err: &dyn std::fmt::Display) -> Self {
        let text = err.to_string();
        let (location, message) = parse_location(&text);
        EngineError::PolicyCompile { location, message }
    }

    /// [`EngineError::compile`] for a parse error in `source`, naming the
    /// Rego syntax the parser does not know when that is what it stopped at
    /// (OPA 1.x template strings, `$"..."`).
    pub(crate) fn parse(err: &dyn std::fmt::Display, source: &str) -> Self {
        let mut e = Self::compile(err);
        if let EngineError::PolicyCompile {
            location: Some(l),
            message,
        } = &mut e
        {
            let line = source.lines().nth(l.line.saturating_sub(1) as usize);
            // regorus stops at or just inside the template string.
            let before = line.and_then(|t| {
                let end = (l.column as usize).saturating_add(1).min(t.len());
                t.get(..end)
            });
            if before.is_some_and(|b| b.contains("$\"") || b.contains("$`")) {
                message.push_str(
                    " (template strings, $\"...{expr}...\", are not supported by the engine's Rego parser; use sprintf or concat)",
                );
            }
        }
        e
    }
}

/// A one-line description of a regorus diagnostic: `file:line:col: message`
/// when it has a location, the message alone otherwise.
pub(crate) fn describe(text: &str) -> String {
    match parse_location(text) {
        (Some(loc), message) => format!("{loc}: {message}"),
        (None, message) => message,
    }
}

/// Convenience alias.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Parses regorus's diagnostic format:
///
/// ```text
/// --> pkg/bad.rego:5:1
///   |
/// 5 | }
///   | ^
/// error: expecting expression
/// ```
///
/// and the one-line `file:line:col: error: message` form.
fn parse_location(text: &str) -> (Option<SourceLocation>, String) {
    let message = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error:"))
        .map(|m| m.trim().to_string());
    for line in text.lines() {
        let l = line.trim();
        let candidate = l.strip_prefix("-->").map(str::trim).unwrap_or(l);
        let mut parts = candidate.rsplitn(3, ':');
        let (Some(col), Some(line_no), Some(file)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let (Ok(line_no), Ok(column)) =
            (line_no.trim().parse::<u32>(), col.trim().parse::<u32>())
        {
            if file.is_empty() || file.contains(' ') {
                continue;
            }
            return (
                Some(SourceLocation {
                    file: file.to_string(),
                    line: line_no,
                    column,
                }),
                message.unwrap_or_else(|| l.to_string()),
            );
        }
    }
    let fallback = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    (None, message.unwrap_or_else(|| fallback.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_regorus_locations() {
        let (loc, msg) = parse_location(
            "\n--> pkg/bad.rego:5:1\n  |\n5 | }\n  | ^\nerror: expecting expression",
        );
        let loc = loc.unwrap();
        assert_eq!(loc.file, "pkg/bad.rego");
        assert_eq!((loc.line, loc.column), (5, 1));
        assert_eq!(msg, "expecting expression");
        let (loc, msg) = parse_location("no location here");
        assert!(loc.is_none());
        assert_eq!(msg, "no location here");
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(EngineError::Closed.code(), "ERR_ENGINE_CLOSED");
        assert_eq!(
            EngineError::InputTooDeep { limit: 3 }.code(),
            "ERR_INPUT_TOO_DEEP"
        );
    }
}
