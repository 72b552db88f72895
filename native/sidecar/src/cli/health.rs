//! `coresdk-sidecar health`: asks a running sidecar's plaintext health
//! listener (`health_addr`) whether it is SERVING, over
//! `grpc.health.v1.Health/Check`: the container image's `HEALTHCHECK`, for
//! images without a shell or another gRPC client. Exit 0 when SERVING, 1
//! otherwise (not serving, unreachable, no answer in time), with one line
//! saying which.

use std::process::ExitCode;
use std::time::Duration;

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::args::HealthArgs;

/// Runs `health`.
pub fn health(a: HealthArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coresdk-sidecar health: [ERR_RUNTIME] {e}");
            return ExitCode::from(1);
        }
    };
    let timeout = Duration::from_millis(a.timeout_ms);
    let addr = a.addr.clone();
    let outcome = rt.block_on(async move {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("{addr}: {e}"))?
            .connect_timeout(timeout)
            .timeout(timeout);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("cannot reach {addr}: {e}"))?;
        let r = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: a.service.clone(),
            })
            .await
            .map_err(|s| format!("{addr}: {} {}", s.code(), s.message()))?;
        Ok::<_, String>(r.into_inner().status())
    });
    match outcome {
        Ok(ServingStatus::Serving) => {
            println!("SERVING");
            ExitCode::SUCCESS
        }
        Ok(other) => {
            println!("{}", other.as_str_name());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("coresdk-sidecar health: {e}");
            ExitCode::from(1)
        }
    }
}
