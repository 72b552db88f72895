//! Time parsing builtins where CoreSDK checks the arguments as Go's
//! `time.Parse` would and then lets regorus compute the value.
//!
//! `time.parse_rfc3339_ns`, with the text Go's `time.Parse(time.RFC3339,
//! ...)` accepts: `YYYY-MM-DDTHH:MM:SS`, an optional fraction after `.` or
//! `,`, then `Z` or `±hh:mm`, with an upper-case `T` and `Z`. regorus
//! 0.14.1 parsed with chrono, which also takes a space or a lower-case `t`
//! between date and time, so `"2024-01-01 00:00:00Z"` had a time where OPA
//! raises. The value itself is then regorus's (chrono's) computation.

use anyhow::{bail, Result};
use regorus::Value;

use super::delegate::regorus_builtin;
use super::string_operand;

/// Whether `s` has the shape Go's RFC 3339 layout parses.
fn rfc3339_shape(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if matches!(b[i], b'.' | b',') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// `time.parse_ns(layout, value)`, refusing a layout with a zone
/// abbreviation (`MST`, and OPA's named layouts `UnixDate`, `RFC822`,
/// `RFC850`, `RFC1123`): Go takes an abbreviation it does not know in UTC
/// as a zone at offset 0 (`"02 Jan 06 15:04 MST"` is 15:04 UTC in OPA),
/// where regorus applied the zone's real offset, seven hours apart. An
/// error here is a denial where OPA answers.
pub(super) fn parse_ns(args: &[Value]) -> Result<Value> {
    const NAME: &str = "time.parse_ns";
    let layout = string_operand(NAME, 1, &args[0])?;
    string_operand(NAME, 2, &args[1])?;
    if layout.contains("MST") || matches!(layout, "UnixDate" | "RFC822" | "RFC850" | "RFC1123") {
        bail!("{NAME}: a layout with a zone abbreviation (MST) is not supported: Go reads an unknown abbreviation as offset 0, CoreSDK cannot answer as OPA does");
    }
    regorus_builtin(NAME, args)
}

/// `time.parse_rfc3339_ns(value)`.
pub(super) fn parse_rfc3339_ns(args: &[Value]) -> Result<Value> {
    const NAME: &str = "time.parse_rfc3339_ns";
    let s = string_operand(NAME, 1, &args[0])?;
    if !rfc3339_shape(s) {
        bail!("{NAME}: parsing time {s:?} as \"2006-01-02T15:04:05Z07:00\": not RFC 3339 as Go parses it");
    }
    regorus_builtin(NAME, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_shapes_only() {
        for ok in [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.123456789+01:00",
            "2024-01-01T00:00:00,5-05:30",
        ] {
            assert!(rfc3339_shape(ok), "{ok}");
        }
        for bad in [
            "2024-01-01 00:00:00Z",
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-1-01T00:00:00Z",
            "2024-01-01T00:00:00+0100",
        ] {
            assert!(!rfc3339_shape(bad), "{bad}");
        }
        let t = parse_rfc3339_ns(&[Value::String("2024-01-01T00:00:00Z".into())]).unwrap();
        assert_eq!(t, Value::from(1_704_067_200_000_000_000i64));
        assert!(parse_rfc3339_ns(&[Value::String("2024-01-01 00:00:00Z".into())]).is_err());
        let s = |t: &str| Value::String(t.into());
        assert!(parse_ns(&[s("RFC822"), s("02 Jan 06 15:04 MST")]).is_err());
        assert!(parse_ns(&[s("02 Jan 06 15:04 MST"), s("02 Jan 06 15:04 MST")]).is_err());
        assert_eq!(
            parse_ns(&[s("2006-01-02"), s("2024-03-04")]).unwrap(),
            Value::from(1_709_510_400_000_000_000i64)
        );
    }
}
