//! The bytes-in path, for callgrind: `bytes_path <event> <rounds> engine|parse|evaluate`
//! runs `Engine::evaluate_json` or `serde_json::from_slice::<Value>` alone on the event's
//! compact JSON, so the two instruction counts compare exactly; `evaluate` is
//! `Engine::evaluate` on the document parsed once, the share of evaluation alone.

#![allow(clippy::print_stdout, reason = "a profiling helper prints its result")]

use acs_benches::{cases, host_functions, BUNDLE_NAME, BUNDLE_YAML};
use acs_engine::Engine;
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "bid_create_clean".to_owned());
    let rounds: u64 = args.next().map_or(Ok(100_000), |r| r.parse())?;
    let mode = args.next().unwrap_or_else(|| "engine".to_owned());
    let engine = Engine::builder()
        .functions(host_functions())
        .load_str(BUNDLE_NAME, BUNDLE_YAML)?;
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("no case `{name}`"))?;
    let bytes = case.json_bytes();
    let mut work = 0usize;
    for _ in 0..rounds {
        let bytes = std::hint::black_box(bytes.as_slice());
        work += if mode == "parse" {
            usize::from(std::hint::black_box(serde_json::from_slice::<Value>(bytes)?).is_object())
        } else if mode == "evaluate" {
            std::hint::black_box(engine.evaluate(std::hint::black_box(&case.input)))
                .matched
                .len()
        } else {
            std::hint::black_box(engine.evaluate_json(bytes)?)
                .matched
                .len()
        };
    }
    println!("{name} {mode}: {rounds} rounds, {work}");
    Ok(())
}
