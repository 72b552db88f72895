//! The walk over one module: scopes, refusals and the rewrites of the
//! front end ([`super`]).

use std::collections::HashSet;

use regorus::unstable::{
    ArithOp, BoolOp, Expr, Literal, LiteralStmt, Module, Query, Ref, Rule, RuleHead, Span,
};

use super::syntax::{
    collection_kind, ends_with_string, extent, is_call_like, is_collection, is_equality,
    names_outside_negation, operands, stmt_end, stmt_start, visit_vars,
};
use super::{padded, ref_path, refuse, Bundle, Text, HOIST_PREFIX};
use crate::error::Result;

/// The names bound where the walk is.
#[derive(Clone, Default)]
struct Scope {
    bound: HashSet<String>,
}

/// Bindings to add after a statement (`__c0_ = input.x`).
type Hoists = Vec<String>;

pub(super) struct Walker<'w, 's> {
    bundle: &'w Bundle<'w>,
    module: &'w Module,
    file: &'w str,
    text: &'w mut Text<'s>,
    next: &'w mut usize,
    package: String,
    rules: HashSet<String>,
    imports: HashSet<String>,
    /// The module imports `future.keywords` (or `.not`) or `rego.v2`:
    /// OPA then reads `not expr` as `not { expr }`, evaluating the call's
    /// references inside the negation, as regorus does.
    not_bodies: bool,
    /// Walking inside such a negation: nothing is bound outside it.
    in_not_body: bool,
}

impl<'w, 's> Walker<'w, 's> {
    pub(super) fn new(
        bundle: &'w Bundle<'w>,
        module: &'w Module,
        file: &'w str,
        text: &'w mut Text<'s>,
        next: &'w mut usize,
    ) -> Self {
        let package = super::package_path(module).unwrap_or_default();
        let rules = bundle.rules.get(&package).cloned().unwrap_or_default();
        Walker {
            bundle,
            module,
            file,
            text,
            next,
            package,
            rules,
            imports: HashSet::new(),
            not_bodies: false,
            in_not_body: false,
        }
    }

    /// Walks the module's rules.
    pub(super) fn module(&mut self) -> Result<()> {
        self.reserved_names()?;
        for import in &self.module.imports {
            let Some(parts) = ref_path(&import.refr) else {
                continue;
            };
            let p: Vec<&str> = parts.iter().map(String::as_str).collect();
            if matches!(
                p.as_slice(),
                ["future", "keywords"] | ["future", "keywords", "not"] | ["rego", "v2"]
            ) {
                self.not_bodies = true;
            }
            if matches!(parts.first().map(String::as_str), Some("future" | "rego")) {
                continue;
            }
            let name = match &import.r#as {
                Some(alias) => alias.text().to_string(),
                None => parts.last().cloned().unwrap_or_default(),
            };
            self.imports.insert(name);
        }
        let module = self.module;
        for rule in &module.policy {
            self.rule(rule)?;
        }
        Ok(())
    }

    /// Refuses a policy that names a variable as the front end names its
    /// own (`__c0_`).
    fn reserved_names(&self) -> Result<()> {
        let src = self.text.source;
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let ns = crate::builtins::arith::NAMESPACE;
        for (at, _) in src.match_indices(ns) {
            let before = src[..at].chars().next_back();
            let after = src[at + ns.len()..].chars().next();
            if before.is_some_and(ident) || after.is_some_and(ident) {
                continue;
            }
            return Err(crate::error::EngineError::PolicyCompile {
                location: Some(crate::error::location_at(self.file, src, at)),
                message: format!("`{ns}` is a name reserved by CoreSDK"),
            });
        }
        for (at, _) in src.match_indices(HOIST_PREFIX) {
            if src[..at].chars().next_back().is_some_and(ident) {
                continue;
            }
            let end = src[at..]
                .find(|c: char| !ident(c))
                .map_or(src.len(), |n| at + n);
            let name = &src[at..end];
            if super::is_hoisted(name) {
                return Err(crate::error::EngineError::PolicyCompile {
                    location: Some(crate::error::location_at(self.file, src, at)),
                    message: format!("`{name}`: names of the form __cN_ are reserved by CoreSDK"),
                });
            }
        }
        Ok(())
    }

    /// `scope` with the names `q`'s statements may bind: what they declare,
    /// and what they mention that is not a rule, an import or a document.
    fn with_query(&self, scope: &Scope, q: &Query) -> Scope {
        let mut out = scope.clone();
        let (mut declared, mut mentioned) = (Vec::new(), Vec::new());
        names_outside_negation(q, &mut declared, &mut mentioned);
        out.bound.extend(declared);
        for n in mentioned {
            if n != "input" && n != "data" && !self.rules.contains(&n) && !self.imports.contains(&n)
            {
                out.bound.insert(n);
            }
        }
        out
    }

    fn fresh(&mut self) -> String {
        let n = *self.next;
        *self.next += 1;
        format!("{HOIST_PREFIX}{n}_")
    }

    fn rule(&mut self, rule: &'w Ref<Rule>) -> Result<()> {
        let Rule::Spec { span, head, bodies } = rule.as_ref() else {
            if let Rule::Default { value, .. } = rule.as_ref() {
                // A default value is a constant: the rewrite of an
                // exponent literal into a call cannot go there.
                if let Some(span) = exponent_literal(value) {
                    return Err(refuse(
                        self.file,
                        span,
                        format!(
                            "the default value's number {} has an exponent and an integral value or is beyond 64 bits, which CoreSDK holds as a double written by a call (OPA reads the first as a floating-point number); write it within 64 bits without the exponent, or in a rule that is not a default",
                            span.text()
                        ),
                    ));
                }
                self.value(value, &Scope::default(), &mut Hoists::new())?;
            }
            return Ok(());
        };
        let mut params = Scope::default();
        let (value, every_body) = match head {
            RuleHead::Func {
                refr, args, assign, ..
            } => {
                let mut seen = HashSet::new();
                for a in args {
                    let mut names: Vec<(Span, String)> = Vec::new();
                    visit_vars(
                        a,
                        &mut |s: &Span, n: &str| names.push((s.clone(), n.to_string())),
                        &mut |_: &Expr| {},
                    );
                    for (s, n) in names {
                        if n == "_" {
                            continue;
                        }
                        if !seen.insert(n.clone()) {
                            return Err(refuse(
                                self.file,
                                &s,
                                format!(
                                    "function `{}` repeats parameter `{n}`: OPA requires the arguments to be equal, regorus does not; compare them in the body instead (`f(a, b) if a == b`)",
                                    refr.span().text()
                                ),
                            ));
                        }
                        params.bound.insert(n);
                    }
                }
                (assign.as_ref().map(|a| a.value.as_ref()), false)
            }
            RuleHead::Compr { assign, .. } => (assign.as_ref().map(|a| a.value.as_ref()), false),
            RuleHead::Set { key, .. } => (key.as_ref().map(|k| k.as_ref()), true),
        };
        if bodies.is_empty() {
            if let Some(v) = value {
                let mut hoists = Hoists::new();
                self.value(v, &params, &mut hoists)?;
                if !hoists.is_empty() {
                    let body = hoists.join("; ");
                    let text = if self.bundle.rego_v0 {
                        format!(" {{{body}}}")
                    } else {
                        format!(" if{{{body}}}")
                    };
                    let end = span.end as usize + usize::from(ends_with_string(v));
                    self.text.edit(end, end, text);
                }
            }
            return Ok(());
        }
        // The head's value is walked once (its text is rewritten once);
        // its bindings go to the first body, or to every body of a set
        // rule.
        let mut head_hoists = Hoists::new();
        if let Some(v) = value {
            let scope = self.with_query(&params, &bodies[0].query);
            self.value(v, &scope, &mut head_hoists)?;
        }
        for (i, body) in bodies.iter().enumerate() {
            let scope = self.with_query(&params, &body.query);
            let mut extra = if i == 0 || every_body {
                head_hoists.clone()
            } else {
                Hoists::new()
            };
            if i > 0 && !every_body {
                if let Some(a) = &body.assign {
                    self.else_value_safe(&a.value, &body.query, &params)?;
                    self.value(&a.value, &scope, &mut extra)?;
                }
            }
            self.query(&body.query, &scope, true, extra)?;
        }
        Ok(())
    }

    /// An `else` value's variables must be bound by its own body (or be a
    /// function parameter, a rule, an import, `input` or `data`): OPA
    /// refuses `else := z if { input.b }` at compile time (`var z is
    /// unsafe`); regorus loaded it and answered whenever an earlier body
    /// held. A name the body mentions is left to regorus's own check.
    fn else_value_safe(&self, value: &Expr, body: &Query, params: &Scope) -> Result<()> {
        let mut names: Vec<(Span, String)> = Vec::new();
        visit_vars(
            value,
            &mut |s: &Span, n: &str| names.push((s.clone(), n.to_string())),
            &mut |_: &Expr| {},
        );
        if names.is_empty() {
            return Ok(());
        }
        let mut declared = Vec::new();
        let mut mentioned = Vec::new();
        names_outside_negation(body, &mut declared, &mut mentioned);
        for (span, n) in names {
            // `_` iterates (`else := xs[_]`), as OPA reads it.
            let known = n == "_"
                || n == "input"
                || n == "data"
                || params.bound.contains(&n)
                || self.rules.contains(&n)
                || self.imports.contains(&n)
                || declared.contains(&n)
                || mentioned.contains(&n);
            if !known {
                return Err(refuse(
                    self.file,
                    &span,
                    format!("rego_unsafe_var_error: var {n} is unsafe"),
                ));
            }
        }
        Ok(())
    }

    /// Walks `q` in `scope` (already extended with `q`'s names); `extra`:
    /// bindings for a value computed after the query (added after its last
    /// statement). `rule_body`: a rule's body, which may be written without
    /// braces.
    fn query(&mut self, q: &'w Query, scope: &Scope, rule_body: bool, extra: Hoists) -> Result<()> {
        let last = q.stmts.len().saturating_sub(1);
        let mut extra = Some(extra);
        for (i, stmt) in q.stmts.iter().enumerate() {
            let mut hoists = Hoists::new();
            self.stmt(stmt, scope, &mut hoists)?;
            if let (Some(first), Some(last)) = (stmt.with_mods.first(), stmt.with_mods.last()) {
                // The bindings are evaluated under the statement's `with`
                // modifiers, as OPA's compiler gives them.
                let start = first.span.start as usize;
                let end = extent(&last.r#as).1.max(last.span.end as usize);
                let with = self.text.source[start..end].replace(['\n', '\r'], " ");
                for h in &mut hoists {
                    h.push(' ');
                    h.push_str(&with);
                }
            }
            let after = if i == last {
                extra.take().unwrap_or_default()
            } else {
                Hoists::new()
            };
            let braced = self.text.source[q.span.start as usize..].starts_with('{');
            if rule_body && !braced {
                // `allow if cond`: one statement, so nothing can be
                // reordered around it; the bindings go after it, in braces.
                hoists.extend(after);
                if !hoists.is_empty() {
                    self.append_after(q, stmt, true, &hoists);
                }
                continue;
            }
            if !hoists.is_empty() {
                // Before the statement, in OPA's order: regorus's
                // scheduler keeps the order of statements that are ready,
                // so a binding placed after would let a later statement run
                // first (and fail the body where OPA raises).
                self.insert_before(q, i, &hoists);
            }
            if !after.is_empty() {
                self.append_after(q, stmt, false, &after);
            }
        }
        Ok(())
    }

    /// Adds `hoists` before statement `i` of `q`: at the end of the
    /// statement before it (so the line of statement `i` keeps its
    /// columns), or at the start of the first statement.
    fn insert_before(&mut self, q: &Query, i: usize, hoists: &[String]) {
        if i > 0 {
            let end = stmt_end(&q.stmts[i - 1]);
            self.text.edit(end, end, format!("; {}", hoists.join("; ")));
        } else {
            let start = stmt_start(&q.stmts[0]);
            self.text
                .edit(start, start, format!("{}; ", hoists.join("; ")));
        }
    }

    /// Adds `hoists` after `stmt` of `q`, wrapping a brace-less rule body
    /// in braces first.
    fn append_after(&mut self, q: &Query, stmt: &LiteralStmt, rule_body: bool, hoists: &[String]) {
        let src = self.text.source;
        let start = q.span.start as usize;
        let braced = src[start..].starts_with('{');
        let mut text = format!("; {}", hoists.join("; "));
        if rule_body && !braced {
            // `allow if cond` becomes `allow if{cond; ...}`: the space
            // before the body takes the brace, keeping columns.
            if src[..start].ends_with([' ', '\t']) {
                self.text.edit(start - 1, start, "{".into());
            } else {
                self.text.edit(start, start, "{".into());
            }
            text.push('}');
        }
        let end = stmt_end(stmt);
        self.text.edit(end, end, text);
    }

    fn stmt(&mut self, stmt: &'w LiteralStmt, scope: &Scope, hoists: &mut Hoists) -> Result<()> {
        match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                for v in vars {
                    if self.rules.contains(v.text()) {
                        return Err(refuse(
                            self.file,
                            v,
                            format!(
                                "`some {n}` declares `{n}`, which is also a rule of {}: OPA declares a fresh variable, regorus reads the rule; rename the variable",
                                self.package,
                                n = v.text()
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Literal::SomeIn { collection, .. } => {
                self.value(collection, scope, hoists)?;
                // OPA iterates nothing in a scalar; regorus raises. (Not
                // when the collection binds a variable itself, as
                // `some x in data.a[k]` with `k` fresh: a call's argument
                // cannot.)
                if static_ref(collection) {
                    let (start, end) = extent(collection);
                    let text = self.text.take(start, end);
                    self.text.edit(
                        start,
                        end,
                        format!("{}.iter({text})", crate::builtins::arith::NAMESPACE),
                    );
                }
                Ok(())
            }
            Literal::Expr { expr, .. } => match expr.as_ref() {
                Expr::Call { fcn, params, .. } if self.output_arg(fcn, params) => {
                    for p in params {
                        self.value(p, scope, hoists)?;
                    }
                    self.output_call(expr, params);
                    Ok(())
                }
                // A membership test as a statement: undefined and false
                // both fail the body.
                Expr::Membership { .. } => {
                    for o in operands(expr) {
                        self.value(o, scope, hoists)?;
                    }
                    Ok(())
                }
                e => self.value(e, scope, hoists),
            },
            Literal::NotExpr { expr, .. } => self.negation(expr, scope, hoists),
            Literal::Every {
                key,
                value,
                domain,
                query,
                ..
            } => {
                self.value(domain, scope, hoists)?;
                let mut inner = scope.clone();
                if let Some(k) = key {
                    inner.bound.insert(k.text().to_string());
                }
                inner.bound.insert(value.text().to_string());
                let inner = self.with_query(&inner, query);
                self.query(query, &inner, false, Hoists::new())
            }
        }
    }

    /// Whether a call statement `fcn(params)` to one of CoreSDK's own
    /// builtins passes an output argument (one argument more than its
    /// arity): regorus recognises that form only for its own builtins.
    fn output_arg(&self, fcn: &Expr, params: &[Ref<Expr>]) -> bool {
        let Some(path) = ref_path(fcn) else {
            return false;
        };
        let name = path.join(".");
        // A rule of the package, or an import, by that name is not the builtin.
        let head = path.first().map(String::as_str).unwrap_or_default();
        if self.rules.contains(head) || self.imports.contains(head) {
            return false;
        }
        crate::builtins::arity(&name).is_some_and(|n| n >= 1 && params.len() == n + 1)
    }

    /// Whether `fcn` names OPA's builtin `name` (not a rule, function or
    /// import of the module by that name).
    fn is_builtin(&self, fcn: &Expr, name: &str) -> bool {
        let Some(path) = ref_path(fcn) else {
            return false;
        };
        path.len() == 1
            && path[0] == name
            && !self.rules.contains(name)
            && !self.imports.contains(name)
    }

    /// `walk(x)` as a value (`[path, value] := walk(x)`, `v = walk(x)`,
    /// `count([1 | walk(x)])`): OPA's relation form, one value per nested
    /// document; regorus yields nothing there, so a deny rule reading it
    /// never fired. It becomes a fresh variable bound by `walk(x, v)`
    /// before the statement, the form regorus evaluates as OPA does.
    fn walk_relation(&mut self, call: &Expr, hoists: &mut Hoists) {
        // The argument is the text between the call's parentheses (with its
        // own rewrites applied): regorus's span of an object literal does
        // not always start at its brace.
        let (start, end) = extent(call);
        let original = &self.text.source[start..end];
        let text = self.text.take(start, end);
        let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else {
            self.text.edit(start, end, text);
            return;
        };
        let mut arg = text[open + 1..close].trim().to_string();
        if arg.contains('\n') && !arg.contains(['`', '#']) {
            arg = arg.replace(['\n', '\r'], " ");
        }
        let name = self.fresh();
        hoists.push(format!("walk({arg}, {name})"));
        self.text.edit(start, end, padded(&name, original));
    }

    /// `f(a, b, out)` becomes `f(a, b)=out` ([`super::output_call`]).
    fn output_call(&mut self, call: &Expr, params: &[Ref<Expr>]) {
        super::output_call(self.text, call, params);
    }

    /// Whether `e` is a reference in OPA's sense (a ref term: `input.x`,
    /// `x.y`, a rule, an import), as opposed to a local or a constant.
    fn is_ref(&self, e: &Expr, scope: &Scope) -> bool {
        match e {
            Expr::RefDot { .. } | Expr::RefBrack { .. } => true,
            Expr::Var { span, .. } => {
                let n = span.text();
                n != "_"
                    && !scope.bound.contains(n)
                    && (n == "input"
                        || n == "data"
                        || self.rules.contains(n)
                        || self.imports.contains(n))
            }
            _ => false,
        }
    }

    /// Whether `e` may be undefined: a reference, a call, or a collection
    /// literal holding one.
    fn may_be_undefined(&self, e: &Expr, scope: &Scope) -> bool {
        if self.is_ref(e, scope) || is_call_like(e) {
            return true;
        }
        match e {
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().any(|i| self.may_be_undefined(i, scope))
            }
            Expr::Object { fields, .. } => fields.iter().any(|(_, k, v)| {
                self.may_be_undefined(k, scope) || self.may_be_undefined(v, scope)
            }),
            _ => false,
        }
    }

    /// `not e`: OPA's safety check, then OPA's hoisting of the call's
    /// references and nested calls out of the negation.
    fn negation(&mut self, e: &'w Expr, scope: &Scope, hoists: &mut Hoists) -> Result<()> {
        self.check_safe(e, scope)?;
        self.type_check(e)?;
        if self.not_bodies {
            // OPA evaluates everything inside the negation: so does regorus.
            self.in_not_body = true;
            let r = self.value(e, scope, hoists);
            self.in_not_body = false;
            return r;
        }
        if is_equality(e) {
            for o in operands(e) {
                if is_call_like(o) || (is_collection(o) && self.may_be_undefined(o, scope)) {
                    self.hoist(o, scope, hoists)?;
                } else if matches!(o, Expr::RefDot { .. } | Expr::RefBrack { .. }) {
                    self.dynamic_indices(o, scope, hoists)?;
                } else {
                    self.value(o, scope, hoists)?;
                }
            }
        } else if is_call_like(e) {
            for o in operands(e) {
                if self.is_ref(o, scope)
                    || is_call_like(o)
                    || (is_collection(o) && self.may_be_undefined(o, scope))
                {
                    self.hoist(o, scope, hoists)?;
                } else {
                    self.value(o, scope, hoists)?;
                }
            }
            if let Expr::Call { fcn, params, .. } = e {
                if params.len() == 1 && self.is_builtin(fcn, "walk") {
                    // `not walk(x)`: OPA negates the relation, which always
                    // has a value ([[], x]) once `x` is defined (bound
                    // before the `not`), so the negation fails; regorus's
                    // one-argument form has none, and it held. `not [x]`
                    // fails alike.
                    let (start, end) = extent(e);
                    let call = self.text.take(start, end);
                    let (open, close) = (call.find('('), call.rfind(')'));
                    let text = match (open, close) {
                        (Some(o), Some(c)) if o < c => {
                            format!("{:w$}[{}]", "", &call[o + 1..c], w = o)
                        }
                        _ => call,
                    };
                    self.text.edit(start, end, text);
                }
            }
            self.arith(e);
        } else if matches!(e, Expr::RefDot { .. } | Expr::RefBrack { .. }) {
            self.dynamic_indices(e, scope, hoists)?;
        } else if is_collection(e) && self.may_be_undefined(e, scope) {
            self.hoist(e, scope, hoists)?;
        } else {
            self.value(e, scope, hoists)?;
        }
        Ok(())
    }

    /// The computed indices of a reference (`a[input.k]`, `a[f(x)]`),
    /// bound before the negation that holds it.
    fn dynamic_indices(&mut self, e: &'w Expr, scope: &Scope, hoists: &mut Hoists) -> Result<()> {
        match e {
            Expr::RefDot { refr, .. } => self.dynamic_indices(refr, scope, hoists),
            Expr::RefBrack { refr, index, .. } => {
                self.numeric_key(refr, index, scope)?;
                if self.is_ref(index, scope) || is_call_like(index) {
                    self.hoist(index, scope, hoists)?;
                } else {
                    self.value(index, scope, hoists)?;
                }
                self.dynamic_indices(refr, scope, hoists)
            }
            _ => self.value(e, scope, hoists),
        }
    }

    /// Binds `e` to a fresh variable after the statement and puts the
    /// variable in its place.
    fn hoist(&mut self, e: &'w Expr, scope: &Scope, hoists: &mut Hoists) -> Result<()> {
        // What `e` holds is rewritten first (its own bindings come first).
        self.value(e, scope, hoists)?;
        let (start, end) = extent(e);
        let original = &self.text.source[start..end];
        let mut text = self.text.take(start, end);
        if text.contains('\n') && !text.contains(['`', '#']) {
            text = text.replace(['\n', '\r'], " ");
        }
        let name = self.fresh();
        hoists.push(format!("{name} = {text}"));
        self.text.edit(start, end, padded(&name, original));
        Ok(())
    }

    /// `a + b` (and `-`, `*`, `/`, `%`) becomes `__coresdk.plus(a, b)`:
    /// arithmetic as OPA answers it, or an error ([`crate::builtins`]'s
    /// `arith`). The operands are already rewritten.
    fn arith(&mut self, e: &Expr) {
        let Expr::ArithExpr { op, lhs, rhs, .. } = e else {
            return;
        };
        let name = match op {
            ArithOp::Add => "plus",
            ArithOp::Sub => "minus",
            ArithOp::Mul => "mul",
            ArithOp::Div => "div",
            ArithOp::Mod => "rem",
        };
        let (ls, le) = extent(lhs);
        let (rs, re) = extent(rhs);
        let l = self.text.take(ls, le);
        let r = self.text.take(rs, re);
        let (start, end) = extent(e);
        let _ = self.text.take(start, end);
        self.text.edit(
            start,
            end,
            format!("{}.{name}({l}, {r})", crate::builtins::arith::NAMESPACE),
        );
    }

    /// `a < b` (and `<=`, `>`, `>=`) becomes `__coresdk.order(a, b) < 0`:
    /// OPA's order of values, which regorus does not keep for objects and
    /// sets ([`crate::builtins`]'s `order`: `input.x > {"a"}` with an
    /// object `input.x` is `true` in regorus, `false` in OPA). A comparison
    /// with a scalar literal on either side orders alike in both and is
    /// kept as written. The operands are already rewritten.
    fn order(&mut self, e: &Expr) {
        let Expr::BoolExpr { op, lhs, rhs, .. } = e else {
            return;
        };
        let symbol = match op {
            BoolOp::Lt => "<",
            BoolOp::Le => "<=",
            BoolOp::Gt => ">",
            BoolOp::Ge => ">=",
            BoolOp::Eq | BoolOp::Ne => return,
        };
        let scalar = |x: &Expr| {
            matches!(
                x,
                Expr::String { .. }
                    | Expr::RawString { .. }
                    | Expr::Number { .. }
                    | Expr::Bool { .. }
                    | Expr::Null { .. }
            )
        };
        if scalar(lhs) || scalar(rhs) {
            return;
        }
        let (ls, le) = extent(lhs);
        let (rs, re) = extent(rhs);
        let l = self.text.take(ls, le);
        let r = self.text.take(rs, re);
        let (start, end) = extent(e);
        let _ = self.text.take(start, end);
        self.text.edit(
            start,
            end,
            format!(
                "{}.order({l}, {r}) {symbol} 0",
                crate::builtins::arith::NAMESPACE
            ),
        );
    }

    /// OPA's safety rule for negation: every variable in `not e` must be
    /// bound outside it (`not input.roles[_] == "banned"` is
    /// `rego_unsafe_var_error`, where regorus reads "some role is not
    /// banned").
    fn check_safe(&self, e: &Expr, scope: &Scope) -> Result<()> {
        let mut unsafe_var: Option<(Span, String)> = None;
        visit_vars(
            e,
            &mut |s: &Span, n: &str| {
                if unsafe_var.is_some() {
                    return;
                }
                let known = n != "_"
                    && (scope.bound.contains(n)
                        || n == "input"
                        || n == "data"
                        || self.rules.contains(n)
                        || self.imports.contains(n));
                if !known {
                    unsafe_var = Some((s.clone(), n.to_string()));
                }
            },
            &mut |_: &Expr| {},
        );
        match unsafe_var {
            Some((s, n)) => Err(refuse(
                self.file,
                &s,
                format!(
                    "rego_unsafe_var_error: var {n} is unsafe: a variable inside `not` must be bound outside it (write the iteration as a rule and negate the rule)"
                ),
            )),
            None => Ok(()),
        }
    }

    /// OPA's type check of an equality between two collection literals of
    /// different kinds (`rego_type_error: match error`).
    fn type_check(&self, e: &Expr) -> Result<()> {
        if !is_equality(e) {
            return Ok(());
        }
        let ops = operands(e);
        if let [a, b] = ops.as_slice() {
            if let (Some(x), Some(y)) = (collection_kind(a), collection_kind(b)) {
                if x != y {
                    return Err(refuse(
                        self.file,
                        e.span(),
                        format!("rego_type_error: match error: an {x} compared with a {y} never matches (OPA refuses the policy)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Walks a value: memberships used as values get their operands bound
    /// first (regorus answers `false` where OPA is undefined), data lookups
    /// with a computed key go through a local copy.
    fn value(&mut self, e: &'w Expr, scope: &Scope, hoists: &mut Hoists) -> Result<()> {
        match e {
            Expr::Number { span, .. } if crate::numbers::literal_is_double(span.text()) => {
                // regorus reads `1e3` as the integer 1000, OPA as a
                // floating-point number (sprintf, json.marshal and integer
                // operands tell them apart), and an integer beyond 64 bits
                // as a big integer, which it would compare with doubles by
                // their binary values: the literal becomes a double.
                let (start, end) = (span.start as usize, span.end as usize);
                let _ = self.text.take(start, end);
                self.text.edit(
                    start,
                    end,
                    format!("{}.float(\"{}\")", crate::builtins::arith::NAMESPACE, span.text()),
                );
                Ok(())
            }
            Expr::Number { span, .. } if !crate::numbers::is_exact_literal(span.text()) => Err(refuse(
                self.file,
                span,
                format!(
                    "the number {} has more precision than CoreSDK evaluates exactly (an IEEE double; from 2^64 up every number is one), where OPA compares decimals exactly",
                    span.text()
                ),
            )),
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. }
            | Expr::Var { .. } => Ok(()),
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                for i in items {
                    self.value(i, scope, hoists)?;
                }
                Ok(())
            }
            Expr::Object { fields, .. } => {
                for (_, k, v) in fields {
                    self.value(k, scope, hoists)?;
                    self.value(v, scope, hoists)?;
                }
                Ok(())
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                let inner = self.with_query(scope, query);
                let mut term_hoists = Hoists::new();
                self.value(term, &inner, &mut term_hoists)?;
                self.query(query, &inner, false, term_hoists)
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                let inner = self.with_query(scope, query);
                let mut term_hoists = Hoists::new();
                self.value(key, &inner, &mut term_hoists)?;
                self.value(value, &inner, &mut term_hoists)?;
                self.query(query, &inner, false, term_hoists)
            }
            Expr::Call { fcn, params, .. } => {
                for p in params {
                    self.value(p, scope, hoists)?;
                }
                if params.len() == 1 && self.is_builtin(fcn, "walk") {
                    self.walk_relation(e, hoists);
                }
                Ok(())
            }
            Expr::UnaryExpr { expr, .. } => self.value(expr, scope, hoists),
            Expr::RefDot { refr, .. } => self.value(refr, scope, hoists),
            Expr::RefBrack { refr, index, .. } => {
                self.numeric_key(refr, index, scope)?;
                self.value(refr, scope, hoists)?;
                self.value(index, scope, hoists)
            }
            Expr::ArithExpr { lhs, rhs, .. } => {
                self.value(lhs, scope, hoists)?;
                self.value(rhs, scope, hoists)?;
                self.arith(e);
                Ok(())
            }
            Expr::BoolExpr { lhs, rhs, .. } => {
                self.type_check(e)?;
                self.value(lhs, scope, hoists)?;
                self.value(rhs, scope, hoists)?;
                self.order(e);
                Ok(())
            }
            Expr::BinExpr { lhs, rhs, .. } | Expr::AssignExpr { lhs, rhs, .. } => {
                self.type_check(e)?;
                self.value(lhs, scope, hoists)?;
                self.value(rhs, scope, hoists)
            }
            Expr::Membership { .. } => {
                for o in operands(e) {
                    if !self.in_not_body && self.may_be_undefined(o, scope) {
                        self.hoist(o, scope, hoists)?;
                    } else {
                        self.value(o, scope, hoists)?;
                    }
                }
                Ok(())
            }
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    }

    /// `data.a.b[k]` with a computed or number `k`. OPA's storage reads a
    /// number key into base data by its text (`data.perms[3]` finds `"3"`,
    /// `[3.0]` finds `"3.0"`); regorus renders the number (`3.0` finds
    /// `"3"`), and also converts for a rule's value, where OPA does not.
    /// Where that can matter:
    /// - base data holding an object with keys that read as numbers: a
    ///   number literal with a fraction or exponent becomes its text
    ///   (`data.perms["3.0"]`), a computed key goes through
    ///   `__coresdk.key(k)`, which gives OPA's text;
    /// - a rule's value that may hold such keys: the lookup is written
    ///   `[data.a.b][0][k]`, which regorus indexes without converting.
    fn numeric_key(&mut self, refr: &Expr, index: &Expr, scope: &Scope) -> Result<()> {
        let Some(parts) = ref_path(refr) else {
            return Ok(());
        };
        if parts.first().map(String::as_str) != Some("data") || scope.bound.contains("data") {
            return Ok(());
        }
        // Only a key that binds nothing is rewritten: `data.a[k]` with `k`
        // fresh iterates, and an iteration cannot go through a call.
        let literal = matches!(
            index,
            Expr::String { .. } | Expr::RawString { .. } | Expr::Number { .. }
        );
        let plain_ref = static_ref(index) && !matches!(index, Expr::Var { .. });
        if !(literal || plain_ref) {
            return Ok(());
        }
        let path = parts.join(".");
        let packages = &self.bundle.packages;
        if packages
            .iter()
            .any(|p| p == &path || p.starts_with(&format!("{path}.")))
        {
            // A package (or a prefix of one): its keys are rule names.
            return Ok(());
        }
        let literal_key = matches!(index, Expr::String { .. } | Expr::RawString { .. });
        if packages.iter().any(|p| path.starts_with(&format!("{p}."))) {
            if !literal_key && !self.bundle.plain_rules.contains(&path) {
                let (start, end) = extent(refr);
                let text = self.text.take(start, end);
                self.text.edit(start, end, format!("[{text}][0]"));
            }
            return Ok(());
        }
        let mut node = self.bundle.data;
        for k in &parts[1..] {
            node = node.get(k).unwrap_or(&serde_json::Value::Null);
        }
        let (start, end) = extent(index);
        if node.is_array() {
            // OPA's storage reads a text index into an array as an integer
            // (`data.list["1"]` is its second element); regorus does not.
            match index {
                Expr::String { value, .. } | Expr::RawString { value, .. } => {
                    if let Ok(i) = value
                        .as_string()
                        .map_err(|_| ())
                        .and_then(|s| s.parse::<i64>().map_err(|_| ()))
                    {
                        let original = &self.text.source[start..end];
                        self.text
                            .edit(start, end, super::padded(&i.to_string(), original));
                    }
                }
                Expr::Number { .. } => {}
                _ => {
                    let text = self.text.take(start, end);
                    self.text.edit(
                        start,
                        end,
                        format!("{}.index({text})", crate::builtins::arith::NAMESPACE),
                    );
                }
            }
            return Ok(());
        }
        if literal_key {
            return Ok(());
        }
        let numeric = |k: &str| serde_json::from_str::<serde_json::Number>(k.trim()).is_ok();
        let Some(object) = node.as_object() else {
            return Ok(());
        };
        if !object.keys().any(|k| numeric(k)) {
            return Ok(());
        }
        // A key that reads as a number but is not an integer's digits
        // (`"3.0"`, `"-0"`, `"1e2"`) is found by OPA only for a number
        // written exactly so, and regorus keeps no number's text: refused.
        let canonical = |k: &str| {
            let digits = k.strip_prefix('-').unwrap_or(k);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
                && k != "-0"
        };
        let computed = !matches!(index, Expr::Number { .. });
        if let Some(k) = object
            .keys()
            .find(|k| computed && numeric(k) && !canonical(k))
        {
            return Err(refuse(
                self.file,
                index.span(),
                format!(
                    "{path} is indexed with a computed key and holds the key {k:?}: OPA finds it only for a number written exactly so, and CoreSDK cannot tell how an input number was written; use text keys or integer digits"
                ),
            ));
        }
        match index {
            Expr::Number { span, .. } => {
                let t = span.text();
                if t.contains(['.', 'e', 'E']) || t.starts_with("-0") {
                    self.text.edit(start, end, format!("\"{t}\""));
                }
            }
            _ => {
                let text = self.text.take(start, end);
                self.text.edit(
                    start,
                    end,
                    format!("{}.key({text})", crate::builtins::arith::NAMESPACE),
                );
            }
        }
        Ok(())
    }
}

/// A plain reference with no computed key (`input.roles`, `x.items`,
/// `data.a["b"][0]`): it binds no variable, so it can be a call's argument.
fn static_ref(e: &Expr) -> bool {
    match e {
        Expr::Var { span, .. } => span.text() != "_",
        Expr::RefDot { refr, .. } => static_ref(refr),
        Expr::RefBrack { refr, index, .. } => {
            matches!(
                index.as_ref(),
                Expr::String { .. } | Expr::RawString { .. } | Expr::Number { .. }
            ) && static_ref(refr)
        }
        _ => false,
    }
}

/// The first number literal in the constant `e` written as a double (see
/// [`crate::numbers::literal_is_double`]).
fn exponent_literal(e: &Expr) -> Option<&Span> {
    match e {
        Expr::Number { span, .. } if crate::numbers::literal_is_double(span.text()) => Some(span),
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().find_map(|x| exponent_literal(x))
        }
        Expr::Object { fields, .. } => fields
            .iter()
            .find_map(|(_, k, v)| exponent_literal(k).or_else(|| exponent_literal(v))),
        _ => None,
    }
}
