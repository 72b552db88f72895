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
    /// An Anthropic API key (`sk-ant-...`).
    AnthropicKey,
    /// An OpenAI API key (`sk-...`, `sk-proj-...`, `sk-svcacct-...`).
    OpenaiKey,
    /// A Google API key (`AIza` and 35 more characters).
    GoogleApiKey,
    /// An Azure storage or service-bus key in a connection string
    /// (`AccountKey=`, `SharedAccessKey=`) or a SAS signature (`sig=`):
    /// the value is masked, the name kept.
    AzureKey,
    /// HTTP Basic credentials (`Basic <base64 of user:password>`).
    BasicAuth,
    /// The password of a URL's `user:password@` part; the rest of the URL
    /// is kept.
    UrlCredentials,
    /// The value of a `password=`, `secret=`, `api_key=`, `token=`...
    /// pair (query strings, logs, JSON `"password": "..."`); the name is kept.
    CredentialParam,
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
            Entity::AnthropicKey => "anthropic_key",
            Entity::OpenaiKey => "openai_key",
            Entity::GoogleApiKey => "google_api_key",
            Entity::AzureKey => "azure_key",
            Entity::BasicAuth => "basic_auth",
            Entity::UrlCredentials => "url_credentials",
            Entity::CredentialParam => "credential_param",
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
    pub const ALL: [Entity; 21] = [
        Entity::PrivateKey,
        Entity::Jwt,
        Entity::BearerToken,
        Entity::BasicAuth,
        Entity::UrlCredentials,
        Entity::AzureKey,
        Entity::CredentialParam,
        Entity::AwsAccessKey,
        Entity::GithubToken,
        Entity::StripeKey,
        Entity::SlackToken,
        Entity::AnthropicKey,
        Entity::OpenaiKey,
        Entity::GoogleApiKey,
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
            Entity::AnthropicKey => r"\bsk-ant-[A-Za-z0-9_-]{20}[A-Za-z0-9_-]*",
            Entity::OpenaiKey => r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20}[A-Za-z0-9_-]*",
            Entity::GoogleApiKey => r"\bAIza[A-Za-z0-9_-]{35}",
            // The value's end is the first byte outside base64 (and URL
            // percent-encoding, for `sig=`).
            Entity::AzureKey => {
                r"\b(?:AccountKey|SharedAccessKey|sig)=[A-Za-z0-9+/%]{20}[A-Za-z0-9+/%]*=*"
            }
            Entity::BasicAuth => r"\b[Bb][Aa][Ss][Ii][Cc][ \t]+[A-Za-z0-9+/]{4}[A-Za-z0-9+/]*=*",
            // No `[` or `]` in the user or password (RFC 3986 userinfo has
            // none), so a masked URL is never a candidate again; no NUL, so
            // no match crosses joined values.
            Entity::UrlCredentials => {
                r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\x00-\x20\x7f/?#@:\[\]\x22'<>]*:[^\x00-\x20\x7f/?#@\[\]\x22'<>]+@"
            }
            // The name, `=` (or a JSON `": "`), an optional quote, then a
            // value that does not start with `[` (a masked value is never a
            // candidate again).
            Entity::CredentialParam => concat!(
                r"(?i:password|passwd|pwd|passphrase|secret|client_secret|api_key|apikey|api-key|",
                r"access_key|secret_key|token|access_token|refresh_token|id_token|",
                r"auth_token|session_token)",
                r"(?:=|\x22[ \t]*:[ \t]*)[\x22']?",
                r"[^\x00-\x20\x7f&;,.\x22'<>\[\]{}()][^\x00-\x20\x7f&;,\x22'<>]*",
            ),
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
            Entity::OpenaiKey | Entity::AnthropicKey => {
                // Random-looking: a digit and a letter after the prefix, so
                // `sk-` before a long hyphenated name is not a key.
                let body = m.trim_start_matches("sk-");
                word_end(after)
                    && body.bytes().any(|b| b.is_ascii_digit())
                    && body.bytes().any(|b| b.is_ascii_alphabetic())
            }
            Entity::GoogleApiKey => word_end(after),
            Entity::BasicAuth => basic_credentials(m),
            Entity::CredentialParam => {
                // After a separator or a prefix like `db_`, `x-`, `client.`:
                // `mytoken=` is some other name.
                !before.is_some_and(|b| b.is_ascii_alphanumeric()) && param_value_ok(m)
            }
            _ => true,
        }
    }

    /// The part of an accepted match that is masked, as offsets into the
    /// match: the whole match for most detectors, only the secret for those
    /// that keep a name or a URL around it.
    pub(crate) fn secret_range(self, m: &str) -> (usize, usize) {
        match self {
            Entity::UrlCredentials => {
                // scheme://user:password@ -> password.
                let user_at = m.find("://").map_or(0, |i| i + 3);
                let colon = m[user_at..].find(':').map_or(user_at, |i| user_at + i + 1);
                (colon, m.len() - 1)
            }
            Entity::AzureKey | Entity::CredentialParam => (param_value_start(m), m.len()),
            _ => (0, m.len()),
        }
    }
}

/// Whether the byte after a token ends it (a token's own characters are
/// letters, digits, `_` and `-`).
fn word_end(after: Option<u8>) -> bool {
    !after.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Where the value of a `name=value` (or `"name": "value"`) match starts:
/// after the separator and an optional opening quote.
fn param_value_start(m: &str) -> usize {
    let b = m.as_bytes();
    let mut i = b.iter().position(|&c| c == b'=' || c == b':').unwrap_or(0);
    // Past the separator, blanks and one opening quote.
    i += 1;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
        i += 1;
    }
    i.min(b.len())
}

/// A `name=value` value worth masking: not a placeholder or a flag
/// (`true`, `null`, `***`), not the start of a PEM block (masked whole by
/// [`Entity::PrivateKey`]), and not a path after `pwd` (the shell's working
/// directory in an environment dump).
fn param_value_ok(m: &str) -> bool {
    // A sentence's closing `.` or `)` is not what decides.
    let value = m[param_value_start(m)..].trim_end_matches(['.', ')']);
    // A PEM block is left to the private-key detector, which masks all of it.
    if value.is_empty() || value.starts_with("-----") || value.bytes().all(|b| b == b'*') {
        return false;
    }
    let name = m.as_bytes()[..3].to_ascii_lowercase();
    if name == b"pwd" && value.starts_with('/') {
        return false;
    }
    ![
        "true",
        "false",
        "null",
        "none",
        "nil",
        "undefined",
        "redacted",
    ]
    .iter()
    .any(|w| value.eq_ignore_ascii_case(w))
}

/// Whether `Basic <token>` carries credentials: the token decodes as
/// base64 (padded or not) to printable UTF-8 with a `:` between user and
/// password, so `Basic idea` or `Basic usage` is left alone.
fn basic_credentials(m: &str) -> bool {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const B64: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let token = m[5..].trim_start_matches([' ', '\t']);
    match B64.decode(token) {
        Ok(bytes) => std::str::from_utf8(&bytes)
            .is_ok_and(|s| s.contains(':') && !s.chars().any(char::is_control)),
        Err(_) => false,
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
