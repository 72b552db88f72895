//! `ceil` and `floor`, as OPA computes them.
//!
//! OPA v1.22.4 truncates toward zero and then steps by the sign of the
//! truncated integer (`arithCeil`, `arithFloor`), so for a number between
//! -1 and 0 the step goes the wrong way: `ceil(-0.5)` is `1` and
//! `floor(-0.5)` is `0` (Go's `big.Int` has no negative zero). OPA is the
//! reference, so the same answers here; regorus 0.14.1 answered `0` and
//! `-1` (and `ceil(input.x) < 1` allowed where OPA denies).
//!
//! OPA rounds (`ceil`, `floor`, `round`) and formats (`format_int`) a
//! number outside the int32 window through a 64-bit-mantissa `big.Float`,
//! so a number from 2^64 up comes out as that float's integer:
//! `ceil(1e30)` is 1000000000000000000024696061952, not 10^30 (and
//! `format_int` of an integer *text* is exact, of `1e30` that float). Here
//! such a number is a double standing for its shortest decimal
//! ([`crate::numbers`]): where the 64-bit float is that decimal (`2e20`)
//! the answer is the same number, elsewhere an error (a denial where OPA
//! answers), never the decimal OPA does not answer.

use anyhow::{anyhow, bail, Result};
use num_bigint::BigInt;
use regorus::Value;

use super::type_name;

fn step(name: &str, v: &Value, up: bool) -> Result<Value> {
    let Value::Number(n) = v else {
        bail!("{name}: operand 1 must be number but got {}", type_name(v));
    };
    if n.is_integer() {
        return wide_unchanged(name, v);
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

/// `v` itself, when OPA's 64-bit float of it is its value: always below
/// 2^64; from 2^64 up when the shortest decimal has 64 significant bits or
/// fewer.
fn wide_unchanged(name: &str, v: &Value) -> Result<Value> {
    let Value::Number(n) = v else {
        return Ok(v.clone());
    };
    match n.as_f64() {
        Some(f) if f.abs() >= crate::numbers::TWO_64 && super::is_double(v) => {
            let d = crate::numbers::shortest_decimal_integer(f);
            let r = crate::numbers::round_to_64_bits(&d);
            if r == d {
                Ok(v.clone())
            } else {
                bail!("{name}: OPA rounds {d} through a 64-bit float to {r}, a number CoreSDK does not hold (from 2^64 up it holds doubles by their shortest decimal)")
            }
        }
        _ => Ok(v.clone()),
    }
}

/// `round(x)`: regorus's (half away from zero, as OPA), after the check of
/// numbers from 2^64 up.
pub(super) fn round(args: &[Value]) -> Result<Value> {
    let v = &args[0];
    if let Value::Number(n) = v {
        if n.is_integer() {
            return wide_unchanged("round", v);
        }
    }
    super::delegate::regorus_builtin("round", args)
}

/// `format_int(x, base)`: `x` truncated toward zero, in base 2, 8, 10 or
/// 16 (Go's `%b`, `%o`, `%d`, `%x` of a `big.Int`).
pub(super) fn format_int(args: &[Value]) -> Result<Value> {
    let name = "format_int";
    let Value::Number(n) = &args[0] else {
        bail!(
            "{name}: operand 1 must be number but got {}",
            type_name(&args[0])
        );
    };
    let Value::Number(b) = &args[1] else {
        bail!(
            "{name}: operand 2 must be number but got {}",
            type_name(&args[1])
        );
    };
    // OPA compares the base's text with "2", "8", "10", "16".
    let radix = match (super::is_double(&args[1]), b.as_i64()) {
        (false, Some(r @ (2 | 8 | 10 | 16))) => r as u32,
        _ => bail!("{name}: operand 2 must be one of {{2, 8, 10, 16}}"),
    };
    let value: BigInt = if !super::is_double(&args[0]) {
        match n.as_i64() {
            Some(i) => BigInt::from(i),
            None => match n.as_u64() {
                Some(u) => BigInt::from(u),
                None => (*n
                    .as_big()
                    .ok_or_else(|| anyhow!("{name}: operand 1 is not a finite number"))?)
                .clone(),
            },
        }
    } else {
        let f = n
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| anyhow!("{name}: operand 1 is not a finite number"))?;
        if f.abs() >= crate::numbers::TWO_64 {
            // An integer text is formatted exactly in OPA, `1e30` through a
            // 64-bit float: the same only when that float is the decimal.
            wide_unchanged(name, &args[0])?;
            crate::numbers::shortest_decimal_integer(f)
        } else {
            // Below 2^64 the truncation of the double is that of its
            // shortest decimal (no integer lies between the two).
            BigInt::from(f.trunc() as i128)
        }
    };
    Ok(Value::String(value.to_str_radix(radix).into()))
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

    #[test]
    fn from_2_64_up_the_same_number_or_an_error() {
        // OPA: ceil(2e20) is 200000000000000000000; ceil(1e30) is
        // 1000000000000000000024696061952 (its 64-bit float).
        assert_eq!(ceil(&[Value::from(2e20)]).unwrap(), Value::from(2e20));
        assert_eq!(floor(&[Value::from(-2e20)]).unwrap(), Value::from(-2e20));
        assert!(ceil(&[Value::from(1e30)]).is_err());
        assert!(round(&[Value::from(1e30)]).is_err());
        assert_eq!(round(&[n("2.5")]).unwrap(), n("3"));
        assert_eq!(round(&[n("-2.5")]).unwrap(), n("-3"));
    }

    #[test]
    fn format_int_as_opa() {
        let f = |x: Value, b: i64| {
            format_int(&[x, Value::from(b)]).map(|v| v.as_string().unwrap().to_string())
        };
        assert_eq!(f(n("255"), 16).unwrap(), "ff");
        assert_eq!(f(n("-255"), 2).unwrap(), "-11111111");
        assert_eq!(f(n("15.9"), 16).unwrap(), "f");
        assert_eq!(f(n("-15.9"), 16).unwrap(), "-f");
        assert_eq!(
            f(n("18446744073709551615"), 10).unwrap(),
            "18446744073709551615"
        );
        assert_eq!(f(Value::from(-2e20), 16).unwrap(), "-ad78ebc5ac6200000");
        assert!(f(Value::from(1e30), 10).is_err());
        assert!(f(n("1"), 3).is_err());
        assert!(format_int(&[n("1"), n("10.0")]).is_err());
    }
}
