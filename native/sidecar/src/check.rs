//! `coresdk-sidecar --check`: everything a start would build, without
//! binding or serving.
//!
//! Compiles every tenant's bundle (and starts its key source, as a start
//! would), checks the listen addresses, the query allow-lists and the
//! AuthZEN settings, and refuses an AuthZEN query that names no rule of a
//! tenant the listener serves (at start that is only a warning, since a
//! bundle may gain the rule on reload; a check is asked for exactly this).

use coresdk_engine::ConfigFile;

use crate::error::SidecarError;
use crate::listen::ListenAddr;
use crate::tenants::Tenants;

/// What a successful check found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The gRPC listen address, as configured.
    pub addr: String,
    /// The tenant used when a request names none.
    pub default_tenant: String,
    /// Every tenant, in order.
    pub tenants: Vec<String>,
    /// Plaintext on loopback (development).
    pub insecure_dev: bool,
    /// The drain deadline, in milliseconds.
    pub drain_timeout_ms: u64,
    /// The health-only listener, when configured.
    pub health_addr: Option<String>,
    /// The AuthZEN listener, when configured.
    pub authzen_addr: Option<String>,
}

impl CheckReport {
    /// The report as one JSON object (the form `--check` prints).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "addr": self.addr,
            "defaultTenant": self.default_tenant,
            "tenants": self.tenants,
            "insecureDev": self.insecure_dev,
            "drainTimeoutMs": self.drain_timeout_ms,
            "healthAddr": self.health_addr,
            "authzenAddr": self.authzen_addr,
        })
    }
}

/// Checks `config` as a start would use it. The first problem is the
/// error, naming the key at fault.
pub fn check(config: &ConfigFile) -> Result<CheckReport, SidecarError> {
    let addr = ListenAddr::parse(&config.sdk.sidecar_addr)
        .map_err(|e| SidecarError::config("CORESDK_SIDECAR_ADDR", e.to_string()))?;
    // The certificates are read and checked as at start: a file that is
    // missing or does not hold what it should fails the check, not the start.
    if let Some(files) = crate::server::data_plane_tls(&config.sidecar, &addr)? {
        crate::tls::server_config(&files)?;
    }
    if let Some(h) = &config.sidecar.health_addr {
        ListenAddr::parse(h)
            .map_err(|e| SidecarError::config("CORESDK_SIDECAR_HEALTH_ADDR", e.to_string()))?;
    }
    crate::access::ClientLists::parse(&config.sidecar.client_queries)?;
    let tenants = Tenants::build(config.tenants()?, &config.sdk.tenant_id)?;
    let authzen = crate::authzen::config::Settings::from_config(config, |id| {
        tenants.iter().any(|t| t.id == id)
    })?;
    if let Some(files) = authzen.as_ref().and_then(|s| s.tls.as_ref()) {
        crate::tls::server_config(files)?;
    }
    if let Some(settings) = &authzen {
        if let Some((tenant, k, q)) = settings.unknown_rules(&tenants).into_iter().next() {
            return Err(SidecarError::config(
                format!("sidecar.authzen.{k}"),
                format!("{q:?} names no rule of tenant {tenant}'s bundle"),
            ));
        }
    }
    let report = CheckReport {
        addr: config.sdk.sidecar_addr.clone(),
        default_tenant: config.sdk.tenant_id.clone(),
        tenants: tenants.iter().map(|t| t.id.clone()).collect(),
        insecure_dev: config.sidecar.insecure_dev,
        drain_timeout_ms: config.sidecar.drain_timeout.as_millis() as u64,
        health_addr: config.sidecar.health_addr.clone(),
        authzen_addr: authzen.map(|a| a.addr.to_string()),
    };
    for t in tenants.iter() {
        t.engine.close();
    }
    Ok(report)
}
