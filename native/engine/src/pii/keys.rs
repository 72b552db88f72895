//! Attribute names whose values are secret whatever they contain.
//!
//! A name is split into segments at every non-alphanumeric character and
//! case boundary is ignored (`http.request.header.authorization`,
//! `X-Api-Key`, `db.password`, `session_token`). It is sensitive when a
//! segment, or two adjacent segments joined, is in the list: `token` matches
//! `access_token` but not `input_tokens`, `api`+`key` matches `api_key`.

/// The built-in sensitive names (lowercase, no separators).
pub const SENSITIVE_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "auth",
    "cookie",
    "setcookie",
    "credential",
    "credentials",
    "privatekey",
    "accesskey",
    "secretkey",
    "sessionid",
    "clientsecret",
    "jwt",
    "bearer",
    "signature",
    "ssn",
    "pin",
    "cvv",
    "cvc",
    "otp",
];

/// Whether `name` is sensitive, given the built-in list and `extra` names
/// (lowercase, without separators). Allocation-free: it runs for every
/// attribute of every span.
pub fn is_sensitive(name: &str, extra: &[String]) -> bool {
    // Lowercased segment (or two joined) in a stack buffer; names longer
    // than the buffer cannot be in the list.
    const MAX: usize = 32;
    let listed = |buf: &[u8]| {
        SENSITIVE_NAMES.iter().any(|n| n.as_bytes() == buf)
            || extra.iter().any(|n| n.as_bytes() == buf)
    };
    let bytes = name.as_bytes();
    let mut prev: (usize, usize) = (0, 0);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let seg = (start, i);
        let mut buf = [0u8; MAX];
        let seg_len = seg.1 - seg.0;
        if seg_len <= MAX {
            for (d, s) in buf.iter_mut().zip(&bytes[seg.0..seg.1]) {
                *d = s.to_ascii_lowercase();
            }
            if listed(&buf[..seg_len]) {
                return true;
            }
            let prev_len = prev.1 - prev.0;
            if prev_len > 0 && prev_len + seg_len <= MAX {
                let mut joined = [0u8; MAX];
                for (d, s) in joined
                    .iter_mut()
                    .zip(bytes[prev.0..prev.1].iter().chain(&bytes[seg.0..seg.1]))
                {
                    *d = s.to_ascii_lowercase();
                }
                if listed(&joined[..prev_len + seg_len]) {
                    return true;
                }
            }
        }
        prev = seg;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "password",
            "db.password",
            "http.request.header.authorization",
            "X-Api-Key",
            "api_key",
            "session_token",
            "Set-Cookie",
            "aws.secret_access_key",
            "client-secret",
            "card.pin",
            "cvv",
            "otp_code",
        ] {
            assert!(is_sensitive(n, &[]), "{n}");
        }
        for n in [
            "gen_ai.usage.input_tokens",
            "http.method",
            "user.name",
            "keyboard",
            "authority",
            "passage",
            "ping",
            "spinner",
        ] {
            assert!(!is_sensitive(n, &[]), "{n}");
        }
        assert!(is_sensitive("tenant.iban", &["iban".to_string()]));
    }
}
