//! `grpc.health.v1.Health`, with `Watch` streams that end on drain.
//!
//! tonic-health's reporter keeps `Watch` streams open forever, which would
//! hold every watching connection open through a graceful shutdown until the
//! drain deadline. Here a drain first publishes NOT_SERVING (watchers see
//! it), then ends every `Watch` stream, so connections can close as soon as
//! their calls are answered.

use std::pin::Pin;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::server::SERVICE_NAME;

/// Publishes the serving status.
#[derive(Clone)]
pub struct HealthReporter {
    tx: watch::Sender<ServingStatus>,
}

impl HealthReporter {
    /// Sets the status of the server and of `coresdk.v1.CoreSDK`.
    pub fn set(&self, s: ServingStatus) {
        self.tx.send_if_modified(|cur| {
            let changed = *cur != s;
            *cur = s;
            changed
        });
    }
}

/// The service.
#[derive(Clone)]
pub struct HealthService {
    status: watch::Receiver<ServingStatus>,
    stop: watch::Receiver<bool>,
}

/// A reporter (starting NOT_SERVING) and the service, whose `Watch` streams
/// end once `stop` turns true.
pub fn health(stop: watch::Receiver<bool>) -> (HealthReporter, HealthServer<HealthService>) {
    let (tx, rx) = watch::channel(ServingStatus::NotServing);
    (
        HealthReporter { tx },
        HealthServer::new(HealthService { status: rx, stop }),
    )
}

fn known(service: &str) -> bool {
    service.is_empty() || service == SERVICE_NAME
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        if !known(&request.get_ref().service) {
            return Err(Status::not_found("unknown service"));
        }
        Ok(Response::new(HealthCheckResponse {
            status: *self.status.borrow() as i32,
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let (tx, rx) = mpsc::channel(4);
        let mut status = self.status.clone();
        let mut stop = self.stop.clone();
        let service_known = known(&request.get_ref().service);
        tokio::spawn(async move {
            let mut current = if service_known {
                *status.borrow_and_update()
            } else {
                ServingStatus::ServiceUnknown
            };
            loop {
                let msg = HealthCheckResponse {
                    status: current as i32,
                };
                if tx.send(Ok(msg)).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                        if service_known && current != ServingStatus::NotServing {
                            let _ = tx.send(Ok(HealthCheckResponse { status: ServingStatus::NotServing as i32 })).await;
                        }
                        return;
                    }
                    changed = status.changed(), if service_known => {
                        if changed.is_err() {
                            return;
                        }
                        current = *status.borrow_and_update();
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
