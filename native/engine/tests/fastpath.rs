//! The VM fast path: deny on error holds in every shape, whichever evaluator
//! answers, and the VM answers exactly as the interpreter on the benchmark
//! bundles, the example bundle and generated inputs.

use std::path::{Path, PathBuf};

use coresdk_engine::{Decision, Engine, EngineConfig, EngineError};
use serde_json::{json, Value};

fn engine(src: &str, fast: bool) -> Engine {
    let mut cfg = EngineConfig::inline(vec![("t.rego".into(), src.into())], json!({}));
    cfg.fast_path = fast;
    cfg.decision_cache_entries = 0;
    Engine::new(cfg).unwrap()
}

fn dir_engine(dir: &Path, fast: bool) -> Engine {
    let mut cfg = EngineConfig::for_dir(dir);
    cfg.watch = false;
    cfg.fast_path = fast;
    cfg.decision_cache_entries = 0;
    cfg.pool_size = 1;
    // The interpreter's debug build is slow on the 1,000-rule bundle; the
    // limit is not what these tests are about.
    cfg.eval_timeout = std::time::Duration::from_secs(60);
    Engine::new(cfg).unwrap()
}

/// What a caller can observe: the value, or the error's code.
fn outcome(r: &Result<Decision, EngineError>) -> Result<Option<Value>, &'static str> {
    match r {
        Ok(d) => Ok(d.value.clone()),
        Err(e) => Err(e.code()),
    }
}

/// Evaluates on both evaluators and requires the same outcome; returns it.
fn both(src: &str, query: &str, input: &Value) -> Result<Option<Value>, &'static str> {
    let fast = engine(src, true);
    let slow = engine(src, false);
    let a = outcome(&fast.evaluate_policy(query, input));
    let b = outcome(&slow.evaluate_policy(query, input));
    assert_eq!(
        a, b,
        "fast path and interpreter differ on {query} for {input}"
    );
    // And the verdict is never an allow when anything failed.
    if a.is_err() {
        assert!(!fast.decide(query, input).allowed);
    }
    a
}

// --- Deny on error: an error anywhere in an allow-style evaluation is never an allow.

#[test]
fn an_error_in_a_deny_rule_denies() {
    let src = r#"package t
default allow := false
allow if count(deny) == 0
deny contains "bad prefix" if startswith(input.name, "x")
deny contains "big" if input.size > 10
"#;
    // A number where startswith needs a string: the builtin raises.
    assert_eq!(
        both(src, "data.t.allow", &json!({"name": 5, "size": 1})),
        Err("ERR_EVAL")
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"name": "a", "size": 1})),
        Ok(Some(json!(true)))
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"name": "xa", "size": 1})),
        Ok(Some(json!(false)))
    );
    let e = engine(src, true);
    assert!(
        e.fast_path_route("data.t.allow").is_none(),
        "{:?}",
        e.fast_path_route("data.t.allow")
    );
}

#[test]
fn an_error_under_not_denies() {
    let src = r#"package t
default allow := false
allow if not blocked
blocked if endswith(input.email, "@blocked.example")
"#;
    assert_eq!(
        both(
            src,
            "data.t.allow",
            &json!({"email": ["not", "a", "string"]})
        ),
        Err("ERR_EVAL")
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"email": {"o": 1}})),
        Err("ERR_EVAL")
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"email": "a@ok.example"})),
        Ok(Some(json!(true)))
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"email": "a@blocked.example"})),
        Ok(Some(json!(false)))
    );
}

#[test]
fn an_error_in_a_counted_set_denies() {
    let src = r#"package t
default allow := false
allow if count(bad) == 0
bad contains item if {
	some item in input.items
	contains(item, "forbidden")
}
"#;
    assert_eq!(
        both(src, "data.t.allow", &json!({"items": ["a", 7]})),
        Err("ERR_EVAL")
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"items": ["a", "b"]})),
        Ok(Some(json!(true)))
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"items": ["forbidden!"]})),
        Ok(Some(json!(false)))
    );
    // A comprehension counted inline behaves the same.
    let src2 = r#"package t
default allow := false
allow if count([x | some x in input.items; contains(x, "forbidden")]) == 0
"#;
    assert_eq!(
        both(src2, "data.t.allow", &json!({"items": [null]})),
        Err("ERR_EVAL")
    );
    assert_eq!(
        both(src2, "data.t.allow", &json!({"items": ["ok"]})),
        Ok(Some(json!(true)))
    );
}

#[test]
fn an_error_in_a_function_denies() {
    let src = r#"package t
default allow := false
allow if not is_admin_path(input.path)
is_admin_path(p) if startswith(p, "/admin")
"#;
    assert_eq!(
        both(src, "data.t.allow", &json!({"path": 42})),
        Err("ERR_EVAL")
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"path": "/docs"})),
        Ok(Some(json!(true)))
    );
    assert_eq!(
        both(src, "data.t.allow", &json!({"path": "/admin/x"})),
        Ok(Some(json!(false)))
    );
}

#[test]
fn errors_the_pass_cannot_rule_out_go_to_the_interpreter() {
    // Division by zero, a builtin outside the allow-list, and a complete
    // rule whose iterating body may produce two values: the interpreter's
    // error stands. Division is planned (the tree evaluator falls back on
    // its error); the other two make the query ineligible.
    let cases = [
        (
            "package t\ndefault allow := false\nallow if not over\nover if input.a / input.b > 1\n",
            json!({"a": 1, "b": 0}),
        ),
        (
            "package t\ndefault allow := false\nallow if not bad\nbad if to_number(input.n) > 3\n",
            json!({"n": "three"}),
        ),
        (
            "package t\ndefault allow := false\nrole := r if some r in input.roles\nallow if role == \"admin\"\n",
            json!({"roles": ["admin", "viewer"]}),
        ),
    ];
    for (i, (src, input)) in cases.into_iter().enumerate() {
        assert_eq!(both(src, "data.t.allow", &input), Err("ERR_EVAL"), "{src}");
        let e = engine(src, true);
        assert_eq!(
            e.fast_path_route("data.t.allow").is_some(),
            i > 0,
            "{src}: {:?}",
            e.fast_path_plan("data.t.allow")
        );
    }
}

#[test]
fn mixed_kind_comparisons_agree() {
    // The interpreter orders values of different kinds ("x" > 3); the VM in
    // strict mode refuses to. A guard sends such inputs to the interpreter.
    let src = r#"package t
default allow := false
allow if input.level >= 3
deny_low if input.level < 3
allow2 if not deny_low
"#;
    for level in [
        json!(5),
        json!(1),
        json!("x"),
        json!(null),
        json!([1]),
        json!(true),
    ] {
        let input = json!({ "level": level });
        let _ = both(src, "data.t.allow", &input);
        let _ = both(src, "data.t.allow2", &input);
    }
    let e = engine(src, true);
    assert!(e.fast_path_route("data.t.allow").is_none());
    e.evaluate_policy("data.t.allow", &json!({"level": 5}))
        .unwrap();
    e.evaluate_policy("data.t.allow", &json!({"level": "x"}))
        .unwrap();
    let stats = e.fast_path_stats();
    assert_eq!((stats.vm, stats.interpreter), (1, 1), "{stats:?}");
}

#[test]
fn glob_guards_refuse_nul_text() {
    let src = r#"package t
default allow := false
allow if glob.match("a.*", ["."], input.host)
"#;
    for host in [json!("a.b"), json!("a\u{0}b"), json!(7), json!("b.c")] {
        let _ = both(src, "data.t.allow", &json!({ "host": host }));
    }
}

#[test]
fn invalid_patterns_stay_on_the_interpreter() {
    let src = "package t\ndefault allow := false\nallow if regex.match(\"[\", input.s)\n";
    assert_eq!(
        both(src, "data.t.allow", &json!({"s": "a"})),
        Err("ERR_EVAL")
    );
    assert!(engine(src, true).fast_path_route("data.t.allow").is_some());
}

#[test]
fn with_and_imports_are_not_planned() {
    let src = "package t\nimport data.x as y\nallow if y == 1\n";
    assert!(engine(src, true).fast_path_route("data.t.allow").is_some());
    let src = "package t\nallow if f with input.a as 1\nf if input.a == 1\n";
    assert!(engine(src, true).fast_path_route("data.t.allow").is_some());
}

#[test]
fn an_import_refuses_only_the_rules_of_its_module() {
    // Imports are local to their module: a test module's `import data.t`
    // leaves `data.t.allow` on the fast path; a rule of a module with an
    // import the pass does not resolve goes to the interpreter, naming it.
    let mut cfg = EngineConfig::inline(
        vec![
            ("t.rego".into(), "package t\nallow if input.a == 1\n".into()),
            (
                "t_test.rego".into(),
                "package t_test\nimport data.t\ntest_allow if t.allow with input as {\"a\": 1}\n"
                    .into(),
            ),
            (
                "t_more.rego".into(),
                "package t\nimport data.x as y\nother if y == 1\nvia if allow\n".into(),
            ),
        ],
        json!({"x": 1}),
    );
    cfg.decision_cache_entries = 0;
    let e = Engine::new(cfg).unwrap();
    assert_eq!(e.fast_path_route("data.t.allow"), None);
    let why = e.fast_path_route("data.t.other").expect("other is refused");
    assert!(why.contains("import data.x as y"), "{why}");
    assert!(e.fast_path_route("data.t.via").is_some());
    assert_eq!(
        e.evaluate_policy("data.t.allow", &json!({"a": 1}))
            .unwrap()
            .value,
        Some(json!(true))
    );
    assert_eq!(
        e.evaluate_policy("data.t.other", &json!({})).unwrap().value,
        Some(json!(true))
    );
    // The example bundle's test modules import the packages they test and
    // define reference heads: neither keeps the policies off the fast path.
    let ex = dir_engine(&repo().join("examples/policies"), true);
    assert_eq!(ex.fast_path_route("data.authz.allow"), None);
    let why = ex.fast_path_route("data.authzen.allow").unwrap_or_default();
    assert!(!why.contains("import") && !why.contains("head"), "{why}");
}

#[test]
fn a_reference_head_refuses_only_the_rules_it_overlaps() {
    let mut cfg = EngineConfig::inline(
        vec![
            (
                "p.rego".into(),
                "package p\ngrants[x] if some x in input.g\nby_grant if grants.a\nplain if input.a == 1\n"
                    .into(),
            ),
            ("q.rego".into(), "package p.grants\nb := true\n".into()),
        ],
        json!({}),
    );
    cfg.decision_cache_entries = 0;
    let e = Engine::new(cfg).unwrap();
    assert_eq!(e.fast_path_route("data.p.plain"), None);
    for q in ["data.p.by_grant", "data.p.grants.b"] {
        let why = e.fast_path_route(q).unwrap_or_default();
        assert!(
            why.contains("a reference head defines data.p.grants (p.rego:2:1)"),
            "{q}: {why}"
        );
    }
    assert_eq!(
        e.evaluate_policy("data.p.by_grant", &json!({"g": ["a"]}))
            .unwrap()
            .value,
        Some(json!(true))
    );
}

#[test]
fn timeouts_are_timeouts_on_the_vm_too() {
    // A quadratic walk over a large input under a 1 ms limit.
    let src = r#"package t
default allow := false
allow if {
	some a in input.xs
	some b in input.xs
	a == b + 1000000
}
"#;
    let mut cfg = EngineConfig::inline(vec![("t.rego".into(), src.into())], json!({}));
    cfg.decision_cache_entries = 0;
    cfg.eval_timeout = std::time::Duration::from_millis(1);
    let e = Engine::new(cfg).unwrap();
    let xs: Vec<u32> = (0..3000).collect();
    let r = e.evaluate_policy("data.t.allow", &json!({ "xs": xs }));
    assert_eq!(outcome(&r), Err("ERR_EVAL_TIMEOUT"));
}

// --- Differential: the VM answers as the interpreter does.

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values that break assumptions: other kinds, empties, NUL, huge numbers.
fn odd_value(rng: &mut Rng, siblings: &[Value]) -> Value {
    let pool = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(2.5),
        json!(1e300),
        json!(9007199254740993u64),
        json!(""),
        json!("x"),
        json!("a\u{0}b"),
        json!("/api/v1/../admin"),
        json!([]),
        json!(["admin"]),
        json!([1, "a"]),
        json!({}),
        json!({"a": 1}),
    ];
    if !siblings.is_empty() && rng.below(3) == 0 {
        return siblings[rng.below(siblings.len())].clone();
    }
    pool[rng.below(pool.len())].clone()
}

/// Mutates one leaf (or removes a key) somewhere in `v`.
fn mutate(v: &mut Value, rng: &mut Rng, siblings: &[Value]) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = &keys[rng.below(keys.len())];
            match rng.below(4) {
                0 => {
                    map.remove(k);
                }
                1 => {
                    map.insert(k.clone(), odd_value(rng, siblings));
                }
                _ => mutate(map.get_mut(k).expect("key"), rng, siblings),
            }
        }
        Value::Array(items) if !items.is_empty() && rng.below(3) != 0 => {
            let i = rng.below(items.len());
            mutate(&mut items[i], rng, siblings);
        }
        other => *other = odd_value(rng, siblings),
    }
}

fn leaves(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => m.values().for_each(|c| leaves(c, out)),
        Value::Array(a) => a.iter().for_each(|c| leaves(c, out)),
        other => out.push(other.clone()),
    }
}

/// Runs `n` generated inputs (the bundle's own, then mutations) through both
/// evaluators; returns how many the VM answered.
fn differential(dir: &Path, query: &str, inputs: &[Value], n: usize, seed: u64) -> u64 {
    let fast = dir_engine(dir, true);
    let slow = dir_engine(dir, false);
    let mut siblings = Vec::new();
    for i in inputs {
        leaves(i, &mut siblings);
    }
    let mut rng = Rng(seed);
    for k in 0..n {
        let mut input = inputs[k % inputs.len()].clone();
        if k >= inputs.len() {
            for _ in 0..=rng.below(3) {
                mutate(&mut input, &mut rng, &siblings);
            }
        }
        let a = outcome(&fast.evaluate_policy(query, &input));
        let b = outcome(&slow.evaluate_policy(query, &input));
        assert_eq!(
            a,
            b,
            "{}: fast path and interpreter differ for {input}",
            dir.display()
        );
        // The same input as JSON text, read in place by the fast path.
        let t = outcome(&fast.evaluate_policy_json(query, &input.to_string()));
        assert_eq!(
            t,
            b,
            "{}: JSON text input differs for {input}",
            dir.display()
        );
    }
    assert_eq!(slow.fast_path_stats().vm, 0);
    fast.fast_path_stats().vm
}

fn load_inputs(dir: &Path) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("inputs.json")).unwrap()).unwrap()
}

#[test]
fn benchmark_bundles_agree_on_generated_inputs() {
    let bundles = [
        ("rbac", "data.authz.allow"),
        ("abac", "data.abac.allow"),
        ("rules100", "data.rules100.allow"),
        ("gateway", "data.gateway.allow"),
        ("rolegraph", "data.rolegraph.allow"),
        ("denyset", "data.denyset.allow"),
        ("rules1000", "data.rules1000.allow"),
        ("abacpair", "data.abacpair.allow"),
    ];
    for (i, (name, query)) in bundles.iter().enumerate() {
        let dir = repo().join("bench/policies").join(name);
        let inputs = load_inputs(&dir);
        let plan = dir_engine(&dir, true).fast_path_plan(query);
        assert!(
            plan.reason.is_none(),
            "{name} should be planned for the VM: {plan:?}"
        );
        let many_bodied = ["rules100", "gateway", "rules1000"].contains(name);
        assert_eq!(plan.indexed, many_bodied, "{name}: {plan:?}");
        assert_eq!(plan.evaluator, "tree", "{name}: {plan:?}");
        let n = if *name == "rules1000" { 300 } else { 1500 };
        let vm = differential(&dir, query, &inputs, n, 0x9e37_79b9 + i as u64);
        // Most inputs pass the guards; the VM must really have answered.
        assert!(
            vm as usize > n / 3,
            "{name}: the VM answered only {vm} of {n}"
        );
    }
}

#[test]
fn example_bundle_agrees_on_generated_inputs() {
    let dir = repo().join("examples/policies");
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/inputs.json")).unwrap(),
    )
    .unwrap();
    let mut by_query: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for c in cases {
        by_query
            .entry(c["query"].as_str().unwrap().to_string())
            .or_default()
            .push(c["input"].clone());
    }
    for (query, inputs) in by_query {
        differential(&dir, &query, &inputs, 600, 7);
    }
}

#[test]
fn exclusive_definitions_are_planned_and_overlapping_ones_are_not() {
    // The example bundle's shape: who is asking, from claims or from input.user.
    let src = r#"package t
default allow := false
user := {"id": input.claims.sub, "roles": object.get(input.claims, "roles", [])} if input.claims
user := input.user if not input.claims
allow if "admin" in user.roles
allow if {
	some role in user.roles
	role == input.needed
}
"#;
    assert!(engine(src, true).fast_path_route("data.t.allow").is_none());
    for input in [
        json!({"claims": {"sub": "a", "roles": ["admin"]}}),
        json!({"claims": {"sub": "a", "roles": "admin"}}),
        json!({"claims": {"sub": "a"}, "needed": "x"}),
        json!({"claims": "not an object"}),
        json!({"claims": false, "user": {"roles": ["x"]}, "needed": "x"}),
        json!({"user": {"roles": 5}}),
        json!({"user": {"roles": ["admin"]}}),
        json!({}),
    ] {
        let _ = both(src, "data.t.allow", &input);
    }
    // Two definitions that can both hold, with different values, conflict:
    // the interpreter raises, so the VM must not answer.
    let src = r#"package t
default allow := false
user := input.a if input.x
user := input.b if input.y
allow if user == "admin"
"#;
    assert!(engine(src, true).fast_path_route("data.t.allow").is_some());
    assert_eq!(
        both(
            src,
            "data.t.allow",
            &json!({"x": true, "y": true, "a": "admin", "b": "guest"})
        ),
        Err("ERR_EVAL")
    );
    // Different constants on one path exclude each other too.
    let src = r#"package t
default allow := false
limit := input.small if input.plan == "free"
limit := input.large if input.plan == "team"
allow if limit > 4
"#;
    assert!(engine(src, true).fast_path_route("data.t.allow").is_none());
    for input in [
        json!({"plan": "free", "small": 3, "large": 10, "n": 5}),
        json!({"plan": "team", "small": 3, "large": 10, "n": 5}),
        json!({"plan": "team", "small": 3, "large": "10", "n": 5}),
        json!({"plan": "gold", "n": 5}),
    ] {
        let _ = both(src, "data.t.allow", &input);
    }
}

/// Runs `n` generated variants of `inputs` through both evaluators on an
/// inline policy; returns how many the fast path answered.
fn inline_differential(src: &str, query: &str, inputs: &[Value], n: usize, seed: u64) -> u64 {
    let fast = engine(src, true);
    let slow = engine(src, false);
    assert_eq!(
        fast.fast_path_plan(query).evaluator,
        "tree",
        "{query} should run on the tree evaluator: {:?}",
        fast.fast_path_plan(query)
    );
    let mut siblings = Vec::new();
    for i in inputs {
        leaves(i, &mut siblings);
    }
    let mut rng = Rng(seed);
    for k in 0..n {
        let mut input = inputs[k % inputs.len()].clone();
        if k >= inputs.len() {
            for _ in 0..=rng.below(3) {
                mutate(&mut input, &mut rng, &siblings);
            }
        }
        let a = outcome(&fast.evaluate_policy(query, &input));
        let b = outcome(&slow.evaluate_policy(query, &input));
        assert_eq!(a, b, "{query}: tree and interpreter differ for {input}");
        let t = outcome(&fast.evaluate_policy_json(query, &input.to_string()));
        assert_eq!(t, b, "{query}: JSON text input differs for {input}");
    }
    fast.fast_path_stats().vm
}

#[test]
fn the_tree_evaluator_computes_values_as_the_interpreter_does() {
    // Every construct the tree evaluator lowers, producing values that are
    // not just booleans: sets, arrays from comprehensions (order matters),
    // objects, rule references across packages, functions with several
    // exclusive definitions, `every`, `some k, v`, ref iteration, set
    // algebra, arithmetic, and an indexed many-bodied rule.
    let src = r#"package t
import rego.v1

default allow := false

roles := {r | some r in input.user.roles}
names := [n | some n in input.names]
pairs := [[k, v] | some k, v in input.attrs]
keys_sorted := [k | input.attrs[k]]
doubled := [y | some x in input.nums; is_number(x); y := (x * 2) + 1]
both_roles := roles & {"admin", "editor"}
either := roles | {"viewer"}
left := roles - {"admin"}
total := count(input.names) + count(roles)
summary := {"n": count(roles), "first": names[0], "tenant": input.tenant}
level(r) := data.t2.levels[r]
max_level := max_of([level(r) | some r in roles])
max_of(xs) := m if {
	some m in xs
	every y in xs { y <= m }
}
all_short if every n in input.names { count(n) < 5 }
tagged contains sprintf_free if {
	some n in input.names
	startswith(n, "a")
	sprintf_free := upper(n)
}
tagged contains "tenant" if input.tenant == data.t2.home
nested := data.t2.counts[input.tenant]
# An `else` without a value is `true`, not the head's value (OPA's
# elsekeyword/first-match).
chosen := "first" if {
	input.tenant == "acme"
} else if {
	input.method == "GET"
} else := "last"
allow if {
	input.method == "GET"
	"viewer" in roles
}
allow if {
	input.method == "PUT"
	some r in roles
	level(r) >= 2
}
allow if {
	input.method == "DELETE"
	"admin" in roles
	input.tenant == data.t2.home
}
allow if {
	input.method in {"PATCH", "POST"}
	level(input.user.roles[_]) == 2
}
allow if { input.method == "HEAD" }
allow if { input.method == "OPTIONS" }
allow if { input.method == "TRACE"; all_short }
allow if { input.method == "CONNECT"; total > 3 }
allow if { input.override == true }
"#;
    let src = format!(
        "{src}\n{}",
        r#"package t2
home := "acme"
counts := {"acme": 1, "globex": 2}
levels := {"admin": 3, "editor": 2, "viewer": 1}
"#
    );
    // Two modules in one file are not allowed; split them.
    let (t, t2) = src.split_at(src.find("package t2").unwrap());
    let mut cfg = EngineConfig::inline(
        vec![("t.rego".into(), t.into()), ("t2.rego".into(), t2.into())],
        json!({}),
    );
    cfg.decision_cache_entries = 0;
    // A loaded machine must not turn a debug-build evaluation into a
    // timeout on one side: the limit is not what this test is about.
    cfg.eval_timeout = std::time::Duration::from_secs(60);
    let fast = Engine::new(cfg.clone()).unwrap();
    cfg.fast_path = false;
    let slow = Engine::new(cfg).unwrap();
    let inputs = [
        json!({"user": {"roles": ["admin", "viewer"]}, "names": ["ann", "bob"], "attrs": {"b": 2, "a": 1}, "nums": [3, 1, "x"], "tenant": "acme", "method": "DELETE"}),
        json!({"user": {"roles": ["editor"]}, "names": ["alexander"], "attrs": {}, "nums": [], "tenant": "globex", "method": "PATCH"}),
        json!({"user": {"roles": ["viewer"]}, "names": [], "attrs": {"z": true}, "nums": [2.5], "tenant": "initech", "method": "GET"}),
        json!({"user": {"roles": []}, "names": ["al", "ab"], "method": "TRACE", "override": true}),
        json!({"method": "CONNECT", "names": ["a", "b", "c"], "user": {"roles": ["x"]}}),
    ];
    let queries = [
        "data.t.allow",
        "data.t.roles",
        "data.t.names",
        "data.t.pairs",
        "data.t.keys_sorted",
        "data.t.doubled",
        "data.t.both_roles",
        "data.t.either",
        "data.t.left",
        "data.t.total",
        "data.t.summary",
        "data.t.max_level",
        "data.t.all_short",
        "data.t.tagged",
        "data.t.nested",
        "data.t.chosen",
    ];
    let mut planned = 0;
    for (qi, query) in queries.iter().enumerate() {
        let plan = fast.fast_path_plan(query);
        if plan.evaluator == "tree" {
            planned += 1;
        }
        let mut rng = Rng(0x5eed + qi as u64);
        let mut siblings = Vec::new();
        for i in &inputs {
            leaves(i, &mut siblings);
        }
        for k in 0..400 {
            let mut input = inputs[k % inputs.len()].clone();
            if k >= inputs.len() {
                for _ in 0..=rng.below(3) {
                    mutate(&mut input, &mut rng, &siblings);
                }
            }
            let a = outcome(&fast.evaluate_policy(query, &input));
            let b = outcome(&slow.evaluate_policy(query, &input));
            assert_eq!(
                a, b,
                "{query} ({plan:?}): tree and interpreter differ for {input}"
            );
            // Text with whitespace, escapes and a repeated key, read in place.
            if input.as_object().is_none_or(|m| m.is_empty()) {
                continue;
            }
            let text = format!(
                " {} ",
                input
                    .to_string()
                    .replacen('{', "{\"dup\": 1, \"d\\u0075p\": 2, ", 1)
            );
            let mut with_dup = input.clone();
            if let Value::Object(m) = &mut with_dup {
                m.insert("dup".into(), json!(2));
            }
            let t = outcome(&fast.evaluate_policy_json(query, &text));
            let d = outcome(&slow.evaluate_policy(query, &with_dup));
            assert_eq!(t, d, "{query}: JSON text input differs for {text}");
        }
    }
    assert!(
        fast.fast_path_plan("data.t.allow").indexed,
        "the many-bodied allow is indexed: {:?}",
        fast.fast_path_plan("data.t.allow")
    );
    assert!(
        planned >= 10,
        "only {planned} queries ran on the tree evaluator"
    );
    assert!(fast.fast_path_stats().vm > 1000);
}

#[test]
fn the_tree_evaluator_answers_the_deny_on_error_shapes_too() {
    // The same shapes as above, each planned on the tree evaluator, with
    // inputs that pass and inputs that would raise.
    let src = r#"package t
import rego.v1
default allow := false
deny contains "path" if startswith(input.path, "/admin")
allow if {
	count(deny) == 0
	input.user != ""
}
"#;
    let n = inline_differential(
        src,
        "data.t.allow",
        &[
            json!({"path": "/admin/x", "user": "a"}),
            json!({"path": "/docs", "user": "a"}),
            json!({"path": 7, "user": "a"}),
        ],
        300,
        11,
    );
    assert!(n > 50);
    let e = engine(src, true);
    assert!(
        !e.decide("data.t.allow", &json!({"path": 7, "user": "a"}))
            .allowed
    );
}

// --- The fast path's former bypasses, each with OPA's answer (opa eval
// --strict-builtin-errors, v1.22.3). Both evaluators must give it.

/// What an evaluation answered: a value, undefined, or an error code.
type Outcome = Result<Option<Value>, &'static str>;

/// Each policy, input and OPA's outcome on `data.t.allow`.
fn opa_answers(cases: &[(&str, Value, Outcome)]) {
    for (src, input, want) in cases {
        assert_eq!(
            &both(src, "data.t.allow", input),
            want,
            "{src}\nwith {input}"
        );
    }
}

#[test]
fn a_rule_name_is_never_a_fresh_variable() {
    let conflict = json!({"a": true, "b": true});
    let defs = "package t\nrole := \"admin\" if input.a\nrole := \"guest\" if input.b\n";
    let mut cases = Vec::new();
    for allow in [
        "allow if role = \"admin\"",
        "allow if \"admin\" = role",
        "coll := {\"admin\": true}\nallow if coll[role]",
        "allow if role == \"admin\"",
    ] {
        let src = format!("{defs}{allow}\n");
        cases.push((src.clone(), conflict.clone(), Err("ERR_EVAL")));
        cases.push((src.clone(), json!({"a": true}), Ok(Some(json!(true)))));
        cases.push((src, json!({"b": true}), Ok(None)));
    }
    let primary =
        "package t\nprimary := r if some r in input.roles\nallow if primary = \"admin\"\n";
    cases.push((
        primary.into(),
        json!({"roles": ["admin", "x"]}),
        Err("ERR_EVAL"),
    ));
    cases.push((
        primary.into(),
        json!({"roles": ["admin", "admin"]}),
        Ok(Some(json!(true))),
    ));
    let cases: Vec<_> = cases
        .iter()
        .map(|(s, i, w)| (s.as_str(), i.clone(), w.clone()))
        .collect();
    opa_answers(&cases);
}

#[test]
fn exclusive_definitions_compare_input_paths_key_by_key() {
    let src = r#"package t
role := "admin" if input["org.role"] == "admin"
role := "viewer" if input.org.role == "viewer"
allow if role == "admin"
"#;
    opa_answers(&[
        (
            src,
            json!({"org.role": "admin", "org": {"role": "viewer"}}),
            Err("ERR_EVAL"),
        ),
        (src, json!({"org.role": "admin"}), Ok(Some(json!(true)))),
        (src, json!({"org": {"role": "viewer"}}), Ok(None)),
    ]);
}

#[test]
fn some_over_a_rule_name_is_refused_where_regorus_would_read_the_rule() {
    // OPA declares a fresh `i` (allow is undefined for a "delete" request);
    // regorus 0.14.1 reads the rule `i` and allows. Refused at load.
    let src = r#"package t
i := 0
deny if { some i; input.reqs[i] == "delete" }
allow if not deny
"#;
    let mut cfg = EngineConfig::inline(vec![("t.rego".into(), src.into())], json!({}));
    cfg.decision_cache_entries = 0;
    let Err(err) = Engine::new(cfg) else {
        panic!("refused at load");
    };
    assert_eq!(err.code(), "ERR_POLICY_COMPILE");
    let msg = err.to_string();
    assert!(
        msg.contains("t.rego:3:") && msg.contains("`some i`"),
        "{msg}"
    );
}

#[test]
fn comprehensions_skip_elements_without_the_field() {
    let src = r#"package t
allow if count([a.name | some a in input.approvals]) >= 2
"#;
    opa_answers(&[
        (src, json!({"approvals": [{}, {}]}), Ok(None)),
        (src, json!({"approvals": [{"name": "x"}, {}]}), Ok(None)),
        (
            src,
            json!({"approvals": [{"name": "x"}, {"name": "y"}]}),
            Ok(Some(json!(true))),
        ),
    ]);
}

#[test]
fn locals_shadow_rules_and_outer_locals_as_in_opa() {
    opa_answers(&[
        (
            "package t\nrole := \"x\"\nallow if { role := \"admin\"; role == \"admin\" }\n",
            json!({}),
            Ok(Some(json!(true))),
        ),
        (
            "package t\nallow if { y := 5; xs := [y | some y; y = [1, 2][_]]; xs == [1, 2] }\n",
            json!({}),
            Ok(Some(json!(true))),
        ),
        (
            "package t\nallow if { y := 5; xs := [y | y := 1]; xs == [1] }\n",
            json!({}),
            Ok(Some(json!(true))),
        ),
    ]);
    // `some y in` over an outer `y` is refused by regorus at load.
    let mut cfg = EngineConfig::inline(
        vec![(
            "t.rego".into(),
            "package t\nallow if { y := 5; xs := [y | some y in [1, 2]]; xs == [1, 2] }\n".into(),
        )],
        json!({}),
    );
    cfg.decision_cache_entries = 0;
    assert_eq!(
        Engine::new(cfg).err().map(|e| e.code()),
        Some("ERR_POLICY_COMPILE")
    );
}

#[test]
fn ordering_follows_opa_objects_before_sets_on_both_evaluators() {
    // regorus orders sets before objects; OPA objects before sets. Each
    // answer below is OPA v1.22.4's (`opa eval --strict-builtin-errors`).
    let src = r#"package t
gt_set if input.x > {"a"}
lt_set if input.x < {"a"}
pair_gt if input.x >= input.y
nested if [input.x] < [{"a"}]
abac if {
	input.subject.clearance >= input.resource.level
	input.resource.owner != input.subject.id
}
"#;
    let cases: &[(&str, Value, Option<Value>)] = &[
        ("data.t.gt_set", json!({"x": {}}), None),
        ("data.t.lt_set", json!({"x": {}}), Some(json!(true))),
        ("data.t.gt_set", json!({"x": [1]}), None),
        (
            "data.t.pair_gt",
            json!({"x": {}, "y": 1}),
            Some(json!(true)),
        ),
        ("data.t.pair_gt", json!({"x": 1, "y": {}}), None),
        (
            "data.t.pair_gt",
            json!({"x": "b", "y": "a"}),
            Some(json!(true)),
        ),
        ("data.t.nested", json!({"x": {"z": 1}}), Some(json!(true))),
        (
            "data.t.abac",
            json!({"subject": {"clearance": 3, "id": "a"}, "resource": {"level": 2, "owner": "b"}}),
            Some(json!(true)),
        ),
        (
            "data.t.abac",
            json!({"subject": {"clearance": 1, "id": "a"}, "resource": {"level": 2, "owner": "b"}}),
            None,
        ),
        (
            "data.t.abac",
            json!({"subject": {"clearance": "3", "id": "a"}, "resource": {"level": 2, "owner": "b"}}),
            Some(json!(true)),
        ),
    ];
    for (query, input, want) in cases {
        assert_eq!(both(src, query, input), Ok(want.clone()), "{query} {input}");
    }
    // The ABAC shape (two input attributes compared) is on the tree
    // evaluator now: OPA's order never raises.
    assert_eq!(engine(src, true).fast_path_route("data.t.abac"), None);
}

#[test]
fn a_rule_the_base_data_also_holds_stays_on_the_interpreter() {
    // OPA's conformance case baseandvirtualdocs/conflicts: data holds
    // data.t.k = "foo" and a rule defines k := "bar"; OPA answers "foo".
    let src = "package t\nk := \"bar\"\nother := 1\n";
    let mut cfg = EngineConfig::inline(
        vec![("t.rego".into(), src.into())],
        json!({"t": {"k": "foo"}}),
    );
    cfg.decision_cache_entries = 0;
    let e = Engine::new(cfg).unwrap();
    let why = e.fast_path_route("data.t.k").expect("refused");
    assert!(why.contains("base data"), "{why}");
    assert_eq!(
        e.evaluate_policy("data.t.k", &json!({})).unwrap().value,
        Some(json!("foo"))
    );
    // A rule beside the data, not under it, is planned.
    assert_eq!(e.fast_path_route("data.t.other"), None);
}
