//! Test and check reports: the JSON shapes `opa test --format json`,
//! `opa test --coverage` and `opa check --format json` print, and their
//! text form.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;

/// Where a test rule or a diagnostic is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Location {
    /// The file as given on the command line.
    pub file: String,
    /// 1-based line.
    pub row: u32,
    /// 1-based column.
    pub col: u32,
}

/// Why a test could not be evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct TestError {
    /// The engine's stable error code (`ERR_EVAL`, `ERR_EVAL_TIMEOUT`...).
    pub code: String,
    /// What went wrong, with `file:line:col` when the evaluator gave one.
    pub message: String,
}

/// One case of a parametrised test (`test_x[tc.note] if ...`).
#[derive(Debug, Clone, Serialize)]
pub struct SubResult {
    /// The case's key (a string key as is, any other value as JSON).
    pub name: String,
    /// The case failed: its value was not `true`, or its body was entered
    /// and failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fail: bool,
    /// Nested cases (`test_x[a][b]`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sub_results: BTreeMap<String, SubResult>,
}

/// The outcome of one test rule, in `opa test --format json`'s shape.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// Where the rule is defined.
    pub location: Location,
    /// `data.<package>`.
    pub package: String,
    /// The rule's name; a repeated definition is `name#01`, `name#02`...
    pub name: String,
    /// The rule was undefined, or not `true`, or a case failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fail: bool,
    /// The rule could not be evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TestError>,
    /// A `todo_test_` rule: not run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
    /// Evaluation time in nanoseconds.
    pub duration: u64,
    /// What `print()` wrote, base64 encoded (as OPA encodes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Cases of a parametrised test.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sub_results: BTreeMap<String, SubResult>,
}

impl TestResult {
    /// Passed: run, defined, `true`, every case `true`.
    pub fn passed(&self) -> bool {
        !self.fail && self.error.is_none() && !self.skip
    }

    /// `data.pkg.name`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.package, self.name)
    }

    fn status(&self) -> &'static str {
        if self.skip {
            "SKIPPED"
        } else if self.error.is_some() {
            "ERROR"
        } else if self.fail {
            "FAIL"
        } else {
            "PASS"
        }
    }

    fn printed(&self) -> Option<String> {
        let b = self.output.as_ref()?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Line coverage of one file.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FileCoverage {
    /// Ranges of lines evaluated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub covered: Vec<LineRange>,
    /// Ranges of lines with expressions never evaluated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_covered: Vec<LineRange>,
    /// Number of covered lines.
    pub covered_lines: usize,
    /// Number of lines not covered.
    pub not_covered_lines: usize,
    /// Percentage of lines covered (100 when the file has no expressions).
    pub coverage: f64,
}

/// A range of lines, both ends included.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LineRange {
    /// First line.
    pub start: Row,
    /// Last line.
    pub end: Row,
}

/// A line number, in OPA's coverage shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    /// 1-based line.
    pub row: u32,
}

/// Line coverage of every file, in `opa test --coverage`'s shape.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Coverage {
    /// Per file, by path.
    pub files: BTreeMap<String, FileCoverage>,
    /// Covered lines over all files.
    pub covered_lines: usize,
    /// Lines not covered over all files.
    pub not_covered_lines: usize,
    /// Percentage over all files.
    pub coverage: f64,
}

impl Coverage {
    /// Builds the report from sets of covered and uncovered lines per file.
    pub(crate) fn from_lines(files: Vec<(String, Vec<u32>, Vec<u32>)>) -> Coverage {
        let mut out = Coverage::default();
        for (path, covered, not_covered) in files {
            let fc = FileCoverage {
                covered_lines: covered.len(),
                not_covered_lines: not_covered.len(),
                coverage: percent(covered.len(), not_covered.len()),
                covered: ranges(&covered),
                not_covered: ranges(&not_covered),
            };
            out.covered_lines += fc.covered_lines;
            out.not_covered_lines += fc.not_covered_lines;
            out.files.insert(path, fc);
        }
        out.coverage = percent(out.covered_lines, out.not_covered_lines);
        out
    }
}

fn percent(covered: usize, not_covered: usize) -> f64 {
    let total = covered + not_covered;
    if total == 0 {
        return 100.0;
    }
    // Two decimals, as OPA rounds.
    ((covered as f64) * 10_000.0 / (total as f64)).round() / 100.0
}

fn ranges(lines: &[u32]) -> Vec<LineRange> {
    let mut out: Vec<LineRange> = Vec::new();
    for &l in lines {
        match out.last_mut() {
            Some(r) if r.end.row + 1 == l => r.end.row = l,
            _ => out.push(LineRange {
                start: Row { row: l },
                end: Row { row: l },
            }),
        }
    }
    out
}

/// Everything one test run found.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Every test selected, in file and line order.
    pub results: Vec<TestResult>,
    /// Line coverage, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

impl TestReport {
    /// Counts as `opa test` prints them: a parametrised test counts once
    /// per leaf case; `(passed, failed, errored, skipped)`.
    pub fn tally(&self) -> (usize, usize, usize, usize) {
        fn leaves(subs: &BTreeMap<String, SubResult>, pass: &mut usize, fail: &mut usize) {
            for s in subs.values() {
                if s.sub_results.is_empty() {
                    if s.fail {
                        *fail += 1;
                    } else {
                        *pass += 1;
                    }
                } else {
                    leaves(&s.sub_results, pass, fail);
                }
            }
        }
        let (mut pass, mut fail, mut err, mut skip) = (0, 0, 0, 0);
        for r in &self.results {
            if r.skip {
                skip += 1;
            } else if r.error.is_some() {
                err += 1;
            } else if !r.sub_results.is_empty() {
                leaves(&r.sub_results, &mut pass, &mut fail);
            } else if r.fail {
                fail += 1;
            } else {
                pass += 1;
            }
        }
        (pass, fail, err, skip)
    }

    /// Tests (and parametrised cases) that passed.
    pub fn passed(&self) -> usize {
        self.tally().0
    }

    /// Tests (and cases) that failed: undefined, not `true`, a failed case.
    pub fn failed(&self) -> usize {
        self.tally().1
    }

    /// Tests that could not be evaluated.
    pub fn errored(&self) -> usize {
        self.tally().2
    }

    /// `todo_test_` rules.
    pub fn skipped(&self) -> usize {
        self.tally().3
    }

    /// Everything counted: passed + failed + errored + skipped.
    pub fn total(&self) -> usize {
        let (p, f, e, s) = self.tally();
        p + f + e + s
    }

    /// No test failed or errored.
    pub fn ok(&self) -> bool {
        self.results
            .iter()
            .all(|r| r.skip || (!r.fail && r.error.is_none()))
    }

    /// The results as `opa test --format json` prints them (an array).
    pub fn results_json(&self) -> String {
        serde_json::to_string_pretty(&self.results).unwrap_or_else(|_| "[]".into())
    }

    /// The text `opa test` prints: every result with `verbose`, otherwise
    /// the ones that did not pass; then the totals.
    pub fn to_text(&self, verbose: bool) -> String {
        let mut out = String::new();
        let mut file = "";
        for r in &self.results {
            if !verbose && r.passed() {
                continue;
            }
            if r.location.file != file {
                file = &r.location.file;
                let _ = writeln!(out, "{file}:");
            }
            if r.skip {
                let _ = writeln!(out, "{}: SKIPPED", r.full_name());
            } else {
                let _ = writeln!(
                    out,
                    "{}: {} ({})",
                    r.full_name(),
                    r.status(),
                    duration(r.duration)
                );
            }
            if let Some(e) = &r.error {
                let _ = writeln!(out, "  {}: {}", e.code, e.message);
            }
            write_cases(&mut out, &r.sub_results, 1, verbose);
            if let Some(p) = r.printed().filter(|_| verbose || !r.passed()) {
                let _ = writeln!(out);
                for line in p.lines() {
                    let _ = writeln!(out, "  {line}");
                }
                let _ = writeln!(out);
            }
        }
        let (pass, fail, err, skip) = self.tally();
        let total = pass + fail + err + skip;
        let _ = writeln!(out, "{}", "-".repeat(80));
        if total == 0 {
            let _ = writeln!(out, "no tests found");
            return out;
        }
        for (label, n) in [
            ("PASS", pass),
            ("FAIL", fail),
            ("ERROR", err),
            ("SKIPPED", skip),
        ] {
            if n > 0 || label == "PASS" {
                let _ = writeln!(out, "{label}: {n}/{total}");
            }
        }
        out
    }
}

fn write_cases(out: &mut String, cases: &BTreeMap<String, SubResult>, depth: usize, verbose: bool) {
    for c in cases.values() {
        if !verbose && !c.fail {
            continue;
        }
        let _ = writeln!(
            out,
            "{}{}: {}",
            "  ".repeat(depth),
            c.name,
            if c.fail { "FAIL" } else { "PASS" }
        );
        write_cases(out, &c.sub_results, depth + 1, verbose);
    }
}

/// A duration as Go prints it (`812.5µs`, `1.2ms`, `3.04s`).
fn duration(ns: u64) -> String {
    let d = Duration::from_nanos(ns);
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.3}µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.3}ms", ns as f64 / 1e6)
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// One problem `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// The engine's stable code (`ERR_POLICY_COMPILE`, `ERR_POLICY_LOAD`).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// Where, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// What `check` found: nothing, or every problem it could find.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The problems, one per module that does not parse, else the first
    /// compile error.
    pub errors: Vec<Diagnostic>,
    /// Modules read.
    pub modules: usize,
    /// The revision the bundle would load as, when it compiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// With `check --fast-path`: how each rule query would be evaluated
    /// (empty when the bundle does not compile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fast_path: Option<Vec<FastPathEntry>>,
}

/// How one rule query of a checked bundle would be evaluated
/// (`coresdk-sidecar check --fast-path`).
#[derive(Debug, Clone, Serialize)]
pub struct FastPathEntry {
    /// The rule query, `data.authz.allow`.
    pub query: String,
    /// `"tree"` (CoreSDK's evaluator of proven queries, for inputs that
    /// pass the guards) or `"interpreter"`.
    pub evaluator: &'static str,
    /// Input guards each call checks before the tree evaluator answers.
    pub guards: usize,
    /// Whether many-bodied rules were indexed.
    pub indexed: bool,
    /// Why the interpreter answers every call, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CheckReport {
    /// No errors.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `file:line:col: code: message`, one per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for e in &self.errors {
            match &e.location {
                Some(l) => {
                    let _ = writeln!(out, "{}:{}:{}: {}", l.file, l.row, l.col, e.message);
                }
                None => {
                    let _ = writeln!(out, "{}", e.message);
                }
            }
        }
        if self.ok() {
            let _ = writeln!(
                out,
                "{} module{} OK{}",
                self.modules,
                if self.modules == 1 { "" } else { "s" },
                self.revision
                    .as_deref()
                    .map(|r| format!(" (revision {r})"))
                    .unwrap_or_default()
            );
        } else {
            let n = self.errors.len();
            let _ = writeln!(out, "{n} error{}", if n == 1 { "" } else { "s" });
        }
        if let Some(entries) = self.fast_path.as_ref().filter(|_| self.ok()) {
            out.push_str(&fast_path_text(entries));
        }
        out
    }
}

/// The `check --fast-path` listing: a summary line, then one line per rule
/// query with its evaluator (and guards) or the reason it is refused.
fn fast_path_text(entries: &[FastPathEntry]) -> String {
    let mut out = String::new();
    let tree = entries.iter().filter(|e| e.reason.is_none()).count();
    let n = entries.len();
    let _ = writeln!(
        out,
        "fast path: {tree} of {n} rule quer{} on the tree evaluator",
        if n == 1 { "y" } else { "ies" }
    );
    let width = entries
        .iter()
        .map(|e| e.query.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    for e in entries {
        let how = match &e.reason {
            None => format!(
                "tree ({} guard{}{})",
                e.guards,
                if e.guards == 1 { "" } else { "s" },
                if e.indexed { ", indexed" } else { "" }
            ),
            Some(r) => format!("interpreter: {r}"),
        };
        let _ = writeln!(out, "  {:<width$}  {how}", e.query);
    }
    out
}
