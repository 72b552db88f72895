//! `sprintf`, as OPA computes it: each argument converted as OPA's
//! `builtinSprintf` converts it, then Go's `fmt.Sprintf` ([`super::gofmt`]).
//!
//! A number with a fraction or an exponent is a `float64`, an integer an
//! `int64` (a `*big.Int` beyond 64 bits), a string itself, and any other
//! value its Rego text (`{"a": [1]}`, `set()`, `null`; [`super::rego_text`]).
//! regorus 0.14.1 had its own formatter: `%s` of a number printed the
//! number (Go: `%!s(int64=1)`), `%d` of a string printed nothing, widths
//! were ignored, `%x` of a string was empty, a missing or extra argument
//! was an error (Go writes `%!d(MISSING)`, `%!(EXTRA ...)`), and `%v` of
//! a double printed every digit (Go: `1e+06`). A number from 2^64 up
//! raises: it is a double here whatever its text ([`crate::numbers`]), and
//! OPA prints an integer text and an exponent text differently. A key built with
//! `sprintf("%s:%s", [input.type, input.id])` could then name a data entry
//! that OPA's text never names.

use anyhow::{anyhow, bail, Result};
use regorus::Value;

use super::gofmt::{self, Arg};
use super::is_double;
use super::rego_text::rego_text;
use super::type_name;

/// OPA's conversion of one `sprintf` argument for Go.
fn arg(v: &Value) -> Result<Arg> {
    Ok(match v {
        Value::Number(n) if is_double(v) => {
            let f = n
                .as_f64()
                .ok_or_else(|| anyhow!("sprintf: a number out of range"))?;
            // From 2^64 up a number is a double here whatever its text was;
            // OPA formats `1e30` as a float64 and `1000000000000000000000000000000`
            // as an integer, and which it was is not kept.
            if f.abs() >= crate::numbers::TWO_64 {
                bail!("sprintf: the number {f:e} is formatted from its source text in OPA (an integer or a float), which CoreSDK does not keep from 2^64 up");
            }
            Arg::Float(f)
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => Arg::Int(i),
            None => Arg::Big(
                n.format_decimal()
                    .parse()
                    .map_err(|_| anyhow!("sprintf: a number out of range"))?,
            ),
        },
        Value::String(s) => Arg::Str(s.to_string()),
        other => Arg::Str(rego_text(other).map_err(|e| anyhow!("sprintf: {e}"))?),
    })
}

/// `sprintf(format, values)`.
pub(super) fn sprintf(args: &[Value]) -> Result<Value> {
    let Value::String(format) = &args[0] else {
        bail!(
            "sprintf: operand 1 must be string but got {}",
            type_name(&args[0])
        );
    };
    let Value::Array(values) = &args[1] else {
        bail!(
            "sprintf: operand 2 must be array but got {}",
            type_name(&args[1])
        );
    };
    let converted = values.iter().map(arg).collect::<Result<Vec<Arg>>>()?;
    let text = gofmt::sprintf(format, &converted).map_err(|e| anyhow!("sprintf: {e}"))?;
    Ok(Value::String(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: &str, values: &str) -> Result<Value> {
        sprintf(&[
            Value::String(format.into()),
            Value::from_json_str(values).unwrap(),
        ])
    }

    #[test]
    fn converts_arguments_as_opa_does() {
        let s = |t: &str| Value::String(t.into());
        assert_eq!(
            run("level %v, %d, %s, %v", "[1e6, 3, \"x\", 7]").unwrap(),
            s("level 1e+06, 3, x, 7")
        );
        assert_eq!(run("%.2f|%v", "[1.5, 2.5]").unwrap(), s("1.50|2.5"));
        assert_eq!(
            run(
                "%v|%s|%d",
                r#"[{"b": 1, "a": [true, null]}, [1, "x"], ["a"]]"#
            )
            .unwrap(),
            s(r#"{"a": [true, null], "b": 1}|[1, "x"]|%!d(string=["a"])"#)
        );
        let big = Value::from(18_446_744_073_709_551_616u128);
        let out = sprintf(&[s("%d|%x"), Value::from(vec![big.clone(), big])]).unwrap();
        assert_eq!(out, s("18446744073709551616|10000000000000000"));
        assert_eq!(
            run("%s:%s", r#"["doc", 1]"#).unwrap(),
            s("doc:%!s(int64=1)")
        );
        assert_eq!(run("%v", "[[1.5]]").unwrap(), s("[1.5]"));
        assert!(run("%v", "[[2.0]]").is_err());
        assert!(sprintf(&[Value::from(1u64), Value::new_array()]).is_err());
    }
}
