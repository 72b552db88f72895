//! The fast path: regorus's register VM, where it is proven to answer
//! exactly as the interpreter does.
//!
//! regorus 0.14 compiles a rule to bytecode for its VM (`RegoVM`), which
//! evaluates the same policies several times faster than the tree-walking
//! interpreter. It is not safe everywhere: the VM treats an error inside a
//! rule body as the body failing, so a builtin error in a `deny` rule, under
//! `not`, or in a set counted by `count(deny) == 0` would allow where the
//! interpreter (strict builtin errors on) raises and the engine denies.
//!
//! For each rule query the engine therefore runs a static pass
//! ([`analyze`]) over everything the rule can reach. The VM answers only
//! when the pass proves that no evaluation error is possible for an input
//! that satisfies the derived [`Guard`]s; every call checks the guards
//! first. Everything else (an ineligible policy, a general query, an input
//! that fails a guard, any error the VM reports) is answered by the
//! interpreter, so the interpreter remains the reference and the VM is a
//! proven shortcut. `fast_path = false` turns the VM off altogether.

mod abs;
mod analyze;
mod exec;
mod index;
mod ir;
mod lower;
mod shape;

use std::sync::Arc;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::Value;

pub(crate) use abs::Guard;

/// How one rule query is evaluated on one revision.
#[derive(Clone)]
pub(crate) enum Route {
    /// The VM may answer inputs that satisfy the plan's guards.
    Vm(Arc<Plan>),
    /// The interpreter answers, for this reason.
    Interpreter(Arc<str>),
}

/// A compiled program for one entrypoint and its input guards: the tree
/// evaluator's ([`lower`], [`exec`]) when it lowers every rule the query
/// reaches, else regorus's VM bytecode.
pub(crate) struct Plan {
    program: Compiled,
    guards: Vec<Guard>,
    /// The part of the input the program and its guards read.
    shape: shape::Shape,
    /// Where each guard's path starts in the shape's slots.
    guard_places: Vec<shape::Place<abs::Step>>,
    data: Value,
    /// Whether rules were indexed ([`index`]) in the program.
    pub(crate) indexed: bool,
}

enum Compiled {
    /// The tree evaluator's program, and where each of its input paths is
    /// in the shape's slots (by input path id).
    Tree {
        program: Arc<ir::Program>,
        places: Arc<[shape::Place<Value>]>,
    },
    Rvm(Arc<Program>),
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

    /// Which evaluator answers: `"tree"` or `"rvm"`.
    pub(crate) fn evaluator(&self) -> &'static str {
        match self.program {
            Compiled::Tree { .. } => "tree",
            Compiled::Rvm(_) => "rvm",
        }
    }

    /// An evaluator for this plan's program and data.
    pub(crate) fn vm(&self, timer: ExecutionTimerConfig) -> Vm {
        let kind = match &self.program {
            Compiled::Tree { program, places } => VmKind::Tree {
                program: program.clone(),
                places: places.clone(),
                limit: timer.limit,
                scratch: exec::Scratch::default(),
            },
            Compiled::Rvm(program) => {
                let mut vm = RegoVM::new();
                vm.load_program(program.clone());
                vm.set_strict_builtin_errors(true);
                vm.set_execution_timer_config(Some(timer));
                // The execution time limit bounds evaluation; the instruction
                // budget is a second, generous bound (a 1,000-rule policy runs
                // well over the VM's default of 25,000 instructions).
                vm.set_max_instructions(50_000_000);
                // The data was accepted by the interpreter already.
                let _ = vm.set_data(self.data.clone());
                VmKind::Rvm(Box::new(vm))
            }
        };
        Vm {
            kind,
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

/// One evaluator's VM for one plan, with its input buffer.
pub(crate) struct Vm {
    kind: VmKind,
    /// The input's slots ([`shape::Shape`]), refilled by each run.
    slots: Vec<Value>,
}

enum VmKind {
    /// The tree evaluator, with where each input path is and its buffers.
    Tree {
        program: Arc<ir::Program>,
        places: Arc<[shape::Place<Value>]>,
        limit: std::time::Duration,
        scratch: exec::Scratch,
    },
    /// regorus's register VM.
    Rvm(Box<RegoVM>),
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
        Ok(match &mut self.kind {
            VmKind::Tree {
                program,
                places,
                limit,
                scratch,
            } => {
                let deadline = std::time::Instant::now().checked_add(*limit);
                let view = exec::InputView {
                    slots: &self.slots,
                    places,
                };
                match exec::run(program, view, deadline, scratch) {
                    Ok(v) => VmOutcome::Value(v),
                    Err(exec::Stop::Timeout) => VmOutcome::Timeout,
                    Err(exec::Stop::Fallback) => VmOutcome::Fallback,
                }
            }
            VmKind::Rvm(vm) => {
                // The whole input, in the shape's one slot.
                vm.set_input(std::mem::replace(&mut self.slots[0], Value::Undefined));
                match vm.execute() {
                    Ok(v) => VmOutcome::Value(v),
                    Err(e) if e.to_string().contains("exceeded time limit") => VmOutcome::Timeout,
                    Err(_) => VmOutcome::Fallback,
                }
            }
        })
    }
}

/// Plans `entrypoint` (a rule path) on a copy of a revision's compiled
/// engine: the static pass, then compilation to VM bytecode.
pub(crate) fn plan(template: &regorus::Engine, entrypoint: &str, rego_v0: bool) -> Route {
    match try_plan(template, entrypoint, rego_v0) {
        Ok(plan) => Route::Vm(Arc::new(plan)),
        Err(reason) => Route::Interpreter(Arc::from(reason.as_str())),
    }
}

fn try_plan(template: &regorus::Engine, entrypoint: &str, rego_v0: bool) -> Result<Plan, String> {
    let mut engine = template.clone();
    let rule: regorus::Rc<str> = entrypoint.into();
    let compiled = engine
        .compile_with_entrypoint(&rule)
        .map_err(|e| format!("not compiled for the VM: {e}"))?;
    let data = engine.get_data();
    let proof = analyze::prove(compiled.get_modules(), &data, entrypoint)?;
    if tree_enabled() {
        if let Ok(program) = lower::lower(compiled.get_modules(), &data, entrypoint) {
            let indexed = program.indexed();
            let mut shape = shape::Shape::default();
            for keys in &program.inputs {
                shape.add_keys(keys);
            }
            for g in &proof.guards {
                shape.add_steps(&g.path);
            }
            shape.finish();
            let places: Option<Arc<[_]>> =
                program.inputs.iter().map(|k| shape.place_keys(k)).collect();
            let guard_places: Option<Vec<_>> = proof
                .guards
                .iter()
                .map(|g| shape.place_steps(&g.path))
                .collect();
            // Every path was added to the shape, so each has its place.
            if let (Some(places), Some(guard_places)) = (places, guard_places) {
                return Ok(Plan {
                    program: Compiled::Tree {
                        program: Arc::new(program),
                        places,
                    },
                    guards: proof.guards,
                    shape,
                    guard_places,
                    data,
                    indexed,
                });
            }
        }
    }
    let (program, indexed) = match indexed_program(&compiled, &data, entrypoint, rego_v0) {
        Some(p) => (p, true),
        None => (
            Compiler::compile_from_policy(&compiled, &[entrypoint])
                .map_err(|e| format!("the VM compiler refused it: {e}"))?,
            false,
        ),
    };
    Ok(Plan {
        program: Compiled::Rvm(program),
        guard_places: proof
            .guards
            .iter()
            .map(|g| shape::Place {
                slot: 0,
                rest: g.path.clone(),
            })
            .collect(),
        guards: proof.guards,
        shape: shape::Shape::whole(),
        data,
        indexed,
    })
}

/// Whether the tree evaluator may be used (`CORESDK_FAST_PATH_EVALUATOR=rvm`
/// keeps regorus's VM, for comparing the two).
fn tree_enabled() -> bool {
    std::env::var("CORESDK_FAST_PATH_EVALUATOR").map_or(true, |v| v != "rvm")
}

/// The VM program of the policy with its many-bodied rules indexed
/// ([`index`]), when any qualify and the rewrite compiles.
fn indexed_program(
    compiled: &regorus::CompiledPolicy,
    data: &Value,
    entrypoint: &str,
    rego_v0: bool,
) -> Option<Arc<Program>> {
    let modules = index::rewrite(compiled.get_modules())?;
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(rego_v0);
    engine.set_strict_builtin_errors(true);
    engine.set_policy_length_config(regorus::PolicyLengthConfig {
        max_col: std::num::NonZeroU32::new(1 << 20)?,
        max_file_bytes: std::num::NonZeroUsize::new(64 << 20)?,
        max_lines: std::num::NonZeroUsize::new(4_000_000)?,
    });
    for (file, source) in modules {
        engine.add_policy(file, source).ok()?;
    }
    engine.add_data(data.clone()).ok()?;
    let rule: regorus::Rc<str> = entrypoint.into();
    let compiled = engine.compile_with_entrypoint(&rule).ok()?;
    Compiler::compile_from_policy(&compiled, &[entrypoint]).ok()
}
