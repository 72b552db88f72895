//! `array.flatten`, as OPA computes it (regorus 0.14.1 lacks it).
//!
//! One level only: each element that is an array is replaced by its
//! elements; an array nested deeper stays an array (OPA's
//! `builtinArrayFlatten`).

use anyhow::{bail, Result};
use regorus::Value;

use super::type_name;

/// `array.flatten(arr)`.
pub(super) fn flatten(args: &[Value]) -> Result<Value> {
    let Value::Array(items) = &args[0] else {
        bail!(
            "array.flatten: operand 1 must be array but got {}",
            type_name(&args[0])
        );
    };
    if !items.iter().any(|v| matches!(v, Value::Array(_))) {
        return Ok(args[0].clone());
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        match item {
            Value::Array(inner) => out.extend(inner.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    #[test]
    fn flattens_one_level() {
        assert_eq!(
            flatten(&[v("[1, [2, 3], [], [[4]]]")]).unwrap(),
            v("[1, 2, 3, [4]]")
        );
        assert_eq!(flatten(&[v("[]")]).unwrap(), v("[]"));
        assert_eq!(flatten(&[v("[[]]")]).unwrap(), v("[]"));
        assert_eq!(
            flatten(&[v(r#"[1, "a", {"b": [1]}]"#)]).unwrap(),
            v(r#"[1, "a", {"b": [1]}]"#)
        );
        assert!(flatten(&[v("{}")]).is_err());
        assert!(flatten(&[v("\"a\"")]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_length_is_the_sum_of_the_parts(lens in prop::collection::vec(prop::option::of(0usize..4), 0..8)) {
            let arr: Vec<Value> = lens
                .iter()
                .map(|l| match l {
                    Some(n) => Value::from(vec![Value::Null; *n]),
                    None => Value::from(1),
                })
                .collect();
            let want: usize = lens.iter().map(|l| l.unwrap_or(1)).sum();
            match flatten(&[Value::from(arr)]).unwrap() {
                Value::Array(a) => prop_assert_eq!(a.len(), want),
                _ => prop_assert!(false),
            }
        }
    }
}
