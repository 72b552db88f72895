//! PII and secret masking: content detectors, sensitive attribute names,
//! custom dictionaries and patterns, three masking styles.
//!
//! One pass over the text: every built-in and custom pattern is compiled
//! into a single multi-pattern automaton (regex-automata's meta regex: a
//! lazy DFA, linear in the input for every pattern, no backtracking), so the
//! text is scanned once whatever the number of detectors. A candidate that
//! fails its validator (Luhn, IBAN mod-97, octet ranges...) is retried as
//! the next detector anchored at the same position before the scan moves
//! on. Custom literal dictionaries run through aho-corasick in the same way.
//!
//! ```
//! use coresdk_engine::pii::{Masker, MaskerConfig};
//! let m = Masker::new(&MaskerConfig::default())?;
//! assert_eq!(m.mask("mail bob@example.com"), "mail [REDACTED:email]");
//! # Ok::<(), coresdk_engine::EngineError>(())
//! ```

mod detectors;
mod keys;

use std::borrow::Cow;
use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use hmac::{Hmac, Mac};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, PatternID};
use sha2::Sha256;

pub use detectors::Entity;
pub use keys::{is_sensitive, SENSITIVE_NAMES};

use crate::error::{EngineError, Result};

/// How a detected value is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskStyle {
    /// `[REDACTED:<type>]` (the default).
    Tag,
    /// Everything but the last four characters replaced by `*` (separators
    /// kept for card numbers); short values are masked whole.
    Partial,
    /// `[<type>:<12 hex digits of HMAC-SHA256(key, value)>]`: equal values
    /// stay correlatable across records, and nothing can be reversed without
    /// the key.
    Hash(Vec<u8>),
}

/// Masker settings.
#[derive(Debug, Clone)]
pub struct MaskerConfig {
    /// The style of every replacement.
    pub style: MaskStyle,
    /// Built-in detectors to run; all of them by default.
    pub entities: Vec<Entity>,
    /// Extra sensitive attribute names (lowercase, no separators).
    pub sensitive_names: Vec<String>,
    /// Literal terms masked wherever they appear (ASCII case-insensitive,
    /// whole words), tagged `custom`.
    pub dictionary: Vec<String>,
    /// Named custom patterns (regex syntax), tagged with their name.
    pub patterns: Vec<(String, String)>,
}

impl Default for MaskerConfig {
    fn default() -> Self {
        MaskerConfig {
            style: MaskStyle::Tag,
            entities: Entity::ALL.to_vec(),
            sensitive_names: Vec::new(),
            dictionary: Vec::new(),
            patterns: Vec::new(),
        }
    }
}

/// What a pattern of the automaton stands for.
#[derive(Debug, Clone)]
enum Kind {
    Builtin(Entity),
    Custom(String),
}

impl Kind {
    fn name(&self) -> &str {
        match self {
            Kind::Builtin(e) => e.name(),
            Kind::Custom(n) => n,
        }
    }
}

/// Counts of masked values by type.
pub type MaskCounts = BTreeMap<String, u64>;

/// A compiled masker. Cheap to share across threads (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct Masker {
    regex: Regex,
    kinds: Vec<Kind>,
    dictionary: Option<AhoCorasick>,
    style: MaskStyle,
    sensitive_names: Vec<String>,
}

/// Adds one to `kind`'s count, allocating its key only the first time.
fn count(counts: &mut MaskCounts, kind: &str) {
    match counts.get_mut(kind) {
        Some(n) => *n += 1,
        None => {
            counts.insert(kind.to_string(), 1);
        }
    }
}

/// An accepted detection: the bytes `start..end` are masked as `kind`, and
/// the scan resumes at `resume` (the end of the whole match, which may hold
/// more than the secret: a parameter's name, a URL's user).
#[derive(Debug, Clone, Copy)]
struct Hit<'k> {
    start: usize,
    end: usize,
    resume: usize,
    kind: &'k str,
}

/// The longest private-key block looked for; a longer one is masked to the
/// end of the value.
const MAX_PEM_BYTES: usize = 64 * 1024;

impl Masker {
    /// Compiles the detectors. Fails with `ERR_CONFIG` naming the bad custom
    /// pattern.
    pub fn new(cfg: &MaskerConfig) -> Result<Self> {
        let mut patterns: Vec<String> = Vec::new();
        let mut kinds = Vec::new();
        for e in Entity::ALL {
            if cfg.entities.contains(&e) {
                patterns.push(e.pattern().to_string());
                kinds.push(Kind::Builtin(e));
            }
        }
        for (name, p) in &cfg.patterns {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(EngineError::config(
                    "pii_patterns",
                    format!("pattern names are letters, digits and '_', got {name:?}"),
                ));
            }
            // Checked alone first, so the error names the pattern.
            Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build(p)
                .map_err(|e| EngineError::config("pii_patterns", format!("{name}: {e}")))?;
            patterns.push(p.clone());
            kinds.push(Kind::Custom(name.clone()));
        }
        let regex = Regex::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            // Room for the lazy DFA of every pattern at once, so that it is
            // never cleared and rebuilt in the middle of a scan.
            .configure(
                Regex::config()
                    .hybrid_cache_capacity(32 << 20)
                    .dfa_size_limit(Some(64 << 20)),
            )
            .build_many(&patterns)
            .map_err(|e| EngineError::config("pii_patterns", e.to_string()))?;
        let dictionary = if cfg.dictionary.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&cfg.dictionary)
                    .map_err(|e| EngineError::config("pii_dictionary", e.to_string()))?,
            )
        };
        Ok(Masker {
            regex,
            kinds,
            dictionary,
            style: cfg.style.clone(),
            sensitive_names: cfg.sensitive_names.clone(),
        })
    }

    /// Masks every detected value in `text`. Borrowed when nothing matched.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.mask_counting(text, &mut MaskCounts::new())
    }

    /// [`Masker::mask`], adding what was masked to `counts`.
    pub fn mask_counting<'a>(&self, text: &'a str, counts: &mut MaskCounts) -> Cow<'a, str> {
        let mut spans: Vec<(usize, usize, &str)> = Vec::new();
        self.find_spans(text, &mut spans);
        if let Some(ac) = &self.dictionary {
            self.find_dictionary(ac, text, &mut spans);
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, kind) in spans {
            if start < at {
                continue; // overlaps a span already masked
            }
            out.push_str(&text[at..start]);
            self.render(kind, &text[start..end], &mut out);
            count(counts, kind);
            at = end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// Masks a batch; the counts cover the whole batch.
    pub fn mask_batch<S: AsRef<str>>(&self, values: &[S], counts: &mut MaskCounts) -> Vec<String> {
        self.mask_many(values, counts)
            .into_iter()
            .zip(values)
            .map(|(m, v)| m.unwrap_or_else(|| v.as_ref().to_string()))
            .collect()
    }

    /// Masks a batch by content, `None` where a value is unchanged. Runs of
    /// values are scanned together ([`Masker::mask_joined`], up to 256 KiB
    /// at a time), which saves the per-value cost of a scan on short values;
    /// a value that holds NUL itself is masked alone.
    pub fn mask_many<S: AsRef<str>>(
        &self,
        values: &[S],
        counts: &mut MaskCounts,
    ) -> Vec<Option<String>> {
        const CHUNK: usize = 256 * 1024;
        let mut out: Vec<Option<String>> = Vec::with_capacity(values.len());
        let mut i = 0;
        while i < values.len() {
            let v = values[i].as_ref();
            if v.len() >= CHUNK || memchr::memchr(0, v.as_bytes()).is_some() {
                out.push(match self.mask_counting(v, counts) {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(m) => Some(m),
                });
                i += 1;
                continue;
            }
            // A run of NUL-free values, joined.
            let start = i;
            let mut joined = String::new();
            while i < values.len() {
                let v = values[i].as_ref();
                if joined.len() + v.len() >= CHUNK || memchr::memchr(0, v.as_bytes()).is_some() {
                    break;
                }
                if i > start {
                    joined.push('\0');
                }
                joined.push_str(v);
                i += 1;
            }
            match self.mask_joined(&joined, &[], counts) {
                None => out.extend(std::iter::repeat_n(None, i - start)),
                Some(masked) => {
                    for (m, v) in masked.split('\0').zip(&values[start..i]) {
                        out.push((m != v.as_ref()).then(|| m.to_string()));
                    }
                }
            }
        }
        out
    }

    /// Masks an attribute: the whole value when the name is sensitive,
    /// else by content.
    pub fn mask_attribute<'a>(
        &self,
        name: &str,
        value: &'a str,
        counts: &mut MaskCounts,
    ) -> Cow<'a, str> {
        self.mask_value(self.is_sensitive_name(name), value, counts)
    }

    /// [`Masker::mask_attribute`] when the caller already knows whether the
    /// name is sensitive (e.g. from a cache of attribute names).
    pub fn mask_value<'a>(
        &self,
        sensitive_name: bool,
        value: &'a str,
        counts: &mut MaskCounts,
    ) -> Cow<'a, str> {
        if sensitive_name {
            if value.is_empty() {
                return Cow::Borrowed(value);
            }
            let mut out = String::new();
            self.render("secret", value, &mut out);
            count(counts, "secret");
            return Cow::Owned(out);
        }
        self.mask_counting(value, counts)
    }

    /// Masks many values at once, given joined by NUL (`\0`; no value may
    /// contain NUL itself): one scan over the whole text instead of one per
    /// value, which is what a span's twenty short attributes need.
    /// `sensitive[i]` masks the `i`-th value whole. Returns `None` when
    /// nothing changed, else the masked values joined by NUL. No detector
    /// matches across a NUL (none of their byte classes contains it), so the
    /// result is exactly [`Masker::mask_value`] applied to each value.
    pub fn mask_joined(
        &self,
        joined: &str,
        sensitive: &[bool],
        counts: &mut MaskCounts,
    ) -> Option<String> {
        let mut spans: Vec<(usize, usize, &str)> = Vec::new();
        self.find_spans(joined, &mut spans);
        if let Some(ac) = &self.dictionary {
            self.find_dictionary(ac, joined, &mut spans);
        }
        let any_sensitive = sensitive.iter().any(|s| *s);
        if spans.is_empty() && !any_sensitive {
            return None;
        }
        spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
        let hay = joined.as_bytes();
        let mut out = String::with_capacity(joined.len());
        let mut changed = false;
        let mut next_span = 0;
        let mut seg_start = 0;
        for (i, _) in joined.split('\0').enumerate() {
            let seg_end = memchr::memchr(0, &hay[seg_start..]).map_or(hay.len(), |n| seg_start + n);
            if i > 0 {
                out.push('\0');
            }
            let seg = &joined[seg_start..seg_end];
            if sensitive.get(i).copied().unwrap_or(false) && !seg.is_empty() {
                self.render("secret", seg, &mut out);
                count(counts, "secret");
                changed = true;
            } else {
                let mut at = seg_start;
                while let Some(&(start, end, kind)) = spans.get(next_span) {
                    if start >= seg_end {
                        break;
                    }
                    next_span += 1;
                    if start < at || end > seg_end {
                        continue; // overlaps a span already masked, or crosses a NUL
                    }
                    out.push_str(&joined[at..start]);
                    self.render(kind, &joined[start..end], &mut out);
                    count(counts, kind);
                    changed = true;
                    at = end;
                }
                out.push_str(&joined[at..seg_end]);
            }
            while spans.get(next_span).is_some_and(|s| s.0 < seg_end) {
                next_span += 1;
            }
            seg_start = seg_end + 1;
        }
        changed.then_some(out)
    }

    /// Whether `name` is a sensitive attribute name for this masker.
    pub fn is_sensitive_name(&self, name: &str) -> bool {
        is_sensitive(name, &self.sensitive_names)
    }

    fn find_spans<'s>(&'s self, text: &str, spans: &mut Vec<(usize, usize, &'s str)>) {
        let hay = text.as_bytes();
        let mut pos = 0;
        while pos < hay.len() {
            let Some(m) = self.regex.search(&Input::new(hay).range(pos..)) else {
                break;
            };
            let start = m.start();
            // Validation failed: another detector may match here.
            let hit = self
                .accept(text, start, m.pattern(), m.end())
                .or_else(|| self.retry_at(text, start, m.pattern()));
            match hit {
                Some(hit) => {
                    spans.push((hit.start, hit.end, hit.kind));
                    pos = hit.resume.max(start + 1);
                }
                None => pos = next_char(text, start),
            }
        }
    }

    /// The accepted span of a candidate, if it validates.
    fn accept(&self, text: &str, start: usize, pid: PatternID, end: usize) -> Option<Hit<'_>> {
        let kind = &self.kinds[pid.as_usize()];
        let hay = text.as_bytes();
        let before = start.checked_sub(1).map(|i| hay[i]);
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return None;
        }
        let whole = |stop: usize| Hit {
            start,
            end: stop,
            resume: stop,
            kind: kind.name(),
        };
        match kind {
            Kind::Builtin(Entity::PrivateKey) => {
                // The block ends at its END line, else at the value's end: a
                // NUL (between joined values) or the text's end.
                let value_end = memchr::memchr(0, &hay[end..]).map_or(text.len(), |n| end + n);
                let window = &text[end..value_end.min(end + MAX_PEM_BYTES)];
                let stop = window
                    .find("PRIVATE KEY-----")
                    .map(|i| end + i + "PRIVATE KEY-----".len())
                    .unwrap_or(value_end);
                Some(whole(stop))
            }
            Kind::Builtin(e) => {
                let m = &text[start..end];
                if !e.validate(m, before, &hay[end..]) {
                    return None;
                }
                // Only the secret part is masked; the scan goes on after
                // the whole match.
                let (from, to) = e.secret_range(m);
                Some(Hit {
                    start: start + from,
                    end: start + to,
                    resume: end,
                    kind: kind.name(),
                })
            }
            Kind::Custom(_) => (end > start).then(|| whole(end)),
        }
    }

    fn retry_at(&self, text: &str, start: usize, failed: PatternID) -> Option<Hit<'_>> {
        for i in failed.as_usize() + 1..self.kinds.len() {
            let pid = PatternID::new(i).ok()?;
            let input = Input::new(text.as_bytes())
                .range(start..)
                .anchored(Anchored::Pattern(pid));
            if let Some(m) = self.regex.search(&input) {
                if let Some(hit) = self.accept(text, start, pid, m.end()) {
                    return Some(hit);
                }
            }
        }
        None
    }

    fn find_dictionary<'s>(
        &'s self,
        ac: &AhoCorasick,
        text: &str,
        spans: &mut Vec<(usize, usize, &'s str)>,
    ) {
        let hay = text.as_bytes();
        for m in ac.find_iter(hay) {
            let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
            let whole =
                !word(m.start().checked_sub(1).and_then(|i| hay.get(i))) && !word(hay.get(m.end()));
            if whole && text.is_char_boundary(m.start()) && text.is_char_boundary(m.end()) {
                spans.push((m.start(), m.end(), "custom"));
            }
        }
    }

    fn render(&self, kind: &str, value: &str, out: &mut String) {
        match &self.style {
            MaskStyle::Tag => {
                out.push_str("[REDACTED:");
                out.push_str(kind);
                out.push(']');
            }
            MaskStyle::Partial => {
                let chars: Vec<char> = value.chars().collect();
                let keep = if chars.len() > 8 { 4 } else { 0 };
                let cut = chars.len() - keep;
                for c in &chars[..cut] {
                    out.push(if kind == "card_number" && (*c == ' ' || *c == '-') {
                        *c
                    } else {
                        '*'
                    });
                }
                out.extend(&chars[cut..]);
            }
            MaskStyle::Hash(key) => {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(kind.as_bytes());
                mac.update(&[0]);
                mac.update(value.as_bytes());
                let tag = mac.finalize().into_bytes();
                out.push('[');
                out.push_str(kind);
                out.push(':');
                for b in &tag[..6] {
                    out.push_str(&format!("{b:02x}"));
                }
                out.push(']');
            }
        }
    }
}

fn next_char(text: &str, at: usize) -> usize {
    let mut i = at + 1;
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Masker {
        Masker::new(&MaskerConfig::default()).unwrap()
    }

    #[test]
    fn joined_values_mask_exactly_like_each_value_alone() {
        let cfg = MaskerConfig {
            dictionary: vec!["Project Falcon".into()],
            ..MaskerConfig::default()
        };
        let m = Masker::new(&cfg).unwrap();
        let values = [
            "GET /users/42",
            "write to alice.smith+tag@mail.example.co.uk now",
            "",
            "card 4111 1111 1111 1111",
            "Bearer abcdefghijklmnopqrstuvwxyz012345",
            "from 192.168.1.20",
            "1.2.3.4",
            "2001:db8::1",
            "-----BEGIN PRIVATE KEY-----\nMIIEv",
            "after the key",
            "plain words about project falcon and Project Falcon",
            "call +14155552671",
            "v1.2.3.4",
            "ends with an address bob@example.com",
        ];
        for flags in [0u32, 0b10_0100_0001, (1 << values.len()) - 1] {
            let sensitive: Vec<bool> = (0..values.len()).map(|i| flags & (1 << i) != 0).collect();
            let mut alone_counts = MaskCounts::new();
            let alone: Vec<String> = values
                .iter()
                .zip(&sensitive)
                .map(|(v, s)| m.mask_value(*s, v, &mut alone_counts).into_owned())
                .collect();
            let mut joined_counts = MaskCounts::new();
            let joined = m.mask_joined(&values.join("\0"), &sensitive, &mut joined_counts);
            assert_eq!(
                joined.unwrap_or_else(|| values.join("\0")),
                alone.join("\0"),
                "flags {flags:b}"
            );
            assert_eq!(joined_counts, alone_counts, "flags {flags:b}");
        }
        // The batch API gives the same results, NUL or not.
        let mut batch_values: Vec<&str> = values.to_vec();
        batch_values.push("nul\0inside bob@example.com");
        let mut bc = MaskCounts::new();
        let batch = m.mask_batch(&batch_values, &mut bc);
        let mut ac = MaskCounts::new();
        let each: Vec<String> = batch_values
            .iter()
            .map(|v| m.mask_counting(v, &mut ac).into_owned())
            .collect();
        assert_eq!(batch, each);
        assert_eq!(bc, ac);
        // Nothing to mask: None, nothing counted.
        let mut c = MaskCounts::new();
        assert!(m
            .mask_joined("a\0b c\0", &[false, false, false], &mut c)
            .is_none());
        assert!(c.is_empty());
        // An unterminated private key stops at its value's end, not the next value's.
        let out = m
            .mask_joined(
                "-----BEGIN PRIVATE KEY-----\nMIIE\0keep me",
                &[false, false],
                &mut c,
            )
            .unwrap();
        assert_eq!(out, "[REDACTED:private_key]\0keep me");
    }

    #[test]
    fn detects_each_type() {
        let m = m();
        let cases = [
            ("write to alice.smith+tag@mail.example.co.uk now", "email"),
            ("card 4111 1111 1111 1111 ok", "card_number"),
            ("card 4111-1111-1111-1111", "card_number"),
            ("call +14155552671", "phone"),
            ("call (415) 555-2671 today", "phone"),
            ("from 192.168.1.20 at", "ipv4"),
            ("from 2001:db8::8a2e:370:7334 at", "ipv6"),
            ("ssn 123-45-6789", "us_ssn"),
            ("iban GB82 WEST 1234 5698 7654 32 end", "iban"),
            ("key AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe_key"),
            ("xoxb-123456789012-abcdefghijkl", "slack_token"),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA== sent",
                "basic_auth",
            ),
            ("redis://:s3cr3t@cache:6379/0", "url_credentials"),
            ("GET /cb?code=1&client_secret=Zm9vYmFy&x=1", "credential_param"),
            (r#"{"user":"bob","password": "hunter2"}"#, "credential_param"),
            (
                "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg==;EndpointSuffix=core.windows.net",
                "azure_key",
            ),
            (
                "key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
                "openai_key",
            ),
            (
                "key sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z-AA",
                "anthropic_key",
            ),
            ("maps AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI ok", "google_api_key"),
            ("Authorization: Bearer abcdefghijklmnop.qrs", "bearer_token"),
            ("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "jwt"),
            (
                "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- tail",
                "private_key",
            ),
        ];
        for (text, kind) in cases {
            let mut counts = MaskCounts::new();
            let out = m.mask_counting(text, &mut counts);
            assert!(
                out.contains(&format!("[REDACTED:{kind}]")),
                "{text:?} -> {out:?}"
            );
            assert_eq!(counts.get(kind), Some(&1), "{text:?} -> {counts:?}");
        }
        assert_eq!(
            m.mask("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- tail"),
            "[REDACTED:private_key] tail"
        );
    }

    #[test]
    fn keeps_names_around_secrets() {
        let m = m();
        for (text, want) in [
            (
                "https://alice:pa55w0rd@db.example.com/x",
                "https://alice:[REDACTED:url_credentials]@db.example.com/x",
            ),
            (
                "login password=hunter2 ok",
                "login password=[REDACTED:credential_param] ok",
            ),
            (
                "?api_key=abc123&page=2",
                "?api_key=[REDACTED:credential_param]&page=2",
            ),
            (
                "DB_PASSWORD='s3cr3t' set",
                "DB_PASSWORD='[REDACTED:credential_param]' set",
            ),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                "Authorization: [REDACTED:basic_auth]",
            ),
            (
                "AccountName=a;AccountKey=Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg==;x",
                "AccountName=a;AccountKey=[REDACTED:azure_key];x",
            ),
        ] {
            let out = m.mask(text);
            assert_eq!(out, want, "{text:?}");
            // Idempotent: a masked value is never a candidate again.
            assert_eq!(m.mask(&out), out, "{text:?}");
        }
    }

    #[test]
    fn leaves_ordinary_values_alone() {
        let m = m();
        for text in [
            "550e8400-e29b-41d4-a716-446655440000",
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
            "2026-11-28T19:34:34.123Z",
            "12:30:45",
            "version 1.2.3 and v10.0.1.2",
            "order 1234567 total 99.95 count 42",
            "4111111111111112",
            "std::io::Result",
            "aa:bb:cc:dd:ee:ff",
            "port 8080, 127 items",
            "a Basic idea, Basic usage and basic auth",
            "Basic realm=\"api\"",
            "Basic YWJjZGVm",
            "https://example.com/a:b@c",
            "mytoken=abc123 and password= and password=true and pwd=/home/bob",
            "token_count=5 input_tokens=42",
            "sk-learn and task-force-multiplier-analysis-group",
            "sk-this-is-a-long-hyphenated-name",
            "AIza short",
        ] {
            assert_eq!(m.mask(text), text, "{text:?}");
        }
    }

    #[test]
    fn styles_and_names() {
        let p = Masker::new(&MaskerConfig {
            style: MaskStyle::Partial,
            ..MaskerConfig::default()
        })
        .unwrap();
        assert_eq!(p.mask("4111 1111 1111 1111"), "**** **** **** 1111");
        let h = Masker::new(&MaskerConfig {
            style: MaskStyle::Hash(vec![7; 32]),
            ..MaskerConfig::default()
        })
        .unwrap();
        let a = h.mask("bob@example.com");
        assert_eq!(a, h.mask("bob@example.com"));
        assert_ne!(a, h.mask("eve@example.com"));
        assert!(
            a.starts_with("[email:") && a.len() == "[email:".len() + 13,
            "{a}"
        );
        let mut c = MaskCounts::new();
        assert_eq!(
            m().mask_attribute("db.password", "hunter2", &mut c),
            "[REDACTED:secret]"
        );
        assert_eq!(
            m().mask_attribute("user.note", "hunter2", &mut c),
            "hunter2"
        );
    }

    #[test]
    fn custom_terms_and_patterns() {
        let m = Masker::new(&MaskerConfig {
            dictionary: vec!["Project Nightingale".into()],
            patterns: vec![("employee_id".into(), r"\bEMP-[0-9]{6}\b".into())],
            ..MaskerConfig::default()
        })
        .unwrap();
        assert_eq!(
            m.mask("project nightingale for EMP-123456"),
            "[REDACTED:custom] for [REDACTED:employee_id]"
        );
        let err = Masker::new(&MaskerConfig {
            patterns: vec![("bad".into(), "(".into())],
            ..MaskerConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("pii_patterns"), "{err}");
    }

    #[test]
    fn odd_input() {
        let m = m();
        let big = "x".repeat(10 * 1024 * 1024);
        assert_eq!(m.mask(&big).len(), big.len());
        assert_eq!(
            m.mask("héllo bob@example.com ünïcode"),
            "héllo [REDACTED:email] ünïcode"
        );
        assert_eq!(m.mask(""), "");
    }
}
