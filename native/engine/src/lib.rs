//! # coresdk-engine
//!
//! CoreSDK's authorization engine: Rego policy evaluation with
//! [regorus](https://github.com/microsoft/regorus), pooled so that
//! concurrent requests never queue on one lock, over policy bundles in OPA's
//! layout that hot-reload when their files change.
//!
//! The same engine runs in Rust services (this crate), in Node through the
//! `coresdk` npm package's napi addon, and inside the CoreSDK sidecar, so a
//! decision never depends on which path a service chose.
//!
//! ```no_run
//! use coresdk_engine::Engine;
//! use serde_json::json;
//!
//! // coresdk.toml [sdk] policy_dir, or CORESDK_POLICY_DIR
//! let engine = Engine::from_env()?;
//! let input = json!({"user": {"roles": ["viewer"]}, "action": "read", "resource": {"type": "document"}});
//! if engine.is_allowed("data.authz.allow", &input) {
//!     println!("allowed by revision {}", engine.revision());
//! }
//! # Ok::<(), coresdk_engine::EngineError>(())
//! ```
//!
//! ## Guarantees
//! * **Deny on error or undefined.** [`Engine::is_allowed`] and
//!   [`Engine::decide`] allow only on exactly `true`.
//! * **Bounded work.** Every evaluation runs under regorus's execution time
//!   limit (`eval_timeout_ms`, always on); inputs are checked for size and
//!   depth before parsing; builtin errors are strict.
//! * **Hot reload without failures.** A changed bundle compiles off the
//!   request path and is swapped in atomically; a bundle that fails to
//!   compile is reported ([`Engine::on_reload`]) and the last good revision
//!   keeps serving. Every [`Decision`] names its revision.
#![deny(missing_docs)]

pub mod authzen_config;
mod builtin_types;
mod builtins;
mod bundle;
pub mod cache;
mod client_config;
mod compile_check;
pub mod config;
pub mod config_file;
/// The key lists of every `coresdk.toml` table, generated from the
/// configuration contract (`proto/contract/config.json`).
#[path = "generated/config_keys.rs"]
pub mod config_keys;
mod decision;
mod engine;
mod error;
mod fastpath;
mod frontend;
pub mod input;
mod nesting;
mod numbers;
pub mod pii;
mod pool;
pub mod query;
pub mod remote_bundle;
mod revision;
pub mod tester;
pub mod token;
mod watch;

pub use authzen_config::{AuthzenClientAuth, AuthzenConfig};
pub use bundle::{read_dir as read_bundle_dir, BundleFiles};
pub use cache::DecisionCacheStats;
pub use config::{
    BundleSource, ClientMode, ClientTls, DecisionLog, EngineConfig, FailMode, SdkConfig,
};
pub use config_file::{ConfigFile, SidecarConfig, TenantConfig};
pub use decision::{Decision, Verdict, VerdictReason};
pub use engine::{Authorization, Engine, ListenerId, ReloadEvent};
pub use error::{EngineError, Result, SourceLocation};
pub use remote_bundle::{BundleLoads, BundleStatus, RemoteBundleConfig};
pub use revision::{FastPathPlan, FastPathStats};
pub use watch::DEBOUNCE;

/// Replaces the panic hook with one that prints a single line to stderr,
/// without a backtrace or the panic's payload (which could quote policy
/// input). The engine catches panics inside regorus (the evaluator is reset
/// and the call fails with `ERR_EVAL`); language bindings install this when
/// their library loads. It covers the calling library's own copy of the
/// Rust runtime only.
pub fn install_quiet_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("coresdk: internal panic{location}; the evaluator was reset");
    }));
}

/// The crate README's example, compiled by `cargo test` so that it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
