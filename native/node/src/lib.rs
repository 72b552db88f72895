//! The napi-rs layer of CoreSDK: type mapping, error mapping and async
//! tasks over `coresdk-engine`. No policy logic lives here.
//!
//! The generated loader (`native/node/binding.cjs`) and type declarations
//! (`native/node/binding.d.cts`) are committed; the hand-written TypeScript
//! API in `src/` is the only consumer.
#![deny(clippy::all)]

mod engine;
mod errors;
mod tasks;

pub use engine::*;
