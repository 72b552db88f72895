//! gRPC target: `coresdk.v1.CoreSDK/Authorize` or `/EvaluatePolicy` over
//! several tonic channels (one HTTP/2 connection each), plaintext h2c or
//! (mutual) TLS.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

use crate::args::{Args, Call};
use crate::report::Outcome;
use crate::schedule::Caller;

/// Generated protobuf messages and the client of `coresdk.v1`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("coresdk.v1");
}

use pb::core_sdk_client::CoreSdkClient;

/// The request sent on every call.
#[derive(Clone, Debug)]
enum Message {
    Authorize(pb::AuthorizeRequest),
    Evaluate(pb::EvaluatePolicyRequest),
}

/// Sends one fixed request per call, round-robin over its channels.
pub struct GrpcCaller {
    clients: Vec<CoreSdkClient<Channel>>,
    message: Message,
    timeout: Duration,
    check_allowed: bool,
    /// The message of the CANCELLED status tonic makes when the deadline
    /// it enforces locally (from `grpc-timeout`) expires.
    local_timeout_message: Arc<str>,
}

impl GrpcCaller {
    /// Opens `--connections` channels to `--addr` (each its own HTTP/2
    /// connection) and builds the request from the arguments. An error is a
    /// one-line message naming what failed.
    pub async fn connect(args: &Args) -> Result<GrpcCaller, String> {
        let timeout = args.timeout();
        let mut endpoint = Endpoint::from_shared(args.addr.clone())
            .map_err(|e| format!("bad --addr {:?}: {e}", args.addr))?
            .tcp_nodelay(true)
            .connect_timeout(timeout)
            // The per-request deadline and --max-in-flight bound the load;
            // tonic's own request buffer must not add a lower cap.
            .buffer_size(args.max_in_flight.max(1024));
        if let Some(ca) = &args.ca {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            };
            let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
            if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
                tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            if let Some(name) = &args.server_name {
                tls = tls.domain_name(name.clone());
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| format!("bad TLS configuration: {}", error_chain(&e)))?;
        }

        let mut clients = Vec::with_capacity(args.connections);
        for _ in 0..args.connections {
            // Each `connect` makes a separate HTTP/2 connection.
            let channel = endpoint
                .connect()
                .await
                .map_err(|e| format!("cannot connect to {}: {}", args.addr, error_chain(&e)))?;
            clients.push(CoreSdkClient::new(channel));
        }

        let message = match args.call {
            Call::Authorize => Message::Authorize(pb::AuthorizeRequest {
                tenant_id: args.tenant.clone(),
                token: args.token.clone(),
                query: args.query.clone(),
                input_json: args.input_json.clone(),
            }),
            Call::Evaluate => Message::Evaluate(pb::EvaluatePolicyRequest {
                tenant_id: args.tenant.clone(),
                query: args.query.clone(),
                input_json: args.input_json.clone(),
            }),
        };
        Ok(GrpcCaller {
            clients,
            message,
            timeout,
            check_allowed: args.check_allowed,
            local_timeout_message: tonic::TimeoutExpired(()).to_string().into(),
        })
    }
}

impl Caller for GrpcCaller {
    fn call(&self, conn: usize) -> impl Future<Output = Outcome> + Send + 'static {
        let mut client = self.clients[conn % self.clients.len()].clone();
        let message = self.message.clone();
        let timeout = self.timeout;
        let check_allowed = self.check_allowed;
        let local_timeout_message = self.local_timeout_message.clone();
        async move {
            let allowed = match message {
                Message::Authorize(m) => {
                    let mut req = tonic::Request::new(m);
                    req.set_timeout(timeout);
                    client.authorize(req).await.map(|r| r.get_ref().allowed)
                }
                Message::Evaluate(m) => {
                    let mut req = tonic::Request::new(m);
                    req.set_timeout(timeout);
                    client
                        .evaluate_policy(req)
                        .await
                        .map(|r| r.get_ref().allowed)
                }
            };
            match allowed {
                Ok(false) if check_allowed => Err("not_allowed".into()),
                Ok(_) => Ok(()),
                // An expired deadline is `timeout` whichever side noticed it
                // first: the server (DEADLINE_EXCEEDED), tonic's own timer
                // (CANCELLED "Timeout expired") or ours (see schedule.rs).
                Err(status)
                    if status.code() == Code::DeadlineExceeded
                        || (status.code() == Code::Cancelled
                            && status.message() == &*local_timeout_message) =>
                {
                    Err("timeout".into())
                }
                Err(status) => Err(code_name(status.code()).into()),
            }
        }
    }
}

/// The canonical gRPC name of a status code (`UNAVAILABLE`, ...).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error and its sources on one line, `outer: inner: root`.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let msg = e.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        source = e.source();
    }
    s.replace('\n', " ")
}
