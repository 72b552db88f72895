//! Latency probe for one query on one input, with the decision cache off
//! (every call parses and evaluates) unless `--cached` is given, and the VM
//! fast path on unless `--interpreter` is given. An input file holding a JSON
//! array is taken as a list of inputs, evaluated round-robin:
//! `cargo run --release -p coresdk-engine --example latency -- <bundle> <query> <input.json> [--cached] [--interpreter]`
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: latency <bundle dir> <query> <input.json>");
        std::process::exit(2);
    }
    let mut cfg = coresdk_engine::EngineConfig::for_dir(&args[1]);
    cfg.watch = false;
    if !args.iter().any(|a| a == "--cached") {
        cfg.decision_cache_entries = 0;
    }
    cfg.fast_path = !args.iter().any(|a| a == "--interpreter");
    let engine = coresdk_engine::Engine::new(cfg).expect("bundle compiles");
    let text = std::fs::read_to_string(&args[3]).expect("input readable");
    let inputs: Vec<String> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(items)) => items.iter().map(|v| v.to_string()).collect(),
        _ => vec![text],
    };
    let mut k = 0usize;
    let mut next = || {
        k += 1;
        &inputs[k % inputs.len()]
    };
    let n = 50_000;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..5_000 {
        engine
            .evaluate_policy_json(&args[2], next())
            .expect("evaluates");
    }
    for _ in 0..n {
        let input = next();
        let t = Instant::now();
        engine
            .evaluate_policy_json(&args[2], input)
            .expect("evaluates");
        lat.push(t.elapsed().as_nanos() as u64);
    }
    lat.sort_unstable();
    println!(
        "p50 {:.2} us  p99 {:.2} us",
        lat[n / 2] as f64 / 1e3,
        lat[n * 99 / 100] as f64 / 1e3
    );
    let stats = engine.fast_path_stats();
    println!(
        "answered by the VM: {}, by the interpreter: {}{}",
        stats.vm,
        stats.interpreter,
        engine
            .fast_path_route(&args[2])
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
}
