//! `net.cidr_merge`, `net.cidr_intersects`, `net.cidr_contains_matches`
//! and `net.cidr_overlap`, as OPA computes them (regorus 0.14.1 lacks
//! them).
//!
//! OPA computes these with Go's `net` package, whose addresses are byte
//! slices of 4 or 16 bytes (`net.ParseIP` gives 16 bytes for an IPv4
//! address, `net.ParseCIDR` 4 for an IPv4 network), and `net.cidr_merge`
//! with OPA's own range arithmetic over those slices
//! (`internal/cidr/merge`). Its answers follow from that representation,
//! not from address arithmetic alone: a bare IPv4 address in
//! `net.cidr_merge` stands for its classful network (`"10.1.2.3"` is
//! `10.1.2.3/8`, written unmasked when it merges with nothing), and an
//! IPv4-mapped IPv6 network is written as the IPv4 network it holds. No
//! crate models Go's slices (`ipnet` works on whole addresses), so the
//! operations OPA uses are written here over byte vectors as Go defines
//! them. Where Go would panic (an index out of range, which OPA's merge
//! reaches for some IPv4-mapped and small IPv6 ranges) the builtin is an
//! error.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::net::IpAddr;

use anyhow::{anyhow, bail, Result};
use num_bigint::BigUint;
use regorus::Value;

use super::{net, string_operand};

/// Go's `net.IP` and `net.IPMask`: a byte slice (4 or 16 bytes when well
/// formed; empty is Go's `nil`).
type Bytes = Vec<u8>;

/// Go's `net.IPNet`.
#[derive(Clone, Debug)]
struct IpNet {
    ip: Bytes,
    mask: Bytes,
}

/// The 12-byte prefix of an IPv4-mapped IPv6 address.
const V4_IN_V6: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// Go's `IP.To4`.
fn to4(ip: &[u8]) -> Option<&[u8]> {
    match ip.len() {
        4 => Some(ip),
        16 if ip[..12] == V4_IN_V6 => Some(&ip[12..]),
        _ => None,
    }
}

/// Go's `IP.To16`.
fn to16(ip: &[u8]) -> Option<Bytes> {
    match ip.len() {
        4 => Some(V4_IN_V6.iter().chain(ip).copied().collect()),
        16 => Some(ip.to_vec()),
        _ => None,
    }
}

/// Go's `IP.Equal`.
fn ip_equal(a: &[u8], b: &[u8]) -> bool {
    match (a.len(), b.len()) {
        (x, y) if x == y => a == b,
        (4, 16) => b[..12] == V4_IN_V6 && a == &b[12..],
        (16, 4) => a[..12] == V4_IN_V6 && &a[12..] == b,
        _ => false,
    }
}

/// Go's `IP.Mask`: empty (`nil`) when the lengths do not agree.
fn ip_mask(ip: &[u8], mask: &[u8]) -> Bytes {
    let mut mask = mask;
    let mut ip = ip;
    if mask.len() == 16 && ip.len() == 4 && mask[..12].iter().all(|&b| b == 0xff) {
        mask = &mask[12..];
    }
    if mask.len() == 4 && ip.len() == 16 && ip[..12] == V4_IN_V6 {
        ip = &ip[12..];
    }
    if ip.len() != mask.len() {
        return Vec::new();
    }
    ip.iter().zip(mask).map(|(a, m)| a & m).collect()
}

/// Go's `CIDRMask`: empty (`nil`) for an impossible length.
fn cidr_mask(ones: usize, bits: usize) -> Bytes {
    if (bits != 32 && bits != 128) || ones > bits {
        return Vec::new();
    }
    (0..bits / 8)
        .map(|i| {
            let n = ones.saturating_sub(i * 8).min(8);
            if n == 0 {
                0
            } else {
                0xffu8 << (8 - n)
            }
        })
        .collect()
}

/// Go's `simpleMaskLength`: the number of leading ones, or `None` when the
/// mask is not of that form.
fn simple_mask_length(mask: &[u8]) -> Option<usize> {
    let mut n = 0;
    for (i, &v) in mask.iter().enumerate() {
        if v == 0xff {
            n += 8;
            continue;
        }
        let ones = v.leading_ones() as usize;
        n += ones;
        if v.checked_shl(ones as u32).unwrap_or(0) != 0 {
            return None;
        }
        if mask[i + 1..].iter().any(|&b| b != 0) {
            return None;
        }
        break;
    }
    Some(n)
}

/// Go's `IPMask.Size`: the prefix length, 0 for a non-canonical mask.
fn mask_size(mask: &[u8]) -> usize {
    simple_mask_length(mask).unwrap_or(0)
}

/// Go's `IP.DefaultMask`: the classful mask of an IPv4 address.
fn default_mask(ip: &[u8]) -> Bytes {
    match to4(ip) {
        None => Vec::new(),
        Some(v4) if v4[0] < 0x80 => vec![0xff, 0, 0, 0],
        Some(v4) if v4[0] < 0xc0 => vec![0xff, 0xff, 0, 0],
        Some(_) => vec![0xff, 0xff, 0xff, 0],
    }
}

/// Go's `networkNumberAndMask`.
fn network_number_and_mask(n: &IpNet) -> Option<(Bytes, Bytes)> {
    let ip = match to4(&n.ip) {
        Some(v4) => v4.to_vec(),
        None if n.ip.len() == 16 => n.ip.clone(),
        None => return None,
    };
    let mask = match n.mask.len() {
        4 if ip.len() != 4 => return None,
        4 => n.mask.clone(),
        16 if ip.len() == 4 => n.mask[12..].to_vec(),
        16 => n.mask.clone(),
        _ => return None,
    };
    Some((ip, mask))
}

/// Go's `IPNet.Contains`.
fn ipnet_contains(n: &IpNet, ip: &[u8]) -> bool {
    let Some((nn, m)) = network_number_and_mask(n) else {
        return false;
    };
    let ip = to4(ip).unwrap_or(ip);
    ip.len() == nn.len() && (0..ip.len()).all(|i| nn[i] & m[i] == ip[i] & m[i])
}

/// Lowercase hex, as Go's `hexString`.
fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Go's `IP.String`.
fn ip_string(ip: &[u8]) -> String {
    if ip.is_empty() {
        return "<nil>".into();
    }
    if let Some(v4) = to4(ip) {
        return std::net::Ipv4Addr::new(v4[0], v4[1], v4[2], v4[3]).to_string();
    }
    match <[u8; 16]>::try_from(ip) {
        Ok(b) => std::net::Ipv6Addr::from(b).to_string(),
        Err(_) => format!("?{}", hex_string(ip)),
    }
}

/// Go's `IPNet.String`.
fn ipnet_string(n: &IpNet) -> String {
    let Some((nn, m)) = network_number_and_mask(n) else {
        return "<nil>".into();
    };
    match simple_mask_length(&m) {
        Some(l) => format!("{}/{l}", ip_string(&nn)),
        None if m.is_empty() => format!("{}/<nil>", ip_string(&nn)),
        None => format!("{}/{}", ip_string(&nn), hex_string(&m)),
    }
}

/// Go's `net.ParseIP`, as 16 bytes.
fn parse_ip(s: &str) -> Option<Bytes> {
    Some(match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    })
}

/// Go's `net.ParseCIDR`, the network (its address masked: 4 bytes for
/// IPv4, 16 for IPv6), or Go's error text.
fn parse_cidr(s: &str) -> Result<IpNet> {
    let err = || anyhow!("invalid CIDR address: {s}");
    let (addr, prefix) = s.split_once('/').ok_or_else(err)?;
    let (ip, bits): (Bytes, usize) = match addr.parse::<IpAddr>().map_err(|_| err())? {
        IpAddr::V4(v4) => (v4.octets().to_vec(), 32),
        IpAddr::V6(v6) => (v6.octets().to_vec(), 128),
    };
    // Go's dtoi: decimal digits, leading zeros allowed, below 2^24.
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let digits = prefix.trim_start_matches('0');
    if digits.len() > 3 {
        return Err(err());
    }
    let ones: usize = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| err())?
    };
    if ones > bits {
        return Err(err());
    }
    let mask = cidr_mask(ones, bits);
    Ok(IpNet {
        ip: ip_mask(&ip, &mask),
        mask,
    })
}

/// An index out of range where Go's code would panic.
fn panic_error() -> anyhow::Error {
    anyhow!("net.cidr_merge: the networks cannot be merged (OPA's merge fails on this input)")
}

/// OPA's `GetAddressRange`: the first and last addresses of a network, an
/// IPv4 one as IPv4-mapped IPv6.
fn address_range(n: &IpNet) -> Result<(Bytes, Bytes)> {
    let mut first = ip_mask(&n.ip, &n.mask);
    let mut last = first.clone();
    if to4(&first).is_some() {
        first = V4_IN_V6.iter().chain(&first).copied().collect();
        last = V4_IN_V6.iter().chain(&last).copied().collect();
    }
    let len = n.mask.len();
    for i in 0..len {
        let inv = !n.mask[len - i - 1];
        let idx = 15usize.checked_sub(i).ok_or_else(panic_error)?;
        *last.get_mut(idx).ok_or_else(panic_error)? |= inv;
    }
    Ok((first, last))
}

/// OPA's `GetPreviousIP`.
fn previous_ip(ip: &[u8]) -> Bytes {
    const DEFAULT_V4: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0];
    if ip_equal(ip, &DEFAULT_V4) || ip_equal(ip, &[0; 16]) {
        return ip.to_vec();
    }
    let mut prev = ip.to_vec();
    let lower = if to4(ip).is_some() { 12 } else { 0 };
    let mut overflow = false;
    let mut i = ip.len();
    while i > lower {
        i -= 1;
        if overflow || i == ip.len() - 1 {
            prev[i] = prev[i].wrapping_sub(1);
        }
        overflow = ip[i] == 0 && prev[i] == 255;
    }
    prev
}

/// OPA's `getNextIP`.
fn next_ip(ip: &[u8]) -> Bytes {
    const UPPER_V4: [u8; 16] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    if ip_equal(ip, &UPPER_V4) || ip_equal(ip, &[0xff; 16]) {
        return ip.to_vec();
    }
    match ip.len() {
        4 => {
            let x = u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]).wrapping_add(1);
            x.to_be_bytes().to_vec()
        }
        16 => {
            let mut hi = [0u8; 8];
            let mut lo = [0u8; 8];
            hi.copy_from_slice(&ip[..8]);
            lo.copy_from_slice(&ip[8..]);
            let lo = u64::from_be_bytes(lo).wrapping_add(1);
            let hi = if lo == 0 {
                u64::from_be_bytes(hi).wrapping_add(1)
            } else {
                u64::from_be_bytes(hi)
            };
            hi.to_be_bytes()
                .iter()
                .chain(&lo.to_be_bytes())
                .copied()
                .collect()
        }
        _ => ip.to_vec(),
    }
}

/// Go's `big.Int.Bytes`: big-endian without leading zeros (empty for 0).
fn big_bytes(n: &BigUint) -> Bytes {
    if n.bits() == 0 {
        Vec::new()
    } else {
        n.to_bytes_be()
    }
}

/// `prefix` followed by `b`.
fn prefixed(prefix: &[u8], b: &[u8]) -> Bytes {
    prefix.iter().chain(b).copied().collect()
}

/// OPA's `createSpanningCIDR`.
fn spanning_cidr(first: &[u8], last: &[u8]) -> IpNet {
    let v4 = to4(first).is_some();
    let (bit_len, byte_len) = if v4 { (32, 4) } else { (128, 16) };
    let mut size = bit_len;
    let lowest = BigUint::from_bytes_be(first);
    let mut highest = BigUint::from_bytes_be(last);
    while size > 0 && lowest < highest {
        size -= 1;
        let k = bit_len - size;
        highest = (highest >> k) << k;
    }
    let mut ip = if v4 {
        prefixed(&[0; 10], &big_bytes(&highest))
    } else {
        big_bytes(&highest)
    };
    if ip.is_empty() {
        ip = vec![0; byte_len];
    }
    IpNet {
        ip,
        mask: cidr_mask(size, bit_len),
    }
}

/// Left-pads `b` to 16 bytes, as OPA's `partitionCIDR` does for IPv6
/// (an error where Go's `make` would panic on a longer value).
fn pad16(b: Bytes) -> Result<Bytes> {
    if b.len() > 16 {
        return Err(panic_error());
    }
    Ok(prefixed(&vec![0; 16 - b.len()], &b))
}

/// OPA's `partitionCIDR`: the networks of `target` below and above
/// `exclude`.
fn partition(target: &IpNet, exclude: &IpNet) -> Result<(Vec<IpNet>, Vec<IpNet>)> {
    let target_v4 = to4(&target.ip).is_some();
    let (target_first, target_last) = address_range(target)?;
    let (exclude_first, exclude_last) = address_range(exclude)?;
    let target_size = mask_size(&target.mask);
    let exclude_size = mask_size(&exclude.mask);
    if exclude_last < target_first {
        return Ok((Vec::new(), vec![target.clone()]));
    }
    if target_last < exclude_first {
        return Ok((vec![target.clone()], Vec::new()));
    }
    if target_size >= exclude_size {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut new_prefix = target_size + 1;
    let bit_len: usize = if target_v4 { 32 } else { 128 };
    let shift = bit_len.checked_sub(new_prefix).ok_or_else(panic_error)?;
    let mut lower = BigUint::from_bytes_be(&target_first);
    let target_int = BigUint::from_bytes_be(&to16(&target_first).unwrap_or_default());
    let mut upper = &target_int + (BigUint::from(1u8) << shift);
    let mut matched;
    while exclude_size >= new_prefix {
        let (upper_bytes, lower_bytes) = if target_v4 {
            (
                prefixed(&[0; 10], &big_bytes(&upper)),
                prefixed(&[0; 10], &big_bytes(&lower)),
            )
        } else {
            (pad16(big_bytes(&upper))?, pad16(big_bytes(&lower))?)
        };
        let mask = cidr_mask(new_prefix, bit_len);
        if exclude_first >= upper_bytes {
            left.push(IpNet {
                ip: lower_bytes,
                mask,
            });
            matched = upper.clone();
        } else {
            right.push(IpNet {
                ip: upper_bytes,
                mask,
            });
            matched = lower.clone();
        }
        new_prefix += 1;
        if new_prefix > bit_len {
            break;
        }
        lower = matched.clone();
        upper = matched + (BigUint::from(1u8) << (bit_len - new_prefix));
    }
    Ok((left, right))
}

/// OPA's `RangeToCIDRs`: the networks covering `first..=last`.
fn range_to_cidrs(first: &[u8], last: &[u8]) -> Result<Vec<IpNet>> {
    let mut spanning = spanning_cidr(first, last);
    let (span_first, span_last) = address_range(&spanning)?;
    let mut list = Vec::new();
    if span_first.as_slice() < first {
        let prev = previous_ip(first);
        let bits = if to4(&prev).is_some() { 32 } else { 128 };
        let exclude = IpNet {
            ip: prev,
            mask: cidr_mask(bits, bits),
        };
        let (_, right) = partition(&spanning, &exclude)?;
        let mut right = right.into_iter();
        spanning = right.next().ok_or_else(panic_error)?;
        list.extend(right);
    }
    if span_last.as_slice() > last {
        let next = next_ip(last);
        let bits = if to4(&next).is_some() { 32 } else { 128 };
        let exclude = IpNet {
            ip: next,
            mask: cidr_mask(bits, bits),
        };
        let (left, _) = partition(&spanning, &exclude)?;
        list.extend(left);
    } else {
        list.push(spanning);
    }
    Ok(list)
}

/// A range of `net.cidr_merge`: its first and last addresses, and the
/// network it came from while it merged with no other.
struct Range {
    first: Bytes,
    last: Bytes,
    network: Option<IpNet>,
}

/// OPA's `generateIPNet`: an address (IPv4 only, with its classful mask)
/// or a network.
fn element_network(v: &Value) -> Result<IpNet> {
    let Value::String(s) = v else {
        bail!("net.cidr_merge: element must be string");
    };
    match parse_ip(s) {
        None => parse_cidr(s).map_err(|e| anyhow!("net.cidr_merge: {e}")),
        Some(ip) if to4(&ip).is_some() => {
            let mask = default_mask(&ip);
            Ok(IpNet { ip, mask })
        }
        Some(_) => bail!("net.cidr_merge: IPv6 invalid: needs prefix length"),
    }
}

/// `net.cidr_merge(addrs)`.
pub(super) fn cidr_merge(args: &[Value]) -> Result<Value> {
    let networks = match &args[0] {
        Value::Array(a) => a.iter().map(element_network).collect::<Result<Vec<_>>>()?,
        Value::Set(s) => s.iter().map(element_network).collect::<Result<Vec<_>>>()?,
        _ => bail!("net.cidr_merge: operand must be an array"),
    };
    let mut ranges = Vec::with_capacity(networks.len());
    for n in networks {
        let (first, last) = address_range(&n)?;
        ranges.push(Range {
            first,
            last,
            network: Some(n),
        });
    }
    ranges.sort_by(|a, b| match a.last.cmp(&b.last) {
        Ordering::Equal => a.first.cmp(&b.first),
        o => o,
    });
    // OPA's mergeCIDRs: from the end, a range that starts at or before the
    // address after the previous range's end joins it.
    let mut i = ranges.len();
    while i > 1 {
        i -= 1;
        if previous_ip(&ranges[i].first) <= ranges[i - 1].last {
            let first = if ranges[i - 1].first < ranges[i].first {
                ranges[i - 1].first.clone()
            } else {
                ranges[i].first.clone()
            };
            let removed = ranges.remove(i);
            ranges[i - 1] = Range {
                first,
                last: removed.last,
                network: None,
            };
        }
    }
    let mut out = BTreeSet::new();
    for r in &ranges {
        match &r.network {
            Some(n) => {
                out.insert(Value::String(ipnet_string(n).into()));
            }
            None => {
                for n in range_to_cidrs(&r.first, &r.last)? {
                    out.insert(Value::String(ipnet_string(&n).into()));
                }
            }
        }
    }
    Ok(Value::from(out))
}

/// `net.cidr_intersects(cidr1, cidr2)`: whether either network holds the
/// other's first address.
pub(super) fn cidr_intersects(args: &[Value]) -> Result<Value> {
    const NAME: &str = "net.cidr_intersects";
    // OPA reads both operands as "operand 1".
    let a = string_operand(NAME, 1, &args[0])?;
    let b = string_operand(NAME, 1, &args[1])?;
    let a = parse_cidr(a).map_err(|e| anyhow!("{NAME}: {e}"))?;
    let b = parse_cidr(b).map_err(|e| anyhow!("{NAME}: {e}"))?;
    Ok(Value::Bool(
        ipnet_contains(&a, &b.ip) || ipnet_contains(&b, &a.ip),
    ))
}

/// `net.cidr_overlap(cidr, cidr_or_ip)`: OPA's deprecated name of
/// `net.cidr_contains`.
pub(super) fn cidr_overlap(args: &[Value]) -> Result<Value> {
    renamed("net.cidr_overlap", net::cidr_contains(args))
}

/// `r` with `net.cidr_contains`'s error prefix replaced by `name`'s.
fn renamed(name: &str, r: Result<Value>) -> Result<Value> {
    r.map_err(|e| {
        let msg = e.to_string();
        let msg = msg.strip_prefix("net.cidr_contains: ").unwrap_or(&msg);
        anyhow!("{name}: {msg}")
    })
}

/// The (cidr, index) pairs of an operand of `net.cidr_contains_matches`:
/// a string is its own index; an array's elements are indexed by
/// position, a set's by themselves, an object's values by their keys; an
/// element is a string or an array whose first element is the CIDR.
/// Any other operand has no pairs (as in OPA).
fn match_pairs(pos: usize, v: &Value) -> Result<Vec<(Value, Value)>> {
    let cidr = |e: &Value| -> Result<Value> {
        match e {
            Value::String(_) => Ok(e.clone()),
            Value::Array(a) if !a.is_empty() => Ok(a[0].clone()),
            _ => bail!(
                "net.cidr_contains_matches: operand {pos}: element must be string or non-empty array"
            ),
        }
    };
    Ok(match v {
        Value::String(_) => vec![(v.clone(), v.clone())],
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, e)| Ok((cidr(e)?, Value::from(i))))
            .collect::<Result<_>>()?,
        Value::Set(s) => s
            .iter()
            .map(|e| Ok((cidr(e)?, e.clone())))
            .collect::<Result<_>>()?,
        Value::Object(o) => o
            .iter()
            .map(|(k, e)| Ok((cidr(e)?, k.clone())))
            .collect::<Result<_>>()?,
        _ => Vec::new(),
    })
}

/// `net.cidr_contains_matches(cidrs, cidrs_or_ips)`: the set of
/// `[index1, index2]` where the first operand's CIDR contains the second's
/// address or CIDR (as `net.cidr_contains`).
pub(super) fn cidr_contains_matches(args: &[Value]) -> Result<Value> {
    const NAME: &str = "net.cidr_contains_matches";
    let mut out = BTreeSet::new();
    let first = match_pairs(1, &args[0])?;
    // OPA reads the second operand once per element of the first.
    if first.is_empty() {
        return Ok(Value::from(out));
    }
    let second = match_pairs(2, &args[1])?;
    for (c1, i1) in &first {
        for (c2, i2) in &second {
            let r = renamed(NAME, net::cidr_contains(&[c1.clone(), c2.clone()]))?;
            if r == Value::Bool(true) {
                out.insert(Value::from(vec![i1.clone(), i2.clone()]));
            }
        }
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    fn merge(json: &str) -> Result<Value> {
        cidr_merge(&[v(json)])
    }

    #[test]
    fn merge_matches_opa_cases() {
        let cases = [
            (r#"["192.0.128.0/24", "0.0.0.0/0"]"#, r#"["0.0.0.0/0"]"#),
            (
                r#"["192.0.128.0/24", "192.0.129.0/24"]"#,
                r#"["192.0.128.0/23"]"#,
            ),
            (
                r#"["192.0.2.112/30", "192.0.2.116/31", "192.0.2.118/31"]"#,
                r#"["192.0.2.112/29"]"#,
            ),
            (
                r#"["192.0.2.112/31", "192.0.2.116/31", "192.0.2.118/31"]"#,
                r#"["192.0.2.112/31", "192.0.2.116/30"]"#,
            ),
            (
                r#"["192.0.2.112/30", "192.0.2.116/32", "192.0.2.118/31"]"#,
                r#"["192.0.2.112/30", "192.0.2.116/32", "192.0.2.118/31"]"#,
            ),
            (
                r#"["::/0", "::192.0.2.0/124", "ff00::101/128"]"#,
                r#"["::/0"]"#,
            ),
            (
                r#"["fe80::/120", "192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/25", "192.0.4.128/25"]"#,
                r#"["192.0.2.0/23", "192.0.4.0/24", "fe80::/120"]"#,
            ),
            (
                r#"["192.0.2.112", "192.0.2.116/31"]"#,
                r#"["192.0.2.0/24"]"#,
            ),
            (r#"["192.0.128.0", "192.0.129.0"]"#, r#"["192.0.128.0/23"]"#),
            (
                r#"["2601:600:8a80:207e:a57d:7567:e2c9:e7b3/64", "2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128"]"#,
                r#"["2601:600:8a80:207e::/64"]"#,
            ),
            (
                r#"["1.2.3.0/24", "1.2.4.0/24", "1.2.5.0/24"]"#,
                r#"["1.2.3.0/24", "1.2.4.0/23"]"#,
            ),
            (
                r#"["192.0.1.254/31", "192.0.2.0/28", "192.0.2.16/28", "192.0.2.32/28", "192.0.2.48/28", "192.0.2.64/28", "192.0.2.80/28", "192.0.2.96/28", "192.0.2.112/28", "192.0.2.128/28", "192.0.2.144/28", "192.0.2.160/28", "192.0.2.176/28", "192.0.2.192/28", "192.0.2.208/28", "192.0.2.224/28", "192.0.2.240/28", "192.0.3.0/28"]"#,
                r#"["192.0.1.254/31", "192.0.2.0/24", "192.0.3.0/28"]"#,
            ),
            // What OPA's representation gives: a classful, unmasked network
            // for a lone IPv4 address; IPv4-mapped networks as IPv4.
            (r#"["192.0.2.5"]"#, r#"["192.0.2.5/24"]"#),
            (r#"["10.1.2.3"]"#, r#"["10.1.2.3/8"]"#),
            (r#"["::ffff:1.2.3.4"]"#, r#"["1.2.3.4/8"]"#),
            (r#"["::ffff:1.2.3.0/120"]"#, r#"["1.2.3.0/24"]"#),
            (r#"["::ffff:0:0/90"]"#, r#"["::ffc0:0:0/90"]"#),
            (r#"["1.2.3.4/24", "1.2.3.4/24"]"#, r#"["1.2.3.0/24"]"#),
            (r#"["::/0", "0.0.0.0/0"]"#, r#"["::/0"]"#),
            ("[]", "[]"),
        ];
        for (input, want) in cases {
            let got = merge(input).unwrap();
            let want: BTreeSet<Value> = v(want).as_array().unwrap().iter().cloned().collect();
            assert_eq!(got, Value::from(want), "{input}");
        }
        let set = cidr_merge(&[Value::from(
            ["192.0.2.112/30", "192.0.2.116/31", "192.0.2.118/31"]
                .into_iter()
                .map(Value::from)
                .collect::<BTreeSet<_>>(),
        )])
        .unwrap();
        assert_eq!(
            set,
            Value::from(BTreeSet::from([Value::from("192.0.2.112/29")]))
        );
    }

    #[test]
    fn merge_errors_where_opa_errors_or_panics() {
        let msg = |j: &str| merge(j).unwrap_err().to_string();
        assert_eq!(
            msg(r#"["2601:600:8a80:207e:a57d:7567:e2c9:e7b3"]"#),
            "net.cidr_merge: IPv6 invalid: needs prefix length"
        );
        assert_eq!(
            msg(r#"["foo"]"#),
            "net.cidr_merge: invalid CIDR address: foo"
        );
        assert_eq!(
            msg(r#"["10.0.0.0/8", 1]"#),
            "net.cidr_merge: element must be string"
        );
        assert_eq!(
            msg(r#""10.0.0.0/8""#),
            "net.cidr_merge: operand must be an array"
        );
        // Go panics (index out of range) on these; here they are errors.
        assert!(merge(r#"["::ffff:0:0/96", "0.0.0.0/0"]"#).is_err());
        assert!(merge(r#"["::4/127", "::6/127"]"#).is_err());
    }

    #[test]
    fn go_parse_cidr() {
        assert_eq!(
            ipnet_string(&parse_cidr("10.1.2.3/008").unwrap()),
            "10.0.0.0/8"
        );
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.0.0/").is_err());
        assert!(parse_cidr("10.0.0.0/+8").is_err());
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(parse_cidr("fe80::1%eth0/64").is_err());
        assert_eq!(
            ipnet_string(&parse_cidr("::ffff:1.2.3.4/120").unwrap()),
            "1.2.3.0/24"
        );
    }

    #[test]
    fn intersects() {
        let i = |a: &str, b: &str| cidr_intersects(&[Value::from(a), Value::from(b)]);
        assert_eq!(
            i("192.168.1.0/25", "192.168.1.64/25").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            i("192.168.1.0/24", "192.168.2.0/24").unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            i("fd1e:5bfe:8af3:9ddc::/64", "fd1e:5bfe:8af3:9ddc:1111::/72").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            i("fd1e:5bfe:8af3:9ddc::/64", "2001:4860:4860::8888/32").unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            i("10.0.0.0/8", "::ffff:10.0.0.0/104").unwrap(),
            Value::Bool(true)
        );
        assert!(i("not-a-cidr", "192.168.1.0/24").is_err());
        assert!(i("192.168.1.0/28", "not-a-cidr").is_err());
        assert!(cidr_intersects(&[Value::from(1), Value::from("10.0.0.0/8")]).is_err());
    }

    #[test]
    fn contains_matches() {
        let m = |a: &str, b: &str| cidr_contains_matches(&[v(a), v(b)]);
        assert_eq!(
            m(r#""1.1.1.0/24""#, r#""1.1.1.1""#).unwrap(),
            v(r#"[["1.1.1.0/24", "1.1.1.1"]]"#)
                .as_array()
                .unwrap()
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into()
        );
        let arrays = m(
            r#"[["1.1.2.0/24", 1], "1.1.1.0/24"]"#,
            r#"["1.1.1.1", "1.1.2.1"]"#,
        )
        .unwrap();
        assert_eq!(
            arrays,
            Value::from(BTreeSet::from([v("[0, 1]"), v("[1, 0]")]))
        );
        let objects = m(
            r#"{"k1": "1.1.1.1/24", "k2": ["1.1.1.2/24", 1]}"#,
            r#""1.1.1.128""#,
        )
        .unwrap();
        assert_eq!(
            objects,
            Value::from(BTreeSet::from([
                v(r#"["k1", "1.1.1.128"]"#),
                v(r#"["k2", "1.1.1.128"]"#)
            ]))
        );
        assert_eq!(
            m(r#"["1.1.2.0/24"]"#, r#"["1.1.1.1", 1]"#)
                .unwrap_err()
                .to_string(),
            "net.cidr_contains_matches: operand 2: element must be string or non-empty array"
        );
        assert!(m(r#"["1.1.2.0/24"]"#, r#"[[]]"#).is_err());
        assert!(m(r#"[[1]]"#, r#""1.1.1.1""#).is_err());
        assert!(m(r#"["x"]"#, r#""1.1.1.1""#).is_err());
        // A scalar operand has no elements; nothing is read after an empty
        // first operand.
        assert_eq!(m("1", r#""1.1.1.1""#).unwrap(), Value::new_set());
        assert_eq!(m("[]", "[1]").unwrap(), Value::new_set());
    }

    #[test]
    fn overlap_is_contains() {
        let o = |a: &str, b: &str| cidr_overlap(&[Value::from(a), Value::from(b)]);
        assert_eq!(o("1.0.0.0/8", "1.2.3.4").unwrap(), Value::Bool(true));
        assert!(o("x", "1.2.3.4")
            .unwrap_err()
            .to_string()
            .starts_with("net.cidr_overlap: "));
    }

    fn address() -> impl Strategy<Value = String> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=33)
                .prop_map(|(a, p)| format!("{}/{p}", std::net::Ipv4Addr::from(a))),
            any::<[u8; 4]>().prop_map(|a| std::net::Ipv4Addr::from(a).to_string()),
            (any::<[u8; 16]>(), 0u8..=129)
                .prop_map(|(a, p)| format!("{}/{p}", std::net::Ipv6Addr::from(a))),
            (any::<[u8; 4]>(), 90u8..=129)
                .prop_map(|(a, p)| format!("{}/{p}", std::net::Ipv4Addr::from(a).to_ipv6_mapped())),
            (0u8..=255, 0u8..=128).prop_map(|(a, p)| format!("::{a:x}/{p}")),
            "[0-9a-f:./]{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn cidr_builtins_never_panic(addrs in prop::collection::vec(address(), 0..6)) {
            let arr = Value::from(addrs.iter().map(|a| Value::from(a.as_str())).collect::<Vec<_>>());
            if let Ok(Value::Set(s)) = cidr_merge(std::slice::from_ref(&arr)) {
                // Every merged network is one `net.cidr_contains` reads.
                for n in s.iter() {
                    if let Value::String(t) = n {
                        prop_assert!(parse_cidr(t).is_ok(), "{t}");
                    }
                }
            }
            let _ = cidr_contains_matches(&[arr.clone(), arr.clone()]);
            for w in addrs.windows(2) {
                let _ = cidr_intersects(&[Value::from(w[0].as_str()), Value::from(w[1].as_str())]);
            }
        }

        #[test]
        fn merging_ipv4_networks_covers_the_same_addresses(
            nets in prop::collection::vec((any::<u32>(), 8u8..=32), 1..5),
            probe in any::<u32>(),
        ) {
            let texts: Vec<String> = nets
                .iter()
                .map(|(a, p)| format!("{}/{p}", std::net::Ipv4Addr::from(*a)))
                .collect();
            let arr = Value::from(texts.iter().map(|t| Value::from(t.as_str())).collect::<Vec<_>>());
            let merged = cidr_merge(&[arr]).unwrap();
            let ip = std::net::Ipv4Addr::from(probe).to_string();
            let inside = |list: Vec<String>| list.iter().any(|n| {
                net::cidr_contains(&[Value::from(n.as_str()), Value::from(ip.as_str())]).unwrap() == Value::Bool(true)
            });
            let out: Vec<String> = merged
                .as_set()
                .unwrap()
                .iter()
                .map(|v| v.as_string().unwrap().to_string())
                .collect();
            prop_assert_eq!(inside(texts), inside(out));
        }
    }
}
