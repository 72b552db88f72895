//! The fast path: CoreSDK's tree evaluator, where it is proven to answer
//! exactly as the interpreter does.
//!
//! The pipeline for one rule query on one revision:
//! 1. [`names`]: one name resolution, shared by the two passes below, so
//!    they agree on what every name denotes;
//! 2. [`analyze`]: a static pass over everything the rule can reach proves
//!    that no evaluation error is possible for an input that satisfies the
//!    derived [`Guard`]s (each call checks them first);
//! 3. [`lower`]: the rules the query reaches become the [`ir`] program,
//!    refusing any construct it does not know;
//! 4. [`shape`]: the input paths the program and its guards read, taken
//!    straight from the caller's JSON text into slots;
//! 5. [`exec`]: the tree evaluator runs the program; any error an operation
//!    reports, and any conflict between a complete rule's or function's
//!    values, stops it and the interpreter answers (and raises).
//!
//! Everything else (an ineligible policy, a general query, an input that
//! fails a guard) is answered by the interpreter, so the interpreter remains
//! the reference and the tree evaluator a proven shortcut.
//! `fast_path = false` turns it off altogether.
//!
//! regorus's register VM was once a second backend, for queries the pass
//! proved but the lowering refused. It is gone: its comprehensions put the
//! text `"<undefined>"` into arrays for elements without the field, so
//! `count([a.name | some a in input.approvals]) >= 2` held where OPA and the
//! interpreter answer false. Such queries now go to the interpreter.

mod abs;
mod analyze;
mod exec;
mod ir;
mod lower;
mod names;
mod shape;

use std::sync::Arc;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::Value;

pub(crate) use abs::Guard;

/// How one rule query is evaluated on one revision.
#[derive(Clone)]
pub(crate) enum Route {
    /// The tree evaluator may answer inputs that satisfy the plan's guards.
    Vm(Arc<Plan>),
    /// The interpreter answers, for this reason.
    Interpreter(Arc<str>),
}

/// A lowered program for one entrypoint ([`lower`], [`exec`]) and its
/// input guards.
pub(crate) struct Plan {
    program: Arc<ir::Program>,
    /// Where each of the program's input paths is in the shape's slots
    /// (by input path id).
    places: Arc<[shape::Place<Value>]>,
    guards: Vec<Guard>,
    /// The part of the input the program and its guards read.
    shape: shape::Shape,
    /// Where each guard's path starts in the shape's slots.
    guard_places: Vec<shape::Place<abs::Step>>,
    /// Whether many-bodied rules were indexed in the program.
    pub(crate) indexed: bool,
}

impl Plan {
    /// How many input guards a call checks.
    pub(crate) fn guard_count(&self) -> usize {
        self.guards.len()
    }
}

impl Plan {
    /// Whether the VM may answer for the input whose slots are `slots`.
    fn admits(&self, slots: &[Value]) -> bool {
        self.guards
            .iter()
            .zip(&self.guard_places)
            .all(|(g, p)| g.holds_below(&slots[p.slot], &p.rest))
    }

    /// Which evaluator answers: always `"tree"`.
    pub(crate) fn evaluator(&self) -> &'static str {
        "tree"
    }

    /// An evaluator for this plan's program.
    pub(crate) fn vm(&self, timer: ExecutionTimerConfig) -> Vm {
        Vm {
            program: self.program.clone(),
            places: self.places.clone(),
            limit: timer.limit,
            scratch: exec::Scratch::default(),
            slots: Vec::new(),
        }
    }
}

/// An evaluation's input, as the caller gave it.
#[derive(Clone, Copy)]
pub(crate) enum Input<'a> {
    /// No input.
    None,
    /// JSON text (checked for size and depth, not yet parsed).
    Text(&'a str),
    /// A parsed JSON document.
    Json(&'a serde_json::Value),
}

/// One thread's tree evaluator for one plan, with its buffers.
pub(crate) struct Vm {
    program: Arc<ir::Program>,
    places: Arc<[shape::Place<Value>]>,
    limit: std::time::Duration,
    scratch: exec::Scratch,
    /// The input's slots ([`shape::Shape`]), refilled by each run.
    slots: Vec<Value>,
}

/// What a VM run produced.
pub(crate) enum VmOutcome {
    /// The rule's value (`Undefined` when undefined).
    Value(Value),
    /// The execution time limit ran out.
    Timeout,
    /// Anything else (an input guard that does not hold, an error): the
    /// interpreter answers instead.
    Fallback,
}

impl Vm {
    /// Reads the part of `input` `plan` needs, checks the guards, and runs
    /// the program; an error only when the input is not JSON.
    pub(crate) fn answer(
        &mut self,
        plan: &Plan,
        input: Input<'_>,
    ) -> Result<VmOutcome, serde_json::Error> {
        match input {
            Input::None => plan.shape.none(&mut self.slots),
            Input::Text(t) => plan.shape.read_text(t, &mut self.slots)?,
            Input::Json(j) => plan.shape.read_json(j, &mut self.slots)?,
        }
        if !plan.admits(&self.slots) {
            return Ok(VmOutcome::Fallback);
        }
        let deadline = std::time::Instant::now().checked_add(self.limit);
        let view = exec::InputView {
            slots: &self.slots,
            places: &self.places,
        };
        Ok(
            match exec::run(&self.program, view, deadline, &mut self.scratch) {
                Ok(v) => VmOutcome::Value(v),
                Err(exec::Stop::Timeout) => VmOutcome::Timeout,
                Err(exec::Stop::Fallback) => VmOutcome::Fallback,
            },
        )
    }
}

/// Plans `entrypoint` (a rule path) on a copy of a revision's compiled
/// engine: the static pass, then the lowering to the tree evaluator.
pub(crate) fn plan(template: &regorus::Engine, entrypoint: &str) -> Route {
    match try_plan(template, entrypoint) {
        Ok(plan) => Route::Vm(Arc::new(plan)),
        Err(reason) => Route::Interpreter(Arc::from(reason.as_str())),
    }
}

fn try_plan(template: &regorus::Engine, entrypoint: &str) -> Result<Plan, String> {
    let mut engine = template.clone();
    let rule: regorus::Rc<str> = entrypoint.into();
    let compiled = engine
        .compile_with_entrypoint(&rule)
        .map_err(|e| format!("not compiled: {e}"))?;
    let data = engine.get_data();
    let proof = analyze::prove(compiled.get_modules(), &data, entrypoint)?;
    let program = lower::lower(compiled.get_modules(), &data, entrypoint)
        .map_err(|e| format!("not lowered for the tree evaluator: {e}"))?;
    let indexed = program.indexed();
    let mut shape = shape::Shape::default();
    for keys in &program.inputs {
        shape.add_keys(keys);
    }
    for g in &proof.guards {
        shape.add_steps(&g.path);
    }
    shape.finish();
    let places: Option<Arc<[_]>> = program.inputs.iter().map(|k| shape.place_keys(k)).collect();
    let guard_places: Option<Vec<_>> = proof
        .guards
        .iter()
        .map(|g| shape.place_steps(&g.path))
        .collect();
    // Every path was added to the shape, so each has its place.
    let (Some(places), Some(guard_places)) = (places, guard_places) else {
        return Err("an input path without a place in the input shape".into());
    };
    Ok(Plan {
        program: Arc::new(program),
        places,
        guards: proof.guards,
        shape,
        guard_places,
        indexed,
    })
}
