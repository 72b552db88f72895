//! Decisions: one evaluation, and a batch with its semantics.
//!
//! The decision query's value `true` permits; anything else (another
//! value, undefined, an evaluation error) is a deny, answered
//! `{"decision": false}`. The reason goes into `context` only when the
//! operator asked for it (`expose_reasons`); an item of a batch that is not
//! a well-formed evaluation is always `{"decision": false, "context":
//! {"error": {"status": 400, "message": ...}}}` and the others are answered.

use std::borrow::Cow;
use std::sync::Arc;

use coresdk_engine::Engine;
use serde_json::{json, Map, Value};

use super::request::{Batch, Evaluation, Semantic};

/// What decides: a tenant's engine and the configured queries.
pub struct Policy<'a> {
    /// The tenant's engine.
    pub engine: &'a Engine,
    /// The query whose `true` permits.
    pub decision_query: &'a str,
    /// The query whose object value becomes `context`.
    pub context_query: Option<&'a str>,
    /// Whether a deny by undefined or error says why in `context`.
    pub expose_reasons: bool,
}

/// One decision and what telemetry wants to know about it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Permit or deny.
    pub decision: bool,
    /// `allowed`, `denied`, `undefined`, or an error code.
    pub reason: Cow<'static, str>,
    /// The response `context`, if any.
    pub context: Option<Value>,
    /// The policy revision that decided.
    pub revision: Option<Arc<str>>,
}

impl Outcome {
    /// The Decision object: `{"decision": bool}` plus `context` when set.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("decision".into(), Value::Bool(self.decision));
        if let Some(c) = &self.context {
            m.insert("context".into(), c.clone());
        }
        Value::Object(m)
    }

    /// A batch item that is not a well-formed evaluation.
    pub fn broken(message: String) -> Outcome {
        Outcome {
            decision: false,
            reason: Cow::Borrowed(super::problem::ERR_BAD_REQUEST),
            context: Some(json!({"error": {"status": 400, "message": message}})),
            revision: None,
        }
    }
}

impl Policy<'_> {
    /// Decides one evaluation's input.
    pub fn decide(&self, input: &Value) -> Outcome {
        let (decision, reason, revision, mut context) = match self
            .engine
            .evaluate_policy(self.decision_query, input)
        {
            Ok(d) => {
                let reason = if d.is_true() {
                    "allowed"
                } else if d.is_defined() {
                    "denied"
                } else {
                    "undefined"
                };
                let context = (self.expose_reasons && reason == "undefined")
                    .then(|| json!({"reason": "undefined"}));
                (
                    d.is_true(),
                    Cow::Borrowed(reason),
                    Some(d.revision),
                    context,
                )
            }
            Err(e) => {
                let context = self.expose_reasons.then(|| {
                        json!({"reason": "error", "error": {"code": e.code(), "message": e.to_string()}})
                    });
                (false, Cow::Borrowed(e.code()), None, context)
            }
        };
        if let Some(q) = self.context_query {
            // The context is extra information: it never changes the decision.
            if let Ok(d) = self.engine.evaluate_policy(q, input) {
                if let Some(Value::Object(extra)) = d.value {
                    let mut m = match context.take() {
                        Some(Value::Object(m)) => m,
                        _ => Map::new(),
                    };
                    for (k, v) in extra {
                        m.entry(k).or_insert(v);
                    }
                    context = Some(Value::Object(m));
                }
            }
        }
        Outcome {
            decision,
            reason,
            context,
            revision,
        }
    }

    /// Decides a checked evaluation; `seen` gets the outcome and the input.
    pub fn decide_evaluation(
        &self,
        e: Evaluation,
        seen: &mut dyn FnMut(&Outcome, &Value),
    ) -> Outcome {
        let input = e.into_input();
        let out = self.decide(&input);
        seen(&out, &input);
        out
    }

    /// Answers an Access Evaluations request: `{"evaluations": [...]}` in
    /// request order (cut short by the semantic), or a single Decision when
    /// the request had no items. Items are decided in order.
    pub fn decide_batch(&self, batch: Batch<'_>, seen: &mut dyn FnMut(&Outcome, &Value)) -> Value {
        let (semantic, items, defaults) = match batch {
            Batch::Single(e) => return self.decide_evaluation(e, seen).to_json(),
            Batch::Many {
                semantic,
                items,
                defaults,
            } => (semantic, items, defaults),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("evaluations[{i}]");
            let checked = match item {
                Value::Object(o) => defaults.evaluation(o, &path),
                _ => Err(format!("{path} must be an object")),
            };
            let outcome = match checked {
                Ok(e) => self.decide_evaluation(e, seen),
                Err(message) => {
                    let o = Outcome::broken(message);
                    seen(&o, &Value::Null);
                    o
                }
            };
            let stop = match semantic {
                Semantic::ExecuteAll => false,
                Semantic::DenyOnFirstDeny => !outcome.decision,
                Semantic::PermitOnFirstPermit => outcome.decision,
            };
            out.push(outcome.to_json());
            if stop {
                break;
            }
        }
        json!({ "evaluations": out })
    }
}

#[cfg(test)]
mod tests {
    use super::super::request;
    use super::*;

    const POLICY: &str = r#"package authzen
default allow := false
allow if { input.action.name == "read"; input.resource.id != "secret" }
allow if { input.subject.id == "admin" }
boom if { 1 / to_number(input.resource.id) }
why := {"rule": "read"} if input.action.name == "read"
"#;

    fn engine() -> Engine {
        let cfg =
            coresdk_engine::EngineConfig::inline(vec![("p.rego".into(), POLICY.into())], json!({}));
        Engine::new(cfg).unwrap()
    }

    fn run(body: Value, p: &Policy<'_>) -> (Value, usize) {
        let body = body.as_object().unwrap().clone();
        let mut n = 0;
        let b = request::batch(&body).unwrap();
        let out = p.decide_batch(b, &mut |_, _| n += 1);
        (out, n)
    }

    #[test]
    fn semantics_short_circuit() {
        let e = engine();
        let p = Policy {
            engine: &e,
            decision_query: "data.authzen.allow",
            context_query: None,
            expose_reasons: false,
        };
        let items = json!([
            {"resource": {"type": "doc", "id": "1"}},
            {"resource": {"type": "doc", "id": "secret"}},
            {"resource": {"type": "doc", "id": "2"}},
        ]);
        let body = |sem: &str| json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "options": {"evaluations_semantic": sem}, "evaluations": items});
        let (all, n) = run(body("execute_all"), &p);
        assert_eq!(n, 3);
        assert_eq!(
            all,
            json!({"evaluations": [{"decision": true}, {"decision": false}, {"decision": true}]})
        );
        let (deny, n) = run(body("deny_on_first_deny"), &p);
        assert_eq!(n, 2, "stops after the first deny");
        assert_eq!(
            deny,
            json!({"evaluations": [{"decision": true}, {"decision": false}]})
        );
        let (permit, n) = run(body("permit_on_first_permit"), &p);
        assert_eq!(n, 1);
        assert_eq!(permit, json!({"evaluations": [{"decision": true}]}));
        let (single, _) = run(
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}}),
            &p,
        );
        assert_eq!(single, json!({"decision": true}));
    }

    #[test]
    fn broken_items_and_reasons() {
        let e = engine();
        let mut p = Policy {
            engine: &e,
            decision_query: "data.authzen.allow",
            context_query: Some("data.authzen.why"),
            expose_reasons: false,
        };
        let (out, _) = run(
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"},
                   "evaluations": [{"resource": {"type": "doc"}}, 5, {"resource": {"type": "doc", "id": "1"}}]}),
            &p,
        );
        assert_eq!(out["evaluations"][0]["decision"], false);
        assert_eq!(out["evaluations"][0]["context"]["error"]["status"], 400);
        assert_eq!(
            out["evaluations"][0]["context"]["error"]["message"],
            "evaluations[0].resource.id is required"
        );
        assert_eq!(
            out["evaluations"][1]["context"]["error"]["message"],
            "evaluations[1] must be an object"
        );
        assert_eq!(
            out["evaluations"][2],
            json!({"decision": true, "context": {"rule": "read"}})
        );

        // Undefined and errors deny; reasons only when exposed.
        let input = json!({"subject": {"type": "u", "id": "x"}, "action": {"name": "w"}, "resource": {"type": "d", "id": "0"}});
        p.decision_query = "data.authzen.why";
        assert_eq!(p.decide(&input).to_json(), json!({"decision": false}));
        p.decision_query = "data.authzen.boom";
        let o = p.decide(&input);
        assert!(!o.decision);
        assert_eq!(o.to_json(), json!({"decision": false}));
        p.expose_reasons = true;
        p.context_query = None;
        p.decision_query = "data.authzen.why";
        assert_eq!(
            p.decide(&input).to_json(),
            json!({"decision": false, "context": {"reason": "undefined"}})
        );
        p.decision_query = "data.authzen.nothing";
        let o = p.decide(&input).to_json();
        assert_eq!(o["context"]["error"]["code"], "ERR_UNKNOWN_RULE");
    }
}
