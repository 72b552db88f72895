//! The evaluator pool.
//!
//! regorus evaluates with `&mut self`, so each concurrent evaluation needs
//! its own engine. The pool holds N evaluators (N = `pool_size`, by default
//! the available parallelism), each behind its own mutex. A thread first
//! tries its home slot (assigned round-robin on the thread's first call, so
//! each worker thread tends to own one evaluator), then any free slot with
//! `try_lock`. If every slot is busy it clones a transient evaluator from the
//! revision's template instead of waiting: callers never queue on a lock.
//!
//! An evaluator belongs to one revision. When the engine's current revision
//! changes, a slot re-clones from the new template on its next use; an
//! evaluation already running finishes on the revision it started with.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use crate::fastpath::{Plan, Route, Vm};
use crate::revision::Revision;

static NEXT_HOME: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static HOME: Cell<usize> = Cell::new(NEXT_HOME.fetch_add(1, Ordering::Relaxed));
}

/// This thread's home index (assigned round-robin on its first call).
pub(crate) fn home() -> usize {
    HOME.with(|h| h.get())
}

/// Most distinct rule queries one evaluator keeps a VM for.
const MAX_VMS: usize = 64;

/// One evaluator: an interpreter of one revision, and the VMs of the rule
/// queries it has seen that the fast path may answer.
pub(crate) struct Evaluator {
    pub(crate) revision: Arc<Revision>,
    pub(crate) engine: regorus::Engine,
    vms: HashMap<Box<str>, Option<(Arc<Plan>, Vm)>>,
}

impl Evaluator {
    fn new(revision: Arc<Revision>) -> Self {
        Evaluator {
            engine: revision.instantiate(),
            revision,
            vms: HashMap::new(),
        }
    }

    /// The VM for rule query `query` with its plan, when the fast path may
    /// answer it on this revision.
    pub(crate) fn vm(&mut self, query: &str) -> Option<&mut (Arc<Plan>, Vm)> {
        if !self.vms.contains_key(query) {
            let entry = match self.revision.route(query) {
                Route::Vm(plan) => {
                    let vm = plan.vm(self.revision.timer());
                    Some((plan, vm))
                }
                Route::Interpreter(_) => None,
            };
            if self.vms.len() >= MAX_VMS {
                self.vms.clear();
            }
            self.vms.insert(query.into(), entry);
        }
        self.vms.get_mut(query).and_then(Option::as_mut)
    }
}

/// A fixed set of evaluators.
pub(crate) struct Pool {
    slots: Box<[Mutex<Option<Evaluator>>]>,
}

impl Pool {
    pub(crate) fn new(size: usize) -> Self {
        Pool {
            slots: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Runs `f` on an evaluator of revision `current`.
    ///
    /// If `f` panics, the slot's evaluator is discarded (its state is
    /// unknown) and the panic propagates to the caller.
    pub(crate) fn with<R>(
        &self,
        current: &Arc<Revision>,
        f: impl FnOnce(&mut Evaluator) -> R,
    ) -> R {
        let n = self.slots.len();
        let home = home() % n;
        for i in 0..n {
            let slot = &self.slots[(home + i) % n];
            let guard = match slot.try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => {
                    let mut g = p.into_inner();
                    *g = None;
                    g
                }
                Err(TryLockError::WouldBlock) => continue,
            };
            return run_in_slot(guard, current, f);
        }
        // Every evaluator is busy: evaluate on a transient clone.
        let mut ev = Evaluator::new(current.clone());
        f(&mut ev)
    }
}

fn run_in_slot<R>(
    mut guard: MutexGuard<'_, Option<Evaluator>>,
    current: &Arc<Revision>,
    f: impl FnOnce(&mut Evaluator) -> R,
) -> R {
    let stale = guard
        .as_ref()
        .is_none_or(|e| !Arc::ptr_eq(&e.revision, current));
    if stale {
        *guard = Some(Evaluator::new(current.clone()));
    }
    let ev = guard.as_mut().expect("slot filled above");
    f(ev)
}
