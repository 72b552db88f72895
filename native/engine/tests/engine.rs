//! Engine behaviour on real bundles: decisions, undefined vs false, errors,
//! limits, concurrency and hot reload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coresdk_engine::{Engine, EngineConfig, EngineError, ReloadEvent, VerdictReason};
use serde_json::json;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies")
}

fn inline(src: &str) -> Engine {
    Engine::new(EngineConfig::inline(
        vec![("test.rego".into(), src.into())],
        json!({}),
    ))
    .unwrap()
}

#[test]
fn example_bundle_decisions_match_expectations() {
    let mut cfg = EngineConfig::for_dir(examples_dir());
    cfg.watch = false;
    let engine = Engine::new(cfg).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(examples_dir().join("../inputs.json")).unwrap(),
    )
    .unwrap();
    let expected = [
        json!(true),
        json!(true),
        json!(false),
        json!(true),
        json!(true),
        json!(false),
        json!(["unknown role superuser"]),
        json!(false),
    ];
    assert_eq!(cases.len(), expected.len());
    for (case, want) in cases.iter().zip(expected) {
        let d = engine
            .evaluate_policy(case["query"].as_str().unwrap(), &case["input"])
            .unwrap();
        assert_eq!(d.value.as_ref(), Some(&want), "{}", case["name"]);
        assert!(d.revision.starts_with("sha256:"));
        // JSON text input gives the same answer.
        let d2 = engine
            .evaluate_policy_json(case["query"].as_str().unwrap(), &case["input"].to_string())
            .unwrap();
        assert_eq!(d, d2);
    }
}

#[test]
fn undefined_is_distinct_from_false() {
    let e = inline("package t\ndefault f := false\nu if input.x == 1\nv := input.x\n");
    let f = e.evaluate_policy("data.t.f", &json!({})).unwrap();
    assert_eq!(f.value, Some(json!(false)));
    let u = e.evaluate_policy("data.t.u", &json!({})).unwrap();
    assert_eq!(u.value, None);
    assert!(!u.is_defined());
    assert_eq!(
        e.decide("data.t.u", &json!({})).reason,
        VerdictReason::Undefined
    );
    assert_eq!(
        e.decide("data.t.f", &json!({})).reason,
        VerdictReason::Denied
    );
    assert!(e.is_allowed("data.t.u", &json!({"x": 1})));
    // Only exactly `true` allows.
    assert!(!e.is_allowed("data.t.v", &json!({"x": "yes"})));
}

#[test]
fn data_documents_and_packages_are_queryable() {
    let e = Engine::new(EngineConfig::inline(
        vec![("p.rego".into(), "package p\nr := 1\n".into())],
        json!({"cfg": {"limit": 5}}),
    ))
    .unwrap();
    assert_eq!(
        e.evaluate_policy("data.cfg.limit", &json!(null))
            .unwrap()
            .value,
        Some(json!(5))
    );
    assert_eq!(
        e.evaluate_policy("data.cfg", &json!(null)).unwrap().value,
        Some(json!({"limit": 5}))
    );
    assert_eq!(
        e.evaluate_policy("data.p", &json!(null)).unwrap().value,
        Some(json!({"r": 1}))
    );
}

#[test]
fn unknown_paths_are_typed_errors() {
    let e = inline("package t\nallow := true\n");
    let err = e
        .evaluate_policy("data.nope.allow", &json!({}))
        .unwrap_err();
    assert_eq!(err.code(), "ERR_UNKNOWN_RULE", "{err}");
    assert_eq!(
        e.decide("data.nope.allow", &json!({})).reason,
        VerdictReason::Error("ERR_UNKNOWN_RULE")
    );
    // The engine keeps serving.
    assert!(e.is_allowed("data.t.allow", &json!({})));
}

#[test]
fn general_queries_return_bindings() {
    let e = inline("package t\nxs := [1, 2, 3]\n");
    let d = e
        .evaluate_policy("some i; x := data.t.xs[i]; x > 1", &json!({}))
        .unwrap();
    assert_eq!(d.value, Some(json!([{"i": 1, "x": 2}, {"i": 2, "x": 3}])));
    let none = e.evaluate_policy("data.t.xs[_] > 5", &json!({})).unwrap();
    assert_eq!(none.value, None);
    let err = e.evaluate_policy("x := := 1", &json!({})).unwrap_err();
    assert!(
        matches!(err.code(), "ERR_QUERY_INVALID" | "ERR_EVAL"),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::write(
        dir.path().join("pkg/bad.rego"),
        "package bad\n\nallow if {\n  input.x ==\n}\n",
    )
    .unwrap();
    let mut cfg = EngineConfig::for_dir(dir.path());
    cfg.watch = false;
    let err = Engine::new(cfg).unwrap_err();
    assert_eq!(err.code(), "ERR_POLICY_COMPILE");
    match &err {
        EngineError::PolicyCompile {
            location: Some(loc),
            ..
        } => {
            assert_eq!(loc.file, "pkg/bad.rego");
            assert!(loc.line >= 4, "{loc}");
            assert!(loc.column >= 1);
        }
        other => panic!("expected a located compile error, got {other:?}"),
    }
    assert!(err.to_string().contains("pkg/bad.rego:"), "{err}");
}

#[test]
fn long_running_policy_hits_the_time_limit_and_the_next_call_works() {
    let mut cfg = EngineConfig::inline(
        vec![(
            "slow.rego".into(),
            "package slow\nallow if { count([x | some a in numbers.range(1, 3000); some b in numbers.range(1, 3000); x := a * b]) > 0 }\nfast := true\n".into(),
        )],
        json!({}),
    );
    cfg.eval_timeout = Duration::from_millis(50);
    cfg.pool_size = 1;
    let e = Engine::new(cfg).unwrap();
    let started = Instant::now();
    let err = e
        .evaluate_policy("data.slow.allow", &json!({}))
        .unwrap_err();
    assert_eq!(err.code(), "ERR_EVAL_TIMEOUT", "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!e.is_allowed("data.slow.allow", &json!({})));
    assert!(e.is_allowed("data.slow.fast", &json!({})));
}

#[test]
fn builtin_errors_deny() {
    let e = inline("package t\nallow if regex.match(input.pattern, \"abc\")\nq := 1 / input.d\n");
    let v = e.decide("data.t.allow", &json!({"pattern": "(unclosed"}));
    assert!(!v.allowed);
    assert_eq!(v.reason, VerdictReason::Error("ERR_EVAL"));
    assert!(e.is_allowed("data.t.allow", &json!({"pattern": "^a"})));
    assert!(!e.decide("data.t.q", &json!({"d": 0})).allowed);
}

#[test]
fn oversized_and_deep_inputs_are_refused_before_parsing() {
    let e = inline("package t\nallow := true\n");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let err = e.evaluate_policy_json("data.t.allow", &deep).unwrap_err();
    assert_eq!(err.code(), "ERR_INPUT_TOO_DEEP");
    let big = format!("{{\"s\":\"{}\"}}", "x".repeat(50 * 1024 * 1024));
    let err = e.evaluate_policy_json("data.t.allow", &big).unwrap_err();
    assert_eq!(err.code(), "ERR_INPUT_TOO_LARGE");
    let err = e
        .evaluate_policy_json("data.t.allow", "{not json")
        .unwrap_err();
    assert_eq!(err.code(), "ERR_INPUT_INVALID");
    let mut v = json!(1);
    for _ in 0..200 {
        v = json!([v]);
    }
    assert_eq!(
        e.evaluate_policy("data.t.allow", &v).unwrap_err().code(),
        "ERR_INPUT_TOO_DEEP"
    );
    assert!(e.is_allowed("data.t.allow", &json!({})));
}

#[test]
fn concurrent_evaluations_agree() {
    let mut cfg = EngineConfig::for_dir(examples_dir());
    cfg.watch = false;
    cfg.pool_size = 2;
    let engine = Engine::new(cfg).unwrap();
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let role = if (i + t) % 2 == 0 { "viewer" } else { "billing" };
                    let input = json!({"user": {"id": "x", "roles": [role]}, "action": "read", "resource": {"type": "document", "id": "doc-9"}});
                    assert_eq!(engine.is_allowed("data.authz.allow", &input), role == "viewer");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn closed_engine_refuses_evaluations() {
    let e = inline("package t\nallow := true\n");
    e.close();
    assert_eq!(
        e.evaluate_policy("data.t.allow", &json!({}))
            .unwrap_err()
            .code(),
        "ERR_ENGINE_CLOSED"
    );
    assert!(!e.is_allowed("data.t.allow", &json!({})));
}

#[test]
fn hot_reload_swaps_revisions_and_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.rego");
    std::fs::write(&policy, "package p\nversion := 1\n").unwrap();
    let engine = Engine::new(EngineConfig::for_dir(dir.path())).unwrap();
    let events: Arc<Mutex<Vec<ReloadEvent>>> = Arc::default();
    let sink = events.clone();
    engine.on_reload(move |e| sink.lock().unwrap().push(e.clone()));

    // A loop evaluates throughout; not one evaluation may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let evals = Arc::new(AtomicUsize::new(0));
    let looper = {
        let (engine, stop, failures, evals) = (
            engine.clone(),
            stop.clone(),
            failures.clone(),
            evals.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match engine.evaluate_policy("data.p.version", &json!({})) {
                    Ok(d) if d.is_defined() => {}
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                evals.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let first = engine.revision();

    let wait_for = |want: i64| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let v = engine
                .evaluate_policy("data.p.version", &json!({}))
                .unwrap();
            if v.value == Some(json!(want)) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("version {want} never served");
    };

    std::fs::write(&policy, "package p\nversion := 2\n").unwrap();
    let took = wait_for(2);
    assert!(took < Duration::from_secs(1), "reload took {took:?}");
    let second = engine.revision();
    assert_ne!(first, second);

    // A broken edit: reported with its location, old revision keeps serving.
    std::fs::write(&policy, "package p\nversion := \n").unwrap();
    let start = Instant::now();
    loop {
        if events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, ReloadEvent::Failed { .. }))
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no failure event");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(engine.revision(), second);
    assert_eq!(
        engine
            .evaluate_policy("data.p.version", &json!({}))
            .unwrap()
            .value,
        Some(json!(2))
    );
    let failed = events.lock().unwrap().iter().find_map(|e| match e {
        ReloadEvent::Failed { error, revision } => Some((error.clone(), revision.clone())),
        _ => None,
    });
    let (error, serving) = failed.unwrap();
    assert_eq!(serving, second);
    assert!(error.to_string().contains("p.rego:"), "{error}");

    // Fixing it serves again.
    std::fs::write(&policy, "package p\nversion := 3\n").unwrap();
    wait_for(3);

    stop.store(true, Ordering::Relaxed);
    looper.join().unwrap();
    assert!(evals.load(Ordering::Relaxed) > 10);
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    engine.close();
}

#[test]
fn explicit_reload_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rego"), "package p\nx := 1\n").unwrap();
    let mut cfg = EngineConfig::for_dir(dir.path());
    cfg.watch = false;
    let engine = Engine::new(cfg).unwrap();
    std::fs::write(dir.path().join("p.rego"), "package p\nx := 2\n").unwrap();
    let rev = engine.reload().unwrap();
    assert_eq!(engine.revision(), rev);
    std::fs::write(dir.path().join("p.rego"), "package p\nx := {\n").unwrap();
    let err = engine.reload().unwrap_err();
    assert_eq!(err.code(), "ERR_POLICY_COMPILE");
    assert_eq!(engine.revision(), rev);
}

#[test]
fn false_expressions_in_general_queries_are_no_result() {
    let e = inline("package t\nyes := true\nnegated if not yes\n");
    assert_eq!(
        e.evaluate_policy("data.t.negated", &json!({}))
            .unwrap()
            .value,
        None
    );
    for q in ["1 == 2", "data.t.yes == false", "input.role == \"admin\""] {
        let d = e.evaluate_policy(q, &json!({"role": "user"})).unwrap();
        assert_eq!(d.value, None, "{q}");
    }
    assert_eq!(
        e.evaluate_policy("input.role == \"user\"", &json!({"role": "user"}))
            .unwrap()
            .value,
        Some(json!([{}]))
    );
}

#[test]
fn evaluation_errors_carry_a_message() {
    let e = inline("package t\nq := 1 / input.d\n");
    let err = e.evaluate_policy("data.t.q", &json!({"d": 0})).unwrap_err();
    let text = err.to_string();
    assert!(
        text.len() > "policy evaluation failed: ".len() + 3,
        "{text}"
    );
    let err = e.evaluate_policy("x := ", &json!({})).unwrap_err();
    assert_eq!(err.code(), "ERR_QUERY_INVALID", "{err}");
}

#[test]
fn decision_cache_answers_repeats_and_never_changes_a_decision() {
    let mut cached_cfg = EngineConfig::for_dir(examples_dir());
    cached_cfg.watch = false;
    let mut plain_cfg = cached_cfg.clone();
    plain_cfg.decision_cache_entries = 0;
    let cached = Engine::new(cached_cfg).unwrap();
    let plain = Engine::new(plain_cfg).unwrap();
    assert!(!plain.decision_cache_stats().enabled);
    let cases: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(examples_dir().join("../inputs.json")).unwrap(),
    )
    .unwrap();
    for _round in 0..3 {
        for case in &cases {
            let q = case["query"].as_str().unwrap();
            let a = cached
                .evaluate_policy_json(q, &case["input"].to_string())
                .unwrap();
            let b = plain
                .evaluate_policy_json(q, &case["input"].to_string())
                .unwrap();
            assert_eq!(a, b, "{}", case["name"]);
            assert_eq!(cached.evaluate_policy(q, &case["input"]).unwrap(), b);
        }
    }
    let stats = cached.decision_cache_stats();
    assert!(stats.enabled);
    assert!(stats.hits >= (cases.len() * 4) as u64, "{stats:?}");
    // Errors are never cached.
    for _ in 0..2 {
        assert_eq!(
            cached
                .evaluate_policy_json("data.authz.alow", "{}")
                .unwrap_err()
                .code(),
            "ERR_UNKNOWN_RULE"
        );
    }
}

#[test]
fn nondeterministic_policies_are_not_cached() {
    let e = inline("package t\nallow if time.now_ns() > 0\n");
    assert!(e.is_allowed("data.t.allow", &json!({})));
    assert!(!e.decision_cache_stats().enabled);
}

/// `serves_rule` is the sidecar's default query allow-list: rules and
/// paths inside their values, never packages, base documents, functions or
/// general queries.
#[test]
fn serves_rule_names_rules_and_nothing_above_or_beside_them() {
    let cfg = EngineConfig::inline(
        vec![(
            "t.rego".into(),
            r#"package authz
default allow := false
allow if input.user == "alice"
roles["admin"] := ["alice"]
grants.read[x] := true if some x in input.xs
f(x) := x
"#
            .into(),
        )],
        serde_json::json!({"authz_secrets": {"hmac": "s3cret"}}),
    );
    let e = Engine::new(cfg).unwrap();
    for q in [
        "data.authz.allow",
        " data.authz.allow ",
        "data.authz[\"allow\"]",
        "data.authz.roles.admin",
        "data.authz.roles.admin.x",
        "data.authz.grants.read",
        "data.authz.grants.read.x",
    ] {
        assert!(e.serves_rule(q), "{q}");
    }
    for q in [
        "data",
        "data.authz",
        // Above a rule with a constant key: a prefix, not a rule.
        "data.authz.roles",
        "data.authz.grants",
        "data.authz.f",
        "data.authz_secrets",
        "data.authz_secrets.hmac",
        "x := data",
        "data.authz.allow == true",
        "data.authz.nope",
    ] {
        assert!(!e.serves_rule(q), "{q}");
    }
}
