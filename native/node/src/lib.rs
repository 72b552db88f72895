//! The napi-rs layer of CoreSDK: type mapping, error mapping and async
//! tasks over `coresdk-engine`. No policy logic lives here.
//!
//! The generated loader (`native/node/binding.cjs`) and type declarations
//! (`native/node/binding.d.cts`) are committed; the hand-written TypeScript
//! API in `src/` is the only consumer.
#![deny(clippy::all)]

/// mimalloc: the engine allocates per evaluation, and the system allocator
/// showed up as 20% of a profile (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod engine;
mod errors;
mod pii;
mod sidecar;
mod tasks;
mod tester;

/// Runs when Node loads the addon. The engine catches panics inside regorus
/// (the evaluator is reset and the call fails with `ERR_EVAL`); this hook
/// keeps them to one line on stderr, without a backtrace or the panic's
/// payload, which could quote policy input. The hook only covers this
/// library's own copy of the Rust runtime.
#[napi_derive::module_init]
fn init() {
    coresdk_engine::install_quiet_panic_hook();
}

pub use engine::*;
pub use pii::*;
pub use sidecar::*;
pub use tester::*;
