//! Serving: configuration (flags, then `CORESDK_*`, then `coresdk.toml`),
//! `--dev`, `--check`, start, signals, reload, drain and exit codes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::args::{LogLevel, ServeArgs};
use super::dev;
use super::log::Log;
use crate::error::SidecarError;
use crate::{Sidecar, SidecarOptions};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A failed start: one line on stderr naming the key, exit 2.
fn fail(code: &str, message: &str) -> ExitCode {
    eprintln!("coresdk-sidecar: [{code}] {message}");
    ExitCode::from(2)
}

fn fail_with(e: &SidecarError) -> ExitCode {
    fail(e.code(), &e.to_string())
}

/// Runs the sidecar until a signal stops it.
pub fn run(args: ServeArgs) -> ExitCode {
    let level = match args.log_level {
        Some(l) => l,
        None => match std::env::var("CORESDK_LOG_LEVEL") {
            Ok(t) if !t.trim().is_empty() => match LogLevel::parse(&t) {
                Some(l) => l,
                None => {
                    return fail(
                        "ERR_CONFIG",
                        &format!("CORESDK_LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent, got {t:?}"),
                    )
                }
            },
            _ => LogLevel::Info,
        },
    };
    let log = Log::new(level);

    // Precedence: flags, then the environment, then the file.
    let mut vars: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CORESDK_"))
        .collect();
    let mut dev_setup = None;
    if args.dev {
        match dev::setup(args.dev_dir.as_deref()) {
            Ok(d) => {
                vars.extend(d.vars.clone());
                for (k, v) in dev::DEV_DEFAULTS {
                    vars.entry((*k).to_string())
                        .or_insert_with(|| (*v).to_string());
                }
                dev_setup = Some(d);
            }
            Err(e) => return fail_with(&e),
        }
    }
    for (k, v) in args.vars() {
        vars.insert(k.to_string(), v);
    }
    if args.dev && !vars.contains_key("CORESDK_SIDECAR_AUTHZEN_ADDR") {
        let addr = dev::authzen_addr(vars.get("CORESDK_SIDECAR_ADDR").map(String::as_str));
        vars.insert("CORESDK_SIDECAR_AUTHZEN_ADDR".into(), addr);
    }
    let file: Option<PathBuf> = args
        .config
        .clone()
        .or_else(|| vars.get("CORESDK_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let p = PathBuf::from("coresdk.toml");
            (!args.dev && p.is_file()).then_some(p)
        });
    let config = match coresdk_engine::ConfigFile::load(file.as_deref(), &vars) {
        Ok(c) => c,
        Err(e) => return fail(e.code(), &e.to_string()),
    };

    let telemetry = match crate::otlp::OtlpSettings::from_env(|k| std::env::var(k).ok()) {
        Ok(t) => t,
        Err(e) => return fail_with(&e),
    };
    if args.check {
        return match crate::check::check(&config) {
            Ok(report) => {
                println!("configuration OK: {}", report.to_json());
                ExitCode::SUCCESS
            }
            Err(e) => fail_with(&e),
        };
    }

    // Signal handlers go in before anything binds: a SIGHUP or SIGTERM sent
    // as soon as the listener answers must be handled, not kill the process.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail("ERR_RUNTIME", &e.to_string()),
    };
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        let _in_runtime = rt.enter();
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(term), Ok(int), Ok(hup)) => Signals { term, int, hup },
            _ => return fail("ERR_RUNTIME", "cannot install signal handlers"),
        }
    };

    let sink = Arc::new(move |e: crate::Event| log.event(&e));
    let sidecar = match Sidecar::start(SidecarOptions {
        config,
        events: sink,
        telemetry,
    }) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail_with(&e),
    };
    let config_text = file.as_ref().map(|p| Value::from(p.display().to_string()));
    log.info(
        "started",
        &[
            ("addr", sidecar.local_addr().into()),
            ("version", VERSION.into()),
            ("config", config_text.unwrap_or(Value::Null)),
        ],
        &format!(
            "coresdk-sidecar {VERSION} serving on {}",
            sidecar.local_addr()
        ),
    );
    if let Some(d) = &dev_setup {
        let mut text = format!(
            "\ngRPC (plaintext, development only): {}\n",
            sidecar.local_addr()
        );
        if let Some(a) = sidecar.authzen_addr() {
            text.push_str(&format!(
                "AuthZEN PDP (plaintext, development only): http://{a}/.well-known/authzen-configuration\n"
            ));
        }
        if let Some(h) = sidecar.health_addr() {
            text.push_str(&format!("Health (plaintext): {h}\n"));
        }
        let tenant = vars
            .get("CORESDK_TENANT_ID")
            .map_or("acme-corp", String::as_str);
        text.push_str(&format!(
            "Development key set: {}\n\nDevelopment token (12 h, tenant {tenant}):\n{}\n\n",
            d.dir.display(),
            d.token
        ));
        print!("{text}");
        // After the token: whoever waits for this line can read the token.
        log.warn(
            "dev_mode",
            &[("dir", d.dir.display().to_string().into())],
            "development defaults: example bundle, development key set, insecure-dev on loopback, any query",
        );
    }
    let code = rt.block_on(wait_and_drain(&sidecar, signals, log));
    ExitCode::from(code)
}

/// The signals the program acts on.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

/// Serves until SIGTERM or SIGINT, reloading on SIGHUP, then drains; a
/// second stop signal a second or more after the first exits at once.
async fn wait_and_drain(sidecar: &Arc<Sidecar>, signals: Signals, log: Log) -> u8 {
    let Signals {
        mut term,
        mut int,
        mut hup,
    } = signals;
    {
        let first = loop {
            tokio::select! {
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                _ = hup.recv() => {
                    log.info("signal", &[("signal", "SIGHUP".into())], "SIGHUP: reloading policies and certificates");
                    let s = sidecar.clone();
                    let result = tokio::task::spawn_blocking(move || s.reload()).await.unwrap_or(Value::Null);
                    log.info("reload", &[("result", result)], "reload done");
                }
            }
        };
        let since = Instant::now();
        log.info(
            "signal",
            &[("signal", first.into())],
            &format!(
                "{first}: draining (deadline {} ms)",
                sidecar.drain_timeout().as_millis()
            ),
        );
        let s = sidecar.clone();
        let mut drain = tokio::task::spawn_blocking(move || s.drain(None));
        let report = loop {
            tokio::select! {
                r = &mut drain => break r.ok(),
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => continue,
            }
            // A duplicate delivery (a supervisor signalling the process and
            // its group at once) is not a request to hurry.
            if since.elapsed() >= Duration::from_secs(1) {
                log.warn(
                    "forced_exit",
                    &[],
                    "a second stop signal: exiting without waiting",
                );
                return 1;
            }
        };
        match report {
            Some(r) => {
                log.write(
                    if r.complete {
                        LogLevel::Info
                    } else {
                        LogLevel::Warn
                    },
                    "exit",
                    &[
                        ("complete", r.complete.into()),
                        ("abandoned", r.abandoned.into()),
                        ("elapsedMs", json!(r.elapsed.as_millis() as u64)),
                    ],
                    if r.complete {
                        "stopped cleanly"
                    } else {
                        "stopped with calls abandoned"
                    },
                );
                u8::from(!r.complete)
            }
            None => {
                log.write(LogLevel::Error, "drain_failed", &[], "drain failed");
                1
            }
        }
    }
}
