//! The tenants a sidecar serves, each with an engine of its own.
//!
//! A tenant's engine holds its own policy bundle, verifier, key source and
//! caches, so a token verified for one tenant is never even looked at by
//! another's engine: isolation is structural, not a check that could be
//! forgotten.

use std::collections::HashMap;
use std::sync::Arc;

use coresdk_engine::{Engine, TenantConfig};
use tonic::{Code, Status};

use crate::access::QueryAccess;
use crate::error::SidecarError;
use crate::status::{status, ERR_TENANT_INVALID, ERR_UNKNOWN_TENANT};

/// One tenant.
pub struct Tenant {
    /// The id requests name.
    pub id: String,
    /// Its position in [`Tenants::iter`]'s order (telemetry keys on it).
    pub index: usize,
    /// Its engine.
    pub engine: Engine,
    /// The queries its clients may run.
    pub queries: QueryAccess,
}

/// Every tenant, and the default one for requests that name none.
pub struct Tenants {
    by_id: HashMap<String, Arc<Tenant>>,
    order: Vec<Arc<Tenant>>,
    default: Arc<Tenant>,
}

/// Whether every tenant can serve, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Policies compiled and, where tokens are configured, keys loaded.
    pub ready: bool,
    /// Why not, naming the tenant.
    pub reason: Option<String>,
}

impl Tenants {
    /// Builds every tenant's engine (compiling its bundle and starting its
    /// key source). Fails on the first tenant that cannot be built.
    pub fn build(configs: Vec<TenantConfig>, default_id: &str) -> Result<Self, SidecarError> {
        let mut by_id = HashMap::new();
        let mut order = Vec::new();
        for c in configs {
            let queries = QueryAccess::parse(c.allowed_queries.as_deref(), &c.allowed_queries_key)?;
            let engine = Engine::new(c.engine).map_err(|source| SidecarError::Tenant {
                tenant: c.id.clone(),
                source,
            })?;
            let t = Arc::new(Tenant {
                index: order.len(),
                id: c.id.clone(),
                engine,
                queries,
            });
            by_id.insert(c.id, t.clone());
            order.push(t);
        }
        let default = by_id.get(default_id).cloned().ok_or_else(|| {
            SidecarError::config(
                "CORESDK_TENANT_ID",
                format!("the default tenant {default_id:?} is not configured"),
            )
        })?;
        Ok(Tenants {
            by_id,
            order,
            default,
        })
    }

    /// The tenant a request names; empty means the default.
    pub fn get(&self, id: &str) -> Result<&Arc<Tenant>, Status> {
        if id.is_empty() {
            return Ok(&self.default);
        }
        if !coresdk_engine::config::is_valid_tenant_id(id) {
            return Err(status(
                Code::InvalidArgument,
                ERR_TENANT_INVALID,
                "tenant_id must be 1-128 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        self.by_id.get(id).ok_or_else(|| {
            status(
                Code::NotFound,
                ERR_UNKNOWN_TENANT,
                format!("unknown tenant {id:?}"),
            )
        })
    }

    /// The default tenant.
    pub fn default_tenant(&self) -> &Arc<Tenant> {
        &self.default
    }

    /// Every tenant, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.order.iter()
    }

    /// Ready when no engine is closed, every tenant's policy bundle is
    /// active (a remote bundle: fetched or loaded from its offline copy),
    /// and every tenant with a key source has a usable key set (from the
    /// provider or a verified offline cache).
    pub fn readiness(&self) -> Readiness {
        for t in &self.order {
            if t.engine.is_closed() {
                return Readiness {
                    ready: false,
                    reason: Some(format!("tenant {}: engine closed", t.id)),
                };
            }
            let bundle = t.engine.bundle_status();
            if !bundle.active {
                let why = bundle
                    .last_error
                    .unwrap_or_else(|| "waiting for the first bundle".into());
                return Readiness {
                    ready: false,
                    reason: Some(format!("tenant {}: no policy bundle active: {why}", t.id)),
                };
            }
            if let Some(ks) = t.engine.key_status() {
                let stale_max = t.engine.config().token.as_ref().map(|c| c.stale_max);
                let age = ks
                    .fetched_at
                    .and_then(|at| std::time::SystemTime::now().duration_since(at).ok());
                if let (Some(age), Some(max)) = (age, stale_max) {
                    if ks.keys > 0 && age > max {
                        return Readiness {
                            ready: false,
                            reason: Some(format!(
                                "tenant {}: the key set is {} s old (jwks_stale_max_secs {}) and could not be refreshed",
                                t.id,
                                age.as_secs(),
                                max.as_secs()
                            )),
                        };
                    }
                }
                if ks.keys == 0 {
                    let why = ks
                        .last_error
                        .unwrap_or_else(|| "no key set loaded yet".into());
                    return Readiness {
                        ready: false,
                        reason: Some(format!("tenant {}: no verification keys: {why}", t.id)),
                    };
                }
            }
        }
        Readiness {
            ready: true,
            reason: None,
        }
    }
}
