//! `net.cidr_contains` with Go's `net` semantics, as OPA computes it.
//!
//! regorus 0.14.1 does not treat an IPv4-mapped IPv6 address as the IPv4
//! address it is: `net.cidr_contains("10.0.0.0/8", "::ffff:10.1.2.3")` was
//! `false` where OPA answers `true`, so a deny list of IPv4 networks let
//! the same address through written in IPv6 form. Here addresses and
//! networks are parsed as Go's `net.ParseIP`/`net.ParseCIDR` parse them
//! (IPv4 as 4 bytes, IPv4-mapped IPv6 folded to IPv4 when compared, as
//! `IPNet.Contains` does), and a network contains a network when it holds
//! both its first and its last address (OPA's `builtinNetCIDRContains`).

use std::net::IpAddr;

use anyhow::{bail, Result};
use regorus::Value;

use super::string_operand;

/// A network as Go holds it: its (masked) address and mask, 4 or 16 bytes
/// each.
struct Net {
    ip: Vec<u8>,
    mask: Vec<u8>,
}

/// Go's `To4`: the IPv4 address of a 16-byte IPv4-mapped address.
fn to4(ip: &[u8]) -> Option<&[u8]> {
    match ip.len() {
        4 => Some(ip),
        16 if ip[..10].iter().all(|&b| b == 0) && ip[10] == 0xff && ip[11] == 0xff => {
            Some(&ip[12..])
        }
        _ => None,
    }
}

/// Go's `net.ParseIP`, as 16 bytes (IPv4 as IPv4-mapped).
fn parse_ip(s: &str) -> Option<[u8; 16]> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => Some(v6.octets()),
    }
}

/// Go's `net.ParseCIDR`: the network, with its address masked.
fn parse_cidr(s: &str) -> Option<Net> {
    let (addr, prefix) = s.split_once('/')?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return None;
    }
    let ones: usize = prefix.parse().ok()?;
    let ip: Vec<u8> = match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    if ones > ip.len() * 8 {
        return None;
    }
    let mask: Vec<u8> = (0..ip.len())
        .map(|i| {
            let bits = ones.saturating_sub(i * 8).min(8);
            if bits == 0 {
                0
            } else {
                0xffu8 << (8 - bits)
            }
        })
        .collect();
    let ip = ip.iter().zip(&mask).map(|(a, m)| a & m).collect();
    Some(Net { ip, mask })
}

/// Go's `IPNet.Contains`.
fn contains(net: &Net, ip: &[u8]) -> bool {
    let (nn, mut m) = match to4(&net.ip) {
        Some(v4) => (v4, net.mask.as_slice()),
        None => (net.ip.as_slice(), net.mask.as_slice()),
    };
    match m.len() {
        4 if nn.len() != 4 => return false,
        16 if nn.len() == 4 => m = &m[12..],
        _ => {}
    }
    let ip = to4(ip).unwrap_or(ip);
    ip.len() == nn.len() && (0..ip.len()).all(|i| nn[i] & m[i] == ip[i] & m[i])
}

/// Go's `isPlainIPv6Net`: a 16-byte network that is not IPv4-mapped.
fn plain_v6(n: &Net) -> bool {
    n.ip.len() == 16 && n.mask.len() == 16 && to4(&n.ip).is_none()
}

/// The last address of `net`: every host bit set (its address and mask
/// have one length, from [`parse_cidr`]).
fn last(net: &Net) -> Vec<u8> {
    net.ip.iter().zip(&net.mask).map(|(a, m)| a | !m).collect()
}

/// `net.cidr_contains(cidr, cidr_or_ip)`.
pub(super) fn cidr_contains(args: &[Value]) -> Result<Value> {
    let a = string_operand("net.cidr_contains", 1, &args[0])?;
    let b = string_operand("net.cidr_contains", 2, &args[1])?;
    let Some(net) = parse_cidr(a) else {
        bail!("net.cidr_contains: invalid CIDR address: {a}");
    };
    if let Some(ip) = parse_ip(b) {
        return Ok(Value::Bool(contains(&net, &ip)));
    }
    let Some(inner) = parse_cidr(b) else {
        bail!(
            "net.cidr_contains: not a valid textual representation of an IP address or CIDR: {b}"
        );
    };
    if plain_v6(&net) && plain_v6(&inner) {
        // OPA's ipv6NetContainsNet: the last address of `::/80` reads as
        // IPv4-mapped, so the general test below would miss it.
        let ones = |n: &Net| n.mask.iter().map(|m| m.count_ones()).sum::<u32>();
        let same = inner
            .ip
            .iter()
            .zip(&net.mask)
            .zip(&net.ip)
            .all(|((b, m), a)| b & m == *a);
        return Ok(Value::Bool(ones(&net) <= ones(&inner) && same));
    }
    Ok(Value::Bool(
        contains(&net, &inner.ip) && contains(&net, &last(&inner)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Result<bool> {
        match cidr_contains(&[Value::String(a.into()), Value::String(b.into())])? {
            Value::Bool(x) => Ok(x),
            _ => unreachable!(),
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_their_ipv4_address() {
        assert!(c("10.0.0.0/8", "::ffff:10.1.2.3").unwrap());
        assert!(c("::ffff:10.0.0.0/104", "10.1.2.3").unwrap());
        assert!(!c("10.0.0.0/8", "::10.1.2.3").unwrap());
        assert!(!c("10.0.0.0/8", "2001:db8::1").unwrap());
        assert!(c("2001:db8::/32", "2001:db8:1::1").unwrap());
    }

    #[test]
    fn networks_contain_networks_by_first_and_last_address() {
        assert!(c("10.0.0.0/8", "10.1.0.0/16").unwrap());
        assert!(!c("10.1.0.0/16", "10.0.0.0/8").unwrap());
        assert!(c("10.0.0.0/8", "10.0.0.0/8").unwrap());
        assert!(c("2001:db8::/32", "2001:db8:1::/48").unwrap());
        assert!(c("::/80", "::/80").unwrap());
        assert!(c("::/79", "::/80").unwrap());
        assert!(!c("::/81", "::/80").unwrap());
        assert!(c("0.0.0.0/0", "255.255.255.255").unwrap());
    }

    #[test]
    fn what_go_refuses_is_an_error() {
        assert!(c("10.0.0.0", "10.0.0.1").is_err());
        assert!(c("10.0.0.0/33", "10.0.0.1").is_err());
        assert!(c("10.0.0.0/8", "10.0.0.256").is_err());
        assert!(c("10.0.0.0/8", "010.0.0.1").is_err());
        assert!(c("10.0.0.0/8", "fe80::1%eth0").is_err());
    }
}
