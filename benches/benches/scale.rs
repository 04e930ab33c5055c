//! Scale (issue #5): per-event evaluation cost and load + compile time against bundles of
//! N = 25, 1 000, 10 000 and 100 000 synthetic rules (`benches/synth.rs`), 25 rules per
//! event type at every N.
//!
//! Groups: `evaluate_same` (16 events of the first type: the same 25 rules at every N),
//! `evaluate_mix` (1 024 events over all types, cycled: at large N neither the events nor
//! the rules they meet are in cache), `evaluate_mix_fresh` (the same, each event copied
//! just before it is evaluated, as a host's freshly parsed input), `load` (YAML text to
//! a serving engine).
//!
//! Run: `cargo bench -p acs-benches --bench scale` (about 4 minutes; the 100 000-rule
//! load takes seconds per sample, so its group runs the minimum of 10 samples).
//! `cargo bench -p acs-benches --bench scale -- scale/evaluate` skips the loads.

// A bench binary is not library code: failing loudly at start-up is what we want when the
// generator and the engine disagree.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a benchmark program: a failed set-up should stop it"
)]

use std::hint::black_box;
use std::time::Duration;

use acs_benches::host_functions;
use acs_benches::synth::{event_types_for, synthetic_bundle, synthetic_event, synthetic_events};
use acs_engine::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::Value;

const SEED: u64 = 42;
const SIZES: [usize; 4] = [25, 1_000, 10_000, 100_000];

fn engine(yaml: &str) -> Engine {
    Engine::builder()
        .functions(host_functions())
        .limits(acs_benches::synth::bundle_limits())
        .load_str("synthetic.yaml", yaml)
        .expect("the synthetic bundle loads")
}

/// Events of the first type only: the same 25 rules run at every N, so only the plan's
/// size differs.
fn same_events() -> Vec<Value> {
    (0..16).map(|j| synthetic_event(SEED, 0, j)).collect()
}

fn bench_evaluate(c: &mut Criterion) {
    let same = same_events();
    for n in SIZES {
        let engine = engine(&synthetic_bundle(n, event_types_for(n), SEED));
        // Spread over every type: at large N each event meets rules that are not in cache.
        let mix = synthetic_events(event_types_for(n), 1024, SEED);
        for event in same.iter().chain(&mix) {
            let decision = engine.evaluate(event);
            assert!(decision.errors.is_empty(), "{:?}", decision.errors);
            assert!((1..=25).contains(&decision.rules_evaluated));
        }
        let mut group = c.benchmark_group("scale/evaluate_same");
        group.bench_function(n.to_string(), |b| {
            let mut next = same.iter().cycle();
            b.iter(|| engine.evaluate(black_box(next.next().expect("cycle"))))
        });
        group.finish();
        let mut group = c.benchmark_group("scale/evaluate_mix");
        group.bench_function(n.to_string(), |b| {
            let mut next = mix.iter().cycle();
            b.iter(|| engine.evaluate(black_box(next.next().expect("cycle"))))
        });
        group.finish();
        // As a host sees them: each event freshly built (so in cache, as after parsing
        // it), the plan's rules for its type not. The copy is made outside the timing.
        let mut group = c.benchmark_group("scale/evaluate_mix_fresh");
        group.bench_function(n.to_string(), |b| {
            let mut next = mix.iter().cycle();
            b.iter_batched_ref(
                || next.next().expect("cycle").clone(),
                |event| engine.evaluate(black_box(event)),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

fn bench_load(c: &mut Criterion) {
    for n in SIZES {
        let yaml = synthetic_bundle(n, event_types_for(n), SEED);
        let mut group = c.benchmark_group("scale/load");
        if n >= 10_000 {
            group.sample_size(10);
        }
        group.bench_function(n.to_string(), |b| {
            // Dropping a large plan takes a while too: keep it out of the figure.
            b.iter_batched(
                || yaml.clone(),
                |yaml| engine(black_box(&yaml)),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_evaluate, bench_load
}
criterion_main!(benches);
