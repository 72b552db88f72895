//! The CoreSDK sidecar data plane: `coresdk-engine` served over gRPC.
//!
//! tonic on a tokio runtime of the sidecar's own threads, rustls mutual TLS
//! 1.3 with certificate reload, `grpc.health.v1.Health`, bounded concurrency
//! and a graceful drain. The handlers call the engine directly: no
//! JavaScript and no logging on the per-call path. The same crate is embedded
//! by the Node addon (driven by the `coresdk-sidecar` CLI) and builds a plain
//! `coresdk-sidecar` binary for images without Node.
//!
//! ```no_run
//! use std::sync::Arc;
//! use coresdk_sidecar::{Sidecar, SidecarOptions};
//! let config = coresdk_engine::ConfigFile::from_env()?;
//! let sidecar = Sidecar::start(SidecarOptions {
//!     config,
//!     events: Arc::new(|e| eprintln!("{}", e.to_json())),
//!     telemetry: None,
//! })?;
//! // ... on SIGTERM:
//! sidecar.drain(None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod access;
pub mod admission;
pub mod authzen;
pub mod bounded_queue;
pub mod certwatch;
pub mod check;
pub mod cli;
pub mod error;
pub mod events;
pub mod health;
pub mod json_out;
pub mod listen;
pub mod malloc_tuning;
pub mod otlp;
pub mod server;
pub mod service;
pub mod status;
pub mod telemetry;
pub mod tenants;
pub mod tls;

/// The generated protobuf messages and the tonic service traits.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("coresdk.v1");
}

pub use error::SidecarError;
pub use events::{Event, EventSink, Level};
pub use server::{DrainReport, Sidecar, SidecarOptions};
