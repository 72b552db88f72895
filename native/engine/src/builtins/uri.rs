//! `uri.parse` and `uri.is_valid`, as OPA computes them (regorus 0.14.1
//! lacks them).
//!
//! OPA parses with Go's `net/url.Parse` (Go 1.26, the toolchain of OPA
//! v1.22.4's release), which reads a URI reference by its own rules, not
//! WHATWG's: it keeps the host's case, accepts a host like `foo]bar`,
//! refuses a percent-escaped ASCII byte in a host, keeps a rootless path as
//! opaque, and keeps `raw_path` only when the path's default escaping
//! differs from the text. The `url` crate implements the WHATWG URL
//! standard (it normalises, refuses and accepts differently), so the part
//! of `net/url` these builtins read is written here as Go defines it:
//! `Parse`, `parseAuthority`, `parseHost`, `setPath`, `setFragment`,
//! `unescape`, `escape` and `shouldEscape`, with Go's error texts.
//!
//! `uri.parse` answers an object with `scheme`, `hostname`, `port`,
//! `path`, `raw_path` (the escaped path, or the path when it has none),
//! `raw_query` and `fragment`, each only when not empty; `uri.is_valid` is
//! whether `url.Parse` accepts a non-empty string.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{anyhow, bail, Result};
use regorus::Value;

use super::string_operand;

/// Go's `net/url` escaping modes.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
    /// A query component (`url.QueryUnescape`): `+` is a space.
    QueryComponent,
}

/// Go's `shouldEscape(c, mode)`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => return c == b'?',
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => return false,
            Mode::QueryComponent => return true,
            Mode::Host | Mode::Zone => {}
        },
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

/// The value of a hex digit.
fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Go's `strconv.Quote` (as `%q` writes a string).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `unescape(s, mode)`: the bytes, or Go's error text.
fn unescape(s: &str, mode: Mode) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                n += 1;
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    let end = (i + 3).min(b.len());
                    let bad = String::from_utf8_lossy(&b[i..end]);
                    return Err(format!("invalid URL escape {}", go_quote(&bad)));
                }
                let esc = &b[i..i + 3];
                if mode == Mode::Host && unhex(b[i + 1]) < 8 && esc != b"%25" {
                    return Err(format!(
                        "invalid URL escape {}",
                        go_quote(&String::from_utf8_lossy(esc))
                    ));
                }
                if mode == Mode::Zone {
                    let v = unhex(b[i + 1]) << 4 | unhex(b[i + 2]);
                    if esc != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(format!(
                            "invalid URL escape {}",
                            go_quote(&String::from_utf8_lossy(esc))
                        ));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        go_quote(&(c as char).to_string())
                    ));
                }
                i += 1;
            }
        }
    }
    if n == 0 && !(mode == Mode::QueryComponent && b.contains(&b'+')) {
        return Ok(b.to_vec());
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(unhex(b[i + 1]) << 4 | unhex(b[i + 2]));
            i += 3;
        } else {
            out.push(if b[i] == b'+' && mode == Mode::QueryComponent {
                b' '
            } else {
                b[i]
            });
            i += 1;
        }
    }
    Ok(out)
}

/// `urlquery.decode(s)`: Go's `url.QueryUnescape` (`+` is a space; a `%`
/// not followed by two hex digits is an error, where regorus 0.14.1 kept
/// the text as it was).
pub(super) fn query_decode(args: &[Value]) -> Result<Value> {
    const NAME: &str = "urlquery.decode";
    let s = string_operand(NAME, 1, &args[0])?;
    let bytes = unescape(s, Mode::QueryComponent).map_err(|e| anyhow!("{NAME}: {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("{NAME}: the decoded text is not valid UTF-8"))?;
    Ok(Value::String(text.into()))
}

/// `urlquery.decode_object(s)`: Go's `url.ParseQuery`, each key's values
/// in order. A bad escape or a `;` separator is an error (regorus 0.14.1
/// kept `%zz` as text); invalid UTF-8 after decoding is an error here
/// (OPA keeps the bytes).
pub(super) fn query_decode_object(args: &[Value]) -> Result<Value> {
    const NAME: &str = "urlquery.decode_object";
    let s = string_operand(NAME, 1, &args[0])?;
    let text = |b: Vec<u8>| {
        String::from_utf8(b).map_err(|_| anyhow!("{NAME}: the decoded text is not valid UTF-8"))
    };
    let mut out: BTreeMap<Value, Vec<Value>> = BTreeMap::new();
    let mut first_error: Option<String> = None;
    for pair in s.split('&') {
        if pair.contains(';') {
            first_error.get_or_insert_with(|| "invalid semicolon separator in query".into());
            continue;
        }
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = match (
            unescape(k, Mode::QueryComponent),
            unescape(v, Mode::QueryComponent),
        ) {
            (Ok(k), Ok(v)) => (k, v),
            (Err(e), _) | (_, Err(e)) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        out.entry(Value::String(text(k)?.into()))
            .or_default()
            .push(Value::String(text(v)?.into()));
    }
    if let Some(e) = first_error {
        bail!("{NAME}: {e}");
    }
    Ok(Value::from(
        out.into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect::<BTreeMap<_, _>>(),
    ))
}

/// Go's `escape(s, mode)` for the path: the bytes that need it as `%XX`.
fn escape_path(s: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if should_escape(c, Mode::Path) {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        } else {
            out.push(c);
        }
    }
    out
}

/// A Go string (any bytes) as text, each byte of an invalid UTF-8
/// sequence a U+FFFD, as OPA's JSON writes it.
fn go_string(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // Valid by construction.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len());
                for _ in 0..bad {
                    out.push('\u{FFFD}');
                }
                rest = &after[bad..];
            }
        }
    }
}

/// What `uri.parse` reads of Go's `url.URL`.
#[derive(Default, Debug)]
struct Url {
    scheme: String,
    host: Vec<u8>,
    path: Vec<u8>,
    raw_path: String,
    raw_query: String,
    fragment: Vec<u8>,
}

/// Go's `getScheme`: (scheme, rest).
fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's `validOptionalPort`: empty, or `:` and ASCII digits.
fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        _ if port.is_empty() => true,
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Go's `validUserinfo`.
fn valid_userinfo(s: &str) -> bool {
    s.chars().all(|r| {
        r.is_ascii_alphanumeric()
            || matches!(
                r,
                '-' | '.'
                    | '_'
                    | ':'
                    | '~'
                    | '!'
                    | '$'
                    | '&'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | '+'
                    | ','
                    | ';'
                    | '='
                    | '%'
                    | '@'
            )
    })
}

/// Go's `netip.ParseAddr` as `parseHost` uses it: `Some(true)` for IPv4,
/// `Some(false)` for IPv6 (a zone after `%`, not empty), else `None`.
fn parse_addr(s: &str) -> Option<bool> {
    if let Some((addr, zone)) = s.split_once('%') {
        if zone.is_empty() || !addr.contains(':') {
            return None;
        }
        return matches!(addr.parse::<IpAddr>(), Ok(IpAddr::V6(_))).then_some(false);
    }
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) => Some(true),
        IpAddr::V6(_) => Some(false),
    }
}

/// Go's `parseHost(scheme, host)`: the host's bytes, unescaped.
fn parse_host(scheme: &str, host: &str) -> Result<Vec<u8>, String> {
    if let Some(open) = host.rfind('[') {
        if open > 0 {
            return Err("invalid IP-literal".into());
        }
        let Some(close) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let colon_port = &host[close + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
        let port = unescape(colon_port, Mode::Host)?;
        // `close` can precede the `[` at 0 only if `]` is absent after it.
        let Some(hostname) = host.get(1..close) else {
            return Err("missing ']' in host".into());
        };
        let unescaped = match hostname.find("%25") {
            Some(z) => {
                let mut h = unescape(&hostname[..z], Mode::Host)?;
                h.extend(unescape(&hostname[z..], Mode::Zone)?);
                h
            }
            None => unescape(hostname, Mode::Host)?,
        };
        let text = String::from_utf8_lossy(&unescaped);
        match parse_addr(&text) {
            None => {
                return Err(format!(
                    "invalid host: ParseAddr({}): not an IP address",
                    go_quote(&text)
                ))
            }
            Some(true) => return Err("invalid IP-literal".into()),
            Some(false) => {}
        }
        let mut out = vec![b'['];
        out.extend(unescaped);
        out.push(b']');
        out.extend(port);
        return Ok(out);
    }
    if let Some(first) = host.find(':') {
        let last = host.rfind(':').unwrap_or(first);
        // Go 1.26: more than one colon only outside http and https
        // (urlstrictcolons), where the last one starts the port.
        let i = if last != first && scheme != "http" && scheme != "https" {
            last
        } else {
            first
        };
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

/// Go's `url.Parse` (the parts `uri.parse` reads), or Go's error text.
fn parse_url(raw: &str) -> Result<Url, String> {
    let (u, frag) = match raw.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (raw, None),
    };
    let mut url = parse_reference(u).map_err(|e| format!("parse {}: {e}", go_quote(u)))?;
    if let Some(f) = frag.filter(|f| !f.is_empty()) {
        url.fragment =
            unescape(f, Mode::Fragment).map_err(|e| format!("parse {}: {e}", go_quote(raw)))?;
    }
    Ok(url)
}

/// Go's `parse(rawURL, viaRequest: false)`.
fn parse_reference(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == "*" {
        url.path = b"*".to_vec();
        return Ok(url);
    }
    let (scheme, rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let mut rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        match rest.split_once('?') {
            Some((r, q)) => {
                url.raw_query = q.to_string();
                r
            }
            None => rest,
        }
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // A rootless path is opaque, which uri.parse does not report.
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let authority_and_path = &rest[2..];
        let (authority, path) = match authority_and_path.find('/') {
            Some(i) => authority_and_path.split_at(i),
            None => (authority_and_path, ""),
        };
        url.host = parse_authority(&url.scheme, authority)?;
        rest = path;
    }
    // setPath: RawPath only when the default escaping differs.
    url.path = unescape(rest, Mode::Path)?;
    if escape_path(&url.path) != rest.as_bytes() {
        url.raw_path = rest.to_string();
    }
    Ok(url)
}

/// Go's `parseAuthority`: the host (the userinfo is checked, not kept).
fn parse_authority(scheme: &str, authority: &str) -> Result<Vec<u8>, String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = parse_host(scheme, host)?;
    if let Some(userinfo) = userinfo {
        if !valid_userinfo(userinfo) {
            return Err("net/url: invalid userinfo".into());
        }
        match userinfo.split_once(':') {
            None => {
                unescape(userinfo, Mode::UserPassword)?;
            }
            Some((user, password)) => {
                unescape(user, Mode::UserPassword)?;
                unescape(password, Mode::UserPassword)?;
            }
        }
    }
    Ok(host)
}

/// Go's `splitHostPort` (for `Hostname` and `Port`).
fn split_host_port(host: &[u8]) -> (&[u8], &[u8]) {
    let mut h = host;
    let mut port: &[u8] = b"";
    if let Some(colon) = h.iter().rposition(|&b| b == b':') {
        if h[colon + 1..].iter().all(u8::is_ascii_digit) {
            port = &h[colon + 1..];
            h = &h[..colon];
        }
    }
    if h.len() >= 2 && h[0] == b'[' && h[h.len() - 1] == b']' {
        h = &h[1..h.len() - 1];
    }
    (h, port)
}

/// `uri.parse(uri)`.
pub(super) fn parse(args: &[Value]) -> Result<Value> {
    let s = string_operand("uri.parse", 1, &args[0])?;
    let url = parse_url(s).map_err(|e| anyhow!("uri.parse: {e}"))?;
    let mut obj = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            obj.insert(Value::from(k), Value::from(v));
        }
    };
    let (hostname, port) = split_host_port(&url.host);
    put("scheme", url.scheme.clone());
    put("hostname", go_string(hostname));
    put("port", go_string(port));
    if !url.path.is_empty() {
        let path = go_string(&url.path);
        let raw = if url.raw_path.is_empty() {
            path.clone()
        } else {
            url.raw_path.clone()
        };
        put("path", path);
        put("raw_path", raw);
    }
    put("raw_query", url.raw_query.clone());
    put("fragment", go_string(&url.fragment));
    Ok(Value::from(obj))
}

/// `uri.is_valid(uri)`: false for anything but a non-empty string
/// `url.Parse` accepts.
pub(super) fn is_valid(args: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match &args[0] {
        Value::String(s) if !s.is_empty() => parse_url(s).is_ok(),
        _ => false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Result<Value> {
        parse(&[Value::from(s)])
    }

    fn obj(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    fn valid(s: &str) -> bool {
        is_valid(&[Value::from(s)]).unwrap() == Value::Bool(true)
    }

    #[test]
    fn query_decode_object_is_go_parse_query() {
        let d = |q: &str| query_decode_object(&[Value::String(q.into())]);
        assert_eq!(
            d("a=1&a=2&b&c=x+y%21").unwrap(),
            obj(r#"{"a": ["1", "2"], "b": [""], "c": ["x y!"]}"#)
        );
        assert_eq!(d("").unwrap(), obj("{}"));
        assert!(d("a=%zz").is_err());
        assert!(d("a=1;b=2").is_err());
    }

    #[test]
    fn query_decode_is_go_query_unescape() {
        let d = |s: &str| query_decode(&[Value::from(s)]).map_err(|e| e.to_string());
        assert_eq!(d("a+b%20c%2B").unwrap(), Value::from("a b c+"));
        assert_eq!(d("%C3%A9").unwrap(), Value::from("é"));
        assert_eq!(d("plain").unwrap(), Value::from("plain"));
        // regorus kept these as they were: Go refuses them.
        assert_eq!(
            d("%zz").unwrap_err(),
            "urlquery.decode: invalid URL escape \"%zz\""
        );
        assert!(d("100%").is_err());
        assert!(d("%4").is_err());
        assert!(d("%ff").is_err(), "not UTF-8");
        assert!(query_decode(&[Value::from(1u64)]).is_err());
    }

    #[test]
    fn parses_as_go_net_url() {
        let cases = [
            (
                "https://example.com:8080/api?q=1#top",
                r#"{"scheme":"https","hostname":"example.com","port":"8080","path":"/api","raw_path":"/api","raw_query":"q=1","fragment":"top"}"#,
            ),
            (
                "https://example.com?q=1#frag",
                r#"{"scheme":"https","hostname":"example.com","raw_query":"q=1","fragment":"frag"}"#,
            ),
            (
                "http://[::1]:8080/path",
                r#"{"scheme":"http","hostname":"::1","port":"8080","path":"/path","raw_path":"/path"}"#,
            ),
            (
                "https://example.com/path%2Fwith%2Fslashes",
                r#"{"scheme":"https","hostname":"example.com","path":"/path/with/slashes","raw_path":"/path%2Fwith%2Fslashes"}"#,
            ),
            ("", "{}"),
            ("mailto:user@example.com", r#"{"scheme":"mailto"}"#),
            (
                "http://foo]bar/",
                r#"{"scheme":"http","hostname":"foo]bar","path":"/","raw_path":"/"}"#,
            ),
            (
                "https://example.com/a%28b%29",
                r#"{"scheme":"https","hostname":"example.com","path":"/a(b)","raw_path":"/a(b)"}"#,
            ),
            (
                "mongodb://a:1,b:2/x",
                r#"{"scheme":"mongodb","hostname":"a:1,b","port":"2","path":"/x","raw_path":"/x"}"#,
            ),
            (
                "http://[fe80::1%25en0]:80/",
                r#"{"scheme":"http","hostname":"fe80::1%en0","port":"80","path":"/","raw_path":"/"}"#,
            ),
            (
                "http://x/%ff%e2%82a",
                r#"{"scheme":"http","hostname":"x","path":"/\ufffd\ufffd\ufffda","raw_path":"/%ff%e2%82a"}"#,
            ),
            ("*", r#"{"path":"*","raw_path":"*"}"#),
            ("a b", r#"{"path":"a b","raw_path":"a b"}"#),
            (
                "http://x/a b?c d#e f",
                r#"{"scheme":"http","hostname":"x","path":"/a b","raw_path":"/a b","raw_query":"c d","fragment":"e f"}"#,
            ),
            (
                "http://x/?",
                r#"{"scheme":"http","hostname":"x","path":"/","raw_path":"/"}"#,
            ),
            ("//a/b", r#"{"hostname":"a","path":"/b","raw_path":"/b"}"#),
            (
                "HTTP://User:pw@Ex.com:/p",
                r#"{"scheme":"http","hostname":"Ex.com","path":"/p","raw_path":"/p"}"#,
            ),
            ("x:1", r#"{"scheme":"x"}"#),
        ];
        for (input, want) in cases {
            assert_eq!(p(input).unwrap(), obj(want), "{input}");
        }
    }

    #[test]
    fn errors_as_go_net_url() {
        let e = |s: &str| p(s).unwrap_err().to_string();
        assert_eq!(
            e("http://exa%6dple.com/"),
            r#"uri.parse: parse "http://exa%6dple.com/": invalid URL escape "%6d""#
        );
        assert_eq!(
            e("http://a<b@example.com/"),
            r#"uri.parse: parse "http://a<b@example.com/": net/url: invalid userinfo"#
        );
        assert_eq!(
            e("http://example.com:٣٤/"),
            r#"uri.parse: parse "http://example.com:٣٤/": invalid port ":٣٤" after host"#
        );
        assert_eq!(
            e("http://a:1:2/"),
            r#"uri.parse: parse "http://a:1:2/": invalid port ":1:2" after host"#
        );
        assert_eq!(
            e("http://x/#a%zz"),
            r#"uri.parse: parse "http://x/#a%zz": invalid URL escape "%zz""#
        );
        assert_eq!(
            e("http://[1.2.3.4]/"),
            r#"uri.parse: parse "http://[1.2.3.4]/": invalid IP-literal"#
        );
        assert_eq!(
            e("http://[::1"),
            r#"uri.parse: parse "http://[::1": missing ']' in host"#
        );
        assert!(e(":x").contains("missing protocol scheme"));
        assert!(valid("a:b/c"));
        assert!(e("1a:b").contains("first path segment in URL cannot contain colon"));
        assert!(e("a\nb").contains(r#"parse "a\nb": net/url: invalid control character in URL"#));
        assert!(p("http://]x[").is_err());
        assert!(p("http://[::1]x").is_err());
        assert!(parse(&[Value::from(1)]).is_err());
    }

    #[test]
    fn is_valid_is_parse_succeeding_on_a_non_empty_string() {
        assert!(valid("https://example.com/path?q=1"));
        assert!(!valid(""));
        assert!(!valid("http://[invalid"));
        assert!(!valid("http://exa%6dple.com/"));
        assert!(!valid("http://a<b@example.com/"));
        assert!(!valid("http://user name@example.com/"));
        assert!(!valid("http://example.com:٣٤/"));
        assert!(valid("http://foo]bar/"));
        assert_eq!(is_valid(&[Value::from(1)]).unwrap(), Value::Bool(false));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn uri_builtins_never_panic(s in r"[a-z:/?#\[\]@%0-9A-F.\-+ <>]{0,30}", t in ".{0,30}") {
            for x in [&s, &t] {
                let ok = p(x).is_ok();
                let v = is_valid(&[Value::from(x.as_str())]).unwrap();
                prop_assert_eq!(v, Value::Bool(ok && !x.is_empty()));
            }
        }
    }
}
