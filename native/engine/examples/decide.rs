//! Evaluate each case of a JSON file against a policy bundle and print one
//! JSON decision per line:
//!
//! ```sh
//! cargo run -p coresdk-engine --example decide                 # examples/policies, examples/inputs.json
//! CORESDK_POLICY_DIR=examples/policies cargo run -p coresdk-engine --example decide -- examples/inputs.json
//! ```
//!
//! The TypeScript test suite runs it to check that the Rust crate and the
//! Node `Engine` decide identically.

use std::path::PathBuf;
use std::time::Instant;

use coresdk_engine::{Engine, EngineConfig, SdkConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/rust-inprocess");
    let inputs = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../inputs.json"));

    // coresdk.toml / CORESDK_* first; the example bundle when neither names one.
    let sdk = SdkConfig::from_env()?;
    let mut config = match sdk.engine_config() {
        Ok(cfg) => cfg,
        Err(_) => EngineConfig::for_dir(here.join("../policies")),
    };
    config.watch = false;
    let engine = Engine::new(config)?;

    let cases: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&inputs)?)?;
    for case in &cases {
        let query = case["query"].as_str().unwrap_or("data.authz.allow");
        let started = Instant::now();
        let line = match engine.evaluate_policy(query, &case["input"]) {
            Ok(d) => serde_json::json!({
                "name": case["name"],
                "defined": d.is_defined(),
                "value": d.value,
                "revision": &*d.revision,
                "micros": started.elapsed().as_secs_f64() * 1e6,
            }),
            Err(e) => {
                serde_json::json!({ "name": case["name"], "error": e.code(), "message": e.to_string() })
            }
        };
        println!("{line}");
    }
    Ok(())
}
