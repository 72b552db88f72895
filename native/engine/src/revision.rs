//! A compiled policy revision: the template every pooled evaluator clones.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use regorus::utils::limits::{ExecutionTimerConfig, PolicyLengthConfig};

use crate::bundle::{under_root, BundleFiles};
use crate::cache::{is_deterministic, DecisionCache};
use crate::config::EngineConfig;
use crate::error::{EngineError, Result};
use crate::fastpath::{self, Route};

/// Most distinct rule queries a revision plans; past it, new queries go to
/// the interpreter (general queries are never planned).
const MAX_ROUTES: usize = 1024;

/// One compiled bundle revision.
///
/// The compiled regorus engine is a template: evaluators clone it, so that
/// every worker evaluates on its own copy and no evaluation ever waits on
/// another. In-flight evaluations keep the `Arc<Revision>` they started with.
pub struct Revision {
    /// The revision id (manifest revision or content hash).
    pub id: Arc<str>,
    /// Number of Rego modules.
    pub modules: usize,
    template: Mutex<regorus::Engine>,
    /// This revision's decision cache; `None` when disabled or when the
    /// bundle calls a nondeterministic builtin.
    pub cache: Option<DecisionCache>,
    /// `authorize` decisions keyed by token digest and caller input: a
    /// separate cache, so no plain-evaluation key can ever reach one.
    pub authorize_cache: Option<DecisionCache>,
    fast_path: bool,
    timer: ExecutionTimerConfig,
    routes: Mutex<HashMap<String, Route>>,
    answers: Box<[AnswerShard]>,
    /// Paths of the rules that are not functions, each key written as
    /// `<byte length>:<key>` ([`path_key`]): one unambiguous string per path,
    /// so that a query's prefixes are looked up without a vector per key.
    rule_paths: HashSet<String>,
    /// The same paths as keys below `data`, sorted, for listing
    /// ([`Revision::rules`]).
    rules: Vec<Vec<String>>,
}

/// Shards of the answer counters, one cache line each: threads counting on
/// one shared line slowed two-thread decisions measurably.
const ANSWER_SHARDS: usize = 8;

#[derive(Default)]
#[repr(align(128))]
struct AnswerShard {
    vm: AtomicU64,
    interpreter: AtomicU64,
}

/// How one rule query is evaluated (see [`crate::Engine::fast_path_plan`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FastPathPlan {
    /// `None` when the tree evaluator answers (inputs that pass the
    /// guards); otherwise why the interpreter answers every call.
    pub reason: Option<String>,
    /// Input guards each call checks before the tree evaluator may answer.
    pub guards: usize,
    /// Whether many-bodied rules were indexed in the program.
    pub indexed: bool,
    /// Which evaluator answers: `"tree"` (CoreSDK's own evaluator of
    /// proven queries) or `"interpreter"`.
    pub evaluator: &'static str,
}

/// How a revision's rule queries were answered (docs/engine.md, "The fast path").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FastPathStats {
    /// Evaluations the register VM answered.
    pub vm: u64,
    /// Evaluations the interpreter answered.
    pub interpreter: u64,
}

impl std::fmt::Debug for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revision")
            .field("id", &self.id)
            .field("modules", &self.modules)
            .finish()
    }
}

/// Appends one key of a path as `<byte length>:<key>`: keys may hold any
/// character (`data.a["b.c"]`), so a separator alone could make two paths
/// one.
fn path_key(out: &mut String, key: &str) {
    use std::fmt::Write;
    let _ = write!(out, "{}:{key}", key.len());
}

impl Revision {
    /// Compiles bundle files into a revision, with the engine's limits applied.
    pub fn compile(files: BundleFiles, config: &EngineConfig) -> Result<Self> {
        Self::compile_with(files, config, true)
    }

    /// [`Revision::compile`]; `strict_builtin_errors: false` makes CoreSDK's
    /// own builtins ([`crate::builtins`]) answer undefined on an error, as
    /// regorus's do then (the policy test runner's default, as `opa test`).
    pub(crate) fn compile_with(
        files: BundleFiles,
        config: &EngineConfig,
        strict_builtin_errors: bool,
    ) -> Result<Self> {
        if files.rego_version == Some(0) && !config.rego_v0 {
            return Err(EngineError::PolicyCompile {
                location: Some(crate::error::SourceLocation {
                    file: ".manifest".into(),
                    line: 1,
                    column: 1,
                }),
                message: "the manifest declares rego_version 0 (pre-1.0 syntax); set rego_v0 = true to load it".into(),
            });
        }
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(config.rego_v0);
        // Builtin errors (e.g. a bad regex, a division by zero) are errors,
        // never silently undefined: an allow rule that errors must deny.
        engine.set_strict_builtin_errors(true);
        engine.set_execution_timer_config(timer(config));
        // CoreSDK's implementations where regorus's builtins answer
        // differently from OPA (crate::builtins).
        crate::builtins::register(&mut engine, strict_builtin_errors)
            .map_err(|e| EngineError::compile(&e))?;
        // OPA has no line-length limit, and policies embedding certificates
        // or JWTs on one line are common; the loader caps file sizes.
        engine.set_policy_length_config(PolicyLengthConfig {
            max_col: std::num::NonZeroU32::new(1 << 20).expect("non-zero"),
            max_file_bytes: std::num::NonZeroUsize::new(16 << 20).expect("non-zero"),
            max_lines: std::num::NonZeroUsize::new(1_000_000).expect("non-zero"),
        });
        for (name, source) in &files.modules {
            crate::nesting::check_module(name, source)?;
        }
        // OPA's meaning where regorus's differs: rewrites and refusals
        // (crate::frontend), on modules whose nesting is already bounded.
        let modules = crate::frontend::prepare(&files.modules, &files.data, config.rego_v0)?;
        for (name, source) in &modules {
            let package = engine
                .add_policy(name.clone(), source.clone())
                .map_err(|e| EngineError::parse(&e, source))?;
            if !files.roots.is_empty() {
                let path = package
                    .trim_start_matches("data")
                    .trim_start_matches('.')
                    .replace('.', "/");
                if !files.roots.iter().any(|r| under_root(&path, r)) {
                    return Err(EngineError::PolicyCompile {
                        location: Some(crate::error::SourceLocation {
                            file: name.clone(),
                            line: 1,
                            column: 1,
                        }),
                        message: format!(
                            "package {package} is outside the manifest roots [{}]",
                            files.roots.join(", ")
                        ),
                    });
                }
            }
        }
        // OPA's compile checks that regorus does not make (a rule called as
        // a function, a function called with the wrong number of arguments).
        let rule_paths = crate::compile_check::check(
            &engine
                .get_ast_as_json()
                .map_err(|e| EngineError::compile(&e))?,
            config.rego_v0,
        )?;
        let data = regorus::Value::from_json_str(&files.data.to_string())
            .map_err(|e| EngineError::compile(&e))?;
        engine
            .add_data(data)
            .map_err(|e| EngineError::compile(&e))?;
        // Force regorus to analyse and schedule every module now, so that a
        // broken bundle fails here (and the last good revision keeps
        // serving) rather than on the first request.
        engine
            .eval_query("true".to_string(), false)
            .map_err(|e| EngineError::compile(&e))?;
        let deterministic = is_deterministic(files.modules.iter().map(|(_, src)| src.as_str()));
        let cache = (config.decision_cache_entries > 0 && deterministic)
            .then(|| DecisionCache::new(config.decision_cache_entries));
        let authorize_cache = cache
            .as_ref()
            .map(|_| DecisionCache::new(config.decision_cache_entries));
        Ok(Revision {
            cache,
            authorize_cache,
            fast_path: config.fast_path,
            timer: timer(config),
            routes: Mutex::new(HashMap::new()),
            answers: (0..ANSWER_SHARDS).map(|_| AnswerShard::default()).collect(),
            id: Arc::from(files.revision.as_str()),
            modules: files.modules.len(),
            rule_paths: rule_paths
                .iter()
                .map(|p| {
                    let mut k = String::new();
                    p.iter().for_each(|key| path_key(&mut k, key));
                    k
                })
                .collect(),
            rules: rule_paths.into_iter().collect(),
            template: Mutex::new(engine),
        })
    }

    /// Whether `path` (keys below `data`) is a rule of this revision that is
    /// not a function, or a path inside such a rule's value.
    pub fn serves_rule(&self, path: &[&str]) -> bool {
        let mut prefix = String::new();
        path.iter().any(|k| {
            path_key(&mut prefix, k);
            self.rule_paths.contains(&prefix)
        })
    }

    /// The paths of this revision's rules that are not functions, as keys
    /// below `data` (`["authz", "allow"]`), sorted; for a rule with a
    /// variable in its head, the constant part before it.
    pub(crate) fn rules(&self) -> &[Vec<String>] {
        &self.rules
    }

    /// How rule query `query` is evaluated on this revision, planned on
    /// first use and remembered.
    pub(crate) fn route(&self, query: &str) -> Route {
        if !self.fast_path {
            return Route::Interpreter(Arc::from("fast_path is off"));
        }
        if let Some(r) = lock(&self.routes).get(query) {
            return r.clone();
        }
        // Plan outside the lock: compiling a large policy takes a while.
        let route = fastpath::plan(&self.instantiate(), query);
        let mut routes = lock(&self.routes);
        if routes.len() < MAX_ROUTES {
            routes.insert(query.to_string(), route.clone());
        }
        route
    }

    /// The execution time limit, for VMs of this revision.
    pub(crate) fn timer(&self) -> ExecutionTimerConfig {
        self.timer
    }

    /// Counts one answer.
    pub(crate) fn count_answer(&self, by_vm: bool) {
        let shard = &self.answers[crate::pool::home() % ANSWER_SHARDS];
        let counter = if by_vm { &shard.vm } else { &shard.interpreter };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// How this revision's evaluations were answered.
    pub fn fast_path_stats(&self) -> FastPathStats {
        let sum = |f: fn(&AnswerShard) -> &AtomicU64| {
            self.answers
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        FastPathStats {
            vm: sum(|s| &s.vm),
            interpreter: sum(|s| &s.interpreter),
        }
    }

    /// A fresh evaluator for this revision.
    pub(crate) fn instantiate(&self) -> regorus::Engine {
        self.template
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn timer(config: &EngineConfig) -> ExecutionTimerConfig {
    ExecutionTimerConfig {
        limit: config.eval_timeout,
        // regorus checks the clock every `check_interval` work units.
        check_interval: std::num::NonZeroU32::new(64).expect("non-zero"),
    }
}
