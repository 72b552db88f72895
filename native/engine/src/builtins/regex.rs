//! The `regex.*` builtins with the meaning Go's RE2 (`regexp`, what OPA
//! uses) gives a pattern.
//!
//! regorus 0.14.1 hands patterns to the `regex` crate as they are, where
//! `\d`, `\w`, `\s` and `\b` are Unicode-aware: `regex.match(`^\d+$`,
//! "٣")` was true where OPA answers false. Here each pattern is parsed
//! with `regex-syntax` and rewritten before it is compiled:
//! - `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`, inside classes too) become
//!   RE2's ASCII classes (`[0-9]`, `[0-9A-Za-z_]`, `[\t\n\f\r ]`), and
//!   `\b`/`\B` ASCII word boundaries;
//! - what RE2 refuses and the `regex` crate accepts is refused, so a
//!   pattern never matches here that OPA would reject: flags other than
//!   `i`, `m`, `s`, `U`; repetition counts above 1,000; class set
//!   operations (`[a&&b]`, `[a--b]`, `[a~~b]`) and nested classes (RE2
//!   reads `[a[b]]` differently); `\u`/`\U` escapes; the `regex` crate's
//!   own word-boundary forms (`\b{start}`, `\<`).
//!
//! Finding, splitting and replacing follow Go's loops (`FindAll`, `Split`,
//! `ReplaceAllString`): an empty match right after a previous match is
//! skipped, and `Split` drops the empty pieces Go drops.

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use regex::Regex;
use regex_syntax::ast::{
    self, parse::Parser, print::Printer, Assertion, AssertionKind, Ast, ClassBracketed, ClassPerl,
    ClassPerlKind, ClassSet, ClassSetItem, ClassSetRange, ClassSetUnion, Flag, Flags, FlagsItem,
    FlagsItemKind, Group, GroupKind, HexLiteralKind, Literal, LiteralKind, RepetitionRange, Span,
};
use regorus::Value;

use super::{int_operand, string_operand};

/// RE2's largest repetition count.
const MAX_REPEAT: u32 = 1000;

/// Translates `pattern` to a `regex` crate pattern with RE2's meaning, or
/// refuses it as RE2 would.
pub(crate) fn translate(pattern: &str) -> Result<String> {
    let mut ast = Parser::new()
        .parse(pattern)
        .map_err(|e| anyhow!("error parsing regexp: {}", e.kind()))?;
    rewrite(&mut ast)?;
    let mut out = String::new();
    Printer::new()
        .print(&ast, &mut out)
        .map_err(|e| anyhow!("error printing regexp: {e}"))?;
    Ok(out)
}

fn lit(span: Span, c: char) -> Literal {
    Literal {
        span,
        kind: LiteralKind::Verbatim,
        c,
    }
}

/// RE2's ASCII members of a Perl class, as class items.
fn ascii_items(kind: &ClassPerlKind, span: Span) -> Vec<ClassSetItem> {
    let range = |a: char, b: char| {
        ClassSetItem::Range(ClassSetRange {
            span,
            start: lit(span, a),
            end: lit(span, b),
        })
    };
    match kind {
        ClassPerlKind::Digit => vec![range('0', '9')],
        ClassPerlKind::Word => vec![
            range('0', '9'),
            range('A', 'Z'),
            range('a', 'z'),
            ClassSetItem::Literal(lit(span, '_')),
        ],
        // RE2's \s is [\t\n\f\r ] (no \v).
        ClassPerlKind::Space => ['\t', '\n', '\x0c', '\r', ' ']
            .into_iter()
            .map(|c| {
                ClassSetItem::Literal(Literal {
                    span,
                    kind: LiteralKind::HexBrace(HexLiteralKind::X),
                    c,
                })
            })
            .collect(),
    }
}

fn ascii_class(p: &ClassPerl) -> ClassBracketed {
    ClassBracketed {
        span: p.span,
        negated: p.negated,
        kind: ClassSet::Item(ClassSetItem::Union(ClassSetUnion {
            span: p.span,
            items: ascii_items(&p.kind, p.span),
        })),
    }
}

fn rewrite(ast: &mut Ast) -> Result<()> {
    match ast {
        Ast::Empty(_) | Ast::Dot(_) | Ast::ClassUnicode(_) => Ok(()),
        Ast::Literal(l) => literal(l),
        Ast::Flags(f) => flags(&f.flags),
        Ast::Assertion(a) => {
            match a.kind {
                AssertionKind::StartLine
                | AssertionKind::EndLine
                | AssertionKind::StartText
                | AssertionKind::EndText => {}
                AssertionKind::WordBoundary | AssertionKind::NotWordBoundary => {
                    // RE2's \b is an ASCII word boundary: (?-u:\b).
                    let span = a.span;
                    let inner = Ast::Assertion(Box::new(Assertion {
                        span,
                        kind: a.kind.clone(),
                    }));
                    *ast = Ast::Group(Box::new(Group {
                        span,
                        kind: GroupKind::NonCapturing(Flags {
                            span,
                            items: vec![
                                FlagsItem {
                                    span,
                                    kind: FlagsItemKind::Negation,
                                },
                                FlagsItem {
                                    span,
                                    kind: FlagsItemKind::Flag(Flag::Unicode),
                                },
                            ],
                        }),
                        ast: Box::new(inner),
                    }));
                }
                _ => bail!("error parsing regexp: invalid escape sequence"),
            }
            Ok(())
        }
        Ast::ClassPerl(p) => {
            let class = ascii_class(p);
            *ast = Ast::ClassBracketed(Box::new(class));
            Ok(())
        }
        Ast::ClassBracketed(c) => class_set(&mut c.kind, true),
        Ast::Repetition(r) => {
            // RE2 (Perl syntax) refuses a repetition of a repetition
            // without a group: `a**`, `a++`, `a*{2}`, `a*??`.
            if matches!(*r.ast, Ast::Repetition(_)) {
                bail!("error parsing regexp: invalid nested repetition operator");
            }
            if let ast::RepetitionKind::Range(range) = &r.op.kind {
                let too_big = match range {
                    RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => *n > MAX_REPEAT,
                    RepetitionRange::Bounded(a, b) => *a > MAX_REPEAT || *b > MAX_REPEAT,
                };
                if too_big {
                    bail!("error parsing regexp: invalid repeat count");
                }
            }
            rewrite(&mut r.ast)
        }
        Ast::Group(g) => {
            if let GroupKind::NonCapturing(f) = &g.kind {
                flags(f)?;
            }
            rewrite(&mut g.ast)
        }
        Ast::Alternation(a) => a.asts.iter_mut().try_for_each(rewrite),
        Ast::Concat(c) => c.asts.iter_mut().try_for_each(rewrite),
    }
}

fn literal(l: &Literal) -> Result<()> {
    match l.kind {
        LiteralKind::HexFixed(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong)
        | LiteralKind::HexBrace(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong) => {
            bail!("error parsing regexp: invalid escape sequence")
        }
        _ => Ok(()),
    }
}

fn flags(f: &Flags) -> Result<()> {
    for item in &f.items {
        if let FlagsItemKind::Flag(Flag::Unicode | Flag::CRLF | Flag::IgnoreWhitespace) = item.kind
        {
            bail!("error parsing regexp: invalid or unsupported Perl syntax");
        }
    }
    Ok(())
}

/// Rewrites Perl classes inside a bracketed class; `top`: not nested in
/// another class (RE2 has no nested classes).
fn class_set(set: &mut ClassSet, top: bool) -> Result<()> {
    match set {
        ClassSet::BinaryOp(_) => bail!("error parsing regexp: class set operations"),
        ClassSet::Item(item) => class_item(item, top),
    }
}

fn class_item(item: &mut ClassSetItem, top: bool) -> Result<()> {
    match item {
        ClassSetItem::Empty(_) | ClassSetItem::Ascii(_) | ClassSetItem::Unicode(_) => Ok(()),
        ClassSetItem::Literal(l) => literal(l),
        ClassSetItem::Range(r) => {
            literal(&r.start)?;
            literal(&r.end)
        }
        ClassSetItem::Perl(p) => {
            *item = if p.negated {
                ClassSetItem::Bracketed(Box::new(ascii_class(p)))
            } else {
                ClassSetItem::Union(ClassSetUnion {
                    span: p.span,
                    items: ascii_items(&p.kind, p.span),
                })
            };
            Ok(())
        }
        ClassSetItem::Bracketed(_) => {
            let _ = top;
            bail!("error parsing regexp: nested character class")
        }
        ClassSetItem::Union(u) => u.items.iter_mut().try_for_each(|i| class_item(i, top)),
    }
}

/// Compiles `pattern` with RE2's meaning.
pub(crate) fn compile(pattern: &str) -> Result<Regex> {
    let translated = translate(pattern)?;
    regex::RegexBuilder::new(&translated)
        .size_limit(1 << 23)
        .build()
        .map_err(|e| anyhow!("error parsing regexp: {e}"))
}

thread_local! {
    /// Compiled patterns per evaluator thread: no lock on the call path.
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

const CACHE_MAX: usize = 1024;

fn cached(name: &str, pattern: &str) -> Result<Regex> {
    if let Some(re) = CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(re);
    }
    let re = compile(pattern).map_err(|e| anyhow!("{name}: {e}"))?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_MAX {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
    });
    Ok(re)
}

/// Go's `FindAll...Index` loop: successive matches from the start, at most
/// `n` (all when `n < 0`), skipping an empty match that abuts the previous
/// match.
fn find_all<'s>(re: &Regex, s: &'s str, n: i64) -> Vec<regex::Captures<'s>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut prev_end: Option<usize> = None;
    while (n < 0 || (out.len() as i64) < n) && pos <= s.len() {
        let Some(caps) = re.captures_at(s, pos) else {
            break;
        };
        let m = caps.get(0).map_or((pos, pos), |m| (m.start(), m.end()));
        let mut accept = true;
        if m.1 == pos {
            // An empty match.
            if Some(m.0) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.1;
        }
        prev_end = Some(m.1);
        if accept {
            out.push(caps);
        }
    }
    out
}

/// `regex.match(pattern, value)`.
pub(super) fn regex_match(args: &[Value]) -> Result<Value> {
    let pattern = string_operand("regex.match", 1, &args[0])?;
    let value = string_operand("regex.match", 2, &args[1])?;
    Ok(Value::Bool(cached("regex.match", pattern)?.is_match(value)))
}

/// `regex.is_valid(pattern)`: whether RE2 accepts it (false for any
/// non-string).
pub(super) fn is_valid(args: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match &args[0] {
        Value::String(s) => compile(s).is_ok(),
        _ => false,
    }))
}

/// `regex.split(pattern, value)`, as Go's `Split(s, -1)`.
pub(super) fn split(args: &[Value]) -> Result<Value> {
    let pattern = string_operand("regex.split", 1, &args[0])?;
    let s = string_operand("regex.split", 2, &args[1])?;
    let re = cached("regex.split", pattern)?;
    if !pattern.is_empty() && s.is_empty() {
        return Ok(Value::from(vec![Value::String("".into())]));
    }
    let mut pieces: Vec<Value> = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for caps in find_all(&re, s, -1) {
        let Some(m) = caps.get(0) else { continue };
        end = m.start();
        if m.end() != 0 {
            pieces.push(Value::String(s[beg..end].into()));
        }
        beg = m.end();
    }
    if end != s.len() {
        pieces.push(Value::String(s[beg..].into()));
    }
    Ok(Value::from(pieces))
}

/// `regex.find_n(pattern, value, n)`.
pub(super) fn find_n(args: &[Value]) -> Result<Value> {
    let pattern = string_operand("regex.find_n", 1, &args[0])?;
    let s = string_operand("regex.find_n", 2, &args[1])?;
    let n = int_operand("regex.find_n", 3, &args[2])?;
    let re = cached("regex.find_n", pattern)?;
    Ok(Value::from(
        find_all(&re, s, n)
            .iter()
            .filter_map(|c| c.get(0))
            .map(|m| Value::String(m.as_str().into()))
            .collect::<Vec<_>>(),
    ))
}

/// `regex.find_all_string_submatch_n(pattern, value, n)`.
pub(super) fn find_all_string_submatch_n(args: &[Value]) -> Result<Value> {
    let name = "regex.find_all_string_submatch_n";
    let pattern = string_operand(name, 1, &args[0])?;
    let s = string_operand(name, 2, &args[1])?;
    let n = int_operand(name, 3, &args[2])?;
    let re = cached(name, pattern)?;
    Ok(Value::from(
        find_all(&re, s, n)
            .iter()
            .map(|caps| {
                Value::from(
                    caps.iter()
                        .map(|g| Value::String(g.map_or("", |m| m.as_str()).into()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// `regex.replace(s, pattern, value)`, as Go's `ReplaceAllString` (`$1`,
/// `${name}` expanded).
pub(super) fn replace(args: &[Value]) -> Result<Value> {
    let s = string_operand("regex.replace", 1, &args[0])?;
    let pattern = string_operand("regex.replace", 2, &args[1])?;
    let value = string_operand("regex.replace", 3, &args[2])?;
    let re = cached("regex.replace", pattern)?;
    let mut out = String::with_capacity(s.len());
    let mut last = 0usize;
    for caps in find_all(&re, s, -1) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&s[last..m.start()]);
        caps.expand(value, &mut out);
        last = m.end();
    }
    out.push_str(&s[last..]);
    Ok(Value::String(out.into()))
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// OPA's `generateRegexTemplate`: the template's literal text quoted and
/// each delimited part a group, anchored; unbalanced delimiters and a part
/// that is no regular expression are errors.
fn template_pattern(tpl: &str, open: u8, close: u8) -> Result<String> {
    let unbalanced = || anyhow!("regex.template_match: unbalanced braces in {tpl:?}");
    let mut parts = Vec::new();
    let (mut level, mut start) = (0i64, 0usize);
    for (i, &b) in tpl.as_bytes().iter().enumerate() {
        if b == open {
            level += 1;
            if level == 1 {
                start = i;
            }
        } else if b == close {
            level -= 1;
            if level == 0 {
                parts.push((start, i + 1));
            } else if level < 0 {
                return Err(unbalanced());
            }
        }
    }
    if level != 0 {
        return Err(unbalanced());
    }
    let mut pattern = String::from("^");
    let mut end = 0usize;
    for (a, b) in parts {
        let part = &tpl[a + 1..b - 1];
        compile(&format!("^{part}$")).map_err(|e| anyhow!("regex.template_match: {e}"))?;
        pattern.push_str(&quote_meta(&tpl[end..a]));
        pattern.push('(');
        pattern.push_str(part);
        pattern.push(')');
        end = b;
    }
    pattern.push_str(&quote_meta(&tpl[end..]));
    pattern.push('$');
    Ok(pattern)
}

/// `regex.template_match(template, value, delimiter_start, delimiter_end)`,
/// as OPA computes it (regorus 0.14.1 matched part by part and answered
/// `false` for unbalanced delimiters, where OPA raises).
pub(super) fn template_match(args: &[Value]) -> Result<Value> {
    const NAME: &str = "regex.template_match";
    let tpl = string_operand(NAME, 1, &args[0])?;
    let value = string_operand(NAME, 2, &args[1])?;
    let open = string_operand(NAME, 3, &args[2])?;
    let close = string_operand(NAME, 4, &args[3])?;
    if open.len() != 1 {
        bail!(
            "{NAME}: start delimiter has to be exactly one character long but is {} long",
            open.len()
        );
    }
    if close.len() != 1 {
        bail!(
            "{NAME}: end delimiter has to be exactly one character long but is {} long",
            open.len()
        );
    }
    let pattern = template_pattern(tpl, open.as_bytes()[0], close.as_bytes()[0])?;
    Ok(Value::Bool(cached(NAME, &pattern)?.is_match(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_match_as_opa() {
        let t = |tpl: &str, v: &str| {
            let s = |x: &str| Value::String(x.into());
            template_match(&[s(tpl), s(v), s("{"), s("}")])
        };
        assert_eq!(
            t("urn:foo:{.*}", "urn:foo:bar:baz").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            t("urn:foo.bar:{[a-z]+}", "urn:foo.bar:baz").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            t("urn:foo.bar:{[a-z]+}", "urn:fooxbar:baz").unwrap(),
            Value::Bool(false)
        );
        assert_eq!(t("{a{1}}b", "ab").unwrap(), Value::Bool(true));
        assert!(t("urn:foo:{.*", "urn:foo:bar").is_err());
        assert!(t("urn:foo:.*}", "urn:foo:bar").is_err());
        assert!(t("{[}", "x").is_err());
    }

    fn m(p: &str, t: &str) -> bool {
        compile(p).unwrap().is_match(t)
    }

    fn strs(v: Value) -> Vec<String> {
        let Value::Array(a) = v else { panic!() };
        a.iter()
            .map(|x| x.as_string().unwrap().to_string())
            .collect()
    }

    #[test]
    fn perl_classes_and_boundaries_are_ascii() {
        assert!(!m(r"^\d+$", "٣"));
        assert!(m(r"^\d+$", "123"));
        assert!(!m(r"^\w+$", "é"));
        assert!(m(r"^\W$", "é"));
        assert!(!m(r"^\s$", "\u{a0}"));
        assert!(!m(r"^\s$", "\u{b}"));
        assert!(m(r"^[\d_]+$", "1_2"));
        assert!(!m(r"^[\d]+$", "٣"));
        assert!(m(r"^[^\d]$", "٣"));
        assert!(m(r"^[\D]$", "٣"));
        assert!(m(r"\bé", "xé"));
        assert!(m(r"(?i)ADMIN", "admin"));
    }

    #[test]
    fn what_re2_refuses_is_refused() {
        for bad in [
            "(?x) a",
            "(?u)a",
            "a{1001}",
            "[a&&b]",
            "[a[b]]",
            r"\u0041",
            r"\b{start}",
            r"\<",
            "(",
            "a++",
            "a**",
            "a*{2}",
            "a*??",
        ] {
            assert!(compile(bad).is_err(), "{bad}");
        }
        for ok in [
            "a{1000}",
            "(?i)a",
            "(?s:.)",
            "(?U)a+",
            r"\x{41}",
            r"\pL",
            "[[:alpha:]]",
            "(a*)*",
            "a*?",
            "a{2}?",
        ] {
            assert!(compile(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn split_find_and_replace_follow_go() {
        let s = |x: &str| Value::String(x.into());
        assert_eq!(strs(split(&[s(""), s("abc")]).unwrap()), ["a", "b", "c"]);
        assert_eq!(strs(split(&[s("a"), s("")]).unwrap()), [""]);
        assert_eq!(
            strs(split(&[s(","), s("a,b,,c")]).unwrap()),
            ["a", "b", "", "c"]
        );
        assert_eq!(strs(split(&[s("x*"), s("axbc")]).unwrap()), ["a", "b", "c"]);
        assert_eq!(
            strs(find_n(&[s("a*"), s("baaab"), Value::from(-1)]).unwrap()),
            ["", "aaa", ""]
        );
        assert_eq!(
            strs(find_n(&[s("\\d"), s("a1b2c3"), Value::from(2)]).unwrap()),
            ["1", "2"]
        );
        assert_eq!(
            replace(&[s("-ab-axxb-"), s("a(x*)b"), s("${1}W")]).unwrap(),
            s("-W-xxW-")
        );
        assert_eq!(replace(&[s("abc"), s("x*"), s("-")]).unwrap(), s("-a-b-c-"));
    }
}
