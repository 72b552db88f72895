//! Watches the certificate files' directories and asks for a reload when
//! something in them changes (Kubernetes updates a mounted Secret by swapping
//! a `..data` symlink, so the directory, not the file, is what changes).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

/// How long the watcher waits for a burst of changes to settle.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// A running watcher; dropping it stops the watch.
pub struct CertWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl CertWatcher {
    /// Watches the directories of `files`; `on_change` runs on a thread of
    /// its own after each settled burst of changes.
    pub fn start(files: &[PathBuf], on_change: impl Fn() + Send + 'static) -> notify::Result<Self> {
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.map(|e| !e.kind.is_access()).unwrap_or(true) {
                    let _ = tx.send(());
                }
            })?;
        let dirs: BTreeSet<PathBuf> = files
            .iter()
            .map(|f| {
                f.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("."))
            })
            .collect();
        for d in &dirs {
            watcher.watch(d, RecursiveMode::NonRecursive)?;
        }
        std::thread::Builder::new()
            .name("coresdk-certwatch".into())
            .spawn(move || {
                // Ends when the watcher (and with it the sender) is dropped.
                while rx.recv().is_ok() {
                    while rx.recv_timeout(DEBOUNCE).is_ok() {}
                    on_change();
                }
            })
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(CertWatcher { _watcher: watcher })
    }
}
