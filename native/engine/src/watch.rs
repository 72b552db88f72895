//! Hot reload: a file watcher (notify) on the bundle directory.
//!
//! Events are debounced: a reload starts once the directory has been quiet
//! for [`DEBOUNCE`], so an editor's save (truncate, write, rename) or a
//! `git checkout` touching many files compiles once. The reload itself is
//! the engine's: compile the new revision, swap it in atomically on success,
//! report and keep the old one on failure.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Weak;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::engine::Inner;
use crate::error::{EngineError, Result};

/// Quiet period before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(75);

/// Owns the OS watcher; dropping it stops the reload thread.
pub(crate) struct BundleWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl BundleWatcher {
    pub(crate) fn start(dir: &Path, engine: Weak<Inner>) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res {
                if !event.kind.is_access() {
                    let _ = tx.send(());
                }
            }
        })
        .map_err(|e| watch_err(dir, e))?;
        watcher
            .watch(dir, RecursiveMode::Recursive)
            .map_err(|e| watch_err(dir, e))?;
        std::thread::Builder::new()
            .name("coresdk-policy-watch".into())
            .spawn(move || {
                // Ends when the watcher (and with it `tx`) is dropped.
                while rx.recv().is_ok() {
                    while rx.recv_timeout(DEBOUNCE).is_ok() {}
                    let Some(inner) = engine.upgrade() else { break };
                    // Failures are reported to reload listeners by `reload`.
                    let _ = inner.reload_if_changed();
                }
            })
            .map_err(|e| watch_err(dir, e))?;
        Ok(BundleWatcher { _watcher: watcher })
    }
}

fn watch_err(dir: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::PolicyLoad {
        path: dir.to_path_buf(),
        message: format!("cannot watch for changes: {e}"),
    }
}
