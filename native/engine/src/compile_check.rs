//! OPA's compile-time checks that regorus does not make, run on every
//! bundle at load so that a bundle `opa check` refuses is refused here too,
//! with the same kind of message and its `file:line:col`.
//!
//! The checks walk regorus's parsed modules (its AST, as JSON): nothing is
//! parsed twice, and a module regorus cannot parse never gets here.
//!
//! * **A call to a rule that is not a function**: `upper := upper(x)` names
//!   a rule `upper` in the package, which shadows the builtin, so OPA reads
//!   the call as a call of `data.p.upper`, which takes no argument
//!   (`rego_type_error: function data.p.upper has arity 0, got 1
//!   argument`). regorus would call the builtin.
//! * **A call of a function with the wrong number of arguments**: a
//!   function of `n` arguments is called with `n` (its value) or `n + 1`
//!   (the last one bound to its value); any other count is
//!   `rego_type_error`, in OPA at compile time, in regorus only when the call
//!   runs.
//! * **A builtin called with the wrong number of arguments**
//!   (`rego_type_error: count: arity mismatch`), **a function that does not
//!   exist** (`rego_type_error: undefined function nosuchfn`), and, in Rego
//!   v1, **a deprecated builtin** (`any`, `re_match`, `set_diff`...:
//!   `rego_type_error: deprecated built-in function calls in expression:
//!   any`). OPA's builtins and their arities are in `opa_builtins.tsv`,
//!   generated from `opa capabilities`.
//! * **Conflicting rules**: functions of one name with different arities, a
//!   name defined both as a function and as a rule, or as a complete rule
//!   and a partial set or object rule (`rego_type_error: conflicting rules
//!   data.p.f found`); **several default rules** for one name
//!   (`rego_type_error: multiple default rules data.p.x found at ...`).
//! * **A builtin CoreSDK cannot answer as OPA does** (`yaml.marshal`,
//!   `json.match_schema`, `json.verify_schema`):
//!   `coresdk_unsupported_builtin: yaml.marshal is refused: <why>`, so a
//!   policy never silently gets another answer.
//! * **An import shadowing another** (`rego_compile_error: import must not
//!   shadow import data.a`).
//!
//! * **A constant argument of a type the builtin does not take**
//!   (`count(1)`, `concat(",", ["a", 1])`, a variable the rule assigns such
//!   a constant once, a rule defined once with such a constant value:
//!   `rego_type_error: count: invalid argument(s)`),
//!   judged as OPA's type checker judges a constant
//!   ([`crate::builtin_types`]).
//!
//! What regorus accepts, OPA refuses and this module cannot see is listed in
//! docs/conformance.md.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{EngineError, Result, SourceLocation};

/// OPA's builtins: name, number of arguments, flags (`r` has a result,
/// `v` variadic, `d` deprecated).
const OPA_BUILTINS: &str = include_str!("opa_builtins.tsv");

/// What OPA knows of a builtin.
#[derive(Debug, Clone, Copy)]
struct Builtin {
    args: usize,
    result: bool,
    variadic: bool,
    deprecated: bool,
}

fn builtin(name: &str) -> Option<Builtin> {
    // The arithmetic operators as the front end writes them
    // (crate::frontend): OPA's `plus`, `minus`, `mul`, `div`, `rem`.
    if let Some(args) = crate::builtins::internal_arity(name) {
        return Some(Builtin {
            args,
            result: true,
            variadic: false,
            deprecated: false,
        });
    }
    table().get(name).map(|(b, _)| *b)
}

/// Builtin name -> what OPA knows of it and its declared argument types.
type Table = BTreeMap<&'static str, (Builtin, Option<Vec<crate::builtin_types::Ty>>)>;

/// `opa_builtins.tsv`, read once: each builtin's arity and flags, and its
/// declared argument types where they parse.
fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        OPA_BUILTINS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let name = cols.next()?;
                let args = cols.next()?.parse().ok()?;
                let flags = cols.next()?;
                let b = Builtin {
                    args,
                    result: flags.contains('r'),
                    variadic: flags.contains('v'),
                    deprecated: flags.contains('d'),
                };
                let types = cols.next().and_then(crate::builtin_types::parse_args);
                Some((name, (b, types)))
            })
            .collect()
    })
}

/// OPA's declared argument types of builtin `name` (the arithmetic
/// operators as the front end writes them included).
fn arg_types(name: &str) -> Option<&'static [crate::builtin_types::Ty]> {
    let name = match name.strip_prefix(crate::builtins::arith::NAMESPACE) {
        Some(op) => match op.strip_prefix('.')? {
            op @ ("plus" | "minus" | "mul" | "div" | "rem") => op,
            _ => return None,
        },
        None => name,
    };
    table().get(name)?.1.as_deref()
}

/// The kinds of rule that may not share a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RuleKind {
    /// `x := 1`, `default x := 1`.
    Complete,
    /// `x contains 1`.
    Set,
    /// `x[k] := v`.
    Object,
}

/// What a rule path is defined as, across every module of the bundle.
#[derive(Debug, Default)]
struct Definition {
    /// Arities of its function definitions (`f(x) := ...`, `default f(_) := ...`).
    arities: BTreeSet<usize>,
    /// The kinds of its rules that are not functions.
    kinds: BTreeSet<RuleKind>,
    /// Where it is first defined as a rule that is not a function.
    value_rule: Option<Location>,
    /// Where it is first defined as a function.
    function: Option<Location>,
    /// Where its default rules are.
    defaults: Vec<Location>,
    /// How many rules define it.
    rules: usize,
    /// The value of its one definition when that is a complete rule whose
    /// value is a constant expression (`g := {"a": "b"}`) and no `else`.
    constant: Option<Value>,
}

/// A place in a module.
#[derive(Debug, Clone)]
struct Location {
    file: String,
    line: u32,
    column: u32,
}

impl Location {
    fn of(file: &str, node: &Value) -> Location {
        let span = node.get("span").unwrap_or(node);
        let num = |k: &str| {
            span.get(k)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1)
        };
        Location {
            file: file.to_string(),
            line: num("line"),
            column: num("col"),
        }
    }

    fn error(self, message: String) -> EngineError {
        EngineError::PolicyCompile {
            location: Some(SourceLocation {
                file: self.file,
                line: self.line,
                column: self.column,
            }),
            message,
        }
    }
}

/// One parsed module, as the checks need it.
struct Module<'a> {
    file: &'a str,
    package: Vec<String>,
    /// Import alias -> imported path (`data.lib.x` as `x`).
    imports: BTreeMap<String, Vec<String>>,
    ast: &'a Value,
}

/// Runs the checks on regorus's AST of the whole bundle (the output of
/// `regorus::Engine::get_ast_as_json`). The first problem found is the
/// error, `ERR_POLICY_COMPILE` with its location. `rego_v0` allows the
/// builtins Rego v1 deprecates. Returns the paths of the bundle's rules
/// that are not functions, below `data` (`["authz", "allow"]`; for a rule
/// with a variable in its head, the constant part before it).
pub(crate) fn check(ast_json: &str, rego_v0: bool) -> Result<BTreeSet<Vec<String>>> {
    let policies: Value =
        serde_json::from_str(ast_json).map_err(|e| EngineError::PolicyCompile {
            location: None,
            message: format!("cannot read the parsed policies: {e}"),
        })?;
    let Some(policies) = policies.as_array() else {
        return Ok(BTreeSet::new());
    };
    let modules: Vec<Module<'_>> = policies.iter().filter_map(module).collect();
    for p in policies {
        check_imports(p)?;
    }
    let mut defs: BTreeMap<Vec<String>, Definition> = BTreeMap::new();
    for m in &modules {
        collect_definitions(m, &mut defs);
    }
    for (path, d) in &defs {
        if d.defaults.len() > 1 {
            let at: Vec<String> = d
                .defaults
                .iter()
                .map(|l| format!("{}:{}", l.file, l.line))
                .collect();
            return Err(d.defaults[0].clone().error(format!(
                "rego_type_error: multiple default rules {} found at {}",
                path.join("."),
                at.join(", ")
            )));
        }
        if d.arities.len() > 1
            || (!d.arities.is_empty() && d.value_rule.is_some())
            || d.kinds.len() > 1
        {
            let at = d.function.clone().or_else(|| d.value_rule.clone());
            if let Some(at) = at {
                return Err(at.error(format!(
                    "rego_type_error: conflicting rules {} found",
                    path.join(".")
                )));
            }
        }
    }
    for m in &modules {
        for rule in m
            .ast
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (constants, bound) = constant_locals(rule);
            let locals = Locals {
                constants: &constants,
                bound: &bound,
            };
            let mut calls = Vec::new();
            collect_calls(rule, &mut calls);
            // A statement call is also found as a plain one: keep one entry.
            let statements: BTreeSet<*const Value> = calls
                .iter()
                .filter(|(_, s)| *s)
                .map(|(c, _)| *c as *const Value)
                .collect();
            calls.retain(|(c, s)| *s || !statements.contains(&(*c as *const Value)));
            for (call, statement) in calls {
                check_call(m, call, statement, &defs, &locals, rego_v0)?;
            }
        }
    }
    Ok(defs
        .into_iter()
        .filter(|(_, d)| d.value_rule.is_some())
        .map(|(mut path, _)| {
            path.remove(0); // "data"
            path
        })
        .collect())
}

fn module(policy: &Value) -> Option<Module<'_>> {
    let file = policy.get("source")?.get("file")?.as_str()?;
    let source = policy.get("source")?.get("contents")?.as_str()?;
    let ast = policy.get("ast")?;
    let package = ref_path(ast.get("package")?.get("refr")?)?;
    let mut package_path = vec!["data".to_string()];
    package_path.extend(package);
    let mut imports = BTreeMap::new();
    for imp in ast
        .get("imports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(path) = imp.get("refr").and_then(ref_path) else {
            continue;
        };
        let alias = match imp.get("as") {
            Some(span) => span_text(source, span).map(str::to_string),
            None => path.last().cloned(),
        };
        if let Some(alias) = alias {
            imports.insert(alias, path);
        }
    }
    Some(Module {
        file,
        package: package_path,
        imports,
        ast,
    })
}

/// Two imports of one module under one name.
fn check_imports(policy: &Value) -> Result<()> {
    let (Some(file), Some(source), Some(imports)) = (
        policy.pointer("/source/file").and_then(Value::as_str),
        policy.pointer("/source/contents").and_then(Value::as_str),
        policy.pointer("/ast/imports").and_then(Value::as_array),
    ) else {
        return Ok(());
    };
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for imp in imports {
        let Some(path) = imp.get("refr").and_then(ref_path) else {
            continue;
        };
        // `future.keywords.*` and `rego.v1` bring keywords, not names.
        if path.first().is_some_and(|f| f == "future" || f == "rego") {
            continue;
        }
        let alias = match imp.get("as") {
            Some(span) => span_text(source, span).map(str::to_string),
            None => path.last().cloned(),
        };
        let Some(alias) = alias else { continue };
        if let Some(first) = seen.get(&alias) {
            return Err(Location::of(file, imp).error(format!(
                "rego_compile_error: import must not shadow import {}",
                first.join(".")
            )));
        }
        seen.insert(alias, path);
    }
    Ok(())
}

/// The text a span covers.
pub(crate) fn span_text<'s>(source: &'s str, span: &Value) -> Option<&'s str> {
    let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
    let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
    source.get(start..end)
}

/// The segments of a ref made of a variable, `.field`s and `["string"]`
/// indexes; `None` for anything else (a variable index, a call...).
pub(crate) fn ref_path(expr: &Value) -> Option<Vec<String>> {
    let (kind, node) = expr.as_object()?.iter().next()?;
    match kind.as_str() {
        "Var" => Some(vec![node.get("value")?.as_str()?.to_string()]),
        "RefDot" => {
            let mut p = ref_path(node.get("refr")?)?;
            // `field` is `(span, value)`.
            p.push(node.get("field")?.get(1)?.as_str()?.to_string());
            Some(p)
        }
        "RefBrack" => {
            let mut p = ref_path(node.get("refr")?)?;
            let (k, index) = node.get("index")?.as_object()?.iter().next()?;
            if k != "String" && k != "RawString" {
                return None;
            }
            p.push(index.get("value")?.as_str()?.to_string());
            Some(p)
        }
        _ => None,
    }
}

/// The node where a ref's text starts: its variable (regorus's span of
/// `time.date` starts at `date`).
fn ref_start(expr: &Value) -> &Value {
    let Some((kind, node)) = expr.as_object().and_then(|o| o.iter().next()) else {
        return expr;
    };
    match kind.as_str() {
        "RefDot" | "RefBrack" => node.get("refr").map_or(node, ref_start),
        _ => node,
    }
}

/// The longest constant prefix of a rule head's ref (`p[x].q` -> `p`).
pub(crate) fn head_path(expr: &Value) -> Option<Vec<String>> {
    if let Some(p) = ref_path(expr) {
        return Some(p);
    }
    let (kind, node) = expr.as_object()?.iter().next()?;
    match kind.as_str() {
        "RefDot" | "RefBrack" => head_path(node.get("refr")?),
        _ => None,
    }
}

fn collect_definitions(m: &Module<'_>, defs: &mut BTreeMap<Vec<String>, Definition>) {
    for rule in m
        .ast
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some((kind, node)) = rule.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let (refr, arity, rule_kind, is_default) = match kind.as_str() {
            "Spec" => {
                let Some((hk, head)) = node
                    .get("head")
                    .and_then(Value::as_object)
                    .and_then(|o| o.iter().next())
                else {
                    continue;
                };
                let arity = (hk == "Func").then(|| {
                    head.get("args")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)
                });
                let constant = head.get("refr").and_then(ref_path).is_some();
                let rule_kind = match hk.as_str() {
                    "Set" if head.get("key").is_some_and(|k| !k.is_null()) => RuleKind::Set,
                    _ if constant => RuleKind::Complete,
                    _ => RuleKind::Object,
                };
                (head.get("refr"), arity, rule_kind, false)
            }
            "Default" => {
                let args = node
                    .get("args")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                (
                    node.get("refr"),
                    (args > 0).then_some(args),
                    RuleKind::Complete,
                    true,
                )
            }
            _ => continue,
        };
        let Some(rel) = refr.and_then(head_path) else {
            continue;
        };
        let mut path = m.package.clone();
        path.extend(rel);
        let d = defs.entry(path).or_default();
        d.rules += 1;
        if kind == "Spec" {
            d.constant = rule_constant(node);
        }
        let at = Location::of(m.file, node);
        if is_default {
            d.defaults.push(at.clone());
        }
        match arity {
            Some(n) => {
                d.arities.insert(n);
                d.function.get_or_insert(at);
            }
            None => {
                d.kinds.insert(rule_kind);
                d.value_rule.get_or_insert(at);
            }
        }
    }
}

/// The value expression of a complete rule without `else` whose value is
/// a constant (`g := {"a": "b"}`, `h = [1] if input.x`): OPA types the rule
/// by it.
fn rule_constant(spec: &Value) -> Option<Value> {
    let head = spec.pointer("/head/Compr")?;
    head.get("refr").and_then(ref_path)?;
    let value = head.pointer("/assign/value")?;
    let plain = spec
        .get("bodies")
        .and_then(Value::as_array)
        .is_some_and(|b| {
            b.iter()
                .all(|body| body.get("assign").is_none_or(Value::is_null))
        });
    (plain && crate::builtin_types::is_constant(value)).then(|| value.clone())
}

/// The variables of a rule assigned a constant (`x := [0, "UTC"]`), as
/// OPA's type checker types them: a name assigned once with `:=` in the
/// whole rule and bound nowhere else (not a function parameter, in a
/// `some`, an `every`), with the constant's expression; and every name the rule
/// binds or assigns (which no rule's name then means in it).
fn constant_locals(rule: &Value) -> (BTreeMap<String, &Value>, BTreeSet<String>) {
    fn walk<'a>(
        node: &'a Value,
        assigned: &mut BTreeMap<String, Vec<&'a Value>>,
        bound: &mut BTreeSet<String>,
        binding: bool,
    ) {
        match node {
            Value::Object(o) => {
                if let Some(a) = o.get("AssignExpr") {
                    if let (Some("ColEq"), Some(name)) = (
                        a.get("op").and_then(Value::as_str),
                        a.pointer("/lhs/Var/value").and_then(Value::as_str),
                    ) {
                        if let Some(rhs) = a.get("rhs") {
                            assigned.entry(name.to_string()).or_default().push(rhs);
                        }
                    }
                }
                if binding {
                    if let Some(name) = o
                        .get("Var")
                        .and_then(|v| v.get("value"))
                        .and_then(Value::as_str)
                    {
                        bound.insert(name.to_string());
                    }
                }
                for (k, v) in o {
                    // Names a function's parameters, `some` or `every` bind
                    // (a `some .. in` or `every` node wholly: its domain's
                    // names are then left alone too).
                    let binds =
                        binding || matches!(k.as_str(), "SomeVars" | "SomeIn" | "Every" | "args");
                    walk(v, assigned, bound, binds);
                }
            }
            Value::Array(a) => {
                for v in a {
                    walk(v, assigned, bound, binding);
                }
            }
            _ => {}
        }
    }
    let (mut assigned, mut bound) = (BTreeMap::new(), BTreeSet::new());
    walk(rule, &mut assigned, &mut bound, false);
    let mut locals = BTreeSet::new();
    let constants = assigned
        .into_iter()
        .filter_map(|(name, rhs)| {
            locals.insert(name.clone());
            (rhs.len() == 1 && !bound.contains(&name)).then(|| (name, rhs[0]))
        })
        .collect();
    locals.extend(bound);
    (constants, locals)
}

/// A rule's variables as the type check reads them.
struct Locals<'r, 'v> {
    /// Variables assigned a constant once.
    constants: &'r BTreeMap<String, &'v Value>,
    /// Every name the rule binds or assigns.
    bound: &'r BTreeSet<String>,
}

/// The constant a call argument stands for: a variable the rule assigns a
/// constant once, or a reference to a rule (by its name in the package, an
/// import or `data.`) defined once with a constant value.
fn constant_term<'a>(
    m: &Module<'_>,
    p: &'a Value,
    defs: &'a BTreeMap<Vec<String>, Definition>,
    locals: &Locals<'_, 'a>,
) -> Option<&'a Value> {
    let name = ref_path(p)?;
    if name.len() == 1 {
        if let Some(c) = locals.constants.get(&name[0]) {
            return Some(c);
        }
    }
    if locals.bound.contains(&name[0]) {
        return None;
    }
    let d = defs.get(&resolve(m, &name)?)?;
    if d.rules != 1 || !d.defaults.is_empty() {
        return None;
    }
    d.constant.as_ref()
}

/// Every `Call` node under `node`, and whether it is a statement of its
/// own (`f(1, x)`, where a last extra argument receives the value) rather
/// than a value inside an expression (`y := f(1)`).
fn collect_calls<'a>(node: &'a Value, out: &mut Vec<(&'a Value, bool)>) {
    match node {
        Value::Object(o) => {
            if let Some(call) = o.get("Call") {
                out.push((call, false));
            }
            // A literal statement (`Expr`, `NotExpr`) whose expression is a call.
            for lit in ["Expr", "NotExpr"] {
                if let Some(call) = o
                    .get(lit)
                    .and_then(|l| l.get("expr"))
                    .and_then(|e| e.get("Call"))
                {
                    out.push((call, true));
                }
            }
            for v in o.values() {
                collect_calls(v, out);
            }
        }
        Value::Array(a) => {
            for v in a {
                collect_calls(v, out);
            }
        }
        _ => {}
    }
}

/// The rule path a call names, as OPA resolves it: `data.` paths as they
/// are, an import alias through its import, anything else in the
/// module's own package.
fn resolve(m: &Module<'_>, name: &[String]) -> Option<Vec<String>> {
    let first = name.first()?;
    if first == "data" {
        return Some(name.to_vec());
    }
    if first == "input" {
        return None;
    }
    if let Some(target) = m.imports.get(first) {
        if target.first().is_some_and(|t| t == "data") {
            let mut p = target.clone();
            p.extend(name[1..].iter().cloned());
            return Some(p);
        }
        return None;
    }
    let mut p = m.package.clone();
    p.extend(name.iter().cloned());
    Some(p)
}

fn check_call(
    m: &Module<'_>,
    call: &Value,
    statement: bool,
    defs: &BTreeMap<Vec<String>, Definition>,
    locals: &Locals<'_, '_>,
    rego_v0: bool,
) -> Result<()> {
    let Some(name) = call.get("fcn").and_then(ref_path) else {
        return Ok(());
    };
    let params: &[Value] = call
        .get("params")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let args = params.len();
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    // At the function's name, as OPA reports it.
    let at = call
        .get("fcn")
        .map(ref_start)
        .map_or_else(|| Location::of(m.file, call), |f| Location::of(m.file, f));
    let resolved = resolve(m, &name);
    let Some(def) = resolved.as_ref().and_then(|p| defs.get(p)) else {
        let via_import = m.imports.contains_key(&name[0]);
        // A variable assigned a constant, or a rule whose one definition
        // is a constant, stands for it, as OPA types it.
        let params: Vec<&Value> = params
            .iter()
            .map(|p| constant_term(m, p, defs, locals).unwrap_or(p))
            .collect();
        return check_builtin_call(
            &name,
            resolved.as_deref(),
            via_import,
            &params,
            statement,
            at,
            rego_v0,
        );
    };
    let path = resolved.unwrap_or_default().join(".");
    if def.arities.is_empty() {
        // A rule, not a function, shadowing whatever builtin has its name.
        return Err(at.error(format!(
            "rego_type_error: function {path} has arity 0, got {args} {}",
            plural(args)
        )));
    }
    if let Some(&n) = def.arities.iter().next() {
        let fits = args == n || (statement && args == n + 1);
        if def.arities.len() == 1 && !fits {
            return Err(at.error(format!(
                "rego_type_error: function {path} has arity {n}, got {args} {}",
                plural(args)
            )));
        }
    }
    Ok(())
}

/// A call that names no rule of the bundle: a builtin, called with its
/// number of arguments, or nothing at all.
fn check_builtin_call(
    name: &[String],
    resolved: Option<&[String]>,
    via_import: bool,
    params: &[&Value],
    statement: bool,
    at: Location,
    rego_v0: bool,
) -> Result<()> {
    let args = params.len();
    let joined = name.join(".");
    let local = name.first().is_some_and(|f| f != "data");
    let Some(b) = (local && !via_import).then(|| builtin(&joined)).flatten() else {
        // Not a builtin either: OPA refuses the call. Paths through an
        // import of `input` (never a function) or of anything else are left
        // alone.
        if let Some(path) = resolved {
            // OPA names a local call as written, any other by its path.
            let shown = if local && !via_import {
                joined.clone()
            } else {
                path.join(".")
            };
            if !regorus_only(&joined) {
                return Err(at.error(format!("rego_type_error: undefined function {shown}")));
            }
        }
        return Ok(());
    };
    if b.deprecated && !rego_v0 {
        return Err(at.error(format!(
            "rego_type_error: deprecated built-in function calls in expression: {joined}"
        )));
    }
    if let Some(why) = refused_builtin(&joined) {
        return Err(at.error(format!(
            "coresdk_unsupported_builtin: {joined} is refused: {why}"
        )));
    }
    let fits = b.variadic || args == b.args || (statement && b.result && args == b.args + 1);
    if !fits {
        return Err(at.error(format!(
            "rego_type_error: {joined}: arity mismatch: have {args} {}, want {}",
            if args == 1 { "argument" } else { "arguments" },
            b.args
        )));
    }
    if let Some(types) = arg_types(&joined) {
        if let Some((_, have, want)) = crate::builtin_types::refused_argument(params, types) {
            let shown = joined
                .strip_prefix(crate::builtins::arith::NAMESPACE)
                .and_then(|op| op.strip_prefix('.'))
                .unwrap_or(&joined);
            return Err(at.error(format!(
                "rego_type_error: {shown}: invalid argument(s): have ({have}), want ({want})"
            )));
        }
    }
    Ok(())
}

/// OPA builtins CoreSDK refuses at load because it cannot answer as OPA
/// does, with the reason.
fn refused_builtin(name: &str) -> Option<&'static str> {
    const SCHEMA: &str = "OPA validates with gojsonschema, parses a string argument as JSON and reports errors as objects (desc, error, field, type), which CoreSDK does not reproduce, so a policy reading them would answer differently";
    match name {
        "yaml.marshal" => Some("OPA writes YAML with go-yaml's layout (indentation, quoting), which CoreSDK does not reproduce"),
        "json.match_schema" | "json.verify_schema" => Some(SCHEMA),
        _ => None,
    }
}

/// Builtins regorus defines beyond OPA's (its set helpers), which its own
/// rewriting of policies may call.
fn regorus_only(name: &str) -> bool {
    name.starts_with("__builtin_")
}
