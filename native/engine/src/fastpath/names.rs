//! Name resolution for the fast path: what a plain name in a rule body
//! denotes. The static pass ([`super::analyze`]) and the lowering
//! ([`super::lower`]) both ask this one function, so they cannot disagree
//! on whether `role` in `role = "admin"` is the rule `role` (it is, as in
//! OPA) or a fresh variable to bind (it is not).
//!
//! The order is OPA's:
//! 1. `_` is a fresh, anonymous variable;
//! 2. a local bound earlier in the body (or an enclosing one, or a
//!    function parameter) is that local;
//! 3. a name declared with `some` and not yet bound is a fresh variable,
//!    even when a rule has that name (`some` shadows rules);
//! 4. `input` and `data` are the documents;
//! 5. a rule of the current package is that rule;
//! 6. anything else is a fresh variable.
//!
//! A `:=` always declares: its left-hand name is a new local whatever it
//! shadowed ([`Resolved::Fresh`] for the callers that bind).

use regorus::unstable::{AssignOp, Expr, Literal, LiteralStmt};

/// What a plain name denotes at one point of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// `_`: a fresh variable nothing can refer to.
    Wildcard,
    /// A bound local.
    Local,
    /// The `input` document.
    Input,
    /// The `data` document.
    Data,
    /// A rule (or function) of the current package.
    Rule,
    /// An unbound variable: a statement may bind it.
    Fresh,
}

impl Resolved {
    /// Whether a statement binds the name here (rather than reading it).
    pub(crate) fn is_unbound(self) -> bool {
        matches!(self, Resolved::Wildcard | Resolved::Fresh)
    }
}

/// Resolves `name`: `bound` says whether it is a bound local, `declared`
/// whether `some` declared it (and nothing bound it since), `is_rule`
/// whether the current package has a rule of that name.
pub(crate) fn resolve(
    name: &str,
    bound: impl FnOnce(&str) -> bool,
    declared: impl FnOnce(&str) -> bool,
    is_rule: impl FnOnce(&str) -> bool,
) -> Resolved {
    if name == "_" {
        Resolved::Wildcard
    } else if bound(name) {
        Resolved::Local
    } else if declared(name) {
        Resolved::Fresh
    } else if name == "input" {
        Resolved::Input
    } else if name == "data" {
        Resolved::Data
    } else if is_rule(name) {
        Resolved::Rule
    } else {
        Resolved::Fresh
    }
}

/// The order in which the passes walk a query's statements: as written,
/// except that a binding the front end added after a statement
/// (`__c0_ = input.x`, [`crate::frontend`]) comes just before the first
/// statement that uses it, as regorus's scheduler orders them.
pub(crate) fn schedule(stmts: &[LiteralStmt]) -> Vec<&LiteralStmt> {
    let defined = |s: &LiteralStmt| -> Option<String> {
        let Literal::Expr { expr, .. } = &s.literal else {
            return None;
        };
        let Expr::AssignExpr {
            op: AssignOp::Eq,
            lhs,
            ..
        } = expr.as_ref()
        else {
            return None;
        };
        match lhs.as_ref() {
            Expr::Var { span, .. } if crate::frontend::is_hoisted(span.text()) => {
                Some(span.text().to_string())
            }
            _ => None,
        }
    };
    let defs: Vec<Option<String>> = stmts.iter().map(defined).collect();
    if defs.iter().all(Option::is_none) {
        return stmts.iter().collect();
    }
    let mut done = vec![false; stmts.len()];
    let mut out = Vec::with_capacity(stmts.len());
    fn emit<'a>(
        i: usize,
        stmts: &'a [LiteralStmt],
        defs: &[Option<String>],
        done: &mut [bool],
        out: &mut Vec<&'a LiteralStmt>,
    ) {
        if done[i] {
            return;
        }
        done[i] = true;
        let mut used = Vec::new();
        hoisted_uses_in(&stmts[i], &mut used);
        for name in used {
            if defs[i].as_deref() == Some(name.as_str()) {
                continue;
            }
            if let Some(j) = defs
                .iter()
                .position(|d| d.as_deref() == Some(name.as_str()))
            {
                emit(j, stmts, defs, done, out);
            }
        }
        out.push(&stmts[i]);
    }
    for i in 0..stmts.len() {
        emit(i, stmts, &defs, &mut done, &mut out);
    }
    out
}

/// The front end's variables a statement mentions (outside nested
/// queries, which hold their own bindings).
fn hoisted_uses_in(stmt: &LiteralStmt, out: &mut Vec<String>) {
    let mut add = |_: &regorus::unstable::Span, n: &str| {
        if crate::frontend::is_hoisted(n) {
            out.push(n.to_string());
        }
    };
    let e = match &stmt.literal {
        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => expr,
        Literal::SomeIn { collection, .. } => collection,
        Literal::Every { domain, .. } => domain,
        Literal::SomeVars { .. } => return,
    };
    crate::frontend::visit_vars(e, &mut add, &mut |_: &Expr| {});
}

/// The rule a head defines within its package: the name itself for a plain
/// head (`allow`), `Err` with the root name for a reference head
/// (`grants[x]`, `a.b.c`), which neither pass plans; `None` when the head
/// has no name at its root.
pub(crate) fn head_rule(refr: &Expr) -> Option<Result<String, String>> {
    let mut cur = refr;
    let mut plain = true;
    loop {
        match cur {
            Expr::Var { span, .. } => {
                let name = span.text().to_string();
                return Some(if plain { Ok(name) } else { Err(name) });
            }
            Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => {
                plain = false;
                cur = refr;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, bound: &[&str], declared: &[&str], rules: &[&str]) -> Resolved {
        resolve(
            name,
            |n| bound.contains(&n),
            |n| declared.contains(&n),
            |n| rules.contains(&n),
        )
    }

    #[test]
    fn a_rule_name_is_the_rule_not_a_fresh_variable() {
        assert_eq!(r("role", &[], &[], &["role"]), Resolved::Rule);
        assert!(!r("role", &[], &[], &["role"]).is_unbound());
    }

    #[test]
    fn some_shadows_a_rule_until_bound() {
        assert_eq!(r("i", &[], &["i"], &["i"]), Resolved::Fresh);
        assert_eq!(r("i", &["i"], &[], &["i"]), Resolved::Local);
    }

    #[test]
    fn locals_shadow_documents_and_rules() {
        assert_eq!(r("input", &["input"], &[], &[]), Resolved::Local);
        assert_eq!(r("input", &[], &[], &[]), Resolved::Input);
        assert_eq!(r("data", &[], &[], &[]), Resolved::Data);
        assert_eq!(r("x", &["x"], &[], &["x"]), Resolved::Local);
    }

    #[test]
    fn unknown_names_and_the_wildcard_are_unbound() {
        assert_eq!(r("x", &[], &[], &[]), Resolved::Fresh);
        assert_eq!(r("_", &["_"], &[], &["_"]), Resolved::Wildcard);
        assert!(r("_", &[], &[], &[]).is_unbound());
    }
}
