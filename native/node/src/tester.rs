//! Policy tests and bundle checks for the `test` and `check` commands of
//! the `coresdk-sidecar` and `coresdk` CLIs. Both run synchronously: they
//! are command-line tools, not request-path calls.

use std::path::PathBuf;
use std::time::Duration;

use coresdk_engine::tester::{self, TestOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Options of a policy test run (all optional).
#[napi(object)]
pub struct NativeTestOptions {
    /// Only tests whose full name (`data.pkg.test_x`) matches this regex.
    pub run: Option<String>,
    /// Gather line coverage.
    pub coverage: Option<bool>,
    /// Read one directory as a bundle (its `.manifest` applies).
    pub bundle: Option<bool>,
    /// Parse as Rego v0.
    pub rego_v0: Option<bool>,
    /// Time limit per test, in milliseconds (default 5000).
    pub timeout_ms: Option<u32>,
    /// Builtin errors are errors (the engine's run-time behaviour) instead
    /// of undefined (`opa test`'s).
    pub strict_builtin_errors: Option<bool>,
    /// Text output lists every test, not only those that did not pass.
    pub verbose: Option<bool>,
}

/// What a policy test run found.
#[napi(object)]
pub struct NativeTestRun {
    /// No test failed or errored.
    pub ok: bool,
    /// The report as `opa test` prints it.
    pub text: String,
    /// The results as `opa test --format json` prints them.
    pub results_json: String,
    /// Line coverage as `opa test --coverage` prints it, when asked for.
    pub coverage_json: Option<String>,
    /// Overall coverage percentage, when asked for.
    pub coverage: Option<f64>,
    /// Counts.
    pub passed: u32,
    /// Tests that failed.
    pub failed: u32,
    /// Tests that could not be evaluated.
    pub errored: u32,
    /// `todo_test_` rules.
    pub skipped: u32,
    /// Tests selected.
    pub total: u32,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Runs every `test_*` rule under `paths`, as `opa test` does.
#[napi]
pub fn run_policy_tests(
    paths: Vec<String>,
    options: Option<NativeTestOptions>,
) -> Result<NativeTestRun> {
    let o = options.unwrap_or(NativeTestOptions {
        run: None,
        coverage: None,
        bundle: None,
        rego_v0: None,
        timeout_ms: None,
        strict_builtin_errors: None,
        verbose: None,
    });
    let defaults = TestOptions::default();
    let opts = TestOptions {
        run: o.run,
        coverage: o.coverage.unwrap_or(false),
        bundle: o.bundle.unwrap_or(false),
        rego_v0: o.rego_v0.unwrap_or(false),
        timeout: o
            .timeout_ms
            .map_or(defaults.timeout, |ms| Duration::from_millis(u64::from(ms))),
        strict_builtin_errors: o.strict_builtin_errors.unwrap_or(false),
    };
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let report = tester::run_tests(&paths, &opts).map_err(crate::errors::to_napi)?;
    let coverage_json = report
        .coverage
        .as_ref()
        .map(|c| serde_json::to_string_pretty(c).unwrap_or_default());
    Ok(NativeTestRun {
        ok: report.ok(),
        text: report.to_text(o.verbose.unwrap_or(false)),
        results_json: report.results_json(),
        coverage: report.coverage.as_ref().map(|c| c.coverage),
        coverage_json,
        passed: count(report.passed()),
        failed: count(report.failed()),
        errored: count(report.errored()),
        skipped: count(report.skipped()),
        total: count(report.total()),
    })
}

/// What a bundle check found.
#[napi(object)]
pub struct NativeCheck {
    /// No errors.
    pub ok: bool,
    /// `file:line:col: message` lines and a summary.
    pub text: String,
    /// The report as JSON (`errors`, `modules`, `revision`).
    pub json: String,
}

/// Compiles `paths` as the engine loads them (with `bundle`, one directory
/// read as a served bundle) and reports every problem with `file:line:col`.
#[napi]
pub fn check_policies(paths: Vec<String>, bundle: bool, rego_v0: bool) -> NativeCheck {
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let report = tester::check(&paths, bundle, rego_v0);
    NativeCheck {
        ok: report.ok(),
        text: report.to_text(),
        json: serde_json::to_string_pretty(&report).unwrap_or_default(),
    }
}
