//! Evaluate one representative event many times, for profilers:
//! `cargo build --release -p acs-benches --example profile` then
//! `valgrind --tool=callgrind target/release/examples/profile bid_create_clean 10000`.

#![allow(clippy::print_stdout, reason = "a profiling helper prints its result")]

use acs_benches::{bundle_engine, cases};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "bid_create_clean".to_owned());
    let rounds: u64 = args.next().map_or(Ok(100_000), |r| r.parse())?;
    let engine = bundle_engine()?;
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("no case `{name}`"))?;
    let mut matched = 0;
    for _ in 0..rounds {
        matched += std::hint::black_box(engine.evaluate(std::hint::black_box(&case.input)))
            .matched
            .len();
    }
    println!("{name}: {rounds} evaluations, {matched} matches");
    Ok(())
}
