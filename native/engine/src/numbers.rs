//! Which JSON and Rego number texts the engine evaluates exactly.
//!
//! OPA keeps a number's decimal text (`json.Number`) and compares numbers
//! exactly; regorus turns every number with a fraction or an exponent, and
//! every integer beyond 64 bits, into an IEEE double. Two texts that OPA
//! tells apart can then become one double: `100.0000000000000001 <= 100`
//! holds here and not in OPA, `9007199254740993.0 == 9007199254740993`
//! holds in OPA and not here, `1e-400 == 0` holds here only.
//!
//! A text is *exact* when it is an integer within 64 bits; or, between 2^53
//! and 2^64 (where every double is an integer a 64-bit integer also names),
//! when it is the double's exact value (`9223372036854775808`, not
//! `9.223372036854776e18`); or otherwise when its decimal value is the
//! shortest decimal of the double it becomes (`0.1`, `1.5e3`, `1e300`). Distinct exact texts become distinct
//! doubles, in the same order (rounding is monotonic), and regorus compares
//! doubles with integers exactly, so comparisons between exact numbers
//! answer as OPA's do. Inputs, data files and policy literals with
//! a number that is not exact are refused, never silently rounded.
//!
//! From 2^64 up the engine holds a number only as a double, standing for
//! its shortest decimal: inputs and data are read so, policy literals are
//! written so ([`literal_is_double`]), and arithmetic and the builtins that
//! could make an integer beyond 64 bits give the double whose shortest
//! decimal the result is, or raise ([`narrow`]). A big integer is never
//! compared with such a double, which regorus would do by the double's
//! binary value.

use anyhow::{bail, Result};
use num_bigint::BigInt;
use regorus::Value;

/// Whether the number text `t` (JSON syntax) is evaluated exactly.
pub(crate) fn is_exact(t: &str) -> bool {
    let t = t.trim();
    let integer = !t.contains(['.', 'e', 'E']);
    if integer && (t.parse::<i64>().is_ok() || t.parse::<u64>().is_ok()) {
        return true;
    }
    let Ok(f) = t.parse::<f64>() else {
        return false;
    };
    if !f.is_finite() {
        return false;
    }
    if (9_007_199_254_740_992.0..18_446_744_073_709_551_616.0).contains(&f.abs()) {
        // Between 2^53 and 2^64 every double is an integer that a 64-bit
        // integer text can also name, and its shortest decimal may differ
        // from it (2^63 prints as 9.223372036854776e18): the text must be
        // the double's exact value, or the integer text and the decimal
        // would be one number here and two in OPA. (From 2^64 up there are
        // only doubles, and the shortest decimal is the rule again.)
        return match (canonical(t), canonical(&format!("{}", f as i128))) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
    }
    match (canonical(t), canonical(&format!("{f:e}"))) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Whether the policy literal `t` is evaluated exactly ([`is_exact`]): an
/// integer within 64 bits, or a number a double holds as its shortest
/// decimal. An integer literal beyond 64 bits is held as a double too
/// ([`literal_is_double`]), so it must be a double's shortest decimal
/// (`100000000000000000000`, not `18446744073709551616`).
pub(crate) fn is_exact_literal(t: &str) -> bool {
    is_exact(t)
}

/// Whether the (exact) policy literal `t` is written as a double for
/// regorus, which reads it as an integer: an exponent form with an
/// integral value (`1e3`, `1.5e3`, `1e30`: a floating-point number in
/// OPA, so `sprintf`, `json.marshal` and integer operands tell it from
/// `1000`), or an integer beyond 64 bits (`100000000000000000000`).
///
/// From 2^64 up the engine holds every number as a double standing for
/// its shortest decimal (inputs and data are read so): a big integer
/// beside such a double would be compared by the double's binary value
/// (`1e30` is 1000000000000000019884624838656 in binary), where OPA
/// compares decimals.
pub(crate) fn literal_is_double(t: &str) -> bool {
    let t = t.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i64>().is_err() && t.parse::<u64>().is_err() && is_exact(t);
    }
    is_integral_exponent(t) && is_exact(t)
}

/// Whether the literal `t` has an exponent and an integral value (`1e3`,
/// `1.5e3`, `2E+1`, `1e30`).
fn is_integral_exponent(t: &str) -> bool {
    if !t.contains(['e', 'E']) {
        return false;
    }
    match canonical(t) {
        Some((_, digits, power)) => digits.is_empty() || power >= digits.len() as i64 - 1,
        None => false,
    }
}

/// 2^64: from here up the engine holds numbers as doubles only.
pub(crate) const TWO_64: f64 = 18_446_744_073_709_551_616.0;

/// The integer an integral double's shortest decimal denotes (`1e30` is
/// 10^30, not the double's binary value).
pub(crate) fn shortest_decimal_integer(f: f64) -> BigInt {
    let s = format!("{f:e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i64 = e.parse().unwrap_or(0);
    let frac = m.split_once('.').map_or(0, |(_, x)| x.len()) as i64;
    let digits: String = m
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    let mantissa: BigInt = digits.parse().unwrap_or_default();
    mantissa * BigInt::from(10u8).pow(u32::try_from(e - frac).unwrap_or(0))
}

/// The double standing for the integer `b` from 2^64 up: the double whose
/// shortest decimal is `b`, or `None` when no double's is (`2^64`,
/// `10^30 + 1`). Below 2^64 `None` too: an integer there is held exactly.
pub(crate) fn wide_double(b: &BigInt) -> Option<f64> {
    let f: f64 = b.to_string().parse().ok()?;
    (f.is_finite() && f.abs() >= TWO_64 && shortest_decimal_integer(f) == *b).then_some(f)
}

/// `b` rounded to a 64-bit mantissa, half to even: how Go's `big.Float`
/// (OPA's `builtins.NumberToFloat`) holds it.
pub(crate) fn round_to_64_bits(b: &BigInt) -> BigInt {
    let bits = b.bits();
    if bits <= 64 {
        return b.clone();
    }
    let shift = bits - 64;
    let mag = b.magnitude();
    let kept = mag >> shift;
    let rest = mag - (&kept << shift);
    let half = num_bigint::BigUint::from(1u8) << (shift - 1);
    let odd = kept.bit(0);
    let kept = if rest > half || (rest == half && odd) {
        kept + 1u8
    } else {
        kept
    };
    let r = BigInt::from(kept << shift);
    if b.sign() == num_bigint::Sign::Minus {
        -r
    } else {
        r
    }
}

/// A number text as (negative, significant digits without leading or
/// trailing zeros, power of ten of the first digit); zero is `(false, "",
/// 0)`.
fn canonical(t: &str) -> Option<(bool, String, i64)> {
    let (neg, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let leading = digits.bytes().take_while(|&b| b == b'0').count();
    let significant = digits[leading..].trim_end_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    // The first significant digit's power of ten.
    let point = exp.checked_add(int.len() as i64)?;
    let power = point.checked_sub(leading as i64 + 1)?;
    Some((neg, significant.to_string(), power))
}

/// The integer `b`, as the engine holds it: itself below 2^64 in magnitude, from
/// 2^64 up the double whose shortest decimal it is ([`wide_double`]), or an
/// error naming `name` where no double's is (OPA would answer with every
/// digit: a denial here).
pub(crate) fn integer_value(name: &str, b: &BigInt) -> Result<Value> {
    if let Ok(i) = i64::try_from(b) {
        return Ok(Value::from(i));
    }
    if let Ok(u) = u64::try_from(b) {
        return Ok(Value::from(u));
    }
    // Below 2^64 in magnitude (down to -2^64 + 1) an integer is exact
    // beside every double, which is exact there too.
    if b.magnitude().bits() <= 64 {
        return Ok(Value::from(i128::try_from(b)?));
    }
    match wide_double(b) {
        Some(f) => Ok(Value::from(f)),
        None => bail!(
            "{name}: the result {b} is beyond 64 bits and no double's shortest decimal (CoreSDK holds numbers from 2^64 up as IEEE doubles, where OPA keeps every digit)"
        ),
    }
}

/// `v` with every integer beyond 64 bits in it held as the engine holds
/// one ([`integer_value`]): for the results of regorus's builtins that can
/// make one (`bits.lsh`, `units.parse_bytes`, `numbers.range`, ...).
pub(crate) fn narrow(name: &str, v: Value) -> Result<Value> {
    match &v {
        Value::Number(n) if big_integer(&v) => match n.as_big() {
            Some(b) => integer_value(name, &b),
            None => Ok(v),
        },
        Value::Array(items) => {
            if !items.iter().any(has_big_integer) {
                return Ok(v);
            }
            let out = items
                .iter()
                .map(|x| narrow(name, x.clone()))
                .collect::<Result<Vec<_>>>()?;
            Ok(Value::from(out))
        }
        Value::Set(items) => {
            if !items.iter().any(has_big_integer) {
                return Ok(v);
            }
            let out = items
                .iter()
                .map(|x| narrow(name, x.clone()))
                .collect::<Result<std::collections::BTreeSet<_>>>()?;
            Ok(Value::from(out))
        }
        Value::Object(fields) => {
            if !fields
                .iter()
                .any(|(k, x)| has_big_integer(k) || has_big_integer(x))
            {
                return Ok(v);
            }
            let out = fields
                .iter()
                .map(|(k, x)| Ok((narrow(name, k.clone())?, narrow(name, x.clone())?)))
                .collect::<Result<std::collections::BTreeMap<_, _>>>()?;
            Ok(Value::from(out))
        }
        _ => Ok(v),
    }
}

/// Whether `v` is an integer beyond 64 bits (the cheap tests first:
/// `is_double` renders the number's text).
fn big_integer(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none())
        && !crate::builtins::is_double(v)
}

/// Whether `v` holds an integer beyond 64 bits.
fn has_big_integer(v: &Value) -> bool {
    match v {
        Value::Number(_) => big_integer(v),
        Value::Array(items) => items.iter().any(has_big_integer),
        Value::Set(items) => items.iter().any(has_big_integer),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, x)| has_big_integer(k) || has_big_integer(x)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_written_as_doubles() {
        for t in [
            "1e3",
            "1.5e3",
            "2E+1",
            "1e15",
            "0e5",
            "-1e2",
            "1e30",
            "1e16",
            "100000000000000000000",
            "-100000000000000000000",
            "1000000000000000000000000000000",
        ] {
            assert!(literal_is_double(t), "{t}");
        }
        for t in [
            "1e-3",
            "1.25e1",
            "100",
            "1.0",
            "15e-1",
            "18446744073709551615",
            "-9223372036854775808",
            "1000000000000000000000000000001",
        ] {
            assert!(!literal_is_double(t), "{t}");
        }
        // Beyond 64 bits and no double's shortest decimal: refused.
        assert!(!is_exact_literal("18446744073709551616"));
        assert!(!is_exact_literal("1000000000000000000000000000001"));
        assert!(is_exact_literal("1000000000000000000000000000000"));
    }

    #[test]
    fn wide_integers_as_doubles() {
        let big = |s: &str| s.parse::<BigInt>().unwrap();
        assert_eq!(
            wide_double(&big("1000000000000000000000000000000")),
            Some(1e30)
        );
        assert_eq!(wide_double(&big("-200000000000000000000")), Some(-2e20));
        assert_eq!(wide_double(&big("1000000000000000000000000000001")), None);
        assert_eq!(wide_double(&big("18446744073709551616")), None);
        assert_eq!(wide_double(&big("1000")), None);
        assert_eq!(
            round_to_64_bits(&big("1000000000000000000000000000000")),
            big("1000000000000000000024696061952")
        );
        assert_eq!(
            round_to_64_bits(&big("-200000000000000000000")),
            big("-200000000000000000000")
        );
        assert_eq!(round_to_64_bits(&big("12345")), big("12345"));
        assert!(integer_value("t", &big("-9223372036854775809")).is_ok());
        assert!(integer_value("t", &big("-18446744073709551615")).is_ok());
        assert!(integer_value("t", &big("-18446744073709551616")).is_err());
    }

    #[test]
    fn exact_texts_are_integers_and_shortest_decimals() {
        for t in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "0.1",
            "2.5",
            "1.5e3",
            "1e2",
            "100",
            "3.0",
            "9007199254740991",
            "9007199254740993",
            "12345678901234567890",
            "-9223372036854775808",
            "1e-7",
            "0.30000000000000004",
            "1E+2",
            "1e300",
            "1.1805916207174113e21",
        ] {
            assert!(is_exact(t), "{t}");
        }
    }

    #[test]
    fn texts_a_double_cannot_hold_are_not_exact() {
        for t in [
            "100.0000000000000001",
            "9007199254740993.0",
            "1e-400",
            "1e400",
            "123456789012345678901234567890",
            "0.1000000000000000000001",
            "18446744073709551617",
            "9.223372036854776e18",
            "1180591620717411303424",
        ] {
            assert!(!is_exact(t), "{t}");
        }
    }
}
