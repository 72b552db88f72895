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
//! - `substring(s, offset, length)`: OPA's, whose offset and length must
//!   be integers (an error otherwise) and whose offset must not be
//!   negative; code points are counted; a negative length takes the rest.
//!   regorus 0.14.1 answered `""` for a non-integer offset or length
//!   (`substring("abc", 1.5, 1) == ""` held where OPA raises) and took a
//!   negative length as the text's byte length.
//! - `indexof`, `indexof_n`: an empty search text is an error (regorus
//!   0.14.1 answered `0` and every position); positions in code points;
//!   `indexof_n` reports overlapping matches, as OPA does.
//! - `strings.count`: Go's `strings.Count`, non-overlapping (regorus
//!   counted overlapping windows: `strings.count("aaaa", "aa")` was 3,
//!   OPA's 2), and the code points plus one for an empty text (regorus
//!   panicked).
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

/// `substring(s, offset, length)`: `length` code points of `s` from code
/// point `offset` (the rest of `s` for a negative `length`; `""` past the
/// end), as OPA's `builtinSubstring`.
pub(super) fn substring(args: &[Value]) -> Result<Value> {
    const NAME: &str = "substring";
    let s = string_operand(NAME, 1, &args[0])?;
    let offset = int_operand(NAME, 2, &args[1])?;
    let length = int_operand(NAME, 3, &args[2])?;
    if offset < 0 {
        bail!("{NAME}: negative offset");
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let rest = s.chars().skip(offset);
    let out: String = match usize::try_from(length) {
        Ok(n) => rest.take(n).collect(),
        Err(_) => rest.collect(),
    };
    Ok(Value::String(out.into()))
}

/// Code-point positions where `search` starts in `base`, overlapping,
/// the first only when `first`.
fn positions(base: &str, search: &str, first: bool) -> Vec<usize> {
    let base: Vec<char> = base.chars().collect();
    let search: Vec<char> = search.chars().collect();
    let mut out = Vec::new();
    if search.len() > base.len() {
        return out;
    }
    for i in 0..=base.len() - search.len() {
        if base[i..i + search.len()] == search[..] {
            out.push(i);
            if first {
                break;
            }
        }
    }
    out
}

/// The two string operands of `indexof`/`indexof_n`; the search text must
/// not be empty.
fn search_operands<'a>(name: &str, args: &'a [Value]) -> Result<(&'a str, &'a str)> {
    let base = string_operand(name, 1, &args[0])?;
    let search = string_operand(name, 2, &args[1])?;
    if search.is_empty() {
        bail!("{name}: empty search character");
    }
    Ok((base, search))
}

/// `indexof(base, search)`: the code-point position of the first match, or -1.
pub(super) fn indexof(args: &[Value]) -> Result<Value> {
    let (base, search) = search_operands("indexof", args)?;
    Ok(match positions(base, search, true).first() {
        Some(&i) => Value::from(i),
        None => Value::from(-1i64),
    })
}

/// `indexof_n(base, search)`: every match's code-point position, overlapping.
pub(super) fn indexof_n(args: &[Value]) -> Result<Value> {
    let (base, search) = search_operands("indexof_n", args)?;
    Ok(Value::from(
        positions(base, search, false)
            .into_iter()
            .map(Value::from)
            .collect::<Vec<_>>(),
    ))
}

/// `strings.count(s, search)`: Go's `strings.Count`, non-overlapping
/// matches; for an empty `search`, the code points of `s` plus one.
pub(super) fn count_matches(args: &[Value]) -> Result<Value> {
    const NAME: &str = "strings.count";
    let s = string_operand(NAME, 1, &args[0])?;
    let search = string_operand(NAME, 2, &args[1])?;
    let n = if search.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(search).count()
    };
    Ok(Value::from(n))
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

    fn sub(text: &str, offset: &str, length: &str) -> Result<String, String> {
        let n = |t: &str| Value::from_json_str(t).unwrap();
        match substring(&[s(text), n(offset), n(length)]) {
            Ok(Value::String(x)) => Ok(x.to_string()),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    fn call(f: fn(&[Value]) -> Result<Value>, a: &str, b: &str) -> Result<String, String> {
        f(&[s(a), s(b)])
            .map(|v| serde_json::to_string(&v).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn indexof_and_count_as_opa_computes_them() {
        // OPA v1.22.4's answers (opa eval --strict-builtin-errors).
        assert_eq!(call(indexof, "abc", "c").unwrap(), "2");
        assert_eq!(call(indexof, "héllo", "l").unwrap(), "2");
        assert_eq!(call(indexof, "abc", "x").unwrap(), "-1");
        assert_eq!(call(indexof, "ab", "abc").unwrap(), "-1");
        assert_eq!(call(indexof_n, "abab", "ab").unwrap(), "[0,2]");
        assert_eq!(call(indexof_n, "aaaa", "aa").unwrap(), "[0,1,2]");
        assert_eq!(call(indexof_n, "😀a😀a", "a").unwrap(), "[1,3]");
        assert_eq!(call(indexof_n, "abc", "x").unwrap(), "[]");
        // regorus answered 0 and [0, 1, 2, 3]: OPA raises.
        assert_eq!(
            call(indexof, "abc", "").unwrap_err(),
            "indexof: empty search character"
        );
        assert_eq!(
            call(indexof_n, "abab", "").unwrap_err(),
            "indexof_n: empty search character"
        );
        assert!(indexof(&[Value::from(1), s("a")]).is_err());
        assert_eq!(call(count_matches, "aaaa", "aa").unwrap(), "2");
        assert_eq!(call(count_matches, "abc", "").unwrap(), "4");
        assert_eq!(call(count_matches, "héllo", "").unwrap(), "6");
        assert_eq!(call(count_matches, "cheese", "e").unwrap(), "3");
        assert_eq!(call(count_matches, "", "").unwrap(), "1");
        assert!(count_matches(&[s("a"), Value::Null]).is_err());
    }

    #[test]
    fn substring_as_opa_computes_it() {
        // OPA v1.22.4's answers (opa eval --strict-builtin-errors).
        assert_eq!(sub("abcdef", "1", "3").unwrap(), "bcd");
        assert_eq!(sub("abc", "1", "-5").unwrap(), "bc");
        assert_eq!(sub("abc", "1", "-1").unwrap(), "bc");
        assert_eq!(sub("abc", "5", "1").unwrap(), "");
        assert_eq!(sub("abc", "3", "0").unwrap(), "");
        // OPA reads "2.0" as the integer 2 from its text; regorus keeps no
        // text, so a double is refused even when integral, which also
        // refuses "1e2" as OPA does (docs/conformance.md).
        assert!(sub("abc", "0", "2.0").is_err());
        assert!(sub("abc", "0", "1e2").is_err());
        assert!(sub("abc", "0", "1.0e2").is_err());
        assert_eq!(sub("héllo", "1", "2").unwrap(), "él");
        assert_eq!(sub("😀a😀", "1", "9223372036854775807").unwrap(), "a😀");
        assert_eq!(sub("", "0", "1").unwrap(), "");
        assert_eq!(sub("group:eng", "6", "-1").unwrap(), "eng");
        // regorus answered "" for these: OPA raises.
        assert_eq!(
            sub("abc", "1.5", "1").unwrap_err(),
            "substring: operand 2 must be integer number but got floating-point number"
        );
        assert_eq!(
            sub("abc", "1", "0.5").unwrap_err(),
            "substring: operand 3 must be integer number but got floating-point number"
        );
        assert!(sub("abc", "1e30", "1").is_err());
        assert_eq!(
            sub("abc", "-1", "1").unwrap_err(),
            "substring: negative offset"
        );
        assert!(substring(&[Value::from(1), Value::from(0), Value::from(1)]).is_err());
        assert!(substring(&[s("a"), s("0"), Value::from(1)]).is_err());
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
