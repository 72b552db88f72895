//! `regex.globs_match`, as OPA computes it (regorus 0.14.1 lacks it).
//!
//! OPA answers with `github.com/yashtewari/glob-intersection`
//! (`gintersect.NonEmpty`): each pattern is a sequence of tokens (a code
//! point, `.` for any, or a `[...]` set with `a-z` ranges; `\` escapes),
//! each optionally followed by `+` or `*`, and the answer comes from that
//! library's own matching walk, which is not a full automaton
//! intersection: for some patterns it answers differently from an exact
//! intersection, and OPA's answer is the reference. No Rust crate
//! implements that walk, so it is written here as the library defines it,
//! with its error texts. Two bounds the library does not have keep an
//! evaluation finite: the walk's nesting and its number of steps; past
//! either the builtin is an error (OPA would keep computing).

use anyhow::{bail, Result};
use regorus::Value;

use super::string_operand;

/// The deepest nesting of the matching walk.
const MAX_DEPTH: usize = 500;
/// The most steps of the matching walk.
const MAX_STEPS: usize = 1_000_000;

/// What a token matches.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// One code point.
    Char(u32),
    /// Any code point.
    Dot,
    /// A set of code points: sorted, disjoint, non-adjacent ranges.
    Set(Vec<(u32, u32)>),
}

impl Kind {
    /// The library's type order: character, dot, set.
    fn rank(&self) -> u8 {
        match self {
            Kind::Char(_) => 0,
            Kind::Dot => 1,
            Kind::Set(_) => 2,
        }
    }
}

/// A token's repetition flag.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flag {
    None,
    Plus,
    Star,
}

/// A token of a glob.
#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    flag: Flag,
}

/// The ranges of `runes` (sorted, merged).
fn ranges(mut runes: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    runes.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(runes.len());
    for (a, b) in runes {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Whether set `s` holds `c`.
fn set_has(s: &[(u32, u32)], c: u32) -> bool {
    s.binary_search_by(|&(a, b)| {
        if b < c {
            std::cmp::Ordering::Less
        } else if a > c {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    })
    .is_ok()
}

/// The library's `Match`: whether two tokens (flags aside) share a code
/// point.
fn matches(t1: &Token, t2: &Token) -> bool {
    let (a, b) = if t1.kind.rank() > t2.kind.rank() {
        (&t2.kind, &t1.kind)
    } else {
        (&t1.kind, &t2.kind)
    };
    match (a, b) {
        (Kind::Char(x), Kind::Char(y)) => x == y,
        (Kind::Char(_), Kind::Dot) | (Kind::Dot, _) => true,
        (Kind::Char(c), Kind::Set(s)) => set_has(s, *c),
        (Kind::Set(x), Kind::Set(y)) => {
            let (mut i, mut j) = (0, 0);
            while i < x.len() && j < y.len() {
                if x[i].1 < y[j].0 {
                    i += 1;
                } else if y[j].1 < x[i].0 {
                    j += 1;
                } else {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// A tokenizing failure: the library's message, or the end of the input.
enum Stop {
    End,
    Invalid(String),
}

/// The tokenizer over one pattern's code points.
struct Lexer<'a> {
    text: &'a str,
    input: Vec<char>,
}

impl Lexer<'_> {
    fn invalid(&self, pos: usize, message: &str) -> Stop {
        Stop::Invalid(format!(
            "input:{}, pos:{pos}, {message}: the input provided is invalid",
            self.text
        ))
    }

    /// The library's `nextRune`: (next index, code point, escaped).
    fn next_rune(&self, index: usize) -> Result<(usize, char, bool), Stop> {
        let Some(&c) = self.input.get(index) else {
            return Err(Stop::End);
        };
        if c != '\\' {
            return Ok((index + 1, c, false));
        }
        match self.input.get(index + 1) {
            Some(&e) => Ok((index + 2, e, true)),
            None => Err(self.invalid(index, "input ends with a \\ (escape) character")),
        }
    }

    /// The library's `nextToken`.
    fn next_token(&self, index: usize) -> Result<(usize, Token), Stop> {
        let (mut i, r, escaped) = self.next_rune(index)?;
        let kind = match (r, escaped) {
            ('.', false) => Kind::Dot,
            (']', false) => {
                return Err(self.invalid(i, "set-close ']' with no preceding '['"));
            }
            ('[', false) => {
                let (next, set) = self.next_set(i)?;
                i = next;
                set
            }
            ('+' | '*', false) => {
                return Err(self.invalid(i, &format!("flag '{r}' must be preceded by a non-flag")));
            }
            _ => Kind::Char(u32::from(r)),
        };
        let mut flag = Flag::None;
        match self.next_rune(i) {
            Ok((next, '+', false)) => {
                flag = Flag::Plus;
                i = next;
            }
            Ok((next, '*', false)) => {
                flag = Flag::Star;
                i = next;
            }
            Ok(_) | Err(Stop::End) => {}
            Err(e) => return Err(e),
        }
        Ok((i, Token { kind, flag }))
    }

    /// The library's `nextTokenSet`, after its `[`.
    fn next_set(&self, index: usize) -> Result<(usize, Kind), Stop> {
        let mut runes: Vec<(u32, u32)> = Vec::new();
        let mut prev = '\0';
        let mut prev_exists = false;
        let mut i = index;
        loop {
            let (next, r, escaped) = match self.next_rune(i) {
                Ok(x) => x,
                Err(Stop::End) => break,
                Err(e) => return Err(e),
            };
            i = next;
            if escaped {
                runes.push((u32::from(r), u32::from(r)));
                prev = r;
                prev_exists = true;
                continue;
            }
            match r {
                '-' => {
                    if !prev_exists {
                        return Err(self.invalid(
                            i,
                            "range character '-' must be preceded by a Unicode character",
                        ));
                    }
                    if i + 1 >= self.input.len() {
                        return Err(self.invalid(
                            i,
                            "range character '-' must be followed by a Unicode character",
                        ));
                    }
                    let (next, to, escaped) = self.next_rune(i)?;
                    i = next;
                    if !escaped && (to == ']' || to == '-') {
                        return Err(self.invalid(
                            i,
                            "range character '-' cannot be followed by a special symbol",
                        ));
                    }
                    if to < prev {
                        return Err(self.invalid(
                            i,
                            &format!(
                                "range is out of order: '{to}' comes before '{prev}' in Unicode"
                            ),
                        ));
                    }
                    runes.push((u32::from(prev), u32::from(to)));
                    prev_exists = false;
                }
                ']' => return Ok((i, Kind::Set(ranges(runes)))),
                _ => {
                    runes.push((u32::from(r), u32::from(r)));
                    prev = r;
                    prev_exists = true;
                }
            }
        }
        Err(self.invalid(i, "found [ without matching ]"))
    }
}

/// The library's `NewGlob`: the tokens, simplified (`a*a+` is `a+`).
fn glob(text: &str) -> Result<Vec<Token>> {
    let lexer = Lexer {
        text,
        input: text.chars().collect(),
    };
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    loop {
        match lexer.next_token(i) {
            Ok((next, t)) => {
                i = next;
                // Simplify: a flagged token equal to the flagged one before
                // it joins it.
                if let Some(last) = tokens.last_mut() {
                    if t.flag != Flag::None && last.flag != Flag::None && t.kind == last.kind {
                        if t.flag == Flag::Plus || last.flag == Flag::Plus {
                            last.flag = Flag::Plus;
                        } else {
                            last.flag = Flag::Star;
                        }
                        continue;
                    }
                }
                tokens.push(t);
            }
            Err(Stop::End) => return Ok(tokens),
            Err(Stop::Invalid(m)) => bail!("regex.globs_match: {m}"),
        }
    }
}

/// The library's matching walk, with its bounds.
struct Walk {
    steps: usize,
    depth: usize,
}

impl Walk {
    fn enter(&mut self) -> Result<()> {
        self.steps += 1;
        self.depth += 1;
        if self.steps > MAX_STEPS || self.depth > MAX_DEPTH {
            bail!("regex.globs_match: the patterns are too complex to intersect");
        }
        Ok(())
    }

    /// `intersectNormal`.
    fn normal(&mut self, g1: &[Token], g2: &[Token]) -> Result<bool> {
        self.enter()?;
        let r = self.normal_inner(g1, g2);
        self.depth -= 1;
        r
    }

    fn normal_inner(&mut self, g1: &[Token], g2: &[Token]) -> Result<bool> {
        let mut i = 0;
        while i < g1.len() && i < g2.len() {
            if g1[i].flag == Flag::None && g2[i].flag == Flag::None {
                if !matches(&g1[i], &g2[i]) {
                    return Ok(false);
                }
            } else {
                return self.special(&g1[i..], &g2[i..]);
            }
            i += 1;
        }
        Ok(i == g1.len() && i == g2.len())
    }

    /// `intersectSpecial`: one of the globs starts with a flagged token.
    fn special(&mut self, g1: &[Token], g2: &[Token]) -> Result<bool> {
        match (g1[0].flag, g2[0].flag) {
            (Flag::Plus, _) => self.plus(g1, g2),
            (Flag::Star, _) => self.star(g1, g2),
            (Flag::None, Flag::Plus) => self.plus(g2, g1),
            (Flag::None, Flag::Star) => self.star(g2, g1),
            (Flag::None, Flag::None) => Ok(false),
        }
    }

    /// `intersectPlus`.
    fn plus(&mut self, plussed: &[Token], other: &[Token]) -> Result<bool> {
        if !matches(&plussed[0], &other[0]) {
            return Ok(false);
        }
        if self.star(plussed, &other[1..])? {
            return Ok(true);
        }
        Ok(other[0].flag != Flag::None && self.normal(&plussed[1..], other)?)
    }

    /// `intersectStar`.
    fn star(&mut self, starred: &[Token], other: &[Token]) -> Result<bool> {
        self.enter()?;
        let r = self.star_inner(starred, other);
        self.depth -= 1;
        r
    }

    fn star_inner(&mut self, starred: &[Token], other: &[Token]) -> Result<bool> {
        let star = &starred[0];
        let next = starred.get(1);
        for (i, t) in other.iter().enumerate() {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                bail!("regex.globs_match: the patterns are too complex to intersect");
            }
            if let Some(n) = next {
                if matches(t, n) {
                    if self.normal(&starred[1..], &other[i..])? {
                        return Ok(true);
                    }
                    if !matches(t, star) {
                        return Ok(false);
                    }
                    continue;
                }
            }
            if !matches(t, star) {
                return Ok(false);
            }
        }
        Ok(next.is_none())
    }
}

/// The library's `trimGlobs`: drops the unflagged heads and tails that
/// match (keeping one of each), or `None` when one does not match.
fn trim<'a>(g1: &'a [Token], g2: &'a [Token]) -> Option<(&'a [Token], &'a [Token])> {
    let mut l = 0;
    while l < g1.len() && l < g2.len() && g1[l].flag == Flag::None && g2[l].flag == Flag::None {
        if !matches(&g1[l], &g2[l]) {
            return None;
        }
        l += 1;
    }
    l = l.saturating_sub(1);
    // r1 and r2 as Go's (possibly -1) indices, held one higher.
    let (mut r1, mut r2) = (g1.len(), g2.len());
    while r1 > l && r2 > l && g1[r1 - 1].flag == Flag::None && g2[r2 - 1].flag == Flag::None {
        if !matches(&g1[r1 - 1], &g2[r2 - 1]) {
            return None;
        }
        r1 -= 1;
        r2 -= 1;
    }
    if r1 < g1.len() {
        r1 += 1;
        r2 += 1;
    }
    Some((g1.get(l..r1)?, g2.get(l..r2)?))
}

/// `regex.globs_match(glob1, glob2)`: whether the two patterns match a
/// common string, by glob-intersection's walk.
pub(super) fn globs_match(args: &[Value]) -> Result<Value> {
    let a = string_operand("regex.globs_match", 1, &args[0])?;
    let b = string_operand("regex.globs_match", 2, &args[1])?;
    let g1 = glob(a)?;
    let g2 = glob(b)?;
    let Some((g1, g2)) = trim(&g1, &g2) else {
        return Ok(Value::Bool(false));
    };
    let mut walk = Walk { steps: 0, depth: 0 };
    Ok(Value::Bool(walk.normal(g1, g2)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(a: &str, b: &str) -> Result<bool> {
        match globs_match(&[Value::from(a), Value::from(b)])? {
            Value::Bool(x) => Ok(x),
            _ => unreachable!(),
        }
    }

    #[test]
    fn opa_cases() {
        assert!(m("a.a.[0-9]+z", ".b.b2359825792*594823z").unwrap());
        assert!(!m("[a-z]+", "[0-9]*").unwrap());
        assert!(m("b.*", "bar").unwrap());
        assert!(m("b.*", "baz").unwrap());
        assert!(m(r"[a-z]+\[[0-9]+\]", r"foo\[1\]").unwrap());
        assert!(!m(r"[a-z]+\[[0-9]+\]", "foo[\"bar\"]").unwrap_or(false));
        assert_eq!(
            m("pqrs]", "[a-b]+").unwrap_err().to_string(),
            "regex.globs_match: input:pqrs], pos:5, set-close ']' with no preceding '[': the input provided is invalid"
        );
    }

    #[test]
    fn the_library_s_errors() {
        let e = |p: &str| m(p, "a").unwrap_err().to_string();
        assert!(e("*a").contains("pos:1, flag '*' must be preceded by a non-flag"));
        assert!(e("a\\").contains("pos:1, input ends with a \\ (escape) character"));
        assert!(e("[a").contains("found [ without matching ]"));
        assert!(e("[-a]").contains("range character '-' must be preceded"));
        assert!(e("[a-]").contains("range character '-' must be followed"));
        assert!(e("[a--b]").contains("cannot be followed by a special symbol"));
        assert!(e("[z-a]").contains("range is out of order: 'a' comes before 'z' in Unicode"));
        assert!(m("[]", "a").is_ok());
        assert!(m("a**", "a").is_err());
    }

    #[test]
    fn the_library_s_answers() {
        // As OPA answers (checked against OPA v1.22.4).
        assert!(m("abcd", "abcd").unwrap());
        assert!(m("a.*", "a.*").unwrap());
        assert!(m("a*", "a+").unwrap());
        assert!(m("abc.*", ".*xyz").unwrap());
        assert!(!m("abc", "abcd").unwrap());
        assert!(!m("a+", "b+").unwrap());
        assert!(m("[a-c]", "[c-e]").unwrap());
        assert!(!m("[a-c]", "[d-e]").unwrap());
        assert!(m("", "").unwrap());
        // The walk never tries an empty match for a trailing `a*`.
        assert!(!m("a*", "").unwrap());
    }

    #[test]
    fn a_long_walk_is_an_error_not_a_crash() {
        let deep = ".*a".repeat(5000);
        let r = m(&deep, &"b*".repeat(5000));
        assert!(r.is_ok() || r.unwrap_err().to_string().contains("too complex"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn globs_match_never_panics(a in r"[ab.\[\]\-*+\\]{0,12}", b in r"[ab.\[\]\-*+\\]{0,12}") {
            let _ = m(&a, &b);
        }

        #[test]
        fn a_literal_matches_itself(a in "[a-z0-9]{0,12}") {
            prop_assert!(m(&a, &a).unwrap());
        }
    }
}
