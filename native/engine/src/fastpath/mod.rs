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
    data: Value,
    /// Whether rules were indexed ([`index`]) in the program.
    pub(crate) indexed: bool,
}

enum Compiled {
    Tree(Arc<ir::Program>),
    Rvm(Arc<Program>),
}

impl Plan {
    /// How many input guards a call checks.
    pub(crate) fn guard_count(&self) -> usize {
        self.guards.len()
    }
}

impl Plan {
    /// Whether the VM may answer for `input`.
    pub(crate) fn admits(&self, input: Option<&serde_json::Value>) -> bool {
        self.guards.iter().all(|g| g.holds_json(input))
    }

    /// Which evaluator answers: `"tree"` or `"rvm"`.
    pub(crate) fn evaluator(&self) -> &'static str {
        match self.program {
            Compiled::Tree(_) => "tree",
            Compiled::Rvm(_) => "rvm",
        }
    }

    /// An evaluator for this plan's program and data.
    pub(crate) fn vm(&self, timer: ExecutionTimerConfig) -> Vm {
        let program = match &self.program {
            Compiled::Tree(p) => {
                return Vm::Tree {
                    program: p.clone(),
                    limit: timer.limit,
                    scratch: exec::Scratch::default(),
                }
            }
            Compiled::Rvm(p) => p.clone(),
        };
        let mut vm = RegoVM::new();
        vm.load_program(program);
        vm.set_strict_builtin_errors(true);
        vm.set_execution_timer_config(Some(timer));
        // The execution time limit bounds evaluation; the instruction
        // budget is a second, generous bound (a 1,000-rule policy runs
        // well over the VM's default of 25,000 instructions).
        vm.set_max_instructions(50_000_000);
        // The data was accepted by the interpreter already.
        let _ = vm.set_data(self.data.clone());
        Vm::Rvm(Box::new(vm))
    }
}

/// One evaluator's VM for one plan.
pub(crate) enum Vm {
    /// The tree evaluator, with its buffers.
    Tree {
        program: Arc<ir::Program>,
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
    /// Anything else: the interpreter answers instead.
    Fallback,
}

impl Vm {
    /// Runs the program on `input`.
    pub(crate) fn run(&mut self, input: Option<&serde_json::Value>) -> VmOutcome {
        match self {
            Vm::Tree {
                program,
                limit,
                scratch,
            } => {
                let deadline = std::time::Instant::now().checked_add(*limit);
                match exec::run(program, input, deadline, scratch) {
                    Ok(v) => VmOutcome::Value(v),
                    Err(exec::Stop::Timeout) => VmOutcome::Timeout,
                    Err(exec::Stop::Fallback) => VmOutcome::Fallback,
                }
            }
            Vm::Rvm(vm) => {
                let input = match input.map(exec::to_value) {
                    None => Value::Undefined,
                    Some(Ok(v)) => v,
                    Some(Err(_)) => return VmOutcome::Fallback,
                };
                vm.set_input(input);
                match vm.execute() {
                    Ok(v) => VmOutcome::Value(v),
                    Err(e) if e.to_string().contains("exceeded time limit") => VmOutcome::Timeout,
                    Err(_) => VmOutcome::Fallback,
                }
            }
        }
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
            return Ok(Plan {
                program: Compiled::Tree(Arc::new(program)),
                guards: proof.guards,
                data,
                indexed,
            });
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
        guards: proof.guards,
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
