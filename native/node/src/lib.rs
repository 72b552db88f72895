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
mod tasks;

pub use engine::*;
