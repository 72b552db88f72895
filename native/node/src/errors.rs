//! Engine errors as JavaScript errors.
//!
//! The message is `[ERR_CODE] text`; the TypeScript layer turns it into a
//! `CoreSDKError` whose `code` is the engine's stable code.

use coresdk_engine::EngineError;

/// Maps an engine error to a napi error carrying its stable code.
pub(crate) fn to_napi(err: EngineError) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("[{}] {}", err.code(), err),
    )
}

/// An invalid argument, reported with the engine's input code.
pub(crate) fn invalid_arg(code: &str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(napi::Status::InvalidArg, format!("[{code}] {message}"))
}
