//! `GET /.well-known/authzen-configuration[/<prefix>]`: the PDP metadata.
//!
//! `policy_decision_point` is the configured `public_url` (or the scheme
//! and the request's host) followed by the tenant's prefix; the metadata of
//! that identifier is served at the well-known path with the prefix
//! appended, as the specification derives it. Only endpoints this listener
//! serves are listed: the search endpoints appear only when their query is
//! configured.

use serde_json::{Map, Value};

use super::config::SearchQueries;

/// The metadata document for the PDP identifier `pdp`.
pub fn metadata(pdp: &str, search: &SearchQueries) -> Value {
    let mut m = Map::new();
    m.insert("policy_decision_point".into(), pdp.into());
    let mut endpoint = |key: &str, path: &str| {
        m.insert(key.into(), format!("{pdp}{path}").into());
    };
    endpoint("access_evaluation_endpoint", "/access/v1/evaluation");
    endpoint("access_evaluations_endpoint", "/access/v1/evaluations");
    if search.subject.is_some() {
        endpoint("search_subject_endpoint", "/access/v1/search/subject");
    }
    if search.resource.is_some() {
        endpoint("search_resource_endpoint", "/access/v1/search/resource");
    }
    if search.action.is_some() {
        endpoint("search_action_endpoint", "/access/v1/search/action");
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_served_endpoints() {
        let m = metadata("https://pdp.test/globex", &SearchQueries::default());
        assert_eq!(m["policy_decision_point"], "https://pdp.test/globex");
        assert_eq!(
            m["access_evaluation_endpoint"],
            "https://pdp.test/globex/access/v1/evaluation"
        );
        assert!(m.get("search_subject_endpoint").is_none());
        let s = SearchQueries {
            resource: Some("data.x".into()),
            ..Default::default()
        };
        let m = metadata("https://pdp.test", &s);
        assert_eq!(
            m["search_resource_endpoint"],
            "https://pdp.test/access/v1/search/resource"
        );
        assert!(m.get("search_action_endpoint").is_none());
    }
}
