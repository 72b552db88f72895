//! `sprintf` with Go's `%v` of a floating-point number, as OPA prints it.
//!
//! OPA hands a number with a fraction or exponent to Go's `fmt` as a
//! `float64`, and `%v` prints it as `strconv.FormatFloat(f, 'g', -1, 64)`:
//! the shortest digits, in exponent form when the exponent is below -4 or
//! at least 6 (`1e+06`, `-1e+300`, `1.5e-07`). regorus prints every digit
//! (`1000000`, a 301-digit `-1e300`). Here each `%v` whose argument is a
//! double gets Go's text, and regorus's own `sprintf` does the rest (every
//! other verb, width, and the errors), so nothing else changes.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use regorus::unstable::{Expr, Ref, Span, BUILTINS};
use regorus::{Source, Value};

/// Go's `%v` of a `float64`: `strconv.FormatFloat(f, 'g', -1, 64)`.
pub(crate) fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's `{:e}` has the shortest digits: `d[.ddd]e<exp>`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{point}e{esign}{:02}", exp.unsigned_abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= n {
        format!("{digits}{}", "0".repeat((exp + 1 - n) as usize))
    } else {
        let (int, frac) = digits.split_at((exp + 1) as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// Whether `v` is a number regorus holds as a double (only a double
/// renders a fixed-width fraction).
fn is_double(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) if n.format_decimal_with_width(1).contains('.') => n.as_f64(),
        _ => None,
    }
}

/// The argument index of each `%v` in `format`, as regorus's `sprintf`
/// reads verbs (`%%`, then an optional width or `.precision`, then the
/// verb); `None` when the format uses anything else.
fn v_verbs(format: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    let mut chars = format.chars().peekable();
    let mut arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        let mut verb = chars.next()?;
        if verb == '%' {
            continue;
        }
        if verb == '.' || verb.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            verb = chars.next()?;
        }
        if verb == 'v' {
            out.push(arg);
        }
        arg += 1;
    }
    Some(out)
}

/// A span and parameter expressions for calling regorus's `sprintf`
/// directly (its messages name them; the extension's caller reports the
/// call's own position).
fn site() -> &'static (Span, Vec<Ref<Expr>>) {
    static SITE: OnceLock<(Span, Vec<Ref<Expr>>)> = OnceLock::new();
    SITE.get_or_init(|| {
        let source = Source::from_contents("sprintf".into(), "sprintf".into())
            .unwrap_or_else(|_| unreachable!("a 7-byte source"));
        let span = Span {
            source,
            line: 1,
            col: 1,
            start: 0,
            end: 7,
        };
        let param = || {
            Ref::new(Expr::Null {
                span: span.clone(),
                value: Value::Null,
                eidx: 0,
            })
        };
        (span.clone(), vec![param(), param()])
    })
}

/// `sprintf(format, values)`.
pub(super) fn sprintf(args: &[Value]) -> Result<Value> {
    let (fcn, _) = *BUILTINS
        .get("sprintf")
        .ok_or_else(|| anyhow!("sprintf: not available"))?;
    let mut call_args = args.to_vec();
    if let (Value::String(format), Value::Array(values)) = (&args[0], &args[1]) {
        if let Some(vs) = v_verbs(format) {
            let mut values: Vec<Value> = values.iter().cloned().collect();
            let mut changed = false;
            for i in vs {
                if let Some(f) = values.get(i).and_then(is_double) {
                    values[i] = Value::String(go_float_v(f).into());
                    changed = true;
                }
            }
            if changed {
                call_args[1] = Value::from(values);
            }
        }
    }
    let (span, params) = site();
    fcn(span, params, &call_args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_prints_floats_with_v_as_shortest_g() {
        for (f, want) in [
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (-1e300, "-1e+300"),
            (1.5, "1.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (3.0, "3"),
            (-0.0, "-0"),
            (100.25, "100.25"),
        ] {
            assert_eq!(go_float_v(f), want, "{f}");
        }
    }

    #[test]
    fn only_v_of_a_double_changes() {
        let s = |t: &str| Value::String(t.into());
        let out = sprintf(&[
            s("level %v, %d, %s, %v"),
            Value::from(vec![
                Value::from(1e6),
                Value::from(3),
                s("x"),
                Value::from(7),
            ]),
        ])
        .unwrap();
        assert_eq!(out, s("level 1e+06, 3, x, 7"));
        assert_eq!(
            sprintf(&[
                s("%.2f|%v"),
                Value::from(vec![Value::from(1.5), Value::from(2.5)])
            ])
            .unwrap(),
            s("1.50|2.5")
        );
    }
}
