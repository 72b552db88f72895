//! Command-line arguments and their validation.

use std::path::PathBuf;
use std::time::Duration;

use clap::{error::ErrorKind, Parser, ValueEnum};

/// Which kind of server is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The `coresdk.v1.CoreSDK` gRPC service (the sidecar or a Node grpc-js server).
    Grpc,
    /// An HTTP/1.1 JSON endpoint (OPA's REST API).
    Http,
}

impl Target {
    /// The name used in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Grpc => "grpc",
            Target::Http => "http",
        }
    }
}

/// Which gRPC method is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Call {
    /// `CoreSDK/Authorize`: verify `--token`, then evaluate `--query`.
    Authorize,
    /// `CoreSDK/EvaluatePolicy`: evaluate `--query` over `--input-json`.
    Evaluate,
}

/// Open-loop load generator for the CoreSDK sidecar, OPA and grpc-js benchmarks.
///
/// Open loop (`--rate`): requests start at fixed intervals whatever the server
/// does, and latency is measured from each request's intended start time.
/// Saturation (`--saturate`): `--concurrency` closed-loop workers.
#[derive(Parser, Debug, Clone)]
#[command(name = "coresdk-loadgen", version, allow_negative_numbers = true)]
pub struct Args {
    /// Kind of server.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Server address, e.g. `https://[::1]:50051` or `http://127.0.0.1:8181`.
    #[arg(long)]
    pub addr: String,
    /// Open-loop request rate, in requests per second.
    #[arg(
        long,
        required_unless_present = "saturate",
        conflicts_with = "saturate"
    )]
    pub rate: Option<f64>,
    /// Closed-loop saturation instead of a fixed rate.
    #[arg(long)]
    pub saturate: bool,
    /// Length of the measured period, in seconds.
    #[arg(long)]
    pub duration_secs: f64,
    /// Length of the unrecorded warmup before it, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub warmup_secs: f64,
    /// HTTP/2 channels (grpc) or keep-alive connections (http).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Open-loop cap on outstanding requests; a send beyond it counts as error "dropped".
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// Closed-loop workers in saturation mode.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Per-request deadline, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,

    /// gRPC method.
    #[arg(long, value_enum, default_value_t = Call::Authorize)]
    pub call: Call,
    /// gRPC: tenant id (empty = the sidecar's default tenant).
    #[arg(long, default_value = "")]
    pub tenant: String,
    /// gRPC: Rego query.
    #[arg(long, default_value = "data.authz.allow")]
    pub query: String,
    /// gRPC: input document as JSON text.
    #[arg(long, default_value = "")]
    pub input_json: String,
    /// gRPC Authorize: the compact JWS (without "Bearer ").
    #[arg(long, default_value = "")]
    pub token: String,
    /// CA certificate (PEM); enables TLS (gRPC; HTTP with an https:// --addr). Without it gRPC is plaintext h2c.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS (gRPC and HTTPS).
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS (gRPC and HTTPS).
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Name to verify the server certificate against (default: the host of --addr).
    #[arg(long)]
    pub server_name: Option<String>,

    /// HTTP: request path (POST).
    #[arg(long, default_value = "/v1/data/authz/allow")]
    pub path: String,
    /// HTTP: request body (JSON text), sent with content-type application/json.
    #[arg(long, default_value = "{\"input\":{}}")]
    pub body: String,
    /// HTTP: `Authorization: Bearer <value>` on every request (an AuthZEN API key).
    #[arg(long)]
    pub bearer: Option<String>,

    /// Count a response whose decision is not "allowed" as error "not_allowed".
    #[arg(long)]
    pub check_allowed: bool,
    /// Print only one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// Parses `std::env::args`, printing a one-line message and exiting with
    /// status 2 on bad arguments (`--help` and `--version` exit 0).
    pub fn parse_or_exit() -> Args {
        let args = match Args::try_parse() {
            Ok(args) => args,
            Err(err) => match err.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err.exit(),
                _ => {
                    // clap's message spans several lines (and a usage
                    // block); keep the message itself, on one line.
                    let text = err.render().to_string();
                    let text = text.split("\nUsage:").next().unwrap_or(&text);
                    let text = text.strip_prefix("error: ").unwrap_or(text);
                    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    usage_exit(&format!("{line} (see --help)"))
                }
            },
        };
        if let Err(msg) = args.validate() {
            usage_exit(&msg);
        }
        args
    }

    /// Checks the values clap cannot check by itself.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!("--rate must be a positive number, got {rate}"));
            }
        }
        if !(self.duration_secs.is_finite() && self.duration_secs > 0.0) {
            return Err("--duration-secs must be a positive number".into());
        }
        if !(self.warmup_secs.is_finite() && self.warmup_secs >= 0.0) {
            return Err("--warmup-secs must be zero or a positive number".into());
        }
        if self.duration_secs + self.warmup_secs > 86_400.0 {
            return Err("--warmup-secs plus --duration-secs must not exceed one day".into());
        }
        for (name, v) in [
            ("--connections", self.connections),
            ("--max-in-flight", self.max_in_flight),
            ("--concurrency", self.concurrency),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            return Err("--timeout-ms must be between 1 and 60000".into());
        }
        let scheme = self.addr.split_once("://").map(|(s, _)| s);
        match (self.target, scheme) {
            (Target::Grpc, Some("http")) if self.ca.is_some() => {
                Err("--ca was given but --addr is http://; use https:// for TLS".into())
            }
            (Target::Grpc, Some("https")) if self.ca.is_none() => {
                Err("--addr is https:// but no --ca was given".into())
            }
            (Target::Grpc, Some("http" | "https")) => Ok(()),
            (Target::Http, Some("https")) if self.ca.is_none() => {
                Err("--addr is https:// but no --ca was given".into())
            }
            (Target::Http, Some("http")) if self.ca.is_some() => {
                Err("--ca was given but --addr is http://; use https:// for TLS".into())
            }
            (Target::Http, Some("http" | "https")) => {
                if self.path.starts_with('/') {
                    Ok(())
                } else {
                    Err(format!("--path must start with '/', got {:?}", self.path))
                }
            }
            _ => Err(format!(
                "--addr must look like http://host:port or https://host:port, got {:?}",
                self.addr
            )),
        }
    }

    /// The per-request deadline.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Prints `coresdk-loadgen: <msg>` to stderr and exits with status 2.
pub fn usage_exit(msg: &str) -> ! {
    eprintln!("coresdk-loadgen: {msg}");
    std::process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Args, String> {
        let base = ["coresdk-loadgen", "--duration-secs", "1"];
        let args = Args::try_parse_from(base.iter().chain(extra)).map_err(|e| e.to_string())?;
        args.validate().map(|()| args)
    }

    #[test]
    fn accepts_the_documented_forms() {
        let a = parse(&[
            "--target",
            "grpc",
            "--addr",
            "http://127.0.0.1:50051",
            "--rate",
            "1000",
        ])
        .unwrap();
        assert_eq!(
            (a.connections, a.max_in_flight, a.timeout_ms),
            (4, 10_000, 2000)
        );
        assert_eq!(a.warmup_secs, 1.0);
        let a = parse(&[
            "--target",
            "grpc",
            "--addr",
            "https://[::1]:50051",
            "--saturate",
            "--ca",
            "ca.pem",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--server-name",
            "sidecar",
            "--call",
            "evaluate",
        ])
        .unwrap();
        assert!(a.saturate && a.rate.is_none() && a.call == Call::Evaluate);
        let a = parse(&[
            "--target",
            "http",
            "--addr",
            "http://127.0.0.1:8181",
            "--rate",
            "5",
        ])
        .unwrap();
        assert_eq!(a.path, "/v1/data/authz/allow");
    }

    #[test]
    fn rejects_bad_combinations() {
        let grpc = ["--target", "grpc", "--addr", "http://127.0.0.1:1"];
        assert!(parse(&grpc).is_err(), "needs --rate or --saturate");
        assert!(parse(&[&grpc[..], &["--rate", "5", "--saturate"]].concat()).is_err());
        assert!(parse(&[&grpc[..], &["--rate", "0"]].concat()).is_err());
        assert!(parse(&[&grpc[..], &["--rate", "-3"]].concat()).is_err());
        assert!(parse(&[&grpc[..], &["--rate", "5", "--connections", "0"]].concat()).is_err());
        assert!(parse(&[&grpc[..], &["--rate", "5", "--ca", "ca.pem"]].concat()).is_err());
        assert!(parse(&[&grpc[..], &["--rate", "5", "--cert", "c.pem"]].concat()).is_err());
        let https = [
            "--target",
            "grpc",
            "--addr",
            "https://[::1]:1",
            "--rate",
            "5",
        ];
        assert!(parse(&https).is_err(), "https needs --ca");
        let http = [
            "--target",
            "http",
            "--addr",
            "https://127.0.0.1:1",
            "--rate",
            "5",
        ];
        assert!(
            parse(&http).is_err(),
            "https needs --ca for the http target too"
        );
        assert!(parse(&[&http[..], &["--ca", "ca.pem"]].concat()).is_ok());
        let noscheme = [
            "--target",
            "http",
            "--addr",
            "127.0.0.1:8181",
            "--rate",
            "5",
        ];
        assert!(parse(&noscheme).is_err());
    }
}
