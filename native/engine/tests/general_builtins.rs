//! The general builtins CoreSDK implements itself (issue 28: strings,
//! arrays, globs, digests and HMACs, URIs, CIDRs; `substring` and
//! `array.slice`, where regorus answered a value for a non-integer index)
//! through the `Engine`:
//! each answers in a policy, and an error inside one in an allow rule
//! denies (deny-on-error), on the fast path's routes and the interpreter's.

use coresdk_engine::{Engine, EngineConfig, VerdictReason};
use serde_json::json;

fn inline(src: &str) -> Engine {
    Engine::new(EngineConfig::inline(
        vec![("test.rego".into(), src.into())],
        json!({}),
    ))
    .unwrap()
}

/// Each builtin with arguments that answer `true`-ish, and arguments
/// where OPA raises.
const CASES: &[(&str, &str, &str)] = &[
    (
        "count(strings.split_n(input.a, \".\", 2)) == 2",
        r#"{"a": "x.y.z"}"#,
        r#"{"a": 1}"#,
    ),
    (
        "count(array.flatten(input.a)) == 3",
        r#"{"a": [1, [2, 3]]}"#,
        r#"{"a": "x"}"#,
    ),
    (
        "regex.globs_match(input.a, \"a.*\")",
        r#"{"a": "a+"}"#,
        r#"{"a": "pqrs]"}"#,
    ),
    (
        "crypto.md5(input.a) != \"\"",
        r#"{"a": "x"}"#,
        r#"{"a": 1}"#,
    ),
    (
        "crypto.sha1(input.a) != \"\"",
        r#"{"a": "x"}"#,
        r#"{"a": 1}"#,
    ),
    (
        "crypto.sha256(input.a) != \"\"",
        r#"{"a": "x"}"#,
        r#"{"a": 1}"#,
    ),
    (
        "crypto.hmac.sha256(input.a, \"k\") != \"\"",
        r#"{"a": "x"}"#,
        r#"{"a": 1}"#,
    ),
    (
        "crypto.hmac.equal(input.a, \"x\")",
        r#"{"a": "x"}"#,
        r#"{"a": null}"#,
    ),
    (
        "uri.parse(input.a).hostname == \"example.com\"",
        r#"{"a": "https://example.com/"}"#,
        r#"{"a": "http://exa%6dple.com/"}"#,
    ),
    (
        "net.cidr_merge(input.a) == {\"10.0.0.0/23\"}",
        r#"{"a": ["10.0.0.0/24", "10.0.1.0/24"]}"#,
        r#"{"a": ["2001:db8::1"]}"#,
    ),
    (
        "net.cidr_intersects(input.a, \"10.0.0.0/8\")",
        r#"{"a": "10.1.0.0/16"}"#,
        r#"{"a": "not-a-cidr"}"#,
    ),
    (
        "count(net.cidr_contains_matches(input.a, \"10.1.2.3\")) == 1",
        r#"{"a": ["10.0.0.0/8"]}"#,
        r#"{"a": [[]]}"#,
    ),
    // regorus's substring answered "" for a non-integer offset, its
    // array.slice undefined: both allowed here where OPA raises.
    (
        "substring(input.s, input.o, 1) == \"\"",
        r#"{"s": "abc", "o": 5}"#,
        r#"{"s": "abc", "o": 1.5}"#,
    ),
    (
        "count(array.slice(input.a, input.i, 2)) == 0",
        r#"{"a": [1, 2, 3], "i": 5}"#,
        r#"{"a": [1, 2, 3], "i": 0.5}"#,
    ),
    // regorus answered these where OPA raises (a sweep of builtins with
    // edge arguments against opa eval --strict-builtin-errors).
    (
        "indexof(input.s, input.t) >= 0",
        r#"{"s": "abc", "t": "b"}"#,
        r#"{"s": "abc", "t": ""}"#,
    ),
    (
        "count(indexof_n(input.s, input.t)) >= 0",
        r#"{"s": "abc", "t": "b"}"#,
        r#"{"s": "abc", "t": ""}"#,
    ),
    ("to_number(input.n) > 0", r#"{"n": "1"}"#, r#"{"n": " 1"}"#),
    (
        "urlquery.decode(input.q) != \"\"",
        r#"{"q": "a%20b"}"#,
        r#"{"q": "%zz"}"#,
    ),
];

#[test]
fn each_builtin_answers_and_its_error_denies() {
    for (expr, ok, bad) in CASES {
        // A plain allow rule, and a default-false one with a deny rule:
        // an error denies in both.
        let e = inline(&format!(
            "package t\nallow if {{ {expr} }}\ndefault gate := false\ngate if {{ not deny }}\ndeny if {{ not {expr} }}\n"
        ));
        let ok: serde_json::Value = serde_json::from_str(ok).unwrap();
        let bad: serde_json::Value = serde_json::from_str(bad).unwrap();
        assert!(e.is_allowed("data.t.allow", &ok), "{expr} with {ok}");
        assert!(e.is_allowed("data.t.gate", &ok), "{expr} with {ok}");
        for query in ["data.t.allow", "data.t.gate"] {
            let v = e.decide(query, &bad);
            assert!(!v.allowed, "{query}: {expr} with {bad}");
            assert_eq!(
                v.reason,
                VerdictReason::Error("ERR_EVAL"),
                "{expr} with {bad}"
            );
        }
    }
}

#[test]
fn ceil_floor_and_strings_count_answer_opa_s_values() {
    // OPA v1.22.4: ceil(-0.5) is 1 and floor(-0.5) is 0 (its truncation
    // steps by the sign of zero); strings.count does not overlap. regorus
    // answered 0, -1 and 3, and each rule below allowed where OPA denies.
    let e = inline(
        "package t\nlow if ceil(input.x) < 1\nneg if floor(input.x) < 0\nmany if strings.count(input.s, \"aa\") > 2\n",
    );
    let x = json!({"x": -0.5, "s": "aaaa"});
    for query in ["data.t.low", "data.t.neg", "data.t.many"] {
        let v = e.decide(query, &x);
        assert!(!v.allowed, "{query}");
        assert_eq!(v.reason, VerdictReason::Undefined, "{query}");
    }
    assert!(e.is_allowed("data.t.low", &json!({"x": -1.5})));
    assert!(e.is_allowed("data.t.many", &json!({"s": "aaaaaa"})));
}

#[test]
fn net_cidr_overlap_is_deprecated_in_rego_v1() {
    // As OPA: refused at compile time in a Rego v1 module (it is there for
    // Rego v0 bundles).
    let err = Engine::new(EngineConfig::inline(
        vec![(
            "test.rego".into(),
            "package t\nallow if net.cidr_overlap(\"10.0.0.0/8\", input.a)\n".into(),
        )],
        json!({}),
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("deprecated built-in"), "{err}");
}

#[test]
fn uri_is_valid_is_false_not_an_error() {
    let e = inline("package t\nallow if uri.is_valid(input.a)\n");
    assert!(e.is_allowed("data.t.allow", &json!({"a": "https://example.com"})));
    let v = e.decide("data.t.allow", &json!({"a": 1}));
    assert_eq!(v.reason, VerdictReason::Undefined);
}

#[test]
fn exponent_literals_are_floats_as_in_opa() {
    // regorus reads `1e6` and `1e2` as integers; OPA as floating-point
    // numbers: sprintf prints 1e+06, an integer operand refuses 1e0, and
    // json.marshal of an integral double has no known text (an error).
    // Arithmetic on them is exact and integral, as OPA's.
    let e = inline(concat!(
        "package t\n",
        "v := sprintf(\"%v|%f|%v\", [1e6, 1e2, 1e6 * 2])\n",
        "big if sprintf(\"%v\", [1e6]) == \"1000000\"\n",
        "same if 1e30 == 1000000000000000000000000000000\n",
        "sub if substring(\"abcdef\", 1e0, 2) == \"bc\"\n",
        "eq if { 1e3 == 1000; 1e3 + 1 == 1001; 1000 in {1e3}; 2.5e1 > 24 }\n",
        "d := [1e3]\n",
        "m := json.marshal(1e3)\n",
    ));
    let x = json!({});
    assert_eq!(
        e.evaluate_policy("data.t.v", &x).unwrap().value,
        Some(json!("1e+06|100.000000|2000000"))
    );
    assert!(!e.is_allowed("data.t.big", &x));
    assert!(!e.is_allowed("data.t.sub", &x));
    assert!(e.is_allowed("data.t.eq", &x));
    assert!(e.is_allowed("data.t.same", &x));
    assert!(e.evaluate_policy("data.t.m", &x).is_err());
    let d = e.evaluate_policy("data.t.d", &x).unwrap().value.unwrap();
    assert_eq!(d[0].as_f64(), Some(1000.0));
    let refused = Engine::new(EngineConfig::inline(
        vec![(
            "test.rego".into(),
            "package t\ndefault d := {\"n\": 1e3}\n".into(),
        )],
        json!({}),
    ));
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("the default value's number 1e3 has an exponent"),
        "{message}"
    );
}
