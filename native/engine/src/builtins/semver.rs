//! `semver.is_valid` and `semver.compare`, as OPA parses versions.
//!
//! OPA has its own parser (`internal/semver`): one leading `v` is dropped
//! (`"v1.0.0"` is valid), metadata is cut at the first `+` and the
//! pre-release at the first `-` after it, and major, minor and patch are
//! decimal integers without sign or leading zero that fit 64 bits.
//! regorus 0.14.1 used the `semver` crate, which refuses the `v`, so
//! `not semver.is_valid(input.version)` held for `"v1.0.0"` where OPA's
//! body fails, and `semver.compare` raised where OPA answers.
//!
//! Pre-releases compare identifier by identifier: numeric ones by value
//! and below alphanumeric ones, others by their bytes, a shorter list
//! first; a version without a pre-release is above one with it; metadata
//! is ignored.

use std::cmp::Ordering;

use anyhow::{bail, Result};
use regorus::Value;

use super::string_operand;

/// A parsed version: major, minor, patch and the pre-release text.
struct Version<'a> {
    core: [i64; 3],
    pre: &'a str,
}

/// Whether `s` is dot-separated identifiers of ASCII letters, digits and
/// `-` (OPA's `^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$`).
fn identifiers(s: &str) -> bool {
    s.split('.')
        .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Whether `s` is a non-empty run of ASCII digits.
fn all_decimals(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A major, minor or patch number: digits, no sign, no leading zero, 64 bits.
fn numeric(s: &str) -> Option<i64> {
    if !all_decimals(s) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// OPA's `semver.Parse`, or `None` where it returns an error.
fn parse(text: &str) -> Option<Version<'_>> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let (text, metadata) = match text.split_once('+') {
        Some((t, m)) => (t, Some(m)),
        None => (text, None),
    };
    if metadata.is_some_and(|m| !identifiers(m)) {
        return None;
    }
    let (text, pre) = match text.split_once('-') {
        Some((t, p)) => (t, Some(p)),
        None => (text, None),
    };
    if let Some(p) = pre {
        let leading_zero = p
            .split('.')
            .any(|id| id.len() > 1 && id.starts_with('0') && all_decimals(id));
        if !identifiers(p) || leading_zero {
            return None;
        }
    }
    let mut parts = text.split('.');
    let (Some(major), Some(minor), Some(patch), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some(Version {
        core: [numeric(major)?, numeric(minor)?, numeric(patch)?],
        pre: pre.unwrap_or(""),
    })
}

/// A numeric pre-release identifier's value, saturating as Go's `Atoi` does.
fn saturating(s: &str) -> i64 {
    s.parse().unwrap_or(i64::MAX)
}

/// OPA's `Version.Compare`.
fn compare(a: &Version<'_>, b: &Version<'_>) -> Ordering {
    let core = a.core.cmp(&b.core);
    if core != Ordering::Equal || a.pre == b.pre {
        return core;
    }
    match (a.pre.is_empty(), b.pre.is_empty()) {
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut xs = a.pre.split('.');
    let mut ys = b.pre.split('.');
    loop {
        let (x, y) = match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => (x, y),
        };
        let order = match (all_decimals(x), all_decimals(y)) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (true, true) => saturating(x).cmp(&saturating(y)),
            (false, false) => x.as_bytes().cmp(y.as_bytes()),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// `semver.is_valid(vsn)`: whether `vsn` is a string OPA parses as a
/// version (anything else is `false`, not an error).
pub(super) fn is_valid(args: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match &args[0] {
        Value::String(s) => parse(s).is_some(),
        _ => false,
    }))
}

/// `semver.compare(a, b)`: -1, 0 or 1.
pub(super) fn semver_compare(args: &[Value]) -> Result<Value> {
    let a = string_operand("semver.compare", 1, &args[0])?;
    let b = string_operand("semver.compare", 2, &args[1])?;
    let Some(va) = parse(a) else {
        bail!("semver.compare: operand 1: string {a} is not a valid SemVer");
    };
    let Some(vb) = parse(b) else {
        bail!("semver.compare: operand 2: string {b} is not a valid SemVer");
    };
    Ok(Value::from(match compare(&va, &vb) {
        Ordering::Less => -1i64,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(s: &str) -> bool {
        is_valid(&[Value::String(s.into())]).unwrap() == Value::Bool(true)
    }

    fn cmp(a: &str, b: &str) -> Value {
        semver_compare(&[Value::String(a.into()), Value::String(b.into())]).unwrap()
    }

    #[test]
    fn parses_as_opa_does() {
        for ok in [
            "1.0.0",
            "v1.0.0",
            "0.0.0",
            "1.0.0-rc.1+build.5",
            "1.0.0-a-b",
            "1.0.0+x-y",
            "1.2.3-0",
        ] {
            assert!(valid(ok), "{ok}");
        }
        for bad in [
            "1.0",
            "01.0.0",
            "1.0.0-01",
            "vv1.0.0",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "+1.0.0",
            "1.0.0.0",
            "1.0.x",
            "99999999999999999999.0.0",
            "1.0.0-é",
            " 1.0.0",
            "",
        ] {
            assert!(!valid(bad), "{bad}");
        }
        assert_eq!(is_valid(&[Value::from(1u64)]).unwrap(), Value::Bool(false));
    }

    #[test]
    fn compares_as_opa_does() {
        assert_eq!(cmp("1.0.0", "1.0.0-rc.1"), Value::from(1i64));
        assert_eq!(cmp("1.0.0-alpha", "1.0.0-alpha.1"), Value::from(-1i64));
        assert_eq!(cmp("1.0.0-alpha.2", "1.0.0-alpha.10"), Value::from(-1i64));
        assert_eq!(cmp("1.0.0-1", "1.0.0-a"), Value::from(-1i64));
        assert_eq!(cmp("1.0.0-B", "1.0.0-a"), Value::from(-1i64));
        assert_eq!(cmp("1.0.0+a", "1.0.0+b"), Value::from(0i64));
        assert_eq!(cmp("v1.0.0", "1.0.0"), Value::from(0i64));
        assert_eq!(cmp("2.0.0", "10.0.0"), Value::from(-1i64));
        assert!(
            semver_compare(&[Value::String("1.0".into()), Value::String("1.0.0".into())]).is_err()
        );
        assert!(semver_compare(&[Value::from(1u64), Value::String("1.0.0".into())]).is_err());
    }
}
