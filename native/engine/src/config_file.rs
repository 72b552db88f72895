//! The whole `coresdk.toml`: `[sdk]`, `[sidecar]` and `[tenants.<id>]`.
//!
//! ```toml
//! [sdk]                              # CORESDK_<KEY> overrides each key
//! policy_dir = "./policies"
//! tenant_id = "acme-corp"            # the default tenant
//! oidc_issuer = "https://idp.acme.example"
//! audience = "orders-api"
//!
//! [sidecar]                          # CORESDK_SIDECAR_<KEY> overrides each key
//! tls_cert_file = "/certs/tls.crt"
//! tls_key_file = "/certs/tls.key"
//! tls_client_ca_file = "/certs/ca.crt"
//!
//! [sidecar.authzen]                  # CORESDK_SIDECAR_AUTHZEN_<KEY>; see authzen_config
//! addr = "[::]:8443"
//!
//! [tenants.globex]                   # one table per extra tenant
//! policy_dir = "./policies/globex"
//! jwks_url = "https://login.globex.example/.well-known/jwks.json"
//! issuer = "https://login.globex.example"
//! audience = "orders-api"
//! ```
//!
//! A tenant table holds the tenant's own policy bundle and token settings
//! ([`TENANT_KEYS`]); evaluation limits (pool size, time limit, input caps,
//! caches) come from `[sdk]`. Tenant tables never inherit `[sdk]`'s key
//! source, issuer or audience: inheriting them would let one tenant's token
//! authorize another. For the same reason two tenants that would accept the
//! same token (same key source, same issuer, overlapping audiences) are a
//! configuration error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::authzen_config::{parse_authzen, AuthzenConfig, AUTHZEN_KEYS};
use crate::config::{is_valid_tenant_id, EngineConfig, RawValue, SdkConfig, SDK_KEYS};
use crate::error::{EngineError, Result};

pub use crate::config_keys::SIDECAR_KEYS;

/// How messages name `[sidecar] allowed_queries`, which a file or the
/// environment may set.
const SIDECAR_QUERIES_KEY: &str = "sidecar.allowed_queries (CORESDK_SIDECAR_ALLOWED_QUERIES)";

pub use crate::config_keys::TENANT_KEYS;

/// The `[sidecar]` section: the data plane's transport and limits.
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// Server certificate chain, PEM (`tls_cert_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// Server private key, PEM (`tls_key_file`).
    pub tls_key_file: Option<PathBuf>,
    /// CA bundle that client certificates must chain to (`tls_client_ca_file`).
    pub tls_client_ca_file: Option<PathBuf>,
    /// Plaintext on loopback only, for development (`insecure_dev`).
    pub insecure_dev: bool,
    /// Reload the certificate files when they change (`watch_certs`).
    pub watch_certs: bool,
    /// Calls served at once; more are refused with RESOURCE_EXHAUSTED
    /// (`max_concurrent_calls`).
    pub max_concurrent_calls: usize,
    /// Largest request message, in bytes (`max_message_bytes`).
    pub max_message_bytes: usize,
    /// Most items in one `EvaluatePolicies` call (`max_batch`).
    pub max_batch: usize,
    /// How long a graceful shutdown waits for in-flight calls (`drain_timeout_ms`).
    pub drain_timeout: Duration,
    /// HTTP/2 keepalive ping interval (`keepalive_interval_secs`).
    pub keepalive_interval: Duration,
    /// How long a keepalive ping may go unanswered (`keepalive_timeout_secs`).
    pub keepalive_timeout: Duration,
    /// Threads of the data plane's runtime (`worker_threads`).
    pub worker_threads: usize,
    /// A second, plaintext listener serving only `grpc.health.v1.Health`
    /// (`health_addr`), for probes that cannot present a client
    /// certificate (Kubernetes gRPC probes). Off by default.
    pub health_addr: Option<String>,
    /// The OpenID AuthZEN 1.0 HTTPS listener (`[sidecar.authzen]`); off
    /// unless `addr` is set.
    pub authzen: AuthzenConfig,
    /// Which queries clients may run (`allowed_queries`), for every tenant
    /// without a list of its own: rule paths (`data.authz.allow`, which
    /// also allows reading inside the rule's value), prefixes
    /// (`data.authz.*`) or `*` (any query, general queries included).
    /// `None`: the rules each tenant's bundle defines, nothing else.
    pub allowed_queries: Option<Vec<String>>,
    /// `[sidecar.clients."<name>"] allowed_queries`: with mutual TLS, a
    /// client whose certificate is valid for the DNS name `<name>` may run
    /// only these queries (on top of the tenant's own list).
    pub client_queries: BTreeMap<String, Vec<String>>,
}

impl Default for SidecarConfig {
    fn default() -> Self {
        SidecarConfig {
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            insecure_dev: false,
            watch_certs: true,
            max_concurrent_calls: 1024,
            max_message_bytes: 4 * 1024 * 1024,
            max_batch: 128,
            drain_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            worker_threads: crate::config::default_pool_size().min(4),
            health_addr: None,
            authzen: AuthzenConfig::default(),
            allowed_queries: None,
            client_queries: BTreeMap::new(),
        }
    }
}

/// One tenant: its id and the engine that serves it.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// The tenant id requests name.
    pub id: String,
    /// Where the id was configured (`sdk` or `tenants.<id>`), for messages.
    pub origin: String,
    /// The tenant's engine: its bundle, its token settings, `[sdk]`'s limits.
    pub engine: EngineConfig,
    /// The queries its clients may run: the tenant table's
    /// `allowed_queries`, else `[sidecar] allowed_queries`; `None` means the
    /// rules of its bundle (see [`SidecarConfig::allowed_queries`]).
    pub allowed_queries: Option<Vec<String>>,
    /// Where `allowed_queries` was set, for messages.
    pub allowed_queries_key: String,
}

/// Everything `coresdk.toml` and the environment configure.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// `[sdk]` after `CORESDK_*` overrides.
    pub sdk: SdkConfig,
    /// `[sidecar]` after `CORESDK_SIDECAR_*` overrides.
    pub sidecar: SidecarConfig,
    /// `[tenants.<id>]` tables, parsed but not yet merged with `[sdk]`.
    tenant_tables: BTreeMap<String, (SdkConfig, Option<PathBuf>)>,
    /// `allowed_queries` of `[tenants.<id>]` tables that set it.
    tenant_queries: BTreeMap<String, Vec<String>>,
}

/// What `from_env` reads: the configuration file (`CORESDK_CONFIG`, else
/// `./coresdk.toml` when present) and the process's `CORESDK_*` variables.
/// Bindings that put their own settings over the environment's start here.
pub fn env_sources() -> (Option<PathBuf>, BTreeMap<String, String>) {
    let vars: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CORESDK_"))
        .collect();
    let file = match vars.get("CORESDK_CONFIG") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let p = PathBuf::from("coresdk.toml");
            p.is_file().then_some(p)
        }
    };
    (file, vars)
}

impl ConfigFile {
    /// Loads `coresdk.toml` (from `CORESDK_CONFIG`, else `./coresdk.toml` when
    /// present) and the process's `CORESDK_*` variables.
    pub fn from_env() -> Result<Self> {
        let (file, vars) = env_sources();
        Self::load(file.as_deref(), &vars)
    }

    /// Loads from an optional file and an explicit map of `CORESDK_*`
    /// variables. Relative paths in the file resolve against its directory.
    pub fn load(file: Option<&Path>, vars: &BTreeMap<String, String>) -> Result<Self> {
        let mut sdk_raw: BTreeMap<String, (String, RawValue)> = BTreeMap::new();
        let mut sidecar_raw: BTreeMap<String, (String, RawValue)> = BTreeMap::new();
        let mut authzen_raw: BTreeMap<String, (String, RawValue)> = BTreeMap::new();
        let mut tenant_raw: BTreeMap<String, BTreeMap<String, (String, RawValue)>> =
            BTreeMap::new();
        let mut tenant_queries = BTreeMap::new();
        let mut client_queries = BTreeMap::new();
        let mut base_dir = None;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                EngineError::config("CORESDK_CONFIG", format!("{}: {e}", path.display()))
            })?;
            base_dir = path.parent().map(Path::to_path_buf);
            let doc: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| EngineError::config("coresdk.toml", e.to_string()))?;
            for (section, value) in doc {
                match section.as_str() {
                    "sdk" => sdk_raw = table(value, "sdk", SDK_KEYS)?,
                    "sidecar" => {
                        let mut value = value;
                        if let Some(az) = value.as_table_mut().and_then(|t| t.remove("authzen")) {
                            authzen_raw = table(az, "sidecar.authzen", AUTHZEN_KEYS)?;
                        }
                        if let Some(clients) =
                            value.as_table_mut().and_then(|t| t.remove("clients"))
                        {
                            client_queries = parse_clients(clients)?;
                        }
                        sidecar_raw = table(value, "sidecar", SIDECAR_KEYS)?
                    }
                    "tenants" => {
                        let toml::Value::Table(tenants) = value else {
                            return Err(EngineError::config(
                                "tenants",
                                "must be a table of tables ([tenants.<id>])",
                            ));
                        };
                        for (id, t) in tenants {
                            let name = format!("tenants.{id}");
                            if !is_valid_tenant_id(&id) {
                                return Err(EngineError::config(
                                    name,
                                    "tenant ids are 1-128 characters of letters, digits, '-', '_' or '.'",
                                ));
                            }
                            let mut t = t;
                            // A serving setting, not an engine one: kept
                            // beside the tenant's engine configuration.
                            if let Some(q) =
                                t.as_table_mut().and_then(|t| t.remove("allowed_queries"))
                            {
                                let key = format!("{name}.allowed_queries");
                                tenant_queries.insert(id.clone(), RawValue::Toml(q).list(&key)?);
                            }
                            let entries = table(t, &name, TENANT_KEYS)?;
                            tenant_raw.insert(id, entries);
                        }
                    }
                    other => {
                        return Err(EngineError::config(
                            other,
                            "unknown section (known: [sdk], [sidecar], [tenants.<id>])",
                        ))
                    }
                }
            }
        }
        for key in SDK_KEYS {
            let var = format!("CORESDK_{}", key.to_ascii_uppercase());
            if let Some(v) = vars.get(&var) {
                sdk_raw.insert((*key).to_string(), (var, RawValue::Env(v.clone())));
            }
        }
        for key in SIDECAR_KEYS {
            let var = format!("CORESDK_SIDECAR_{}", key.to_ascii_uppercase());
            if let Some(v) = vars.get(&var) {
                sidecar_raw.insert((*key).to_string(), (var, RawValue::Env(v.clone())));
            }
        }
        for key in AUTHZEN_KEYS {
            let var = format!("CORESDK_SIDECAR_AUTHZEN_{}", key.to_ascii_uppercase());
            if let Some(v) = vars.get(&var) {
                authzen_raw.insert((*key).to_string(), (var, RawValue::Env(v.clone())));
            }
        }
        let mut sdk = SdkConfig::default();
        sdk.apply(sdk_raw, base_dir.as_deref())?;
        let mut sidecar = parse_sidecar(sidecar_raw, base_dir.as_deref())?;
        sidecar.client_queries = client_queries;
        sidecar.authzen = parse_authzen(authzen_raw, base_dir.as_deref())?;
        let mut tenant_tables = BTreeMap::new();
        for (id, entries) in tenant_raw {
            let mut t = SdkConfig {
                policy_dir: None,
                jwks_url: None,
                token: None,
                bundle: None,
                ..sdk.clone()
            };
            t.apply(entries, base_dir.as_deref())?;
            tenant_tables.insert(id, (t, base_dir.clone()));
        }
        Ok(ConfigFile {
            sdk,
            sidecar,
            tenant_tables,
            tenant_queries,
        })
    }

    /// The tenants the sidecar serves: `[sdk]` as the default tenant
    /// (`tenant_id`) when it names a policy bundle, and every
    /// `[tenants.<id>]` table. Fails, naming the key, when the default tenant
    /// is missing, defined twice, or when two tenants would accept the same
    /// token.
    pub fn tenants(&self) -> Result<Vec<TenantConfig>> {
        let mut out = Vec::new();
        if self.sdk.policy_dir.is_some() || self.sdk.bundle.is_some() {
            if self.tenant_tables.contains_key(&self.sdk.tenant_id) {
                return Err(EngineError::config(
                    format!("tenants.{}", self.sdk.tenant_id),
                    "the default tenant is also configured by [sdk] (policy_dir or bundle_url): configure it in one place",
                ));
            }
            out.push(TenantConfig {
                id: self.sdk.tenant_id.clone(),
                origin: "sdk".into(),
                engine: self.sdk.engine_config()?,
                allowed_queries: self.sidecar.allowed_queries.clone(),
                allowed_queries_key: SIDECAR_QUERIES_KEY.into(),
            });
        }
        for (id, (t, _)) in &self.tenant_tables {
            let origin = format!("tenants.{id}");
            if t.policy_dir.is_none() && t.bundle.is_none() {
                return Err(EngineError::config(
                    format!("{origin}.policy_dir"),
                    "every tenant needs its own policy bundle (policy_dir or bundle_url)",
                ));
            }
            let (allowed_queries, allowed_queries_key) = match self.tenant_queries.get(id) {
                Some(q) => (Some(q.clone()), format!("{origin}.allowed_queries")),
                None => (
                    self.sidecar.allowed_queries.clone(),
                    SIDECAR_QUERIES_KEY.into(),
                ),
            };
            out.push(TenantConfig {
                id: id.clone(),
                origin,
                engine: t.engine_config()?,
                allowed_queries,
                allowed_queries_key,
            });
        }
        if !out.iter().any(|t| t.id == self.sdk.tenant_id) {
            return Err(EngineError::config(
                "CORESDK_TENANT_ID",
                format!(
                    "the default tenant {:?} is not configured: set sdk.policy_dir (CORESDK_POLICY_DIR) or add [tenants.{}]",
                    self.sdk.tenant_id, self.sdk.tenant_id
                ),
            ));
        }
        for (i, a) in out.iter().enumerate() {
            for b in &out[i + 1..] {
                if accept_same_tokens(&a.engine, &b.engine) {
                    return Err(EngineError::config(
                        b.origin.clone(),
                        format!(
                            "accepts the same tokens as {} (same key source, issuer and audience): a token for one tenant would authorize the other; give each tenant its own issuer or audience",
                            a.origin
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Whether a token accepted by one engine's checks would pass the other's.
fn accept_same_tokens(a: &EngineConfig, b: &EngineConfig) -> bool {
    let (Some(ta), Some(tb)) = (&a.token, &b.token) else {
        return false;
    };
    if format!("{:?}", ta.keys) != format!("{:?}", tb.keys) {
        return false;
    }
    if ta.verifier.issuer != tb.verifier.issuer {
        return false;
    }
    let (aa, ab) = (&ta.verifier.audiences, &tb.verifier.audiences);
    aa.is_empty() || ab.is_empty() || aa.iter().any(|x| ab.contains(x))
}

pub(crate) fn table(
    value: toml::Value,
    name: &str,
    keys: &[&str],
) -> Result<BTreeMap<String, (String, RawValue)>> {
    let toml::Value::Table(t) = value else {
        return Err(EngineError::config(name, "must be a table"));
    };
    let mut out = BTreeMap::new();
    for (key, v) in t {
        if !keys.contains(&key.as_str()) {
            return Err(EngineError::config(
                format!("{name}.{key}"),
                format!("unknown key (known keys: {})", keys.join(", ")),
            ));
        }
        out.insert(key.clone(), (format!("{name}.{key}"), RawValue::Toml(v)));
    }
    Ok(out)
}

/// `[sidecar.clients."<dns name>"]` tables: `allowed_queries` only.
fn parse_clients(value: toml::Value) -> Result<BTreeMap<String, Vec<String>>> {
    let toml::Value::Table(clients) = value else {
        return Err(EngineError::config(
            "sidecar.clients",
            "must be a table of tables ([sidecar.clients.\"<certificate DNS name>\"])",
        ));
    };
    let mut out = BTreeMap::new();
    for (name, t) in clients {
        let key = format!("sidecar.clients.{name:?}");
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(EngineError::config(
                key,
                "a client is named by a DNS name its certificate is valid for",
            ));
        }
        let mut entries = table(t, &key, crate::config_keys::CLIENT_TABLE_KEYS)?;
        let (name_key, raw) = entries
            .remove("allowed_queries")
            .ok_or_else(|| EngineError::config(format!("{key}.allowed_queries"), "is required"))?;
        out.insert(name, raw.list(&name_key)?);
    }
    Ok(out)
}

fn parse_sidecar(
    entries: BTreeMap<String, (String, RawValue)>,
    base_dir: Option<&Path>,
) -> Result<SidecarConfig> {
    let mut c = SidecarConfig::default();
    let path = |name: &str, v: RawValue| -> Result<PathBuf> {
        let p = PathBuf::from(v.string(name)?);
        Ok(match (base_dir, p.is_relative()) {
            (Some(base), true) if !name.starts_with("CORESDK_") => base.join(p),
            _ => p,
        })
    };
    for (key, (name, v)) in entries {
        match key.as_str() {
            "tls_cert_file" => c.tls_cert_file = Some(path(&name, v)?),
            "tls_key_file" => c.tls_key_file = Some(path(&name, v)?),
            "tls_client_ca_file" => c.tls_client_ca_file = Some(path(&name, v)?),
            "insecure_dev" => c.insecure_dev = v.boolean(&name)?,
            "watch_certs" => c.watch_certs = v.boolean(&name)?,
            "max_concurrent_calls" => c.max_concurrent_calls = v.int(&name, 1, 1_000_000)? as usize,
            "max_message_bytes" => c.max_message_bytes = v.int(&name, 1024, 1 << 30)? as usize,
            "max_batch" => c.max_batch = v.int(&name, 1, 10_000)? as usize,
            "drain_timeout_ms" => {
                c.drain_timeout = Duration::from_millis(v.int(&name, 0, 3_600_000)?)
            }
            "keepalive_interval_secs" => {
                c.keepalive_interval = Duration::from_secs(v.int(&name, 1, 86_400)?)
            }
            "keepalive_timeout_secs" => {
                c.keepalive_timeout = Duration::from_secs(v.int(&name, 1, 3_600)?)
            }
            "worker_threads" => c.worker_threads = v.int(&name, 1, 256)? as usize,
            "health_addr" => {
                let a = v.string(&name)?;
                c.health_addr = (!a.trim().is_empty()).then(|| a.trim().to_string());
            }
            "allowed_queries" => c.allowed_queries = Some(v.list(&name)?),
            _ => unreachable!("keys are allow-listed by SIDECAR_KEYS"),
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let f = dir.join("coresdk.toml");
        std::fs::write(&f, text).unwrap();
        f
    }

    #[test]
    fn sidecar_section_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            dir.path(),
            "[sidecar]\ntls_cert_file = \"c.pem\"\nmax_batch = 10\n",
        );
        let vars = BTreeMap::from([("CORESDK_SIDECAR_MAX_BATCH".into(), "20".into())]);
        let c = ConfigFile::load(Some(&f), &vars).unwrap();
        assert_eq!(c.sidecar.tls_cert_file.unwrap(), dir.path().join("c.pem"));
        assert_eq!(c.sidecar.max_batch, 20);
        let vars = BTreeMap::from([("CORESDK_SIDECAR_MAX_BATCH".into(), "0".into())]);
        let err = ConfigFile::load(Some(&f), &vars).unwrap_err();
        assert!(
            err.to_string().contains("CORESDK_SIDECAR_MAX_BATCH"),
            "{err}"
        );
        let f = write(
            dir.path(),
            "[sidecar]\nmax_batch = 3\n[sidecar.authzen]\naddr = \"[::1]:0\"\ntenant_prefixes = [\"/g=globex\"]\n",
        );
        let vars = BTreeMap::from([(
            "CORESDK_SIDECAR_AUTHZEN_CLIENT_AUTH".into(),
            "api_key".into(),
        )]);
        let c = ConfigFile::load(Some(&f), &vars).unwrap();
        assert_eq!(c.sidecar.max_batch, 3);
        assert_eq!(c.sidecar.authzen.addr.as_deref(), Some("[::1]:0"));
        assert_eq!(c.sidecar.authzen.tenant_prefixes, vec!["/g=globex"]);
        assert_eq!(
            c.sidecar.authzen.client_auth,
            crate::authzen_config::AuthzenClientAuth::ApiKey
        );
        assert_eq!(c.sidecar.authzen.decision_query, "data.authzen.allow");
        let f = write(
            dir.path(),
            "[sidecar.authzen]\ndecision_query = \"allow\"\n",
        );
        let err = ConfigFile::load(Some(&f), &BTreeMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("sidecar.authzen.decision_query"),
            "{err}"
        );
        let f = write(dir.path(), "[sidecar]\ntls_crt = \"x\"\n");
        let err = ConfigFile::load(Some(&f), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("sidecar.tls_crt"), "{err}");
    }

    #[test]
    fn tenants_are_isolated() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            dir.path(),
            r#"
[sdk]
policy_dir = "p"
jwks_file = "a.json"
issuer = "https://a.test"
pool_size = 3
[tenants.globex]
policy_dir = "g"
jwks_file = "g.json"
issuer = "https://g.test"
"#,
        );
        let c = ConfigFile::load(Some(&f), &BTreeMap::new()).unwrap();
        let t = c.tenants().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].id, "acme-corp");
        assert_eq!(t[1].id, "globex");
        assert_eq!(t[1].engine.pool_size, 3, "limits come from [sdk]");
        let tok = t[1].engine.token.as_ref().unwrap();
        assert_eq!(tok.verifier.issuer.as_deref(), Some("https://g.test"));

        // A tenant table does not inherit [sdk]'s key source.
        let f = write(
            dir.path(),
            "[sdk]\npolicy_dir = \"p\"\njwks_file = \"a.json\"\n[tenants.b]\npolicy_dir = \"q\"\n",
        );
        let c = ConfigFile::load(Some(&f), &BTreeMap::new()).unwrap();
        assert!(c.tenants().unwrap()[1].engine.token.is_none());

        // Same keys, same issuer, same audience: refused.
        let f = write(
            dir.path(),
            "[sdk]\npolicy_dir = \"p\"\njwks_file = \"a.json\"\naudience = \"x\"\n[tenants.b]\npolicy_dir = \"q\"\njwks_file = \"a.json\"\naudience = [\"y\", \"x\"]\n",
        );
        let err = ConfigFile::load(Some(&f), &BTreeMap::new())
            .unwrap()
            .tenants()
            .unwrap_err();
        assert!(err.to_string().contains("tenants.b"), "{err}");

        // The default tenant must exist.
        let f = write(dir.path(), "[tenants.b]\npolicy_dir = \"q\"\n");
        let err = ConfigFile::load(Some(&f), &BTreeMap::new())
            .unwrap()
            .tenants()
            .unwrap_err();
        assert!(err.to_string().contains("CORESDK_TENANT_ID"), "{err}");
        let vars = BTreeMap::from([("CORESDK_TENANT_ID".into(), "b".into())]);
        assert_eq!(
            ConfigFile::load(Some(&f), &vars)
                .unwrap()
                .tenants()
                .unwrap()[0]
                .id,
            "b"
        );

        // Tenant tables allow only tenant keys.
        let f = write(dir.path(), "[tenants.b]\npool_size = 2\n");
        let err = ConfigFile::load(Some(&f), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("tenants.b.pool_size"), "{err}");
    }
}
