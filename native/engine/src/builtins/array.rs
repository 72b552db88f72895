//! `array.flatten` (regorus 0.14.1 lacks it) and `array.slice`, as OPA
//! computes them.
//!
//! - `array.flatten`: one level only: each element that is an array is
//!   replaced by its elements; an array nested deeper stays an array
//!   (OPA's `builtinArrayFlatten`).
//! - `array.slice(arr, start, stop)`: the indices must be integers (an
//!   error otherwise; regorus 0.14.1 answered undefined, so
//!   `not array.slice(...)` held where OPA raises), then both are clamped
//!   to the array (OPA's `builtinArraySlice`).

use anyhow::{bail, Result};
use regorus::Value;

use super::{int_operand, type_name};

/// `array.slice(arr, start, stop)`: the elements from `start` up to (not
/// including) `stop`, each clamped to `0..=len` and `start` to `stop`.
pub(super) fn slice(args: &[Value]) -> Result<Value> {
    const NAME: &str = "array.slice";
    let Value::Array(items) = &args[0] else {
        bail!(
            "{NAME}: operand 1 must be array but got {}",
            type_name(&args[0])
        );
    };
    let start = int_operand(NAME, 2, &args[1])?;
    let stop = int_operand(NAME, 3, &args[2])?;
    let len = items.len();
    let clamp = |i: i64| usize::try_from(i).map_or(0, |i| i.min(len));
    let stop = clamp(stop);
    let start = clamp(start).min(stop);
    if start == 0 && stop == len {
        return Ok(args[0].clone());
    }
    Ok(Value::from(items.as_slice()[start..stop].to_vec()))
}

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

    fn sl(arr: &str, start: &str, stop: &str) -> Result<Value, String> {
        slice(&[v(arr), v(start), v(stop)]).map_err(|e| e.to_string())
    }

    #[test]
    fn slice_as_opa_computes_it() {
        // OPA v1.22.4's answers (opa eval --strict-builtin-errors).
        assert_eq!(sl("[1,2,3,4]", "1", "3").unwrap(), v("[2,3]"));
        assert_eq!(sl("[1,2,3,4]", "-5", "2").unwrap(), v("[1,2]"));
        assert_eq!(sl("[1,2,3,4]", "2", "99").unwrap(), v("[3,4]"));
        assert_eq!(sl("[1,2,3,4]", "3", "1").unwrap(), v("[]"));
        assert_eq!(sl("[1,2,3,4]", "0", "-1").unwrap(), v("[]"));
        assert_eq!(sl("[1,2,3,4]", "0", "4").unwrap(), v("[1,2,3,4]"));
        // OPA reads "1.0" as an integer (from its text); a double is refused
        // here (builtins::int_operand).
        assert!(sl("[1,2,3,4]", "1.0", "2").is_err());
        assert!(sl("[1,2,3,4]", "1e0", "2").is_err());
        assert_eq!(sl("[]", "0", "1").unwrap(), v("[]"));
        assert!(sl("[1,2,3]", "\"1\"", "2").is_err(), "a string index");
        // regorus answered undefined for these: OPA raises.
        assert_eq!(
            sl("[1,2,3]", "0.5", "2").unwrap_err(),
            "array.slice: operand 2 must be integer number but got floating-point number"
        );
        assert_eq!(
            sl("[1,2,3]", "0", "2.5").unwrap_err(),
            "array.slice: operand 3 must be integer number but got floating-point number"
        );
        assert!(sl("{}", "0", "1").is_err());
        assert!(sl("[1]", "0", "1e30").is_err());
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
