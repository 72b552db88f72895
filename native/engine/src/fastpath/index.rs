//! Rule indexing for the VM: a boolean rule with many bodies that each test
//! one input path against a constant (`input.method == "GET"`) is rewritten
//! so that the VM tests that path once per distinct constant and enters only
//! the bodies of the matching group.
//!
//! ```rego
//! allow if { input.method == "GET"; input.path == "/a"; ... }   # 100 bodies like this
//! ```
//! becomes, in the program the VM runs (never in what the interpreter runs):
//! ```rego
//! allow if { input.method == "GET"; __coresdk_ix_allow_0 }
//! __coresdk_ix_allow_0 if { input.path == "/a"; ... }          # the GET bodies
//! ```
//! A body holding no such test stays as it is. The rewrite is exact here
//! because it is applied only to a policy the static pass proved cannot
//! raise (so the order in which literals run cannot matter) and only to
//! rules whose every body yields `true`: `allow` is true exactly when some
//! body holds, and a body can hold only when its test does. OPA's own
//! evaluator indexes rules the same way (`ast/index.go`); opa-wasm does not.

use std::collections::BTreeMap;

use regorus::unstable::{BoolOp, Expr, Literal, Module, Ref, Rule, RuleHead};
use regorus::Value;

/// Rules with fewer bodies are left alone.
const MIN_BODIES: usize = 8;

/// A body's test of one input path: the path's text and the constants.
struct Test {
    path: String,
    /// `(constant, its source text)`
    values: Vec<(Value, String)>,
    stmt: usize,
}

/// A rule definition and the index of the module holding it.
type Definition = (usize, Ref<Rule>);

/// The modules rewritten for the VM, `(file, source)`, when any rule was
/// indexed; `None` when nothing qualified.
pub(crate) fn rewrite(modules: &[Ref<Module>]) -> Option<Vec<(String, String)>> {
    // (package text, rule name) -> its definitions, with their module's index
    let mut groups: BTreeMap<(String, String), Vec<Definition>> = BTreeMap::new();
    for (m, module) in modules.iter().enumerate() {
        let package = module.package.refr.span().text().to_string();
        for rule in &module.policy {
            if let Rule::Spec {
                head: RuleHead::Compr { refr, .. },
                ..
            } = rule.as_ref()
            {
                if let Expr::Var { span, .. } = refr.as_ref() {
                    groups
                        .entry((package.clone(), span.text().to_string()))
                        .or_default()
                        .push((m, rule.clone()));
                }
            }
        }
    }
    let mut cuts: Vec<Vec<(u32, u32)>> = vec![Vec::new(); modules.len()];
    let mut appended: Vec<String> = vec![String::new(); modules.len()];
    let mut any = false;
    let mut seq = 0usize;
    for ((_, name), specs) in &groups {
        let Some(text) = index_rule(name, specs, &mut seq, modules) else {
            continue;
        };
        any = true;
        for (m, rule) in specs {
            let span = rule.span();
            let end = span_end(span)?;
            cuts[*m].push((span.start, end as u32));
        }
        appended[specs[0].0].push_str(&text);
    }
    if !any {
        return None;
    }
    let mut out = Vec::with_capacity(modules.len());
    for (m, module) in modules.iter().enumerate() {
        let source = &module.package.span.source;
        let mut text = source.contents().clone();
        let mut c = cuts[m].clone();
        c.sort_unstable_by(|a, b| b.cmp(a));
        for (start, end) in c {
            let (s, e) = (start as usize, end as usize);
            if e > text.len() || s > e {
                return None;
            }
            text.replace_range(s..e, "");
        }
        text.push('\n');
        text.push_str(&appended[m]);
        out.push((source.file().clone(), text));
    }
    Some(out)
}

/// The replacement text for one rule, when it qualifies.
fn index_rule(
    name: &str,
    specs: &[Definition],
    seq: &mut usize,
    modules: &[Ref<Module>],
) -> Option<String> {
    if specs.len() < MIN_BODIES {
        return None;
    }
    // Every definition: `name if { body }`, one body, value true.
    let mut bodies = Vec::with_capacity(specs.len());
    for (_, rule) in specs {
        let Rule::Spec {
            head, bodies: b, ..
        } = rule.as_ref()
        else {
            return None;
        };
        let RuleHead::Compr { assign: None, .. } = head else {
            return None;
        };
        if b.len() != 1 || b[0].assign.is_some() || b[0].is_else {
            return None;
        }
        bodies.push(&b[0]);
    }
    let tests: Vec<Vec<Test>> = bodies
        .iter()
        .map(|b| {
            b.query
                .stmts
                .iter()
                .enumerate()
                .filter_map(|(i, s)| test_of(s, i))
                .collect()
        })
        .collect();
    // The tested path that leaves the VM the fewest bodies to enter: one
    // dispatch body per distinct constant, the largest group, and the bodies
    // that do not test it.
    let mut paths: Vec<&str> = tests.iter().flatten().map(|t| t.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    let cost = |path: &str| {
        let mut groups: BTreeMap<&Value, usize> = BTreeMap::new();
        let mut untested = 0;
        for t in &tests {
            match t.iter().find(|t| t.path == path) {
                Some(t) => t
                    .values
                    .iter()
                    .for_each(|(v, _)| *groups.entry(v).or_default() += 1),
                None => untested += 1,
            }
        }
        let largest = groups.values().copied().max().unwrap_or(0);
        (groups.len() + largest + untested, groups.len())
    };
    let (path, (best, distinct)) = paths
        .into_iter()
        .map(|p| (p, cost(p)))
        .min_by_key(|(_, c)| *c)?;
    if distinct < 2 || best * 4 > bodies.len() * 3 {
        return None;
    }
    let path = path.to_string();
    // constant -> (its text, the bodies' remaining statements)
    let mut keyed: BTreeMap<Value, (String, Vec<Vec<String>>)> = BTreeMap::new();
    let mut rest: Vec<String> = Vec::new();
    for (body, t) in bodies.iter().zip(&tests) {
        let stmts: Vec<String> = body
            .query
            .stmts
            .iter()
            .map(|s| span_text(&s.span))
            .collect::<Option<Vec<_>>>()?;
        match t.iter().find(|t| t.path == path) {
            Some(test) => {
                let remaining: Vec<String> = stmts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != test.stmt)
                    .map(|(_, s)| s.clone())
                    .collect();
                for (v, text) in &test.values {
                    keyed
                        .entry(v.clone())
                        .or_insert_with(|| (text.clone(), Vec::new()))
                        .1
                        .push(remaining.clone());
                }
            }
            None => rest.push(format!("{name} if {{\n\t{}\n}}\n", stmts.join("\n\t"))),
        }
    }
    if keyed.len() < 2 {
        return None;
    }
    let mut out = String::new();
    for (text, group) in keyed.values() {
        let helper = loop {
            let h = format!("__coresdk_ix_{name}_{}", *seq);
            *seq += 1;
            if !defined_anywhere(modules, &h) {
                break h;
            }
        };
        out.push_str(&format!(
            "{name} if {{\n\t{path} == {text}\n\t{helper}\n}}\n"
        ));
        for stmts in group {
            let body = if stmts.is_empty() {
                "true".to_string()
            } else {
                stmts.join("\n\t")
            };
            out.push_str(&format!("{helper} if {{\n\t{body}\n}}\n"));
        }
    }
    for r in rest {
        out.push_str(&r);
    }
    Some(out)
}

fn defined_anywhere(modules: &[Ref<Module>], name: &str) -> bool {
    modules
        .iter()
        .any(|m| m.package.span.source.contents().contains(name))
}

/// `input.a.b == <constant>` or `input.a.b in {<constants>}` as a statement.
fn test_of(stmt: &regorus::unstable::LiteralStmt, i: usize) -> Option<Test> {
    if !stmt.with_mods.is_empty() {
        return None;
    }
    let Literal::Expr { expr, .. } = &stmt.literal else {
        return None;
    };
    match expr.as_ref() {
        Expr::BoolExpr {
            op: BoolOp::Eq,
            lhs,
            rhs,
            ..
        } => {
            let (r, c) = if input_path(lhs).is_some() {
                (lhs, rhs)
            } else {
                (rhs, lhs)
            };
            let path = input_path(r)?;
            let v = constant(c)?;
            let text = literal_text(&v)?;
            Some(Test {
                path,
                values: vec![(v, text)],
                stmt: i,
            })
        }
        Expr::Membership {
            key: None,
            value,
            collection,
            ..
        } => {
            let path = input_path(value)?;
            let (Expr::Set { items, .. } | Expr::Array { items, .. }) = collection.as_ref() else {
                return None;
            };
            let values = items
                .iter()
                .map(|e| {
                    let v = constant(e)?;
                    let text = literal_text(&v)?;
                    Some((v, text))
                })
                .collect::<Option<Vec<_>>>()?;
            (!values.is_empty()).then_some(Test {
                path,
                values,
                stmt: i,
            })
        }
        _ => None,
    }
}

/// A constant as Rego source (JSON's scalars are Rego's).
fn literal_text(v: &Value) -> Option<String> {
    v.to_json_str().ok()
}

/// The full source text of a span. regorus starts and ends the span of a
/// string literal inside its quotes, so a statement or rule that begins or
/// ends with one would lose a quote; this takes it back.
fn span_text(span: &regorus::unstable::Span) -> Option<String> {
    let (start, end) = span_bounds(span)?;
    span.source.contents().get(start..end).map(str::to_string)
}

fn span_end(span: &regorus::unstable::Span) -> Option<usize> {
    span_bounds(span).map(|(_, end)| end)
}

fn span_bounds(span: &regorus::unstable::Span) -> Option<(usize, usize)> {
    let src = span.source.contents().as_bytes();
    let (mut start, mut end) = (span.start as usize, span.end as usize);
    if end > src.len() || start > end {
        return None;
    }
    if start > 0 && matches!(src[start - 1], b'"' | b'`') {
        start -= 1;
    }
    if matches!(src.get(end), Some(b'"' | b'`')) {
        end += 1;
    }
    Some((start, end))
}

fn constant(e: &Expr) -> Option<Value> {
    match e {
        Expr::String { value, .. }
        | Expr::RawString { value, .. }
        | Expr::Number { value, .. }
        | Expr::Bool { value, .. }
        | Expr::Null { value, .. } => Some(value.clone()),
        _ => None,
    }
}

/// The source text of a static reference into `input`.
fn input_path(e: &Expr) -> Option<String> {
    fn root_is_input(e: &Expr) -> bool {
        match e {
            Expr::Var { span, .. } => span.text() == "input",
            Expr::RefDot { refr, .. } => root_is_input(refr),
            Expr::RefBrack { refr, index, .. } => {
                matches!(index.as_ref(), Expr::String { .. }) && root_is_input(refr)
            }
            _ => false,
        }
    }
    (matches!(e, Expr::RefDot { .. } | Expr::RefBrack { .. }) && root_is_input(e))
        .then(|| e.span().text().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(src: &str) -> Vec<Ref<Module>> {
        let mut engine = regorus::Engine::new();
        engine.add_policy("p.rego".into(), src.into()).unwrap();
        let compiled = engine
            .compile_with_entrypoint(&"data.p.allow".into())
            .unwrap();
        compiled.get_modules().clone()
    }

    #[test]
    fn groups_bodies_by_the_most_tested_input_path() {
        let mut src = String::from("package p\ndefault allow := false\n");
        let methods = ["GET", "POST", "PUT", "DELETE"];
        for (i, m) in (0..20).map(|i| (i, methods[i % 4])) {
            src.push_str(&format!(
                "allow if {{\n\tinput.path == \"/{i}\"\n\tinput.method == \"{m}\"\n}}\n"
            ));
        }
        src.push_str("allow if input.admin == true\n");
        let out = rewrite(&modules(&src)).expect("indexed");
        let text = &out[0].1;
        // Every body tests both paths; the method leaves the fewest bodies
        // to enter (4 dispatch bodies + 5 per method, against 20 + 1).
        assert_eq!(
            text.matches("allow if {\n\tinput.method == ").count(),
            4,
            "{text}"
        );
        assert!(text.contains("allow if {\n\tinput.method == \"GET\"\n\t__coresdk_ix_allow_"));
        assert!(text.contains("input.path == \"/19\""), "{text}");
        assert!(
            text.contains("allow if {\n\tinput.admin == true\n}"),
            "{text}"
        );
        // The rewrite compiles.
        let mut engine = regorus::Engine::new();
        engine.add_policy("p.rego".into(), text.clone()).unwrap();
        engine.set_input(regorus::Value::from_json_str(r#"{"method":"PUT","path":"/6"}"#).unwrap());
        assert_eq!(
            engine.eval_rule("data.p.allow".into()).unwrap(),
            regorus::Value::Bool(true)
        );
    }

    #[test]
    fn leaves_small_or_valued_rules_alone() {
        let src = "package p\nallow if input.a == 1\nallow if input.a == 2\n";
        assert!(rewrite(&modules(src)).is_none());
        let mut src = String::from("package p\n");
        for i in 0..10 {
            src.push_str(&format!("allow := {i} if input.a == {i}\n"));
        }
        assert!(rewrite(&modules(&src)).is_none());
    }
}
