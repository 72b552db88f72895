//! The PyO3 layer of CoreSDK: `coresdk._native`, the engine for CPython.
//!
//! Type mapping, error mapping and the GIL released around engine work; no
//! policy logic lives here (as in `native/node`). The Python package
//! `coresdk` (clients/python) re-exports [`engine::Engine`] as
//! `coresdk.Engine` and runs the `coresdk-sidecar` console script through
//! [`sidecar_main`].

mod engine;
mod errors;
mod fork;
mod options;
mod values;

use std::ffi::OsString;
use std::process::ExitCode;

use pyo3::prelude::*;

/// Runs the `coresdk-sidecar` program (the sidecar crate's own CLI) with
/// `argv` (the program name first), the GIL released; returns its exit code.
#[pyfunction]
fn sidecar_main(py: Python<'_>, argv: Vec<String>) -> u8 {
    let args: Vec<OsString> = argv.into_iter().map(OsString::from).collect();
    let code = py.detach(move || coresdk_sidecar::cli::main(args));
    // ExitCode has no stable accessor; it compares equal to the one it was made from.
    (0..=u8::MAX)
        .find(|n| ExitCode::from(*n) == code)
        .unwrap_or(1)
}

/// The extension module `coresdk._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // One line on stderr for a panic, never its payload (which could quote policy input).
    coresdk_engine::install_quiet_panic_hook();
    fork::install();
    m.add_class::<engine::Engine>()?;
    m.add_function(wrap_pyfunction!(sidecar_main, m)?)?;
    Ok(())
}
