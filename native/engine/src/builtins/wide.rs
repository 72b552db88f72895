//! regorus's builtins that read or make numbers from 2^64 up, held to the
//! engine's rule for them ([`crate::numbers`]: from 2^64 up a number is a
//! double standing for its shortest decimal, never a big integer).
//!
//! | builtin | regorus 0.14.1 | here |
//! |---|---|---|
//! | `json.unmarshal` | rounds a number a double does not hold (`1000000000000000000000000000001`) | an error, as for an input |
//! | `bits.*` | an operand from 2^64 up by its binary value; a result beyond 64 bits a big integer | such an operand raises (OPA reads its decimal); a result a double's shortest decimal is, else an error |
//! | `numbers.range`, `numbers.range_step` | big integers beyond 64 bits | doubles, or an error |
//! | `units.parse`, `units.parse_bytes` | doubles or big integers computed in binary | an error from 2^64 up (OPA's decimal is not known here) |
//!
//! Each is an error where OPA answers: a denial, never another answer.

use anyhow::{anyhow, bail, Result};
use regorus::Value;

use super::delegate::regorus_builtin;
use crate::numbers::{narrow, TWO_64};

/// Checks that every number in the JSON `text` is one the engine holds
/// exactly (as for an input), naming the builtin `name`.
pub(crate) fn json_text_numbers(name: &str, text: &str) -> Result<()> {
    crate::input::check_json_text(text, usize::MAX, usize::MAX).map_err(|e| anyhow!("{name}: {e}"))
}

/// Whether `v` is a number of magnitude 2^64 or more.
fn wide(v: &Value) -> bool {
    let Value::Number(n) = v else {
        return false;
    };
    if super::is_double(v) {
        return n
            .as_f64()
            .is_none_or(|f| !f.is_finite() || f.abs() >= TWO_64);
    }
    n.as_i64().is_none()
        && n.as_u64().is_none()
        && n.as_big().is_none_or(|b| b.magnitude().bits() > 64)
}

/// `json.unmarshal(text)`.
pub(super) fn json_unmarshal(args: &[Value]) -> Result<Value> {
    if let Value::String(s) = &args[0] {
        json_text_numbers("json.unmarshal", s)?;
    }
    narrow("json.unmarshal", regorus_builtin("json.unmarshal", args)?)
}

/// A `bits.*` builtin: operands from 2^64 up raise, the result narrowed.
fn bits(name: &str, args: &[Value]) -> Result<Value> {
    if let Some(pos) = args.iter().position(wide) {
        bail!(
            "{name}: operand {} is from 2^64 up, which CoreSDK holds as a double (OPA reads its decimal as an integer)",
            pos + 1
        );
    }
    narrow(name, regorus_builtin(name, args)?)
}

/// `bits.and(x, y)`.
pub(super) fn bits_and(args: &[Value]) -> Result<Value> {
    bits("bits.and", args)
}

/// `bits.or(x, y)`.
pub(super) fn bits_or(args: &[Value]) -> Result<Value> {
    bits("bits.or", args)
}

/// `bits.xor(x, y)`.
pub(super) fn bits_xor(args: &[Value]) -> Result<Value> {
    bits("bits.xor", args)
}

/// `bits.negate(x)`.
pub(super) fn bits_negate(args: &[Value]) -> Result<Value> {
    bits("bits.negate", args)
}

/// `bits.lsh(x, s)`.
pub(super) fn bits_lsh(args: &[Value]) -> Result<Value> {
    bits("bits.lsh", args)
}

/// `bits.rsh(x, s)`.
pub(super) fn bits_rsh(args: &[Value]) -> Result<Value> {
    bits("bits.rsh", args)
}

/// `numbers.range(a, b)`.
pub(super) fn numbers_range(args: &[Value]) -> Result<Value> {
    narrow("numbers.range", regorus_builtin("numbers.range", args)?)
}

/// `numbers.range_step(a, b, step)`.
pub(super) fn numbers_range_step(args: &[Value]) -> Result<Value> {
    narrow(
        "numbers.range_step",
        regorus_builtin("numbers.range_step", args)?,
    )
}

/// A `units.*` result, refused from 2^64 up.
fn units(name: &str, args: &[Value]) -> Result<Value> {
    let v = regorus_builtin(name, args)?;
    if wide(&v) {
        bail!("{name}: a result from 2^64 up, which OPA computes in decimals and CoreSDK does not");
    }
    Ok(v)
}

/// `units.parse(text)`.
pub(super) fn units_parse(args: &[Value]) -> Result<Value> {
    units("units.parse", args)
}

/// `units.parse_bytes(text)`.
pub(super) fn units_parse_bytes(args: &[Value]) -> Result<Value> {
    units("units.parse_bytes", args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Value {
        Value::from_json_str(s).unwrap()
    }

    #[test]
    fn numbers_beyond_64_bits_are_doubles_or_errors() {
        assert!(json_unmarshal(&[Value::from("1000000000000000000000000000001")]).is_err());
        assert_eq!(
            json_unmarshal(&[Value::from("[100000000000000000000]")]).unwrap(),
            Value::from(vec![Value::from(1e20)])
        );
        assert!(bits_lsh(&[n("1"), n("70")]).is_err());
        assert_eq!(bits_lsh(&[n("1"), n("3")]).unwrap(), n("8"));
        assert!(bits_and(&[Value::from(1e30), n("1")]).is_err());
        assert_eq!(
            bits_rsh(&[n("18446744073709551615"), n("60")]).unwrap(),
            n("15")
        );
        assert!(units_parse_bytes(&[Value::from("1000EiB")]).is_err());
        assert_eq!(
            units_parse_bytes(&[Value::from("1KiB")]).unwrap(),
            n("1024")
        );
        assert_eq!(numbers_range(&[n("1"), n("3")]).unwrap(), n("[1, 2, 3]"));
    }
}
