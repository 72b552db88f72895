//! `coresdk-sidecar test` and `coresdk-sidecar check`: policy unit tests as
//! `opa test` runs them, and a bundle check that compiles a directory
//! exactly as the data plane would load it (`coresdk_engine::tester`).
//!
//! Exit codes: 0 everything passed; 1 a test failed or errored, coverage is
//! below `--threshold`, no test ran with `--fail-on-empty`, or (check) a
//! problem was found; 2 a usage error, or policies that do not load (test).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use coresdk_engine::tester::{self, TestOptions};

use super::args::{CheckArgs, Format, TestArgs};

fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Runs `test`.
pub fn test(a: TestArgs) -> ExitCode {
    let defaults = TestOptions::default();
    let coverage = a.coverage || a.threshold.is_some();
    let opts = TestOptions {
        run: a.run.clone(),
        coverage,
        bundle: a.bundle,
        rego_v0: a.v0_compatible,
        timeout: a.timeout.map_or(defaults.timeout, Duration::from_millis),
        strict_builtin_errors: a.strict_builtin_errors,
    };
    let report = match tester::run_tests(&a.paths, &opts) {
        Ok(r) => r,
        Err(e) => {
            err(&format!("coresdk-sidecar test: [{}] {e}\n", e.code()));
            return ExitCode::from(2);
        }
    };
    match (a.format, &report.coverage) {
        (Format::Json, Some(c)) => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(c).unwrap_or_default()
        )),
        (Format::Json, None) => out(&format!("{}\n", report.results_json())),
        (Format::Pretty, c) => {
            out(&report.to_text(a.verbose));
            if let Some(c) = c {
                for (file, f) in &c.files {
                    out(&format!("{file}: {:.2}% covered\n", f.coverage));
                }
                out(&format!(
                    "COVERAGE: {:.2}% of {} lines\n",
                    c.coverage,
                    c.covered_lines + c.not_covered_lines
                ));
            }
        }
    }
    let mut code = if report.ok() { 0 } else { 1 };
    if let (Some(threshold), Some(c)) = (a.threshold, &report.coverage) {
        if c.coverage < threshold {
            err(&format!(
                "coresdk-sidecar test: coverage {:.2}% is below the threshold {threshold}%\n",
                c.coverage
            ));
            code = 1;
        }
    }
    if a.fail_on_empty && report.total() == 0 {
        err("coresdk-sidecar test: no tests found\n");
        code = 1;
    }
    ExitCode::from(code)
}

/// Runs `check`.
pub fn check(a: CheckArgs) -> ExitCode {
    if let Some(file) = a.config {
        // The whole file, as `coresdk-sidecar --check --config FILE`.
        return super::serve::run(super::args::ServeArgs {
            config: Some(file),
            check: true,
            ..Default::default()
        });
    }
    let bundle = !a.ignore_manifest;
    if bundle && a.paths.len() > 1 {
        err("coresdk-sidecar: [ERR_CONFIG] check: one bundle directory at a time (or --ignore-manifest) (see --help)\n");
        return ExitCode::from(2);
    }
    let report = if a.fast_path {
        tester::check_fast_path(&a.paths, bundle, a.v0_compatible)
    } else {
        tester::check(&a.paths, bundle, a.v0_compatible)
    };
    match a.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("ok".into(), report.ok().into());
            }
            out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            ))
        }
        Format::Pretty if report.ok() => out(&report.to_text()),
        Format::Pretty => err(&report.to_text()),
    }
    ExitCode::from(if report.ok() { 0 } else { 1 })
}
