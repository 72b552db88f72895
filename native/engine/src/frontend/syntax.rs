//! Small helpers over regorus's AST: classifying expressions and visiting
//! the variables of an expression or a query.

use regorus::unstable::{AssignOp, BoolOp, Expr, Literal, Query, Span};

/// The components of a plain reference (`a.b["c"]`), or `None`.
pub(crate) fn ref_path(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Var { span, .. } => Some(vec![span.text().to_string()]),
        Expr::RefDot { refr, field, .. } => {
            let mut p = ref_path(refr)?;
            p.push(field.0.text().to_string());
            Some(p)
        }
        Expr::RefBrack { refr, index, .. } => {
            let Expr::String { value, .. } = index.as_ref() else {
                return None;
            };
            let mut p = ref_path(refr)?;
            p.push(value.as_string().ok()?.to_string());
            Some(p)
        }
        _ => None,
    }
}

/// Whether `e` is a call in OPA's sense (a builtin or function call, an
/// operator other than `==`/`=`, a membership test): OPA hoists such terms
/// out of the expression that contains them.
pub(super) fn is_call_like(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Call { .. }
            | Expr::BoolExpr { .. }
            | Expr::ArithExpr { .. }
            | Expr::BinExpr { .. }
            | Expr::Membership { .. }
            | Expr::UnaryExpr { .. }
    )
}

/// Whether `e` is an equality (`==`, or `=` unification).
pub(super) fn is_equality(e: &Expr) -> bool {
    matches!(
        e,
        Expr::BoolExpr { op: BoolOp::Eq, .. }
            | Expr::AssignExpr {
                op: AssignOp::Eq,
                ..
            }
    )
}

/// Whether `e` is an array, set or object literal.
pub(super) fn is_collection(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Array { .. } | Expr::Set { .. } | Expr::Object { .. }
    )
}

/// The kind of collection a literal or comprehension denotes.
pub(super) fn collection_kind(e: &Expr) -> Option<&'static str> {
    match e {
        Expr::Array { .. } | Expr::ArrayCompr { .. } => Some("array"),
        Expr::Set { .. } | Expr::SetCompr { .. } => Some("set"),
        Expr::Object { .. } | Expr::ObjectCompr { .. } => Some("object"),
        _ => None,
    }
}

/// The direct operands of a call-like expression (not its function name).
pub(super) fn operands(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Call { params, .. } => params.iter().map(|p| p.as_ref()).collect(),
        Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::BinExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => vec![lhs.as_ref(), rhs.as_ref()],
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            let mut v: Vec<&Expr> = key.iter().map(|k| k.as_ref()).collect();
            v.push(value.as_ref());
            v.push(collection.as_ref());
            v
        }
        Expr::UnaryExpr { expr, .. } => vec![expr.as_ref()],
        _ => Vec::new(),
    }
}

/// Calls `f` with every variable name in `e` outside comprehension bodies
/// and terms (a comprehension binds its own), and not in a call's function
/// position; `compr` is called with each comprehension met.
pub(crate) fn visit_vars<'a>(
    e: &'a Expr,
    f: &mut dyn FnMut(&'a Span, &'a str),
    compr: &mut dyn FnMut(&'a Expr),
) {
    match e {
        Expr::Var { span, .. } => f(span, span.text()),
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            for i in items {
                visit_vars(i, f, compr);
            }
        }
        Expr::Object { fields, .. } => {
            for (_, k, v) in fields {
                visit_vars(k, f, compr);
                visit_vars(v, f, compr);
            }
        }
        Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. } => compr(e),
        Expr::Call { params, .. } => {
            for p in params {
                visit_vars(p, f, compr);
            }
        }
        Expr::UnaryExpr { expr, .. } => visit_vars(expr, f, compr),
        Expr::RefDot { refr, .. } => visit_vars(refr, f, compr),
        Expr::RefBrack { refr, index, .. } => {
            visit_vars(refr, f, compr);
            visit_vars(index, f, compr);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            visit_vars(lhs, f, compr);
            visit_vars(rhs, f, compr);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(k) = key {
                visit_vars(k, f, compr);
            }
            visit_vars(value, f, compr);
            visit_vars(collection, f, compr);
        }
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

/// The names a query's statements outside negations may bind:
/// `declared` gets the names `:=`, `some` and `some .. in` declare (they
/// shadow rules), `mentioned` every other variable they mention (bound by
/// `=` or as a key when not a rule or a document; a name mentioned but
/// bound nowhere is unsafe in OPA anyway).
pub(super) fn names_outside_negation(
    q: &Query,
    declared: &mut Vec<String>,
    mentioned: &mut Vec<String>,
) {
    let mut skip = |_: &Expr| {};
    for stmt in &q.stmts {
        let mut add = |_: &Span, n: &str| mentioned.push(n.to_string());
        match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                declared.extend(vars.iter().map(|v| v.text().to_string()));
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                let mut decl = |_: &Span, n: &str| declared.push(n.to_string());
                if let Some(k) = key {
                    visit_vars(k, &mut decl, &mut skip);
                }
                visit_vars(value, &mut decl, &mut skip);
                visit_vars(collection, &mut add, &mut skip);
            }
            Literal::Expr { expr, .. } => match expr.as_ref() {
                Expr::AssignExpr {
                    op: AssignOp::ColEq,
                    lhs,
                    rhs,
                    ..
                } => {
                    let mut decl = |_: &Span, n: &str| declared.push(n.to_string());
                    visit_vars(lhs, &mut decl, &mut skip);
                    visit_vars(rhs, &mut add, &mut skip);
                }
                e => visit_vars(e, &mut add, &mut skip),
            },
            Literal::Every { domain, .. } => visit_vars(domain, &mut add, &mut skip),
            Literal::NotExpr { .. } => {}
        }
    }
}

/// Whether `e` begins with a string literal: regorus's span of a string
/// excludes its quotes, so such an expression's span starts one byte late.
fn starts_with_string(e: &Expr) -> bool {
    match e {
        Expr::String { .. } | Expr::RawString { .. } => true,
        Expr::BinExpr { lhs, .. }
        | Expr::BoolExpr { lhs, .. }
        | Expr::ArithExpr { lhs, .. }
        | Expr::AssignExpr { lhs, .. } => starts_with_string(lhs),
        Expr::Membership { key, value, .. } => {
            starts_with_string(key.as_ref().map_or(value, |k| k))
        }
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => starts_with_string(refr),
        _ => false,
    }
}

/// Whether `e` ends with a string literal (its span ends one byte early).
pub(super) fn ends_with_string(e: &Expr) -> bool {
    match e {
        Expr::String { .. } | Expr::RawString { .. } => true,
        Expr::BinExpr { rhs, .. }
        | Expr::BoolExpr { rhs, .. }
        | Expr::ArithExpr { rhs, .. }
        | Expr::AssignExpr { rhs, .. } => ends_with_string(rhs),
        Expr::Membership { collection, .. } => ends_with_string(collection),
        Expr::UnaryExpr { expr, .. } => ends_with_string(expr),
        _ => false,
    }
}

/// The bytes `e` covers in its source, quotes of a leading or trailing
/// string literal included.
pub(super) fn extent(e: &Expr) -> (usize, usize) {
    let span = e.span();
    let start = span.start as usize - usize::from(starts_with_string(e));
    let end = span.end as usize + usize::from(ends_with_string(e));
    (start, end)
}

/// Where a statement's text starts (before a leading string's quote).
pub(super) fn stmt_start(stmt: &regorus::unstable::LiteralStmt) -> usize {
    let start = stmt.span.start as usize;
    match &stmt.literal {
        Literal::Expr { expr, .. } => start.min(extent(expr).0),
        _ => start,
    }
}

/// Where a statement's text ends (after a trailing string's quote).
pub(super) fn stmt_end(stmt: &regorus::unstable::LiteralStmt) -> usize {
    let last: Option<&Expr> = match stmt.with_mods.last() {
        Some(w) => Some(&w.r#as),
        None => match &stmt.literal {
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => Some(expr),
            Literal::SomeIn { collection, .. } => Some(collection),
            Literal::SomeVars { .. } | Literal::Every { .. } => None,
        },
    };
    stmt.span.end as usize + usize::from(last.is_some_and(ends_with_string))
}
