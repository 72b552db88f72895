//! Arithmetic (`+`, `-`, `*`, `/`, `%`) that answers as OPA does, or
//! raises.
//!
//! OPA computes with integers exactly, and otherwise with 64-bit-mantissa
//! binary floats whose result it prints as the shortest decimal at that
//! precision; regorus computes with IEEE doubles. The two agree on
//! integers and on short binary fractions, and disagree elsewhere:
//! `0.1 + 0.2 == 0.3` holds in OPA and not with doubles, `1.1 - 1.0 ==
//! 0.1` holds with doubles and not in OPA. So here:
//! - integers (and integral numbers) are added, subtracted, multiplied,
//!   divided and reduced exactly, within 128 bits;
//! - a non-integer operand or result is allowed only when the double is
//!   exact throughout: every operand is exactly its shortest decimal (0.5,
//!   2.75, not 0.1), the operation rounds nothing, and the result is
//!   exactly its shortest decimal, so OPA prints the same number;
//! - anything else raises an evaluation error (the decision denies),
//!   where OPA would answer: a difference in the safe direction, listed in
//!   docs/conformance.md.
//!
//! The front end ([`crate::frontend`]) rewrites each arithmetic operator
//! of a policy to these builtins (`__coresdk.plus(a, b)`...).

use anyhow::{bail, Result};
use num_bigint::BigInt;
use regorus::Value;

use super::type_name;

/// The prefix of the arithmetic builtins' names.
pub(crate) const NAMESPACE: &str = "__coresdk";

/// A number operand: an integer (within 128 bits, or beyond as a big
/// integer, as regorus parses a long integer literal), or a double.
enum Num {
    Int(i128),
    Big(BigInt),
    Float(f64),
}

const TWO_53: f64 = 9_007_199_254_740_992.0;

fn num(name: &str, pos: usize, v: &Value) -> Result<Num> {
    let Value::Number(n) = v else {
        bail!(
            "{name}: operand {pos} must be number but got {}",
            type_name(v)
        );
    };
    // A double from 2^64 up stands for its shortest decimal (the only
    // text the engine accepts for it, crate::numbers), not for its exact
    // binary value: input `1e30` is 10^30, as in OPA, so `input.x + 1` is
    // 10^30 + 1 (regorus's integer view of the double was
    // 1000000000000000019884624838657).
    if let Some(f) = n.as_f64() {
        // The cheap tests first: is_double renders text.
        if f.is_finite()
            && f.fract() == 0.0
            && f.abs() >= crate::numbers::TWO_64
            && super::is_double(v)
        {
            return Ok(Num::Big(crate::numbers::shortest_decimal_integer(f)));
        }
    }
    if let Some(i) = n.as_i128() {
        return Ok(Num::Int(i));
    }
    if let Some(b) = n.as_big() {
        return Ok(Num::Big((*b).clone()));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => Ok(Num::Float(f)),
        _ => bail!("{name}: operand {pos} is not a finite number"),
    }
}

/// Whether `f` equals its shortest decimal exactly (a short binary
/// fraction: 0.5, 2.75, 1e-3 is not).
fn exact_decimal(f: f64) -> bool {
    if f == 0.0 {
        return true;
    }
    // The shortest decimal is M × 10^e; it equals f exactly when it is a
    // binary fraction that a double holds: e >= 0 (an integer below 2^53,
    // checked by the caller's range), or M divisible by 5^-e.
    let s = format!("{f:e}");
    let Some((m, e)) = s.split_once('e') else {
        return false;
    };
    let Ok(e) = e.parse::<i32>() else {
        return false;
    };
    let digits: String = m.chars().filter(char::is_ascii_digit).collect();
    let frac_digits = m.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
    let exp10 = e - frac_digits;
    if exp10 >= 0 {
        return f.abs() < TWO_53;
    }
    let Ok(mut mantissa) = digits.trim_start_matches('0').parse::<u128>() else {
        return false;
    };
    for _ in 0..(-exp10) {
        if mantissa % 5 != 0 {
            return false;
        }
        mantissa /= 5;
    }
    true
}

fn inexact(name: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{name}: arithmetic on non-integer numbers that a double does not hold exactly (CoreSDK computes with IEEE doubles, OPA with 64-bit binary floats and decimal output, so the result could differ): scale to integers"
    )
}

fn as_float(n: &Num) -> Option<f64> {
    match n {
        Num::Float(f) => Some(*f),
        Num::Int(i) if (i.unsigned_abs() as f64) < TWO_53 => Some(*i as f64),
        Num::Int(_) | Num::Big(_) => None,
    }
}

/// Both operands as integers, when they are.
fn ints(a: &Num, b: &Num) -> Option<(BigInt, BigInt)> {
    let big = |n: &Num| match n {
        Num::Int(i) => Some(BigInt::from(*i)),
        Num::Big(b) => Some(b.clone()),
        Num::Float(_) => None,
    };
    Some((big(a)?, big(b)?))
}

/// An integer result as the engine holds it (from 2^64 up, the double whose
/// shortest decimal it is, or an error: [`crate::numbers::integer_value`]).
fn big_value(name: &str, b: BigInt) -> Result<Value> {
    crate::numbers::integer_value(name, &b)
}

/// An exact integer operation: on `i128` when both fit and it does not
/// overflow, else on big integers.
fn exact(
    name: &str,
    a: &Num,
    b: &Num,
    small: fn(i128, i128) -> Option<i128>,
    big: fn(BigInt, BigInt) -> BigInt,
) -> Option<Result<Value>> {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        if let Some(r) = small(*x, *y) {
            if let Ok(r) = i64::try_from(r) {
                return Some(Ok(Value::from(r)));
            }
            return Some(big_value(name, BigInt::from(r)));
        }
    }
    let (x, y) = ints(a, b)?;
    Some(big_value(name, big(x, y)))
}

/// A double result, when exact: the operation rounded nothing (`err` is
/// its exact error) and it is its own shortest decimal.
fn float_value(name: &str, r: f64, err: f64) -> Result<Value> {
    if !r.is_finite() || err != 0.0 || !exact_decimal(r) {
        return Err(inexact(name));
    }
    if r.fract() == 0.0 && r.abs() < TWO_53 {
        return Ok(Value::from(r as i128));
    }
    Ok(Value::from(r))
}

fn float_operands(name: &str, a: &Num, b: &Num) -> Result<(f64, f64)> {
    match (as_float(a), as_float(b)) {
        (Some(x), Some(y)) if exact_decimal(x) && exact_decimal(y) => Ok((x, y)),
        _ => Err(inexact(name)),
    }
}

fn add(name: &str, a: Num, b: Num) -> Result<Value> {
    if let Some(r) = exact(name, &a, &b, i128::checked_add, |x, y| x + y) {
        return r;
    }
    let (x, y) = float_operands(name, &a, &b)?;
    let s = x + y;
    // Knuth's two-sum: the exact rounding error of the addition.
    let bb = s - x;
    let err = (x - (s - bb)) + (y - bb);
    float_value(name, s, err)
}

fn negate(n: Num) -> Num {
    match n {
        Num::Int(i) => match i.checked_neg() {
            Some(m) => Num::Int(m),
            None => Num::Big(-BigInt::from(i)),
        },
        Num::Big(b) => Num::Big(-b),
        Num::Float(f) => Num::Float(-f),
    }
}

/// `__coresdk.plus(a, b)`: `a + b`.
pub(super) fn plus(args: &[Value]) -> Result<Value> {
    let name = "plus";
    add(name, num(name, 1, &args[0])?, num(name, 2, &args[1])?)
}

/// `__coresdk.minus(a, b)`: `a - b`, numbers or sets.
pub(super) fn minus(args: &[Value]) -> Result<Value> {
    let name = "minus";
    if let (Value::Set(a), Value::Set(b)) = (&args[0], &args[1]) {
        return Ok(Value::from(
            a.iter()
                .filter(|x| !b.contains(x))
                .cloned()
                .collect::<std::collections::BTreeSet<Value>>(),
        ));
    }
    if matches!(args[0], Value::Set(_)) || matches!(args[1], Value::Set(_)) {
        bail!(
            "minus: operand 2 must be set but got {}",
            type_name(if matches!(args[0], Value::Set(_)) {
                &args[1]
            } else {
                &args[0]
            })
        );
    }
    let b = num(name, 2, &args[1])?;
    add(name, num(name, 1, &args[0])?, negate(b))
}

/// `__coresdk.mul(a, b)`: `a * b`.
pub(super) fn mul(args: &[Value]) -> Result<Value> {
    let name = "mul";
    let (a, b) = (num(name, 1, &args[0])?, num(name, 2, &args[1])?);
    if let Some(r) = exact(name, &a, &b, i128::checked_mul, |x, y| x * y) {
        return r;
    }
    let (x, y) = float_operands(name, &a, &b)?;
    let p = x * y;
    float_value(name, p, x.mul_add(y, -p))
}

/// `__coresdk.div(a, b)`: `a / b`.
pub(super) fn div(args: &[Value]) -> Result<Value> {
    let name = "div";
    let (a, b) = (num(name, 1, &args[0])?, num(name, 2, &args[1])?);
    let zero = match &b {
        Num::Int(y) => *y == 0,
        Num::Big(_) => false,
        Num::Float(y) => *y == 0.0,
    };
    if zero {
        bail!("div: divide by zero");
    }
    if let Some((x, y)) = ints(&a, &b) {
        if (&x % &y) == BigInt::from(0) {
            return big_value(name, x / y);
        }
    }
    let (x, y) = float_operands(name, &a, &b)?;
    let q = x / y;
    // Exact when q × y gives back x with no rounding.
    float_value(name, q, q.mul_add(y, -x))
}

/// The numbers of `sum`/`product`'s operand, an array or set.
fn elements<'a>(name: &str, v: &'a Value) -> Result<Vec<&'a Value>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Set(s) => s.iter().collect(),
        other => bail!(
            "{name}: operand 1 must be one of {{array, set}} but got {}",
            type_name(other)
        ),
    };
    if let Some(bad) = items.iter().find(|i| !matches!(i, Value::Number(_))) {
        bail!(
            "{name}: operand 1 must be one of {{array, set}} of numbers but got an element of type {}",
            type_name(bad)
        );
    }
    Ok(items)
}

/// `sum(collection)`: the elements added as `+` adds them (exact, or an
/// error where a double is not; regorus adds doubles, so `sum([0.1, 0.2])`
/// was `0.30000000000000004` where OPA answers `0.3`).
pub(super) fn sum(args: &[Value]) -> Result<Value> {
    let mut acc = Value::from(0);
    for v in elements("sum", &args[0])? {
        acc = plus(&[acc, v.clone()])?;
    }
    Ok(acc)
}

/// `product(collection)`: the elements multiplied as `*` multiplies them.
pub(super) fn product(args: &[Value]) -> Result<Value> {
    let mut acc = Value::from(1);
    for v in elements("product", &args[0])? {
        acc = mul(&[acc, v.clone()])?;
    }
    Ok(acc)
}

/// `__coresdk.rem(a, b)`: `a % b`, integers only (as OPA).
pub(super) fn rem(args: &[Value]) -> Result<Value> {
    let name = "rem";
    let (a, b) = (num(name, 1, &args[0])?, num(name, 2, &args[1])?);
    match ints(&a, &b) {
        Some((_, y)) if y == BigInt::from(0) => bail!("modulo by zero"),
        // Truncated, the sign of the dividend (Go's big.Int.Rem, Rust's %).
        Some((x, y)) => big_value(name, x % y),
        None => bail!("modulo on floating-point number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: f64) -> Value {
        Value::from(x)
    }

    fn i(x: i64) -> Value {
        Value::from(x)
    }

    #[test]
    fn a_double_from_2_64_up_is_its_shortest_decimal() {
        let x = Value::from(1e30);
        assert_eq!(plus(&[x.clone(), x.clone()]).unwrap(), Value::from(2e30));
        assert_eq!(mul(&[x.clone(), i(3)]).unwrap(), Value::from(3e30));
        assert_eq!(minus(&[x.clone(), x.clone()]).unwrap(), i(0));
        assert_eq!(
            minus(&[Value::from(-1.5e20), Value::from(-1.5e20)]).unwrap(),
            i(0)
        );
        // 10^30 + 1 is no double's shortest decimal: held as a big integer
        // it would be compared with doubles by their binary values.
        let err = plus(&[x, i(1)]).unwrap_err().to_string();
        assert!(err.contains("beyond 64 bits"), "{err}");
        assert!(minus(&[Value::from(-1.5e20), i(1)]).is_err());
    }

    #[test]
    fn integers_beyond_64_bits_are_exact_or_raise() {
        let big = |t: &str| Value::from_numeric_string(t).unwrap();
        let max = big("18446744073709551615");
        assert!(plus(&[max.clone(), i(1)]).is_err());
        assert_eq!(plus(&[max.clone(), i(0)]).unwrap(), max);
        assert_eq!(
            plus(&[i(i64::MAX), i(1)]).unwrap(),
            big("9223372036854775808")
        );
        let x = Value::from(1e48);
        assert_eq!(mul(&[x.clone(), x.clone()]).unwrap(), Value::from(1e96));
        assert_eq!(
            div(&[x.clone(), Value::from(1e39)]).unwrap(),
            i(1_000_000_000)
        );
        assert_eq!(rem(&[i(10), big("18446744073709551616")]).unwrap(), i(10));
        assert!(plus(&[x, n(0.5)]).is_err());
    }

    #[test]
    fn integers_are_exact() {
        assert_eq!(
            plus(&[i(9_007_199_254_740_993), i(1)]).unwrap(),
            i(9_007_199_254_740_994)
        );
        assert_eq!(div(&[i(4), i(2)]).unwrap(), i(2));
        assert_eq!(rem(&[i(-7), i(3)]).unwrap(), i(-1));
        assert_eq!(rem(&[n(4.0), i(3)]).unwrap(), i(1));
        assert!(div(&[i(1), i(0)]).is_err());
        assert!(rem(&[i(1), i(0)]).is_err());
    }

    #[test]
    fn short_binary_fractions_are_exact() {
        assert_eq!(plus(&[n(0.5), n(0.25)]).unwrap(), n(0.75));
        assert_eq!(mul(&[i(3), n(0.5)]).unwrap(), n(1.5));
        assert_eq!(div(&[i(1), i(2)]).unwrap(), n(0.5));
        assert_eq!(minus(&[n(2.5), n(0.5)]).unwrap(), i(2));
    }

    #[test]
    fn what_doubles_cannot_hold_exactly_raises() {
        assert!(plus(&[n(0.1), n(0.2)]).is_err());
        assert!(minus(&[n(1.1), n(1.0)]).is_err());
        assert!(div(&[i(1), i(3)]).is_err());
        assert!(mul(&[n(0.1), i(3)]).is_err());
        assert!(plus(&[i(9_007_199_254_740_993), n(0.5)]).is_err());
        assert!(rem(&[n(7.5), i(2)]).is_err());
        assert!(plus(&[Value::from("a"), i(1)]).is_err());
    }

    #[test]
    fn sum_and_product_are_exact_or_raise() {
        let arr = |xs: Vec<Value>| Value::from(xs);
        assert_eq!(sum(&[arr(vec![i(1), i(2), n(0.5)])]).unwrap(), n(3.5));
        assert_eq!(sum(&[arr(vec![])]).unwrap(), i(0));
        assert!(sum(&[arr(vec![n(0.1), n(0.2)])]).is_err());
        assert_eq!(product(&[arr(vec![i(2), i(3)])]).unwrap(), i(6));
        assert!(product(&[arr(vec![n(0.1), i(3)])]).is_err());
        assert!(sum(&[arr(vec![Value::from("a")])]).is_err());
        assert!(sum(&[i(1)]).is_err());
    }

    #[test]
    fn minus_of_sets_is_the_difference() {
        let s = |xs: &[i64]| {
            Value::from(
                xs.iter()
                    .map(|x| Value::from(*x))
                    .collect::<std::collections::BTreeSet<_>>(),
            )
        };
        assert_eq!(minus(&[s(&[1, 2, 3]), s(&[2])]).unwrap(), s(&[1, 3]));
        assert!(minus(&[s(&[1]), i(1)]).is_err());
    }
}
