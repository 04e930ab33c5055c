//! What two threads give the Rust engine itself on this machine, now: `scaling ROUNDS`
//! decides the representative cases through `Engine::evaluate_json` (the bytes path the
//! bindings' batch calls take), ROUNDS inputs on one thread, then ROUNDS on each of two
//! threads sharing the engine, and prints the nanoseconds per input of each and their
//! ratio. The bindings' benches run it between their own 1-thread / 2-thread pairs, so a
//! binding's scaling is read against what the machine allowed in the same minutes.
//! `SCALING_CASES=gps_ping,unknown_event` decides only the cases named (to compare
//! inputs that match rules with inputs that do not, say). `scaling ROUNDS REPEATS` runs
//! the 1-thread and 2-thread measurements REPEATS times each, alternating, and keeps the
//! fastest of each: on a shared machine other work only ever slows a run, and a burst
//! of it lands on one of the two sides of a single pair.

#![allow(clippy::print_stdout, reason = "a bench helper prints its result")]

use std::time::Instant;

use acs_benches::{bundle_engine, cases};
use acs_engine::Engine;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(100_000), |r| r.parse())?;
    let repeats: usize = std::env::args().nth(2).map_or(Ok(1), |r| r.parse())?;
    let engine = bundle_engine()?;
    // `SCALING_CASES=gps_ping,bid_create_clean` decides only the cases named.
    let only = std::env::var("SCALING_CASES").ok();
    let inputs: Vec<Vec<u8>> = cases()
        .iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == c.name))
        })
        .map(|c| c.json_bytes())
        .collect();
    decide(&engine, &inputs, 1, rounds / 10); // warm up
    let (mut one, mut two) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..repeats.max(1) {
        one = one.min(decide(&engine, &inputs, 1, rounds));
        two = two.min(decide(&engine, &inputs, 2, rounds));
    }
    println!(
        "{{\"one_thread_ns\": {one:.1}, \"two_threads_ns\": {two:.1}, \"ratio\": {:.3}}}",
        one / two
    );
    Ok(())
}

/// Nanoseconds per input with `threads` threads deciding `per_thread` inputs each.
fn decide(engine: &Engine, inputs: &[Vec<u8>], threads: usize, per_thread: usize) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for offset in 0..threads {
            scope.spawn(move || {
                let mut matched = 0usize;
                for json in inputs.iter().cycle().skip(offset).take(per_thread) {
                    if let Ok(decision) = engine.evaluate_json(std::hint::black_box(json)) {
                        matched += decision.matched.len();
                    }
                }
                std::hint::black_box(matched)
            });
        }
    });
    started.elapsed().as_nanos() as f64 / (threads * per_thread) as f64
}
