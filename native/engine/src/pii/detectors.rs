//! The built-in detectors: one pattern each, plus a validator where a
//! pattern alone would flag too much (Luhn for cards, mod-97 for IBANs,
//! octet ranges for IPv4, a real parser for IPv6, SSA rules for SSNs).
//!
//! Patterns are ASCII-only and free of bounded repetitions wider than a few
//! states, so the combined automaton stays small and every match starts and
//! ends on a character boundary.

/// A kind of personal data or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// A PEM private-key block.
    PrivateKey,
    /// A JSON Web Token (three base64url segments, header and payload JSON).
    Jwt,
    /// `Bearer <token>` credentials.
    BearerToken,
    /// An AWS access key id.
    AwsAccessKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A Stripe secret or restricted key (`sk_live_`, `rk_test_`...).
    StripeKey,
    /// A Slack token (`xoxb-`, `xoxp-`...).
    SlackToken,
    /// An e-mail address.
    Email,
    /// An IBAN with a valid checksum.
    Iban,
    /// A payment card number passing the Luhn check.
    CardNumber,
    /// A US social security number.
    UsSsn,
    /// An IPv6 address.
    Ipv6,
    /// An IPv4 address.
    Ipv4,
    /// A phone number (E.164 or a common national format).
    Phone,
}

impl Entity {
    /// The stable name used in tags, metrics and configuration.
    pub fn name(self) -> &'static str {
        match self {
            Entity::PrivateKey => "private_key",
            Entity::Jwt => "jwt",
            Entity::BearerToken => "bearer_token",
            Entity::AwsAccessKey => "aws_access_key",
            Entity::GithubToken => "github_token",
            Entity::StripeKey => "stripe_key",
            Entity::SlackToken => "slack_token",
            Entity::Email => "email",
            Entity::Iban => "iban",
            Entity::CardNumber => "card_number",
            Entity::UsSsn => "us_ssn",
            Entity::Ipv6 => "ipv6",
            Entity::Ipv4 => "ipv4",
            Entity::Phone => "phone",
        }
    }

    /// Every built-in entity, in priority order (earlier wins at one position).
    pub const ALL: [Entity; 14] = [
        Entity::PrivateKey,
        Entity::Jwt,
        Entity::BearerToken,
        Entity::AwsAccessKey,
        Entity::GithubToken,
        Entity::StripeKey,
        Entity::SlackToken,
        Entity::Email,
        Entity::Iban,
        Entity::CardNumber,
        Entity::UsSsn,
        Entity::Ipv6,
        Entity::Ipv4,
        Entity::Phone,
    ];

    /// Parses a name given by [`Entity::name`].
    pub fn parse(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The detection pattern (regex syntax, ASCII, Unicode off).
    pub(crate) fn pattern(self) -> &'static str {
        match self {
            // The block's end is found by the masker (or the value's end, for
            // a truncated key); the pattern finds its start.
            Entity::PrivateKey => r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----",
            Entity::Jwt => r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
            Entity::BearerToken => {
                r"\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+[A-Za-z0-9._~+/-]{8}[A-Za-z0-9._~+/-]*=*"
            }
            Entity::AwsAccessKey => r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
            Entity::GithubToken => {
                r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}[A-Za-z0-9_]*)\b"
            }
            Entity::StripeKey => r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{10}[A-Za-z0-9]*\b",
            Entity::SlackToken => r"\bxox[abposr]-[A-Za-z0-9-]{10}[A-Za-z0-9-]*",
            Entity::Email => {
                r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z][A-Za-z]+\b"
            }
            Entity::Iban => r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
            Entity::CardNumber => r"\b[0-9](?:[ -]?[0-9]){12,18}\b",
            Entity::UsSsn => r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b",
            Entity::Ipv6 => {
                // Eight groups, or a "::" somewhere: times (12:30:45) and
                // MAC addresses never become candidates.
                r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:)*(?:[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{0,4}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3})?"
            }
            Entity::Ipv4 => r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b",
            Entity::Phone => concat!(
                // International, with separators: +44 20 7946 0958, +49 30 123 4567.
                r"\+[1-9][0-9]{0,2}[ .-]?(?:\([0-9]{1,4}\)|[0-9]{1,4})(?:[ .-][0-9]{2,4}){1,4}\b",
                // E.164 written compactly: +14155552671.
                r"|\+[1-9][0-9]{6,14}\b",
                // North American: (415) 555-2671, 415-555-2671, 415.555.2671.
                r"|(?:\([0-9]{3}\) ?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b",
                // National with a trunk 0: 020 7946 0958, 030 123 4567.
                r"|\b0[0-9]{1,4} [0-9]{3,4} [0-9]{4}\b",
            ),
        }
    }

    /// Whether a candidate match really is this entity. `before` is the
    /// byte before the match (if any), `rest` the text after it.
    pub(crate) fn validate(self, m: &str, before: Option<u8>, rest: &[u8]) -> bool {
        let after = rest.first().copied();
        match self {
            Entity::CardNumber => {
                // At most 19 digits (the pattern allows no more): on the stack.
                let mut digits = [0u8; 19];
                let mut n = 0;
                for b in m.bytes().filter(u8::is_ascii_digit) {
                    if n == digits.len() {
                        return false;
                    }
                    digits[n] = b - b'0';
                    n += 1;
                }
                let digits = &digits[..n];
                (13..=19).contains(&n)
                    && luhn(digits)
                    && !digits.iter().all(|&d| d == digits[0])
                    && consistent_separators(m)
            }
            Entity::Iban => iban_ok(m),
            Entity::UsSsn => {
                let (area, rest) = m.split_at(3);
                let group = &rest[1..3];
                let serial = &rest[4..];
                area != "000"
                    && area != "666"
                    && !area.starts_with('9')
                    && group != "00"
                    && serial != "0000"
            }
            Entity::Ipv4 => {
                // "v1.2.3.4", "1.2.3.4.5" and dotted numbers inside longer
                // dotted runs are versions or OIDs, not addresses.
                let dotted_on = rest.len() > 1 && rest[0] == b'.' && rest[1].is_ascii_digit();
                if matches!(before, Some(b'v' | b'V' | b'.')) || dotted_on {
                    return false;
                }
                m.split('.').all(|o| {
                    o.parse::<u16>().map(|n| n <= 255).unwrap_or(false)
                        && !(o.len() > 1 && o.starts_with('0'))
                })
            }
            Entity::Ipv6 => {
                let word = |b: Option<u8>| {
                    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_')
                };
                if word(before) || word(after) || m.len() < 3 {
                    return false;
                }
                // Times (12:30:45) and MACs fail the parser; "::" alone is not an address worth masking.
                m != "::" && m.parse::<std::net::Ipv6Addr>().is_ok()
            }
            Entity::Phone => {
                let digits = m.bytes().filter(u8::is_ascii_digit).count();
                if !(7..=15).contains(&digits) {
                    return false;
                }
                // A date or a version with separators is not a phone number.
                !looks_like_date(m)
            }
            _ => true,
        }
    }
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// Card numbers are written without separators or with one kind of them.
fn consistent_separators(m: &str) -> bool {
    let mut seps = m.bytes().filter(|b| !b.is_ascii_digit());
    match seps.next() {
        None => true,
        Some(first) => seps.all(|b| b == first),
    }
}

fn iban_ok(m: &str) -> bool {
    let s: Vec<u8> = m.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&s.len()) {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in s[4..].iter().chain(&s[..4]) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn looks_like_date(m: &str) -> bool {
    let parts: Vec<&str> = m
        .split(['-', '.', ' ', '/'])
        .filter(|p| !p.is_empty())
        .collect();
    parts.len() == 3 && parts[0].len() == 4 && parts[1].len() <= 2 && parts[2].len() <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        let d = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn(&d("4111111111111111")));
        assert!(!luhn(&d("4111111111111112")));
        assert!(iban_ok("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_ok("DE89370400440532013000"));
        assert!(!iban_ok("DE89370400440532013001"));
    }
}
