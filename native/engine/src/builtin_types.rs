//! OPA's type check of a builtin call's constant arguments, as `opa check`
//! makes it: `count(1)`, `concat(",", ["a", 1])`, `time.date([0, "UTC",
//! "x"])` are `rego_type_error: count: invalid argument(s)` in OPA and
//! never evaluated; regorus accepts them (and answers some, as OPA's
//! run time would).
//!
//! The argument types are OPA's declarations (`opa capabilities`, the last
//! column of `opa_builtins.tsv`). A constant argument (a scalar, or an
//! array, set or object of constants) is checked as OPA's `unify1` checks
//! a term against a type: a scalar's kind must be one the type admits, an
//! array's elements the static or dynamic element types, an object's
//! values the types of their keys, a set's elements the element type. An
//! argument that is not constant (a call, a comprehension, a reference or
//! variable other than one holding a constant, which the caller replaces
//! by it: `crate::compile_check`), or a constant holding one, is not
//! judged here: OPA infers types through functions, calls and iteration
//! too, which this check does not, so it refuses only what OPA certainly
//! refuses.

use serde_json::Value;

/// A type as OPA declares it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    /// `any` (no members: every type) or `any<a, b>`.
    Any(Vec<Ty>),
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `number`.
    Number,
    /// `string`.
    String,
    /// `array<static...>[dynamic]`.
    Array {
        /// The types of the first elements.
        fixed: Vec<Ty>,
        /// The type of every further element, if any may follow.
        rest: Option<Box<Ty>>,
    },
    /// `object<key: value...>[key: value]`.
    Object {
        /// The value types of named keys.
        fixed: Vec<(Value, Ty)>,
        /// The key and value types of every other property.
        rest: Option<Box<(Ty, Ty)>>,
    },
    /// `set[of]`.
    Set(Box<Ty>),
    /// A function type (never the type of a constant).
    Function,
}

impl Ty {
    /// Reads OPA's JSON form of a type (`{"type": "any", "of": [...]}`).
    pub(crate) fn from_json(v: &Value) -> Option<Ty> {
        let many = |k: &str| -> Option<Vec<Ty>> {
            match v.get(k) {
                None => Some(Vec::new()),
                Some(Value::Array(items)) => items.iter().map(Ty::from_json).collect(),
                Some(_) => None,
            }
        };
        Some(match v.get("type")?.as_str()? {
            "any" => Ty::Any(many("of")?),
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "number" => Ty::Number,
            "string" => Ty::String,
            "array" => Ty::Array {
                fixed: many("static")?,
                rest: match v.get("dynamic") {
                    Some(d) => Some(Box::new(Ty::from_json(d)?)),
                    None => None,
                },
            },
            "object" => Ty::Object {
                fixed: match v.get("static") {
                    None => Vec::new(),
                    Some(Value::Array(props)) => props
                        .iter()
                        .map(|p| Some((p.get("key")?.clone(), Ty::from_json(p.get("value")?)?)))
                        .collect::<Option<_>>()?,
                    Some(_) => return None,
                },
                rest: match v.get("dynamic") {
                    Some(d) => Some(Box::new((
                        Ty::from_json(d.get("key")?)?,
                        Ty::from_json(d.get("value")?)?,
                    ))),
                    None => None,
                },
            },
            "set" => Ty::Set(Box::new(Ty::from_json(v.get("of")?)?)),
            "function" => Ty::Function,
            _ => return None,
        })
    }

    /// OPA's short form of the type (`any<array[string], set[string]>`).
    pub(crate) fn text(&self) -> String {
        let list = |ts: &[Ty]| ts.iter().map(Ty::text).collect::<Vec<_>>().join(", ");
        match self {
            Ty::Any(of) if of.is_empty() => "any".into(),
            Ty::Any(of) => format!("any<{}>", list(of)),
            Ty::Null => "null".into(),
            Ty::Boolean => "boolean".into(),
            Ty::Number => "number".into(),
            Ty::String => "string".into(),
            Ty::Array { fixed, rest } => {
                let mut s = "array".to_string();
                if !fixed.is_empty() {
                    s += &format!("<{}>", list(fixed));
                }
                if let Some(r) = rest {
                    s += &format!("[{}]", r.text());
                }
                s
            }
            Ty::Object { fixed, rest } => {
                let mut s = "object".to_string();
                if !fixed.is_empty() {
                    let props: Vec<String> = fixed
                        .iter()
                        .map(|(k, t)| format!("{k}: {}", t.text()))
                        .collect();
                    s += &format!("<{}>", props.join(", "));
                }
                if let Some(r) = rest {
                    s += &format!("[{}: {}]", r.0.text(), r.1.text());
                }
                s
            }
            Ty::Set(of) => format!("set[{}]", of.text()),
            Ty::Function => "function".into(),
        }
    }
}

/// A constant's shape, read from regorus's AST of an expression; `None`
/// when the expression is not constant.
#[derive(Debug, Clone)]
enum Constant {
    Null,
    Boolean,
    Number,
    String(String),
    Array(Vec<Option<Constant>>),
    Set(Vec<Option<Constant>>),
    /// Properties: the key and the value.
    Object(Vec<(Option<Constant>, Option<Constant>)>),
}

impl Constant {
    /// The constant an AST expression (`{"Number": {...}}`) denotes.
    fn of(expr: &Value) -> Option<Constant> {
        let (kind, node) = expr.as_object()?.iter().next()?;
        Some(match kind.as_str() {
            "Null" => Constant::Null,
            "Bool" => Constant::Boolean,
            "Number" => Constant::Number,
            "String" | "RawString" => Constant::String(node.get("value")?.as_str()?.to_string()),
            "Array" => Constant::Array(items(node)?.iter().map(Constant::of).collect()),
            "Set" => Constant::Set(items(node)?.iter().map(Constant::of).collect()),
            "Object" => Constant::Object(
                node.get("fields")?
                    .as_array()?
                    .iter()
                    .map(|f| Some((Constant::of(f.get(1)?), Constant::of(f.get(2)?))))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
    }

    /// The scalar kind, as the type a scalar has.
    fn scalar(&self) -> Option<Ty> {
        match self {
            Constant::Null => Some(Ty::Null),
            Constant::Boolean => Some(Ty::Boolean),
            Constant::Number => Some(Ty::Number),
            Constant::String(_) => Some(Ty::String),
            _ => None,
        }
    }

    /// The type name OPA gives it in "have: (...)".
    fn text(&self) -> String {
        match self {
            Constant::Array(items) => format!("array<{}>", texts(items)),
            Constant::Set(items) => format!("set[{}]", texts(items)),
            Constant::Object(_) => "object".into(),
            scalar => scalar.scalar().map(|t| t.text()).unwrap_or_default(),
        }
    }
}

/// Whether an AST expression is wholly constant (no variable, reference,
/// call or comprehension inside).
pub(crate) fn is_constant(expr: &Value) -> bool {
    fn whole(c: &Constant) -> bool {
        match c {
            Constant::Array(items) | Constant::Set(items) => {
                items.iter().all(|x| x.as_ref().is_some_and(whole))
            }
            Constant::Object(props) => props
                .iter()
                .all(|(k, v)| k.as_ref().is_some_and(whole) && v.as_ref().is_some_and(whole)),
            _ => true,
        }
    }
    Constant::of(expr).as_ref().is_some_and(whole)
}

fn texts(items: &[Option<Constant>]) -> String {
    items
        .iter()
        .map(|c| c.as_ref().map_or_else(|| "any".to_string(), Constant::text))
        .collect::<Vec<_>>()
        .join(", ")
}

fn items(node: &Value) -> Option<&Vec<Value>> {
    node.get("items")?.as_array()
}

/// Whether two types unify (OPA's `unifies`) where `a` is a scalar type.
fn scalar_fits(a: &Ty, t: &Ty) -> bool {
    match t {
        Ty::Any(of) => of.is_empty() || of.iter().any(|o| scalar_fits(a, o)),
        other => other == a,
    }
}

/// Whether a key of scalar type `k` is one a dynamic key type admits
/// (OPA's `types.Contains`: a member of an `any`, or the same type).
fn key_admitted(key: &Ty, k: &Ty) -> bool {
    match key {
        Ty::Any(of) => of.is_empty() || of.iter().any(|o| o == k),
        other => other == k,
    }
}

/// OPA's `unify1` of a (possibly partly) constant term against `t`; a part
/// that is not constant fits.
fn fits(c: &Option<Constant>, t: &Ty) -> bool {
    let Some(c) = c else { return true };
    if let Some(s) = c.scalar() {
        return scalar_fits(&s, t);
    }
    match (c, t) {
        (_, Ty::Any(of)) => of.is_empty() || of.iter().any(|o| fits(&Some(c.clone()), o)),
        (Constant::Array(items), Ty::Array { fixed, rest }) => {
            if items.len() != fixed.len() && rest.is_none() {
                return false;
            }
            items
                .iter()
                .enumerate()
                .all(|(i, x)| match fixed.get(i).or(rest.as_deref()) {
                    Some(et) => fits(x, et),
                    None => false,
                })
        }
        (Constant::Set(items), Ty::Set(of)) => items.iter().all(|x| fits(x, of)),
        (Constant::Object(props), Ty::Object { fixed, rest }) => {
            if props.len() != fixed.len() && rest.is_none() {
                return false;
            }
            props.iter().all(|(k, v)| {
                // A key that is a variable or a composite: OPA types the
                // value under it as any (or compares composite types
                // exactly); not judged here.
                let Some(kt) = k.as_ref().and_then(Constant::scalar) else {
                    return true;
                };
                let named = match k {
                    Some(Constant::String(name)) => fixed
                        .iter()
                        .find(|(key, _)| key.as_str() == Some(name.as_str()))
                        .map(|(_, t)| t),
                    _ => None,
                };
                let child = named.or_else(|| {
                    rest.as_deref()
                        .filter(|r| key_admitted(&r.0, &kt))
                        .map(|r| &r.1)
                });
                match child {
                    Some(ct) => fits(v, ct),
                    None => false,
                }
            })
        }
        _ => false,
    }
}

/// The argument types of OPA's builtin from its declaration column.
pub(crate) fn parse_args(json: &str) -> Option<Vec<Ty>> {
    let v: Value = serde_json::from_str(json).ok()?;
    v.as_array()?.iter().map(Ty::from_json).collect()
}

/// The first argument (0-based) among `params` (regorus AST expressions)
/// that OPA refuses for `types`, with OPA's "have"/"want" texts.
pub(crate) fn refused_argument(params: &[&Value], types: &[Ty]) -> Option<(usize, String, String)> {
    for (i, (p, t)) in params.iter().zip(types).enumerate() {
        let c = Constant::of(p);
        if !fits(&c, t) {
            let have: Vec<String> = params
                .iter()
                .take(types.len())
                .map(|p| Constant::of(p).map_or_else(|| "any".to_string(), |c| c.text()))
                .collect();
            let want: Vec<String> = types.iter().map(Ty::text).collect();
            return Some((i, have.join(", "), want.join(", ")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(v: Value) -> Ty {
        Ty::from_json(&v).unwrap()
    }

    fn num() -> Value {
        json!({"Number": {"value": 1}})
    }

    fn s(t: &str) -> Value {
        json!({"String": {"value": t}})
    }

    #[test]
    fn constants_against_declared_types() {
        let collection = ty(json!({"type": "any", "of": [
            {"type": "string"},
            {"type": "array", "dynamic": {"type": "any"}},
            {"type": "set", "of": {"type": "any"}}
        ]}));
        assert!(!fits(&Constant::of(&num()), &collection));
        assert!(fits(&Constant::of(&s("a")), &collection));
        let strings = ty(json!({"type": "any", "of": [
            {"type": "array", "dynamic": {"type": "string"}},
            {"type": "set", "of": {"type": "string"}}
        ]}));
        let mixed = json!({"Array": {"items": [s("a"), num()]}});
        assert!(!fits(&Constant::of(&mixed), &strings));
        // A variable inside the array is not judged.
        let partly = json!({"Array": {"items": [s("a"), {"Var": {"value": "x"}}]}});
        assert!(fits(&Constant::of(&partly), &strings));
        let pair = ty(json!({"type": "any", "of": [
            {"type": "number"},
            {"type": "array", "static": [{"type": "number"}, {"type": "string"}]}
        ]}));
        assert!(!fits(
            &Constant::of(&json!({"Array": {"items": [num(), s("UTC"), s("x")]}})),
            &pair
        ));
        assert!(fits(
            &Constant::of(&json!({"Array": {"items": [num(), s("UTC")]}})),
            &pair
        ));
        let graph = ty(
            json!({"type": "object", "dynamic": {"key": {"type": "any"}, "value":
            {"type": "any", "of": [{"type": "array", "dynamic": {"type": "any"}}, {"type": "set", "of": {"type": "any"}}]}}}),
        );
        let bad = json!({"Object": {"fields": [[{}, s("a"), s("b")]]}});
        assert!(!fits(&Constant::of(&bad), &graph));
        let good = json!({"Object": {"fields": [[{}, s("a"), {"Array": {"items": [s("b")]}}]]}});
        assert!(fits(&Constant::of(&good), &graph));
        assert_eq!(collection.text(), "any<string, array[any], set[any]>");
    }
}
