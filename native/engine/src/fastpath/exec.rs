//! Runs a lowered [`Program`] on one input.
//!
//! The evaluator walks the program's tree with local variables in a frame
//! stack and a continuation for each query's solutions, so a loop is a loop
//! and not a copy of the scope. Everything it computes goes through
//! regorus's own operations (comparison, arithmetic, set operations,
//! builtins, value indexing), so a value means what it means to the
//! interpreter. Any error those operations report stops the run with
//! [`Stop::Fallback`]: the interpreter then answers, and raises it.
//!
//! Only queries the static pass proved free of evaluation errors get here
//! (with their input guards checked), which is what makes its shortcuts
//! sound: a complete rule or function stops at its first value (the pass
//! proved all its values agree), and an indexed rule skips bodies whose
//! input test cannot hold.

use std::time::Instant;

use regorus::unstable::{comparison, numbers, sets, ArithOp, BinOp};
use regorus::Value;

use super::ir::{Arith, Body, Call, Chain, Ex, Fcn, FuncIr, Program, RuleIr, SetOp, St};
use super::shape::Place;

/// Why a run stopped without a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Something the interpreter must answer (it raises the error).
    Fallback,
    /// The evaluation time limit ran out.
    Timeout,
}

type X<T> = Result<T, Stop>;

/// Whether a query's consumer wants more solutions.
#[derive(PartialEq, Eq)]
enum Flow {
    More,
    Enough,
}

/// Buffers kept between runs (one per evaluator thread).
#[derive(Default)]
pub(crate) struct Scratch {
    memo: Vec<Option<Value>>,
    stack: Vec<Value>,
}

/// The input as a run sees it: the slots the input's shape filled, and
/// where each input path of the program is among them (by path id).
#[derive(Clone, Copy)]
pub(crate) struct InputView<'a> {
    pub(crate) slots: &'a [Value],
    pub(crate) places: &'a [Place<Value>],
}

/// Evaluates `program`'s entry rule on `input`: the part of the document
/// the program reads ([`super::shape::Shape`]).
pub(crate) fn run(
    program: &Program,
    input: InputView<'_>,
    deadline: Option<Instant>,
    scratch: &mut Scratch,
) -> X<Value> {
    scratch.memo.clear();
    scratch.memo.resize(program.rules.len(), None);
    scratch.stack.clear();
    let mut exec = Exec {
        program,
        input,
        memo: std::mem::take(&mut scratch.memo),
        stack: std::mem::take(&mut scratch.stack),
        steps: 0,
        deadline,
    };
    let out = exec.rule(program.entry);
    scratch.memo = exec.memo;
    scratch.stack = exec.stack;
    out
}

struct Exec<'p> {
    program: &'p Program,
    input: InputView<'p>,
    memo: Vec<Option<Value>>,
    stack: Vec<Value>,
    steps: u32,
    deadline: Option<Instant>,
}

type K<'k, 'p> = &'k mut dyn FnMut(&mut Exec<'p>, usize) -> X<Flow>;

impl<'p> Exec<'p> {
    fn tick(&mut self) -> X<()> {
        self.steps = self.steps.wrapping_add(1);
        if self.steps & 1023 == 0 {
            if let Some(d) = self.deadline {
                if Instant::now() >= d {
                    return Err(Stop::Timeout);
                }
            }
        }
        Ok(())
    }

    /// The input's value at path `id`, by reference: its slot, indexed
    /// with regorus's rules by the keys below it.
    fn input_ref(&self, id: u32) -> &'p Value {
        let place = &self.input.places[id as usize];
        let mut v = &self.input.slots[place.slot];
        for k in &place.rest {
            if *v == Value::Undefined {
                break;
            }
            v = &v[k];
        }
        v
    }

    fn push_frame(&mut self, slots: u32) -> usize {
        let base = self.stack.len();
        self.stack.resize(base + slots as usize, Value::Undefined);
        base
    }

    fn pop_frame(&mut self, base: usize) {
        self.stack.truncate(base);
    }

    fn set(&mut self, base: usize, slot: Option<u32>, v: &Value) {
        if let Some(s) = slot {
            self.stack[base + s as usize] = v.clone();
        }
    }

    /// Runs `stmts` in the frame at `base`, calling `k` for each solution.
    fn query(&mut self, stmts: &'p [St], base: usize, k: K<'_, 'p>) -> X<Flow> {
        let Some((first, rest)) = stmts.split_first() else {
            return k(self, base);
        };
        self.tick()?;
        match first {
            St::Test(e) => {
                if self.truth(e, base)? == Some(true) {
                    return self.query(rest, base, k);
                }
                Ok(Flow::More)
            }
            St::Not(e) => {
                // Holds when the value is undefined or false.
                if self.truth(e, base)? != Some(true) {
                    return self.query(rest, base, k);
                }
                Ok(Flow::More)
            }
            St::Bind(slot, e) => {
                let v = self.eval(e, base)?;
                if v == Value::Undefined {
                    return Ok(Flow::More);
                }
                self.stack[base + *slot as usize] = v;
                self.query(rest, base, k)
            }
            St::Iter {
                coll,
                key,
                value,
                strict,
            } => {
                let c = self.eval(coll, base)?;
                match &c {
                    Value::Array(a) => {
                        for (i, v) in a.iter().enumerate() {
                            if key.is_some() {
                                self.set(base, *key, &Value::from(i));
                            }
                            self.set(base, *value, v);
                            if self.query(rest, base, k)? == Flow::Enough {
                                return Ok(Flow::Enough);
                            }
                        }
                    }
                    Value::Set(s) => {
                        for v in s.iter() {
                            self.set(base, *key, v);
                            self.set(base, *value, v);
                            if self.query(rest, base, k)? == Flow::Enough {
                                return Ok(Flow::Enough);
                            }
                        }
                    }
                    Value::Object(o) => {
                        for (kv, v) in o.iter() {
                            self.set(base, *key, kv);
                            self.set(base, *value, v);
                            if self.query(rest, base, k)? == Flow::Enough {
                                return Ok(Flow::Enough);
                            }
                        }
                    }
                    Value::Undefined => {}
                    _ if *strict => return Err(Stop::Fallback),
                    _ => {}
                }
                Ok(Flow::More)
            }
            St::Every {
                domain,
                key,
                value,
                stmts: inner,
            } => {
                let d = self.eval(domain, base)?;
                let mut all = true;
                match &d {
                    Value::Array(a) => {
                        for (i, v) in a.iter().enumerate() {
                            self.set(base, Some(*value), v);
                            if key.is_some() {
                                self.set(base, *key, &Value::from(i));
                            }
                            if !self.exists(inner, base)? {
                                all = false;
                                break;
                            }
                        }
                    }
                    Value::Set(s) => {
                        for v in s.iter() {
                            self.set(base, Some(*value), v);
                            self.set(base, *key, v);
                            if !self.exists(inner, base)? {
                                all = false;
                                break;
                            }
                        }
                    }
                    Value::Object(o) => {
                        for (kv, v) in o.iter() {
                            self.set(base, Some(*value), v);
                            self.set(base, *key, kv);
                            if !self.exists(inner, base)? {
                                all = false;
                                break;
                            }
                        }
                    }
                    _ => all = false,
                }
                if all {
                    return self.query(rest, base, k);
                }
                Ok(Flow::More)
            }
        }
    }

    /// A value already computed that `e` denotes, without copying it:
    /// constants, locals, input paths read before, and static keys below
    /// those.
    fn peek<'a>(&'a self, e: &'a Ex, base: usize) -> Option<&'a Value> {
        match e {
            Ex::Const(v) => Some(v),
            Ex::Local(s) => Some(&self.stack[base + *s as usize]),
            Ex::Input(id, _) => Some(self.input_ref(*id)),
            Ex::Path(root, keys) => {
                let mut cur = self.peek(root, base)?;
                for k in keys {
                    cur = &cur[k];
                }
                Some(cur)
            }
            _ => None,
        }
    }

    /// A statement's truth: `Some(true)` when `e` is defined and not
    /// `false`, `Some(false)` when it is `false`, `None` when undefined.
    fn truth(&mut self, e: &'p Ex, base: usize) -> X<Option<bool>> {
        match e {
            Ex::Cmp(op, l, r) => {
                if let (Some(a), Some(b)) = (self.peek(l, base), self.peek(r, base)) {
                    if *a == Value::Undefined || *b == Value::Undefined {
                        return Ok(None);
                    }
                    return match comparison::compare(op, a, b) {
                        Ok(Value::Bool(t)) => Ok(Some(t)),
                        Ok(_) | Err(_) => Err(Stop::Fallback),
                    };
                }
            }
            Ex::Member {
                key: None,
                value,
                coll,
            } => {
                if let (Some(v), Some(c)) = (self.peek(value, base), self.peek(coll, base)) {
                    // An undefined operand: undefined, as in OPA.
                    if *v == Value::Undefined || *c == Value::Undefined {
                        return Ok(None);
                    }
                    return Ok(Some(match c {
                        Value::Array(a) => a.contains(v),
                        Value::Object(o) => o.values().any(|item| item == v),
                        Value::Set(s) => s.contains(v),
                        _ => false,
                    }));
                }
            }
            _ => {}
        }
        Ok(match self.eval(e, base)? {
            Value::Bool(b) => Some(b),
            Value::Undefined => None,
            _ => Some(true),
        })
    }

    /// Whether `stmts` has a solution.
    fn exists(&mut self, stmts: &'p [St], base: usize) -> X<bool> {
        let mut found = false;
        self.query(stmts, base, &mut |_, _| {
            found = true;
            Ok(Flow::Enough)
        })?;
        Ok(found)
    }

    /// A rule's value, computed once per run.
    fn rule(&mut self, id: usize) -> X<Value> {
        if let Some(v) = &self.memo[id] {
            return Ok(v.clone());
        }
        let program = self.program;
        let value = match &program.rules[id] {
            RuleIr::Complete {
                chains,
                default,
                index,
                uniform,
            } => {
                let candidates = index.as_ref().map(|ix| {
                    let cur = self.input_ref(ix.path.0);
                    ix.by_value.get(cur).unwrap_or(&ix.other).as_slice()
                });
                return self.complete(id, chains, candidates, default.as_ref(), *uniform);
            }
            RuleIr::Set { defs } => {
                let mut set = std::collections::BTreeSet::new();
                for def in defs {
                    let base = self.push_frame(def.slots);
                    let key = &def.key;
                    let r = self.query(&def.stmts, base, &mut |ex, base| {
                        let v = ex.eval(key, base)?;
                        if v != Value::Undefined {
                            set.insert(v);
                        }
                        Ok(Flow::More)
                    });
                    self.pop_frame(base);
                    r?;
                }
                Value::from(set)
            }
            RuleIr::Pending => return Err(Stop::Fallback),
        };
        self.memo[id] = Some(value.clone());
        Ok(value)
    }

    /// A complete rule's value from the chains `candidates` (indices into
    /// `chains`; `None`: all of them), memoised as rule `id`.
    fn complete(
        &mut self,
        id: usize,
        chains: &'p [Chain],
        candidates: Option<&'p [usize]>,
        default: Option<&Value>,
        uniform: bool,
    ) -> X<Value> {
        let mut out: Option<Value> = None;
        let count = candidates.map_or(chains.len(), <[usize]>::len);
        for i in 0..count {
            let c = candidates.map_or(i, |cs| cs[i]);
            if let Some(v) = self.chain(&chains[c], None, !uniform)? {
                match &out {
                    // Two values: OPA's conflict error, the interpreter's
                    // to raise.
                    Some(prev) if *prev != v => return Err(Stop::Fallback),
                    Some(_) => {}
                    None => out = Some(v),
                }
                if uniform {
                    break;
                }
            }
        }
        let value = match out {
            Some(v) => v,
            None => default.cloned().unwrap_or(Value::Undefined),
        };
        self.memo[id] = Some(value.clone());
        Ok(value)
    }

    /// The value of the first body of `chain` that succeeds, with the
    /// function arguments `args` bound to `params` in its frame; `all`:
    /// every solution of that body is computed, and two different values
    /// stop the run.
    fn chain(&mut self, chain: &'p Chain, args: Option<usize>, all: bool) -> X<Option<Value>> {
        for body in &chain.bodies {
            let (found, succeeded) = self.body(body, args, all)?;
            if found.is_some() {
                return Ok(found);
            }
            if succeeded {
                if chain.bodies.len() > 1 {
                    // A body held but its value is undefined: whether an
                    // `else` applies is the interpreter's to say.
                    return Err(Stop::Fallback);
                }
                return Ok(None);
            }
        }
        Ok(None)
    }

    fn body(&mut self, body: &'p Body, args: Option<usize>, all: bool) -> X<(Option<Value>, bool)> {
        // A function body's frame starts at its arguments.
        let (base, keep) = match args {
            Some(at) => {
                let keep = self.stack.len();
                self.stack
                    .resize(at + body.slots as usize, Value::Undefined);
                (at, keep)
            }
            None => {
                let base = self.push_frame(body.slots);
                (base, base)
            }
        };
        let mut found: Option<Value> = None;
        let mut succeeded = false;
        let value = &body.value;
        let r = self.query(&body.stmts, base, &mut |ex, base| {
            succeeded = true;
            let v = ex.eval(value, base)?;
            if v == Value::Undefined {
                return Ok(Flow::More);
            }
            if let Some(prev) = &found {
                if *prev != v {
                    // Two solutions, two values: a conflict.
                    return Err(Stop::Fallback);
                }
                return Ok(Flow::More);
            }
            found = Some(v);
            Ok(if all { Flow::More } else { Flow::Enough })
        });
        self.stack.truncate(keep);
        r?;
        Ok((found, succeeded))
    }

    fn func(&mut self, id: usize, args: &'p [Ex], base: usize) -> X<Value> {
        // The arguments live on the stack below the callee's frames.
        let at = self.stack.len();
        for a in args {
            let v = self.eval(a, base)?;
            if v == Value::Undefined {
                self.stack.truncate(at);
                return Ok(Value::Undefined);
            }
            self.stack.push(v);
        }
        let program = self.program;
        let func = &program.funcs[id];
        let out = self.func_value(func, args.len(), at);
        self.stack.truncate(at);
        out
    }

    /// A function's value for the arguments on the stack at `at`: the
    /// first value found when every body yields one constant, else every
    /// chain's, and two different values stop the run (OPA raises).
    fn func_value(&mut self, func: &'p FuncIr, arity: usize, at: usize) -> X<Value> {
        let mut out: Option<Value> = None;
        for def in &func.defs {
            debug_assert_eq!(def.arity, arity);
            for chain in &def.chains {
                if let Some(v) = self.chain(chain, Some(at), !func.uniform)? {
                    match &out {
                        Some(prev) if *prev != v => return Err(Stop::Fallback),
                        Some(_) => {}
                        None => out = Some(v),
                    }
                    if func.uniform {
                        return Ok(out.unwrap_or(Value::Undefined));
                    }
                }
            }
        }
        Ok(out.unwrap_or(Value::Undefined))
    }

    fn eval(&mut self, e: &'p Ex, base: usize) -> X<Value> {
        Ok(match e {
            Ex::Const(v) => v.clone(),
            Ex::Input(id, _) => self.input_ref(*id).clone(),
            Ex::Local(s) => self.stack[base + *s as usize].clone(),
            Ex::Path(root, keys) => {
                let owned;
                let mut cur: &Value = match root.as_ref() {
                    Ex::Local(s) => &self.stack[base + *s as usize],
                    other => {
                        owned = self.eval(other, base)?;
                        &owned
                    }
                };
                for k in keys {
                    cur = &cur[k];
                    if *cur == Value::Undefined {
                        break;
                    }
                }
                cur.clone()
            }
            Ex::Index(b, k) => {
                if let (Some(bv), Some(kv)) = (self.peek(b, base), self.peek(k, base)) {
                    if *kv == Value::Undefined {
                        return Ok(Value::Undefined);
                    }
                    return Ok(bv[kv].clone());
                }
                let b = self.eval(b, base)?;
                let k = self.eval(k, base)?;
                if k == Value::Undefined {
                    return Ok(Value::Undefined);
                }
                b[&k].clone()
            }
            Ex::Rule(id) => self.rule(*id)?,
            Ex::Func(id, args) => self.func(*id, args, base)?,
            Ex::Builtin(call) => self.builtin(call, base)?,
            Ex::Cmp(op, l, r) => {
                let l = self.eval(l, base)?;
                let r = self.eval(r, base)?;
                if l == Value::Undefined || r == Value::Undefined {
                    return Ok(Value::Undefined);
                }
                comparison::compare(op, &l, &r).map_err(|_| Stop::Fallback)?
            }
            Ex::Arith(a) => self.arith(a, base)?,
            Ex::SetOp(s) => self.set_op(s, base)?,
            Ex::Member { key, value, coll } => {
                let v = self.eval(value, base)?;
                let c = self.eval(coll, base)?;
                // An undefined operand: undefined, as in OPA.
                if v == Value::Undefined || c == Value::Undefined {
                    return Ok(Value::Undefined);
                }
                Value::Bool(match &c {
                    Value::Array(a) => match key {
                        Some(k) => {
                            let k = self.eval(k, base)?;
                            c[&k] == v
                        }
                        None => a.contains(&v),
                    },
                    Value::Object(o) => match key {
                        Some(k) => {
                            let k = self.eval(k, base)?;
                            c[&k] == v
                        }
                        None => o.values().any(|item| *item == v),
                    },
                    Value::Set(s) => key.is_none() && s.contains(&v),
                    _ => false,
                })
            }
            Ex::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    let v = self.eval(i, base)?;
                    if v == Value::Undefined {
                        return Ok(Value::Undefined);
                    }
                    out.push(v);
                }
                Value::from(out)
            }
            Ex::Set(items) => {
                let mut out = std::collections::BTreeSet::new();
                for i in items {
                    let v = self.eval(i, base)?;
                    if v == Value::Undefined {
                        return Ok(Value::Undefined);
                    }
                    out.insert(v);
                }
                Value::from(out)
            }
            Ex::Object(fields) => {
                let mut out = std::collections::BTreeMap::new();
                for (k, v) in fields {
                    let k = self.eval(k, base)?;
                    if k == Value::Undefined {
                        return Ok(Value::Undefined);
                    }
                    let v = self.eval(v, base)?;
                    if v == Value::Undefined {
                        return Ok(Value::Undefined);
                    }
                    out.insert(k, v);
                }
                Value::from(out)
            }
            Ex::ArrayCompr(term, stmts) => {
                let mut out = Vec::new();
                self.query(stmts, base, &mut |ex, base| {
                    let v = ex.eval(term, base)?;
                    if v != Value::Undefined {
                        out.push(v);
                    }
                    Ok(Flow::More)
                })?;
                Value::from(out)
            }
            Ex::SetCompr(term, stmts) => {
                let mut out = std::collections::BTreeSet::new();
                self.query(stmts, base, &mut |ex, base| {
                    let v = ex.eval(term, base)?;
                    if v != Value::Undefined {
                        out.insert(v);
                    }
                    Ok(Flow::More)
                })?;
                Value::from(out)
            }
        })
    }

    fn builtin(&mut self, call: &'p Call, base: usize) -> X<Value> {
        let at = self.stack.len();
        for a in &call.args {
            let v = self.eval(a, base)?;
            if v == Value::Undefined {
                self.stack.truncate(at);
                return Ok(Value::Undefined);
            }
            self.stack.push(v);
        }
        let args = &self.stack[at..];
        let out = match &call.fcn {
            Fcn::Regorus(f) => (f.0)(&call.span, &call.params, args, true),
            Fcn::Own(f) => f(args),
            Fcn::Matcher(re) => match args {
                [Value::String(s)] => Ok(Value::Bool(re.is_match(s))),
                _ => Err(anyhow::anyhow!("the matched text must be a string")),
            },
        }
        .map_err(|_| Stop::Fallback);
        self.stack.truncate(at);
        out
    }

    fn arith(&mut self, a: &'p Arith, base: usize) -> X<Value> {
        let l = self.eval(&a.lhs, base)?;
        let r = self.eval(&a.rhs, base)?;
        if l == Value::Undefined || r == Value::Undefined {
            return Ok(Value::Undefined);
        }
        match (&a.op, &l, &r) {
            (ArithOp::Sub, Value::Set(_), _) | (ArithOp::Sub, _, Value::Set(_)) => {
                sets::difference(&a.lhs_expr, &a.rhs_expr, l, r)
            }
            _ => {
                numbers::arithmetic_operation(&a.span, &a.op, &a.lhs_expr, &a.rhs_expr, l, r, true)
            }
        }
        .map_err(|_| Stop::Fallback)
    }

    fn set_op(&mut self, s: &'p SetOp, base: usize) -> X<Value> {
        let l = self.eval(&s.lhs, base)?;
        let r = self.eval(&s.rhs, base)?;
        if l == Value::Undefined || r == Value::Undefined {
            return Ok(Value::Undefined);
        }
        match s.op {
            BinOp::Union => sets::union(&s.lhs_expr, &s.rhs_expr, l, r),
            BinOp::Intersection => sets::intersection(&s.lhs_expr, &s.rhs_expr, l, r),
        }
        .map_err(|_| Stop::Fallback)
    }
}
