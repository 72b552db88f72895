//! Calling one of regorus's own builtins from a CoreSDK builtin, for the
//! builtins where CoreSDK only checks the arguments as OPA does and then
//! lets regorus compute the answer.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use regorus::unstable::{Expr, Ref, Span, BUILTINS};
use regorus::{Source, Value};

/// A span and parameter expressions for a direct call (regorus's messages
/// name them; the extension's caller reports the call's own position).
fn site() -> &'static (Span, Vec<Ref<Expr>>) {
    static SITE: OnceLock<(Span, Vec<Ref<Expr>>)> = OnceLock::new();
    SITE.get_or_init(|| {
        let source = Source::from_contents("builtin".into(), "builtin".into())
            .unwrap_or_else(|_| unreachable!("a 7-byte source"));
        let span = Span {
            source,
            line: 1,
            col: 1,
            start: 0,
            end: 7,
        };
        let param = || {
            Ref::new(Expr::Null {
                span: span.clone(),
                value: Value::Null,
                eidx: 0,
            })
        };
        (span.clone(), (0..4).map(|_| param()).collect())
    })
}

/// regorus's builtin `name` on `args` (strict builtin errors).
pub(super) fn regorus_builtin(name: &str, args: &[Value]) -> Result<Value> {
    let (fcn, _) = *BUILTINS
        .get(name)
        .ok_or_else(|| anyhow!("{name}: not available"))?;
    let (span, params) = site();
    fcn(span, &params[..args.len().min(params.len())], args, true)
}
