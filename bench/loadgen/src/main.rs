//! `coresdk-loadgen`: an open-loop load generator for `npm run bench:sidecar`,
//! which measures the CoreSDK gRPC sidecar, an OPA HTTP server and a Node
//! grpc-js server side by side.
//!
//! # Open-loop method
//!
//! A closed-loop benchmark (N workers, each sending its next request when the
//! previous one returns) slows down with the server it measures: while the
//! server stalls, no requests are sent, so the stall is recorded once instead
//! of for every request that a real client population would have sent
//! meanwhile ("coordinated omission"). Its percentiles then flatter the
//! server.
//!
//! With `--rate R`, request `i` is due at `start + i / R`, whatever happened
//! to the earlier ones. A dedicated thread keeps the schedule and spawns each
//! request as its own tokio task; if it falls behind it sends the backlog at
//! once, never skipping. Latency is measured from the *due* time, not the
//! actual send, so every delay a request sees, in the generator, the network
//! or the server's queue, counts against it. Latencies of successful
//! requests go into an HdrHistogram (1 µs to 60 s, 3 significant digits).
//! The generator's own send lag is reported separately (`send_lag_*`) so a
//! run where the generator was the bottleneck can be recognised.
//!
//! Outstanding requests are capped by `--max-in-flight` (a send over the cap
//! counts as error `dropped`), each has a deadline (`--timeout-ms`), and
//! after the measured period the outstanding ones get at most that long
//! before they count as `timeout`: a run always ends by itself. A warmup
//! (`--warmup-secs`, default 1 s) at the same rate precedes the measured
//! period and is not recorded.
//!
//! `--saturate` instead runs `--concurrency` closed-loop workers to find the
//! maximum throughput (`achieved_rps`); its latencies are those of a closed
//! loop.
//!
//! Error kinds (`error_kinds` in the report): a gRPC status code name
//! (`UNAUTHENTICATED`, `UNAVAILABLE`...), `http_<status>` for a non-2xx HTTP
//! answer, and the generator's own: `timeout` (the deadline expired, whether
//! the client or a gRPC server noticed it: DEADLINE_EXCEEDED counts here),
//! `dropped`, `not_allowed` (`--check-allowed`), and for HTTP `connect`,
//! `connection_closed`, `bad_response`, `io`.
//!
//! Connections: gRPC requests go round-robin over `--connections` HTTP/2
//! channels. An HTTP/1.1 keep-alive connection carries one request at a
//! time, so HTTP requests take the next idle connection of the pool of
//! `--connections` (queueing, clock running, while all are busy): give the
//! HTTP target at least rate × latency connections.
//!
//! Output: a summary, then one JSON object (with `--json`, the JSON object
//! only) on stdout. Exit status 0 when the run completed, even with errors;
//! 2 for bad arguments or when the target cannot be reached at start.

mod args;
mod grpc;
mod http;
mod report;
mod schedule;

use std::sync::Arc;
use std::time::Duration;

use args::{Args, Target};
use report::Report;
use schedule::{Caller, Plan};

fn main() {
    let args = Args::parse_or_exit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("loadgen")
        .build()
        .unwrap_or_else(|e| args::usage_exit(&format!("cannot start the runtime: {e}")));
    let code = runtime.block_on(run(&args));
    // Abandon whatever is still running (connections, late requests).
    runtime.shutdown_background();
    std::process::exit(code);
}

/// Connects, runs the load and prints the report; returns the exit status.
async fn run(args: &Args) -> i32 {
    match args.target {
        Target::Grpc => match grpc::GrpcCaller::connect(args).await {
            Ok(caller) => drive(caller, args).await,
            Err(msg) => fail_start(&msg),
        },
        Target::Http => match http::HttpCaller::connect(args).await {
            Ok(caller) => drive(caller, args).await,
            Err(msg) => fail_start(&msg),
        },
    }
}

fn fail_start(msg: &str) -> i32 {
    eprintln!("coresdk-loadgen: {msg}");
    2
}

async fn drive<C: Caller>(caller: C, args: &Args) -> i32 {
    let caller = Arc::new(caller);
    let plan = Plan {
        warmup: Duration::from_secs_f64(args.warmup_secs),
        duration: Duration::from_secs_f64(args.duration_secs),
        timeout: args.timeout(),
        connections: args.connections,
    };
    let result = match args.rate {
        Some(rate) => schedule::open_loop(caller, plan, rate, args.max_in_flight).await,
        None => schedule::saturate(caller, plan, args.concurrency).await,
    };
    let report = Report::new(
        args.target.as_str(),
        args.rate,
        args.duration_secs,
        &result.totals,
        result.measure_start,
        result.measure_end,
        result.send_lag.as_ref(),
    );
    if !args.json {
        println!("{}", report.to_text());
    }
    println!("{}", report.to_json());
    0
}
