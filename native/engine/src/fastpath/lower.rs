//! Lowers the rules a proven query reaches to the [`ir`](super::ir) the
//! tree evaluator runs: locals become frame slots, `a[x]` with `x` unbound
//! becomes an iteration before its statement, references into the bundle's
//! data become constants, and builtins resolve to regorus's own functions.
//!
//! It accepts the same fragment as the static pass ([`super::analyze`]),
//! walking the same way, and refuses anything else (the VM or the
//! interpreter then answers): a construct it does not know is never
//! guessed at.

use std::collections::{HashMap, HashSet};

use regorus::unstable::{
    ArithOp, AssignOp, Expr, Literal, LiteralStmt, Module, Query, Ref, Rule, RuleHead, BUILTINS,
};
use regorus::Value;

use super::ir::{
    Arith, Body, Call, Chain, Ex, Fcn, FuncDef, FuncIr, Program, RuleIr, SetDef, SetOp, Slot, St,
};
use super::names::{head_rule, resolve, Resolved};
use crate::frontend::ref_path;

type R<T> = Result<T, String>;

/// The builtins the static pass admits (with its argument checks); no
/// other builtin is lowered.
const BUILTINS_ADMITTED: &[&str] = &[
    "count",
    "startswith",
    "endswith",
    "contains",
    "lower",
    "upper",
    "trim_space",
    "is_string",
    "is_number",
    "is_boolean",
    "is_array",
    "is_set",
    "is_object",
    "is_null",
    "object.get",
    "array.concat",
    "graph.reachable",
    "glob.match",
    "regex.match",
    "__coresdk.plus",
    "__coresdk.minus",
    "__coresdk.mul",
    "__coresdk.div",
    "__coresdk.rem",
    "__coresdk.key",
    "__coresdk.index",
    "__coresdk.order",
];

#[derive(Default)]
struct RuleSet {
    specs: Vec<(Ref<Rule>, String)>,
    defaults: Vec<(Ref<Rule>, String)>,
}

struct Lower<'a> {
    rules: HashMap<(String, String), RuleSet>,
    packages: HashSet<String>,
    data: &'a Value,
    rule_ids: HashMap<(String, String), usize>,
    func_ids: HashMap<(String, String), usize>,
    out_rules: Vec<RuleIr>,
    out_funcs: Vec<Option<FuncIr>>,
    /// Input paths seen, by their keys' text, with their ids.
    input_paths: HashMap<String, u32>,
    /// The keys of each input path, by id.
    inputs: Vec<Vec<Value>>,
}

/// The variables of one body (and its nested queries).
#[derive(Clone)]
struct Scope {
    package: String,
    vars: HashMap<String, Slot>,
    declared: HashSet<String>,
    next: Slot,
    negated: bool,
}

impl Scope {
    fn new(package: &str) -> Self {
        Scope {
            package: package.to_string(),
            vars: HashMap::new(),
            declared: HashSet::new(),
            next: 0,
            negated: false,
        }
    }

    fn fresh(&mut self) -> Slot {
        let s = self.next;
        self.next += 1;
        s
    }

    /// A new slot for `name` (`None` for `_`).
    fn bind(&mut self, name: &str) -> Option<Slot> {
        if name == "_" {
            return None;
        }
        let s = self.fresh();
        self.vars.insert(name.to_string(), s);
        self.declared.remove(name);
        Some(s)
    }

    /// Runs `f` on a nested scope whose bindings do not leak out; its
    /// slots stay reserved.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Scope) -> R<T>) -> R<T> {
        let mut inner = self.clone();
        let out = f(&mut inner);
        self.next = inner.next;
        out
    }
}

/// Lowers `entrypoint` (a rule path) over `modules` and `data`.
pub(crate) fn lower(modules: &[Ref<Module>], data: &Value, entrypoint: &str) -> R<Program> {
    let mut l = Lower {
        rules: HashMap::new(),
        packages: HashSet::new(),
        data,
        rule_ids: HashMap::new(),
        func_ids: HashMap::new(),
        out_rules: Vec::new(),
        out_funcs: Vec::new(),
        input_paths: HashMap::new(),
        inputs: Vec::new(),
    };
    for m in modules {
        l.add_module(m)?;
    }
    let (package, name) = entrypoint
        .rsplit_once('.')
        .ok_or_else(|| format!("{entrypoint} is not a rule"))?;
    let entry = l.rule(package, name)?;
    let funcs = l
        .out_funcs
        .into_iter()
        .map(|f| f.ok_or_else(|| "a function was not lowered".to_string()))
        .collect::<R<Vec<_>>>()?;
    Ok(Program {
        rules: l.out_rules,
        funcs,
        entry,
        inputs: l.inputs,
    })
}

/// The id of an input reference whose path is not yet registered.
const PENDING_INPUT: u32 = u32::MAX;

fn var_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Var { span, .. } => Some(span.text()),
        _ => None,
    }
}

impl Lower<'_> {
    fn add_module(&mut self, module: &Ref<Module>) -> R<()> {
        let mut package =
            ref_path(&module.package.refr).ok_or_else(|| "package path".to_string())?;
        if package.first().map(String::as_str) != Some("data") {
            package.insert(0, "data".into());
        }
        let package = package.join(".");
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
            let name = match head_rule(refr) {
                Some(Ok(name)) => name,
                // The pass refuses every rule a reference head overlaps;
                // the name stays a rule so both passes resolve it alike.
                Some(Err(root)) => {
                    self.rules.entry((package.clone(), root)).or_default();
                    continue;
                }
                None => return Err("a rule head that is not a plain name".into()),
            };
            let set = self.rules.entry((package.clone(), name)).or_default();
            if is_default {
                set.defaults.push((rule.clone(), package.clone()));
            } else {
                set.specs.push((rule.clone(), package.clone()));
            }
        }
        Ok(())
    }

    fn is_rule(&self, package: &str, name: &str) -> bool {
        self.rules
            .contains_key(&(package.to_string(), name.to_string()))
    }

    /// The id of rule `package.name`, lowering it on first use.
    fn rule(&mut self, package: &str, name: &str) -> R<usize> {
        let key = (package.to_string(), name.to_string());
        if let Some(&id) = self.rule_ids.get(&key) {
            if matches!(self.out_rules[id], RuleIr::Pending) {
                return Err(format!("recursive rule {name}"));
            }
            return Ok(id);
        }
        let id = self.out_rules.len();
        self.out_rules.push(RuleIr::Pending);
        self.rule_ids.insert(key.clone(), id);
        let ir = self.lower_rule(&key)?;
        self.out_rules[id] = ir;
        Ok(id)
    }

    fn lower_rule(&mut self, key: &(String, String)) -> R<RuleIr> {
        let set = self
            .rules
            .get(key)
            .ok_or_else(|| format!("no rule {}", key.1))?;
        let specs = set.specs.clone();
        let defaults = set.defaults.clone();
        let mut chains: Vec<Chain> = Vec::new();
        let mut set_defs: Vec<SetDef> = Vec::new();
        let mut is_set = None;
        for (rule, package) in &specs {
            let Rule::Spec { head, bodies, .. } = rule.as_ref() else {
                continue;
            };
            match head {
                RuleHead::Set { key: Some(k), .. } => {
                    if is_set == Some(false) {
                        return Err("mixed rule kinds".into());
                    }
                    is_set = Some(true);
                    if bodies.is_empty() {
                        let mut scope = Scope::new(package);
                        let mut stmts = Vec::new();
                        let key = self.expr(k, &mut scope, &mut stmts)?;
                        set_defs.push(SetDef {
                            stmts,
                            key,
                            slots: scope.next,
                        });
                    }
                    for body in bodies {
                        if body.assign.is_some() {
                            return Err("a set rule with a value".into());
                        }
                        let mut scope = Scope::new(package);
                        let mut stmts = self.query(&body.query, &mut scope)?;
                        let key = self.expr(k, &mut scope, &mut stmts)?;
                        set_defs.push(SetDef {
                            stmts,
                            key,
                            slots: scope.next,
                        });
                    }
                }
                RuleHead::Compr { assign, .. } => {
                    if is_set == Some(true) {
                        return Err("mixed rule kinds".into());
                    }
                    is_set = Some(false);
                    if bodies.is_empty() {
                        let mut scope = Scope::new(package);
                        let mut stmts = Vec::new();
                        let value = match assign {
                            Some(a) => self.expr(&a.value, &mut scope, &mut stmts)?,
                            None => Ex::Const(Value::Bool(true)),
                        };
                        chains.push(Chain {
                            bodies: vec![Body {
                                stmts,
                                value,
                                slots: scope.next,
                            }],
                        });
                    }
                    for (i, body) in bodies.iter().enumerate() {
                        if i == 0 || !body.is_else {
                            chains.push(Chain { bodies: Vec::new() });
                        }
                        let mut scope = Scope::new(package);
                        let mut stmts = self.query(&body.query, &mut scope)?;
                        // regorus (as OPA): a body after the first takes
                        // its own assignment, else `true`; only the first
                        // takes the head's value.
                        let own = body.assign.as_ref();
                        let value = match if i == 0 { own.or(assign.as_ref()) } else { own } {
                            Some(a) => {
                                if a.op != AssignOp::ColEq && a.op != AssignOp::Eq {
                                    return Err("a rule assignment".into());
                                }
                                self.expr(&a.value, &mut scope, &mut stmts)?
                            }
                            None => Ex::Const(Value::Bool(true)),
                        };
                        let chain = chains.last_mut().ok_or("else without a body")?;
                        chain.bodies.push(Body {
                            stmts,
                            value,
                            slots: scope.next,
                        });
                    }
                }
                _ => return Err(format!("{}: rule kind", key.1)),
            }
        }
        if is_set == Some(true) {
            if !defaults.is_empty() {
                return Err("a default on a set rule".into());
            }
            return Ok(RuleIr::Set { defs: set_defs });
        }
        let mut default = None;
        for (rule, package) in &defaults {
            let Rule::Default { args, value, .. } = rule.as_ref() else {
                continue;
            };
            if !args.is_empty() {
                return Err("a default function".into());
            }
            let mut scope = Scope::new(package);
            let mut pre = Vec::new();
            match self.expr(value, &mut scope, &mut pre)? {
                Ex::Const(v) if pre.is_empty() => default = Some(v),
                _ => return Err("a default value that is not a constant".into()),
            }
        }
        if specs.is_empty() && default.is_none() {
            return Err(format!("no rule {}", key.1));
        }
        let index = build_index(&chains);
        let uniform = uniform(chains.iter());
        Ok(RuleIr::Complete {
            chains,
            default,
            index,
            uniform,
        })
    }

    fn func(&mut self, package: &str, name: &str, arity: usize) -> R<usize> {
        let key = (package.to_string(), name.to_string());
        if let Some(&id) = self.func_ids.get(&key) {
            if self.out_funcs[id].is_none() {
                return Err(format!("recursive function {name}"));
            }
            return Ok(id);
        }
        let id = self.out_funcs.len();
        self.out_funcs.push(None);
        self.func_ids.insert(key.clone(), id);
        let set = self
            .rules
            .get(&key)
            .ok_or_else(|| format!("no function {name}"))?;
        if !set.defaults.is_empty() {
            return Err("a default function".into());
        }
        let specs = set.specs.clone();
        let mut defs = Vec::new();
        for (rule, package) in &specs {
            let Rule::Spec { head, bodies, .. } = rule.as_ref() else {
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
            if params.len() != arity {
                return Err(format!("{name}: arity"));
            }
            let mut chains: Vec<Chain> = Vec::new();
            let bodies: Vec<Option<&regorus::unstable::RuleBody>> = if bodies.is_empty() {
                vec![None]
            } else {
                bodies.iter().map(Some).collect()
            };
            // Parameter i is slot i of every body's frame (`_` too), so a
            // call's arguments are the frame's first slots.
            for (i, body) in bodies.iter().enumerate() {
                if i == 0 || !body.is_some_and(|b| b.is_else) {
                    chains.push(Chain { bodies: Vec::new() });
                }
                let mut scope = Scope::new(package);
                for p in params {
                    match var_name(p) {
                        Some(n) => {
                            if scope.bind(n).is_none() {
                                scope.fresh();
                            }
                        }
                        None => return Err(format!("{name}: a parameter is a pattern")),
                    }
                }
                if scope.vars.len() + params.iter().filter(|p| var_name(p) == Some("_")).count()
                    != params.len()
                {
                    return Err(format!("{name}: a parameter is repeated"));
                }
                let mut stmts = match body {
                    Some(b) => self.query(&b.query, &mut scope)?,
                    None => Vec::new(),
                };
                // As for rules: a body after the first takes its own
                // assignment, else `true`.
                let own = body.and_then(|b| b.assign.as_ref());
                let value = match if i == 0 { own.or(assign.as_ref()) } else { own } {
                    Some(a) => self.expr(&a.value, &mut scope, &mut stmts)?,
                    None => Ex::Const(Value::Bool(true)),
                };
                let chain = chains.last_mut().ok_or("else without a body")?;
                chain.bodies.push(Body {
                    stmts,
                    value,
                    slots: scope.next,
                });
            }
            // Every body binds the parameters to slots 0..n in order.
            defs.push(FuncDef {
                arity: params.len(),
                chains,
            });
        }
        let uniform = uniform(defs.iter().flat_map(|d| d.chains.iter()));
        self.out_funcs[id] = Some(FuncIr { defs, uniform });
        Ok(id)
    }

    fn query(&mut self, q: &Query, scope: &mut Scope) -> R<Vec<St>> {
        let mut out = Vec::new();
        for stmt in super::names::schedule(&q.stmts) {
            self.stmt(stmt, scope, &mut out)?;
        }
        Ok(out)
    }

    fn stmt(&mut self, stmt: &LiteralStmt, scope: &mut Scope, out: &mut Vec<St>) -> R<()> {
        if !stmt.with_mods.is_empty() {
            return Err("`with`".into());
        }
        match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                for v in vars {
                    let n = v.text().to_string();
                    scope.vars.remove(&n);
                    scope.declared.insert(n);
                }
                Ok(())
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                let coll = self.expr(collection, scope, out)?;
                let key = match key {
                    Some(k) => Some(var_name(k).ok_or("a `some` pattern")?),
                    None => None,
                };
                let value = var_name(value).ok_or("a `some` pattern")?;
                let key = key.and_then(|k| scope.bind(k));
                let value = scope.bind(value);
                out.push(St::Iter {
                    coll,
                    key,
                    value,
                    strict: true,
                });
                Ok(())
            }
            Literal::Expr { expr, .. } => self.statement_expr(expr, scope, out),
            Literal::NotExpr { expr, .. } => {
                let mut pre = Vec::new();
                let e = scope.nested(|inner| {
                    inner.negated = true;
                    self.expr(expr, inner, &mut pre)
                })?;
                if !pre.is_empty() {
                    return Err("iteration under `not`".into());
                }
                out.push(St::Not(e));
                Ok(())
            }
            Literal::Every {
                key,
                value,
                domain,
                query,
                ..
            } => {
                let dom = self.expr(domain, scope, out)?;
                let (k, v, stmts) = scope.nested(|inner| {
                    let k = key.as_ref().and_then(|k| inner.bind(k.text()));
                    let v = match inner.bind(value.text()) {
                        Some(v) => v,
                        None => inner.fresh(),
                    };
                    let stmts = self.query(query, inner)?;
                    Ok((k, v, stmts))
                })?;
                out.push(St::Every {
                    domain: dom,
                    key: k,
                    value: v,
                    stmts,
                });
                Ok(())
            }
        }
    }

    /// What `name` denotes here ([`resolve`]).
    fn resolve(&self, name: &str, scope: &Scope) -> Resolved {
        resolve(
            name,
            |n| scope.vars.contains_key(n),
            |n| scope.declared.contains(n),
            |n| self.is_rule(&scope.package, n),
        )
    }

    /// A plain name a statement would bind here.
    fn is_free(&self, e: &Expr, scope: &Scope) -> bool {
        var_name(e).is_some_and(|n| self.resolve(n, scope).is_unbound())
    }

    fn statement_expr(&mut self, e: &Expr, scope: &mut Scope, out: &mut Vec<St>) -> R<()> {
        if let Expr::AssignExpr { op, lhs, rhs, .. } = e {
            // `x := e` always declares `x`; `=` binds only an unbound name.
            let lhs_free =
                (*op == AssignOp::ColEq && var_name(lhs).is_some()) || self.is_free(lhs, scope);
            let rhs_free = self.is_free(rhs, scope);
            let (target, source) = match (op, lhs_free, rhs_free) {
                (AssignOp::ColEq, true, false) | (AssignOp::Eq, true, false) => (lhs, rhs),
                (AssignOp::Eq, false, true) => (rhs, lhs),
                (AssignOp::Eq, false, false) => {
                    let l = self.expr(lhs, scope, out)?;
                    let r = self.expr(rhs, scope, out)?;
                    out.push(St::Test(Ex::Cmp(
                        regorus::unstable::BoolOp::Eq,
                        Box::new(l),
                        Box::new(r),
                    )));
                    return Ok(());
                }
                _ => return Err("an assignment".into()),
            };
            let v = self.expr(source, scope, out)?;
            let name = var_name(target).ok_or("a pattern")?;
            let slot = match scope.bind(name) {
                Some(s) => s,
                None => scope.fresh(),
            };
            out.push(St::Bind(slot, v));
            return Ok(());
        }
        let v = self.expr(e, scope, out)?;
        out.push(St::Test(v));
        Ok(())
    }

    /// Lowers an expression; iterations it implies go to `pre`.
    fn expr(&mut self, e: &Expr, scope: &mut Scope, pre: &mut Vec<St>) -> R<Ex> {
        Ok(match e {
            Expr::String { value, .. }
            | Expr::RawString { value, .. }
            | Expr::Number { value, .. }
            | Expr::Bool { value, .. }
            | Expr::Null { value, .. } => Ex::Const(value.clone()),
            Expr::Var { span, .. } => self.var(span.text(), scope)?,
            Expr::RefDot { .. } | Expr::RefBrack { .. } => self.reference(e, scope, pre)?,
            Expr::Array { items, .. } => {
                let items = self.exprs(items, scope, pre)?;
                match constants(&items) {
                    Some(vs) => Ex::Const(Value::from(vs)),
                    None => Ex::Array(items),
                }
            }
            Expr::Set { items, .. } => {
                let items = self.exprs(items, scope, pre)?;
                match constants(&items) {
                    Some(vs) => Ex::Const(Value::from(
                        vs.into_iter()
                            .collect::<std::collections::BTreeSet<Value>>(),
                    )),
                    None => Ex::Set(items),
                }
            }
            Expr::Object { fields, .. } => {
                let mut out = Vec::new();
                for (_, k, v) in fields {
                    let k = self.expr(k, scope, pre)?;
                    let v = self.expr(v, scope, pre)?;
                    out.push((k, v));
                }
                Ex::Object(out)
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                let (t, stmts) = scope.nested(|inner| {
                    inner.negated = false;
                    let mut stmts = self.query(query, inner)?;
                    let t = self.expr(term, inner, &mut stmts)?;
                    Ok((t, stmts))
                })?;
                if matches!(e, Expr::ArrayCompr { .. }) {
                    Ex::ArrayCompr(Box::new(t), stmts)
                } else {
                    Ex::SetCompr(Box::new(t), stmts)
                }
            }
            Expr::Call {
                span, fcn, params, ..
            } => self.call(span, fcn, params, scope, pre)?,
            Expr::UnaryExpr { expr, .. } => match expr.as_ref() {
                Expr::Number { value, span, .. } if !span.text().starts_with('-') => {
                    let v = regorus::unstable::numbers::arithmetic_operation(
                        span,
                        &ArithOp::Sub,
                        e,
                        expr,
                        Value::from(0),
                        value.clone(),
                        true,
                    )
                    .map_err(|_| "unary minus".to_string())?;
                    Ex::Const(v)
                }
                _ => return Err("unary minus".into()),
            },
            Expr::BinExpr { op, lhs, rhs, .. } => Ex::SetOp(SetOp {
                op: op.clone(),
                lhs_expr: lhs.clone(),
                rhs_expr: rhs.clone(),
                lhs: Box::new(self.expr(lhs, scope, pre)?),
                rhs: Box::new(self.expr(rhs, scope, pre)?),
            }),
            Expr::BoolExpr { op, lhs, rhs, .. } => Ex::Cmp(
                op.clone(),
                Box::new(self.expr(lhs, scope, pre)?),
                Box::new(self.expr(rhs, scope, pre)?),
            ),
            Expr::ArithExpr {
                span, op, lhs, rhs, ..
            } => {
                if matches!(op, ArithOp::Div | ArithOp::Mod) {
                    return Err("division".into());
                }
                Ex::Arith(Arith {
                    op: op.clone(),
                    span: span.clone(),
                    lhs_expr: lhs.clone(),
                    rhs_expr: rhs.clone(),
                    lhs: Box::new(self.expr(lhs, scope, pre)?),
                    rhs: Box::new(self.expr(rhs, scope, pre)?),
                })
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if key.is_some() {
                    return Err("key-value membership".into());
                }
                Ex::Member {
                    key: None,
                    value: Box::new(self.expr(value, scope, pre)?),
                    coll: Box::new(self.expr(collection, scope, pre)?),
                }
            }
            _ => return Err(format!("expression `{}`", e.span().text())),
        })
    }

    fn exprs(&mut self, items: &[Ref<Expr>], scope: &mut Scope, pre: &mut Vec<St>) -> R<Vec<Ex>> {
        items.iter().map(|i| self.expr(i, scope, pre)).collect()
    }

    fn var(&mut self, name: &str, scope: &Scope) -> R<Ex> {
        match self.resolve(name, scope) {
            Resolved::Local => scope
                .vars
                .get(name)
                .map(|&s| Ex::Local(s))
                .ok_or_else(|| format!("variable `{name}` has no slot")),
            Resolved::Input => Ok(self.input(Vec::new())),
            Resolved::Rule => {
                let package = scope.package.clone();
                Ok(Ex::Rule(self.rule(&package, name)?))
            }
            Resolved::Data => Err("the whole `data` document read as a value".into()),
            Resolved::Wildcard | Resolved::Fresh => Err(format!(
                "variable `{name}` read before it is bound (a pattern, or an output argument)"
            )),
        }
    }

    fn reference(&mut self, e: &Expr, scope: &mut Scope, pre: &mut Vec<St>) -> R<Ex> {
        let mut steps: Vec<&Expr> = Vec::new();
        let mut cur = e;
        while let Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } = cur {
            steps.push(cur);
            cur = refr;
        }
        steps.reverse();
        let static_key = |step: &Expr| -> Option<Value> {
            match step {
                Expr::RefDot { field, .. } => Some(field.1.clone()),
                Expr::RefBrack { index, .. } => match index.as_ref() {
                    Expr::String { value, .. } => Some(value.clone()),
                    _ => None,
                },
                _ => None,
            }
        };
        let mut i = 0;
        let root = var_name(cur).map(|n| self.resolve(n, scope));
        let mut base = if root == Some(Resolved::Data) {
            let mut path = vec!["data".to_string()];
            let mut found = None;
            while i < steps.len() {
                let Some(key) = static_key(steps[i]) else {
                    break;
                };
                let key = key.as_string().map_err(|e| e.to_string())?.to_string();
                path.push(key);
                i += 1;
                let package = path[..path.len() - 1].join(".");
                let name = path[path.len() - 1].clone();
                if self.is_rule(&package, &name) {
                    found = Some(Ex::Rule(self.rule(&package, &name)?));
                    break;
                }
            }
            match found {
                Some(r) => r,
                None => {
                    let joined = path.join(".");
                    if self
                        .packages
                        .iter()
                        .any(|p| p == &joined || p.starts_with(&format!("{joined}.")))
                    {
                        return Err(format!("a reference to the package document {joined}"));
                    }
                    let mut node = self.data.clone();
                    for key in &path[1..] {
                        node = node[&Value::from(key.as_str())].clone();
                    }
                    Ex::Const(node)
                }
            }
        } else if root == Some(Resolved::Input) {
            // Registered once its static keys are known (by `flush`), so
            // that only the path actually read is recorded.
            Ex::Input(PENDING_INPUT, Vec::new())
        } else {
            self.expr(cur, scope, pre)?
        };
        let mut keys: Vec<Value> = Vec::new();
        let flush = |this: &mut Self, base: Ex, keys: &mut Vec<Value>| -> Ex {
            if keys.is_empty() {
                return match base {
                    Ex::Input(PENDING_INPUT, ks) => this.input(ks),
                    other => other,
                };
            }
            let keys = std::mem::take(keys);
            match base {
                Ex::Const(v) => {
                    let mut node = &v;
                    for k in &keys {
                        node = &node[k];
                    }
                    Ex::Const(node.clone())
                }
                Ex::Path(b, mut ks) => {
                    ks.extend(keys);
                    Ex::Path(b, ks)
                }
                Ex::Input(_, mut ks) => {
                    ks.extend(keys);
                    this.input(ks)
                }
                other => Ex::Path(Box::new(other), keys),
            }
        };
        while i < steps.len() {
            if let Some(k) = static_key(steps[i]) {
                keys.push(k);
                i += 1;
                continue;
            }
            let Expr::RefBrack { index, .. } = steps[i] else {
                return Err("a reference step".into());
            };
            if self.is_free(index, scope) {
                base = flush(self, base, &mut keys);
                if scope.negated {
                    return Err("iteration under `not`".into());
                }
                let name = var_name(index).ok_or("a reference index")?;
                let key = scope.bind(name);
                let value = scope.fresh();
                pre.push(St::Iter {
                    coll: base,
                    key,
                    value: Some(value),
                    strict: false,
                });
                base = Ex::Local(value);
            } else {
                match self.expr(index, scope, pre)? {
                    Ex::Const(k) => keys.push(k),
                    k => {
                        base = flush(self, base, &mut keys);
                        base = Ex::Index(Box::new(base), Box::new(k));
                    }
                }
            }
            i += 1;
        }
        Ok(flush(self, base, &mut keys))
    }

    /// The input path below `keys`, with its id.
    fn input(&mut self, keys: Vec<Value>) -> Ex {
        let text = format!("{keys:?}");
        let next = self.input_paths.len() as u32;
        let id = *self.input_paths.entry(text).or_insert(next);
        if id == next {
            self.inputs.push(keys.clone());
        }
        Ex::Input(id, keys)
    }

    fn call(
        &mut self,
        span: &regorus::unstable::Span,
        fcn: &Expr,
        params: &[Ref<Expr>],
        scope: &mut Scope,
        pre: &mut Vec<St>,
    ) -> R<Ex> {
        let path = ref_path(fcn).ok_or("a computed function")?;
        let args = self.exprs(params, scope, pre)?;
        let (package, name) = if path.first().map(String::as_str) == Some("data") {
            (
                path[..path.len() - 1].join("."),
                path[path.len() - 1].clone(),
            )
        } else if path.len() == 1 {
            (scope.package.clone(), path[0].clone())
        } else {
            (String::new(), String::new())
        };
        if self.is_rule(&package, &name) {
            let id = self.func(&package, &name, args.len())?;
            return Ok(Ex::Func(id, args));
        }
        let name = path.join(".");
        if name == "__coresdk.iter" {
            // The pass guarded the collection: it is its own iteration.
            let [arg] = <[Ex; 1]>::try_from(args).map_err(|_| "__coresdk.iter: arity")?;
            return Ok(arg);
        }
        if !BUILTINS_ADMITTED.contains(&name.as_str()) {
            return Err(format!("builtin {name} is not on the fast path's list"));
        }
        // A glob or regex with constant pattern: compiled once, here.
        let constant = |a: &Ex| match a {
            Ex::Const(v) => Some(v.clone()),
            _ => None,
        };
        let lead = &args[..args.len().saturating_sub(1)];
        if let Some(consts) = lead.iter().map(constant).collect::<Option<Vec<_>>>() {
            if let Some(re) = crate::builtins::constant_matcher(&name, &consts) {
                let mut args = args;
                let text = args.pop().ok_or("a matcher without its text")?;
                return Ok(Ex::Builtin(Call {
                    fcn: Fcn::Matcher(std::sync::Arc::new(re)),
                    span: span.clone(),
                    params: params[params.len().saturating_sub(1)..].to_vec(),
                    args: vec![text],
                }));
            }
        }
        let fcn = match crate::builtins::lookup(&name) {
            Some(own) => Fcn::Own(own),
            None => Fcn::Regorus(
                *BUILTINS
                    .get(name.as_str())
                    .ok_or_else(|| format!("builtin {name} is not in regorus's table"))?,
            ),
        };
        Ok(Ex::Builtin(Call {
            fcn,
            span: span.clone(),
            params: params.to_vec(),
            args,
        }))
    }
}

/// Whether every body of `chains` yields one and the same constant, so
/// that no two solutions can conflict.
fn uniform<'a>(chains: impl Iterator<Item = &'a Chain>) -> bool {
    let mut seen: Option<&Value> = None;
    for chain in chains {
        for body in &chain.bodies {
            let Ex::Const(v) = &body.value else {
                return false;
            };
            if *v == Value::Undefined || seen.is_some_and(|s| s != v) {
                return false;
            }
            seen = Some(v);
        }
    }
    true
}

/// The values of `items` when all are defined constants.
fn constants(items: &[Ex]) -> Option<Vec<Value>> {
    items
        .iter()
        .map(|i| match i {
            Ex::Const(v) if *v != Value::Undefined => Some(v.clone()),
            _ => None,
        })
        .collect()
}

/// Fewest chains a rule needs before it is indexed.
const INDEX_MIN_CHAINS: usize = 8;

/// What a body's statement requires of one input path: one of these
/// values (`input.p == c`, `input.p in {c, d}`).
fn input_path(e: &Ex) -> Option<(u32, &[Value])> {
    match e {
        Ex::Input(id, keys) if !keys.is_empty() => Some((*id, keys.as_slice())),
        _ => None,
    }
}

type PathRef<'a> = (u32, &'a [Value]);

fn input_test(st: &St) -> Option<(PathRef<'_>, Vec<Value>)> {
    let St::Test(e) = st else {
        return None;
    };
    match e {
        Ex::Cmp(regorus::unstable::BoolOp::Eq, l, r) => match (l.as_ref(), r.as_ref()) {
            (p, Ex::Const(c)) | (Ex::Const(c), p) if *c != Value::Undefined => {
                Some((input_path(p)?, vec![c.clone()]))
            }
            _ => None,
        },
        Ex::Member {
            key: None,
            value,
            coll,
        } => {
            let path = input_path(value)?;
            let values = match coll.as_ref() {
                Ex::Const(Value::Set(s)) => s.iter().cloned().collect(),
                Ex::Const(Value::Array(a)) => a.iter().cloned().collect(),
                _ => return None,
            };
            Some((path, values))
        }
        _ => None,
    }
}

/// An index over a many-chained complete rule: the chains whose single
/// body tests the most common input path, grouped by the values that pass.
/// Sound because the static pass proved the rule's bodies error-free and
/// their values equal: a body whose test fails contributes nothing, so it
/// need not be entered.
fn build_index(chains: &[Chain]) -> Option<super::ir::Index> {
    if chains.len() < INDEX_MIN_CHAINS || chains.iter().any(|c| c.bodies.len() != 1) {
        return None;
    }
    // Each chain's tests: path -> values that may pass.
    let tests: Vec<Vec<(PathRef<'_>, Vec<Value>)>> = chains
        .iter()
        .map(|c| c.bodies[0].stmts.iter().filter_map(input_test).collect())
        .collect();
    let mut counts: Vec<(PathRef<'_>, usize)> = Vec::new();
    for t in &tests {
        let mut seen: Vec<PathRef<'_>> = Vec::new();
        for (p, _) in t {
            if seen.contains(p) {
                continue;
            }
            seen.push(*p);
            match counts.iter_mut().find(|(q, _)| q == p) {
                Some((_, n)) => *n += 1,
                None => counts.push((*p, 1)),
            }
        }
    }
    let (path, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    if n * 2 < chains.len() {
        return None;
    }
    let mut by_value: std::collections::BTreeMap<Value, Vec<usize>> = Default::default();
    let mut other = Vec::new();
    // Per chain: the values its tests on `path` admit (their intersection),
    // or None when it does not test `path`.
    let admitted: Vec<Option<Vec<Value>>> = tests
        .iter()
        .map(|t| {
            let mut out: Option<Vec<Value>> = None;
            for (p, vs) in t {
                if *p != path {
                    continue;
                }
                out = Some(match out {
                    None => vs.clone(),
                    Some(prev) => prev.into_iter().filter(|v| vs.contains(v)).collect(),
                });
            }
            out
        })
        .collect();
    for a in admitted.iter().flatten() {
        for v in a {
            by_value.entry(v.clone()).or_default();
        }
    }
    for (i, a) in admitted.iter().enumerate() {
        match a {
            None => {
                other.push(i);
                for list in by_value.values_mut() {
                    list.push(i);
                }
            }
            Some(vs) => {
                for v in vs {
                    if let Some(list) = by_value.get_mut(v) {
                        list.push(i);
                    }
                }
            }
        }
    }
    Some(super::ir::Index {
        path: (path.0, path.1.to_vec()),
        by_value,
        other,
    })
}
