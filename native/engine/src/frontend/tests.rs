//! The front end's rewrites and refusals, on source text.

use super::prepare;
use crate::error::EngineError;

fn rewrite(src: &str) -> String {
    rewrite_with(src, &serde_json::json!({}))
}

fn rewrite_with(src: &str, data: &serde_json::Value) -> String {
    prepare(&[("p.rego".into(), src.into())], data, false)
        .unwrap()
        .remove(0)
        .1
}

fn refusal(src: &str) -> (u32, u32, String) {
    match prepare(
        &[("p.rego".into(), src.into())],
        &serde_json::json!({}),
        false,
    ) {
        Err(EngineError::PolicyCompile {
            location: Some(l),
            message,
        }) => (l.line, l.column, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn policies_without_divergent_constructs_are_untouched() {
    let src = "package p\nallow if { input.a == 1; not input.b; startswith(input.c, \"x\") }\nis_admin if \"admin\" in input.roles\n";
    assert_eq!(rewrite(src), src);
}

#[test]
fn a_negated_call_binds_its_references_first_keeping_positions() {
    let src = "package p\nallow if not startswith(input.path, \"/admin\")\nz := 1\n";
    let out = rewrite(src);
    assert_eq!(
        out,
        "package p\nallow if{not startswith(__c0_     , \"/admin\"); __c0_ = input.path}\nz := 1\n"
    );
    // Same line count, and the rest of each line keeps its columns.
    assert_eq!(out.lines().count(), src.lines().count());
    let braced = "package p\nallow if {\n  not lower(input.u) == \"a\"\n  input.x\n}\n";
    assert_eq!(
        rewrite(braced),
        "package p\nallow if {\n  __c0_ = lower(input.u); not __c0_          == \"a\"\n  input.x\n}\n"
    );
}

#[test]
fn equality_under_not_keeps_its_references_but_binds_calls_and_computed_keys() {
    let src = "package p\nallow if not input.a == 1\n";
    assert_eq!(rewrite(src), src);
    let out = rewrite("package p\nallow if not input.a[input.k] == 1\n");
    assert!(out.contains("__c0_ = input.k"), "{out}");
}

#[test]
fn membership_as_a_value_binds_its_operands() {
    let out = rewrite("package p\nallow if { v := input.r in {\"a\"}; not v }\n");
    assert!(
        out.contains("__c0_ = input.r; v := __c0_   in {\"a\"}"),
        "{out}"
    );
    let head = rewrite("package p\nis_admin := \"admin\" in input.roles\n");
    assert_eq!(
        head,
        "package p\nis_admin := \"admin\" in __c0_       if{__c0_ = input.roles}\n"
    );
    let negated = rewrite("package p\nallow if not input.r in {\"a\"}\n");
    assert!(
        negated.contains("not __c0_   in {\"a\"}; __c0_ = input.r"),
        "{negated}"
    );
}

#[test]
fn data_lookups_by_number_read_keys_as_opa_s_storage_does() {
    let data = serde_json::json!({"perms": {"3": true}, "names": {"a": 1}});
    let out = rewrite_with("package p\nallow if data.perms[input.n]\n", &data);
    assert!(out.contains("data.perms[__coresdk.key(input.n)]"), "{out}");
    let lit = rewrite_with(
        "package p\nallow if data.perms[3.0]\nz if data.perms[3]\n",
        &data,
    );
    assert!(
        lit.contains("data.perms[\"3.0\"]") && lit.contains("data.perms[3]"),
        "{lit}"
    );
    let plain = "package p\nallow if data.names[input.n]\n";
    assert_eq!(rewrite_with(plain, &data), plain);
    let rule = rewrite_with(
        "package p\nperms[k] := true if some k in input.ks\nallow if data.p.perms[input.n]\n",
        &data,
    );
    assert!(rule.contains("[data.p.perms][0][input.n]"), "{rule}");
}

#[test]
fn constructs_regorus_evaluates_differently_are_refused_with_their_position() {
    let (line, col, msg) = refusal("package p\nsame(x, x) := true\n");
    assert_eq!((line, col), (2, 9));
    assert!(msg.contains("repeats parameter `x`"), "{msg}");
    let (line, _, msg) = refusal("package p\ni := 0\nallow if { some i; input.r[i] == 1 }\n");
    assert_eq!(line, 3);
    assert!(msg.contains("`some i`"), "{msg}");
    let (line, col, msg) = refusal("package p\nallow if not input.roles[_] == \"banned\"\n");
    assert_eq!((line, col), (2, 26));
    assert!(msg.contains("var _ is unsafe"), "{msg}");
    let (_, _, msg) = refusal("package p\nallow if { not input.roles[i] == \"b\" }\n");
    assert!(msg.contains("var i is unsafe"), "{msg}");
    let (_, _, msg) = refusal("package p\nallow if {\"a\": 1} == [1]\n");
    assert!(msg.contains("match error"), "{msg}");
    let (_, _, msg) = refusal("package p\nallow if __c1_ == 1\n");
    assert!(msg.contains("reserved"), "{msg}");
}

#[test]
fn safe_negations_are_accepted() {
    for src in [
        "package p\nallow if { some r in input.roles; not r == \"banned\" }\n",
        "package p\nallow if { x := input.a; not x }\n",
        "package p\nallow if not count([r | some r in input.roles; r == \"x\"]) > 0\n",
        "package p\nbanned if input.roles[_] == \"banned\"\nallow if not banned\n",
    ] {
        prepare(
            &[("p.rego".into(), src.into())],
            &serde_json::json!({}),
            false,
        )
        .unwrap();
    }
}

#[test]
fn bindings_carry_the_statement_s_with_modifiers() {
    let out = rewrite(
        "package p\ntest_x if not startswith(input.p, \"/a\") with input as {\"p\": \"/b\"}\n",
    );
    assert!(
        out.contains("; __c0_ = input.p with input as {\"p\": \"/b\"}}"),
        "{out}"
    );
}

#[test]
fn with_future_keywords_not_a_negation_keeps_its_references_inside() {
    for import in [
        "import future.keywords.not",
        "import future.keywords",
        "import rego.v2",
    ] {
        let src = format!("package p\n{import}\nallow if not startswith(input.path, \"/admin\")\n");
        if let Ok(out) = prepare(
            &[("p.rego".into(), src.clone())],
            &serde_json::json!({}),
            false,
        ) {
            assert_eq!(out[0].1, src, "{import}");
        }
    }
}

#[test]
fn bindings_keep_opa_s_statement_order() {
    // The binding goes at the end of the statement before, so the negation
    // is evaluated before `input.n > 5`, as in OPA.
    let out = rewrite(
        "package p\nr if {\n  input.a\n  not endswith(input.path, \"x\")\n  input.n > 5\n}\n",
    );
    assert_eq!(
        out,
        "package p\nr if {\n  input.a; __c0_ = input.path\n  not endswith(__c0_     , \"x\")\n  input.n > 5\n}\n"
    );
}

#[test]
fn a_query_passes_output_arguments_to_engine_builtins_as_opa_does() {
    // uri.is_valid is CoreSDK's own builtin: regorus does not know its arity.
    assert_eq!(
        super::prepare_query("uri.is_valid(\"http://a\", x)"),
        "uri.is_valid(\"http://a\")=x "
    );
    assert_eq!(
        super::prepare_query("y := 1; net.cidr_merge([\"10.0.0.1\"],\n  out)"),
        "y := 1; net.cidr_merge([\"10.0.0.1\"])=out\n      "
    );
    // Unchanged: the right number of arguments, a user function, text that
    // does not parse (evaluating it reports the error).
    for q in [
        "uri.is_valid(\"http://a\")",
        "data.p.f(1, x)",
        "x := uri.is_valid(",
    ] {
        assert_eq!(super::prepare_query(q), q);
    }
}

#[test]
fn ordering_comparisons_of_two_non_literals_use_opa_s_order() {
    // Both operands may be collections: OPA's order (objects before sets).
    assert_eq!(
        rewrite("package p\nallow if input.x > {\"a\"}\n"),
        "package p\nallow if __coresdk.order(input.x, {\"a\"}) > 0\n"
    );
    assert_eq!(
        rewrite("package p\nallow if input.subject.level >= input.resource.level\n"),
        "package p\nallow if __coresdk.order(input.subject.level, input.resource.level) >= 0\n"
    );
    // A scalar literal on either side orders alike in regorus and OPA.
    let kept = "package p\nallow if input.age >= 18\nb if \"m\" < input.name\n";
    assert_eq!(rewrite(kept), kept);
    // Equality is not an ordering.
    let eq = "package p\nallow if input.a == input.b\n";
    assert_eq!(rewrite(eq), eq);
}

#[test]
fn walk_as_a_value_becomes_the_relation_form_keeping_positions() {
    let src = "package p\ndeny contains p if {\n  input.on\n  [p, v] := walk(input)\n  v == \"secret\"\n}\n";
    let out = rewrite(src);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[2], "  input.on; walk(input, __c0_)", "{out}");
    assert_eq!(lines[3], "  [p, v] := __c0_      ", "{out}");
    assert_eq!(lines[4], "  v == \"secret\"", "{out}");
}

#[test]
fn walk_with_an_output_argument_or_shadowed_is_untouched() {
    let src = "package p\npaths contains p if walk(input, [p, _])\n";
    assert_eq!(rewrite(src), src);
    let shadowed = "package p\nwalk(x) := [x]\ny := walk(1)\n";
    assert_eq!(rewrite(shadowed), shadowed);
}

#[test]
fn a_negated_walk_negates_a_value_that_always_exists() {
    let out = rewrite("package p\nallow if { x := input.a; not walk(x) }\n");
    assert!(out.contains("not     [x]"), "{out}");
}

#[test]
fn declared_vars_opa_refuses_are_refused() {
    let cases = [
        (
            "package p\nallow if { some y; input.ok }\n",
            "declared var y unused",
        ),
        (
            "package p\nallow if { every k, v in input.xs { v > 0 } }\n",
            "declared var k unused",
        ),
        (
            "package p\nallow if { every v in input.xs { true } }\n",
            "declared var v unused",
        ),
        (
            "package p\nallow if { some y; y := 1 }\n",
            "var y declared above",
        ),
        (
            "package p\np contains y if { some y; input.a }\n",
            "var y is unsafe",
        ),
        ("package p\nx := [y | some y; input.a]\n", "var y is unsafe"),
        (
            "package p\nallow if { some y; count([1 | some y; y = 1]) > 0 }\n",
            "declared var y unused",
        ),
    ];
    for (src, want) in cases {
        let (line, _, message) = refusal(src);
        assert_eq!(line, 2, "{src}");
        assert!(message.contains(want), "{src}: {message}");
    }
}

#[test]
fn declared_vars_opa_accepts_load() {
    for src in [
        "package p\nallow if { some y; input.a[y] }\n",
        "package p\nx := [y | some y; input.a[y]]\n",
        "package p\nallow if { every _, v in input.xs { v > 0 } }\n",
        "package p\nallow if { every k, v in input.o { k != v } }\n",
        "package p\nallow if { some i, j; input.a[i][j] }\n",
        "package p\nf(a) := y if { some y; y = a }\n",
        "package p\nallow if { some y in input.a; true }\n",
        "package p\nallow if { some y; [1 | y = 1] }\n",
    ] {
        let r = prepare(
            &[("p.rego".into(), src.into())],
            &serde_json::json!({}),
            false,
        );
        assert!(r.is_ok(), "{src}: {r:?}");
    }
}

#[test]
fn an_else_value_bound_by_nothing_is_refused() {
    let (line, _, message) = refusal("package p\nx := y if { y = 2 } else := z if { input.b }\n");
    assert_eq!(line, 2);
    assert!(message.contains("var z is unsafe"), "{message}");
    for src in [
        "package p\nx := y if { y = 2 } else := z if { z := input.b }\n",
        "package p\nd := 3\nx := y if { y = input.a } else := d\n",
        "package p\nf(a) := 1 if { a > 1 } else := a\n",
        "package p\nx := 1 if { input.a } else := input.b if { true }\n",
        "package p\nxs := {1, 2}\nq := false if { false } else := xs[_]\n",
        "package p\nx := 1 if { input.a } else := [v | some v in input.c] if { true }\n",
    ] {
        let r = prepare(
            &[("p.rego".into(), src.into())],
            &serde_json::json!({}),
            false,
        );
        assert!(r.is_ok(), "{src}: {r:?}");
    }
}
