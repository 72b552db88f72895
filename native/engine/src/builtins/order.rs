//! `__coresdk.order(a, b)`: OPA's ordering of two values, as -1, 0 or 1.
//!
//! regorus 0.14.1 orders values by its `Value` enum, which puts sets
//! before objects; OPA puts objects before sets (null < booleans < numbers
//! < strings < arrays < objects < sets), at the top and inside collections.
//! So `input.x > {"a"}` with `input.x` an object is `true` in regorus and
//! `false` in OPA: an allow where OPA denies. The front end writes an
//! ordering comparison whose operands may both be collections as
//! `__coresdk.order(a, b) > 0` (crate::frontend), which both evaluators
//! answer with this function. Within one scalar kind the order is
//! regorus's, which is OPA's (numbers by value, strings by their UTF-8
//! bytes, `false` before `true`). `sort`, `max` and `min` order by it too,
//! in place of regorus's.

use std::cmp::Ordering;

use anyhow::{bail, Result};
use regorus::Value;

/// A value's kind, in OPA's order of kinds.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
        Value::Set(_) => 6,
        Value::Undefined => 7,
    }
}

/// Element by element, then the shorter first (OPA's `termSliceCompare`).
fn elements<'a>(a: &[&'a Value], b: &[&'a Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match compare(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// `items` sorted in OPA's order.
fn sorted<'a>(items: impl Iterator<Item = &'a Value>) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = items.collect();
    v.sort_by(|x, y| compare(x, y));
    v
}

/// An object's pairs in OPA's order of their keys.
fn pairs<'a>(items: impl Iterator<Item = (&'a Value, &'a Value)>) -> Vec<(&'a Value, &'a Value)> {
    let mut p: Vec<(&Value, &Value)> = items.collect();
    p.sort_by(|l, r| compare(l.0, r.0));
    p
}

/// OPA's order of `a` and `b` (`ast.Compare`).
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            elements(&x.iter().collect::<Vec<_>>(), &y.iter().collect::<Vec<_>>())
        }
        (Value::Set(x), Value::Set(y)) => elements(&sorted(x.iter()), &sorted(y.iter())),
        (Value::Object(x), Value::Object(y)) => {
            // Pairs in the order of their keys; key, then value, pair by
            // pair; then the object with fewer keys first.
            let (px, py) = (pairs(x.iter()), pairs(y.iter()));
            for ((kx, vx), (ky, vy)) in px.iter().zip(&py) {
                match compare(kx, ky).then_with(|| compare(vx, vy)) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
            px.len().cmp(&py.len())
        }
        _ if rank(a) != rank(b) => rank(a).cmp(&rank(b)),
        _ => a.cmp(b),
    }
}

/// `__coresdk.order(a, b)`: -1, 0 or 1 as `a` is before, equal to or
/// after `b` in OPA's order.
pub(crate) fn order(args: &[Value]) -> Result<Value> {
    Ok(Value::from(match compare(&args[0], &args[1]) {
        Ordering::Less => -1i64,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

/// The elements of an array or a set, or OPA's type error for `name`.
fn elements_of<'a>(name: &str, v: &'a Value) -> Result<Vec<&'a Value>> {
    match v {
        Value::Array(a) => Ok(a.iter().collect()),
        Value::Set(s) => Ok(s.iter().collect()),
        other => bail!(
            "{name}: operand 1 must be one of {{set, array}} but got {}",
            kind_name(other)
        ),
    }
}

/// OPA's name of a value's kind, for its type errors.
fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Set(_) => "set",
        Value::Undefined => "undefined",
    }
}

/// `sort(c)`: the elements of an array or set, in OPA's order.
pub(crate) fn sort(args: &[Value]) -> Result<Value> {
    let mut items = elements_of("sort", &args[0])?;
    items.sort_by(|a, b| compare(a, b));
    Ok(Value::from(items.into_iter().cloned().collect::<Vec<_>>()))
}

/// `max(c)`: the greatest element in OPA's order; undefined when empty.
pub(crate) fn max(args: &[Value]) -> Result<Value> {
    let items = elements_of("max", &args[0])?;
    Ok(items
        .into_iter()
        .max_by(|a, b| compare(a, b))
        .cloned()
        .unwrap_or(Value::Undefined))
}

/// `min(c)`: the least element in OPA's order; undefined when empty.
pub(crate) fn min(args: &[Value]) -> Result<Value> {
    let items = elements_of("min", &args[0])?;
    Ok(items
        .into_iter()
        .min_by(|a, b| compare(a, b))
        .cloned()
        .unwrap_or(Value::Undefined))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    fn set(items: &[&str]) -> Value {
        let mut s = std::collections::BTreeSet::new();
        for i in items {
            s.insert(v(i));
        }
        Value::from(s)
    }

    #[test]
    fn kinds_order_as_in_opa_objects_before_sets() {
        let ladder = [
            v("null"),
            v("false"),
            v("true"),
            v("-1"),
            v("2.5"),
            v("\"\""),
            v("\"a\""),
            v("[]"),
            v("[1]"),
            v("{}"),
            v("{\"a\": 1}"),
            set(&[]),
            set(&["1"]),
        ];
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        // regorus's own order disagrees exactly there.
        assert_eq!(v("{}").cmp(&set(&[])), Ordering::Greater);
    }

    #[test]
    fn collections_compare_inside_in_opa_order() {
        // An object inside an array is before a set in the same place.
        let a = Value::from(vec![v("{}")]);
        let b = Value::from(vec![set(&[])]);
        assert_eq!(compare(&a, &b), Ordering::Less);
        // Sets: sorted elements, then the smaller set first.
        assert_eq!(
            compare(&set(&["1", "2"]), &set(&["1", "3"])),
            Ordering::Less
        );
        assert_eq!(compare(&set(&["1"]), &set(&["1", "2"])), Ordering::Less);
        // Objects: keys first, then values, then fewer keys first.
        assert_eq!(compare(&v("{\"a\": 2}"), &v("{\"b\": 1}")), Ordering::Less);
        assert_eq!(
            compare(&v("{\"a\": 2}"), &v("{\"a\": 1}")),
            Ordering::Greater
        );
        assert_eq!(
            compare(&v("{\"a\": 1}"), &v("{\"a\": 1, \"b\": 0}")),
            Ordering::Less
        );
        // Arrays: element by element, then the shorter first.
        assert_eq!(compare(&v("[1, 2]"), &v("[1]")), Ordering::Greater);
        assert_eq!(compare(&v("[1, 2]"), &v("[2]")), Ordering::Less);
        assert_eq!(order(&[v("1"), v("1.0")]).unwrap(), v("0"));
    }

    #[test]
    fn sort_max_and_min_use_opa_s_order() {
        let mixed = Value::from(vec![set(&["1"]), v("{\"a\": 1}"), v("2"), v("[]")]);
        assert_eq!(
            sort(std::slice::from_ref(&mixed)).unwrap(),
            Value::from(vec![v("2"), v("[]"), v("{\"a\": 1}"), set(&["1"])])
        );
        assert_eq!(max(std::slice::from_ref(&mixed)).unwrap(), set(&["1"]));
        assert_eq!(min(&[mixed]).unwrap(), v("2"));
        assert_eq!(max(&[v("[]")]).unwrap(), Value::Undefined);
        assert_eq!(sort(&[set(&["3", "1"])]).unwrap(), v("[1, 3]"));
        assert!(sort(&[v("1")]).is_err());
    }
}
