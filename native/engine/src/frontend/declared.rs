//! OPA's checks of declared variables, which regorus does not make: a
//! policy OPA refuses to compile must not load here and answer.
//!
//! * `some x` in a body that never mentions `x` again (nor the rule's head
//!   or the comprehension's term): `rego_compile_error: declared var x
//!   unused`. (`some x in xs` binds `x` and is not checked, as in OPA.)
//! * `every k, v in xs { ... }` whose body never mentions `k` or `v`
//!   (`_` excepted): the same error.
//! * `some x` followed by `x := ...` in the same body: `rego_compile_error:
//!   var x declared above`.
//! * `some x` that only the rule's head, an `else` value or the
//!   comprehension's term mentions: `rego_unsafe_var_error: var x is
//!   unsafe` (regorus answered with nothing bound: `p contains y if { some
//!   y; input.a }` was an empty set, so `allow if count(p) == 0` allowed).
//!
//! regorus accepted each of these, and `allow if { some y; input.ok }` or
//! `allow if { every k, v in input.xs { v > 0 } }` allowed where OPA never
//! loads the policy (ast/compile.go, `rewriteDeclaredVarsInBody` and
//! `checkUnusedDeclaredVars`).

use std::collections::HashSet;

use regorus::unstable::{AssignOp, Expr, Literal, LiteralStmt, Module, Query, Rule, RuleHead};

use super::refuse;
use super::syntax::visit_vars;
use crate::error::Result;

/// Refuses the first declared variable of `module` that OPA's compiler
/// reports.
pub(super) fn check(module: &Module, file: &str) -> Result<()> {
    for rule in &module.policy {
        match rule.as_ref() {
            Rule::Spec { head, bodies, .. } => {
                let mut used = HashSet::new();
                head_names(head, &mut used);
                for body in bodies {
                    let mut used = used.clone();
                    if let Some(a) = &body.assign {
                        expr_names(&a.value, &mut used);
                    }
                    query(&body.query, &used, file)?;
                }
                // Comprehensions in the head have queries of their own.
                for e in head_exprs(head) {
                    nested(e, file)?;
                }
            }
            Rule::Default { value, args, .. } => {
                nested(value, file)?;
                for a in args {
                    nested(a, file)?;
                }
            }
        }
    }
    Ok(())
}

/// The expressions of a rule head (its reference, key, value, arguments).
fn head_exprs(head: &RuleHead) -> Vec<&Expr> {
    match head {
        RuleHead::Compr { refr, assign, .. } => {
            let mut v = vec![refr.as_ref()];
            v.extend(assign.as_ref().map(|a| a.value.as_ref()));
            v
        }
        RuleHead::Set { refr, key, .. } => {
            let mut v = vec![refr.as_ref()];
            v.extend(key.as_ref().map(|k| k.as_ref()));
            v
        }
        RuleHead::Func {
            refr, args, assign, ..
        } => {
            let mut v = vec![refr.as_ref()];
            v.extend(args.iter().map(|a| a.as_ref()));
            v.extend(assign.as_ref().map(|a| a.value.as_ref()));
            v
        }
    }
}

fn head_names(head: &RuleHead, out: &mut HashSet<String>) {
    for e in head_exprs(head) {
        expr_names(e, out);
    }
}

/// Every variable name `e` mentions, comprehensions included.
fn expr_names(e: &Expr, out: &mut HashSet<String>) {
    let mut comprs = Vec::new();
    visit_vars(
        e,
        &mut |_, n| {
            out.insert(n.to_string());
        },
        &mut |c| comprs.push(c),
    );
    for c in comprs {
        // A comprehension's own declarations shadow: its mentions of those
        // names are not the enclosing body's.
        let mut inner = HashSet::new();
        let q = match c {
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                expr_names(term, &mut inner);
                query
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                expr_names(key, &mut inner);
                expr_names(value, &mut inner);
                query
            }
            _ => continue,
        };
        query_names(q, &mut inner);
        let declared = declarations(q);
        out.extend(inner.into_iter().filter(|n| !declared.contains(n)));
    }
}

/// The names a query declares itself: `some x`, `some k, v in xs`, `x := e`.
fn declarations(q: &Query) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut skip = |_: &Expr| {};
    for stmt in &q.stmts {
        let mut add = |_: &regorus::unstable::Span, n: &str| {
            out.insert(n.to_string());
        };
        match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                for v in vars {
                    add(v, v.text());
                }
            }
            Literal::SomeIn { key, value, .. } => {
                if let Some(k) = key {
                    visit_vars(k, &mut add, &mut skip);
                }
                visit_vars(value, &mut add, &mut skip);
            }
            Literal::Expr { expr, .. } => {
                if let Expr::AssignExpr {
                    op: AssignOp::ColEq,
                    lhs,
                    ..
                } = expr.as_ref()
                {
                    visit_vars(lhs, &mut add, &mut skip);
                }
            }
            _ => {}
        }
    }
    out
}

/// Every variable name a statement mentions, nested queries included.
fn stmt_names(stmt: &LiteralStmt, out: &mut HashSet<String>) {
    match &stmt.literal {
        Literal::SomeVars { vars, .. } => {
            out.extend(vars.iter().map(|v| v.text().to_string()));
        }
        Literal::SomeIn {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(k) = key {
                expr_names(k, out);
            }
            expr_names(value, out);
            expr_names(collection, out);
        }
        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => expr_names(expr, out),
        Literal::Every {
            key,
            value,
            domain,
            query,
            ..
        } => {
            if let Some(k) = key {
                out.insert(k.text().to_string());
            }
            out.insert(value.text().to_string());
            expr_names(domain, out);
            query_names(query, out);
        }
    }
    for w in &stmt.with_mods {
        expr_names(&w.refr, out);
        expr_names(&w.r#as, out);
    }
}

fn query_names(q: &Query, out: &mut HashSet<String>) {
    for s in &q.stmts {
        stmt_names(s, out);
    }
}

/// Checks `q`, whose enclosing rule head or comprehension term mentions
/// `used`, and the queries nested in it.
fn query(q: &Query, used: &HashSet<String>, file: &str) -> Result<()> {
    for (i, stmt) in q.stmts.iter().enumerate() {
        if let Literal::SomeVars { vars, .. } = &stmt.literal {
            for v in vars {
                let name = v.text();
                if name == "_" {
                    continue;
                }
                let mut others = HashSet::new();
                for (j, s) in q.stmts.iter().enumerate() {
                    if j != i {
                        stmt_names(s, &mut others);
                    }
                }
                if !others.contains(name) {
                    // Only the head (or the comprehension's term) names it:
                    // nothing binds it.
                    let message = if used.contains(name) {
                        format!("rego_unsafe_var_error: var {name} is unsafe")
                    } else {
                        format!("rego_compile_error: declared var {name} unused")
                    };
                    return Err(refuse(file, v, message));
                }
                for s in &q.stmts[i + 1..] {
                    if let Literal::Expr { expr, .. } = &s.literal {
                        if let Expr::AssignExpr {
                            op: AssignOp::ColEq,
                            lhs,
                            ..
                        } = expr.as_ref()
                        {
                            let mut assigned = HashSet::new();
                            expr_names(lhs, &mut assigned);
                            if assigned.contains(name) {
                                return Err(refuse(
                                    file,
                                    expr.span(),
                                    format!("rego_compile_error: var {name} declared above"),
                                ));
                            }
                        }
                    }
                }
            }
        }
        statement(stmt, file)?;
    }
    Ok(())
}

/// The queries nested in one statement: `every` bodies (with their key and
/// value checked) and comprehensions.
fn statement(stmt: &LiteralStmt, file: &str) -> Result<()> {
    match &stmt.literal {
        Literal::SomeVars { .. } => {}
        Literal::SomeIn {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(k) = key {
                nested(k, file)?;
            }
            nested(value, file)?;
            nested(collection, file)?;
        }
        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => nested(expr, file)?,
        Literal::Every {
            key,
            value,
            domain,
            query: body,
            ..
        } => {
            nested(domain, file)?;
            let mut mentioned = HashSet::new();
            query_names(body, &mut mentioned);
            for v in key.iter().chain(std::iter::once(value)) {
                let name = v.text();
                if name != "_" && !mentioned.contains(name) {
                    return Err(refuse(
                        file,
                        v,
                        format!("rego_compile_error: declared var {name} unused"),
                    ));
                }
            }
            query(body, &HashSet::new(), file)?;
        }
    }
    for w in &stmt.with_mods {
        nested(&w.r#as, file)?;
    }
    Ok(())
}

/// Checks the comprehensions inside `e`.
fn nested(e: &Expr, file: &str) -> Result<()> {
    let mut comprs = Vec::new();
    visit_vars(e, &mut |_, _| {}, &mut |c| comprs.push(c));
    for c in comprs {
        match c {
            Expr::ArrayCompr { term, query: q, .. } | Expr::SetCompr { term, query: q, .. } => {
                let mut used = HashSet::new();
                expr_names(term, &mut used);
                nested(term, file)?;
                query(q, &used, file)?;
            }
            Expr::ObjectCompr {
                key,
                value,
                query: q,
                ..
            } => {
                let mut used = HashSet::new();
                expr_names(key, &mut used);
                expr_names(value, &mut used);
                nested(key, file)?;
                nested(value, file)?;
                query(q, &used, file)?;
            }
            _ => {}
        }
    }
    Ok(())
}
