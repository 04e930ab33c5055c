//! The first performance figure (issue #2 §10): the 25-rule bundle evaluated on
//! representative events, pre-parsed and from JSON bytes, with `serde_json` parsing alone
//! on the same bytes as the reference, and the hand-written floor (`floor.rs`) on the same
//! inputs (issue #5).
//!
//! Run: `cargo bench -p acs-benches` (BENCHMARKS.md has the figures and how to read them).

// A bench binary is not library code: failing loudly at start-up is what we want when the
// bundle and the inputs have drifted apart.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a benchmark program: a failed set-up should stop it"
)]

use std::hint::black_box;
use std::time::Duration;

use acs_benches::floor::Floor;
use acs_benches::{bundle_engine, cases, check_all, host_functions, Case};
use acs_engine::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;

struct Fixture {
    engine: Engine,
    cases: Vec<(Case, Vec<u8>)>,
}

fn fixture() -> Fixture {
    let engine = bundle_engine().expect("the bundle loads");
    let cases = cases();
    // Sanity, not timing: every input still matches what it is meant to.
    if let Err(drift) = check_all(&engine, &cases) {
        panic!("bench inputs no longer match the bundle: {drift}");
    }
    let cases = cases
        .into_iter()
        .map(|case| {
            let bytes = case.json_bytes();
            eprintln!("input {}: {} bytes of JSON", case.name, bytes.len());
            (case, bytes)
        })
        .collect();
    Fixture { engine, cases }
}

fn bench_evaluate(c: &mut Criterion) {
    let Fixture { engine, cases } = fixture();

    // The engine and the hand-written floor on the same input, one right after the other:
    // on this shared machine the speed drifts within minutes, so the engine / floor
    // ratio is taken from two measurements seconds apart, not two groups a minute apart.
    let floor = Floor::new(&host_functions());
    for (case, _) in &cases {
        let mut group = c.benchmark_group("evaluate/preparsed");
        group.bench_function(case.name, |b| {
            b.iter(|| engine.evaluate(black_box(&case.input)))
        });
        group.finish();
        let mut group = c.benchmark_group("floor/preparsed");
        group.bench_function(case.name, |b| {
            b.iter(|| floor.evaluate(black_box(&case.input)))
        });
        group.finish();
    }

    let mut group = c.benchmark_group("evaluate/json_bytes");
    for (case, bytes) in &cases {
        group.bench_function(case.name, |b| {
            b.iter(|| engine.evaluate_json(black_box(bytes)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("serde_json_parse");
    for (case, bytes) in &cases {
        group.bench_function(case.name, |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(bytes)))
        });
    }
    group.finish();

    // One event per iteration, cycling through all of them: the per-event mean of a
    // mixed stream, with the branch predictor and caches not settled on one input.
    let mut group = c.benchmark_group("mix");
    group.bench_function("preparsed", |b| {
        let mut next = cases.iter().map(|(case, _)| &case.input).cycle();
        b.iter(|| {
            let input = next.next().expect("a cycle of a non-empty list");
            engine.evaluate(black_box(input))
        })
    });
    group.bench_function("floor", |b| {
        let mut next = cases.iter().map(|(case, _)| &case.input).cycle();
        b.iter(|| {
            let input = next.next().expect("a cycle of a non-empty list");
            floor.evaluate(black_box(input))
        })
    });
    group.bench_function("json_bytes", |b| {
        let mut next = cases.iter().map(|(_, bytes)| bytes).cycle();
        b.iter(|| {
            let bytes = next.next().expect("a cycle of a non-empty list");
            engine.evaluate_json(black_box(bytes))
        })
    });
    group.finish();
}

fn config() -> Criterion {
    // Short runs, so the whole bench takes a few minutes on a 2-core machine; the
    // command line (`--warm-up-time`, `--measurement-time`) still overrides these.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_evaluate
}
criterion_main!(benches);
