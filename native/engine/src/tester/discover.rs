//! Finding the test rules of a set of modules, as `opa test` selects them,
//! and the small source rewrites that let regorus answer like OPA's runner:
//!
//! * **Repeated test names.** OPA runs every definition of `test_x` on its
//!   own and reports the second as `test_x#01`. regorus evaluates a rule as
//!   a whole, so each repeat is renamed in the source (`test_x__coresdk_01`,
//!   same line) and reported under OPA's name.
//! * **Parametrised tests** (`test_x[tc.note] if { some tc in cases; ... }`).
//!   OPA traces which cases were entered, so a case whose body fails is
//!   reported as a failed sub-result instead of silently missing from the
//!   object. Here a companion rule is appended to the module: the same
//!   package, the body's statements up to the one that binds the key's
//!   variables, and the key as a set element. Every case it yields must be
//!   `true` in the test's object.
//!
//! Appended rules sit after the module's last line, so every line number of
//! the original source is unchanged.

use serde_json::Value;

use crate::compile_check::{head_path, ref_path, span_text};
use crate::error::{EngineError, Result};

/// Prefix of the rules OPA runs as tests.
pub(crate) const TEST_PREFIX: &str = "test_";
/// Prefix of the tests OPA reports as skipped.
pub(crate) const SKIP_PREFIX: &str = "todo_test_";

/// One test to run.
#[derive(Debug, Clone)]
pub(crate) struct TestCase {
    /// Module (file) that defines it.
    pub file: String,
    /// 1-based line and column of the rule.
    pub row: u32,
    pub col: u32,
    /// `data.pkg`.
    pub package: String,
    /// The name reported (`test_x`, `test_x#01`, `a.test_b`).
    pub name: String,
    /// The rule query that evaluates it.
    pub query: String,
    /// A `todo_test_` rule: reported, never run.
    pub skip: bool,
    /// A partial object rule (`test_x[k] if ...`): its value is an object
    /// of cases.
    pub object: bool,
    /// The appended rule listing the cases entered, when one was built.
    pub cases_query: Option<String>,
}

/// The modules parsed together into one engine, for their AST.
pub(crate) fn parse_all(modules: &[(String, String)], rego_v0: bool) -> Result<regorus::Engine> {
    let mut engine = parser(rego_v0);
    for (name, source) in modules {
        crate::nesting::check_module(name, source)?;
        engine
            .add_policy(name.clone(), source.clone())
            .map_err(|e| EngineError::parse(&e, source))?;
    }
    Ok(engine)
}

/// Every module parsed on its own: one error per module that does not
/// parse (what `check` reports in full).
pub(crate) fn parse_each(modules: &[(String, String)], rego_v0: bool) -> Vec<EngineError> {
    modules
        .iter()
        .filter_map(|(name, source)| {
            if let Err(e) = crate::nesting::check_module(name, source) {
                return Some(e);
            }
            parser(rego_v0)
                .add_policy(name.clone(), source.clone())
                .err()
                .map(|e| EngineError::parse(&e, source))
        })
        .collect()
}

fn parser(rego_v0: bool) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(rego_v0);
    engine.set_policy_length_config(regorus::utils::limits::PolicyLengthConfig {
        max_col: std::num::NonZeroU32::new(1 << 20).expect("non-zero"),
        max_file_bytes: std::num::NonZeroUsize::new(16 << 20).expect("non-zero"),
        max_lines: std::num::NonZeroUsize::new(1_000_000).expect("non-zero"),
    });
    engine
}

/// `(file, Rego source)` pairs.
pub(crate) type Modules = Vec<(String, String)>;

/// The tests of `modules` and the modules rewritten to run them.
pub(crate) fn discover(
    modules: &[(String, String)],
    rego_v0: bool,
) -> Result<(Vec<TestCase>, Modules)> {
    let engine = parse_all(modules, rego_v0)?;
    let ast: Value = serde_json::from_str(
        &engine
            .get_ast_as_json()
            .map_err(|e| EngineError::compile(&e))?,
    )
    .map_err(|e| EngineError::PolicyCompile {
        location: None,
        message: format!("cannot read the parsed policies: {e}"),
    })?;
    let mut tests = Vec::new();
    let mut rewritten = Vec::new();
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let mut companions = 0usize;
    for policy in ast.as_array().into_iter().flatten() {
        let (Some(file), Some(source), Some(module)) = (
            policy.pointer("/source/file").and_then(Value::as_str),
            policy.pointer("/source/contents").and_then(Value::as_str),
            policy.get("ast"),
        ) else {
            continue;
        };
        let Some(package) = module
            .pointer("/package/refr")
            .and_then(ref_path)
            .map(|p| rego_path("data", &p))
        else {
            continue;
        };
        // Renames as (start, end, new text); appended companion rules.
        let mut renames: Vec<(usize, usize, String)> = Vec::new();
        let mut appended = String::new();
        for rule in module
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(spec) = rule.get("Spec") else {
                continue;
            };
            let Some((kind, head)) = spec
                .get("head")
                .and_then(Value::as_object)
                .and_then(|o| o.iter().next())
            else {
                continue;
            };
            if kind == "Func" {
                continue;
            }
            let Some(refr) = head.get("refr") else {
                continue;
            };
            let Some(prefix) = head_path(refr) else {
                continue;
            };
            let Some(name) = prefix.last() else { continue };
            let skip = name.starts_with(SKIP_PREFIX);
            if !skip && !name.starts_with(TEST_PREFIX) {
                continue;
            }
            let keys = if kind == "Compr" {
                head_keys(refr, prefix.len())
            } else {
                None
            };
            let object = keys.as_ref().is_some_and(|k| !k.is_empty());
            let path = rego_path("", &prefix);
            let key = format!("{package}{path}");
            let count = seen.entry(key).or_insert(0);
            let repeat = *count;
            *count += 1;
            let span = spec.get("span").unwrap_or(head);
            let num = |k: &str| {
                span.get(k)
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(1)
            };
            // The name as OPA reports it: `test_x`, `a.test_b`.
            let mut reported = path.trim_start_matches('.').to_string();
            let mut query = format!("{package}{path}");
            if repeat > 0 {
                // Only a plain head name (`test_x`, `test_x[k]`) is renamed.
                if let Some((start, end)) = head_name_span(refr, source, name) {
                    let renamed = format!("{name}__coresdk_{repeat:02}");
                    reported = format!("{name}#{repeat:02}");
                    query = format!("{package}.{renamed}");
                    renames.push((start, end, renamed));
                }
            }
            let mut cases_query = None;
            if object && !skip {
                if let Some(text) = keys
                    .as_deref()
                    .and_then(|k| companion(spec, k, source, companions, rego_v0))
                {
                    cases_query = Some(format!("{package}.__coresdk_cases_{companions}"));
                    companions += 1;
                    appended.push_str(&text);
                }
            }
            tests.push(TestCase {
                file: file.to_string(),
                row: num("line"),
                col: num("col"),
                package: package.clone(),
                name: reported,
                query,
                skip,
                object,
                cases_query,
            });
        }
        let mut text = source.to_string();
        renames.sort_by_key(|r| std::cmp::Reverse(r.0));
        for (start, end, new) in renames {
            text.replace_range(start..end, &new);
        }
        if !appended.is_empty() {
            text.push('\n');
            text.push_str(&appended);
        }
        rewritten.push((file.to_string(), text));
    }
    // Modules regorus returned nothing for (none expected) stay as given.
    for (name, source) in modules {
        if !rewritten.iter().any(|(n, _)| n == name) {
            rewritten.push((name.clone(), source.clone()));
        }
    }
    rewritten.sort_by(|a, b| a.0.cmp(&b.0));
    tests.sort_by(|a, b| (&a.file, a.row, a.col).cmp(&(&b.file, b.row, b.col)));
    Ok((tests, rewritten))
}

/// A ref in Rego syntax: `.name` for identifiers, `["pr-check"]` for any
/// other segment, after `base`.
pub(super) fn rego_path(base: &str, segments: &[String]) -> String {
    let mut out = base.to_string();
    for s in segments {
        let ident = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ident {
            out.push('.');
            out.push_str(s);
        } else {
            out.push('[');
            out.push_str(&serde_json::Value::String(s.clone()).to_string());
            out.push(']');
        }
    }
    out
}

/// The variable index expressions of a rule head after its constant prefix
/// of `prefix_len` segments (`test_x[tc.note]` -> `[tc.note]`); `None` when
/// the head has some other shape.
fn head_keys(refr: &Value, prefix_len: usize) -> Option<Vec<&Value>> {
    if ref_path(refr).is_some_and(|p| p.len() == prefix_len) {
        return Some(Vec::new());
    }
    let node = refr.get("RefBrack")?;
    let mut keys = head_keys(node.get("refr")?, prefix_len)?;
    keys.push(node.get("index")?);
    Some(keys)
}

/// The byte span of the head's rule name, when the head starts with it.
fn head_name_span(refr: &Value, source: &str, name: &str) -> Option<(usize, usize)> {
    let mut node = refr;
    loop {
        let (kind, inner) = node.as_object()?.iter().next()?;
        match kind.as_str() {
            "Var" => {
                let span = inner.get("span")?;
                let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
                let end = start.checked_add(name.len())?;
                return (source.get(start..end) == Some(name)).then_some((start, end));
            }
            "RefBrack" | "RefDot" => node = inner.get("refr")?,
            _ => return None,
        }
    }
}

/// The companion rule listing the cases a parametrised test enters: the
/// body up to the statement that binds the last variable of the key.
fn companion(
    spec: &Value,
    keys: &[&Value],
    source: &str,
    index: usize,
    rego_v0: bool,
) -> Option<String> {
    let bodies = spec.get("bodies")?.as_array()?;
    let [body] = bodies.as_slice() else {
        return None;
    };
    let stmts = body.pointer("/query/stmts")?.as_array()?;
    let mut key_vars = Vec::new();
    for k in keys {
        vars(k, &mut key_vars);
    }
    key_vars.retain(|v| v != "_");
    if key_vars.is_empty() {
        return None;
    }
    let mut bound = Vec::new();
    let mut upto = None;
    for (i, stmt) in stmts.iter().enumerate() {
        vars(stmt, &mut bound);
        if key_vars.iter().all(|v| bound.contains(v)) {
            upto = Some(i);
            break;
        }
    }
    let upto = upto?;
    let mut lines = Vec::new();
    for stmt in &stmts[..=upto] {
        lines.push(span_text(source, stmt.get("span")?)?);
    }
    let key_text: Vec<&str> = keys
        .iter()
        .map(|k| {
            let (_, node) = k.as_object()?.iter().next()?;
            span_text(source, node.get("span")?)
        })
        .collect::<Option<_>>()?;
    let element = format!("[{}]", key_text.join(", "));
    let body = lines.join("\n\t");
    Some(if rego_v0 {
        format!("__coresdk_cases_{index}[{element}] {{\n\t{body}\n}}\n")
    } else {
        format!("__coresdk_cases_{index} contains {element} if {{\n\t{body}\n}}\n")
    })
}

/// Every variable name under `node`.
fn vars(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(o) => {
            if let Some(name) = o
                .get("Var")
                .and_then(|v| v.get("value"))
                .and_then(Value::as_str)
            {
                out.push(name.to_string());
            }
            for v in o.values() {
                vars(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                vars(v, out);
            }
        }
        _ => {}
    }
}
