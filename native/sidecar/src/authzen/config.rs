//! From `[sidecar.authzen]` to the listener's settings, checked at start.
//!
//! Outside insecure-dev the listener is HTTPS only (its own certificate or
//! the gRPC one) and authenticates its clients: by certificate (`mtls`,
//! against its own client CA or the gRPC one) or by API key (`api_key`,
//! which needs at least one digest). In insecure-dev it serves plaintext on
//! loopback without authentication, and says so.

use coresdk_engine::{AuthzenClientAuth, ConfigFile};

use super::auth::{parse_api_keys, ClientAuth};
use crate::error::SidecarError;
use crate::listen::ListenAddr;
use crate::tls::TlsFiles;

/// Which search endpoints are served, and the queries answering them.
#[derive(Debug, Clone, Default)]
pub struct SearchQueries {
    /// `search_subject_query`.
    pub subject: Option<String>,
    /// `search_resource_query`.
    pub resource: Option<String>,
    /// `search_action_query`.
    pub action: Option<String>,
}

/// The listener's checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub addr: ListenAddr,
    /// TLS files; `None` is plaintext (insecure-dev only).
    pub tls: Option<TlsFiles>,
    /// How clients authenticate.
    pub auth: ClientAuth,
    /// The query whose `true` permits.
    pub decision_query: String,
    /// The query whose object becomes `context`.
    pub context_query: Option<String>,
    /// Reasons of undefined/error denies in `context`.
    pub expose_reasons: bool,
    /// `(prefix, tenant)`, longest prefix first.
    pub prefixes: Vec<(String, String)>,
    /// The configured PDP identifier, without a trailing `/`.
    pub public_url: Option<String>,
    /// Largest body.
    pub max_body_bytes: usize,
    /// Most evaluations per request.
    pub max_evaluations: usize,
    /// The search endpoints.
    pub search: SearchQueries,
    /// Most results per search page.
    pub search_page_size: usize,
}

fn key(k: &str) -> String {
    format!(
        "sidecar.authzen.{k} (CORESDK_SIDECAR_AUTHZEN_{})",
        k.to_ascii_uppercase()
    )
}

impl Settings {
    /// The configured queries (decision, context, search) that are paths
    /// into `data` naming no rule of a tenant this listener serves (the
    /// default tenant and those of `tenant_prefixes`), as
    /// `(tenant, key, query)`: a misspelt search rule would otherwise
    /// answer empty results forever. Tenants whose remote bundle is not
    /// active yet are skipped; general queries cannot be told.
    pub fn unknown_rules(
        &self,
        tenants: &crate::tenants::Tenants,
    ) -> Vec<(String, &'static str, String)> {
        let queries = [
            ("decision_query", Some(&self.decision_query)),
            ("context_query", self.context_query.as_ref()),
            ("search_subject_query", self.search.subject.as_ref()),
            ("search_resource_query", self.search.resource.as_ref()),
            ("search_action_query", self.search.action.as_ref()),
        ];
        let mut served: Vec<&str> = vec![""];
        served.extend(self.prefixes.iter().map(|(_, t)| t.as_str()));
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for id in served {
            let Ok(tenant) = tenants.get(id) else {
                continue;
            };
            if !seen.insert(tenant.id.clone()) || tenant.engine.check_active().is_err() {
                continue;
            }
            for (k, q) in queries {
                let Some(q) = q else { continue };
                if coresdk_engine::query::data_path(q).is_some() && !tenant.engine.serves_rule(q) {
                    out.push((tenant.id.clone(), k, q.clone()));
                }
            }
        }
        out
    }

    /// The settings, or `None` when `[sidecar.authzen]` sets no `addr`.
    /// Prefixes and scoped keys must name tenants `known` knows.
    pub fn from_config(
        config: &ConfigFile,
        known: impl Fn(&str) -> bool,
    ) -> Result<Option<Settings>, SidecarError> {
        let sc = &config.sidecar;
        let az = &sc.authzen;
        let Some(addr) = az.addr.as_deref() else {
            return Ok(None);
        };
        let addr = ListenAddr::parse(addr)
            .map_err(|e| SidecarError::config(key("addr"), e.to_string()))?;
        let (tls, auth) = if sc.insecure_dev {
            if !addr.is_local() {
                return Err(SidecarError::config(
                    key("addr"),
                    format!("insecure-dev serves plaintext and binds to loopback or a unix socket only; {addr} is neither"),
                ));
            }
            (None, ClientAuth::None)
        } else {
            let need =
                |own: &Option<std::path::PathBuf>, grpc: &Option<std::path::PathBuf>, k: &str| {
                    own.clone().or_else(|| grpc.clone()).ok_or_else(|| {
                        SidecarError::config(
                            key(k),
                            format!(
                            "AuthZEN is served over HTTPS: set sidecar.authzen.{k} or sidecar.{k}"
                        ),
                        )
                    })
                };
            let cert = need(&az.tls_cert_file, &sc.tls_cert_file, "tls_cert_file")?;
            let tls_key = need(&az.tls_key_file, &sc.tls_key_file, "tls_key_file")?;
            match az.client_auth {
                AuthzenClientAuth::Mtls => {
                    let ca = need(
                        &az.tls_client_ca_file,
                        &sc.tls_client_ca_file,
                        "tls_client_ca_file",
                    )?;
                    (
                        Some(TlsFiles {
                            cert,
                            key: tls_key,
                            client_ca: Some(ca),
                            https: true,
                        }),
                        ClientAuth::Mtls {
                            names: az.allowed_client_names.clone(),
                        },
                    )
                }
                AuthzenClientAuth::ApiKey => {
                    let keys = parse_api_keys(&az.api_key_sha256, &key("api_key_sha256"))?;
                    if keys.is_empty() {
                        return Err(SidecarError::config(
                            key("api_key_sha256"),
                            "client_auth = \"api_key\" needs at least one SHA-256 digest of an accepted key",
                        ));
                    }
                    for k in &keys {
                        if let Some(t) = k.tenant() {
                            if !known(t) {
                                return Err(SidecarError::config(
                                    key("api_key_sha256"),
                                    format!("a key is scoped to the unknown tenant {t:?}"),
                                ));
                            }
                        }
                    }
                    (
                        Some(TlsFiles {
                            cert,
                            key: tls_key,
                            client_ca: None,
                            https: true,
                        }),
                        ClientAuth::ApiKeys(keys),
                    )
                }
            }
        };
        let mut prefixes = Vec::new();
        for p in &az.tenant_prefixes {
            let (prefix, tenant) = p.split_once('=').ok_or_else(|| {
                SidecarError::config(
                    key("tenant_prefixes"),
                    format!("{p:?}: expected /<prefix>=<tenant>"),
                )
            })?;
            let prefix = prefix.trim().trim_end_matches('/').to_string();
            let ok = prefix.starts_with('/')
                && prefix.len() > 1
                && prefix[1..].split('/').all(|seg| {
                    !seg.is_empty()
                        && seg
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                })
                && !prefix.starts_with("/access/")
                && prefix != "/access"
                && !prefix.starts_with("/.well-known");
            if !ok {
                return Err(SidecarError::config(
                    key("tenant_prefixes"),
                    format!("{prefix:?}: a prefix is /segment[/segment...] of letters, digits, '-', '_' or '.', and not /access or /.well-known"),
                ));
            }
            let tenant = tenant.trim().to_string();
            if !known(&tenant) {
                return Err(SidecarError::config(
                    key("tenant_prefixes"),
                    format!("{prefix}: unknown tenant {tenant:?}"),
                ));
            }
            if prefixes
                .iter()
                .any(|(q, _): &(String, String)| *q == prefix)
            {
                return Err(SidecarError::config(
                    key("tenant_prefixes"),
                    format!("{prefix} is listed twice"),
                ));
            }
            prefixes.push((prefix, tenant));
        }
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        let public_url = match az.public_url.as_deref() {
            None => None,
            Some(u) => {
                let u = u.trim_end_matches('/');
                let scheme_ok =
                    u.starts_with("https://") || (sc.insecure_dev && u.starts_with("http://"));
                if !scheme_ok || u.contains('?') || u.contains('#') {
                    return Err(SidecarError::config(
                        key("public_url"),
                        "the PDP identifier is an https URL without query or fragment",
                    ));
                }
                Some(u.to_string())
            }
        };
        Ok(Some(Settings {
            addr,
            tls,
            auth,
            decision_query: az.decision_query.clone(),
            context_query: az.context_query.clone(),
            expose_reasons: az.expose_reasons,
            prefixes,
            public_url,
            max_body_bytes: az.max_body_bytes,
            max_evaluations: az.max_evaluations,
            search: SearchQueries {
                subject: az.search_subject_query.clone(),
                resource: az.search_resource_query.clone(),
                action: az.search_action_query.clone(),
            },
            search_page_size: az.search_page_size,
        }))
    }

    /// The tenant a path belongs to and the path under its prefix.
    pub fn route<'p>(&self, path: &'p str) -> (Option<&str>, &'p str) {
        for (prefix, tenant) in &self.prefixes {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                if rest.starts_with('/') {
                    return (Some(tenant), rest);
                }
            }
        }
        (None, path)
    }

    /// The tenant whose metadata `/.well-known/authzen-configuration<rest>` asks for.
    pub fn well_known_prefix(&self, rest: &str) -> Option<Option<&(String, String)>> {
        if rest.is_empty() || rest == "/" {
            return Some(None);
        }
        self.prefixes
            .iter()
            .find(|(p, _)| p == rest.trim_end_matches('/'))
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn load(pairs: &[(&str, &str)]) -> ConfigFile {
        let vars: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("CORESDK_{k}"), (*v).to_string()))
            .collect();
        ConfigFile::load(None, &vars).unwrap()
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<Settings>, SidecarError> {
        Settings::from_config(&load(pairs), |t| t == "acme-corp" || t == "globex")
    }

    const TLS: [(&str, &str); 3] = [
        ("SIDECAR_TLS_CERT_FILE", "/c.pem"),
        ("SIDECAR_TLS_KEY_FILE", "/k.pem"),
        ("SIDECAR_TLS_CLIENT_CA_FILE", "/ca.pem"),
    ];

    #[test]
    fn off_unless_addr() {
        assert!(settings(&[]).unwrap().is_none());
    }

    #[test]
    fn insecure_dev_is_loopback_plaintext() {
        let s = settings(&[
            ("SIDECAR_INSECURE_DEV", "true"),
            ("SIDECAR_AUTHZEN_ADDR", "[::1]:0"),
        ])
        .unwrap()
        .unwrap();
        assert!(s.tls.is_none());
        assert_eq!(s.auth.name(), "none");
        let e = settings(&[
            ("SIDECAR_INSECURE_DEV", "true"),
            ("SIDECAR_AUTHZEN_ADDR", "0.0.0.0:1"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[test]
    fn https_needs_files_and_credentials() {
        let e = settings(&[("SIDECAR_AUTHZEN_ADDR", "[::1]:0")]).unwrap_err();
        assert!(
            e.to_string().contains("sidecar.authzen.tls_cert_file"),
            "{e}"
        );
        let mut v = TLS.to_vec();
        v.push(("SIDECAR_AUTHZEN_ADDR", "[::1]:0"));
        let s = settings(&v).unwrap().unwrap();
        assert_eq!(s.auth.name(), "mtls");
        let tls = s.tls.unwrap();
        assert!(tls.https);
        assert_eq!(tls.client_ca.unwrap(), std::path::PathBuf::from("/ca.pem"));
        v.push(("SIDECAR_AUTHZEN_CLIENT_AUTH", "api_key"));
        let e = settings(&v).unwrap_err();
        assert!(e.to_string().contains("api_key_sha256"), "{e}");
        let digest = "a".repeat(64);
        let scoped = format!("nobody:{digest}");
        let mut bad = v.clone();
        bad.push(("SIDECAR_AUTHZEN_API_KEY_SHA256", &scoped));
        assert!(settings(&bad).unwrap_err().to_string().contains("nobody"));
        v.push(("SIDECAR_AUTHZEN_API_KEY_SHA256", &digest));
        let s = settings(&v).unwrap().unwrap();
        assert_eq!(s.auth.name(), "api_key");
        assert!(s.tls.unwrap().client_ca.is_none());
    }

    #[test]
    fn tenant_prefixes_route_longest_first() {
        let mut v = vec![
            ("SIDECAR_INSECURE_DEV", "true"),
            ("SIDECAR_AUTHZEN_ADDR", "[::1]:0"),
            (
                "SIDECAR_AUTHZEN_TENANT_PREFIXES",
                "/t=acme-corp,/t/globex/=globex",
            ),
        ];
        let s = settings(&v).unwrap().unwrap();
        assert_eq!(
            s.route("/t/globex/access/v1/evaluation"),
            (Some("globex"), "/access/v1/evaluation")
        );
        assert_eq!(
            s.route("/t/access/v1/evaluation"),
            (Some("acme-corp"), "/access/v1/evaluation")
        );
        assert_eq!(
            s.route("/tx/access/v1/evaluation"),
            (None, "/tx/access/v1/evaluation")
        );
        assert_eq!(s.well_known_prefix(""), Some(None));
        assert_eq!(
            s.well_known_prefix("/t/globex").unwrap().unwrap().1,
            "globex"
        );
        assert!(s.well_known_prefix("/nope").is_none());
        for bad in [
            "/access=globex",
            "nope=globex",
            "/a b=globex",
            "/x=unknown",
            "/x",
        ] {
            v[2].1 = bad;
            assert!(settings(&v).is_err(), "{bad}");
        }
    }
}
