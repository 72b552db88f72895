//! A value's Rego text as OPA writes it (`ast.Value.String()`), which its
//! `sprintf` prints for an argument that is neither a number nor a string:
//! `{"a": [1, "b"]}`, `{1, "a"}`, `set()`, `null`, `true`. Strings are
//! quoted as Go's `strconv.Quote` does, object keys and set elements are in
//! OPA's order.
//!
//! OPA writes a number with the text it was read from (`1.0`, `1.50`,
//! `1e2`); regorus keeps a number with a fraction or an exponent as a
//! double and not its text. Such a number is written here as its shortest
//! decimal when that is the text every common JSON writer (JavaScript, Go,
//! Python, Java, serde_json) and a policy author writes for it: a
//! non-integral value between 0.001 and 10^7 (`3.14`, `0.1`). Any other
//! double (an integral one, whose text may be `1.0` or `1e3`; a tiny or a
//! huge one, written with exponents that differ between writers) is an
//! error here (a denial where OPA answers) rather than a guess. Integers
//! are exact. What remains: a text that is not the shortest decimal
//! (`"1.50"`, `"314e-2"`) is written `1.5` and `3.14` here.

use anyhow::{bail, Result};
use regorus::Value;

use super::goquote::quote;
use super::is_double;
use super::order::compare;

/// The text OPA would have for the number `v`: an integer's digits, a
/// double's shortest decimal where that is known (see the module's
/// documentation), or an error naming the number.
pub(crate) fn number_text(v: &Value) -> Result<String> {
    let Value::Number(n) = v else {
        bail!("not a number");
    };
    if !is_double(v) {
        return Ok(n.format_decimal());
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.is_finite() && f.fract() != 0.0 && (1e-3..1e7).contains(&f.abs()) {
        return Ok(format!("{f}"));
    }
    bail!("the number {} is written with its source text in OPA, which CoreSDK does not keep for an integral, tiny or huge double", n.format_decimal())
}

/// `v`'s Rego text, appended to `out`.
fn write(out: &mut String, v: &Value) -> Result<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => out.push_str(&number_text(v)?),
        Value::String(s) => out.push_str(&quote(s, false)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, x)?;
            }
            out.push(']');
        }
        Value::Set(s) => {
            if s.is_empty() {
                out.push_str("set()");
                return Ok(());
            }
            let mut items: Vec<&Value> = s.iter().collect();
            items.sort_by(|a, b| compare(a, b));
            out.push('{');
            for (i, x) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, x)?;
            }
            out.push('}');
        }
        Value::Object(o) => {
            let mut pairs: Vec<(&Value, &Value)> = o.iter().collect();
            pairs.sort_by(|a, b| compare(a.0, b.0));
            out.push('{');
            for (i, (k, x)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, k)?;
                out.push_str(": ");
                write(out, x)?;
            }
            out.push('}');
        }
        Value::Undefined => bail!("an undefined value has no text"),
    }
    Ok(())
}

/// `v`'s Rego text, or an error for a double inside it.
pub(crate) fn rego_text(v: &Value) -> Result<String> {
    let mut out = String::new();
    write(&mut out, v)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_values_as_opa_does() {
        let v =
            Value::from_json_str(r#"{"b": [1, "x\u00a0"], "a": null, "c": {"k": true}}"#).unwrap();
        assert_eq!(
            rego_text(&v).unwrap(),
            r#"{"a": null, "b": [1, "x\u00a0"], "c": {"k": true}}"#
        );
        let set = Value::from_json_str(r#"[3, "a", 1]"#)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(rego_text(&Value::from(set)).unwrap(), r#"{1, 3, "a"}"#);
        assert_eq!(rego_text(&Value::new_set()).unwrap(), "set()");
        assert_eq!(
            rego_text(&Value::from_json_str("[1.5, 0.001]").unwrap()).unwrap(),
            "[1.5, 0.001]"
        );
        for unknown in ["[2.0]", "[1e-7]", "[12345678.5]"] {
            assert!(
                rego_text(&Value::from_json_str(unknown).unwrap()).is_err(),
                "{unknown}"
            );
        }
    }
}
