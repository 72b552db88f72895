//! HTTP target: `POST <path>` with a JSON body over a fixed pool of
//! HTTP/1.1 keep-alive connections: plain (OPA's REST API on loopback), or
//! TLS with an `https://` address and `--ca` (the sidecar's AuthZEN
//! listener; `--cert`/`--key` for mutual TLS, `--bearer` for an API key).
//!
//! An HTTP/1.1 connection carries one request at a time, so a request takes
//! the next idle connection from the pool (first come, first served) and
//! waits, with its latency clock running, while all are busy. A connection
//! that fails, or whose request was abandoned at its deadline, is replaced
//! by a new one on its next use.

use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::args::Args;
use crate::report::{ErrorKind, Outcome};
use crate::schedule::Caller;

type Sender = SendRequest<Full<Bytes>>;

/// The connection pool: a permit per connection, and the idle connections
/// (`None` is a slot whose connection must be (re)opened).
struct Pool {
    /// `host:port` to connect to, also sent as `Host`.
    authority: String,
    /// TLS: the connector and the name to verify.
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls_pki_types::ServerName<'static>,
    )>,
    permits: Semaphore,
    idle: Mutex<Vec<Option<Sender>>>,
}

/// A connection taken from the pool; goes back on drop. If dropped while
/// its request is in progress (`sender` taken), the slot goes back empty.
struct Lease {
    pool: Arc<Pool>,
    sender: Option<Sender>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let sender = self.sender.take();
        self.pool
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sender);
        self.pool.permits.add_permits(1);
    }
}

impl Pool {
    async fn open(&self) -> Result<Sender, String> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        if let Some((connector, name)) = &self.tls {
            let tls = connector
                .connect(name.clone(), stream)
                .await
                .map_err(|e| e.to_string())?;
            let (sender, conn) = http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            return Ok(sender);
        }
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Waits for an idle connection, reopening it if it was closed.
    async fn lease(self: &Arc<Self>) -> Result<Lease, ErrorKind> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ErrorKind::from("pool_closed"))?;
        permit.forget();
        let slot = self
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .flatten();
        let mut lease = Lease {
            pool: self.clone(),
            sender: None,
        };
        lease.sender = match slot {
            Some(s) if !s.is_closed() => Some(s),
            _ => Some(self.open().await.map_err(|_| ErrorKind::from("connect"))?),
        };
        Ok(lease)
    }
}

/// Sends one fixed POST per call over the pool.
pub struct HttpCaller {
    pool: Arc<Pool>,
    path: Uri,
    body: Bytes,
    bearer: Option<Arc<str>>,
    check_allowed: bool,
}

/// The TLS connector for an `https://` address: `--ca` as the only root,
/// `--cert`/`--key` as the client identity, ALPN `http/1.1`.
fn tls_connector(
    args: &Args,
    host: &str,
) -> Result<
    (
        tokio_rustls::TlsConnector,
        rustls_pki_types::ServerName<'static>,
    ),
    String,
> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let ca = args.ca.as_ref().ok_or("an https:// --addr needs --ca")?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| format!("--ca: {e}"))? {
        roots
            .add(c.map_err(|e| format!("--ca: {e}"))?)
            .map_err(|e| format!("--ca: {e}"))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut cfg = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--cert: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = args.server_name.clone().unwrap_or_else(|| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    });
    let name = ServerName::try_from(name).map_err(|e| format!("bad server name: {e}"))?;
    Ok((
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg)),
        name,
    ))
}

impl HttpCaller {
    /// Opens `--connections` keep-alive connections to `--addr`. An error is
    /// a one-line message naming what failed.
    pub async fn connect(args: &Args) -> Result<HttpCaller, String> {
        let uri: Uri = args
            .addr
            .parse()
            .map_err(|e| format!("bad --addr {:?}: {e}", args.addr))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("bad --addr {:?}: no host", args.addr))?;
        let https = uri.scheme_str() == Some("https");
        let tls = https
            .then(|| tls_connector(args, authority.host()))
            .transpose()?;
        let authority = match authority.port_u16() {
            Some(_) => authority.as_str().to_string(),
            None => format!("{}:{}", authority.as_str(), if https { 443 } else { 80 }),
        };
        let path: Uri = args
            .path
            .parse()
            .map_err(|e| format!("bad --path {:?}: {e}", args.path))?;
        let pool = Arc::new(Pool {
            authority,
            tls,
            permits: Semaphore::new(0),
            idle: Mutex::new(Vec::with_capacity(args.connections)),
        });
        for _ in 0..args.connections {
            let sender = tokio::time::timeout(args.timeout(), pool.open())
                .await
                .map_err(|_| "timed out".to_string())
                .and_then(|r| r)
                .map_err(|e| format!("cannot connect to {}: {e}", args.addr))?;
            pool.idle.lock().unwrap().push(Some(sender));
            pool.permits.add_permits(1);
        }
        Ok(HttpCaller {
            pool,
            path,
            body: Bytes::from(args.body.clone()),
            bearer: args
                .bearer
                .as_ref()
                .map(|b| Arc::from(format!("Bearer {b}"))),
            check_allowed: args.check_allowed,
        })
    }
}

impl Caller for HttpCaller {
    fn call(&self, _conn: usize) -> impl Future<Output = Outcome> + Send + 'static {
        let pool = self.pool.clone();
        let path = self.path.clone();
        let body = self.body.clone();
        let bearer = self.bearer.clone();
        let check_allowed = self.check_allowed;
        async move {
            let mut lease = pool.lease().await?;
            let mut sender = lease.sender.take().expect("lease holds a connection");
            sender
                .ready()
                .await
                .map_err(|_| ErrorKind::from("connection_closed"))?;
            let mut req = Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(HOST, pool.authority.as_str())
                .header(CONTENT_TYPE, "application/json");
            if let Some(b) = &bearer {
                req = req.header(AUTHORIZATION, b.as_ref());
            }
            let req = req.body(Full::new(body)).expect("valid request");
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| ErrorKind::from(io_kind(&e)))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ErrorKind::from(io_kind(&e)))?
                .to_bytes();
            // The exchange is complete: the connection can be reused.
            lease.sender = Some(sender);
            drop(lease);
            if !status.is_success() {
                return Err(format!("http_{}", status.as_u16()).into());
            }
            if check_allowed && !result_is_true(&bytes) {
                return Err("not_allowed".into());
            }
            Ok(())
        }
    }
}

/// The error kind for a failed exchange.
fn io_kind(e: &hyper::Error) -> &'static str {
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        "connection_closed"
    } else if e.is_parse() {
        "bad_response"
    } else {
        "io"
    }
}

/// True when the body is a JSON object whose `result` (OPA) or `decision`
/// (AuthZEN) member is `true`.
fn result_is_true(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("result")
                .or_else(|| v.get("decision"))
                .and_then(|r| r.as_bool())
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::result_is_true;

    #[test]
    fn allowed_body() {
        assert!(result_is_true(br#"{"result":true}"#));
        assert!(result_is_true(
            br#"{ "decision_id": "x", "result" : true }"#
        ));
        assert!(!result_is_true(br#"{"result":false}"#));
        assert!(result_is_true(br#"{"decision":true}"#));
        assert!(!result_is_true(br#"{"decision":false}"#));
        assert!(!result_is_true(br#"{}"#));
        assert!(!result_is_true(b"not json"));
    }
}
