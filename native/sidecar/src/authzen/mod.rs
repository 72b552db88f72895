//! The OpenID AuthZEN Authorization API 1.0 over HTTPS, on the data plane's
//! runtime.
//!
//! Off unless `[sidecar.authzen] addr` is set. Connections are accepted by
//! the same accept loop as gRPC ([`crate::listen::accept_loop`]: TLS
//! handshakes off the accept path, with a time limit) and served by hyper
//! (HTTP/1.1 and HTTP/2). Each request is answered by [`http::App`]: the
//! endpoints of the specification (`evaluation`, `evaluations`, the search
//! endpoints that are configured, the well-known metadata), deciding with
//! the tenant's engine like the gRPC handlers. A drain stops accepting and
//! lets requests in flight finish.
//!
//! Modules: [`config`] (settings), [`auth`] (API keys, certificates),
//! [`request`] (the information model), [`evaluate`] (decisions and batch
//! semantics), [`search`], [`wellknown`], [`problem`] (RFC 9457 errors),
//! [`http`] (the request path).

pub mod auth;
pub mod config;
pub mod evaluate;
pub mod http;
pub mod problem;
pub mod request;
pub mod search;
pub mod wellknown;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{mpsc, watch};

use self::auth::Peer;
use self::http::App;
use crate::events::{Event, EventSink, Level};
use crate::listen::{accept_loop, Bound, Conn};
use crate::tls::ReloadableTls;

/// How long a client has to send a request's headers (HTTP/1.1).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn peer_of(conn: &Conn) -> Peer {
    let certs = match conn {
        Conn::TcpTls(s) => s.get_ref().1.peer_certificates(),
        Conn::UnixTls(s) => s.get_ref().1.peer_certificates(),
        _ => None,
    };
    Peer {
        cert: certs
            .and_then(|c| c.first())
            .map(|c| c.clone().into_owned()),
    }
}

/// Serves `listener` until `stop` turns true, then waits for the
/// connections' requests in flight to finish (the caller bounds the wait).
pub async fn serve(
    listener: Bound,
    tls: Option<Arc<ReloadableTls>>,
    app: Arc<App>,
    stop: watch::Receiver<bool>,
    events: EventSink,
) {
    let (tx, mut rx) = mpsc::channel::<Conn>(1024);
    tokio::spawn(accept_loop(listener, tls, tx, stop.clone(), events.clone()));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let mut stopping = stop.clone();
    loop {
        let conn = tokio::select! {
            _ = stopping.wait_for(|s| *s) => break,
            c = rx.recv() => match c {
                Some(c) => c,
                None => break,
            },
        };
        let peer = Arc::new(peer_of(&conn));
        let app = app.clone();
        let svc = hyper::service::service_fn(move |req| {
            let (app, peer) = (app.clone(), peer.clone());
            async move { Ok::<_, Infallible>(app.handle(peer, req).await) }
        });
        let served = builder
            .serve_connection(TokioIo::new(conn), svc)
            .into_owned();
        let watched = graceful.watch(served);
        let ev = events.clone();
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                // A client closing mid-request is routine: debug level only.
                ev(Event::new(
                    Level::Debug,
                    "authzen_connection_error",
                    format!("AuthZEN connection ended: {e}"),
                ));
            }
        });
    }
    graceful.shutdown().await;
}
