//! The front end: what the engine does to a bundle's Rego between reading
//! it and handing it to regorus, so that every evaluator answers as OPA
//! does, or the policy is refused at load naming the construct.
//!
//! regorus 0.14.1 parses the policies OPA parses, but evaluates a few
//! constructs differently, in ways that turn a deny into an allow. Each is
//! handled here, on regorus's own parse of the module (nothing is parsed by
//! hand), by a small source rewrite that makes regorus compute OPA's
//! answer, or by a refusal (`ERR_POLICY_COMPILE` at `file:line:col`):
//!
//! | construct | regorus 0.14.1 | OPA | here |
//! |---|---|---|---|
//! | `not startswith(input.x, "a")`, `not x in s`, `not f(input.x)` with `input.x` undefined | `not` holds | the body fails (OPA evaluates a call's references before the `not`) | the references and calls are bound before the `not`, as OPA's compiler rewrites them |
//! | `v := input.x in s` with `input.x` undefined | `v` is `false` | undefined | the operand is bound first |
//! | `data.perms[3]` with `{"3": ...}` in data | finds `"3"` | undefined | the lookup goes through a local copy, where regorus does not convert |
//! | `same(x, x) := true` | any two arguments | arguments must be equal | refused |
//! | `some y` the body never mentions, `every k, v` with `k` unused, `some y; y := 1`, `some y` only the head mentions ([`declared`]) | loads and answers | `declared var y unused`, `var y declared above`, `var y is unsafe` | refused, as OPA does |
//! | `some i` where `i` is also a rule | reads the rule | a fresh variable | refused |
//! | `not input.roles[_] == "banned"` | "some role is not banned" | `rego_unsafe_var_error` | refused, as OPA does |
//! | `{"a": 1} == [1]` | undefined | `rego_type_error` | refused, as OPA does |
//! | `input.x > {"a"}` with an object `input.x` | `true` (sets order before objects) | `false` (objects before sets) | written `__coresdk.order(input.x, {"a"}) > 0`, OPA's order, unless an operand is a scalar literal (which orders alike in both) |
//! | `1e6` (an exponent literal with an integral value below 2^53) | the integer 1000000 | a floating-point number (`sprintf("%v", [1e6])` is `1e+06`) | written `__coresdk.float("1e6")`, a double; refused in a `default` value |
//! | `[p, v] := walk(input)`, `count([1 \| walk(x)])`: `walk` with one argument used as a value | yields nothing (a deny set over it stays empty) | one value per nested document | a fresh variable bound by `walk(x, v)` before the statement; `not walk(x)` is written `not [x]` |
//! | `io.jwt.decode(t, out)`: an output argument to one of CoreSDK's own builtins | `out` is unsafe | `out` is the result | written `io.jwt.decode(t)=out`, in modules and in general queries ([`prepare_query`]) |
//!
//! Positions are kept: a replaced term is padded to its own length (and
//! line count), and a statement's bindings go at the end of the statement
//! before it (after the statement of a one-statement `if` body, which has
//! nothing to reorder), so the statement's line keeps its columns and
//! regorus's scheduler, which keeps the order of statements that are
//! ready, evaluates them in OPA's order. Only a binding before the first
//! statement of a brace body on one line, and an arithmetic operator, an
//! ordering comparison or an exponent literal written as a call, move
//! what follows them on their line.

mod declared;
mod syntax;
mod walk;

pub(crate) use syntax::{ref_path, visit_vars};

use std::collections::{HashMap, HashSet};

use regorus::unstable::{Expr, Module, Parser, Rule, RuleHead, Source};

use crate::error::{EngineError, Result};

/// The prefix of the variables the front end introduces (`__c0_`,
/// `__c1_`...); a policy may not use such names.
pub(crate) const HOIST_PREFIX: &str = "__c";

/// Whether `name` is a variable the front end introduced.
pub(crate) fn is_hoisted(name: &str) -> bool {
    name.strip_prefix(HOIST_PREFIX)
        .and_then(|rest| rest.strip_suffix('_'))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// One text edit of a module: bytes `start..end` become `text`.
#[derive(Debug, Clone)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
    /// Creation order, for insertions at one position.
    seq: usize,
}

/// A module's source with the edits made to it so far.
struct Text<'s> {
    source: &'s str,
    edits: Vec<Edit>,
    seq: usize,
}

impl<'s> Text<'s> {
    fn new(source: &'s str) -> Self {
        Text {
            source,
            edits: Vec::new(),
            seq: 0,
        }
    }

    fn edit(&mut self, start: usize, end: usize, text: String) {
        self.seq += 1;
        self.edits.push(Edit {
            start,
            end,
            text,
            seq: self.seq,
        });
    }

    /// Bytes `start..end` with the edits inside them applied; those edits
    /// are taken out (the caller replaces the whole range).
    fn take(&mut self, start: usize, end: usize) -> String {
        let (inside, rest): (Vec<Edit>, Vec<Edit>) = self.edits.drain(..).partition(|e| {
            e.start >= start && e.end <= end && !(e.start == e.end && e.start == end)
        });
        self.edits = rest;
        apply(&self.source[start..end], start, inside)
    }

    /// The whole source with every edit applied.
    fn finish(self) -> String {
        apply(self.source, 0, self.edits)
    }
}

/// `source` (which starts at byte `base` of the module) with `edits`.
fn apply(source: &str, base: usize, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| (e.start, e.end, e.seq));
    let mut out = String::with_capacity(source.len() + 64);
    let mut at = base;
    for e in edits {
        if e.start < at {
            // Overlapping edits never happen; an insertion at a replaced
            // range's end is kept after it.
            continue;
        }
        out.push_str(&source[at - base..e.start - base]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&source[at - base..]);
    out
}

/// `name` in place of `original`, padded with spaces (and the same line
/// breaks) so that what follows keeps its line and column.
fn padded(name: &str, original: &str) -> String {
    let breaks = original.matches('\n').count();
    if breaks == 0 {
        let width = original.chars().count();
        return format!("{name:<width$}");
    }
    let last = original.rsplit('\n').next().unwrap_or("").chars().count();
    format!("{name}{}{}", "\n".repeat(breaks), " ".repeat(last))
}

/// `f(a, b, out)` becomes `f(a, b)=out`: the text from the end of the
/// last input argument to the closing parenthesis is replaced, padded
/// (with the same line breaks) so that what follows keeps its line and
/// column.
fn output_call(text: &mut Text<'_>, call: &Expr, params: &[regorus::unstable::Ref<Expr>]) {
    let (Some(out), Some(input)) = (params.last(), params.len().checked_sub(2)) else {
        return;
    };
    let (os, oe) = syntax::extent(out);
    let out_text = text.take(os, oe);
    let start = syntax::extent(&params[input]).1;
    let end = syntax::extent(call).1;
    let original = &text.source[start..end];
    let _ = text.take(start, end);
    let mut new = format!(")={out_text}");
    let (ob, nb) = (original.matches('\n').count(), new.matches('\n').count());
    let width = |s: &str| s.rsplit('\n').next().unwrap_or("").chars().count();
    if ob > nb {
        new.push_str(&"\n".repeat(ob - nb));
        new.push_str(&" ".repeat(width(original)));
    } else {
        let pad = width(original).saturating_sub(width(&new));
        new.push_str(&" ".repeat(pad));
    }
    text.edit(start, end, new);
}

/// A query (`evaluate_policy` of a general query) as OPA reads it: a
/// statement that calls one of CoreSDK's own builtins with an output
/// argument, `uri.is_valid(s, x)`, becomes `uri.is_valid(s)=x`, as in a
/// module (regorus knows only its own builtins' arities). A query regorus
/// cannot parse is returned unchanged: evaluating it reports the error.
pub(crate) fn prepare_query(query: &str) -> String {
    let Ok(source) = Source::from_contents("<query.rego>".to_string(), query.to_string()) else {
        return query.to_string();
    };
    let Ok(mut parser) = Parser::new(&source) else {
        return query.to_string();
    };
    if parser.enable_rego_v1().is_err() {
        return query.to_string();
    }
    let Ok(parsed) = parser.parse_user_query() else {
        return query.to_string();
    };
    let mut text = Text::new(query);
    for stmt in &parsed.stmts {
        if let regorus::unstable::Literal::Expr { expr, .. } = &stmt.literal {
            if let Expr::Call { fcn, params, .. } = expr.as_ref() {
                let builtin = ref_path(fcn)
                    .filter(|p| !matches!(p.first().map(String::as_str), Some("data" | "input")))
                    .and_then(|p| crate::builtins::arity(&p.join(".")));
                if builtin.is_some_and(|n| n >= 1 && params.len() == n + 1) {
                    output_call(&mut text, expr, params);
                }
            }
        }
    }
    if text.edits.is_empty() {
        query.to_string()
    } else {
        text.finish()
    }
}

/// What the front end knows of the whole bundle.
pub(super) struct Bundle<'a> {
    /// Rule names by package path (`data.a.b`).
    rules: HashMap<String, HashSet<String>>,
    /// Every package path.
    packages: HashSet<String>,
    /// Rules (`data.p.r`) every definition of which is a literal with no
    /// key that reads as a number: a computed key finds in them exactly
    /// what OPA finds.
    plain_rules: HashSet<String>,
    data: &'a serde_json::Value,
    rego_v0: bool,
}

/// Rewrites `modules` (file name, source) as the table above says, or
/// refuses the first construct it cannot make regorus evaluate as OPA. A
/// module regorus cannot parse is returned unchanged (loading reports the
/// parse error itself).
pub(crate) fn prepare(
    modules: &[(String, String)],
    data: &serde_json::Value,
    rego_v0: bool,
) -> Result<Vec<(String, String)>> {
    let parsed: Vec<Option<Module>> = modules
        .iter()
        .map(|(file, source)| parse(file, source, rego_v0))
        .collect();
    let mut bundle = Bundle {
        rules: HashMap::new(),
        packages: HashSet::new(),
        plain_rules: HashSet::new(),
        data,
        rego_v0,
    };
    let mut not_plain: HashSet<String> = HashSet::new();
    for m in parsed.iter().flatten() {
        let Some(package) = package_path(m) else {
            continue;
        };
        bundle.packages.insert(package.clone());
        let names = bundle.rules.entry(package.clone()).or_default();
        for rule in &m.policy {
            if let Some(n) = rule_name(rule) {
                let path = format!("{package}.{n}");
                if plain_literal(rule) {
                    bundle.plain_rules.insert(path);
                } else {
                    not_plain.insert(path);
                }
                names.insert(n);
            }
        }
    }
    bundle.plain_rules.retain(|p| !not_plain.contains(p));
    let mut next = 0usize;
    let mut out = Vec::with_capacity(modules.len());
    for ((file, source), module) in modules.iter().zip(&parsed) {
        let Some(module) = module else {
            out.push((file.clone(), source.clone()));
            continue;
        };
        declared::check(module, file)?;
        let mut text = Text::new(source);
        walk::Walker::new(&bundle, module, file, &mut text, &mut next).module()?;
        let rewritten = if text.edits.is_empty() {
            source.clone()
        } else {
            text.finish()
        };
        out.push((file.clone(), rewritten));
    }
    Ok(out)
}

fn parse(file: &str, source: &str, rego_v0: bool) -> Option<Module> {
    let source = Source::from_contents_with_limits(
        file.to_string(),
        source.to_string(),
        std::num::NonZeroUsize::new(16 << 20)?,
        std::num::NonZeroUsize::new(1_000_000)?,
    )
    .ok()?;
    let mut parser = Parser::new(&source).ok()?;
    parser.set_max_col(std::num::NonZeroU32::new(1 << 20)?);
    if !rego_v0 {
        parser.enable_rego_v1().ok()?;
    }
    parser.parse().ok()
}

/// `data.a.b` for `package a.b`.
fn package_path(m: &Module) -> Option<String> {
    let mut parts = ref_path(&m.package.refr)?;
    if parts.first().map(String::as_str) != Some("data") {
        parts.insert(0, "data".into());
    }
    Some(parts.join("."))
}

/// The first component of a rule's head (`allow`, `deny`, `f`).
fn rule_name(rule: &Rule) -> Option<String> {
    let refr = match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    };
    let mut parts = Vec::new();
    let mut cur = refr.as_ref();
    loop {
        match cur {
            Expr::Var { span, .. } => {
                parts.push(span.text().to_string());
                break;
            }
            Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => cur = refr,
            _ => return None,
        }
    }
    parts.pop()
}

/// Whether `rule` is `name := <literal>` (or a default) whose objects have
/// no key that reads as a number.
fn plain_literal(rule: &Rule) -> bool {
    fn plain(e: &Expr) -> bool {
        match e {
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. } => true,
            Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().all(|i| plain(i)),
            Expr::Object { fields, .. } => fields.iter().all(|(_, k, v)| {
                let key_ok = match k.as_ref() {
                    Expr::String { value, .. } | Expr::RawString { value, .. } => {
                        value.as_string().is_ok_and(|s| {
                            serde_json::from_str::<serde_json::Number>(s.trim()).is_err()
                        })
                    }
                    _ => false,
                };
                key_ok && plain(v)
            }),
            _ => false,
        }
    }
    match rule {
        Rule::Spec {
            head: RuleHead::Compr {
                assign: Some(a), ..
            },
            bodies,
            ..
        } => bodies.is_empty() && plain(&a.value),
        Rule::Default { value, .. } => plain(value),
        _ => false,
    }
}

/// A refusal at `span` of `file`.
fn refuse(file: &str, span: &regorus::unstable::Span, message: String) -> EngineError {
    EngineError::PolicyCompile {
        location: Some(crate::error::SourceLocation {
            file: file.to_string(),
            line: span.line,
            column: span.col,
        }),
        message,
    }
}

#[cfg(test)]
mod tests;
