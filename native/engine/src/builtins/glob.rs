//! `glob.match` and `glob.quote_meta` as OPA computes them, with the
//! pattern syntax and semantics of the Go library OPA uses
//! (`github.com/gobwas/glob` v1.1.0).
//!
//! regorus 0.14.1 emulates globs with `globset` and text substitutions:
//! `":"` given as a delimiter is not a delimiter there (`glob.match("a:*",
//! [":"], "a:b:c")` was true, OPA: false), and `glob.quote_meta` escapes
//! only `*`. Here the pattern is read exactly as gobwas's lexer and parser
//! read it (same tokens, same syntax errors) and translated to an anchored
//! regular expression with the same meaning, which the `regex` crate
//! matches in linear time:
//!
//! | glob | meaning | regex |
//! |---|---|---|
//! | `*` | any run of non-delimiters | `[^d]*` |
//! | `**` | any run | `.*` (dot matches newline) |
//! | `?` | one non-delimiter | `[^d]` |
//! | `[abc]`, `[!abc]`, `[a-z]`, `[!a-z]` | a class (delimiters included) | `[abc]`, `[^abc]`... |
//! | `{a,b}` | alternatives (nestable) | `(?:a\|b)` |
//! | `\c` | the character `c` | escaped `c` |
//!
//! Delimiters: `null` means none, `[]` means `["."]`, as in OPA.

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use regex::Regex;
use regorus::Value;

use super::{string_operand, type_name};

/// One token of gobwas's lexer.
#[derive(Debug, PartialEq)]
enum Token {
    Text(String),
    Any,
    Super,
    Single,
    Not,
    TermSeparator,
    RangeOpen,
    RangeClose,
    RangeLo(char),
    RangeHi(char),
    TermsOpen,
    TermsClose,
}

/// gobwas/glob's lexer (`syntax/lexer.go`), token for token.
fn lex(pattern: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pos = 0usize;
    let mut terms_level = 0usize;
    let mut out = Vec::new();
    let text = |pos: &mut usize, breakers: &[char], out: &mut Vec<Token>| -> Result<()> {
        let mut data = String::new();
        let mut escaped = false;
        while *pos < chars.len() {
            let r = chars[*pos];
            if !escaped {
                if r == '\\' {
                    escaped = true;
                    *pos += 1;
                    continue;
                }
                if breakers.contains(&r) {
                    break;
                }
            }
            escaped = false;
            data.push(r);
            *pos += 1;
        }
        if *pos >= chars.len() && escaped {
            bail!("trailing backslash");
        }
        if !data.is_empty() {
            out.push(Token::Text(data));
        }
        Ok(())
    };
    const TEXT_BREAKERS: &[char] = &['?', '*', '[', '{'];
    const TERMS_BREAKERS: &[char] = &['?', '*', '[', '{', '}', ','];
    while pos < chars.len() {
        let r = chars[pos];
        match r {
            '{' => {
                pos += 1;
                terms_level += 1;
                out.push(Token::TermsOpen);
            }
            ',' if terms_level > 0 => {
                pos += 1;
                out.push(Token::TermSeparator);
            }
            '}' if terms_level > 0 => {
                pos += 1;
                terms_level -= 1;
                out.push(Token::TermsClose);
            }
            '[' => {
                pos += 1;
                out.push(Token::RangeOpen);
                lex_range(&chars, &mut pos, &mut out, &text)?;
            }
            '?' => {
                pos += 1;
                out.push(Token::Single);
            }
            '*' => {
                pos += 1;
                if chars.get(pos) == Some(&'*') {
                    pos += 1;
                    out.push(Token::Super);
                } else {
                    out.push(Token::Any);
                }
            }
            _ => {
                let breakers = if terms_level > 0 {
                    TERMS_BREAKERS
                } else {
                    TEXT_BREAKERS
                };
                text(&mut pos, breakers, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// The lexer's text reader: from a position, up to a breaker.
type TextReader<'a> = dyn Fn(&mut usize, &[char], &mut Vec<Token>) -> Result<()> + 'a;

/// The inside of `[...]` (`fetchRange`).
fn lex_range(
    chars: &[char],
    pos: &mut usize,
    out: &mut Vec<Token>,
    text: &TextReader<'_>,
) -> Result<()> {
    let mut want_hi = false;
    let mut want_close = false;
    let mut seen_not = false;
    loop {
        let Some(&r) = chars.get(*pos) else {
            bail!("unexpected end of input");
        };
        *pos += 1;
        if want_close {
            if r != ']' {
                bail!("expected close range character");
            }
            out.push(Token::RangeClose);
            return Ok(());
        }
        if want_hi {
            out.push(Token::RangeHi(r));
            want_close = true;
            continue;
        }
        if !seen_not && r == '!' {
            out.push(Token::Not);
            seen_not = true;
            continue;
        }
        if chars.get(*pos) == Some(&'-') {
            *pos += 1;
            out.push(Token::RangeLo(r));
            want_hi = true;
            continue;
        }
        *pos -= 1;
        text(pos, &[']'], out)?;
        want_close = true;
    }
}

/// A parsed glob.
#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Star { super_: bool },
    Single,
    Range { lo: char, hi: char, not: bool },
    Set { chars: Vec<char>, not: bool },
    Seq(Vec<Node>),
    Alt(Vec<Node>),
}

/// gobwas/glob's parser (`parse.go`): the same operator stack, the same
/// errors.
fn parse(tokens: Vec<Token>) -> Result<Node> {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        Terms,
        List,
    }
    let mut stack: Vec<Node> = Vec::new();
    let mut ops: Vec<(Op, usize)> = Vec::new();
    let mut it = tokens.into_iter();
    while let Some(token) = it.next() {
        match token {
            Token::Single => stack.push(Node::Single),
            Token::Text(t) => stack.push(Node::Text(t)),
            Token::Any => stack.push(Node::Star { super_: false }),
            Token::Super => stack.push(Node::Star { super_: true }),
            Token::RangeOpen => stack.push(parse_range(&mut it)?),
            Token::TermsOpen => {
                ops.push((Op::Terms, stack.len()));
                ops.push((Op::List, stack.len()));
            }
            Token::TermSeparator => {
                let (kind, i) = *ops.last().ok_or_else(|| anyhow!("unexpected `,`"))?;
                if kind == Op::List {
                    ops.pop();
                }
                if i == stack.len() {
                    stack.push(Node::Seq(Vec::new()));
                } else {
                    let seq = Node::Seq(stack.split_off(i));
                    stack.push(seq);
                }
                ops.push((Op::List, stack.len()));
            }
            Token::TermsClose => loop {
                let (kind, i) = ops.pop().ok_or_else(|| anyhow!("unexpected `}}`"))?;
                let items = stack.split_off(i.min(stack.len()));
                stack.push(match kind {
                    Op::Terms => Node::Alt(items),
                    Op::List => Node::Seq(items),
                });
                if kind == Op::Terms {
                    break;
                }
            },
            other => bail!("unexpected token {other:?}"),
        }
    }
    if !ops.is_empty() {
        bail!("unclosed `{{`");
    }
    Ok(Node::Seq(stack))
}

fn parse_range(it: &mut impl Iterator<Item = Token>) -> Result<Node> {
    let mut not = false;
    let (mut lo, mut hi): (Option<char>, Option<char>) = (None, None);
    let mut chars: Option<Vec<char>> = None;
    for token in it.by_ref() {
        match token {
            Token::Not => not = true,
            Token::RangeLo(c) => lo = Some(c),
            Token::RangeHi(c) => {
                if lo.is_some_and(|l| c < l) {
                    bail!("range hi character is less than lo");
                }
                hi = Some(c);
            }
            Token::Text(t) => chars = Some(t.chars().collect()),
            Token::RangeClose => {
                return match (lo, hi, chars) {
                    (Some(lo), Some(hi), None) => Ok(Node::Range { lo, hi, not }),
                    (None, None, Some(chars)) => Ok(Node::Set { chars, not }),
                    _ => bail!("could not parse range"),
                };
            }
            _ => {}
        }
    }
    bail!("unclosed `[`")
}

/// The anchored regular expression matching what `node` matches with
/// `delimiters`.
fn to_regex(node: &Node, delimiters: &[char], out: &mut String) {
    let not_delim = |out: &mut String| {
        if delimiters.is_empty() {
            out.push_str("(?s:.)");
        } else {
            out.push_str("[^");
            for d in delimiters {
                push_class_char(*d, out);
            }
            out.push(']');
        }
    };
    match node {
        Node::Text(t) => out.push_str(&regex::escape(t)),
        Node::Star { super_: true } => out.push_str("(?s:.*)"),
        Node::Star { super_: false } => {
            not_delim(out);
            out.push('*');
        }
        Node::Single => not_delim(out),
        Node::Range { lo, hi, not } => {
            out.push_str(if *not { "[^" } else { "[" });
            push_class_char(*lo, out);
            out.push('-');
            push_class_char(*hi, out);
            out.push(']');
        }
        Node::Set { chars, not } => {
            out.push_str(if *not { "[^" } else { "[" });
            for c in chars {
                push_class_char(*c, out);
            }
            out.push(']');
        }
        Node::Seq(items) => {
            out.push_str("(?:");
            for i in items {
                to_regex(i, delimiters, out);
            }
            out.push(')');
        }
        Node::Alt(items) => {
            out.push_str("(?:");
            for (k, i) in items.iter().enumerate() {
                if k > 0 {
                    out.push('|');
                }
                to_regex(i, delimiters, out);
            }
            out.push(')');
        }
    }
}

/// A character inside a regex class, escaped when it means something
/// there.
fn push_class_char(c: char, out: &mut String) {
    if c.is_ascii_punctuation() || c.is_whitespace() {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    } else {
        out.push(c);
    }
}

/// Compiles `pattern` with `delimiters` as gobwas/glob would, to a regex.
pub(crate) fn compile(pattern: &str, delimiters: &[char]) -> Result<Regex> {
    let node = parse(lex(pattern)?)?;
    let mut re = String::from("^");
    to_regex(&node, delimiters, &mut re);
    re.push('$');
    regex::RegexBuilder::new(&re)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| anyhow!("glob.match: {e}"))
}

/// Compiled patterns by pattern, then by delimiters.
type Compiled = HashMap<String, Vec<(Vec<char>, Regex)>>;

thread_local! {
    /// The compiled patterns of one evaluator thread: no lock and no
    /// allocation on a hit.
    static CACHE: RefCell<Compiled> = RefCell::new(HashMap::new());
}

/// Most patterns kept per thread before the cache is emptied.
const CACHE_MAX: usize = 1024;

/// Whether `text` matches `pattern` with `delimiters`, compiling the pattern
/// once per thread.
fn matches(pattern: &str, delimiters: &[char], text: &str) -> Result<bool> {
    let hit = CACHE.with(|c| {
        c.borrow().get(pattern).and_then(|entries| {
            entries
                .iter()
                .find(|(d, _)| d.as_slice() == delimiters)
                .map(|(_, re)| re.is_match(text))
        })
    });
    if let Some(m) = hit {
        return Ok(m);
    }
    let re = compile(pattern, delimiters)?;
    let m = re.is_match(text);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_MAX {
            c.clear();
        }
        c.entry(pattern.to_string())
            .or_default()
            .push((delimiters.to_vec(), re));
    });
    Ok(m)
}

/// The matcher of a `glob.match` whose pattern and delimiters are known
/// before evaluation (the fast path compiles it once per revision).
pub(crate) fn compile_call(pattern: &Value, delimiters: &Value) -> Result<Regex> {
    let pattern = string_operand("glob.match", 1, pattern)?;
    compile(pattern, &self::delimiters(delimiters)?)
}

/// The delimiters argument: `null` (none), or an array of one-character
/// strings (`[]` means `["."]`).
fn delimiters(v: &Value) -> Result<Vec<char>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                let s = match item {
                    Value::String(s) => s,
                    other => bail!(
                        "glob.match: operand 2 must be array of strings but got array containing {}",
                        type_name(other)
                    ),
                };
                let mut cs = s.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) => out.push(c),
                    _ => bail!("glob.match: operand 2 must be an array of single characters"),
                }
            }
            if out.is_empty() {
                out.push('.');
            }
            Ok(out)
        }
        other => bail!(
            "glob.match: operand 2 must be one of {{array, null}} but got {}",
            type_name(other)
        ),
    }
}

/// `glob.match(pattern, delimiters, match)`.
pub(super) fn glob_match(args: &[Value]) -> Result<Value> {
    let pattern = string_operand("glob.match", 1, &args[0])?;
    let delims = delimiters(&args[1])?;
    let text = string_operand("glob.match", 3, &args[2])?;
    Ok(Value::Bool(matches(pattern, &delims, text)?))
}

/// `glob.quote_meta(pattern)`: every glob metacharacter escaped.
pub(super) fn quote_meta(args: &[Value]) -> Result<Value> {
    let s = string_operand("glob.quote_meta", 1, &args[0])?;
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '\\' | '[' | ']' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::String(out.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, d: &[char], t: &str) -> bool {
        compile(p, d).unwrap().is_match(t)
    }

    #[test]
    fn delimiters_limit_star_and_single_but_not_super_or_classes() {
        assert!(!m("a:*", &[':'], "a:b:c"));
        assert!(m("a:**", &[':'], "a:b:c"));
        assert!(m("a.*", &[], "a.b.c"));
        assert!(!m("a*", &['.'], "a.b"));
        assert!(m("a[.]b", &['.'], "a.b"));
        assert!(m("a[!x]b", &['.'], "a.b"));
        assert!(!m("a?b", &['.'], "a.b"));
        assert!(m("a?b", &['.'], "axb"));
    }

    #[test]
    fn classes_alternatives_and_escapes() {
        assert!(m("{a,b}c", &['.'], "bc"));
        assert!(m("{a,{b,c}d}", &['.'], "cd"));
        assert!(m("{a,}x", &['.'], "x"));
        assert!(m("[a-c]", &[], "b"));
        assert!(!m("[!a-c]", &[], "b"));
        assert!(m("\\*", &[], "*"));
        assert!(!m("\\*", &[], "x"));
        assert!(m("a,b}", &[], "a,b}"));
        assert!(m("[\\]]", &[], "]"));
        assert!(m("*.[ch]", &['/'], "x.c"));
    }

    #[test]
    fn syntax_errors_as_gobwas_reports_them() {
        for bad in ["[", "[]", "[!]", "{a", "a\\", "[b-a]", "[ab"] {
            assert!(compile(bad, &['.']).is_err(), "{bad}");
        }
        for ok in ["}", "]", "a,b", "[-]", "[!-]"] {
            assert!(compile(ok, &['.']).is_ok(), "{ok}");
        }
    }

    #[test]
    fn quote_meta_escapes_every_metacharacter() {
        let q = quote_meta(&[Value::String("a*b?[c]{d}\\".into())]).unwrap();
        assert_eq!(q, Value::String("a\\*b\\?\\[c\\]\\{d\\}\\\\".into()));
        let Value::String(q) = q else { unreachable!() };
        assert!(m(&q, &[], "a*b?[c]{d}\\"));
    }
}
