//! The static pass that decides whether the register VM may answer a query.
//!
//! regorus's VM treats an error inside a rule body as the body failing, so an
//! error in a `deny` rule, under `not`, or in a set counted by
//! `count(...) == 0` would turn into an allow. The interpreter (with strict
//! builtin errors) raises it, and the engine denies. The VM may therefore
//! answer only where **no evaluation error is possible at all**: then both
//! evaluators compute the same value and neither errors.
//!
//! This pass walks every rule, function and expression reachable from the
//! entrypoint and proves that none can raise. It knows, per expression, the
//! possible kinds of its value ([`Abs`]): literals and the bundle's data are
//! known exactly; a value read from `input` is unknown, but an operation that
//! needs a kind of it (a comparison, a string builtin) adds a [`Guard`] on
//! that input path, checked on every call before the VM runs. An input that
//! fails a guard goes to the interpreter. Anything the pass does not
//! understand makes the query ineligible, with the reason: the interpreter
//! then answers every call, exactly as before.
//!
//! What can raise, and how each is handled:
//! - builtins: only those in [`builtin`], with argument kinds required (and
//!   constant patterns validated); any other builtin is ineligible;
//! - ordering comparisons (`<`, `>=`...) kept as written (a scalar literal on
//!   one side; the front end writes any other as `__coresdk.order(a, b) < 0`,
//!   which never raises): the VM's strict mode refused mixed
//!   kinds, the interpreter orders them, so both sides must be of one kind;
//! - arithmetic: numbers only; `/` and `%` are ineligible;
//! - conflicting values of complete rules and functions: several
//!   definitions, or a body that iterates, must all produce one constant;
//! - partial objects, object comprehensions and object literals with
//!   computed keys (key conflicts), `with`, and rules defined in a module
//!   with imports other than `rego.v1`/`future.keywords`: ineligible.

use std::collections::{HashMap, HashSet};

use regorus::unstable::{
    ArithOp, AssignOp, BoolOp, Expr, Literal, LiteralStmt, Module, Query, Ref, Rule, RuleHead,
};
use regorus::Value;

use super::abs::{Abs, Guard, Ty};
use super::names::{head_rule, resolve, Resolved};
use crate::frontend::ref_path;

/// Why a query cannot use the VM.
pub(crate) type Ineligible = String;

type R<T> = std::result::Result<T, Ineligible>;

/// The outcome of the static pass for one entrypoint.
#[derive(Debug, Clone)]
pub(crate) struct Proof {
    /// Input requirements checked on every call.
    pub(crate) guards: Vec<Guard>,
}

#[derive(Clone)]
struct RuleDef {
    rule: Ref<Rule>,
    package: String,
}

#[derive(Default)]
struct RuleSet {
    specs: Vec<RuleDef>,
    defaults: Vec<RuleDef>,
    /// Why the rule is ineligible whatever its bodies: a definition sits in
    /// a module with an import the pass does not resolve. Imports are local
    /// to their module, so only rules the query reaches are refused for it
    /// (a test module's `import data.authz` does not refuse `data.authz.allow`).
    refused: Option<String>,
}

enum Memo {
    InProgress,
    Done(Abs),
}

struct Pass<'a> {
    rules: HashMap<(String, String), RuleSet>,
    packages: HashSet<String>,
    data: &'a Value,
    memo: HashMap<(String, String), Memo>,
    calls: Vec<(String, String)>,
    guards: Vec<Guard>,
    validator: PatternValidator,
    /// The document paths reference heads define (`data.p.grants` for
    /// `grants[x] if ...` in package `p`), with why they are not planned.
    ref_heads: Vec<(Vec<String>, String)>,
}

#[derive(Clone, Default)]
struct Env {
    package: String,
    vars: HashMap<String, Abs>,
    declared: HashSet<String>,
    /// The body can produce more than one solution.
    multi: bool,
    /// Inside a `not`.
    negated: bool,
}

/// Runs the pass for `entrypoint` (a rule path such as `data.authz.allow`).
pub(crate) fn prove(modules: &[Ref<Module>], data: &Value, entrypoint: &str) -> R<Proof> {
    let mut pass = Pass {
        rules: HashMap::new(),
        packages: HashSet::new(),
        data,
        memo: HashMap::new(),
        calls: Vec::new(),
        guards: Vec::new(),
        validator: PatternValidator::default(),
        ref_heads: Vec::new(),
    };
    for module in modules {
        pass.add_module(module)?;
    }
    let (package, name) = pass.split_rule_path(entrypoint).ok_or_else(|| {
        // A path inside a document a reference head defines
        // (`p["a-b"] := 1`) is a rule of OPA's, not one the pass plans.
        pass.ref_heads
            .iter()
            .find(|(path, _)| {
                let root = path.join(".");
                entrypoint
                    .strip_prefix(root.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .map(|(_, why)| why.clone())
            .unwrap_or_else(|| format!("{entrypoint} is not a rule"))
    })?;
    pass.rule_value(&package, &name)?;
    let mut guards = pass.guards;
    guards.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    guards.dedup();
    Ok(Proof { guards })
}

impl Pass<'_> {
    fn add_module(&mut self, module: &Ref<Module>) -> R<()> {
        let mut package = ref_path(&module.package.refr)
            .ok_or_else(|| "package path is not plain".to_string())?;
        if package.first().map(String::as_str) != Some("data") {
            package.insert(0, "data".into());
        }
        let package = package.join(".");
        let refused = module.imports.iter().find_map(|import| {
            let path = ref_path(&import.refr).unwrap_or_default();
            let ok = matches!(path.first().map(String::as_str), Some("future" | "rego"))
                && import.r#as.is_none();
            (!ok).then(|| format!("import `{}`", import.span.text()))
        });
        self.packages.insert(package.clone());
        for rule in &module.policy {
            let (refr, is_default) = match rule.as_ref() {
                Rule::Spec { head, .. } => match head {
                    RuleHead::Compr { refr, .. }
                    | RuleHead::Set { refr, .. }
                    | RuleHead::Func { refr, .. } => (refr, false),
                },
                Rule::Default { refr, .. } => (refr, true),
            };
            let span = rule.span();
            let not_plain = || {
                format!(
                    "rule head `{}` at {}:{}:{} is not a plain name",
                    refr.span().text(),
                    span.source.get_path(),
                    span.line,
                    span.col
                )
            };
            let (name, head_refused) = match head_rule(refr).ok_or_else(not_plain)? {
                Ok(name) => (name, None),
                Err(root) => {
                    // A reference head defines a document under `root` that
                    // neither pass plans: any rule whose path overlaps it
                    // goes to the interpreter.
                    let why = format!(
                        "a reference head defines {package}.{root} ({}:{}:{})",
                        span.source.get_path(),
                        span.line,
                        span.col
                    );
                    let mut path: Vec<String> = package.split('.').map(String::from).collect();
                    path.push(root.clone());
                    self.ref_heads.push((path, why.clone()));
                    (root, Some(why))
                }
            };
            let set = self.rules.entry((package.clone(), name)).or_default();
            if set.refused.is_none() {
                set.refused = head_refused.or_else(|| refused.clone());
            }
            let def = RuleDef {
                rule: rule.clone(),
                package: package.clone(),
            };
            if is_default {
                set.defaults.push(def);
            } else {
                set.specs.push(def);
            }
        }
        Ok(())
    }

    /// Refuses rule `package.name` when a definition is in a module with an
    /// unresolved import, the base data document holds its path (or a
    /// scalar above it), or a reference head defines a document that
    /// overlaps its path (one is a prefix of the other).
    fn eligible(&self, package: &str, name: &str, set: &RuleSet) -> R<()> {
        if let Some(why) = &set.refused {
            return Err(why.clone());
        }
        let path: Vec<&str> = package.split('.').chain([name]).collect();
        // A rule whose path the base data document also holds: OPA and the
        // interpreter answer the base document there; the pass does not
        // model the merge.
        let mut node = self.data;
        for key in path.iter().skip(1) {
            match node {
                Value::Object(_) => {
                    node = &node[&Value::from(*key)];
                    if *node == Value::Undefined {
                        break;
                    }
                }
                _ => return Err(format!("{package}.{name} overlaps the base data document")),
            }
        }
        if *node != Value::Undefined {
            return Err(format!(
                "{package}.{name} is also in the base data document"
            ));
        }
        for (head, why) in &self.ref_heads {
            let n = head.len().min(path.len());
            if head[..n].iter().zip(&path[..n]).all(|(a, b)| a == b) {
                return Err(why.clone());
            }
        }
        Ok(())
    }

    /// `data.a.b.rule` → (`data.a.b`, `rule`) when that rule exists.
    fn split_rule_path(&self, path: &str) -> Option<(String, String)> {
        let (package, name) = path.rsplit_once('.')?;
        self.rules
            .contains_key(&(package.to_string(), name.to_string()))
            .then(|| (package.to_string(), name.to_string()))
    }

    fn rule_value(&mut self, package: &str, name: &str) -> R<Abs> {
        let key = (package.to_string(), name.to_string());
        match self.memo.get(&key) {
            Some(Memo::Done(a)) => return Ok(a.clone()),
            Some(Memo::InProgress) => return Err(format!("recursive rule {package}.{name}")),
            None => {}
        }
        self.memo.insert(key.clone(), Memo::InProgress);
        let value = self.compute_rule(package, name)?;
        self.memo.insert(key, Memo::Done(value.clone()));
        Ok(value)
    }

    fn compute_rule(&mut self, package: &str, name: &str) -> R<Abs> {
        let set = self
            .rules
            .get(&(package.to_string(), name.to_string()))
            .ok_or_else(|| format!("no rule {package}.{name}"))?;
        self.eligible(package, name, set)?;
        let specs = set.specs.clone();
        let defaults = set.defaults.clone();
        let mut values: Vec<(Abs, bool)> = Vec::new();
        let mut signatures: Vec<Vec<Test>> = Vec::new();
        let mut chains = 0usize;
        let mut kind: Option<&'static str> = None;
        for def in &specs {
            let Rule::Spec { head, bodies, .. } = def.rule.as_ref() else {
                continue;
            };
            let this_kind = match head {
                RuleHead::Compr { .. } => "complete",
                RuleHead::Set { .. } => "set",
                RuleHead::Func { .. } => return Err(format!("{name} is a function")),
            };
            if kind.is_some_and(|k| k != this_kind) {
                return Err(format!("{name} mixes rule kinds"));
            }
            kind = Some(this_kind);
            match head {
                RuleHead::Set { key, .. } => {
                    let key = key
                        .as_ref()
                        .ok_or_else(|| format!("{name}: set head without key"))?;
                    if bodies.is_empty() {
                        let mut env = Env {
                            package: def.package.clone(),
                            ..Env::default()
                        };
                        self.expr(key, &mut env)?;
                    }
                    for body in bodies {
                        if body.assign.is_some() {
                            return Err(format!("{name}: set rule with a value"));
                        }
                        let mut env = Env {
                            package: def.package.clone(),
                            ..Env::default()
                        };
                        self.query(&body.query, &mut env)?;
                        self.expr(key, &mut env)?;
                    }
                }
                RuleHead::Compr { assign, .. } => {
                    if bodies.is_empty() {
                        // `name := value` with no body.
                        chains += 1;
                        let mut env = Env {
                            package: def.package.clone(),
                            ..Env::default()
                        };
                        let v = match assign {
                            Some(a) => self.expr(&a.value, &mut env)?,
                            None => Abs::Values(vec![Value::Bool(true)]),
                        };
                        values.push((v, env.multi));
                        signatures.push(Vec::new());
                    }
                    for (i, body) in bodies.iter().enumerate() {
                        if i == 0 || !body.is_else {
                            chains += 1;
                        }
                        let mut env = Env {
                            package: def.package.clone(),
                            ..Env::default()
                        };
                        self.query(&body.query, &mut env)?;
                        // A body after the first takes its own assignment,
                        // else `true` (regorus, as OPA).
                        let value_expr = if i == 0 {
                            body.assign.as_ref().or(assign.as_ref())
                        } else {
                            body.assign.as_ref()
                        };
                        let v = match value_expr {
                            Some(a) => {
                                if a.op != AssignOp::ColEq && a.op != AssignOp::Eq {
                                    return Err(format!("{name}: assignment"));
                                }
                                self.expr(&a.value, &mut env)?
                            }
                            None => Abs::Values(vec![Value::Bool(true)]),
                        };
                        values.push((v, env.multi));
                        signatures.push(if body.is_else {
                            Vec::new()
                        } else {
                            tests_of(&body.query)
                        });
                    }
                }
                RuleHead::Func { .. } => unreachable!("handled above"),
            }
        }
        // Definitions that test one input path in opposite ways
        // (`x if input.claims` / `y if not input.claims`) never both hold.
        let exclusive = chains == signatures.len()
            && (0..signatures.len())
                .all(|i| (0..i).all(|j| excludes(&signatures[i], &signatures[j])));
        let mut out = if kind == Some("set") {
            Abs::Kinds(Ty::SET)
        } else {
            conflict_free(name, &values, if exclusive { 1 } else { chains })?
        };
        for def in &defaults {
            let Rule::Default { args, value, .. } = def.rule.as_ref() else {
                continue;
            };
            if !args.is_empty() {
                return Err(format!("{name}: default function"));
            }
            let mut env = Env {
                package: def.package.clone(),
                ..Env::default()
            };
            let v = self.expr(value, &mut env)?;
            if v.constant().is_none() {
                return Err(format!("{name}: default value is not a constant"));
            }
            out = if specs.is_empty() { v } else { out.join(v) };
        }
        if specs.is_empty() && defaults.is_empty() {
            return Err(format!("no rule {name}"));
        }
        Ok(out)
    }

    fn call_function(&mut self, package: &str, name: &str, args: Vec<Abs>) -> R<Abs> {
        let key = (package.to_string(), name.to_string());
        if self.calls.contains(&key) {
            return Err(format!("recursive function {name}"));
        }
        let set = self
            .rules
            .get(&key)
            .ok_or_else(|| format!("no function {name}"))?;
        self.eligible(package, name, set)?;
        if !set.defaults.is_empty() {
            return Err(format!("{name}: default function"));
        }
        let specs = set.specs.clone();
        self.calls.push(key);
        let mut values = Vec::new();
        let mut chains = 0usize;
        for def in &specs {
            let Rule::Spec { head, bodies, .. } = def.rule.as_ref() else {
                continue;
            };
            let RuleHead::Func {
                args: params,
                assign,
                ..
            } = head
            else {
                return Err(format!("{name} is not a function"));
            };
            if params.len() != args.len() {
                return Err(format!("{name}: arity"));
            }
            // A function without a body (`f(x) := x + 1`) is one empty body.
            let bodies: Vec<Option<&regorus::unstable::RuleBody>> = if bodies.is_empty() {
                vec![None]
            } else {
                bodies.iter().map(Some).collect()
            };
            for (i, body) in bodies.iter().enumerate() {
                if i == 0 || !body.is_some_and(|b| b.is_else) {
                    chains += 1;
                }
                let mut env = Env {
                    package: def.package.clone(),
                    ..Env::default()
                };
                for (p, a) in params.iter().zip(&args) {
                    match p.as_ref() {
                        Expr::Var { span, .. } if span.text() == "_" => {}
                        Expr::Var { span, .. } => {
                            if env.vars.contains_key(span.text()) {
                                // `f(x, x)` unifies its arguments.
                                return Err(format!("{name}: a parameter is repeated"));
                            }
                            bind_name(span.text(), a.clone(), &mut env);
                        }
                        _ => return Err(format!("{name}: a parameter is a pattern")),
                    }
                }
                if let Some(body) = body {
                    self.query(&body.query, &mut env)?;
                }
                let own = body.and_then(|b| b.assign.as_ref());
                let v = match if i == 0 { own.or(assign.as_ref()) } else { own } {
                    Some(a) => self.expr(&a.value, &mut env)?,
                    None => Abs::Values(vec![Value::Bool(true)]),
                };
                values.push((v, env.multi));
            }
        }
        self.calls.pop();
        conflict_free(name, &values, chains)
    }

    fn query(&mut self, q: &Query, env: &mut Env) -> R<()> {
        for stmt in super::names::schedule(&q.stmts) {
            self.stmt(stmt, env)?;
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &LiteralStmt, env: &mut Env) -> R<()> {
        if !stmt.with_mods.is_empty() {
            return Err("`with`".into());
        }
        match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                // `some x` declares a fresh local: it shadows an outer
                // local and a rule of the same name.
                for v in vars {
                    env.vars.remove(v.text());
                    env.declared.insert(v.text().to_string());
                }
                Ok(())
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                let coll = self.expr(collection, env)?;
                // The interpreter refuses to iterate a scalar (an error,
                // where the VM finds no element).
                self.need(&coll, Ty::COLLECTION)?;
                env.multi = true;
                if let Some(k) = key {
                    bind_pattern(k, coll.keys(), env)?;
                }
                bind_pattern(value, coll.index(None), env)
            }
            Literal::Expr { expr, .. } => self.statement_expr(expr, env),
            Literal::NotExpr { expr, .. } => {
                let mut inner = env.clone();
                inner.negated = true;
                self.statement_expr(expr, &mut inner)
            }
            Literal::Every {
                key,
                value,
                domain,
                query,
                ..
            } => {
                let dom = self.expr(domain, env)?;
                self.need(&dom, Ty::COLLECTION)?;
                let mut inner = env.clone();
                if let Some(k) = key {
                    bind_name(k.text(), dom.keys(), &mut inner);
                }
                bind_name(value.text(), dom.index(None), &mut inner);
                self.query(query, &mut inner)
            }
        }
    }

    fn statement_expr(&mut self, e: &Expr, env: &mut Env) -> R<()> {
        if let Expr::AssignExpr { op, lhs, rhs, .. } = e {
            // `x := e` always declares `x`; `=` binds only an unbound name.
            let lhs_free = (*op == AssignOp::ColEq && matches!(lhs.as_ref(), Expr::Var { .. }))
                || self.is_free_var(lhs, env);
            let rhs_free = self.is_free_var(rhs, env);
            return match (op, lhs_free, rhs_free) {
                (AssignOp::ColEq, true, false) | (AssignOp::Eq, true, false) => {
                    let v = self.expr(rhs, env)?;
                    bind_pattern(lhs, v, env)
                }
                (AssignOp::Eq, false, true) => {
                    let v = self.expr(lhs, env)?;
                    bind_pattern(rhs, v, env)
                }
                (AssignOp::Eq, false, false) => {
                    self.expr(lhs, env)?;
                    self.expr(rhs, env)?;
                    Ok(())
                }
                _ => Err(format!("assignment `{}`", e.span().text())),
            };
        }
        self.expr(e, env).map(|_| ())
    }

    fn expr(&mut self, e: &Expr, env: &mut Env) -> R<Abs> {
        match e {
            Expr::String { value, .. }
            | Expr::RawString { value, .. }
            | Expr::Number { value, .. }
            | Expr::Bool { value, .. }
            | Expr::Null { value, .. } => Ok(Abs::Values(vec![value.clone()])),
            Expr::Var { span, .. } => self.var(span.text(), env),
            Expr::RefDot { .. } | Expr::RefBrack { .. } => self.reference(e, env),
            Expr::Array { items, .. } => {
                let mut consts = Vec::new();
                for item in items {
                    let a = self.expr(item, env)?;
                    consts.push(a.constant().cloned());
                }
                Ok(match consts.into_iter().collect::<Option<Vec<_>>>() {
                    Some(vs) => Abs::Values(vec![Value::from(vs)]),
                    None => Abs::Kinds(Ty::ARRAY),
                })
            }
            Expr::Set { items, .. } => {
                for item in items {
                    self.expr(item, env)?;
                }
                Ok(Abs::Kinds(Ty::SET))
            }
            Expr::Object { fields, .. } => {
                let mut record: Vec<(Value, Abs)> = Vec::new();
                for (_, k, v) in fields {
                    let key = self.expr(k, env)?;
                    let key = key
                        .constant()
                        .cloned()
                        .ok_or_else(|| "object literal with a computed key".to_string())?;
                    if record.iter().any(|(k, _)| *k == key) {
                        return Err("object literal with a repeated key".into());
                    }
                    let value = self.expr(v, env)?;
                    record.push((key, value));
                }
                Ok(Abs::Record(record))
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                let mut inner = env.clone();
                self.query(query, &mut inner)?;
                self.expr(term, &mut inner)?;
                Ok(Abs::Kinds(if matches!(e, Expr::ArrayCompr { .. }) {
                    Ty::ARRAY
                } else {
                    Ty::SET
                }))
            }
            Expr::ObjectCompr { .. } => Err("object comprehension".into()),
            Expr::Call { fcn, params, .. } => self.call(fcn, params, env),
            Expr::UnaryExpr { expr, .. } => {
                let a = self.expr(expr, env)?;
                self.need(&a, Ty::NUMBER)?;
                Ok(Abs::Kinds(Ty::NUMBER))
            }
            Expr::BinExpr { lhs, rhs, .. } => {
                let a = self.expr(lhs, env)?;
                let b = self.expr(rhs, env)?;
                self.need(&a, Ty::SET)?;
                self.need(&b, Ty::SET)?;
                Ok(Abs::Kinds(Ty::SET))
            }
            Expr::BoolExpr { op, lhs, rhs, .. } => {
                let a = self.expr(lhs, env)?;
                let b = self.expr(rhs, env)?;
                if !matches!(op, BoolOp::Eq | BoolOp::Ne) {
                    self.same_kind(&a, &b, e)?;
                }
                Ok(Abs::Kinds(Ty::BOOL))
            }
            Expr::ArithExpr { op, lhs, rhs, .. } => {
                if matches!(op, ArithOp::Div | ArithOp::Mod) {
                    return Err(format!("`{}`: division", e.span().text()));
                }
                let a = self.expr(lhs, env)?;
                let b = self.expr(rhs, env)?;
                self.need(&a, Ty::NUMBER)?;
                self.need(&b, Ty::NUMBER)?;
                Ok(Abs::Kinds(Ty::NUMBER))
            }
            Expr::AssignExpr { .. } => Err("assignment inside an expression".into()),
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if key.is_some() {
                    // `k, v in set` answers differently on the VM.
                    return Err("key-value membership".into());
                }
                self.expr(value, env)?;
                self.expr(collection, env)?;
                Ok(Abs::Kinds(Ty::BOOL))
            }
            #[allow(unreachable_patterns)]
            _ => Err(format!("expression `{}`", e.span().text())),
        }
    }

    /// What `name` denotes here ([`resolve`]).
    fn resolve(&self, name: &str, env: &Env) -> Resolved {
        resolve(
            name,
            |n| env.vars.contains_key(n),
            |n| env.declared.contains(n),
            |n| {
                self.rules
                    .contains_key(&(env.package.clone(), n.to_string()))
            },
        )
    }

    /// Whether `e` is a name a statement would bind here.
    fn is_free_var(&self, e: &Expr, env: &Env) -> bool {
        match e {
            Expr::Var { span, .. } => self.resolve(span.text(), env).is_unbound(),
            _ => false,
        }
    }

    fn var(&mut self, name: &str, env: &mut Env) -> R<Abs> {
        match self.resolve(name, env) {
            Resolved::Local => Ok(env.vars.get(name).cloned().unwrap_or(Abs::Kinds(Ty::NONE))),
            Resolved::Input => Ok(Abs::Input(Vec::new())),
            Resolved::Rule => {
                let package = env.package.clone();
                self.rule_value(&package, name)
            }
            Resolved::Data => Err("the whole `data` document read as a value".into()),
            Resolved::Wildcard | Resolved::Fresh => Err(format!(
                "variable `{name}` read before it is bound (a pattern, or an output argument)"
            )),
        }
    }

    fn reference(&mut self, e: &Expr, env: &mut Env) -> R<Abs> {
        // Flatten `root.a[b].c` into the root and its steps.
        let mut steps: Vec<&Expr> = Vec::new();
        let mut fields: Vec<Option<Value>> = Vec::new();
        let mut cur = e;
        loop {
            match cur {
                Expr::RefDot { refr, field, .. } => {
                    fields.push(Some(field.1.clone()));
                    steps.push(cur);
                    cur = refr;
                }
                Expr::RefBrack { refr, .. } => {
                    fields.push(None);
                    steps.push(cur);
                    cur = refr;
                }
                _ => break,
            }
        }
        steps.reverse();
        fields.reverse();
        let root_name = match cur {
            Expr::Var { span, .. } => Some(span.text()),
            _ => None,
        };
        let mut i = 0;
        let root_is_data = root_name.is_some_and(|n| self.resolve(n, env) == Resolved::Data);
        let mut value = if root_is_data {
            // Follow static components to a rule, or into the base document.
            let mut path = vec!["data".to_string()];
            let mut found = None;
            while i < steps.len() {
                let Some(key) = static_key(steps[i], &fields[i]) else {
                    break;
                };
                path.push(key);
                i += 1;
                let package = path[..path.len() - 1].join(".");
                let name = path[path.len() - 1].clone();
                if self.rules.contains_key(&(package.clone(), name.clone())) {
                    found = Some(self.rule_value(&package, &name)?);
                    break;
                }
            }
            match found {
                Some(v) => v,
                None => {
                    let joined = path.join(".");
                    if self
                        .packages
                        .iter()
                        .any(|p| p == &joined || p.starts_with(&format!("{joined}.")))
                    {
                        return Err(format!("reference to the package document {joined}"));
                    }
                    let mut node = self.data.clone();
                    for key in &path[1..] {
                        node = node[&Value::from(key.as_str())].clone();
                    }
                    Abs::of_values(vec![node])
                }
            }
        } else {
            self.expr(cur, env)?
        };
        while i < steps.len() {
            let key = match (&fields[i], steps[i]) {
                (Some(k), _) => Some(k.clone()),
                (None, Expr::RefBrack { index, .. }) => {
                    if self.is_free_var(index, env) {
                        env.multi = true;
                        bind_pattern(index, value.keys(), env)?;
                        None
                    } else {
                        let k = self.expr(index, env)?;
                        self.object_key(&value, &k)?;
                        k.constant().cloned()
                    }
                }
                _ => None,
            };
            value = value.index(key.as_ref());
            i += 1;
        }
        Ok(value)
    }

    fn call(&mut self, fcn: &Expr, params: &[Ref<Expr>], env: &mut Env) -> R<Abs> {
        let path = ref_path(fcn).ok_or_else(|| "computed function".to_string())?;
        let mut args = Vec::with_capacity(params.len());
        for p in params {
            let a = self.expr(p, env)?;
            if env.negated {
                self.surely_defined(p, &a, env)?;
            }
            args.push(a);
        }
        // A function of this package, or `data.pkg.f`.
        let (package, name) = if path.first().map(String::as_str) == Some("data") {
            (
                path[..path.len() - 1].join("."),
                path[path.len() - 1].clone(),
            )
        } else if path.len() == 1 {
            (env.package.clone(), path[0].clone())
        } else {
            (String::new(), String::new())
        };
        if self.rules.contains_key(&(package.clone(), name.clone())) {
            return self.call_function(&package, &name, args);
        }
        self.builtin(&path.join("."), &args)
    }

    fn builtin(&mut self, name: &str, args: &[Abs]) -> R<Abs> {
        let arity = |n: usize| -> R<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("{name}: {} arguments", args.len()))
            }
        };
        let bool_ = Abs::Kinds(Ty::BOOL);
        match name {
            "count" => {
                arity(1)?;
                self.need(&args[0], Ty::COLLECTION.union(Ty::STRING))?;
                Ok(Abs::Kinds(Ty::NUMBER))
            }
            "startswith" | "endswith" | "contains" => {
                arity(2)?;
                self.need(&args[0], Ty::STRING)?;
                self.need(&args[1], Ty::STRING)?;
                Ok(bool_)
            }
            "lower" | "upper" | "trim_space" => {
                arity(1)?;
                self.need(&args[0], Ty::STRING)?;
                Ok(Abs::Kinds(Ty::STRING))
            }
            // The arithmetic operators (crate::builtins::arith): numbers;
            // `minus` of two sets is their difference. Inexact results
            // raise, and the interpreter then answers.
            "__coresdk.plus" | "__coresdk.mul" | "__coresdk.div" | "__coresdk.rem" => {
                arity(2)?;
                self.need(&args[0], Ty::NUMBER)?;
                self.need(&args[1], Ty::NUMBER)?;
                Ok(Abs::Kinds(Ty::NUMBER))
            }
            // `some .. in` over a collection or nothing: guarded as a
            // collection here (a scalar goes to the interpreter, which
            // iterates nothing), so it is its argument.
            "__coresdk.iter" => {
                arity(1)?;
                self.need(&args[0], Ty::COLLECTION)?;
                Ok(args[0].clone())
            }
            // OPA's order of any two values (crate::builtins's `order`):
            // a number, never an error.
            "__coresdk.order" => {
                arity(2)?;
                Ok(Abs::Kinds(Ty::NUMBER))
            }
            // Keys into base data as OPA's storage reads them; never raise.
            "__coresdk.key" | "__coresdk.index" => {
                arity(1)?;
                Ok(Abs::Kinds(Ty::ANY))
            }
            "__coresdk.minus" => {
                arity(2)?;
                let (ka, kb) = (args[0].kinds(), args[1].kinds());
                if ka.within(Ty::SET) || kb.within(Ty::SET) {
                    self.need(&args[0], Ty::SET)?;
                    self.need(&args[1], Ty::SET)?;
                    Ok(Abs::Kinds(Ty::SET))
                } else {
                    self.need(&args[0], Ty::NUMBER)?;
                    self.need(&args[1], Ty::NUMBER)?;
                    Ok(Abs::Kinds(Ty::NUMBER))
                }
            }
            "is_string" | "is_number" | "is_boolean" | "is_array" | "is_set" | "is_object"
            | "is_null" => {
                arity(1)?;
                Ok(bool_)
            }
            "object.get" => {
                arity(3)?;
                self.need(&args[0], Ty::OBJECT)?;
                Ok(args[0].index(args[1].constant()).join(args[2].clone()))
            }
            "array.concat" => {
                arity(2)?;
                self.need(&args[0], Ty::ARRAY)?;
                self.need(&args[1], Ty::ARRAY)?;
                Ok(Abs::Kinds(Ty::ARRAY))
            }
            "graph.reachable" => {
                arity(2)?;
                self.need(&args[0], Ty::OBJECT)?;
                self.need(&args[1], Ty::ARRAY.union(Ty::SET))?;
                Ok(Abs::Kinds(Ty::SET))
            }
            "glob.match" => {
                arity(3)?;
                let patterns = args[0]
                    .values()
                    .ok_or_else(|| {
                        "glob.match with a pattern not known before evaluation".to_string()
                    })?
                    .to_vec();
                let delimiters = args[1]
                    .constant()
                    .cloned()
                    .ok_or_else(|| "glob.match with computed delimiters".to_string())?;
                for p in &patterns {
                    self.validator.glob(p, &delimiters)?;
                }
                self.need(&args[2], Ty::STRING)?;
                Ok(bool_)
            }
            "regex.match" => {
                arity(2)?;
                let patterns = args[0]
                    .values()
                    .ok_or_else(|| {
                        "regex.match with a pattern not known before evaluation".to_string()
                    })?
                    .to_vec();
                for p in &patterns {
                    self.validator.regex(p)?;
                }
                self.need(&args[1], Ty::STRING)?;
                Ok(bool_)
            }
            _ => Err(format!("builtin {name} is not on the fast path's list")),
        }
    }

    /// Under `not`, regorus's interpreter treats a call with an undefined
    /// argument as undefined (so `not f(x)` holds) where the VM does not:
    /// every argument must be defined for sure: a literal, a bound local, or
    /// an input path guarded as required.
    fn surely_defined(&mut self, p: &Expr, a: &Abs, env: &Env) -> R<()> {
        match (p, a) {
            (
                Expr::String { .. }
                | Expr::RawString { .. }
                | Expr::Number { .. }
                | Expr::Bool { .. }
                | Expr::Null { .. },
                _,
            ) => Ok(()),
            (Expr::Var { span, .. }, _) if env.vars.contains_key(span.text()) => Ok(()),
            (_, Abs::Input(_)) | (_, Abs::Union(_))
                if a.alternatives().iter().all(|x| matches!(x, Abs::Input(_))) =>
            {
                for alt in a.alternatives() {
                    if let Abs::Input(path) = alt {
                        self.guards.push(Guard {
                            path: path.clone(),
                            kinds: Ty::ANY,
                            required: true,
                        });
                    }
                }
                Ok(())
            }
            _ => Err(format!(
                "a call under `not` whose argument `{}` may be undefined",
                p.span().text()
            )),
        }
    }

    /// Indexing an object with a key that is not a string: regorus's
    /// interpreter finds `{"2": x}[2]`, the VM does not. Allowed only where
    /// no such key can meet such an object.
    fn object_key(&mut self, collection: &Abs, key: &Abs) -> R<()> {
        if key.kinds().within(Ty::STRING) {
            return Ok(());
        }
        match collection {
            Abs::Union(alts) => {
                for alt in alts {
                    self.object_key(alt, key)?;
                }
                Ok(())
            }
            // A literal's keys are the policy's own constants.
            Abs::Record(fields) => {
                if fields
                    .iter()
                    .any(|(k, _)| k.as_string().is_ok_and(|s| s.trim().parse::<f64>().is_ok()))
                {
                    Err("a non-string key into an object with numeric keys".into())
                } else {
                    Ok(())
                }
            }
            Abs::Values(vs) => {
                let numeric = |v: &Value| matches!(v, Value::Object(o) if o.keys().any(|k| k.as_string().is_ok_and(|s| s.trim().parse::<f64>().is_ok())));
                if vs.iter().any(numeric) {
                    Err("a non-string key into an object with numeric keys".into())
                } else {
                    Ok(())
                }
            }
            Abs::Input(_) => {
                if key.guardable() {
                    self.need(key, Ty::STRING)
                } else {
                    self.need(collection, Ty::NOT_OBJECT)
                }
            }
            Abs::Kinds(t) if !t.within(Ty::NOT_OBJECT) => {
                Err("a non-string key into a value that may be an object".into())
            }
            Abs::Kinds(_) => Ok(()),
        }
    }

    /// Requires every possible value of `a` to be one of `kinds`.
    fn need(&mut self, a: &Abs, kinds: Ty) -> R<()> {
        match a {
            Abs::Union(alts) => {
                for alt in alts {
                    self.need(alt, kinds)?;
                }
                Ok(())
            }
            Abs::Input(path) => {
                self.guards.push(Guard {
                    path: path.clone(),
                    kinds,
                    required: false,
                });
                Ok(())
            }
            other if other.kinds().within(kinds) => Ok(()),
            other => Err(format!(
                "a value that may be {} where {} is required",
                other.kinds(),
                kinds
            )),
        }
    }

    /// Ordering comparisons: both operands of one kind.
    fn same_kind(&mut self, a: &Abs, b: &Abs, e: &Expr) -> R<()> {
        let (ka, kb) = (a.kinds(), b.kinds());
        match (a.guardable(), b.guardable()) {
            (true, true) => {}
            (true, false) if kb.is_single() => return self.need(a, kb),
            (false, true) if ka.is_single() => return self.need(b, ka),
            (false, false) if ka.is_single() && ka == kb => return Ok(()),
            _ => {}
        }
        Err(format!(
            "comparison `{}` of operands that may differ in kind",
            e.span().text()
        ))
    }
}

fn static_key(step: &Expr, field: &Option<Value>) -> Option<String> {
    if let Some(Value::String(s)) = field {
        return Some(s.to_string());
    }
    match step {
        Expr::RefBrack { index, .. } => match index.as_ref() {
            Expr::String { value, .. } => value.as_string().ok().map(|s| s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Binds local `name` (nothing for `_`); it is no longer only declared.
fn bind_name(name: &str, v: Abs, env: &mut Env) {
    if name != "_" {
        env.declared.remove(name);
        env.vars.insert(name.to_string(), v);
    }
}

fn bind_pattern(p: &Expr, v: Abs, env: &mut Env) -> R<()> {
    match p {
        Expr::Var { span, .. } => {
            bind_name(span.text(), v, env);
            Ok(())
        }
        _ => Err(format!("pattern `{}`", p.span().text())),
    }
}

/// What a body requires of the input, for telling definitions apart.
#[derive(Debug, PartialEq)]
enum Test {
    /// `input.a` (`negated`: `not input.a`) as a statement. Paths are key
    /// sequences: `input["a.b"]` and `input.a.b` are different paths.
    Truth(Vec<String>, bool),
    /// `input.a == <constant>`.
    Equals(Vec<String>, Value),
}

/// The tests a body's statements make on static input paths.
fn tests_of(q: &Query) -> Vec<Test> {
    let input_path =
        |e: &Expr| ref_path(e).filter(|p| p.first().map(String::as_str) == Some("input"));
    let mut out = Vec::new();
    for stmt in &q.stmts {
        if !stmt.with_mods.is_empty() {
            continue;
        }
        match &stmt.literal {
            Literal::Expr { expr, .. } => {
                if let Some(p) = input_path(expr) {
                    out.push(Test::Truth(p, false));
                } else if let Expr::BoolExpr {
                    op: BoolOp::Eq,
                    lhs,
                    rhs,
                    ..
                } = expr.as_ref()
                {
                    let constant = |e: &Expr| match e {
                        Expr::String { value, .. }
                        | Expr::Number { value, .. }
                        | Expr::Bool { value, .. }
                        | Expr::Null { value, .. } => Some(value.clone()),
                        _ => None,
                    };
                    if let (Some(p), Some(v)) = (input_path(lhs), constant(rhs)) {
                        out.push(Test::Equals(p, v));
                    } else if let (Some(p), Some(v)) = (input_path(rhs), constant(lhs)) {
                        out.push(Test::Equals(p, v));
                    }
                }
            }
            Literal::NotExpr { expr, .. } => {
                if let Some(p) = input_path(expr) {
                    out.push(Test::Truth(p, true));
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether two bodies can never both hold.
fn excludes(a: &[Test], b: &[Test]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| match (x, y) {
            (Test::Truth(p, n), Test::Truth(q, m)) => p == q && n != m,
            (Test::Equals(p, v), Test::Equals(q, w)) => p == q && v != w,
            _ => false,
        })
    })
}

/// A complete rule or function never produces two different values: either
/// one chain of single-solution bodies, or every body yields one constant.
fn conflict_free(name: &str, values: &[(Abs, bool)], chains: usize) -> R<Abs> {
    let mut out: Option<Abs> = None;
    let risky = chains > 1 || values.iter().any(|(_, multi)| *multi);
    let mut constant: Option<&Value> = None;
    for (v, _) in values {
        if risky {
            let c = v
                .constant()
                .ok_or_else(|| format!("{name} may produce conflicting values"))?;
            if constant.is_some_and(|k| k != c) {
                return Err(format!("{name} may produce conflicting values"));
            }
            constant = Some(c);
        }
        out = Some(match out {
            None => v.clone(),
            Some(o) => o.join(v.clone()),
        });
    }
    Ok(out.unwrap_or(Abs::Kinds(Ty::NONE)))
}

/// Checks constant glob and regex patterns once, with the builtins'
/// own compilers ([`crate::builtins`]), so a pattern the builtin would
/// refuse is never admitted.
#[derive(Default)]
struct PatternValidator {
    checked: HashMap<String, bool>,
}

impl PatternValidator {
    fn glob(&mut self, pattern: &Value, delimiters: &Value) -> R<()> {
        let Value::String(p) = pattern else {
            return Err("a glob pattern that is not a string".into());
        };
        let delims: Vec<char> = match delimiters {
            Value::Null => Vec::new(),
            Value::Array(items) => {
                let mut out = Vec::new();
                for d in items.iter() {
                    let mut cs = d.as_string().map_err(|e| e.to_string())?.chars();
                    match (cs.next(), cs.next()) {
                        (Some(c), None) => out.push(c),
                        _ => return Err("glob delimiters that are not single characters".into()),
                    }
                }
                if out.is_empty() {
                    out.push('.');
                }
                out
            }
            _ => return Err("glob delimiters that are not an array or null".into()),
        };
        let key = format!("glob {delims:?} {p}");
        self.check(
            key,
            || crate::builtins::glob_pattern_ok(p, &delims),
            "glob pattern",
        )
    }

    fn regex(&mut self, pattern: &Value) -> R<()> {
        let Value::String(p) = pattern else {
            return Err("a regex pattern that is not a string".into());
        };
        self.check(
            format!("regex {p}"),
            || crate::builtins::regex_pattern_ok(p),
            "regex pattern",
        )
    }

    fn check(&mut self, key: String, ok: impl FnOnce() -> bool, what: &str) -> R<()> {
        let ok = *self.checked.entry(key).or_insert_with(ok);
        if ok {
            Ok(())
        } else {
            Err(format!("{what} that the builtin refuses"))
        }
    }
}
