//! Hot-reload figures that criterion's per-iteration model does not fit: evaluation
//! throughput on 1 and 2 threads with and without a reload storm, the cost of the
//! per-rule counters, and the time from a file write to the new plan serving. Also the
//! 2-thread scaling of the engine beside that of the hand-written floor in the same
//! run: the floor shares nothing, so its ratio is what the machine allows.
//!
//! Run: `cargo bench -p acs-benches --bench reload`. Prints a Markdown table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stdout,
    reason = "a benchmark program: failures should stop it, results go to stdout"
)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use acs_benches::floor::Floor;
use acs_engine::{Engine, Functions, WatchOptions};
use serde_json::Value;

const RUN: Duration = Duration::from_millis(1500);

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn stubs() -> Functions {
    let text = std::fs::read(workspace().join("rules/examples/stubs.json")).unwrap();
    Functions::from_stubs(&serde_json::from_slice(&text).unwrap()).unwrap()
}

fn events() -> Vec<Value> {
    let mut events: Vec<Value> = std::fs::read_dir(workspace().join("rules/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        // One JSON document per `*.json` file (the recorded `.jsonl` sample is for replay).
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "stubs.json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    events.sort_by_key(|e| e.to_string());
    events
}

fn bundle() -> String {
    std::fs::read_to_string(workspace().join("rules/acs_rules_top25.yaml")).unwrap()
}

/// The bundle plus one marker rule, so every version differs.
fn version(n: u64) -> String {
    format!(
        "{}\n- id: BENCH_VERSION_{n}\n  priority: 1\n  severity: low\n  description: \"version marker\"\n  condition: \"event.type == 'bench.version'\"\n  action: []\n  audit: false\n",
        bundle()
    )
}

/// Evaluations per second over `RUN` on `threads` threads; with `storm`, another thread
/// rewrites the rules file and reloads without pause. Returns (evaluations/s, reloads).
fn throughput(engine: &Engine, path: &Path, threads: usize, storm: bool) -> (f64, u64) {
    let events = events();
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let reloads = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (engine, events, stop, total) = (engine.clone(), &events, &stop, &total);
            scope.spawn(move || {
                let mut count = 0u64;
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        let decision = engine.evaluate(&events[i % events.len()]);
                        assert!(decision.errors.is_empty());
                        i += 1;
                    }
                    count += 64;
                }
                total.fetch_add(count, Ordering::Relaxed);
            });
        }
        if storm {
            let (engine, stop, reloads) = (engine.clone(), &stop, &reloads);
            scope.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    std::fs::write(path, version(n)).unwrap();
                    engine.reload().unwrap();
                    reloads.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(RUN);
        stop.store(true, Ordering::Relaxed);
    });
    (
        total.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64(),
        reloads.load(Ordering::Relaxed),
    )
}

/// Calls per second of `evaluate` over the example events on `threads` threads.
fn calls_per_second(threads: usize, evaluate: &(dyn Fn(&Value) -> usize + Sync)) -> f64 {
    let events = events();
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (events, stop, total) = (&events, &stop, &total);
            scope.spawn(move || {
                let (mut count, mut i, mut sink) = (0u64, t, 0usize);
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        sink = sink.wrapping_add(evaluate(&events[i % events.len()]));
                        i += 1;
                    }
                    count += 64;
                }
                std::hint::black_box(sink);
                total.fetch_add(count, Ordering::Relaxed);
            });
        }
        std::thread::sleep(RUN);
        stop.store(true, Ordering::Relaxed);
    });
    total.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64()
}

/// 2-thread over 1-thread throughput of the engine and of the floor, interleaved so that
/// both see the same machine: `rounds` pairs of ratios.
fn scaling(engine: &Engine, rounds: usize) -> Vec<(f64, f64)> {
    let floor = Floor::new(&stubs());
    let by_engine = |input: &Value| engine.evaluate(input).matched.len();
    let by_floor = |input: &Value| floor.evaluate(input).matched.len();
    (0..rounds)
        .map(|_| {
            let engine_1 = calls_per_second(1, &by_engine);
            let floor_1 = calls_per_second(1, &by_floor);
            let engine_2 = calls_per_second(2, &by_engine);
            let floor_2 = calls_per_second(2, &by_floor);
            (engine_2 / engine_1, floor_2 / floor_1)
        })
        .collect()
}

/// Time from the end of a file write to the new plan serving, through the watcher.
fn write_to_serve(path: &Path, options: WatchOptions, samples: usize) -> Vec<Duration> {
    let engine = Engine::builder()
        .functions(stubs())
        .load_path(path)
        .unwrap();
    let _watch = engine.watch_with(options).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut times = Vec::with_capacity(samples);
    for n in 0..samples as u64 {
        let before = engine.plan().generation();
        let temp = path.with_extension("yaml.tmp");
        std::fs::write(&temp, version(1_000_000 + n)).unwrap();
        std::fs::rename(&temp, path).unwrap();
        let written = Instant::now();
        while engine.plan().generation() == before {
            assert!(
                written.elapsed() < Duration::from_secs(10),
                "reload never came"
            );
            std::thread::sleep(Duration::from_micros(100));
        }
        times.push(written.elapsed());
        // Let the debounce window close before the next write.
        std::thread::sleep(options.quiet * 2);
    }
    times.sort();
    times
}

/// The time from swapping a bundle directory for another (`mv rules rules.old && mv
/// rules.new rules`) to the new rules serving, over `samples` swaps.
fn directory_swap_to_serve(samples: usize) -> Vec<Duration> {
    let parent = tempfile::tempdir().unwrap();
    let live = parent.path().join("rules");
    std::fs::create_dir(&live).unwrap();
    std::fs::write(live.join("rules.yaml"), version(0)).unwrap();
    let engine = Engine::builder()
        .functions(stubs())
        .load_path(&live)
        .unwrap();
    let _watch = engine.watch().unwrap();
    let mut times = Vec::with_capacity(samples);
    for n in 1..=samples as u64 {
        let before = engine.plan().generation();
        let new = parent.path().join("rules.new");
        std::fs::create_dir(&new).unwrap();
        std::fs::write(new.join("rules.yaml"), version(n)).unwrap();
        let old = parent.path().join("rules.old");
        std::fs::rename(&live, &old).unwrap();
        std::fs::rename(&new, &live).unwrap();
        let swapped = Instant::now();
        while engine.plan().generation() == before {
            assert!(
                swapped.elapsed() < Duration::from_secs(10),
                "the swap was never served"
            );
            std::thread::sleep(Duration::from_micros(100));
        }
        times.push(swapped.elapsed());
        std::fs::remove_dir_all(&old).unwrap();
    }
    times.sort();
    times
}

/// An in-place write of the whole bundle that stops half-way for `pause`: how many of
/// `runs` such writes had a plan with only the first half of the rules served.
fn partial_writes_served(pause: Duration, runs: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, version(0)).unwrap();
    let engine = Engine::builder()
        .functions(stubs())
        .load_path(&path)
        .unwrap();
    let full = engine.plan().rule_count();
    let served = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&served);
    engine.on_reload(move |event| {
        if let acs_engine::ReloadEvent::Loaded { rule_count, .. } = event {
            sink.lock().unwrap().push(*rule_count);
        }
    });
    let _watch = engine.watch().unwrap();
    let mut torn = 0;
    for n in 1..=runs as u64 {
        let text = version(n);
        // Cut at a rule boundary in the middle: the first half is a valid bundle.
        let cut = text[..text.len() / 2].rfind("\n- id:").unwrap() + 1;
        served.lock().unwrap().clear();
        std::fs::write(&path, &text[..cut]).unwrap();
        std::thread::sleep(pause);
        std::fs::write(&path, &text).unwrap();
        let written = Instant::now();
        while engine.plan().rule_count() != full
            || !engine
                .plan()
                .rule_ids()
                .any(|id| id == format!("BENCH_VERSION_{n}"))
        {
            assert!(
                written.elapsed() < Duration::from_secs(10),
                "the full bundle was never served"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        if served.lock().unwrap().iter().any(|&count| count < full) {
            torn += 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    torn
}

fn median(times: &[Duration]) -> Duration {
    times[times.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run quickly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, version(0)).unwrap();

    if quick {
        let engine = Engine::builder()
            .functions(stubs())
            .load_path(&path)
            .unwrap();
        let _ = throughput(&engine, &path, 1, true);
        return;
    }

    println!("| scenario | threads | evaluations/s | reloads | ratio |");
    println!("|---|---|---|---|---|");
    for threads in [1, 2] {
        let on = Engine::builder()
            .functions(stubs())
            .load_path(&path)
            .unwrap();
        let off = Engine::builder()
            .functions(stubs())
            .metrics(false)
            .load_path(&path)
            .unwrap();
        let (base, _) = throughput(&on, &path, threads, false);
        let (no_metrics, _) = throughput(&off, &path, threads, false);
        let (stormy, reloads) = throughput(&on, &path, threads, true);
        println!("| no reloads, metrics on | {threads} | {base:.0} | 0 | 1.00 |");
        println!(
            "| no reloads, metrics off | {threads} | {no_metrics:.0} | 0 | {:.2} |",
            no_metrics / base
        );
        println!("| reload storm (rewrite + reload in a loop) | {threads} | {stormy:.0} | {reloads} | {:.2} |", stormy / base);
    }
    let engine = Engine::builder()
        .functions(stubs())
        .load_path(&path)
        .unwrap();
    println!();
    println!("| round | engine: 2 threads / 1 | floor: 2 threads / 1 | engine / floor |");
    println!("|---|---|---|---|");
    for (round, (engine_ratio, floor_ratio)) in scaling(&engine, 3).into_iter().enumerate() {
        println!(
            "| {} | {engine_ratio:.2} | {floor_ratio:.2} | {:.2} |",
            round + 1,
            engine_ratio / floor_ratio
        );
    }
    for (label, options) in [
        ("default (quiet 50 ms)", WatchOptions::default()),
        (
            "quiet 5 ms",
            WatchOptions {
                quiet: Duration::from_millis(5),
                max_delay: Duration::from_millis(100),
            },
        ),
    ] {
        let times = write_to_serve(&path, options, 25);
        println!(
            "\nwrite -> new plan serving, watcher {label}: median {:.1} ms, min {:.1} ms, max {:.1} ms (25 writes)",
            median(&times).as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
    }
    let times = directory_swap_to_serve(15);
    println!(
        "\ndirectory swap (mv rules rules.old && mv rules.new rules) -> new plan serving, default watcher: median {:.1} ms, min {:.1} ms, max {:.1} ms (15 swaps, every one served)",
        median(&times).as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    println!("\n| in-place write paused half-way for | runs | half bundle served |");
    println!("|---|---|---|");
    for pause in [20, 80, 150, 400] {
        let runs = 6;
        let torn = partial_writes_served(Duration::from_millis(pause), runs);
        println!("| {pause} ms | {runs} | {torn} |");
    }
}
