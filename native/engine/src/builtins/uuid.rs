//! `uuid.parse`, as OPA computes it (Google's `uuid.Parse` and OPA's
//! `internal/uuid`).
//!
//! regorus 0.14.1 used the `uuid` crate, whose variant names differ
//! (`"NCS"` where Go says `"Reserved"`, so the nil UUID's `variant` was
//! another text) and which decodes a `time` for versions 6 and 7 too,
//! where OPA reports one only for versions 1 and 2. Here the accepted
//! forms are Go's (36 characters with dashes, 38 with any two enclosing
//! characters, 45 with a `urn:uuid:` prefix in any case, or 32 hex
//! digits); any other text is undefined, as in OPA.

use std::collections::BTreeMap;

use anyhow::Result;
use regorus::Value;

use super::string_operand;

/// 100-nanosecond intervals between 1582-10-15 and 1970-01-01.
const G1582_NS100: i64 = 122_192_928_000_000_000;

/// One hex digit's value.
fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Google's `uuid.Parse`, or `None` where it returns an error.
fn parse(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let body = match b.len() {
        36 => b,
        45 if b[..9].eq_ignore_ascii_case(b"urn:uuid:") => &b[9..],
        38 => &b[1..],
        32 => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = hex(b[2 * i])? << 4 | hex(b[2 * i + 1])?;
            }
            return Some(out);
        }
        _ => return None,
    };
    if body[8] != b'-' || body[13] != b'-' || body[18] != b'-' || body[23] != b'-' {
        return None;
    }
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    for (o, &x) in out.iter_mut().zip(AT.iter()) {
        *o = hex(body[x])? << 4 | hex(body[x + 1])?;
    }
    Some(out)
}

/// Google's `Variant().String()`.
fn variant(u: &[u8; 16]) -> &'static str {
    match u[8] {
        b if b & 0xc0 == 0x80 => "RFC4122",
        b if b & 0xe0 == 0xc0 => "Microsoft",
        b if b & 0xe0 == 0xe0 => "Future",
        _ => "Reserved",
    }
}

/// OPA's `macVars` of a node ID's first byte.
fn mac_variables(b: u8) -> &'static str {
    if b & 0b11 == 0b11 {
        "local:multicast"
    } else if b & 0b01 == 0b01 {
        "global:multicast"
    } else if b & 0b10 == 0b10 {
        "local:unicast"
    } else {
        "global:unicast"
    }
}

/// The time of a version 1 or 2 UUID in Unix nanoseconds (Google's
/// `Time().UnixTime()`, truncating as Go divides).
fn unix_nanos(u: &[u8; 16]) -> i64 {
    let t = i64::from(u32::from_be_bytes([u[0], u[1], u[2], u[3]]))
        | i64::from(u16::from_be_bytes([u[4], u[5]])) << 32
        | i64::from(u16::from_be_bytes([u[6], u[7]]) & 0x0fff) << 48;
    let ns100 = t - G1582_NS100;
    (ns100 / 10_000_000) * 1_000_000_000 + (ns100 % 10_000_000) * 100
}

/// `uuid.parse(uuid)`: the UUID's version and variant, and for versions 1
/// and 2 its time, node ID, MAC variables and clock sequence (and for
/// version 2 its ID and domain); undefined for a text that is no UUID.
pub(super) fn uuid_parse(args: &[Value]) -> Result<Value> {
    let s = string_operand("uuid.parse", 1, &args[0])?;
    let Some(u) = parse(s) else {
        return Ok(Value::Undefined);
    };
    let version = u[6] >> 4;
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        m.insert(Value::String(k.into()), v);
    };
    put("version", Value::from(u64::from(version)));
    put("variant", Value::String(variant(&u).into()));
    if version == 1 || version == 2 {
        put("time", Value::from(unix_nanos(&u)));
        let node: Vec<String> = u[10..].iter().map(|b| format!("{b:02x}")).collect();
        put("nodeid", Value::String(node.join("-").into()));
        put("macvariables", Value::String(mac_variables(u[10]).into()));
        let clock = u16::from_be_bytes([u[8], u[9]]) & 0x3fff;
        put("clocksequence", Value::from(u64::from(clock)));
        if version == 2 {
            put(
                "id",
                Value::from(u64::from(u32::from_be_bytes([u[0], u[1], u[2], u[3]]))),
            );
            let domain = match u[9] {
                0 => "Person".to_string(),
                1 => "Group".to_string(),
                2 => "Org".to_string(),
                n => format!("Domain{n}"),
            };
            put("domain", Value::String(domain.into()));
        }
    }
    Ok(Value::from(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Value {
        uuid_parse(&[Value::String(s.into())]).unwrap()
    }

    #[test]
    fn nil_is_version_0_reserved() {
        let v = parsed("00000000-0000-0000-0000-000000000000");
        assert_eq!(v["variant"], Value::String("Reserved".into()));
        assert_eq!(v["version"], Value::from(0u64));
    }

    #[test]
    fn version_1_decodes_its_time_and_node() {
        // OPA's own test vector (v1/test/cases/testdata/v1/uuid).
        let v = parsed("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        assert_eq!(v["version"], Value::from(1u64));
        assert_eq!(v["variant"], Value::String("RFC4122".into()));
        assert_eq!(v["time"], Value::from(886_630_433_151_182_400i64));
        assert_eq!(v["nodeid"], Value::String("00-c0-4f-d4-30-c8".into()));
        assert_eq!(v["clocksequence"], Value::from(180u64));
    }

    #[test]
    fn version_7_has_no_time_and_go_forms_parse() {
        let v = parsed("01890a5d-ac96-774b-bcce-b302099a8057");
        assert_eq!(v["version"], Value::from(7u64));
        assert_eq!(v["time"], Value::Undefined);
        for form in [
            "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
            "x6ba7b810-9dad-11d1-80b4-00c04fd430c8y",
            "URN:UUID:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "6ba7b8109dad11d180b400c04fd430c8",
        ] {
            assert_eq!(parsed(form)["version"], Value::from(1u64), "{form}");
        }
        for bad in ["not-a-uuid", "6ba7b810-9dad-11d1-80b4-00c04fd430cg", ""] {
            assert_eq!(parsed(bad), Value::Undefined, "{bad}");
        }
        assert!(uuid_parse(&[Value::from(1u64)]).is_err());
    }
}
