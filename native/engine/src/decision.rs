//! Evaluation results.

use std::sync::Arc;

/// The result of evaluating a query.
///
/// `value` is `None` when the query is undefined, which is distinct from a
/// defined `false`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The value, or `None` when undefined.
    pub value: Option<serde_json::Value>,
    /// The id of the policy revision that produced it.
    pub revision: Arc<str>,
}

impl Decision {
    /// Whether the query produced a value.
    pub fn is_defined(&self) -> bool {
        self.value.is_some()
    }

    /// Whether the value is exactly `true`.
    pub fn is_true(&self) -> bool {
        matches!(self.value, Some(serde_json::Value::Bool(true)))
    }

    /// The allow-style reading of this decision: `allowed` (exactly
    /// `true`), `denied` (any other value) or `undefined`.
    pub fn verdict_reason(&self) -> VerdictReason {
        if self.is_true() {
            VerdictReason::Allowed
        } else if self.is_defined() {
            VerdictReason::Denied
        } else {
            VerdictReason::Undefined
        }
    }
}

/// Why an allow-style check came out the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictReason {
    /// The query evaluated to `true`.
    Allowed,
    /// The query evaluated to a defined value other than `true`.
    Denied,
    /// The query was undefined: deny.
    Undefined,
    /// Evaluation failed: deny. The error code says why.
    Error(&'static str),
}

impl VerdictReason {
    /// A stable reason code: `allowed`, `denied`, `undefined`, or the error code.
    pub fn code(&self) -> &'static str {
        match self {
            VerdictReason::Allowed => "allowed",
            VerdictReason::Denied => "denied",
            VerdictReason::Undefined => "undefined",
            VerdictReason::Error(code) => code,
        }
    }
}

/// The outcome of an allow-style check: allowed only on exactly `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// Why.
    pub reason: VerdictReason,
    /// The revision that decided, when evaluation got that far.
    pub revision: Option<Arc<str>>,
}
