//! Bounded concurrency: a call beyond `max_concurrent_calls` is refused at
//! once with RESOURCE_EXHAUSTED (reason `ERR_OVERLOADED`) instead of waiting
//! in an unbounded queue.
//!
//! The gate sits in front of the router, so a call holds its permit from the
//! moment the HTTP/2 stream is handed to the service until its response is
//! produced, including time spent queued for a worker thread. Health checks
//! bypass the gate: an overloaded sidecar is still alive.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::Code;

use crate::status::{status, ERR_OVERLOADED};

/// Counts and limits calls in flight.
#[derive(Debug)]
pub struct Gate {
    permits: Arc<Semaphore>,
    max: usize,
    refused: AtomicU64,
    admitted: AtomicU64,
}

impl Gate {
    /// A gate admitting at most `max` calls at once.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Gate {
            permits: Arc::new(Semaphore::new(max)),
            max,
            refused: AtomicU64::new(0),
            admitted: AtomicU64::new(0),
        })
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    /// Calls admitted since start.
    pub fn admitted(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Calls refused for overload since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The most calls admitted at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Admits one call (counted), or refuses it (counted) when `max` are in
    /// flight. The call is in flight until the permit is dropped.
    pub fn try_admit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match self.permits.clone().try_acquire_owned() {
            Ok(p) => {
                self.admitted.fetch_add(1, Ordering::Relaxed);
                Some(p)
            }
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// The tower layer installing a [`Gate`].
#[derive(Clone)]
pub struct AdmissionLayer(pub Arc<Gate>);

impl<S> tower_layer::Layer<S> for AdmissionLayer {
    type Service = Admission<S>;
    fn layer(&self, inner: S) -> Admission<S> {
        Admission {
            inner,
            gate: self.0.clone(),
        }
    }
}

/// The service wrapped by [`AdmissionLayer`].
#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    gate: Arc<Gate>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> tower_service::Service<http::Request<Body>> for Admission<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path().starts_with("/grpc.health.v1.Health/") {
            return Box::pin(self.inner.call(req));
        }
        match self.gate.try_admit() {
            Some(permit) => {
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let res = fut.await;
                    drop(permit);
                    res
                })
            }
            None => {
                let s = status(
                    Code::ResourceExhausted,
                    ERR_OVERLOADED,
                    format!(
                        "{} calls in flight (sidecar.max_concurrent_calls); retry with backoff",
                        self.gate.max
                    ),
                );
                Box::pin(std::future::ready(Ok(s.into_http())))
            }
        }
    }
}
