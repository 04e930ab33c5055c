//! Evaluate synthetic events against an N-rule synthetic bundle, for profilers:
//! `valgrind --tool=callgrind target/release/examples/profile_scale 10000 0` (set-up only)
//! then `... 10000 100000`; the difference over 100 000 is the instructions per event.
//! A third argument `same` uses 16 events of the first type instead of all types.

#![allow(clippy::print_stdout, reason = "a profiling helper prints its result")]

use acs_benches::host_functions;
use acs_benches::synth::{event_types_for, synthetic_bundle, synthetic_event, synthetic_events};
use acs_engine::Engine;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rules: usize = args.next().map_or(Ok(10_000), |r| r.parse())?;
    let rounds: usize = args.next().map_or(Ok(100_000), |r| r.parse())?;
    let same = args.next().as_deref() == Some("same");
    let engine = Engine::builder()
        .functions(host_functions())
        .limits(acs_benches::synth::bundle_limits())
        .load_str(
            "synthetic.yaml",
            synthetic_bundle(rules, event_types_for(rules), 42),
        )?;
    let events = if same {
        (0..16).map(|j| synthetic_event(42, 0, j)).collect()
    } else {
        synthetic_events(event_types_for(rules), 1024, 42)
    };
    let mut evaluated = 0;
    for event in events.iter().cycle().take(rounds) {
        evaluated +=
            std::hint::black_box(engine.evaluate(std::hint::black_box(event))).rules_evaluated;
    }
    println!("{rounds} events, {evaluated} rule evaluations");
    Ok(())
}
