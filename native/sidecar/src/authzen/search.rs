//! The Search APIs: subjects, resources or actions a configured Rego rule
//! returns, filtered, ordered and paginated.
//!
//! The rule gets the request's `subject`, `action`, `resource` and
//! `context` as `input` (the searched entity without its `id`, which the
//! specification says to ignore; no `action` for an action search) and
//! returns a set or array of entities. Only well-formed entities of the
//! searched type are kept (`{type, id}` or `{name}`, `properties` when an
//! object), deduplicated and sorted so that pages are stable. An unknown
//! type, an undefined rule or a failing one give empty results, never an
//! error.
//!
//! A page token is opaque to clients: the offset and a digest of the
//! request (entities and `limit`), so a request changed mid-pagination is
//! refused with 400 as the specification recommends.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::evaluate::Policy;
use super::problem::Problem;
use super::request::{check_entity, optional_object, Kind};

/// A checked search request.
#[derive(Debug)]
pub struct Search {
    /// What is searched for.
    pub kind: Kind,
    /// The policy input.
    pub input: Value,
    /// The page size asked for (capped by the configuration).
    pub limit: Option<u64>,
    /// The page token, when continuing.
    pub token: Option<String>,
}

/// Checks a search request body for `kind`.
pub fn parse(body: &Map<String, Value>, kind: Kind) -> Result<Search, Problem> {
    let bad = |m: String| Problem::bad_request(m);
    let mut input = Map::new();
    for k in [Kind::Subject, Kind::Action, Kind::Resource] {
        if kind == Kind::Action && k == Kind::Action {
            continue;
        }
        let v = body
            .get(k.key())
            .filter(|v| !v.is_null())
            .ok_or_else(|| bad(format!("{} is required", k.key())))?;
        check_entity(v, k, k.key(), k != kind).map_err(bad)?;
        let mut v = v.clone();
        if k == kind {
            if let Value::Object(o) = &mut v {
                o.remove("id");
            }
        }
        input.insert(k.key().into(), v);
    }
    if let Some(c) = optional_object(body, "context", "context").map_err(bad)? {
        input.insert("context".into(), c.clone());
    }
    let (mut limit, mut token) = (None, None);
    if let Some(Value::Object(p)) = optional_object(body, "page", "page").map_err(bad)? {
        match p.get("limit").filter(|v| !v.is_null()) {
            None => {}
            Some(v) => {
                limit = Some(
                    v.as_u64()
                        .ok_or_else(|| bad("page.limit must be a non-negative integer".into()))?,
                )
            }
        }
        match p.get("token").filter(|v| !v.is_null()) {
            None => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => token = Some(s.clone()),
            Some(_) => return Err(bad("page.token must be a string".into())),
        }
        if p.get("properties")
            .is_some_and(|v| !v.is_null() && !v.is_object())
        {
            return Err(bad("page.properties must be an object".into()));
        }
    }
    Ok(Search {
        kind,
        input: Value::Object(input),
        limit,
        token,
    })
}

/// The entity a result must be, reduced to its members, or `None`.
fn keep(kind: Kind, want_type: Option<&str>, v: &Value) -> Option<Value> {
    let o = v.as_object()?;
    let mut out = Map::new();
    match kind {
        Kind::Action => {
            out.insert("name".into(), o.get("name")?.as_str()?.into());
        }
        _ => {
            let t = o.get("type")?.as_str()?;
            if Some(t) != want_type {
                return None;
            }
            out.insert("type".into(), t.into());
            out.insert("id".into(), o.get("id")?.as_str()?.into());
        }
    }
    if let Some(p @ Value::Object(_)) = o.get("properties") {
        out.insert("properties".into(), p.clone());
    }
    Some(Value::Object(out))
}

fn fingerprint(s: &Search, limit: usize) -> String {
    let mut h = Sha256::new();
    h.update(s.kind.key());
    h.update([0]);
    h.update(s.input.to_string());
    h.update([0]);
    h.update(limit.to_le_bytes());
    let d = h.finalize();
    URL_SAFE_NO_PAD.encode(&d[..12])
}

/// Runs a search with `query` and answers the Search API response:
/// `{"page": {next_token, count, total}, "results": [...]}`, `page` first.
pub fn run(
    policy: &Policy<'_>,
    query: &str,
    s: &Search,
    page_size: usize,
) -> Result<(String, usize), Problem> {
    let limit = match s.limit {
        Some(0) | None => page_size,
        Some(n) => (n as usize).min(page_size),
    };
    let fp = fingerprint(s, limit);
    let offset = match &s.token {
        None => 0,
        Some(t) => {
            let text = URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Problem::bad_request("page.token is not a token this PDP issued"))?;
            let (off, f) = text
                .split_once('.')
                .ok_or_else(|| Problem::bad_request("page.token is not a token this PDP issued"))?;
            if f != fp {
                return Err(Problem::bad_request(
                    "the request changed during pagination: send the same entities and limit with page.token",
                ));
            }
            off.parse::<usize>()
                .map_err(|_| Problem::bad_request("page.token is not a token this PDP issued"))?
        }
    };
    let want_type = s
        .input
        .get(s.kind.key())
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str);
    let mut all: Vec<Value> = match policy.engine.evaluate_policy(query, &s.input) {
        Ok(d) => match d.value {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| keep(s.kind, want_type, v))
                .collect(),
            _ => Vec::new(),
        },
        Err(_) => Vec::new(),
    };
    let mut keyed: Vec<(String, Value)> = all.drain(..).map(|v| (v.to_string(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let total = keyed.len();
    let start = offset.min(total);
    let end = (start + limit).min(total);
    let results: Vec<Value> = keyed.drain(start..end).map(|(_, v)| v).collect();
    let next = if end < total {
        URL_SAFE_NO_PAD.encode(format!("{end}.{fp}"))
    } else {
        String::new()
    };
    let page = json!({"next_token": next, "count": results.len(), "total": total});
    let count = results.len();
    Ok((
        format!(
            "{{\"page\":{},\"results\":{}}}",
            page,
            Value::Array(results)
        ),
        count,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coresdk_engine::Engine;

    const POLICY: &str = r#"package authzen
docs := [{"type": "document", "id": "d3"}, {"type": "document", "id": "d1"}, {"type": "document", "id": "d2"}, {"type": "folder", "id": "f"}, {"type": "document"}, "junk"]
resources := docs if input.subject.id == "alice"
actions contains {"name": "can_read"}
actions contains {"name": "can_edit"} if input.subject.id == "alice"
"#;

    fn search(body: Value, kind: Kind) -> Search {
        parse(body.as_object().unwrap(), kind).unwrap()
    }

    #[test]
    fn resources_paginate_and_filter() {
        let e = Engine::new(coresdk_engine::EngineConfig::inline(
            vec![("p.rego".into(), POLICY.into())],
            json!({}),
        ))
        .unwrap();
        let p = Policy {
            engine: &e,
            decision_query: "data.authzen.allow",
            context_query: None,
            expose_reasons: false,
        };
        let body = json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "can_read"}, "resource": {"type": "document", "id": "ignored"}, "page": {"limit": 2}});
        let s = search(body.clone(), Kind::Resource);
        assert!(
            s.input["resource"].get("id").is_none(),
            "the searched id is ignored"
        );
        let (text, n) = run(&p, "data.authzen.resources", &s, 100).unwrap();
        assert_eq!(n, 2);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(text.starts_with("{\"page\""), "page first");
        assert_eq!(
            v["results"],
            json!([{"type": "document", "id": "d1"}, {"type": "document", "id": "d2"}])
        );
        assert_eq!(v["page"]["total"], 3);
        let token = v["page"]["next_token"].as_str().unwrap().to_string();
        assert!(!token.is_empty());
        let mut next = body.clone();
        next["page"] = json!({"limit": 2, "token": token});
        let (text, _) = run(
            &p,
            "data.authzen.resources",
            &search(next.clone(), Kind::Resource),
            100,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["results"], json!([{"type": "document", "id": "d3"}]));
        assert_eq!(v["page"]["next_token"], "");
        // A changed request with the token is refused.
        next["subject"]["id"] = json!("bob");
        assert_eq!(
            run(
                &p,
                "data.authzen.resources",
                &search(next, Kind::Resource),
                100
            )
            .unwrap_err()
            .status,
            400
        );
        // An unknown type is an empty result.
        let mut other = body.clone();
        other["resource"]["type"] = json!("spaceship");
        let (text, n) = run(
            &p,
            "data.authzen.resources",
            &search(other, Kind::Resource),
            100,
        )
        .unwrap();
        assert_eq!(n, 0);
        assert!(text.contains("\"results\":[]"));
        // Actions: no action member needed.
        let s = search(
            json!({"subject": {"type": "user", "id": "alice"}, "resource": {"type": "document", "id": "d1"}}),
            Kind::Action,
        );
        let (text, _) = run(&p, "data.authzen.actions", &s, 100).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["results"],
            json!([{"name": "can_edit"}, {"name": "can_read"}])
        );
        // Missing entity.
        let e = parse(
            json!({"subject": {"type": "user"}}).as_object().unwrap(),
            Kind::Subject,
        )
        .unwrap_err();
        assert_eq!(e.detail, "action is required");
    }
}
