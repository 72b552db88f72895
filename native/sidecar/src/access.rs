//! Which queries a tenant's clients may run.
//!
//! The sidecar answers for whoever holds a client certificate (or reaches a
//! development listener), and a Rego query can read anything the bundle
//! holds: `x := data` returns every base document, secrets kept in
//! `data.json` included, and a general query runs with the sidecar's CPU.
//! So by default a client may read only what a policy decides: a rule of
//! the tenant's bundle (`data.authz.allow`) or a path inside a rule's value
//! (`data.authz.roles.admin`). Packages (`data.authz`), `data` itself, base
//! documents and general queries are refused with `PERMISSION_DENIED`
//! `ERR_QUERY_NOT_ALLOWED`.
//!
//! `allowed_queries` (per tenant, or `[sidecar]` for all) replaces the
//! default with a list of patterns:
//!
//! - `data.authz.allow`: this path and any path inside it;
//! - `data.authz.*`: any path below `data.authz` (rules and base documents);
//! - `*`: any query, general queries included (`--dev` uses it).
//!
//! The check is on the query's text alone (a plain reference into `data`,
//! [`coresdk_engine::query::data_path`]) and, for the default, the rules of
//! the revision serving now; it runs before the engine is called.

use std::collections::BTreeMap;

use coresdk_engine::query::data_path;
use coresdk_engine::Engine;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::error::SidecarError;

/// One pattern of an `allowed_queries` list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: anything.
    Any,
    /// `data.a.b`: this path and paths inside it.
    Path(Vec<String>),
    /// `data.a.*`: paths strictly below this one.
    Below(Vec<String>),
}

/// What a tenant's clients may query: the rules of its bundle (the
/// default) or an explicit `allowed_queries` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAccess {
    /// `None`: the bundle's rules and paths inside them.
    patterns: Option<Vec<Pattern>>,
}

impl QueryAccess {
    /// From an `allowed_queries` list (`None`: the default). `key` names the
    /// setting in errors (`sidecar.allowed_queries`,
    /// `tenants.globex.allowed_queries`).
    pub fn parse(list: Option<&[String]>, key: &str) -> Result<QueryAccess, SidecarError> {
        let Some(list) = list else {
            return Ok(QueryAccess { patterns: None });
        };
        if list.is_empty() {
            return Err(SidecarError::config(
                key,
                "an empty list would refuse every query; remove the key to serve the bundle's rules",
            ));
        }
        let mut out = Vec::with_capacity(list.len());
        for item in list {
            let item = item.trim();
            let pattern = if item == "*" {
                Pattern::Any
            } else if let Some(prefix) = item.strip_suffix(".*") {
                Pattern::Below(path_of(prefix, item, key)?)
            } else {
                let p = path_of(item, item, key)?;
                if p.is_empty() {
                    return Err(SidecarError::config(
                        key,
                        "\"data\" would allow reading every document; write \"data.*\" if that is meant",
                    ));
                }
                Pattern::Path(p)
            };
            out.push(pattern);
        }
        Ok(QueryAccess {
            patterns: Some(out),
        })
    }

    /// Whether a client may run `query` on `engine` (the tenant's).
    pub fn permits(&self, engine: &Engine, query: &str) -> bool {
        match &self.patterns {
            None => engine.serves_rule(query),
            Some(patterns) => {
                let path = data_path(query);
                patterns.iter().any(|p| match (p, &path) {
                    (Pattern::Any, _) => true,
                    (_, None) => false,
                    (Pattern::Path(allowed), Some(q)) => starts_with(q, allowed, 0),
                    (Pattern::Below(allowed), Some(q)) => starts_with(q, allowed, 1),
                })
            }
        }
    }

    /// Whether this is the default (the bundle's rules), not a list.
    pub fn is_default(&self) -> bool {
        self.patterns.is_none()
    }

    /// Whether every query is allowed (`*`).
    pub fn allows_everything(&self) -> bool {
        self.patterns
            .as_ref()
            .is_some_and(|p| p.contains(&Pattern::Any))
    }
}

/// The per-client lists, `[sidecar.clients."<dns name>"] allowed_queries`:
/// with mutual TLS, a client whose certificate is valid for one of these
/// names may run only what that name's list allows, on top of what the
/// tenant allows (both must). A client whose certificate names none of them
/// is held to the tenant's list alone.
#[derive(Debug, Default)]
pub struct ClientLists {
    entries: Vec<(String, QueryAccess)>,
}

impl ClientLists {
    /// From the configuration's map of DNS name to list.
    pub fn parse(map: &BTreeMap<String, Vec<String>>) -> Result<ClientLists, SidecarError> {
        let entries = map
            .iter()
            .map(|(name, list)| {
                let key = format!("sidecar.clients.{name:?}.allowed_queries");
                QueryAccess::parse(Some(list), &key).map(|a| (name.clone(), a))
            })
            .collect::<Result<_, _>>()?;
        Ok(ClientLists { entries })
    }

    /// No per-client list is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The lists (their positions) whose DNS name the client certificate
    /// `cert` is valid for.
    pub fn for_certificate(&self, cert: &CertificateDer<'_>) -> Vec<usize> {
        let Ok(ee) = webpki::EndEntityCert::try_from(cert) else {
            return Vec::new();
        };
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| {
                ServerName::try_from(name.as_str())
                    .map(|sn| ee.verify_is_valid_for_subject_name(&sn).is_ok())
                    .unwrap_or(false)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether the lists `matched` (from [`ClientLists::for_certificate`])
    /// let the client run `query`: any of them may; with none, the client
    /// has no list of its own.
    pub fn permits(&self, matched: &[usize], engine: &Engine, query: &str) -> bool {
        matched.is_empty()
            || matched.iter().any(|i| {
                self.entries
                    .get(*i)
                    .is_some_and(|(_, a)| a.permits(engine, query))
            })
    }
}

/// `query` begins with `allowed` and has at least `more` keys after it.
fn starts_with(query: &[&str], allowed: &[String], more: usize) -> bool {
    query.len() >= allowed.len() + more && query.iter().zip(allowed).all(|(q, a)| *q == a)
}

fn path_of(text: &str, item: &str, key: &str) -> Result<Vec<String>, SidecarError> {
    data_path(text)
        .map(|p| p.into_iter().map(str::to_string).collect())
        .ok_or_else(|| {
            SidecarError::config(
                key,
                format!(
                    "{item:?} is not a query pattern: write a path into data (data.authz.allow), a prefix (data.authz.*) or *"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use coresdk_engine::EngineConfig;

    fn engine() -> Engine {
        let cfg = EngineConfig::inline(
            vec![(
                "t.rego".into(),
                "package authz\nallow if input.ok\nroles.admin := [\"alice\"]\n".into(),
            )],
            serde_json::json!({"secrets": {"hmac": "x"}, "authz_data": {"a": 1}}),
        );
        Engine::new(cfg).unwrap()
    }

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_default_serves_rules_only() {
        let e = engine();
        let a = QueryAccess::parse(None, "k").unwrap();
        assert!(a.permits(&e, "data.authz.allow"));
        assert!(a.permits(&e, "data.authz.roles.admin"));
        for q in [
            "x := data",
            "data",
            "data.authz",
            "data.secrets.hmac",
            "data.authz.allow == true",
        ] {
            assert!(!a.permits(&e, q), "{q}");
        }
        assert!(!a.allows_everything());
    }

    #[test]
    fn patterns_are_paths_prefixes_or_everything() {
        let e = engine();
        let a = QueryAccess::parse(Some(&list(&["data.authz.allow", "data.authz_data.*"])), "k")
            .unwrap();
        assert!(a.permits(&e, "data.authz.allow"));
        assert!(a.permits(&e, "data.authz_data.a"));
        assert!(!a.permits(&e, "data.authz_data"));
        assert!(!a.permits(&e, "data.authz.roles"));
        assert!(!a.permits(&e, "data.authz.allowx"));
        assert!(!a.permits(&e, "x := data.authz.allow"));
        let any = QueryAccess::parse(Some(&list(&["*"])), "k").unwrap();
        assert!(any.permits(&e, "x := data"));
        assert!(any.allows_everything());
        let all_data = QueryAccess::parse(Some(&list(&["data.*"])), "k").unwrap();
        assert!(all_data.permits(&e, "data.secrets"));
        assert!(!all_data.permits(&e, "data"));
        assert!(!all_data.permits(&e, "x := 1"));
    }

    #[test]
    fn bad_patterns_name_the_key() {
        for bad in [
            &["data"][..],
            &[][..],
            &["authz.allow"][..],
            &["data.a[x]"][..],
        ] {
            let err =
                QueryAccess::parse(Some(&list(bad)), "tenants.t.allowed_queries").unwrap_err();
            assert!(
                err.to_string().contains("tenants.t.allowed_queries"),
                "{err}"
            );
        }
    }
}
