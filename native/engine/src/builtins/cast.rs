//! `to_number`, as OPA computes it.
//!
//! OPA converts a string with Go's `strconv.ParseFloat` and keeps its
//! text: `" 1"` (a space), `"0x10"`, `"1_000"`, `"Inf"` and `"NaN"` are
//! errors. regorus 0.14.1 trimmed the text first, so `to_number(" 1")` was
//! `1` where OPA raises. Here a string converts only when it is a JSON
//! number (`-?int(.frac)?(e±exp)?`), parsed as an input number is; the
//! few texts Go also reads (`"+1"`, `".5"`, `"1."`) are errors here, a
//! denial where OPA would answer.

use anyhow::{anyhow, bail, Result};
use regorus::Value;

use super::type_name;

/// Whether `s` is a JSON number (RFC 8259's grammar).
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `to_number(x)`: `null` is 0, booleans 0 and 1, a number itself, a
/// string its number.
pub(super) fn to_number(args: &[Value]) -> Result<Value> {
    match &args[0] {
        Value::Null => Ok(Value::from(0u64)),
        Value::Bool(b) => Ok(Value::from(u64::from(*b))),
        Value::Number(_) => Ok(args[0].clone()),
        Value::String(s) => {
            if !is_json_number(s) {
                bail!("to_number: strconv.ParseFloat: parsing {s:?}: invalid syntax");
            }
            if !crate::numbers::is_exact(s) {
                // OPA keeps the decimal; a double here would round it.
                bail!("to_number: the number {s} has more precision than CoreSDK evaluates exactly (an IEEE double), where OPA keeps every digit");
            }
            match Value::from_json_str(s) {
                Ok(v @ Value::Number(_)) => crate::numbers::narrow("to_number", v),
                _ => Err(anyhow!(
                    "to_number: strconv.ParseFloat: parsing {s:?}: value out of range"
                )),
            }
        }
        other => bail!(
            "to_number: operand 1 must be one of {{null, boolean, number, string}} but got {}",
            type_name(other)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Result<String, String> {
        to_number(&[Value::String(s.into())])
            .map(|v| serde_json::to_string(&v).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn strings_convert_as_opa_converts_them() {
        // OPA v1.22.4's answers (opa eval --strict-builtin-errors).
        assert_eq!(num("1").unwrap(), "1");
        assert_eq!(num("-2.5").unwrap(), "-2.5");
        assert_eq!(num("1e2").unwrap(), "100");
        assert_eq!(num("1E2").unwrap(), "100");
        assert_eq!(num("0").unwrap(), "0");
        // OPA raises; regorus trimmed " 1" to 1.
        for bad in [
            " 1", "1 ", "", "0x10", "1_000", "Inf", "-inf", "NaN", "1e400", "01", "abc", "1e", "-",
        ] {
            assert!(num(bad).is_err(), "{bad:?}");
        }
        // From 2^64 up, a double standing for its shortest decimal; a
        // text no double's shortest decimal is raises (OPA keeps it).
        assert_eq!(
            to_number(&[Value::String("1e30".into())]).unwrap(),
            Value::from(1e30)
        );
        assert_eq!(
            to_number(&[Value::String("1000000000000000000000000000000".into())]).unwrap(),
            Value::from(1e30)
        );
        assert!(num("1000000000000000000000000000001").is_err());
        assert!(num("0.1000000000000000000001").is_err());
        assert_eq!(to_number(&[Value::Null]).unwrap(), Value::from(0u64));
        assert_eq!(to_number(&[Value::Bool(true)]).unwrap(), Value::from(1u64));
        assert_eq!(to_number(&[Value::from(7u64)]).unwrap(), Value::from(7u64));
        assert!(to_number(&[Value::new_array()]).is_err());
    }
}
