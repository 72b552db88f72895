//! `count`, `lower` and `upper` as OPA (Go) computes them.
//!
//! - `count` of a string is its number of code points (Go's
//!   `utf8.RuneCountInString`); regorus 0.14.1 counts UTF-16 units, so
//!   `count("😀")` was 2 where OPA answers 1.
//! - `lower` and `upper` map each code point by its simple case mapping
//!   (Go's `unicode.ToLower`/`ToUpper`, rune by rune); Rust's
//!   `str::to_lowercase` applies the full mappings and the final-sigma
//!   rule, so `lower("ADMİN")` was `"admi̇n"` (OPA: `"admin"`),
//!   `upper("straße")` `"STRASSE"` (OPA: `"STRAßE"`) and `lower("ΣΑΣ")`
//!   `"σας"` (OPA: `"σασ"`). The simple mappings come from ICU4X's data.
//! - `strings.split_n` (regorus 0.14.1 lacks it): OPA's, which keeps at
//!   most `n` parts (the first `n`, or for a negative `n` the last `-n`)
//!   and drops the rest, unlike Go's `strings.SplitN`.

use anyhow::{bail, Result};
use icu_casemap::CaseMapper;
use regorus::Value;

use super::{int_operand, string_operand, type_name};

/// `count(collection_or_string)`.
pub(super) fn count(args: &[Value]) -> Result<Value> {
    let n = match &args[0] {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Set(s) => s.len(),
        Value::Object(o) => o.len(),
        other => bail!(
            "count: operand 1 must be one of {{array, object, set, string}} but got {}",
            type_name(other)
        ),
    };
    Ok(Value::from(n))
}

/// `lower(string)`: each code point's simple lowercase mapping.
pub(super) fn lower(args: &[Value]) -> Result<Value> {
    let s = string_operand("lower", 1, &args[0])?;
    if s.is_ascii() {
        return Ok(Value::String(s.to_ascii_lowercase().into()));
    }
    let cm = CaseMapper::new();
    Ok(Value::String(
        s.chars()
            .map(|c| cm.simple_lowercase(c))
            .collect::<String>()
            .into(),
    ))
}

/// `upper(string)`: each code point's simple uppercase mapping.
pub(super) fn upper(args: &[Value]) -> Result<Value> {
    let s = string_operand("upper", 1, &args[0])?;
    if s.is_ascii() {
        return Ok(Value::String(s.to_ascii_uppercase().into()));
    }
    let cm = CaseMapper::new();
    Ok(Value::String(
        s.chars()
            .map(|c| cm.simple_uppercase(c))
            .collect::<String>()
            .into(),
    ))
}

/// `strings.split_n(s, delimiter, n)`: the parts of Go's
/// `strings.Split(s, delimiter)`, at most the first `n` of them, or for a
/// negative `n` at most the last `-n`.
pub(super) fn split_n(args: &[Value]) -> Result<Value> {
    const NAME: &str = "strings.split_n";
    let s = string_operand(NAME, 1, &args[0])?;
    let delimiter = string_operand(NAME, 2, &args[1])?;
    let n = int_operand(NAME, 3, &args[2])?;
    // Go's Split: an empty delimiter splits into code points (none for an
    // empty text); otherwise as Rust's `split`.
    let parts: Vec<&str> = if delimiter.is_empty() {
        s.char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect()
    } else {
        s.split(delimiter).collect()
    };
    let keep: &[&str] = if n >= 0 {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        &parts[..parts.len().min(n)]
    } else {
        let n = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
        &parts[parts.len().saturating_sub(n)..]
    };
    Ok(Value::from(
        keep.iter()
            .map(|p| Value::String((*p).into()))
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(text: &str, delimiter: &str, n: i64) -> Vec<String> {
        match split_n(&[s(text), s(delimiter), Value::from(n)]).unwrap() {
            Value::Array(a) => a
                .iter()
                .map(|v| match v {
                    Value::String(x) => x.to_string(),
                    _ => unreachable!(),
                })
                .collect(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn split_n_keeps_at_most_n_parts_as_opa_does() {
        assert_eq!(split("a.b.c.d", ".", 2), ["a", "b"]);
        assert_eq!(split("a.b.c.d", ".", 0), Vec::<String>::new());
        assert_eq!(split("a.b.c.d", ".", 10), ["a", "b", "c", "d"]);
        assert_eq!(split("a.b.c.d", ".", -2), ["c", "d"]);
        assert_eq!(split("a.b.c.d", ".", -10), ["a", "b", "c", "d"]);
        assert_eq!(split("", ".", 2), [""]);
        assert_eq!(split("", "", 2), Vec::<String>::new());
        assert_eq!(split("abc", "", 2), ["a", "b"]);
        assert_eq!(split("aé😀", "", -2), ["é", "😀"]);
        assert_eq!(split("a..b", ".", i64::MAX), ["a", "", "b"]);
        assert_eq!(split("a..b", ".", i64::MIN), ["a", "", "b"]);
        let f = Value::from_json_str("1.5").unwrap();
        let err = split_n(&[s("a"), s("."), f]).unwrap_err().to_string();
        assert_eq!(
            err,
            "strings.split_n: operand 3 must be integer number but got floating-point number"
        );
        assert!(split_n(&[s("a"), Value::Null, Value::from(1)]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn split_n_parts_rejoin_to_a_part_of_the_text(text in "[a-c.]{0,12}", d in "[.b]{0,2}", n in -6i64..6) {
            let parts = split(&text, &d, n);
            prop_assert!(parts.len() <= n.unsigned_abs() as usize);
            let joined = parts.join(&d);
            prop_assert!(text.contains(&joined));
        }
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn case_mapping_is_go_s_rune_by_rune_simple_mapping() {
        assert_eq!(lower(&[s("ADMİN")]).unwrap(), s("admin"));
        assert_eq!(upper(&[s("straße")]).unwrap(), s("STRAßE"));
        assert_eq!(lower(&[s("ΣΑΣ")]).unwrap(), s("σασ"));
        assert_eq!(upper(&[s("ᾳ")]).unwrap(), s("ᾼ"));
        assert_eq!(lower(&[s("Admin")]).unwrap(), s("admin"));
        assert_eq!(upper(&[s("ﬁ")]).unwrap(), s("ﬁ"));
        assert!(lower(&[Value::from(1)]).is_err());
    }

    #[test]
    fn count_of_a_string_counts_code_points() {
        assert_eq!(count(&[s("😀")]).unwrap(), Value::from(1));
        assert_eq!(count(&[s("née")]).unwrap(), Value::from(3));
        assert_eq!(
            count(&[Value::from(vec![Value::Null])]).unwrap(),
            Value::from(1)
        );
        assert!(count(&[Value::Null]).is_err());
    }
}
