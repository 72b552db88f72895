//! `coresdk-sidecar` as a plain binary, for images without Node.
//!
//! Reads `coresdk.toml` (`--config`, `CORESDK_CONFIG` or `./coresdk.toml`)
//! and `CORESDK_*` variables, serves until SIGTERM or SIGINT, then drains and
//! exits 0. SIGHUP reloads policies and certificates. Events are JSON lines
//! on stderr. The npm package's `coresdk-sidecar` CLI is the richer front end
//! (flags, development defaults, pino logs, telemetry export); both run the
//! same data plane.

use std::process::ExitCode;
use std::sync::Arc;

use coresdk_sidecar::{Sidecar, SidecarOptions};

const HELP: &str = "coresdk-sidecar (Rust binary): the CoreSDK data plane over gRPC + mutual TLS

usage: coresdk-sidecar [--config <coresdk.toml>] [--check]

  --config <file>  configuration file (default: CORESDK_CONFIG, else ./coresdk.toml)
  --check          validate the configuration and build every tenant, then exit
  -h, --help       this text
  -V, --version    the version

Every [sdk] key is overridable by CORESDK_<KEY>, every [sidecar] key by
CORESDK_SIDECAR_<KEY>. Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_path = None;
    let mut check = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("coresdk-sidecar {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "--check" => check = true,
            "--config" => match args.next() {
                Some(p) => config_path = Some(std::path::PathBuf::from(p)),
                None => return fail("ERR_CONFIG", "--config needs a file"),
            },
            other => {
                return fail(
                    "ERR_CONFIG",
                    &format!("unknown argument {other:?} (see --help)"),
                )
            }
        }
    }
    let vars = std::env::vars()
        .filter(|(k, _)| k.starts_with("CORESDK_"))
        .collect();
    let file = config_path.or_else(|| {
        std::env::var_os("CORESDK_CONFIG")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                let p = std::path::PathBuf::from("coresdk.toml");
                p.is_file().then_some(p)
            })
    });
    let config = match coresdk_engine::ConfigFile::load(file.as_deref(), &vars) {
        Ok(c) => c,
        Err(e) => return fail(e.code(), &e.to_string()),
    };
    if check {
        return match coresdk_sidecar::check::check(&config) {
            Ok(report) => {
                println!("configuration OK: {}", report.to_json());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e.code(), &e.to_string()),
        };
    }
    let sidecar = match Sidecar::start(SidecarOptions {
        config,
        events: Arc::new(|e| eprintln!("{}", e.to_json())),
        // The plain binary has no OTLP exporter: per-call telemetry is
        // exported by the `coresdk-sidecar` CLI (Node), which drains it.
        telemetry: None,
    }) {
        Ok(s) => s,
        Err(e) => return fail(e.code(), &e.to_string()),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail("ERR_RUNTIME", &e.to_string()),
    };
    let outcome = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        loop {
            tokio::select! {
                _ = term.recv() => return Ok::<_, std::io::Error>("SIGTERM"),
                _ = int.recv() => return Ok("SIGINT"),
                _ = hup.recv() => {
                    let r = sidecar.reload();
                    eprintln!("{}", serde_json::json!({"level": "info", "event": "reload", "msg": "reload requested (SIGHUP)", "result": r}));
                }
            }
        }
    });
    if let Ok(sig) = outcome {
        eprintln!(
            "{}",
            serde_json::json!({"level": "info", "event": "signal", "msg": format!("{sig}: shutting down")})
        );
    }
    let report = sidecar.drain(None);
    if report.complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn fail(code: &str, message: &str) -> ExitCode {
    eprintln!(
        "{}",
        serde_json::json!({"level": "error", "event": "start_failed", "code": code, "msg": message})
    );
    ExitCode::from(2)
}
