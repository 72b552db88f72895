//! Listen addresses and the accept loop: TCP (IPv6 or IPv4) or a unix
//! socket, with TLS handshakes off the accept path.
//!
//! A handshake runs in a task of its own with a time limit, so a slow or
//! hostile client cannot hold up other connections. Accepted connections are
//! handed to tonic through a bounded channel. Handshake failures are counted
//! and reported at most once per second, never once per connection.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tonic::transport::server::Connected;

use crate::error::SidecarError;
use crate::events::{Event, EventSink, Level};
use crate::tls::ReloadableTls;

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the sidecar listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address, e.g. `[::1]:50051` or `127.0.0.1:50051`.
    Tcp(SocketAddr),
    /// A unix socket path, written `unix:/run/coresdk.sock`.
    Unix(PathBuf),
}

impl ListenAddr {
    /// Parses `[::1]:50051`, `127.0.0.1:50051`, `localhost:50051` (IPv6
    /// loopback) or `unix:/path`.
    pub fn parse(s: &str) -> Result<Self, SidecarError> {
        let key = "CORESDK_SIDECAR_ADDR";
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(SidecarError::config(key, "unix: needs a socket path"));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        if let Some(port) = s.strip_prefix("localhost:") {
            let port: u16 = port
                .parse()
                .map_err(|_| SidecarError::config(key, format!("bad port in {s:?}")))?;
            return Ok(ListenAddr::Tcp(SocketAddr::from((
                std::net::Ipv6Addr::LOCALHOST,
                port,
            ))));
        }
        s.parse::<SocketAddr>().map(ListenAddr::Tcp).map_err(|_| {
            SidecarError::config(
                key,
                format!("{s:?} is not an address: use [::1]:50051, 127.0.0.1:50051 or unix:/path"),
            )
        })
    }

    /// Loopback TCP or a unix socket: reachable from this machine only.
    pub fn is_local(&self) -> bool {
        match self {
            ListenAddr::Tcp(a) => a.ip().is_loopback(),
            ListenAddr::Unix(_) => true,
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "{a}"),
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A bound listener.
pub enum Bound {
    /// TCP.
    Tcp(TcpListener),
    /// Unix socket (the path is removed when the listener is dropped).
    Unix(UnixListener, PathBuf),
}

impl Bound {
    /// Binds `addr`. A stale unix socket file is replaced; any other file at
    /// that path is an error.
    pub fn bind(addr: &ListenAddr) -> Result<Self, SidecarError> {
        let err = |e: std::io::Error| SidecarError::Bind {
            addr: addr.to_string(),
            message: e.to_string(),
        };
        match addr {
            ListenAddr::Tcp(a) => {
                let std = std::net::TcpListener::bind(a).map_err(err)?;
                std.set_nonblocking(true).map_err(err)?;
                Ok(Bound::Tcp(TcpListener::from_std(std).map_err(err)?))
            }
            ListenAddr::Unix(p) => {
                use std::os::unix::fs::FileTypeExt;
                if let Ok(meta) = std::fs::symlink_metadata(p) {
                    if meta.file_type().is_socket() {
                        let _ = std::fs::remove_file(p);
                    } else {
                        return Err(err(std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "a file that is not a socket is in the way",
                        )));
                    }
                }
                let std = std::os::unix::net::UnixListener::bind(p).map_err(err)?;
                std.set_nonblocking(true).map_err(err)?;
                Ok(Bound::Unix(
                    UnixListener::from_std(std).map_err(err)?,
                    p.clone(),
                ))
            }
        }
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> String {
        match self {
            Bound::Tcp(l) => l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "?".into()),
            Bound::Unix(_, p) => format!("unix:{}", p.display()),
        }
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Bound::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// One accepted connection, plaintext or TLS, TCP or unix.
pub enum Conn {
    /// Plain TCP (insecure-dev only).
    Tcp(TcpStream),
    /// TLS over TCP.
    TcpTls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// Plain unix socket (insecure-dev only).
    Unix(UnixStream),
    /// TLS over a unix socket.
    UnixTls(Box<tokio_rustls::server::TlsStream<UnixStream>>),
}

/// What tonic learns about a connection (in each request's extensions).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The peer's address, for TCP.
    pub remote: Option<SocketAddr>,
    /// The client's certificate (its end-entity certificate), with mutual TLS.
    pub peer_cert: Option<std::sync::Arc<rustls_pki_types::CertificateDer<'static>>>,
    /// The per-client query lists this connection's certificate is valid
    /// for, worked out on the connection's first call.
    pub client_lists: std::sync::Arc<std::sync::OnceLock<Vec<usize>>>,
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;
    fn connect_info(&self) -> ConnInfo {
        let remote = match self {
            Conn::Tcp(s) => s.peer_addr().ok(),
            Conn::TcpTls(s) => s.get_ref().0.peer_addr().ok(),
            _ => None,
        };
        let certs = match self {
            Conn::TcpTls(s) => s.get_ref().1.peer_certificates(),
            Conn::UnixTls(s) => s.get_ref().1.peer_certificates(),
            _ => None,
        };
        ConnInfo {
            remote,
            peer_cert: certs
                .and_then(|c| c.first())
                .map(|c| std::sync::Arc::new(c.clone().into_owned())),
            client_lists: std::sync::Arc::default(),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Conn::Tcp($s) => {
                let $s = Pin::new($s);
                $e
            }
            Conn::TcpTls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
            Conn::Unix($s) => {
                let $s = Pin::new($s);
                $e
            }
            Conn::UnixTls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Tcp(s) => s.is_write_vectored(),
            Conn::TcpTls(s) => s.is_write_vectored(),
            Conn::Unix(s) => s.is_write_vectored(),
            Conn::UnixTls(s) => s.is_write_vectored(),
        }
    }
}

/// Counts failed handshakes and reports them at most once a second.
struct HandshakeFailures {
    count: AtomicU64,
    last_report: std::sync::Mutex<Instant>,
    events: EventSink,
}

impl HandshakeFailures {
    fn record(&self, why: String) {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_report.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= Duration::from_secs(1) {
            *last = Instant::now();
            (self.events)(
                Event::new(
                    Level::Warn,
                    "tls_handshake_failed",
                    format!("TLS handshake refused: {why}"),
                )
                .with("total", n),
            );
        }
    }
}

/// Accepts connections until `stop` turns true, handing each (after its
/// handshake, when `tls` is set) to `out`. Dropping the listener on return
/// refuses new connections.
pub async fn accept_loop(
    listener: Bound,
    tls: Option<Arc<ReloadableTls>>,
    out: mpsc::Sender<Conn>,
    mut stop: watch::Receiver<bool>,
    events: EventSink,
) {
    let failures = Arc::new(HandshakeFailures {
        count: AtomicU64::new(0),
        last_report: std::sync::Mutex::new(Instant::now() - Duration::from_secs(2)),
        events: events.clone(),
    });
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = accept(&listener) => a,
        };
        let raw = match accepted {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                failures.record(format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(tls) = tls.clone() else {
            if out.send(raw).await.is_err() {
                break;
            }
            continue;
        };
        let out = out.clone();
        let failures = failures.clone();
        tokio::spawn(async move {
            let acceptor = tls.acceptor();
            let done = tokio::time::timeout(HANDSHAKE_TIMEOUT, async move {
                match raw {
                    Conn::Tcp(s) => acceptor.accept(s).await.map(|t| Conn::TcpTls(Box::new(t))),
                    Conn::Unix(s) => acceptor.accept(s).await.map(|t| Conn::UnixTls(Box::new(t))),
                    other => Ok(other),
                }
            })
            .await;
            match done {
                Ok(Ok(conn)) => {
                    let _ = out.send(conn).await;
                }
                Ok(Err(e)) => failures.record(e.to_string()),
                Err(_) => failures.record("timed out".into()),
            }
        });
    }
}

async fn accept(l: &Bound) -> std::io::Result<Conn> {
    match l {
        Bound::Tcp(l) => {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok(Conn::Tcp(s))
        }
        Bound::Unix(l, _) => Ok(Conn::Unix(l.accept().await?.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            ListenAddr::parse("[::1]:50051").unwrap().to_string(),
            "[::1]:50051"
        );
        assert!(ListenAddr::parse("127.0.0.1:1").unwrap().is_local());
        assert!(!ListenAddr::parse("0.0.0.0:1").unwrap().is_local());
        assert!(!ListenAddr::parse("[::]:1").unwrap().is_local());
        assert!(ListenAddr::parse("unix:/tmp/x.sock").unwrap().is_local());
        assert!(ListenAddr::parse("localhost:9").unwrap().is_local());
        let e = ListenAddr::parse("nope").unwrap_err();
        assert!(e.to_string().contains("CORESDK_SIDECAR_ADDR"), "{e}");
    }
}
