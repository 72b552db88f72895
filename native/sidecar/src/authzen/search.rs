//! The Search APIs: subjects, resources or actions a configured Rego rule
//! returns, filtered, ordered and paginated.
//!
//! The rule gets the request's `subject`, `action`, `resource` and
//! `context` as `input` (the searched entity without its `id`, which the
//! specification says to ignore; no `action` for an action search) and
//! returns a set or array of entities. Only well-formed entities of the
//! searched type are kept (`{type, id}` or `{name}` with string members,
//! `properties` when an object), written in the specification's member
//! order (interop harnesses compare the JSON text), deduplicated and sorted
//! so that pages are stable. An unknown type, an undefined rule or a
//! failing one give empty results, never an error; items that are not
//! entities and rule errors are counted in the [`Outcome`] for the
//! listener to report to the operator.
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

/// What a search rule returned, sorted out.
enum Item {
    /// A well-formed entity of the searched type: its sort key and its JSON
    /// text, members in the specification's order (`type`, `id`,
    /// `properties`; `name`, `properties` for an action).
    Entity(String, String),
    /// A well-formed entity of another type (filtered out, as asked).
    OtherType,
    /// Not an entity: not an object, or `type`, `id` or `name` missing or
    /// not a string. Dropped and reported ([`Outcome::malformed`]).
    Malformed,
}

/// An entity as the specification writes it: serde writes the fields in
/// declaration order.
#[derive(serde::Serialize)]
struct Entity<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<&'a Value>,
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// The entity a result must be, reduced to its members.
fn keep(kind: Kind, want_type: Option<&str>, v: &Value) -> Item {
    let Some(o) = v.as_object() else {
        return Item::Malformed;
    };
    let properties = o.get("properties").filter(|p| p.is_object());
    let entity = match kind {
        Kind::Action => {
            let Some(name) = text(o.get("name")) else {
                return Item::Malformed;
            };
            Entity {
                kind: None,
                id: None,
                name: Some(name),
                properties,
            }
        }
        _ => {
            let (Some(t), Some(id)) = (text(o.get("type")), text(o.get("id"))) else {
                return Item::Malformed;
            };
            if Some(t) != want_type {
                return Item::OtherType;
            }
            Entity {
                kind: Some(t),
                id: Some(id),
                name: None,
                properties,
            }
        }
    };
    // Sorted by id (or name), then the rest: stable pages.
    let key = format!(
        "{}\u{0}{}\u{0}{}",
        entity.id.or(entity.name).unwrap_or_default(),
        entity.kind.unwrap_or_default(),
        properties.map(Value::to_string).unwrap_or_default()
    );
    match serde_json::to_string(&entity) {
        Ok(json) => Item::Entity(key, json),
        Err(_) => Item::Malformed,
    }
}

/// A search's answer and what the operator should hear about.
#[derive(Debug)]
pub struct Outcome {
    /// The response body.
    pub body: String,
    /// Results on this page.
    pub count: usize,
    /// Items the rule returned that are not entities (an id that is a
    /// number, a missing type): dropped.
    pub malformed: usize,
    /// The rule's error code, when it failed (the answer is empty results).
    pub error: Option<&'static str>,
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
/// `{"page": {next_token, count, total}, "results": [...]}`, `page` first,
/// each entity's members in the specification's order.
pub fn run(
    policy: &Policy<'_>,
    query: &str,
    s: &Search,
    page_size: usize,
) -> Result<Outcome, Problem> {
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
    let mut malformed = 0;
    let mut error = None;
    let mut keyed: Vec<(String, String)> = match policy.engine.evaluate_policy(query, &s.input) {
        Ok(d) => match d.value {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match keep(s.kind, want_type, v) {
                    Item::Entity(key, json) => Some((key, json)),
                    Item::OtherType => None,
                    Item::Malformed => {
                        malformed += 1;
                        None
                    }
                })
                .collect(),
            Some(_) => {
                malformed += 1;
                Vec::new()
            }
            None => Vec::new(),
        },
        Err(e) => {
            error = Some(e.code());
            Vec::new()
        }
    };
    keyed.sort();
    keyed.dedup();
    let total = keyed.len();
    let start = offset.min(total);
    let end = (start + limit).min(total);
    let results: Vec<String> = keyed.drain(start..end).map(|(_, json)| json).collect();
    let next = if end < total {
        URL_SAFE_NO_PAD.encode(format!("{end}.{fp}"))
    } else {
        String::new()
    };
    let page = json!({"next_token": next, "count": results.len(), "total": total});
    Ok(Outcome {
        body: format!("{{\"page\":{},\"results\":[{}]}}", page, results.join(",")),
        count: results.len(),
        malformed,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use coresdk_engine::Engine;

    const POLICY: &str = r#"package authzen
docs := [{"type": "document", "id": "d3"}, {"type": "document", "id": "d1"}, {"type": "document", "id": "d2"}, {"type": "folder", "id": "f"}, {"type": "document"}, "junk", {"type": "document", "id": 7}]
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
        let Outcome {
            body: text,
            count: n,
            ..
        } = run(&p, "data.authzen.resources", &s, 100).unwrap();
        assert_eq!(n, 2);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(text.starts_with("{\"page\""), "page first");
        assert!(
            text.ends_with(
                "\"results\":[{\"type\":\"document\",\"id\":\"d1\"},{\"type\":\"document\",\"id\":\"d2\"}]}"
            ),
            "entities as the specification writes them, type then id: {text}"
        );
        let o = run(&p, "data.authzen.resources", &s, 100).unwrap();
        assert_eq!(o.malformed, 3, "no id, not an object, a numeric id");
        assert_eq!(o.error, None);
        assert_eq!(
            v["results"],
            json!([{"type": "document", "id": "d1"}, {"type": "document", "id": "d2"}])
        );
        assert_eq!(v["page"]["total"], 3);
        let token = v["page"]["next_token"].as_str().unwrap().to_string();
        assert!(!token.is_empty());
        let mut next = body.clone();
        next["page"] = json!({"limit": 2, "token": token});
        let Outcome { body: text, .. } = run(
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
        let Outcome {
            body: text,
            count: n,
            ..
        } = run(
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
        let Outcome { body: text, .. } = run(&p, "data.authzen.actions", &s, 100).unwrap();
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
