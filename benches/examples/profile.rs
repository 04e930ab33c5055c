//! Evaluate one representative event many times, for profilers:
//! `cargo build --release -p acs-benches --example profile` then
//! `valgrind --tool=callgrind target/release/examples/profile bid_create_clean 10000`.
//! A third argument `no-metrics` builds the engine with metrics off, so the counters'
//! cost shows as an exact instruction difference; `floor` runs the hand-written floor
//! (`benches/floor.rs`) instead of the engine, for the engine / floor instruction ratio;
//! `plan` evaluates on a pinned `Plan` (no per-request plan lookup).

#![allow(clippy::print_stdout, reason = "a profiling helper prints its result")]

use acs_benches::floor::Floor;
use acs_benches::{cases, host_functions, BUNDLE_NAME, BUNDLE_YAML};
use acs_engine::Engine;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "bid_create_clean".to_owned());
    let rounds: u64 = args.next().map_or(Ok(100_000), |r| r.parse())?;
    let mode = args.next();
    let metrics = mode.as_deref() != Some("no-metrics");
    let engine = Engine::builder()
        .functions(host_functions())
        .metrics(metrics)
        .load_str(BUNDLE_NAME, BUNDLE_YAML)?;
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("no case `{name}`"))?;
    let mut matched = 0;
    if mode.as_deref() == Some("floor") {
        let floor = Floor::new(&host_functions());
        for _ in 0..rounds {
            matched += std::hint::black_box(floor.evaluate(std::hint::black_box(&case.input)))
                .matched
                .len();
        }
        println!("{name}: {rounds} floor evaluations, {matched} matches");
        return Ok(());
    }
    if mode.as_deref() == Some("plan") {
        let plan = engine.plan();
        for _ in 0..rounds {
            matched += std::hint::black_box(plan.evaluate(std::hint::black_box(&case.input)))
                .matched
                .len();
        }
        println!("{name}: {rounds} evaluations on a pinned plan, {matched} matches");
        return Ok(());
    }
    for _ in 0..rounds {
        matched += std::hint::black_box(engine.evaluate(std::hint::black_box(&case.input)))
            .matched
            .len();
    }
    println!("{name}: {rounds} evaluations, {matched} matches");
    Ok(())
}
