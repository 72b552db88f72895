//! OPA's compile checks at load: bundles `opa check` (OPA v1.22.3) refuses
//! are refused with `ERR_POLICY_COMPILE`, OPA's kind of message and the
//! `file:line:col` of the offending call or rule; what OPA accepts still
//! loads. Each refusal below was checked against the real `opa check`.

use coresdk_engine::{Engine, EngineConfig, EngineError, SourceLocation};
use serde_json::json;

fn load(modules: &[(&str, &str)]) -> Result<Engine, EngineError> {
    Engine::new(EngineConfig::inline(
        modules
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect(),
        json!({}),
    ))
}

/// The refusal of `modules`: its location and message.
fn refusal(modules: &[(&str, &str)]) -> (SourceLocation, String) {
    match load(modules) {
        Ok(_) => panic!("loaded, but OPA refuses it: {modules:?}"),
        Err(e) => {
            assert_eq!(e.code(), "ERR_POLICY_COMPILE", "{e}");
            match e {
                EngineError::PolicyCompile {
                    location: Some(l),
                    message,
                } => (l, message),
                other => panic!("no location: {other}"),
            }
        }
    }
}

#[test]
fn a_rule_named_like_the_builtin_it_calls_is_refused_with_file_and_line() {
    let (at, msg) = refusal(&[("p.rego", "package p\n\nupper := upper(input.name)\n")]);
    assert_eq!(
        msg,
        "rego_type_error: function data.p.upper has arity 0, got 1 argument"
    );
    assert_eq!((at.file.as_str(), at.line, at.column), ("p.rego", 3, 10));
    assert!(load(&[("p.rego", "package p\n\nname := upper(input.name)\n")]).is_ok());
}

#[test]
fn calls_of_rules_that_are_not_functions() {
    for (src, want, line) in [
        // Another rule of the package shadowing a builtin.
        (
            "package p\n\nupper := \"x\"\n\ny := upper(\"a\")\n",
            "function data.p.upper has arity 0, got 1 argument",
            5,
        ),
        // By its full path.
        (
            "package p\n\nupper := \"x\"\n\ny := data.p.upper(\"a\")\n",
            "function data.p.upper has arity 0, got 1 argument",
            5,
        ),
        // A partial set, a ref-head rule.
        (
            "package p\n\ns contains 1\n\ny := s(1)\n",
            "function data.p.s has arity 0, got 1 argument",
            5,
        ),
        (
            "package p\n\na.b := 1\n\ny := a.b(1)\n",
            "function data.p.a.b has arity 0, got 1 argument",
            5,
        ),
    ] {
        let (at, msg) = refusal(&[("p.rego", src)]);
        assert_eq!(msg, format!("rego_type_error: {want}"), "{src}");
        assert_eq!(at.line, line, "{src}");
    }
    // From another package, directly and through an import.
    let q = ("q.rego", "package q\n\nupper := \"x\"\n");
    for src in [
        "package p\n\ny := data.q.upper(\"a\")\n",
        "package p\n\nimport data.q\n\ny := q.upper(\"a\")\n",
    ] {
        let (at, msg) = refusal(&[("p.rego", src), q]);
        assert_eq!(
            msg,
            "rego_type_error: function data.q.upper has arity 0, got 1 argument"
        );
        assert_eq!(at.file, "p.rego");
    }
}

#[test]
fn a_function_named_like_a_builtin_shadows_it_as_in_opa() {
    let e = load(&[(
        "p.rego",
        "package p\n\nupper(x) := concat(\"\", [x, \"!\"])\n\ny := upper(\"a\")\n",
    )])
    .unwrap();
    let d = e.evaluate_policy("data.p.y", &json!({})).unwrap();
    assert_eq!(d.value, Some(json!("a!")));
}

#[test]
fn argument_counts() {
    for (src, want) in [
        (
            "package p\n\nf(x) := x\n\ny := f(1, 2, 3)\n",
            "rego_type_error: function data.p.f has arity 1, got 3 arguments",
        ),
        (
            "package p\n\ndefault f(_) := 1\n\ny := f(1, 2, 3)\n",
            "rego_type_error: function data.p.f has arity 1, got 3 arguments",
        ),
        // Used as a value, the call has no output argument.
        (
            "package p\n\nf(x) := x\n\ny := f(1, 2)\n",
            "rego_type_error: function data.p.f has arity 1, got 2 arguments",
        ),
        (
            "package p\n\ny := count([1], 2, 3)\n",
            "rego_type_error: count: arity mismatch: have 3 arguments, want 1",
        ),
        (
            "package p\n\ny := time.now_ns(1)\n",
            "rego_type_error: time.now_ns: arity mismatch: have 1 argument, want 0",
        ),
        (
            "package p\n\ny := nosuchfn(1)\n",
            "rego_type_error: undefined function nosuchfn",
        ),
        (
            "package p\n\nimport data.q.z\n\ny := z(1)\n",
            "rego_type_error: undefined function data.q.z",
        ),
        (
            "package p\n\ny := any([true])\n",
            "rego_type_error: deprecated built-in function calls in expression: any",
        ),
    ] {
        assert_eq!(refusal(&[("p.rego", src)]).1, want, "{src}");
    }
    // As a statement, a last extra argument receives the value.
    for src in [
        "package p\n\nf(x) := x\n\ny if f(1, 2)\n",
        "package p\n\ny if time.now_ns(t)\n",
        "package p\n\ny if {\n\tcount([1], n)\n\tn == 1\n}\n",
        "package p\n\ny if print(1, 2, 3)\n",
    ] {
        if let Err(e) = load(&[("p.rego", src)]) {
            panic!("{src}: {e}");
        }
    }
    // Rego v0 keeps the deprecated builtins.
    let mut cfg = EngineConfig::inline(
        vec![("p.rego".into(), "package p\ny = any([true])\n".into())],
        json!({}),
    );
    cfg.rego_v0 = true;
    assert!(Engine::new(cfg).is_ok());
}

#[test]
fn conflicting_and_default_rules_and_imports() {
    for (src, want) in [
        (
            "package p\n\nf(x) := 1\n\nf(x, y) := 2\n",
            "rego_type_error: conflicting rules data.p.f found",
        ),
        (
            "package p\n\nf(x) := 1\n\nf := 2\n",
            "rego_type_error: conflicting rules data.p.f found",
        ),
        (
            "package p\n\nx := 1\n\nx contains 2\n",
            "rego_type_error: conflicting rules data.p.x found",
        ),
        (
            "package p\n\nx := 1\n\nx[k] := 2 if k := \"a\"\n",
            "rego_type_error: conflicting rules data.p.x found",
        ),
        (
            "package p\n\ndefault x := 1\n\ndefault x := 2\n",
            "rego_type_error: multiple default rules data.p.x found at p.rego:3, p.rego:5",
        ),
        (
            "package p\n\nimport data.a\nimport data.b as a\n\ny := 1\n",
            "rego_compile_error: import must not shadow import data.a",
        ),
    ] {
        assert_eq!(refusal(&[("p.rego", src)]).1, want, "{src}");
    }
    // What OPA accepts: several bodies of one rule, else, a default and its rule.
    for src in [
        "package p\n\nx contains 1\n\nx contains 2\n",
        "package p\n\ndefault x := 1\n\nx := 2 if input.y\n",
        "package p\n\nf(x) := 1 if x > 1\n\nelse := 2\n",
        "package p\n\nimport rego.v1\nimport data.a\n\ny := a\n",
    ] {
        if let Err(e) = load(&[("p.rego", src)]) {
            panic!("{src}: {e}");
        }
    }
}

#[test]
fn constant_arguments_of_a_type_the_builtin_does_not_take() {
    for (src, line, col, text) in [
        (
            "package p\n\nx := count(1)\n",
            3,
            6,
            "rego_type_error: count: invalid argument(s): have (number), want (any<string, array[any], object[any: any], set[any]>)",
        ),
        (
            "package p\n\nallow if {\n    concat(\",\", [\"a\", 1]) == \"a,1\"\n}\n",
            4,
            5,
            "rego_type_error: concat: invalid argument(s): have (string, array<string, number>)",
        ),
        (
            "package p\n\nd := time.date([0, \"UTC\", \"x\"])\n",
            3,
            6,
            "time.date: invalid argument(s)",
        ),
        (
            "package p\n\nr := graph.reachable({\"a\": \"b\"}, [\"a\"])\n",
            3,
            6,
            "graph.reachable: invalid argument(s)",
        ),
        ("package p\n\nn := 1 + \"a\"\n", 3, 6, "rego_type_error: plus: invalid argument(s)"),
        // Through a variable assigned a constant, as OPA types it.
        (
            "package p\n\nd if {\n    x := [0, \"UTC\", \"x\"]\n    time.date(x)\n}\n",
            5,
            5,
            "time.date: invalid argument(s): have (array<number, string, string>)",
        ),
        (
            "package p\n\nc if {\n    n := 1\n    [y | y := count(n)]\n}\n",
            5,
            15,
            "count: invalid argument(s)",
        ),
        // Through a rule defined once with a constant value (in another
        // package too), as OPA types the rule.
        (
            "package p\n\ng := {\"a\": \"b\"}\n\nr := graph.reachable(g, [\"a\"])\n",
            5,
            6,
            "graph.reachable: invalid argument(s): have (object, array<string>)",
        ),
        (
            "package p\n\nt := [0, \"UTC\", \"x\"] if input.x\n\nd := time.date(t)\n",
            5,
            6,
            "time.date: invalid argument(s)",
        ),
    ] {
        let (at, message) = refusal(&[("p.rego", src)]);
        assert_eq!((at.line, at.column), (line, col), "{src}: {message}");
        assert!(message.contains(text), "{src}: {message}");
    }
    // What OPA accepts still loads: arguments that are not constant, and
    // constants of an admitted type.
    let (at, message) = refusal(&[
        ("p.rego", "package p\n\nq := count(data.q.n)\n"),
        ("q.rego", "package q\n\nn := 1\n"),
    ]);
    assert_eq!(at.line, 3);
    assert!(message.contains("count: invalid argument(s)"), "{message}");
    for src in [
        "package p\n\nx := count(input.x)\n",
        "package p\n\nx := concat(\",\", [\"a\", input.b])\n",
        "package p\n\nd := time.date([0, \"UTC\"])\n",
        "package p\n\nn := 1 - {1}\n",
        "package p\n\nc := count({1: \"a\"})\n",
        "package p\n\ny := json.patch({\"a\": 1}, [{\"op\": \"add\", \"path\": \"/b\", \"value\": 1}])\n",
        "package p\n\nd if {\n    x := [0, \"UTC\"]\n    time.date(x)\n}\n",
        "package p\n\nd if {\n    x := input.t\n    time.date(x)\n}\n",
        "package p\n\nd if {\n    some x in [\"a\"]\n    count(x) > 0\n}\n",
        "package p\n\nf(x) := count(x)\n\ny := f(\"ab\")\n",
        "package p\n\ng := {\"a\": \"b\"}\n\nf(g) := graph.reachable(g, [\"a\"])\n",
        "package p\n\nh := {\"a\": [\"b\"]}\n\nr := graph.reachable(h, [\"a\"])\n",
        "package p\n\nm := {\"a\": \"b\"} if input.x\n\nm := {\"a\": [\"b\"]} if input.y\n\nr := graph.reachable(m, [\"a\"])\n",
    ] {
        if let Err(e) = load(&[("p.rego", src)]) {
            panic!("{src}: {e}");
        }
    }
}
