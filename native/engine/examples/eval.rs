//! Evaluates one rule query on one policy and input with both evaluators
//! and prints each outcome, for comparing with `opa eval`:
//!
//! ```sh
//! cargo run -p coresdk-engine --example eval -- policy.rego input.json data.t.allow [data.json]
//! opa eval --strict-builtin-errors -d policy.rego -i input.json data.t.allow
//! ```

use coresdk_engine::{Engine, EngineConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [policy, input, query, rest @ ..] = args.as_slice() else {
        eprintln!("usage: eval POLICY.rego INPUT.json QUERY [DATA.json]");
        std::process::exit(2);
    };
    let source = std::fs::read_to_string(policy)?;
    let input: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let data: serde_json::Value = match rest.first() {
        Some(d) => serde_json::from_str(&std::fs::read_to_string(d)?)?,
        None => serde_json::json!({}),
    };
    for fast in [true, false] {
        let mut cfg = EngineConfig::inline(vec![(policy.clone(), source.clone())], data.clone());
        cfg.fast_path = fast;
        cfg.decision_cache_entries = 0;
        cfg.watch = false;
        let label = if fast { "fast path" } else { "interpreter" };
        let engine = match Engine::new(cfg) {
            Ok(e) => e,
            Err(e) => {
                println!("{label}: refused at load: [{}] {e}", e.code());
                continue;
            }
        };
        let plan = engine.fast_path_plan(query);
        match engine.evaluate_policy(query, &input) {
            Ok(d) => println!(
                "{label} ({}): {}",
                plan.evaluator,
                d.value.map_or("undefined".to_string(), |v| v.to_string())
            ),
            Err(e) => println!("{label} ({}): error [{}] {e}", plan.evaluator, e.code()),
        }
    }
    Ok(())
}
