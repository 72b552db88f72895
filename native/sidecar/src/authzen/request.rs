//! Checking AuthZEN request bodies against the information model.
//!
//! Entities stay the JSON the client sent (they become the policy input
//! verbatim, unknown members included); this module only checks what the
//! specification requires: a Subject and a Resource have string `type` and
//! `id`, an Action a string `name`, `properties` and `context` are objects.
//! A member whose value is `null` counts as absent (I-JSON advice). Every
//! failure is a short message naming the member, for a 400 answer.

use serde_json::{Map, Value};

/// An object member, `null` counting as absent.
fn member<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// Which entity of the information model a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `subject`: `type` and `id`.
    Subject,
    /// `resource`: `type` and `id`.
    Resource,
    /// `action`: `name`.
    Action,
}

impl Kind {
    /// The member name in a request.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Subject => "subject",
            Kind::Resource => "resource",
            Kind::Action => "action",
        }
    }
}

/// Checks one entity at `path` (e.g. `subject`, `evaluations[2].resource`).
/// With `need_id` false (the entity searched for), `id` may be absent.
pub fn check_entity(v: &Value, kind: Kind, path: &str, need_id: bool) -> Result<(), String> {
    let Value::Object(o) = v else {
        return Err(format!("{path} must be an object"));
    };
    let required: &[&str] = match (kind, need_id) {
        (Kind::Action, _) => &["name"],
        (_, true) => &["type", "id"],
        (_, false) => &["type"],
    };
    for key in required {
        match member(o, key) {
            Some(Value::String(_)) => {}
            Some(_) => return Err(format!("{path}.{key} must be a string")),
            None => return Err(format!("{path}.{key} is required")),
        }
    }
    if kind != Kind::Action && !need_id {
        if let Some(id) = member(o, "id") {
            if !id.is_string() {
                return Err(format!("{path}.id must be a string"));
            }
        }
    }
    if let Some(p) = member(o, "properties") {
        if !p.is_object() {
            return Err(format!("{path}.properties must be an object"));
        }
    }
    Ok(())
}

/// Checks an optional object member (`context`, `options`, `page`).
pub fn optional_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Value>, String> {
    match member(obj, key) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(format!("{path} must be an object")),
    }
}

/// One access evaluation: the four entities, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The subject.
    pub subject: Value,
    /// The action.
    pub action: Value,
    /// The resource.
    pub resource: Value,
    /// The context, when given.
    pub context: Option<Value>,
}

impl Evaluation {
    /// The policy input: `{subject, action, resource, context}` as sent.
    pub fn into_input(self) -> Value {
        let mut m = Map::new();
        m.insert("subject".into(), self.subject);
        m.insert("action".into(), self.action);
        m.insert("resource".into(), self.resource);
        if let Some(c) = self.context {
            m.insert("context".into(), c);
        }
        Value::Object(m)
    }
}

/// Top-level values an `evaluations` item falls back on.
#[derive(Debug, Clone, Default)]
pub struct Defaults<'a> {
    subject: Option<&'a Value>,
    action: Option<&'a Value>,
    resource: Option<&'a Value>,
    context: Option<&'a Value>,
}

impl<'a> Defaults<'a> {
    /// The top-level `subject`, `action`, `resource` and `context` of a
    /// request. They are checked to be objects here; whether they are
    /// complete is checked where an item uses them.
    pub fn of(body: &'a Map<String, Value>) -> Result<Self, String> {
        let obj = |k: &str| optional_object(body, k, k);
        Ok(Defaults {
            subject: obj("subject")?,
            action: obj("action")?,
            resource: obj("resource")?,
            context: obj("context")?,
        })
    }

    /// An evaluation from `item`'s members, each falling back, as a whole
    /// object, on the default. `path` prefixes messages.
    pub fn evaluation(&self, item: &Map<String, Value>, path: &str) -> Result<Evaluation, String> {
        let pick = |key: &str, default: Option<&Value>| member(item, key).or(default).cloned();
        let at = |key: &str| {
            if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            }
        };
        let take = |kind: Kind, default: Option<&Value>| -> Result<Value, String> {
            let v = pick(kind.key(), default)
                .ok_or_else(|| format!("{} is required", at(kind.key())))?;
            check_entity(&v, kind, &at(kind.key()), true)?;
            Ok(v)
        };
        let subject = take(Kind::Subject, self.subject)?;
        let action = take(Kind::Action, self.action)?;
        let resource = take(Kind::Resource, self.resource)?;
        let context = pick("context", self.context);
        if context.as_ref().is_some_and(|c| !c.is_object()) {
            return Err(format!("{} must be an object", at("context")));
        }
        Ok(Evaluation {
            subject,
            action,
            resource,
            context,
        })
    }
}

/// `options.evaluations_semantic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantic {
    /// Every item is evaluated (the default).
    #[default]
    ExecuteAll,
    /// Stop after the first deny (or failure), like `&&`.
    DenyOnFirstDeny,
    /// Stop after the first permit, like `||`.
    PermitOnFirstPermit,
}

/// A parsed `evaluations` request.
#[derive(Debug)]
pub enum Batch<'a> {
    /// No (or an empty) `evaluations` array: one evaluation, answered as
    /// the single Access Evaluation API answers.
    Single(Evaluation),
    /// The items, each a checked evaluation or the reason it is broken.
    Many {
        /// How the items combine.
        semantic: Semantic,
        /// The raw items, in request order.
        items: &'a [Value],
        /// The top-level defaults.
        defaults: Defaults<'a>,
    },
}

/// Parses an Access Evaluations request body.
pub fn batch(body: &Map<String, Value>) -> Result<Batch<'_>, String> {
    let semantic = match optional_object(body, "options", "options")? {
        None => Semantic::default(),
        Some(o) => match o.get("evaluations_semantic").filter(|v| !v.is_null()) {
            None => Semantic::default(),
            Some(Value::String(s)) => match s.as_str() {
                "execute_all" => Semantic::ExecuteAll,
                "deny_on_first_deny" => Semantic::DenyOnFirstDeny,
                "permit_on_first_permit" => Semantic::PermitOnFirstPermit,
                _ => return Err("options.evaluations_semantic must be execute_all, deny_on_first_deny or permit_on_first_permit".into()),
            },
            Some(_) => return Err("options.evaluations_semantic must be a string".into()),
        },
    };
    let defaults = Defaults::of(body)?;
    match member(body, "evaluations") {
        None => Ok(Batch::Single(defaults.evaluation(&Map::new(), "")?)),
        Some(Value::Array(items)) if items.is_empty() => {
            Ok(Batch::Single(defaults.evaluation(&Map::new(), "")?))
        }
        Some(Value::Array(items)) => Ok(Batch::Many {
            semantic,
            items,
            defaults,
        }),
        Some(_) => Err("evaluations must be an array".into()),
    }
}

/// Parses an Access Evaluation request body.
pub fn evaluation(body: &Map<String, Value>) -> Result<Evaluation, String> {
    Defaults::default().evaluation(body, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn evaluation_checks_the_model() {
        let ok = json!({"subject": {"type": "user", "id": "a", "extra": 1}, "action": {"name": "r"}, "resource": {"type": "doc", "id": "1"}, "unknown": true});
        let e = evaluation(&obj(ok)).unwrap();
        assert_eq!(e.subject["extra"], 1, "entities are kept verbatim");
        assert!(e.context.is_none());
        let input = e.into_input();
        assert!(input.get("context").is_none());
        assert!(input.get("unknown").is_none());

        let cases = [
            (
                json!({"action": {"name": "r"}, "resource": {"type": "d", "id": "1"}}),
                "subject is required",
            ),
            (
                json!({"subject": "alice", "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}}),
                "subject must be an object",
            ),
            (
                json!({"subject": {"type": "u"}, "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}}),
                "subject.id is required",
            ),
            (
                json!({"subject": {"type": "u", "id": 7}, "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}}),
                "subject.id must be a string",
            ),
            (
                json!({"subject": {"type": "u", "id": "a"}, "action": {}, "resource": {"type": "d", "id": "1"}}),
                "action.name is required",
            ),
            (
                json!({"subject": {"type": "u", "id": "a"}, "action": {"name": "r", "properties": []}, "resource": {"type": "d", "id": "1"}}),
                "action.properties must be an object",
            ),
            (
                json!({"subject": {"type": "u", "id": "a"}, "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}, "context": 3}),
                "context must be an object",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(evaluation(&obj(body)).unwrap_err(), want);
        }
        // null is absent
        let e = evaluation(&obj(json!({"subject": {"type": "u", "id": "a", "properties": null}, "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}, "context": null}))).unwrap();
        assert!(e.context.is_none());
    }

    #[test]
    fn batch_defaults_and_overrides() {
        let body = obj(json!({
            "subject": {"type": "user", "id": "alice"},
            "action": {"name": "read"},
            "context": {"t": 1},
            "options": {"evaluations_semantic": "deny_on_first_deny", "other": 1},
            "evaluations": [
                {"resource": {"type": "doc", "id": "1"}},
                {"action": {"name": "edit"}, "resource": {"type": "doc", "id": "2"}, "context": {"t": 2}},
                {"resource": {"type": "doc"}},
                "nope"
            ]
        }));
        let Batch::Many {
            semantic,
            items,
            defaults,
        } = batch(&body).unwrap()
        else {
            panic!("many")
        };
        assert_eq!(semantic, Semantic::DenyOnFirstDeny);
        let item = |i: usize| {
            defaults.evaluation(items[i].as_object().unwrap(), &format!("evaluations[{i}]"))
        };
        let e0 = item(0).unwrap();
        assert_eq!(e0.action, json!({"name": "read"}));
        assert_eq!(e0.context, Some(json!({"t": 1})));
        let e1 = item(1).unwrap();
        assert_eq!(e1.action, json!({"name": "edit"}), "whole-object override");
        assert_eq!(e1.context, Some(json!({"t": 2})));
        assert_eq!(
            item(2).unwrap_err(),
            "evaluations[2].resource.id is required"
        );
        assert!(items[3].as_object().is_none());
    }

    #[test]
    fn batch_single_and_errors() {
        let single = obj(
            json!({"subject": {"type": "u", "id": "a"}, "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}, "evaluations": []}),
        );
        assert!(matches!(batch(&single).unwrap(), Batch::Single(_)));
        let missing = obj(json!({"subject": {"type": "u", "id": "a"}}));
        assert_eq!(batch(&missing).unwrap_err(), "action is required");
        let bad = obj(json!({"evaluations": {}}));
        assert_eq!(batch(&bad).unwrap_err(), "evaluations must be an array");
        let bad = obj(json!({"evaluations": [{}], "options": {"evaluations_semantic": "some"}}));
        assert!(batch(&bad).unwrap_err().contains("evaluations_semantic"));
        let bad = obj(json!({"evaluations": [{}], "subject": "x"}));
        assert_eq!(batch(&bad).unwrap_err(), "subject must be an object");
    }
}
