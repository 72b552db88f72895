//! HTTPS fetching of key sets and OIDC discovery documents.
//!
//! One [`HttpFetcher`] is built from a [`FetchConfig`] and reused; it is
//! `Send + Sync` and pools connections. It speaks HTTPS through rustls with
//! the aws-lc-rs crypto provider, passed explicitly (no process-wide
//! `CryptoProvider` is installed or consulted).
//!
//! Behaviour:
//! * **Trust.** By default the server certificate is verified against the
//!   Mozilla root set compiled in from `webpki-roots` (the system store is
//!   not read). When [`FetchConfig::ca_file`] is set, the certificates in
//!   that PEM file **replace** the built-in roots: only servers chaining to
//!   those CAs are trusted, which suits a private issuer.
//! * **Scheme.** `https://` only, unless [`FetchConfig::allow_insecure_http`]
//!   (tests and local development).
//! * **Redirects are not followed**; a 3xx answer is a
//!   [`FetchError::Status`]. The URL configured is the URL fetched (the same
//!   policy as `jose`'s remote key sets).
//! * **Bounded.** One timeout covers the whole exchange (DNS, connect, TLS,
//!   request, headers and body); bodies over
//!   [`FetchConfig::max_body_bytes`] are refused, by `Content-Length` before
//!   reading when the server sends one.
//! * **Proxies.** `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` from the environment
//!   are honoured (ureq's default).
//! * **No logging here, and no secrets in errors.** Every URL that appears
//!   in a [`FetchError`] has its userinfo, query string and fragment removed
//!   and control characters replaced.
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use ureq::Agent;

/// Default whole-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default response body limit (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

const WELL_KNOWN_OIDC: &str = "/.well-known/openid-configuration";
/// Cap for URLs quoted in error messages.
const MAX_URL_IN_MESSAGE: usize = 256;
/// RFC 9111 §1.2.2: delta-seconds that overflow are treated as 2^31.
const DELTA_SECONDS_CAP: u64 = 2_147_483_648;

/// Settings of an [`HttpFetcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// Whole-request timeout: DNS, connect, TLS handshake, request and the
    /// full response body. Default 5 s. Must be non-zero.
    pub timeout: Duration,
    /// A PEM bundle of CA certificates for private issuers. When set it
    /// **replaces** the built-in webpki (Mozilla) roots. Every
    /// `CERTIFICATE` block must be a usable trust anchor and there must be
    /// at least one.
    pub ca_file: Option<PathBuf>,
    /// Largest accepted response body in bytes; default 1 MiB. Larger
    /// bodies give [`FetchError::TooLarge`]. Must be non-zero.
    pub max_body_bytes: usize,
    /// Allow plain `http://` URLs (tests and development only). Default
    /// `false`: anything but `https://` is refused.
    pub allow_insecure_http: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout: DEFAULT_TIMEOUT,
            ca_file: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allow_insecure_http: false,
        }
    }
}

/// A successfully fetched body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The response body (UTF-8; a leading byte-order mark is removed).
    pub body: String,
    /// How long the response may be reused, from `Cache-Control`:
    /// `max-age` (the smallest if repeated) minus the `Age` header, or
    /// `Some(0)` when `no-cache` or `no-store` is present; `None` when the
    /// server gave no freshness information. Callers should clamp it to
    /// their own minimum and maximum refresh intervals.
    pub max_age: Option<Duration>,
}

/// The answer to [`HttpFetcher::get_bundle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleResponse {
    /// 304: the bundle with the ETag sent is still current.
    NotModified,
    /// 2xx with a body.
    Body {
        /// The raw body (a gzip tarball when the server is right).
        body: Vec<u8>,
        /// The `ETag` header, for the next request's `If-None-Match`.
        etag: Option<String>,
    },
}

/// Errors from fetching. URLs in them are redacted (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The request did not complete within [`FetchConfig::timeout`].
    #[error("request to {url} timed out")]
    Timeout {
        /// The redacted URL.
        url: String,
    },
    /// DNS resolution, TCP connect, proxy or socket I/O failed.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The redacted URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The TLS handshake failed, e.g. the certificate is not trusted.
    #[error("TLS error with {url}: {message}")]
    Tls {
        /// The redacted URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server answered with a status outside 200–299 (redirects
    /// included, as they are not followed).
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The redacted URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The response body exceeded [`FetchConfig::max_body_bytes`].
    #[error("response from {url} exceeds {limit} bytes")]
    TooLarge {
        /// The redacted URL.
        url: String,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A malformed or refused URL, a protocol error, a body that is not
    /// UTF-8, or a discovery document that does not fit.
    #[error("invalid response or URL {url}: {message}")]
    Invalid {
        /// The redacted URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The fetcher's configuration is unusable (e.g. a bad CA file).
    #[error("fetch configuration error: {message}")]
    Config {
        /// What was wrong; names the file where one is involved.
        message: String,
    },
}

/// A reusable HTTPS client for key sets and discovery documents.
///
/// `Send + Sync`; clone-free sharing through `&HttpFetcher` or an `Arc`.
pub struct HttpFetcher {
    agent: Agent,
    max_body_bytes: usize,
    allow_insecure_http: bool,
}

impl fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish_non_exhaustive()
    }
}

impl HttpFetcher {
    /// Builds a fetcher. A CA file that cannot be read, holds no
    /// certificate, or holds one that is not a usable trust anchor gives
    /// [`FetchError::Config`] naming the file; so do a zero timeout or body
    /// limit.
    pub fn new(cfg: &FetchConfig) -> Result<Self, FetchError> {
        if cfg.timeout.is_zero() {
            return Err(FetchError::Config {
                message: "timeout must be greater than zero".into(),
            });
        }
        if cfg.max_body_bytes == 0 {
            return Err(FetchError::Config {
                message: "max_body_bytes must be greater than zero".into(),
            });
        }
        let roots = match &cfg.ca_file {
            Some(path) => load_ca_file(path)?,
            None => RootCerts::WebPki,
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .root_certs(roots)
            .build();
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .https_only(!cfg.allow_insecure_http)
            .http_status_as_error(false)
            .max_redirects(0)
            .accept("application/json")
            .user_agent(concat!("coresdk/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build()
            .new_agent();
        Ok(HttpFetcher {
            agent,
            max_body_bytes: cfg.max_body_bytes,
            allow_insecure_http: cfg.allow_insecure_http,
        })
    }

    /// GETs `url` with `Accept: application/json`.
    ///
    /// Succeeds only on a 2xx status with a body of at most
    /// [`FetchConfig::max_body_bytes`] that is valid UTF-8. The body is not
    /// parsed; see [`Fetched::max_age`] for the caching hint. Userinfo in
    /// `url` (`https://user:pass@host/…`) is sent as HTTP Basic
    /// authorization (ureq's behaviour) and never appears in errors.
    pub fn get_json(&self, url: &str) -> Result<Fetched, FetchError> {
        self.check_scheme(url)?;
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| map_ureq_error(e, url, self.max_body_bytes))?;

        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                url: redact_url(url),
                status,
            });
        }
        let headers = response.headers();
        let declared_len = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared_len.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Err(FetchError::TooLarge {
                url: redact_url(url),
                limit: self.max_body_bytes,
            });
        }
        let max_age = cache_max_age(
            headers
                .get_all("cache-control")
                .iter()
                .filter_map(|v| v.to_str().ok()),
            headers.get("age").and_then(|v| v.to_str().ok()),
        );

        let bytes = response
            .into_body()
            .into_with_config()
            .limit(self.max_body_bytes as u64)
            .read_to_vec()
            .map_err(|e| map_ureq_error(e, url, self.max_body_bytes))?;
        let mut body = String::from_utf8(bytes).map_err(|_| FetchError::Invalid {
            url: redact_url(url),
            message: "response body is not valid UTF-8".into(),
        })?;
        if body.starts_with('\u{feff}') {
            body.drain(..'\u{feff}'.len_utf8());
        }
        Ok(Fetched { body, max_age })
    }

    /// GETs a policy bundle the way OPA's bundle service protocol does:
    /// `If-None-Match` with the last ETag, `Authorization: Bearer` when a
    /// token is given, `Accept: application/gzip`. A 304 answer is
    /// [`BundleResponse::NotModified`]; any other status outside 2xx is a
    /// [`FetchError::Status`]. The body is raw bytes, bounded like
    /// [`HttpFetcher::get_json`]'s. The token never appears in errors.
    pub fn get_bundle(
        &self,
        url: &str,
        etag: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<BundleResponse, FetchError> {
        self.check_scheme(url)?;
        let mut req = self
            .agent
            .get(url)
            .header("accept", "application/gzip, application/octet-stream, */*");
        if let Some(tag) = etag {
            req = req.header("if-none-match", tag);
        }
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let response = req
            .call()
            .map_err(|e| map_ureq_error(e, url, self.max_body_bytes))?;
        let status = response.status().as_u16();
        if status == 304 {
            return Ok(BundleResponse::NotModified);
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                url: redact_url(url),
                status,
            });
        }
        let headers = response.headers();
        let declared_len = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared_len.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Err(FetchError::TooLarge {
                url: redact_url(url),
                limit: self.max_body_bytes,
            });
        }
        let etag = headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .filter(|t| !t.is_empty() && t.len() <= 1024);
        let body = response
            .into_body()
            .into_with_config()
            .limit(self.max_body_bytes as u64)
            .read_to_vec()
            .map_err(|e| map_ureq_error(e, url, self.max_body_bytes))?;
        Ok(BundleResponse::Body { body, etag })
    }

    /// Refuses anything but `https://` (or `http://` when allowed).
    fn check_scheme(&self, url: &str) -> Result<(), FetchError> {
        match url_scheme(url).as_deref() {
            Some("https") => Ok(()),
            Some("http") if self.allow_insecure_http => Ok(()),
            Some("http") => Err(FetchError::Invalid {
                url: redact_url(url),
                message: "plain http is not allowed; use https".into(),
            }),
            _ => Err(FetchError::Invalid {
                url: redact_url(url),
                message: "URL must start with https://".into(),
            }),
        }
    }
}

/// OIDC discovery (OpenID Connect Discovery 1.0 §4): fetches
/// `{issuer}/.well-known/openid-configuration` (one trailing `/` of the
/// issuer removed first), checks that the document's `issuer` equals
/// `issuer` exactly (§4.3), and returns its `jwks_uri` with the document's
/// [`Fetched::max_age`].
///
/// The issuer must be an `https` URL without query or fragment (`http` only
/// when the fetcher allows it), else [`FetchError::Config`]. A mismatched
/// issuer, or a `jwks_uri` that is missing, not absolute, or not `https`
/// (unless insecure http is allowed) gives [`FetchError::Invalid`].
pub fn discover_jwks_uri(
    fetcher: &HttpFetcher,
    issuer: &str,
) -> Result<(String, Option<Duration>), FetchError> {
    if issuer.contains(['?', '#']) {
        return Err(FetchError::Config {
            message: format!(
                "issuer {} must not contain a query or fragment",
                redact_url(issuer)
            ),
        });
    }
    if !scheme_allowed(issuer, fetcher.allow_insecure_http) || url_host(issuer).is_none() {
        return Err(FetchError::Config {
            message: format!(
                "issuer {} must be an absolute https URL",
                redact_url(issuer)
            ),
        });
    }
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    let url = format!("{base}{WELL_KNOWN_OIDC}");
    let fetched = fetcher.get_json(&url)?;
    let invalid = |message: String| FetchError::Invalid {
        url: redact_url(&url),
        message,
    };

    let doc: serde_json::Value = serde_json::from_str(&fetched.body)
        .map_err(|e| invalid(format!("discovery document is not JSON: {e}")))?;
    let doc = doc
        .as_object()
        .ok_or_else(|| invalid("discovery document is not a JSON object".into()))?;
    let doc_issuer = doc
        .get("issuer")
        .and_then(|v| v.as_str())
        .ok_or_else(|| invalid("discovery document has no \"issuer\" string".into()))?;
    if doc_issuer != issuer {
        return Err(invalid(format!(
            "issuer mismatch: document says {}, expected {}",
            redact_url(doc_issuer),
            redact_url(issuer)
        )));
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or_else(|| invalid("discovery document has no \"jwks_uri\" string".into()))?;
    if !scheme_allowed(jwks_uri, fetcher.allow_insecure_http) || url_host(jwks_uri).is_none() {
        return Err(invalid(format!(
            "jwks_uri {} must be an absolute https URL",
            redact_url(jwks_uri)
        )));
    }
    Ok((jwks_uri.to_string(), fetched.max_age))
}

/// Reads and validates a PEM CA bundle.
fn load_ca_file(path: &Path) -> Result<RootCerts, FetchError> {
    let config_err = |what: String| FetchError::Config {
        message: format!("CA file {}: {what}", path.display()),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_err(format!("cannot read: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| config_err(format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(config_err("contains no CERTIFICATE block".into()));
    }
    // ureq silently skips unparsable roots; check each one here instead.
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store.add(cert.clone()).map_err(|e| {
            config_err(format!(
                "certificate #{} is not a usable trust anchor: {e}",
                i + 1
            ))
        })?;
    }
    Ok(RootCerts::new_with_certs(
        &certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect::<Vec<_>>(),
    ))
}

/// Maps a ureq error to a [`FetchError`] without quoting ureq's own
/// messages where they could contain the unredacted URL.
fn map_ureq_error(err: ureq::Error, url: &str, limit: usize) -> FetchError {
    let r = redact_url(url);
    let message = |m: String| scrub(&m, url);
    match err {
        ureq::Error::Timeout(_) => FetchError::Timeout { url: r },
        ureq::Error::Io(e) => map_io_error(e, r, url),
        ureq::Error::Rustls(e) => FetchError::Tls {
            url: r,
            message: message(e.to_string()),
        },
        ureq::Error::Tls(m) => FetchError::Tls {
            url: r,
            message: m.to_string(),
        },
        ureq::Error::Pem(_) | ureq::Error::TlsRequired => FetchError::Tls {
            url: r,
            message: "TLS setup failed".into(),
        },
        ureq::Error::HostNotFound => FetchError::Connect {
            url: r,
            message: "host not found".into(),
        },
        ureq::Error::ConnectionFailed => FetchError::Connect {
            url: r,
            message: "connection failed".into(),
        },
        ureq::Error::ConnectProxyFailed(_) => FetchError::Connect {
            url: r,
            message: "proxy CONNECT failed".into(),
        },
        ureq::Error::InvalidProxyUrl => FetchError::Config {
            message: "invalid proxy URL in the environment".into(),
        },
        ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge { url: r, limit },
        ureq::Error::StatusCode(status) => FetchError::Status { url: r, status },
        ureq::Error::BadUri(_) => FetchError::Invalid {
            url: r,
            message: "malformed URL".into(),
        },
        ureq::Error::RequireHttpsOnly(_) => FetchError::Invalid {
            url: r,
            message: "plain http is not allowed; use https".into(),
        },
        ureq::Error::LargeResponseHeader(..) => FetchError::Invalid {
            url: r,
            message: "response header too large".into(),
        },
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => FetchError::Invalid {
            url: r,
            message: "redirects are not followed".into(),
        },
        other => FetchError::Invalid {
            url: r,
            message: message(other.to_string()),
        },
    }
}

fn map_io_error(e: io::Error, r: String, url: &str) -> FetchError {
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return FetchError::Timeout { url: r };
    }
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return FetchError::Tls {
            url: r,
            message: scrub(&tls.to_string(), url),
        };
    }
    FetchError::Connect {
        url: r,
        message: scrub(&e.to_string(), url),
    }
}

/// Lower-cased scheme of an absolute URL.
fn url_scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

fn scheme_allowed(url: &str, allow_insecure_http: bool) -> bool {
    match url_scheme(url).as_deref() {
        Some("https") => true,
        Some("http") => allow_insecure_http,
        _ => false,
    }
}

/// The host part (without userinfo or port) of an absolute URL, if non-empty.
fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    (!host.is_empty()).then_some(host)
}

/// Removes userinfo, query and fragment from a URL for use in messages;
/// replaces control characters and caps the length.
pub(crate) fn redact_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    let (prefix, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(auth_end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let mut out = String::with_capacity(url.len());
    for c in prefix.chars().chain(authority.chars()).chain(path.chars()) {
        if out.len() >= MAX_URL_IN_MESSAGE {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

/// Replaces any occurrence of the raw URL (or its secret parts) in a
/// message from a lower layer.
fn scrub(message: &str, url: &str) -> String {
    let mut m = message.replace(url, &redact_url(url));
    if let Some(i) = url.find(['?', '#']) {
        let tail = &url[i + 1..];
        if !tail.is_empty() {
            m = m.replace(tail, "…");
        }
    }
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if !userinfo.is_empty() {
                m = m.replace(userinfo, "…");
            }
        }
    }
    m.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Freshness from `Cache-Control` header values and `Age`.
fn cache_max_age<'a>(
    cache_control: impl Iterator<Item = &'a str>,
    age: Option<&str>,
) -> Option<Duration> {
    let mut no_cache = false;
    let mut max_age: Option<u64> = None;
    for value in cache_control {
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim())),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                no_cache = true;
            } else if name.eq_ignore_ascii_case("max-age") {
                let arg = arg.map(|a| a.trim_matches('"'));
                if let Some(secs) = arg.and_then(parse_delta_seconds) {
                    max_age = Some(max_age.map_or(secs, |m| m.min(secs)));
                }
            }
        }
    }
    if no_cache {
        return Some(Duration::ZERO);
    }
    let age = age.and_then(|a| parse_delta_seconds(a.trim())).unwrap_or(0);
    max_age.map(|m| Duration::from_secs(m.saturating_sub(age)))
}

/// RFC 9111 delta-seconds: digits only; overflow is capped at 2^31.
fn parse_delta_seconds(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        s.parse::<u64>()
            .map_or(DELTA_SECONDS_CAP, |v| v.min(DELTA_SECONDS_CAP)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, OnceLock};
    use std::thread::JoinHandle;
    use std::time::Instant;

    // ---------------------------------------------------------------- PKI

    struct Pki {
        ca_pem: String,
        server: Arc<rustls::ServerConfig>,
    }

    /// A CA and a server certificate for 127.0.0.1/localhost, made once.
    fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "coresdk test CA");
            let ca_cert = ca_params.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca_params, ca_key);

            let server_key = KeyPair::generate().unwrap();
            let server_params =
                CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                    .unwrap();
            let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
            let server = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key)
            .unwrap();
            Pki {
                ca_pem: ca_cert.pem(),
                server: Arc::new(server),
            }
        })
    }

    // ------------------------------------------------------------- server

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Stall {
        No,
        /// Read the request, then send nothing.
        BeforeResponse,
        /// Send headers and half of the body, then stall.
        MidBody,
    }

    struct Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        content_length: bool,
        stall: Stall,
    }

    impl Reply {
        fn json(body: &str) -> Self {
            Reply {
                status: 200,
                headers: vec![("Content-Type", "application/json".into())],
                body: body.as_bytes().to_vec(),
                content_length: true,
                stall: Stall::No,
            }
        }
        fn status(status: u16) -> Self {
            Reply {
                status,
                ..Reply::json("{}")
            }
        }
        fn header(mut self, name: &'static str, value: &str) -> Self {
            self.headers.push((name, value.to_string()));
            self
        }
    }

    /// A loopback server accepting at most `max_conns` connections (one
    /// request each, each on its own thread) for at most 10 s. Dropping it
    /// releases stalled handlers and joins every thread.
    struct Server {
        addr: SocketAddr,
        requests: Arc<Mutex<Vec<String>>>,
        stop: Arc<AtomicBool>,
        handle: Option<JoinHandle<()>>,
    }

    impl Server {
        fn start(
            tls: bool,
            max_conns: usize,
            route: impl Fn(&str) -> Reply + Send + Sync + 'static,
        ) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let requests = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let tls_cfg = tls.then(|| pki().server.clone());
            let (seen, stopped) = (requests.clone(), stop.clone());
            let route = Arc::new(route);
            let handle = std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut workers = Vec::new();
                while workers.len() < max_conns
                    && Instant::now() < deadline
                    && !stopped.load(Ordering::SeqCst)
                {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (tls_cfg, route) = (tls_cfg.clone(), route.clone());
                            let (seen, stopped) = (seen.clone(), stopped.clone());
                            workers.push(std::thread::spawn(move || {
                                let _ = handle_conn(stream, tls_cfg, &*route, &seen, &stopped);
                            }));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
                for w in workers {
                    let _ = w.join();
                }
            });
            Server {
                addr,
                requests,
                stop,
                handle: Some(handle),
            }
        }

        fn url(&self, scheme: &str, path: &str) -> String {
            format!("{scheme}://{}{path}", self.addr)
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(h) = self.handle.take() {
                let _ = h.join();
            }
        }
    }

    /// Blocks until the server is dropped, at most 3 s.
    fn wait_for_stop(stop: &AtomicBool) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn handle_conn(
        stream: TcpStream,
        tls: Option<Arc<rustls::ServerConfig>>,
        route: &(dyn Fn(&str) -> Reply + Send + Sync),
        seen: &Mutex<Vec<String>>,
        stop: &AtomicBool,
    ) -> io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        stream.set_write_timeout(Some(Duration::from_secs(3)))?;
        let mut io: Box<dyn ReadWrite> = match tls {
            Some(cfg) => {
                let conn = rustls::ServerConnection::new(cfg).map_err(io::Error::other)?;
                Box::new(rustls::StreamOwned::new(conn, stream))
            }
            None => Box::new(stream),
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = io.read(&mut buf)?;
            if n == 0 || head.len() > 16 * 1024 {
                return Ok(());
            }
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
        seen.lock().unwrap().push(head);
        let reply = route(&path);
        if reply.stall == Stall::BeforeResponse {
            wait_for_stop(stop);
            return Ok(());
        }
        let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
        for (k, v) in &reply.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if reply.content_length {
            out.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
        }
        out.push_str("\r\n");
        io.write_all(out.as_bytes())?;
        if reply.stall == Stall::MidBody {
            io.write_all(&reply.body[..reply.body.len() / 2])?;
            io.flush()?;
            wait_for_stop(stop);
            return Ok(());
        }
        io.write_all(&reply.body)?;
        io.flush()?;
        io.close()
    }

    trait ReadWrite: Read + Write {
        fn close(&mut self) -> io::Result<()>;
    }
    impl ReadWrite for TcpStream {
        fn close(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl ReadWrite for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
        fn close(&mut self) -> io::Result<()> {
            self.conn.send_close_notify();
            self.flush()
        }
    }

    // ------------------------------------------------------------ helpers

    /// A config trusting the test CA, with the CA file in `dir`.
    fn trusted_config(dir: &Path) -> FetchConfig {
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &pki().ca_pem).unwrap();
        FetchConfig {
            ca_file: Some(ca),
            timeout: Duration::from_secs(3),
            ..FetchConfig::default()
        }
    }

    fn trusted_fetcher() -> (tempfile::TempDir, HttpFetcher) {
        let dir = tempfile::tempdir().unwrap();
        let f = HttpFetcher::new(&trusted_config(dir.path())).unwrap();
        (dir, f)
    }

    // -------------------------------------------------------------- tests

    #[test]
    fn fetcher_is_send_sync_and_config_defaults() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HttpFetcher>();
        let d = FetchConfig::default();
        assert_eq!(d.timeout, Duration::from_secs(5));
        assert_eq!(d.max_body_bytes, 1024 * 1024);
        assert!(!d.allow_insecure_http && d.ca_file.is_none());
        for bad in [
            FetchConfig {
                timeout: Duration::ZERO,
                ..FetchConfig::default()
            },
            FetchConfig {
                max_body_bytes: 0,
                ..FetchConfig::default()
            },
        ] {
            assert!(matches!(
                HttpFetcher::new(&bad),
                Err(FetchError::Config { .. })
            ));
        }
    }

    #[test]
    fn https_success_with_ca_file() {
        let server = Server::start(true, 2, |path| match path {
            "/jwks" => Reply::json(r#"{"keys":[]}"#)
                .header("Cache-Control", "public, max-age=300")
                .header("Age", "20"),
            _ => Reply::json("\u{feff}{\"bom\":true}"),
        });
        let (_dir, f) = trusted_fetcher();
        let got = f.get_json(&server.url("https", "/jwks")).unwrap();
        assert_eq!(got.body, r#"{"keys":[]}"#);
        assert_eq!(got.max_age, Some(Duration::from_secs(280)));
        let got = f.get_json(&server.url("https", "/bom")).unwrap();
        assert_eq!(got.body, r#"{"bom":true}"#);
        assert_eq!(got.max_age, None);
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        let head = reqs[0].to_ascii_lowercase();
        assert!(head.starts_with("get /jwks http/1.1\r\n"), "{head}");
        assert!(head.contains("\r\naccept: application/json\r\n"), "{head}");
    }

    #[test]
    fn untrusted_ca_is_tls_error() {
        let server = Server::start(true, 1, |_| Reply::json("{}"));
        let f = HttpFetcher::new(&FetchConfig::default()).unwrap();
        match f.get_json(&server.url("https", "/jwks")) {
            Err(FetchError::Tls { message, .. }) => {
                assert!(message.to_lowercase().contains("unknown"), "{message}")
            }
            other => panic!("expected Tls error, got {other:?}"),
        }
    }

    #[test]
    fn bad_ca_file_is_config_error_naming_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-ca.pem");
        let garbage = dir.path().join("garbage-ca.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let empty = dir.path().join("empty-ca.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let not_ca = dir.path().join("notcert-ca.pem");
        std::fs::write(
            &not_ca,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for path in [missing, garbage, empty, not_ca] {
            let cfg = FetchConfig {
                ca_file: Some(path.clone()),
                ..FetchConfig::default()
            };
            match HttpFetcher::new(&cfg) {
                Err(FetchError::Config { message }) => {
                    let name = path.file_name().unwrap().to_str().unwrap();
                    assert!(message.contains(name), "{message}");
                }
                other => panic!("expected Config error for {path:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn cache_control_parsing() {
        let p = |cc: &[&str], age: Option<&str>| cache_max_age(cc.iter().copied(), age);
        let s = Duration::from_secs;
        assert_eq!(p(&[], None), None);
        assert_eq!(p(&["public"], None), None);
        assert_eq!(p(&["max-age=60"], None), Some(s(60)));
        assert_eq!(
            p(&["public, MAX-AGE=60, must-revalidate"], None),
            Some(s(60))
        );
        assert_eq!(p(&["max-age=\"60\""], None), Some(s(60)));
        assert_eq!(p(&["max-age = 60"], None), Some(s(60)));
        assert_eq!(p(&["max-age=60", "max-age=30"], None), Some(s(30)));
        assert_eq!(p(&["max-age=60, s-maxage=5"], None), Some(s(60)));
        assert_eq!(p(&["max-age=60"], Some("100")), Some(s(0)));
        assert_eq!(p(&["max-age=60"], Some("junk")), Some(s(60)));
        assert_eq!(p(&["max-age=-5"], None), None);
        assert_eq!(p(&["max-age=abc"], None), None);
        assert_eq!(p(&["max-age="], None), None);
        assert_eq!(
            p(&["max-age=99999999999999999999999"], None),
            Some(s(2_147_483_648))
        );
        assert_eq!(p(&["no-cache"], None), Some(s(0)));
        assert_eq!(p(&["max-age=600, no-store"], None), Some(s(0)));
        assert_eq!(p(&["max-age=600", "No-Cache"], None), Some(s(0)));
        assert_eq!(p(&["no-cache=\"set-cookie\", max-age=9"], None), Some(s(0)));
        assert_eq!(p(&["private, no-transform"], None), None);
    }

    #[test]
    fn cache_control_over_the_wire() {
        let server = Server::start(true, 2, |path| match path {
            "/a" => Reply::json("{}")
                .header("Cache-Control", "max-age=600")
                .header("Cache-Control", "no-store"),
            _ => Reply::json("{}").header("cache-control", "max-age=42"),
        });
        let (_dir, f) = trusted_fetcher();
        assert_eq!(
            f.get_json(&server.url("https", "/a")).unwrap().max_age,
            Some(Duration::ZERO)
        );
        assert_eq!(
            f.get_json(&server.url("https", "/b")).unwrap().max_age,
            Some(Duration::from_secs(42))
        );
    }

    #[test]
    fn non_2xx_is_status_error() {
        let server = Server::start(true, 4, |path| match path {
            "/404" => Reply::status(404),
            "/500" => Reply::status(500),
            "/204" => Reply::status(204),
            _ => Reply::status(302).header("Location", "/elsewhere"),
        });
        let (_dir, f) = trusted_fetcher();
        for (path, want) in [("/404", 404), ("/500", 500), ("/302", 302)] {
            match f.get_json(&server.url("https", path)) {
                Err(FetchError::Status { status, url }) => {
                    assert_eq!(status, want);
                    assert!(url.ends_with(path), "{url}");
                }
                other => panic!("{path}: expected Status, got {other:?}"),
            }
        }
        assert!(f.get_json(&server.url("https", "/204")).is_ok());
        assert_eq!(server.requests().len(), 4, "redirect was not followed");
    }

    #[test]
    fn body_limits_and_utf8() {
        let big = "x".repeat(2048);
        let exact = "y".repeat(1024);
        let server = Server::start(true, 4, move |path| match path {
            "/declared" => Reply::json(&big),
            "/undeclared" => Reply {
                content_length: false,
                ..Reply::json(&big)
            },
            "/exact" => Reply {
                content_length: false,
                ..Reply::json(&exact)
            },
            _ => Reply {
                body: vec![b'"', 0xff, 0xfe, b'"'],
                ..Reply::json("")
            },
        });
        let dir = tempfile::tempdir().unwrap();
        let f = HttpFetcher::new(&FetchConfig {
            max_body_bytes: 1024,
            ..trusted_config(dir.path())
        })
        .unwrap();
        for path in ["/declared", "/undeclared"] {
            match f.get_json(&server.url("https", path)) {
                Err(FetchError::TooLarge { limit, .. }) => assert_eq!(limit, 1024),
                other => panic!("{path}: expected TooLarge, got {other:?}"),
            }
        }
        assert_eq!(
            f.get_json(&server.url("https", "/exact"))
                .unwrap()
                .body
                .len(),
            1024
        );
        assert!(matches!(
            f.get_json(&server.url("https", "/latin1")),
            Err(FetchError::Invalid { .. })
        ));
    }

    #[test]
    fn slow_server_times_out() {
        let server = Server::start(true, 2, |path| Reply {
            stall: if path == "/mid" {
                Stall::MidBody
            } else {
                Stall::BeforeResponse
            },
            ..Reply::json(&"z".repeat(4096))
        });
        let dir = tempfile::tempdir().unwrap();
        let timeout = Duration::from_millis(300);
        let f = HttpFetcher::new(&FetchConfig {
            timeout,
            ..trusted_config(dir.path())
        })
        .unwrap();
        for path in ["/head", "/mid"] {
            let start = Instant::now();
            let r = f.get_json(&server.url("https", path));
            let took = start.elapsed();
            assert!(
                matches!(r, Err(FetchError::Timeout { .. })),
                "{path}: {r:?}"
            );
            assert!(
                took >= timeout - Duration::from_millis(50),
                "{path}: {took:?}"
            );
            assert!(
                took < timeout + Duration::from_millis(700),
                "{path}: {took:?}"
            );
        }
    }

    #[test]
    fn plain_http_only_when_allowed() {
        let server = Server::start(false, 1, |_| Reply::json(r#"{"ok":1}"#));
        let url = server.url("http", "/jwks");
        let f = HttpFetcher::new(&FetchConfig::default()).unwrap();
        assert!(matches!(f.get_json(&url), Err(FetchError::Invalid { .. })));
        assert!(matches!(
            f.get_json("ftp://example.test/x"),
            Err(FetchError::Invalid { .. })
        ));
        assert!(server.requests().is_empty(), "refused before connecting");
        let f = HttpFetcher::new(&FetchConfig {
            allow_insecure_http: true,
            ..FetchConfig::default()
        })
        .unwrap();
        assert_eq!(f.get_json(&url).unwrap().body, r#"{"ok":1}"#);
    }

    #[test]
    fn discovery() {
        let port_holder: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
        let base = port_holder.clone();
        let server = Server::start(true, 8, move |path| {
            let base = base.lock().unwrap().clone();
            let doc = |issuer: &str, jwks: &str| {
                Reply::json(&serde_json::json!({"issuer": issuer, "jwks_uri": jwks}).to_string())
            };
            match path {
                "/.well-known/openid-configuration" => {
                    doc(&base, &format!("{base}/jwks")).header("Cache-Control", "max-age=3600")
                }
                "/tenant/.well-known/openid-configuration" => {
                    doc(&format!("{base}/tenant/"), &format!("{base}/tenant/keys"))
                }
                "/mismatch/.well-known/openid-configuration" => {
                    doc(&format!("{base}/other"), &format!("{base}/jwks"))
                }
                "/slash/.well-known/openid-configuration" => {
                    doc(&format!("{base}/slash/"), &format!("{base}/jwks"))
                }
                "/plain/.well-known/openid-configuration" => {
                    doc(&format!("{base}/plain"), "http://127.0.0.1/jwks")
                }
                "/nojwks/.well-known/openid-configuration" => Reply::json(
                    &serde_json::json!({"issuer": format!("{base}/nojwks")}).to_string(),
                ),
                _ => Reply::status(404),
            }
        });
        let base = server.url("https", "");
        *port_holder.lock().unwrap() = base.clone();
        let (_dir, f) = trusted_fetcher();

        let (jwks, max_age) = discover_jwks_uri(&f, &base).unwrap();
        assert_eq!(jwks, format!("{base}/jwks"));
        assert_eq!(max_age, Some(Duration::from_secs(3600)));

        // Issuer with a path and a trailing slash: the slash is removed
        // before appending, and the document must echo the slash.
        let (jwks, _) = discover_jwks_uri(&f, &format!("{base}/tenant/")).unwrap();
        assert_eq!(jwks, format!("{base}/tenant/keys"));

        for (issuer, needle) in [
            (format!("{base}/mismatch"), "issuer mismatch"),
            // Configured without the slash, document has it: exact match fails.
            (format!("{base}/slash"), "issuer mismatch"),
            (format!("{base}/plain"), "jwks_uri"),
            (format!("{base}/nojwks"), "jwks_uri"),
        ] {
            match discover_jwks_uri(&f, &issuer) {
                Err(FetchError::Invalid { message, .. }) => {
                    assert!(message.contains(needle), "{issuer}: {message}")
                }
                other => panic!("{issuer}: expected Invalid, got {other:?}"),
            }
        }
        assert!(matches!(
            discover_jwks_uri(&f, &format!("{base}/missing")),
            Err(FetchError::Status { status: 404, .. })
        ));
        for bad in [
            format!("{base}?x=1"),
            format!("{base}#frag"),
            "http://127.0.0.1:1".into(),
            "issuer".into(),
            "https://".into(),
        ] {
            assert!(
                matches!(discover_jwks_uri(&f, &bad), Err(FetchError::Config { .. })),
                "{bad}"
            );
        }
        assert_eq!(server.requests().len(), 7);
    }

    #[test]
    fn secrets_stripped_from_error_messages() {
        assert_eq!(
            redact_url("https://user:pa%40ss@idp.example/jwks?token=SECRET#frag"),
            "https://idp.example/jwks"
        );
        assert_eq!(redact_url("https://idp.example?x=1"), "https://idp.example");
        assert_eq!(redact_url("HTTP://u@h:8/p/q"), "HTTP://h:8/p/q");
        assert_eq!(redact_url("u:p@host/x?y"), "host/x");
        assert_eq!(redact_url("https://h/a\nb"), "https://h/a?b");
        assert!(
            redact_url(&format!("https://h/{}", "a".repeat(1000)))
                .chars()
                .count()
                < 300
        );

        let server = Server::start(true, 1, |_| Reply::status(404));
        let (_dir, f) = trusted_fetcher();
        let secret_url = format!(
            "https://alice:hunter2@{}/jwks?api_key=SECRET123#FRAG",
            server.addr
        );
        // A closed port for a connection error.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let closed_url = format!("https://alice:hunter2@{closed}/jwks?api_key=SECRET123");
        let plain_url = format!("http://alice:hunter2@{closed}/jwks?api_key=SECRET123");
        let errors = [
            f.get_json(&secret_url).unwrap_err(),
            f.get_json(&closed_url).unwrap_err(),
            f.get_json(&plain_url).unwrap_err(),
            discover_jwks_uri(&f, &closed_url).unwrap_err(),
        ];
        assert!(matches!(errors[0], FetchError::Status { status: 404, .. }));
        assert!(
            matches!(errors[1], FetchError::Connect { .. }),
            "{:?}",
            errors[1]
        );
        for e in &errors {
            let text = format!("{e} / {e:?}");
            for secret in ["alice", "hunter2", "SECRET123", "api_key", "FRAG"] {
                assert!(!text.contains(secret), "{secret} leaked: {text}");
            }
        }
        assert!(errors[0]
            .to_string()
            .contains(&format!("https://{}/jwks", server.addr)));
    }
}
