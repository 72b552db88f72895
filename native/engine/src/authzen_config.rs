//! The `[sidecar.authzen]` table: the sidecar's OpenID AuthZEN 1.0 listener.
//!
//! ```toml
//! [sidecar.authzen]                  # CORESDK_SIDECAR_AUTHZEN_<KEY> overrides each key
//! addr = "[::]:8443"                 # off unless set
//! client_auth = "api_key"            # or "mtls" (the default)
//! api_key_sha256 = ["9f86d0...", "globex:2c26b4..."]
//! decision_query = "data.authzen.allow"
//! tenant_prefixes = ["/globex=globex"]
//! ```
//!
//! This module only parses and checks the values; the listener itself (and
//! everything about HTTP) lives in the sidecar crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::RawValue;
use crate::error::{EngineError, Result};

pub use crate::config_keys::AUTHZEN_KEYS;

/// The decision query used when `decision_query` is not set.
pub const DEFAULT_AUTHZEN_QUERY: &str = "data.authzen.allow";

/// How AuthZEN clients (PEPs) authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthzenClientAuth {
    /// A client certificate chaining to the client CA (`"mtls"`, default).
    Mtls,
    /// `Authorization: Bearer <key>`, checked against SHA-256 hashes
    /// (`"api_key"`).
    ApiKey,
}

/// `[sidecar.authzen]` after `CORESDK_SIDECAR_AUTHZEN_*` overrides.
#[derive(Debug, Clone)]
pub struct AuthzenConfig {
    /// Listen address (`addr`); `None` leaves the listener off.
    pub addr: Option<String>,
    /// Server certificate chain, PEM (`tls_cert_file`; default: `sidecar.tls_cert_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// Server private key, PEM (`tls_key_file`; default: `sidecar.tls_key_file`).
    pub tls_key_file: Option<PathBuf>,
    /// CA for client certificates (`tls_client_ca_file`; default:
    /// `sidecar.tls_client_ca_file`), used with `client_auth = "mtls"`.
    pub tls_client_ca_file: Option<PathBuf>,
    /// How clients authenticate (`client_auth`).
    pub client_auth: AuthzenClientAuth,
    /// Accepted API keys as lowercase hex SHA-256 digests, each optionally
    /// scoped to one tenant as `tenant:digest` (`api_key_sha256`).
    pub api_key_sha256: Vec<String>,
    /// With mTLS, the DNS names one of which a client certificate must hold
    /// (`allowed_client_names`); empty admits any certificate from the CA.
    pub allowed_client_names: Vec<String>,
    /// The Rego query whose value `true` permits (`decision_query`).
    pub decision_query: String,
    /// A Rego query whose object value becomes the response `context`
    /// (`context_query`).
    pub context_query: Option<String>,
    /// Put the reason of a deny by undefined or error into `context`
    /// (`expose_reasons`, default false).
    pub expose_reasons: bool,
    /// `/<prefix>=<tenant>` pairs: requests under the prefix go to the
    /// tenant (`tenant_prefixes`); other paths go to the default tenant.
    pub tenant_prefixes: Vec<String>,
    /// The PDP identifier published by the metadata endpoint (`public_url`);
    /// default: the scheme and the request's host.
    pub public_url: Option<String>,
    /// Largest request body, in bytes (`max_body_bytes`, default 1 MiB).
    pub max_body_bytes: usize,
    /// Most items in one `evaluations` request (`max_evaluations`, default 128).
    pub max_evaluations: usize,
    /// The Rego query answering subject search (`search_subject_query`);
    /// the endpoint is served only when set.
    pub search_subject_query: Option<String>,
    /// The Rego query answering resource search (`search_resource_query`).
    pub search_resource_query: Option<String>,
    /// The Rego query answering action search (`search_action_query`).
    pub search_action_query: Option<String>,
    /// Most results in one search page (`search_page_size`, default 100).
    pub search_page_size: usize,
}

impl Default for AuthzenConfig {
    fn default() -> Self {
        AuthzenConfig {
            addr: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            client_auth: AuthzenClientAuth::Mtls,
            api_key_sha256: Vec::new(),
            allowed_client_names: Vec::new(),
            decision_query: DEFAULT_AUTHZEN_QUERY.to_string(),
            context_query: None,
            expose_reasons: false,
            tenant_prefixes: Vec::new(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            max_evaluations: 128,
            search_subject_query: None,
            search_resource_query: None,
            search_action_query: None,
            search_page_size: 100,
        }
    }
}

impl AuthzenConfig {
    /// Whether the listener is configured.
    pub fn enabled(&self) -> bool {
        self.addr.is_some()
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Parses the `[sidecar.authzen]` entries (file values and variables).
pub(crate) fn parse_authzen(
    entries: BTreeMap<String, (String, RawValue)>,
    base_dir: Option<&Path>,
) -> Result<AuthzenConfig> {
    let mut c = AuthzenConfig::default();
    let path = |name: &str, v: RawValue| -> Result<PathBuf> {
        let p = PathBuf::from(v.string(name)?);
        Ok(match (base_dir, p.is_relative()) {
            (Some(base), true) if !name.starts_with("CORESDK_") => base.join(p),
            _ => p,
        })
    };
    let query = |name: &str, v: RawValue| -> Result<Option<String>> {
        let q = non_empty(v.string(name)?);
        if let Some(q) = &q {
            if !q.starts_with("data.") {
                return Err(EngineError::config(
                    name,
                    format!("a query is a data reference such as data.authzen.allow, got {q:?}"),
                ));
            }
        }
        Ok(q)
    };
    for (key, (name, v)) in entries {
        match key.as_str() {
            "addr" => c.addr = non_empty(v.string(&name)?),
            "tls_cert_file" => c.tls_cert_file = Some(path(&name, v)?),
            "tls_key_file" => c.tls_key_file = Some(path(&name, v)?),
            "tls_client_ca_file" => c.tls_client_ca_file = Some(path(&name, v)?),
            "client_auth" => {
                c.client_auth = match v.string(&name)?.trim() {
                    "mtls" => AuthzenClientAuth::Mtls,
                    "api_key" => AuthzenClientAuth::ApiKey,
                    other => {
                        return Err(EngineError::config(
                            name,
                            format!("must be \"mtls\" or \"api_key\", got {other:?}"),
                        ))
                    }
                }
            }
            "api_key_sha256" => c.api_key_sha256 = v.list(&name)?,
            "allowed_client_names" => c.allowed_client_names = v.list(&name)?,
            "decision_query" => {
                c.decision_query = query(&name, v)?
                    .ok_or_else(|| EngineError::config(&name, "must not be empty"))?
            }
            "context_query" => c.context_query = query(&name, v)?,
            "expose_reasons" => c.expose_reasons = v.boolean(&name)?,
            "tenant_prefixes" => c.tenant_prefixes = v.list(&name)?,
            "public_url" => c.public_url = non_empty(v.string(&name)?),
            "max_body_bytes" => c.max_body_bytes = v.int(&name, 1024, 1 << 30)? as usize,
            "max_evaluations" => c.max_evaluations = v.int(&name, 1, 10_000)? as usize,
            "search_subject_query" => c.search_subject_query = query(&name, v)?,
            "search_resource_query" => c.search_resource_query = query(&name, v)?,
            "search_action_query" => c.search_action_query = query(&name, v)?,
            "search_page_size" => c.search_page_size = v.int(&name, 1, 10_000)? as usize,
            _ => unreachable!("keys are allow-listed by AUTHZEN_KEYS"),
        }
    }
    Ok(c)
}
