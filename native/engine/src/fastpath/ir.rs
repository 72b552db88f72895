//! The compiled form of a proven query: rules, functions, bodies and
//! expressions with local variables resolved to frame slots, references into
//! the bundle's data folded to constants, and builtins resolved to regorus's
//! own functions. [`super::lower`] builds it; [`super::exec`] runs it.

use regorus::unstable::{ArithOp, BinOp, BoolOp, BuiltinFcn, Expr, Ref, Span};
use regorus::Value;

/// A frame slot of a local variable.
pub(crate) type Slot = u32;

/// A whole program: every rule and function the entrypoint can reach.
pub(crate) struct Program {
    pub(crate) rules: Vec<RuleIr>,
    pub(crate) funcs: Vec<FuncIr>,
    /// The rule the query names.
    pub(crate) entry: usize,
    /// The static keys of each distinct input path the program reads, by
    /// id (each is looked up at most once per run).
    pub(crate) inputs: Vec<Vec<Value>>,
}

impl Program {
    /// Whether any rule has an index.
    pub(crate) fn indexed(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r, RuleIr::Complete { index: Some(_), .. }))
    }
}

/// A rule, evaluated at most once per evaluation.
pub(crate) enum RuleIr {
    /// A complete rule: the value its chains produce, else the default.
    /// Two different values are a conflict: the run stops and the
    /// interpreter answers (and raises OPA's `eval_conflict_error`).
    Complete {
        chains: Vec<Chain>,
        default: Option<Value>,
        /// An index over the chains' bodies (single-body chains only).
        index: Option<Index>,
        /// Every body yields the same constant, so the first value found
        /// is the rule's value and no conflict is possible; otherwise
        /// every chain and every solution is evaluated and compared.
        uniform: bool,
    },
    /// A partial set: the set of every key any body produces.
    Set { defs: Vec<SetDef> },
    /// A placeholder while the rule is being lowered (recursion is refused).
    Pending,
}

/// A user function.
pub(crate) struct FuncIr {
    pub(crate) defs: Vec<FuncDef>,
    /// Every body yields the same constant (see [`RuleIr::Complete`]).
    pub(crate) uniform: bool,
}

/// One definition of a function: its bodies, whose frames start with the
/// arguments (parameter i is slot i).
pub(crate) struct FuncDef {
    pub(crate) arity: usize,
    pub(crate) chains: Vec<Chain>,
}

/// A body and the `else` bodies that follow it: the first that succeeds
/// gives the chain's value.
pub(crate) struct Chain {
    pub(crate) bodies: Vec<Body>,
}

/// A query and the value it yields.
pub(crate) struct Body {
    pub(crate) stmts: Vec<St>,
    pub(crate) value: Ex,
    /// Frame size: every slot the body and its nested queries use.
    pub(crate) slots: u32,
}

/// One definition of a partial set rule.
pub(crate) struct SetDef {
    pub(crate) stmts: Vec<St>,
    pub(crate) key: Ex,
    pub(crate) slots: u32,
}

/// Bodies grouped by the constant one input path is compared with.
pub(crate) struct Index {
    /// The input path every indexed body compares with a constant: its id
    /// and keys.
    pub(crate) path: (u32, Vec<Value>),
    /// Chains to try for each constant, in definition order (those
    /// without the test included).
    pub(crate) by_value: std::collections::BTreeMap<Value, Vec<usize>>,
    /// Chains to try when the path's value matches no constant.
    pub(crate) other: Vec<usize>,
}

/// A statement of a query.
pub(crate) enum St {
    /// Holds when the value is defined and not `false`.
    Test(Ex),
    /// Holds when the value is undefined or `false`.
    Not(Ex),
    /// Binds a slot; fails when the value is undefined.
    Bind(Slot, Ex),
    /// Iterates a collection, binding key and value slots (either may be
    /// ignored). `strict`: a defined value that is not a collection is an
    /// error (`some .. in`); otherwise it has no elements (`a[x]`).
    Iter {
        coll: Ex,
        key: Option<Slot>,
        value: Option<Slot>,
        strict: bool,
    },
    /// `every k, v in domain { query }`.
    Every {
        domain: Ex,
        key: Option<Slot>,
        value: Slot,
        stmts: Vec<St>,
    },
}

/// An expression; evaluates to a value, possibly `Undefined`.
pub(crate) enum Ex {
    Const(Value),
    /// `input` below static keys (none: the whole input), with the path's
    /// id for the per-run cache.
    Input(u32, Vec<Value>),
    Local(Slot),
    /// Static keys below a base, looked up without intermediate copies.
    Path(Box<Ex>, Vec<Value>),
    /// `base[key]`.
    Index(Box<Ex>, Box<Ex>),
    Rule(usize),
    Func(usize, Vec<Ex>),
    Builtin(Call),
    Cmp(BoolOp, Box<Ex>, Box<Ex>),
    Arith(Arith),
    SetOp(SetOp),
    /// `value in coll` / `key, value in coll`.
    Member {
        key: Option<Box<Ex>>,
        value: Box<Ex>,
        coll: Box<Ex>,
    },
    Array(Vec<Ex>),
    Set(Vec<Ex>),
    Object(Vec<(Ex, Ex)>),
    ArrayCompr(Box<Ex>, Vec<St>),
    SetCompr(Box<Ex>, Vec<St>),
}

/// A builtin's implementation: regorus's, or CoreSDK's own where
/// regorus's answers differently from OPA ([`crate::builtins`]).
#[derive(Clone)]
pub(crate) enum Fcn {
    Regorus(BuiltinFcn),
    Own(crate::builtins::Fcn),
    /// `glob.match`/`regex.match` with constant pattern (and delimiters),
    /// compiled once: its one argument is the text.
    Matcher(std::sync::Arc<regex::Regex>),
}

/// A builtin call, with what regorus's builtin needs for its messages.
pub(crate) struct Call {
    pub(crate) fcn: Fcn,
    pub(crate) span: Span,
    pub(crate) params: Vec<Ref<Expr>>,
    pub(crate) args: Vec<Ex>,
}

/// An arithmetic expression, evaluated by regorus's own operation.
pub(crate) struct Arith {
    pub(crate) op: ArithOp,
    pub(crate) span: Span,
    pub(crate) lhs_expr: Ref<Expr>,
    pub(crate) rhs_expr: Ref<Expr>,
    pub(crate) lhs: Box<Ex>,
    pub(crate) rhs: Box<Ex>,
}

/// `a | b` or `a & b`.
pub(crate) struct SetOp {
    pub(crate) op: BinOp,
    pub(crate) lhs_expr: Ref<Expr>,
    pub(crate) rhs_expr: Ref<Expr>,
    pub(crate) lhs: Box<Ex>,
    pub(crate) rhs: Box<Ex>,
}
