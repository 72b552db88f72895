//! `object.subset`, as OPA computes it.
//!
//! OPA accepts two objects, two sets, two arrays (a contiguous run of
//! elements), or an array and a set (every element of the set in the
//! array), and raises for any other pair. regorus 0.14.1 answered `false`
//! for other pairs, so `not object.subset(input.granted, input.asked)`
//! held for a set and an array where OPA raises.

use anyhow::{bail, Result};
use regorus::Value;

/// OPA's `objectSubset`: every key of `sub` in `sup` with an equal value,
/// or with both values objects, sets or arrays and a subset.
fn object_subset(sup: &Value, sub: &Value) -> bool {
    let (Value::Object(sup), Value::Object(sub)) = (sup, sub) else {
        return false;
    };
    sub.iter().all(|(k, sv)| match sup.get(k) {
        None => false,
        Some(pv) if pv == sv => true,
        Some(pv) => match (pv, sv) {
            (Value::Object(_), Value::Object(_)) => object_subset(pv, sv),
            (Value::Set(p), Value::Set(s)) => s.iter().all(|e| p.contains(e)),
            (Value::Array(p), Value::Array(s)) => array_subset(p.as_slice(), s.as_slice()),
            _ => false,
        },
    })
}

/// OPA's `arraySubset`: `sub` is a contiguous run of `sup`.
fn array_subset(sup: &[Value], sub: &[Value]) -> bool {
    if sub.len() > sup.len() {
        return false;
    }
    if sub == sup {
        return true;
    }
    let (mut sup_cursor, mut sub_cursor) = (0usize, 0usize);
    loop {
        if sub_cursor == sub.len() {
            return true;
        }
        if sup_cursor + sub_cursor == sup.len() {
            return false;
        }
        if sup[sup_cursor + sub_cursor] == sub[sub_cursor] {
            sub_cursor += 1;
        } else {
            sup_cursor += 1;
            sub_cursor = 0;
        }
    }
}

/// OPA's `arraySetSubset`, including its answer `false` for an empty
/// array and an empty set (its loop never runs).
fn array_set_subset(sup: &[Value], len: usize, contains: impl Fn(&Value) -> bool) -> bool {
    let mut unmatched = len;
    for e in sup {
        if contains(e) {
            unmatched = unmatched.saturating_sub(1);
        }
        if unmatched == 0 {
            return true;
        }
    }
    false
}

/// `object.subset(super, sub)`.
pub(super) fn object_subset_builtin(args: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match (&args[0], &args[1]) {
        (Value::Object(_), Value::Object(_)) => object_subset(&args[0], &args[1]),
        (Value::Set(p), Value::Set(s)) => s.iter().all(|e| p.contains(e)),
        (Value::Array(p), Value::Array(s)) => array_subset(p.as_slice(), s.as_slice()),
        (Value::Array(p), Value::Set(s)) => {
            array_set_subset(p.as_slice(), s.len(), |e| s.contains(e))
        }
        _ => bail!(
            "object.subset: both arguments object.subset must be of the same type or array and set"
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(a: &str, b: &str) -> Result<Value> {
        let v = |t: &str| Value::from_json_str(t).unwrap();
        object_subset_builtin(&[v(a), v(b)])
    }

    #[test]
    fn answers_as_opa() {
        assert_eq!(
            sub(r#"{"a": {"b": 1, "c": 2}}"#, r#"{"a": {"b": 1}}"#).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(sub("[1, 2, 3]", "[2, 3]").unwrap(), Value::Bool(true));
        assert_eq!(sub("[1, 2, 3]", "[3, 2]").unwrap(), Value::Bool(false));
        assert_eq!(sub("[1, 1, 2]", "[1, 2]").unwrap(), Value::Bool(true));
        assert_eq!(
            sub(r#"{"a": [1, 2, 3]}"#, r#"{"a": [2]}"#).unwrap(),
            Value::Bool(true)
        );
        assert!(sub(r#"{"a": 1}"#, "[1]").is_err());
        assert!(sub("1", "1").is_err());
        let set = |items: &[u64]| {
            Value::from(
                items
                    .iter()
                    .map(|&i| Value::from(i))
                    .collect::<std::collections::BTreeSet<_>>(),
            )
        };
        let arr =
            |items: &[u64]| Value::from(items.iter().map(|&i| Value::from(i)).collect::<Vec<_>>());
        assert_eq!(
            object_subset_builtin(&[arr(&[1, 2]), set(&[2])]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            object_subset_builtin(&[arr(&[]), set(&[])]).unwrap(),
            Value::Bool(false)
        );
        assert!(object_subset_builtin(&[set(&[1]), arr(&[1])]).is_err());
    }
}
