//! Mutual TLS 1.3 by rustls, with certificates reloaded when their files
//! change.
//!
//! The server presents `tls_cert_file`/`tls_key_file` and requires a client
//! certificate chaining to `tls_client_ca_file`. TLS 1.2 and below are
//! refused, as is a client without a certificate. ALPN offers only `h2`.
//!
//! Every accepted connection takes the configuration current at that moment
//! ([`ReloadableTls::acceptor`]), so a reload applies to new connections
//! without touching established ones. A reload that fails (a half-written
//! file, a key that does not match its certificate) keeps the previous
//! configuration serving and is reported.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::SidecarError;

/// The files of a server's TLS identity, and how it treats clients.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate chain, PEM.
    pub cert: PathBuf,
    /// Server private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates for client certificates, PEM; `None` asks for no
    /// client certificate (the AuthZEN listener with API keys).
    pub client_ca: Option<PathBuf>,
    /// An HTTPS listener (AuthZEN): ALPN offers `http/1.1` besides `h2`, and
    /// a client without a certificate completes the handshake so that the
    /// HTTP layer can answer 401 (a certificate that does not chain to the
    /// CA is still refused in the handshake).
    pub https: bool,
}

impl TlsFiles {
    /// The files to watch for changes.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut v = vec![self.cert.clone(), self.key.clone()];
        v.extend(self.client_ca.clone());
        v
    }

    /// The files' contents, for change detection.
    fn fingerprint(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for p in self.paths() {
            v.extend(std::fs::read(p).unwrap_or_default());
            v.push(0);
        }
        v
    }
}

/// Builds the rustls server configuration: TLS 1.3 only; for gRPC, client
/// certificates required and ALPN `h2` (see [`TlsFiles::https`] for AuthZEN).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, SidecarError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = read_certs(&files.cert, "sidecar.tls_cert_file")?;
    let key = read_key(&files.key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SidecarError::tls("sidecar.tls_cert_file", e.to_string()))?;
    let builder = match &files.client_ca {
        Some(client_ca) => {
            let mut roots = RootCertStore::empty();
            for ca in read_certs(client_ca, "sidecar.tls_client_ca_file")? {
                roots.add(ca).map_err(|e| {
                    SidecarError::tls(
                        "sidecar.tls_client_ca_file",
                        format!("{}: {e}", client_ca.display()),
                    )
                })?;
            }
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if files.https {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| SidecarError::tls("sidecar.tls_client_ca_file", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder.with_single_cert(chain, key).map_err(|e| {
        SidecarError::tls(
            "sidecar.tls_key_file",
            format!("the key does not fit the certificate: {e}"),
        )
    })?;
    cfg.alpn_protocols = if files.https {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec()]
    };
    Ok(Arc::new(cfg))
}

fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, SidecarError> {
    let file = std::fs::File::open(path)
        .map_err(|e| SidecarError::tls(key, format!("{}: {e}", path.display())))?;
    let certs = CertificateDer::pem_reader_iter(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SidecarError::tls(key, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(SidecarError::tls(
            key,
            format!("{}: no PEM certificate in the file", path.display()),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, SidecarError> {
    // The error never quotes the file: it holds a private key.
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        SidecarError::tls(
            "sidecar.tls_key_file",
            format!("{}: no usable PEM private key ({e})", path.display()),
        )
    })
}

/// A TLS configuration that can be swapped while serving.
pub struct ReloadableTls {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
    fingerprint: std::sync::Mutex<Vec<u8>>,
}

impl ReloadableTls {
    /// Loads the files once; fails when they are unusable.
    pub fn load(files: TlsFiles) -> Result<Self, SidecarError> {
        let cfg = server_config(&files)?;
        let fingerprint = files.fingerprint();
        Ok(ReloadableTls {
            files,
            current: ArcSwap::new(cfg),
            fingerprint: std::sync::Mutex::new(fingerprint),
        })
    }

    /// An acceptor with the configuration current now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// The files this configuration comes from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Reloads when the files' contents changed (`force` reloads anyway).
    /// Returns whether a new configuration is now serving. On error the
    /// previous configuration keeps serving.
    pub fn reload(&self, force: bool) -> Result<bool, SidecarError> {
        let fp = self.files.fingerprint();
        let mut last = self.fingerprint.lock().unwrap_or_else(|p| p.into_inner());
        if !force && *last == fp {
            return Ok(false);
        }
        let cfg = server_config(&self.files)?;
        self.current.store(cfg);
        *last = fp;
        Ok(true)
    }
}
