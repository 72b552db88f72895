//! Policy unit tests and bundle checks, as `opa test` and `opa check` run
//! them, on CoreSDK's engine.
//!
//! [`run_tests`] evaluates every rule named `test_*` in the given paths and
//! reports pass, fail or error per test (`todo_test_*` rules are reported as
//! skipped), with `print()` output, parametrised cases
//! (`test_x[tc.note] if ...`) and, on request, line coverage from regorus.
//! A test passes when its rule is defined and exactly `true` (for a
//! parametrised test, when every case is `true`), as in OPA.
//!
//! The modules are compiled by the same loader and compile checks as a
//! served bundle (`Revision::compile`), so a test run also proves the
//! policies load. [`check`] does only that, reporting every module that
//! does not parse, or the first compile error, with `file:line:col`.
//!
//! ```no_run
//! use coresdk_engine::tester::{run_tests, TestOptions};
//!
//! let report = run_tests(&["examples/policies".into()], &TestOptions::default())?;
//! print!("{}", report.to_text(false));
//! assert!(report.ok());
//! # Ok::<(), coresdk_engine::EngineError>(())
//! ```

mod discover;
mod load;
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;

pub use report::{
    CheckReport, Coverage, Diagnostic, FastPathEntry, FileCoverage, LineRange, Location, Row,
    SubResult, TestError, TestReport, TestResult,
};

use crate::config::EngineConfig;
use crate::error::{EngineError, Result};
use crate::revision::Revision;
use discover::TestCase;

/// How [`run_tests`] runs.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Run only tests whose full name (`data.pkg.test_x`) matches this
    /// regular expression (`--run`).
    pub run: Option<String>,
    /// Gather line coverage (`--coverage`).
    pub coverage: bool,
    /// Read one directory as a bundle: its `.manifest` roots and
    /// `rego_version` apply (`--bundle`). Off: paths are read as `opa test`
    /// reads them, manifests ignored.
    pub bundle: bool,
    /// Parse as Rego v0 (`--v0-compatible`).
    pub rego_v0: bool,
    /// Time limit per test (`--timeout`; default 5 s, as OPA's).
    pub timeout: Duration,
    /// A builtin error (a bad regex, a division by zero) fails the test
    /// with an error, as the engine treats it at run time. Off (the
    /// default, as `opa test`): the expression is undefined.
    pub strict_builtin_errors: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            run: None,
            coverage: false,
            bundle: false,
            rego_v0: false,
            timeout: Duration::from_secs(5),
            strict_builtin_errors: false,
        }
    }
}

/// Loads `paths`, compiles them as the engine would, and runs every test.
///
/// Errors (`ERR_POLICY_LOAD`, `ERR_POLICY_COMPILE` with `file:line:col`,
/// `ERR_CONFIG` for a bad `run` pattern or timeout) mean no test ran.
pub fn run_tests(paths: &[PathBuf], options: &TestOptions) -> Result<TestReport> {
    let filter = options
        .run
        .as_deref()
        .map(regex_automata::meta::Regex::new)
        .transpose()
        .map_err(|e| EngineError::config("run", e.to_string()))?;
    if options.timeout.is_zero() || options.timeout > Duration::from_secs(3600) {
        return Err(EngineError::config(
            "timeout",
            "must be between 1 ms and 1 hour",
        ));
    }
    let mut files = load::read(paths, options.bundle)?;
    let rego_v0 = options.rego_v0 || (options.bundle && files.rego_version == Some(0));
    let lines: BTreeMap<String, u32> = files
        .modules
        .iter()
        .map(|(name, src)| {
            (
                name.clone(),
                u32::try_from(src.lines().count()).unwrap_or(u32::MAX),
            )
        })
        .collect();
    let (tests, modules) = discover::discover(&files.modules, rego_v0)?;
    files.modules = modules;
    let mut config = EngineConfig::inline(Vec::new(), serde_json::Value::Null);
    config.rego_v0 = rego_v0;
    config.eval_timeout = options.timeout;
    config.fast_path = false;
    config.decision_cache_entries = 0;
    let revision = Revision::compile_with(files, &config, options.strict_builtin_errors)?;
    let fresh = || {
        let mut engine = revision.instantiate();
        engine.set_strict_builtin_errors(options.strict_builtin_errors);
        engine.set_gather_prints(true);
        if options.coverage {
            engine.set_enable_coverage(true);
        }
        engine
    };
    let mut engine = fresh();
    let mut results = Vec::new();
    let limit_ms = u64::try_from(options.timeout.as_millis()).unwrap_or(u64::MAX);
    for test in &tests {
        let full = format!("{}.{}", test.package, test.name);
        if filter.as_ref().is_some_and(|re| !re.is_match(&full)) {
            continue;
        }
        let (result, poisoned) = run_one(&mut engine, test, limit_ms);
        if poisoned {
            // A panic leaves the evaluator in an unknown state.
            engine = fresh();
        }
        results.push(result);
    }
    let coverage = if options.coverage {
        let report = engine
            .get_coverage_report()
            .map_err(|e| EngineError::Eval {
                message: format!("coverage: {e}"),
            })?;
        let files = report
            .files
            .into_iter()
            .filter_map(|f| {
                // Lines past the original source belong to appended
                // companion rules.
                let max = *lines.get(&f.path)?;
                let keep = |s: std::collections::BTreeSet<u32>| {
                    s.into_iter().filter(|l| *l <= max).collect::<Vec<_>>()
                };
                Some((f.path, keep(f.covered), keep(f.not_covered)))
            })
            .collect();
        Some(Coverage::from_lines(files))
    } else {
        None
    };
    Ok(TestReport { results, coverage })
}

/// Runs one test; the flag is true when the evaluator panicked.
fn run_one(engine: &mut regorus::Engine, test: &TestCase, limit_ms: u64) -> (TestResult, bool) {
    let mut result = TestResult {
        location: Location {
            file: test.file.clone(),
            row: test.row,
            col: test.col,
        },
        package: test.package.clone(),
        name: test.name.clone(),
        fail: false,
        error: None,
        skip: test.skip,
        duration: 0,
        output: None,
        sub_results: BTreeMap::new(),
    };
    if test.skip {
        return (result, false);
    }
    let start = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if test.object {
            // A ref head deeper than one key (`test_x[a][b]`) is no single
            // rule path: evaluate the document.
            engine.eval_query(test.query.clone(), false).map(|r| {
                r.result
                    .first()
                    .and_then(|r| r.expressions.first())
                    .map_or(regorus::Value::Undefined, |e| e.value.clone())
            })
        } else {
            engine.eval_rule(test.query.clone())
        }
    }));
    result.duration = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let printed = engine.take_prints().unwrap_or_default();
    if !printed.is_empty() {
        let lines: Vec<&str> = printed.iter().map(|p| strip_location(p)).collect();
        let mut text = lines.join("\n");
        text.push('\n');
        result.output = Some(base64::engine::general_purpose::STANDARD.encode(text));
    }
    let value = match outcome {
        Err(_) => {
            result.error = Some(TestError {
                code: "ERR_EVAL".into(),
                message: "the evaluator panicked".into(),
            });
            return (result, true);
        }
        Ok(Err(e)) => {
            let text = e.to_string();
            let (code, message) = if text.contains("exceeded time limit") {
                (
                    "ERR_EVAL_TIMEOUT",
                    format!("evaluation exceeded the {limit_ms} ms limit"),
                )
            } else {
                ("ERR_EVAL", crate::error::describe(&text))
            };
            result.error = Some(TestError {
                code: code.into(),
                message,
            });
            return (result, false);
        }
        Ok(Ok(v)) => v,
    };
    if !test.object {
        result.fail = value != regorus::Value::Bool(true);
        return (result, false);
    }
    let regorus::Value::Object(cases) = &value else {
        result.fail = true;
        return (result, false);
    };
    let mut fail = false;
    for (k, v) in cases.iter() {
        let sub = sub_result(k, v);
        fail |= sub.fail;
        result.sub_results.insert(sub.name.clone(), sub);
    }
    // Cases whose body was entered but failed are missing from the object.
    if let Some(q) = &test.cases_query {
        if let Ok(regorus::Value::Set(entered)) = engine.eval_rule(q.clone()) {
            for path in entered.iter() {
                if let regorus::Value::Array(keys) = path {
                    fail |= mark_entered(&mut result.sub_results, &keys.to_vec());
                }
            }
        }
        let _ = engine.take_prints();
    }
    result.fail = fail;
    (result, false)
}

/// A gathered `print()` line without the `file:line: ` regorus prefixes
/// (OPA's test output has none).
fn strip_location(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find(':') {
        let colon = i + off;
        let digits = bytes[colon + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = colon + 1 + digits;
        if digits > 0 && line[after..].starts_with(": ") {
            return &line[after + 2..];
        }
        i = colon + 1;
    }
    line
}

/// A case and its nested cases from the test's object.
fn sub_result(key: &regorus::Value, value: &regorus::Value) -> SubResult {
    let name = key_name(key);
    match value {
        regorus::Value::Bool(b) => SubResult {
            name,
            fail: !b,
            sub_results: BTreeMap::new(),
        },
        regorus::Value::Object(o) => {
            let mut subs = BTreeMap::new();
            let mut fail = false;
            for (k, v) in o.iter() {
                let s = sub_result(k, v);
                fail |= s.fail;
                subs.insert(s.name.clone(), s);
            }
            SubResult {
                name,
                fail,
                sub_results: subs,
            }
        }
        _ => SubResult {
            name,
            fail: true,
            sub_results: BTreeMap::new(),
        },
    }
}

/// Records an entered case; a case entered but absent from the object
/// failed. Returns whether this path failed.
fn mark_entered(subs: &mut BTreeMap<String, SubResult>, keys: &[regorus::Value]) -> bool {
    let Some((first, rest)) = keys.split_first() else {
        return false;
    };
    let name = key_name(first);
    let entry = subs.entry(name.clone()).or_insert_with(|| SubResult {
        name,
        fail: true,
        sub_results: BTreeMap::new(),
    });
    if rest.is_empty() {
        return entry.fail;
    }
    let failed = mark_entered(&mut entry.sub_results, rest);
    entry.fail |= failed;
    failed
}

/// A case key as OPA prints it: a string as is, anything else as JSON.
fn key_name(key: &regorus::Value) -> String {
    match key {
        regorus::Value::String(s) => s.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Compiles `paths` as the engine would load them and reports every
/// problem found: one per module that does not parse, else the first
/// compile error (OPA's compile checks included), each with `file:line:col`.
///
/// With `bundle` (the default of `coresdk-sidecar check`), one directory is
/// read exactly as a served bundle: its `.manifest` roots and
/// `rego_version` apply.
pub fn check(paths: &[PathBuf], bundle: bool, rego_v0: bool) -> CheckReport {
    check_with(paths, bundle, rego_v0, false)
}

/// [`check`], and when the bundle compiles, how each of its rule queries
/// would be evaluated with `fast_path` on (the default): by the tree
/// evaluator, with how many input guards, or by the interpreter and why
/// ([`CheckReport::fast_path`]; `coresdk-sidecar check --fast-path`).
/// Every rule that is not a function or a test (`test_*`, `todo_test_*`)
/// is listed, by its path (for a rule with a variable in its head, the
/// constant part before it).
pub fn check_fast_path(paths: &[PathBuf], bundle: bool, rego_v0: bool) -> CheckReport {
    check_with(paths, bundle, rego_v0, true)
}

fn check_with(paths: &[PathBuf], bundle: bool, rego_v0: bool, plan: bool) -> CheckReport {
    let diag = |e: EngineError| {
        let code = e.code().to_string();
        match e {
            EngineError::PolicyCompile { location, message } => Diagnostic {
                code,
                message,
                location: location.map(|l| Location {
                    file: l.file,
                    row: l.line,
                    col: l.column,
                }),
            },
            other => Diagnostic {
                code,
                message: other.to_string(),
                location: None,
            },
        }
    };
    let files = match load::read(paths, bundle) {
        Ok(f) => f,
        Err(e) => {
            return CheckReport {
                errors: vec![diag(e)],
                modules: 0,
                revision: None,
                fast_path: plan.then(Vec::new),
            }
        }
    };
    let modules = files.modules.len();
    let rego_v0 = rego_v0 || (bundle && files.rego_version == Some(0));
    let parse_errors = discover::parse_each(&files.modules, rego_v0);
    if !parse_errors.is_empty() {
        return CheckReport {
            errors: parse_errors.into_iter().map(diag).collect(),
            modules,
            revision: None,
            fast_path: plan.then(Vec::new),
        };
    }
    let revision = files.revision.clone();
    let mut config = EngineConfig::inline(Vec::new(), serde_json::Value::Null);
    config.rego_v0 = rego_v0;
    config.fast_path = plan;
    config.decision_cache_entries = 0;
    match Revision::compile(files, &config) {
        Ok(compiled) => CheckReport {
            errors: Vec::new(),
            modules,
            revision: bundle.then_some(revision),
            fast_path: plan.then(|| fast_path_entries(&compiled)),
        },
        Err(e) => CheckReport {
            errors: vec![diag(e)],
            modules,
            revision: None,
            fast_path: plan.then(Vec::new),
        },
    }
}

/// Plans every rule query of `revision` that a caller could ask for (not
/// tests) as the serving engine would, on first use.
fn fast_path_entries(revision: &Revision) -> Vec<FastPathEntry> {
    revision
        .rules()
        .iter()
        .filter(|path| {
            path.last()
                .is_none_or(|k| !k.starts_with("test_") && !k.starts_with("todo_test_"))
        })
        .map(|path| {
            let query = discover::rego_path("data", path);
            match revision.route(&query) {
                crate::fastpath::Route::Vm(p) => FastPathEntry {
                    query,
                    evaluator: p.evaluator(),
                    guards: p.guard_count(),
                    indexed: p.indexed,
                    reason: None,
                },
                crate::fastpath::Route::Interpreter(r) => FastPathEntry {
                    query,
                    evaluator: "interpreter",
                    guards: 0,
                    indexed: false,
                    reason: Some(r.to_string()),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let p = d.path().join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        d
    }

    fn by_name(r: &TestReport) -> BTreeMap<String, &TestResult> {
        r.results.iter().map(|t| (t.name.clone(), t)).collect()
    }

    #[test]
    fn pass_fail_error_skip_as_opa_reports_them() {
        let d = dir(&[
            (
                "lib.rego",
                "package lib\n\ndouble(x) := x * 2\n\ncases := [{\"note\": \"one\", \"in\": 1, \"out\": 2}, {\"note\": \"two\", \"in\": 2, \"out\": 5}]\n",
            ),
            (
                "lib_test.rego",
                "package lib_test\n\nimport data.lib\n\ntest_ok if lib.double(2) == 4\n\ntest_wrong if lib.double(2) == 5\n\ntest_undefined if input.missing == 1\n\ntest_with if input.x == 1 with input as {\"x\": 1}\n\ntest_not_bool := 7\n\ntest_div if {\n\tx := 1 / 0\n\tx == 1\n}\n\ntest_cases[tc.note] if {\n\tsome tc in lib.cases\n\tlib.double(tc.in) == tc.out\n}\n\ntest_dup if true\n\ntest_dup if false\n\ntodo_test_later if false\n\ntest_print if {\n\tprint(\"hello\")\n\ttrue\n}\n",
            ),
        ]);
        let report = run_tests(&[d.path().to_path_buf()], &TestOptions::default()).expect("runs");
        let r = by_name(&report);
        assert!(r["test_ok"].passed());
        assert!(r["test_wrong"].fail);
        assert!(r["test_undefined"].fail);
        assert!(r["test_with"].passed());
        assert!(r["test_not_bool"].fail);
        // OPA's default: a builtin error is undefined, so the test fails.
        assert!(r["test_div"].fail && r["test_div"].error.is_none());
        assert!(r["test_cases"].fail);
        assert!(!r["test_cases"].sub_results["one"].fail);
        // The failing case is missing from the object; it is still reported.
        assert!(r["test_cases"].sub_results["two"].fail);
        assert!(r["test_dup"].passed());
        assert!(r["test_dup#01"].fail);
        assert!(r["todo_test_later"].skip);
        assert!(r["test_print"].passed());
        assert_eq!(r["test_print"].location.row, 31);
        assert!(!report.ok());
        assert_eq!(
            report.tally(),
            // test_cases counts once per case (OPA's totals).
            (5, 6, 0, 1)
        );
        let text = report.to_text(true);
        assert!(text.contains("data.lib_test.test_dup#01: FAIL"), "{text}");
        assert!(text.contains("  two: FAIL"), "{text}");
        assert!(text.contains("  hello"), "{text}");
        assert!(text.contains("PASS: 5/12"), "{text}");

        let strict = run_tests(
            &[d.path().to_path_buf()],
            &TestOptions {
                strict_builtin_errors: true,
                run: Some("test_div$".into()),
                ..TestOptions::default()
            },
        )
        .expect("runs");
        assert_eq!(strict.results.len(), 1);
        let e = strict.results[0].error.as_ref().expect("an error");
        assert_eq!(e.code, "ERR_EVAL");
    }

    #[test]
    fn coverage_counts_original_lines_only() {
        let d = dir(&[(
            "p.rego",
            "package p\n\nallow if input.a == 1\n\ndeny if input.b == 2\n\ntest_allow if allow with input as {\"a\": 1}\n\ntest_cases[c] if {\n\tsome c in [\"x\"]\n\tc == \"x\"\n}\n",
        )]);
        let report = run_tests(
            &[d.path().to_path_buf()],
            &TestOptions {
                coverage: true,
                ..TestOptions::default()
            },
        )
        .expect("runs");
        assert!(report.ok(), "{}", report.to_text(true));
        let cov = report.coverage.expect("coverage");
        let file = cov.files.values().next().expect("one file");
        let covered: Vec<u32> = file
            .covered
            .iter()
            .flat_map(|r| r.start.row..=r.end.row)
            .collect();
        let missed: Vec<u32> = file
            .not_covered
            .iter()
            .flat_map(|r| r.start.row..=r.end.row)
            .collect();
        assert!(covered.contains(&3), "{covered:?}");
        assert!(missed.contains(&5), "{missed:?}");
        assert!(covered.iter().chain(&missed).all(|l| *l <= 12));
        assert!(cov.coverage > 0.0 && cov.coverage < 100.0);
    }

    #[test]
    fn check_reports_every_unparsable_module_and_compile_errors() {
        let d = dir(&[
            ("a.rego", "package a\n\nallow if {\n"),
            ("b.rego", "package b\n\nx := [1,\n"),
            ("c.rego", "package c\n\ny := 1\n"),
        ]);
        let r = check(&[d.path().to_path_buf()], true, false);
        assert_eq!(r.errors.len(), 2, "{}", r.to_text());
        let files: Vec<String> = r
            .errors
            .iter()
            .map(|e| e.location.as_ref().expect("located").file.clone())
            .collect();
        assert!(
            files[0].ends_with("a.rego") && files[1].ends_with("b.rego"),
            "{files:?}"
        );

        let d = dir(&[("p.rego", "package p\n\nupper := upper(input.name)\n")]);
        let r = check(&[d.path().to_path_buf()], true, false);
        assert_eq!(r.errors.len(), 1);
        let l = r.errors[0].location.as_ref().expect("located");
        assert!(l.file.ends_with("p.rego") && l.row == 3, "{}", r.to_text());

        let d = dir(&[
            (".manifest", "{\"revision\": \"r1\", \"roots\": [\"p\"]}"),
            ("p.rego", "package p\n\nok := true\n"),
            ("q.rego", "package q\n\nok := true\n"),
        ]);
        let r = check(&[d.path().to_path_buf()], true, false);
        assert!(
            r.errors[0].message.contains("outside the manifest roots"),
            "{}",
            r.to_text()
        );
        // Read as plain files (as opa check without -b), roots do not apply.
        let r = check(&[d.path().to_path_buf()], false, false);
        assert!(r.ok(), "{}", r.to_text());
        assert!(r.fast_path.is_none());
    }

    #[test]
    fn check_fast_path_lists_each_rule_query_with_its_evaluator() {
        let d = dir(&[
            (
                "authz.rego",
                r#"package authz

default allow := false

allow if input.user.role == "admin"

allow if input.token.aal >= 2

allow if {
	input.subject.clearance >= input.resource.level
	not input.subject.id in data.blocked
}

fields[k] := v if some k, v in input.fields

p["a-b"] := 1

inc(x) := x + 1
"#,
            ),
            (
                "authz_test.rego",
                r#"package authz

test_admin if allow with input as {"user": {"role": "admin"}}
"#,
            ),
            ("data.json", r#"{"blocked": ["mallory"]}"#),
        ]);
        let r = check_fast_path(&[d.path().to_path_buf()], true, false);
        assert!(r.ok(), "{}", r.to_text());
        let entries = r.fast_path.as_deref().expect("planned");
        let by_query: BTreeMap<&str, &FastPathEntry> =
            entries.iter().map(|e| (e.query.as_str(), e)).collect();
        // Tests and functions are not queries a caller makes.
        assert_eq!(
            by_query.keys().copied().collect::<Vec<_>>(),
            [
                "data.authz.allow",
                "data.authz.fields",
                "data.authz.p[\"a-b\"]"
            ],
            "{}",
            r.to_text()
        );
        let allow = by_query["data.authz.allow"];
        assert_eq!(
            (allow.evaluator, allow.reason.as_deref()),
            ("tree", None),
            "{}",
            r.to_text()
        );
        assert!(allow.guards >= 1, "{}", r.to_text());
        // A partial object is a reference head: the interpreter answers it,
        // and every path inside a reference head's document, with why.
        for query in ["data.authz.fields", r#"data.authz.p["a-b"]"#] {
            let e = by_query[query];
            assert_eq!(e.evaluator, "interpreter");
            assert!(
                e.reason
                    .as_deref()
                    .is_some_and(|m| m.starts_with("a reference head defines data.authz.")),
                "{}",
                r.to_text()
            );
        }
        let text = r.to_text();
        assert!(
            text.contains("fast path: 1 of 3 rule queries on the tree evaluator"),
            "{text}"
        );
        assert!(
            text.contains("data.authz.fields") && text.contains("interpreter: "),
            "{text}"
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["fast_path"][0]["query"], "data.authz.allow", "{json}");

        // A bundle that does not compile lists nothing.
        let d = dir(&[(
            "a.rego",
            "package a

allow if {
",
        )]);
        let r = check_fast_path(&[d.path().to_path_buf()], true, false);
        assert!(!r.ok());
        assert_eq!(r.fast_path.as_deref().map(<[_]>::len), Some(0));
        assert!(!r.to_text().contains("fast path:"), "{}", r.to_text());
    }
}
