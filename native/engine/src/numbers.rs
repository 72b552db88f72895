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

/// Whether the policy literal `t` is evaluated exactly: regorus parses an
/// integer literal of any length as a big integer, and any other as a
/// double ([`is_exact`]).
pub(crate) fn is_exact_literal(t: &str) -> bool {
    let t = t.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())) || is_exact(t)
}

/// Whether the policy literal `t` has an exponent and an integral value
/// below 2^53 (`1e3`, `1.5e3`, `2E+1`, `1e15`): regorus reads it as an
/// integer, OPA as a floating-point number, and a double holds it exactly.
/// (A larger one, `1e30`, stays regorus's exact integer: as a double it
/// would compare unequal to the integer `1000000000000000000000000000000`,
/// which OPA finds equal.)
pub(crate) fn is_integral_exponent(t: &str) -> bool {
    let t = t.trim();
    if !t.contains(['e', 'E']) {
        return false;
    }
    let integral = match canonical(t) {
        Some((_, digits, power)) => digits.is_empty() || power >= digits.len() as i64 - 1,
        None => false,
    };
    integral
        && t.parse::<f64>()
            .is_ok_and(|f| f.abs() < 9_007_199_254_740_992.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_exponent_literals() {
        for t in ["1e3", "1.5e3", "2E+1", "1e15", "0e5", "-1e2"] {
            assert!(is_integral_exponent(t), "{t}");
        }
        for t in ["1e-3", "1.25e1", "100", "1.0", "15e-1", "1e30", "1e16"] {
            assert!(!is_integral_exponent(t), "{t}");
        }
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
