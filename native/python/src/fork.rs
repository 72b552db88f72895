//! Fork detection: an engine made before `fork()` is refused in the child.
//!
//! The child has the parent's memory but not its threads; a lock one of them
//! held (an evaluator of the pool, the reload path) would never be released.
//! Each fork in a child bumps a generation; an engine remembers the one it
//! was made in and answers `ERR_ENGINE_CLOSED` in any other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

#[cfg(unix)]
extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the fork handler (once per process).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: the handler only increments an atomic, which is
        // async-signal-safe and allowed in a child after fork.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

/// The current process's generation.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}
