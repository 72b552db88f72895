//! Engine errors as `coresdk.errors.CoreSDKError(code, message)`.

use coresdk_engine::EngineError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

static ERROR_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The `CoreSDKError` class of the Python package.
fn class<'py>(py: Python<'py>) -> PyResult<&'py Bound<'py, PyAny>> {
    ERROR_CLASS.import(py, "coresdk.errors", "CoreSDKError")
}

/// A `CoreSDKError` instance with a stable `code` (not raised).
pub(crate) fn new_error<'py>(
    py: Python<'py>,
    code: &str,
    message: &str,
) -> PyResult<Bound<'py, PyAny>> {
    class(py)?.call1((code, message))
}

/// A `CoreSDKError` to raise.
pub(crate) fn error(py: Python<'_>, code: &str, message: impl std::fmt::Display) -> PyErr {
    match new_error(py, code, &message.to_string()) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// An engine error, raised with its stable code.
pub(crate) fn engine_error(py: Python<'_>, e: &EngineError) -> PyErr {
    error(py, e.code(), e)
}
