//! Errors starting or operating the sidecar, with stable codes.

use coresdk_engine::EngineError;

/// Why the sidecar could not start, reload or stop.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// Configuration is missing or invalid; `key` names it.
    #[error("{key}: {message}")]
    Config {
        /// The configuration key or variable at fault.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A certificate, key or CA file could not be used.
    #[error("{key}: {message}")]
    Tls {
        /// The configuration key naming the file.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        message: String,
    },
    /// A tenant's engine failed to build (policy compile, key source...).
    #[error("tenant {tenant}: {source}")]
    Tenant {
        /// The tenant id.
        tenant: String,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
    /// The runtime could not start.
    #[error("runtime: {0}")]
    Runtime(String),
}

impl SidecarError {
    /// The stable code: `ERR_CONFIG`, `ERR_TLS`, `ERR_BIND`, the tenant
    /// engine's own code, or `ERR_RUNTIME`.
    pub fn code(&self) -> &'static str {
        match self {
            SidecarError::Config { .. } => "ERR_CONFIG",
            SidecarError::Tls { .. } => "ERR_TLS",
            SidecarError::Bind { .. } => "ERR_BIND",
            SidecarError::Tenant { source, .. } => source.code(),
            SidecarError::Runtime(_) => "ERR_RUNTIME",
        }
    }

    /// A configuration error naming `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        SidecarError::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A TLS file error naming `key`.
    pub fn tls(key: impl Into<String>, message: impl Into<String>) -> Self {
        SidecarError::Tls {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl From<EngineError> for SidecarError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Config { key, message } => SidecarError::Config { key, message },
            other => SidecarError::Tenant {
                tenant: String::new(),
                source: other,
            },
        }
    }
}
