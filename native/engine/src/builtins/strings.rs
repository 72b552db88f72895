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

use anyhow::{bail, Result};
use icu_casemap::CaseMapper;
use regorus::Value;

use super::{string_operand, type_name};

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

#[cfg(test)]
mod tests {
    use super::*;

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
