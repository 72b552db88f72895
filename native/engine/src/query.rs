//! Query classification.
//!
//! A query that is a plain reference into `data` (`data.authz.allow`,
//! `data.pkg["some-rule"]`) is evaluated as a rule path, regorus's fast
//! path, and returns the document's value. Anything else is a general Rego
//! query whose value is the list of variable bindings of each result, as
//! OPA's `/v1/query` API returns them.

use crate::error::{EngineError, Result};

/// Longest query text accepted.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// What kind of query a text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryKind {
    /// A plain reference into `data`, with at least one component.
    Ref,
    /// Any other Rego query.
    General,
}

/// Validates and classifies a query.
pub fn classify(query: &str) -> Result<QueryKind> {
    let q = query.trim();
    if q.is_empty() {
        return Err(EngineError::QueryInvalid {
            message: "the query is empty".into(),
        });
    }
    if q.len() > MAX_QUERY_BYTES {
        return Err(EngineError::QueryInvalid {
            message: format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
        });
    }
    crate::nesting::check_query(q)?;
    Ok(if is_data_ref(q) {
        QueryKind::Ref
    } else {
        QueryKind::General
    })
}

fn is_data_ref(q: &str) -> bool {
    data_path(q).is_some_and(|p| !p.is_empty())
}

/// The path of a query that is a plain reference into `data`: the keys of
/// `data.authz.allow` (`["authz", "allow"]`) or `data.pkg["some-rule"]`;
/// `Some([])` for `data` itself; `None` for any other query (general
/// queries, references with variables or non-string keys). Surrounding
/// whitespace is ignored.
pub fn data_path(query: &str) -> Option<Vec<&str>> {
    let mut rest = query.trim().strip_prefix("data")?;
    let mut path = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let len = r
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len == 0 || r.as_bytes()[0].is_ascii_digit() {
                return None;
            }
            path.push(&r[..len]);
            rest = &r[len..];
        } else if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]")?;
            if r[..end].contains(['"', '\\']) {
                return None;
            }
            path.push(&r[..end]);
            rest = &r[end + 2..];
        } else {
            return None;
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify("data.authz.allow").unwrap(), QueryKind::Ref);
        assert_eq!(classify(" data.a[\"b-c\"].d ").unwrap(), QueryKind::Ref);
        assert_eq!(classify("data").unwrap(), QueryKind::General);
        assert_eq!(classify("data.a == 1").unwrap(), QueryKind::General);
        assert_eq!(classify("x := data.a").unwrap(), QueryKind::General);
        assert_eq!(classify("data.a[x]").unwrap(), QueryKind::General);
        assert_eq!(classify("data.1a").unwrap(), QueryKind::General);
        assert!(classify("  ").is_err());
    }

    #[test]
    fn data_paths() {
        assert_eq!(
            data_path(" data.authz.allow "),
            Some(vec!["authz", "allow"])
        );
        assert_eq!(data_path("data.a[\"b.c\"].d"), Some(vec!["a", "b.c", "d"]));
        assert_eq!(data_path("data"), Some(vec![]));
        assert_eq!(data_path("x := data"), None);
        assert_eq!(data_path("data.a[0]"), None);
        assert_eq!(data_path("data.a[\"b\\\"\"]"), None);
        assert_eq!(data_path("data.a.b == true"), None);
        assert_eq!(data_path("datum.a"), None);
    }
}
