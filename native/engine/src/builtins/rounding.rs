//! `ceil` and `floor`, as OPA computes them.
//!
//! OPA v1.22.4 truncates toward zero and then steps by the sign of the
//! truncated integer (`arithCeil`, `arithFloor`), so for a number between
//! -1 and 0 the step goes the wrong way: `ceil(-0.5)` is `1` and
//! `floor(-0.5)` is `0` (Go's `big.Int` has no negative zero). OPA is the
//! reference, so the same answers here; regorus 0.14.1 answered `0` and
//! `-1` (and `ceil(input.x) < 1` allowed where OPA denies).

use anyhow::{bail, Result};
use regorus::Value;

use super::type_name;

fn step(name: &str, v: &Value, up: bool) -> Result<Value> {
    let Value::Number(n) = v else {
        bail!("{name}: operand 1 must be number but got {}", type_name(v));
    };
    if n.is_integer() {
        return Ok(v.clone());
    }
    let Some(x) = n.as_f64() else {
        bail!("{name}: operand 1 is not a finite number");
    };
    // A non-integral double is below 2^53 in magnitude: its truncation fits.
    let t = x.trunc() as i64;
    Ok(Value::from(match (up, t < 0) {
        (true, true) | (false, false) => t,
        (true, false) => t + 1,
        (false, true) => t - 1,
    }))
}

/// `ceil(x)`.
pub(super) fn ceil(args: &[Value]) -> Result<Value> {
    step("ceil", &args[0], true)
}

/// `floor(x)`.
pub(super) fn floor(args: &[Value]) -> Result<Value> {
    step("floor", &args[0], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Value {
        Value::from_json_str(s).unwrap()
    }

    #[test]
    fn as_opa_answers_them_quirks_included() {
        // OPA v1.22.4's answers (opa eval).
        for (x, c, f) in [
            ("-0.5", "1", "0"),
            ("-0.1", "1", "0"),
            ("-1.5", "-1", "-2"),
            ("1.5", "2", "1"),
            ("0.5", "1", "0"),
            ("2", "2", "2"),
            ("-3", "-3", "-3"),
            ("2.0", "2", "2"),
            ("123456789.25", "123456790", "123456789"),
        ] {
            assert_eq!(ceil(&[n(x)]).unwrap(), n(c), "ceil({x})");
            assert_eq!(floor(&[n(x)]).unwrap(), n(f), "floor({x})");
        }
        assert!(ceil(&[Value::Null]).is_err());
    }
}
