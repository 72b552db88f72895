//! Builtins whose run time in OPA is looser than their declared type.
//!
//! OPA's type checker refuses a policy that gives `time.date` a
//! three-element array or `graph.reachable` a graph with a string edge
//! when it can see the value's type: a constant, a variable or rule holding
//! one, a function's result, a nested call. A value of that shape from the
//! input or data reaches the call unchecked, and OPA's run time answers
//! (`time.date([0, "UTC", "x"])` is `[1970, 1, 1]`). CoreSDK refuses the
//! constants, variables and rules at load as OPA does
//! (`crate::builtin_types`) but does not infer types through functions and
//! calls, so here such a value raises when the call runs: a policy OPA
//! refuses to load never allows here, at the cost of a denial where OPA
//! answers an input or data document of the wrong shape (listed in
//! docs/conformance.md, with OPA's `reachable/malformed 2` case).

use anyhow::{bail, Result};
use regorus::Value;

use super::delegate::regorus_builtin;

/// The `[ns, tz]` form of the time builtins: exactly two elements.
fn time_operand(name: &str, args: &[Value]) -> Result<Value> {
    if let Value::Array(a) = &args[0] {
        if a.len() != 2 {
            bail!(
                "{name}: operand 1 must be one of {{number, array<number, string>}} but got an array of {} elements (OPA's type checker refuses it where it can see it)",
                a.len()
            );
        }
    }
    regorus_builtin(name, args)
}

/// `time.date(x)`.
pub(super) fn time_date(args: &[Value]) -> Result<Value> {
    time_operand("time.date", args)
}

/// `time.clock(x)`.
pub(super) fn time_clock(args: &[Value]) -> Result<Value> {
    time_operand("time.clock", args)
}

/// `time.weekday(x)`.
pub(super) fn time_weekday(args: &[Value]) -> Result<Value> {
    time_operand("time.weekday", args)
}

/// `graph.reachable(graph, initial)`: every edge list an array or a set.
pub(super) fn graph_reachable(args: &[Value]) -> Result<Value> {
    if let Value::Object(g) = &args[0] {
        if let Some((k, _)) = g
            .iter()
            .find(|(_, v)| !matches!(v, Value::Array(_) | Value::Set(_)))
        {
            bail!("graph.reachable: the edges of {k} must be an array or a set (OPA's type checker refuses anything else where it can see it)");
        }
    }
    regorus_builtin("graph.reachable", args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from_json_str(s).unwrap()
    }

    #[test]
    fn values_outside_the_declared_type_raise() {
        assert_eq!(time_date(&[v("[0, \"UTC\"]")]).unwrap(), v("[1970, 1, 1]"));
        assert_eq!(time_date(&[v("0")]).unwrap(), v("[1970, 1, 1]"));
        assert!(time_date(&[v("[0, \"UTC\", \"x\"]")]).is_err());
        assert!(time_clock(&[v("[0]")]).is_err());
        assert!(time_weekday(&[v("[0, \"UTC\", 1]")]).is_err());
        assert!(graph_reachable(&[v("{\"a\": \"b\"}"), v("[\"a\"]")]).is_err());
        assert!(graph_reachable(&[v("{\"a\": null}"), v("[\"a\"]")]).is_err());
        let reached = graph_reachable(&[v("{\"a\": [\"b\"], \"b\": []}"), v("[\"a\"]")]).unwrap();
        let Value::Set(s) = reached else {
            panic!("not a set")
        };
        assert_eq!(s.len(), 2);
    }
}
