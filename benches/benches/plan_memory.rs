//! Memory of a compiled plan against the number of rules (issue #5): heap bytes live
//! after loading a synthetic bundle minus before, counted by dhat's global allocator,
//! plus the peak during the load and the time of its two halves (read + parse, compile).
//!
//! Run: `cargo bench -p acs-benches --bench plan_memory` (about 3 minutes: dhat records a
//! backtrace per allocation, and the 100 000-rule load makes 6 million). Prints a
//! Markdown table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark program: failures should stop it, results go to stdout"
)]

use std::time::{Duration, Instant};

use acs_benches::host_functions;
use acs_benches::synth::{event_types_for, synthetic_bundle};
use acs_engine::unstable::{compile, load_rule_set, SourceFile, SourceMap};
use acs_engine::Engine;
use acs_engine::Limits;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SEED: u64 = 42;

struct Measure {
    live: u64,
    peak: u64,
    blocks: u64,
}

/// Bytes (and blocks) live after `f` minus before, and the peak above the start while it ran.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Measure) {
    let before = dhat::HeapStats::get();
    let value = f();
    let after = dhat::HeapStats::get();
    let measure = Measure {
        live: (after.curr_bytes as u64).saturating_sub(before.curr_bytes as u64),
        peak: (after.max_bytes as u64).saturating_sub(before.curr_bytes as u64),
        blocks: (after.curr_blocks as u64).saturating_sub(before.curr_blocks as u64),
    };
    (value, measure)
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: check the smallest size only.
    let quick = !std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if quick {
        &[25]
    } else {
        &[25, 1_000, 10_000, 100_000]
    };
    let functions = host_functions();
    println!("| rules | event types | YAML | plan, metrics on | plan, metrics off | per rule (on) | blocks (on) | peak during load | read + parse | compile |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let yaml = synthetic_bundle(n, event_types_for(n), SEED);
        // max_bytes is a high-water mark for the whole run: profile each size afresh.
        let profiler = dhat::Profiler::builder().testing().build();
        let (engine, on) = measure(|| {
            Engine::builder()
                .functions(functions.clone())
                .limits(acs_benches::synth::bundle_limits())
                .load_str("synthetic.yaml", yaml.clone())
                .unwrap()
        });
        assert_eq!(engine.plan().rule_count(), n);
        drop(engine);
        // dhat records a backtrace per allocation: a second 100 000-rule load would add
        // minutes, and the counters' share is the same at every size.
        let off = (n <= 10_000).then(|| {
            measure(|| {
                Engine::builder()
                    .functions(functions.clone())
                    .limits(acs_benches::synth::bundle_limits())
                    .metrics(false)
                    .load_str("synthetic.yaml", yaml.clone())
                    .unwrap()
            })
            .1
        });
        drop(profiler);

        // The two halves of a load, timed once (no profiler running).
        let started = Instant::now();
        let mut sources = SourceMap::default();
        sources.add(SourceFile::new("synthetic.yaml".to_owned(), yaml.clone()));
        let (rule_set, diagnostics) = load_rule_set(sources);
        let parsed = started.elapsed();
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let started = Instant::now();
        let plan = compile(&rule_set, &functions, &Limits::default())
            .ok()
            .unwrap();
        let compiled = started.elapsed();
        drop(plan);

        println!(
            "| {n} | {} | {} | **{}** | {} | {} B | {} | {} | {} | {} |",
            event_types_for(n),
            mib(yaml.len() as u64),
            mib(on.live),
            off.map_or("not measured".to_owned(), |off| mib(off.live)),
            on.live / n as u64,
            on.blocks,
            mib(on.peak),
            ms(parsed),
            ms(compiled),
        );
    }
}
