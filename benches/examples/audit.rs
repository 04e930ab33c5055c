//! The audit log's costs, side by side in one run (a plain program, not criterion: each
//! figure is one timed loop, repeated and the best kept):
//!
//! `cargo run --release -p acs-benches --example audit [ROUNDS] [DIR]`
//!
//! - `evaluate` per case with auditing off, on for a decision not recorded (only the
//!   host-call recorder runs), and on with `record_all` (the record built, redacted and
//!   queued; the writer thread on the other core);
//! - records/s through the writer per fsync policy, eight threads requesting
//!   (`evaluate` + queue + write, until `audit_flush` returns; under `EveryBatch` each
//!   recorded `evaluate` also waits for its batch's sync);
//! - `verify` speed against reading the same files.
//!
//! DIR (default: the system temp dir) is where the logs go: give a path on the disk to
//! measure fsync on it rather than on a tmpfs.

#![allow(clippy::print_stdout, reason = "a bench program prints its figures")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use acs_benches::{cases, host_functions, BUNDLE_NAME, BUNDLE_YAML};
use acs_engine::audit::{self, HmacKey};
use acs_engine::{AuditOptions, Engine, Fsync, Overflow};
use tempfile::TempDir;

fn key() -> Result<HmacKey, acs_engine::audit::AuditError> {
    HmacKey::new(vec![3u8; 32])
}

fn options(
    dir: &Path,
    record_all: bool,
    fsync: Fsync,
) -> Result<AuditOptions, acs_engine::audit::AuditError> {
    let mut options = AuditOptions::new(dir, Box::new(key()?));
    options.record_all = record_all;
    options.fsync = fsync;
    options.queue_capacity = 1 << 16;
    options.overflow = Overflow::Block(Duration::from_secs(60));
    Ok(options)
}

fn engine(audit: Option<AuditOptions>) -> Result<Engine, Box<dyn std::error::Error>> {
    let mut builder = Engine::builder().functions(host_functions());
    if let Some(options) = audit {
        builder = builder.audit(options);
    }
    Ok(builder.load_str(BUNDLE_NAME, BUNDLE_YAML)?)
}

/// Best of five: nanoseconds per evaluation.
fn per_eval(engine: &Engine, input: &serde_json::Value, rounds: u32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(engine.evaluate(std::hint::black_box(input)));
        }
        let nanos = started.elapsed().as_nanos() as f64 / f64::from(rounds);
        best = best.min(nanos);
        // Let the writer drain, so that the queue never fills.
        let _ = engine.audit_flush(Duration::from_secs(60));
    }
    best
}

/// [`per_eval`] through `Engine::evaluate_json` (the path of the CLI and the bindings).
fn per_eval_json(engine: &Engine, json: &[u8], rounds: u32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..rounds {
            let _ = std::hint::black_box(engine.evaluate_json(std::hint::black_box(json)));
        }
        let nanos = started.elapsed().as_nanos() as f64 / f64::from(rounds);
        best = best.min(nanos);
        let _ = engine.audit_flush(Duration::from_secs(60));
    }
    best
}

/// A new empty directory under `base` for a log, removed when the guard drops (on an
/// early return with an error too).
fn fresh(base: &Path, name: &str) -> std::io::Result<TempDir> {
    std::fs::create_dir_all(base)?;
    tempfile::Builder::new()
        .prefix(&format!("acs-audit-bench-{name}-"))
        .tempdir_in(base)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("profile") {
        // `audit profile CASE ROUNDS [json] [owned] [off]`: only the request thread's part of
        // recording, through `evaluate` or `evaluate_json` (or the same calls with
        // auditing off), for callgrind (`benches/audit_instructions.sh`). The writer is
        // held in its first checkpoint's publisher before the loop starts and the queue
        // has room for every record, so each is built and queued as in service (the
        // writer, not the request thread, drops it there), the same way in every run.
        let _ = args.next();
        let name = args
            .next()
            .unwrap_or_else(|| "bid_create_kyc_missing".to_owned());
        let rounds: u32 = args.next().map_or(Ok(1000), |r| r.parse())?;
        let rest: Vec<String> = args.collect();
        let json = rest.iter().any(|a| a == "json");
        // `owned`: `evaluate_owned` (with `json`: `evaluate_json_owned`) of a copy made in
        // the loop (in both runs, so the difference is auditing's: the record keeps the
        // copy).
        let owned = rest.iter().any(|a| a == "owned");
        let audited = !rest.iter().any(|a| a == "off");
        // `running`: the writer is not held but writes as in service (for callgrind's
        // `--separate-threads=yes`, which counts the request thread apart).
        let running = rest.iter().any(|a| a == "running");
        let dir = fresh(&std::env::temp_dir(), "profile")?;
        let mut dropping = options(dir.path(), true, Fsync::Never)?;
        dropping.queue_capacity = rounds as usize + 16;
        dropping.overflow = Overflow::Drop;
        let (held, holding) = std::sync::mpsc::channel();
        if !running {
            dropping.writer.checkpoint_records = 1;
            let held = std::sync::Mutex::new(held);
            dropping.on_checkpoint = Some(Box::new(move |_| {
                if let Ok(held) = held.lock() {
                    let _ = held.send(());
                }
                std::thread::sleep(Duration::from_secs(24 * 3600));
            }));
        }
        let engine = engine(audited.then_some(dropping))?;
        if audited && !running {
            // The ruleset's record makes the first checkpoint: the writer is held now.
            holding.recv_timeout(Duration::from_secs(600))?;
        }
        let case = cases()
            .into_iter()
            .find(|c| c.name == name)
            .ok_or("no case")?;
        let bytes = case.json_bytes();
        for _ in 0..rounds {
            if json && owned {
                let bytes = std::hint::black_box(bytes.clone());
                let _ = std::hint::black_box(engine.evaluate_json_owned(bytes));
            } else if json {
                let _ = std::hint::black_box(engine.evaluate_json(std::hint::black_box(&bytes)));
            } else if owned {
                let input = std::hint::black_box(case.input.clone());
                std::hint::black_box(engine.evaluate_owned(input));
            } else {
                std::hint::black_box(engine.evaluate(std::hint::black_box(&case.input)));
            }
        }
        // `exit` runs no destructors: the log goes first. The writer is held: leave
        // without waiting for it.
        drop(dir);
        std::process::exit(0);
    }
    let rounds: u32 = args.next().map_or(Ok(20_000), |r| r.parse())?;
    let base = args.next().map_or_else(std::env::temp_dir, PathBuf::from);

    println!("## evaluate: auditing off / on (not recorded) / on (record_all), ns per call");
    println!("| case | off | on, not recorded | on, recorded | added (recorded) | recorded, built and dropped |");
    println!("|---|---:|---:|---:|---:|---:|");
    let off = engine(None)?;
    let quiet_dir = fresh(&base, "quiet")?;
    let quiet = engine(Some(options(quiet_dir.path(), false, Fsync::Never)?))?;
    let all_dir = fresh(&base, "all")?;
    let all = engine(Some(options(all_dir.path(), true, Fsync::Never)?))?;
    // The request thread's part alone: records built, redacted and offered to a queue of
    // one that is full (`Overflow::Drop`), so the writer thread is idle.
    let dropped_dir = fresh(&base, "dropped")?;
    let mut dropping = options(dropped_dir.path(), true, Fsync::Never)?;
    dropping.queue_capacity = 1;
    dropping.overflow = Overflow::Drop;
    let dropped = engine(Some(dropping))?;
    for case in cases() {
        let a = per_eval(&off, &case.input, rounds);
        let b = per_eval(&quiet, &case.input, rounds);
        let c = per_eval(&all, &case.input, rounds);
        let d = per_eval(&dropped, &case.input, rounds);
        println!(
            "| {} | {a:.0} | {b:.0} | {c:.0} | {:+.0}% | {d:.0} |",
            case.name,
            (c / a - 1.0) * 100.0
        );
    }
    println!("\n## evaluate_json (bytes read in place; a recorded decision copies the bytes): off / on (record_all), ns per call");
    println!("| case | off | on, recorded | added | recorded, built and dropped | added |");
    println!("|---|---:|---:|---:|---:|---:|");
    for case in cases() {
        let json = case.json_bytes();
        let a = per_eval_json(&off, &json, rounds);
        let c = per_eval_json(&all, &json, rounds);
        let d = per_eval_json(&dropped, &json, rounds);
        println!(
            "| {} | {a:.0} | {c:.0} | {:+.0}% | {d:.0} | {:+.0}% |",
            case.name,
            (c / a - 1.0) * 100.0,
            (d / a - 1.0) * 100.0
        );
    }
    drop((quiet, all, dropped));
    drop((quiet_dir, all_dir, dropped_dir));

    // Eight requesting threads: under `Fsync::EveryBatch` each recorded `evaluate` waits
    // for the sync of its batch, so throughput comes from requests sharing syncs.
    const REQUESTERS: u64 = 8;
    println!("\n## records/s through the writer (evaluate + queue + write, record_all, {REQUESTERS} requesting threads)");
    println!("| fsync | records | seconds | records/s | batches | mean batch |");
    println!("|---|---:|---:|---:|---:|---:|");
    let input = cases()
        .into_iter()
        .find(|c| c.name == "bid_create_kyc_missing")
        .ok_or("no case")?
        .input;
    let mut verify_dir = None;
    for (name, fsync) in [
        ("EveryBatch", Fsync::EveryBatch),
        ("EveryMillis(10)", Fsync::EveryMillis(10)),
        ("Never", Fsync::Never),
    ] {
        let dir = fresh(&base, name)?;
        let engine = engine(Some(options(dir.path(), true, fsync)?))?;
        let n = u64::from(rounds) * 5 / REQUESTERS * REQUESTERS;
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..REQUESTERS {
                scope.spawn(|| {
                    for _ in 0..n / REQUESTERS {
                        engine.evaluate(&input);
                    }
                });
            }
        });
        engine.audit_flush(Duration::from_secs(600))?;
        let seconds = started.elapsed().as_secs_f64();
        let status = engine.status().audit.ok_or("no audit status")?;
        println!(
            "| {name} | {n} | {seconds:.2} | {:.0} | {} | {:.1} |",
            n as f64 / seconds,
            status.batches,
            status.records_written as f64 / status.batches.max(1) as f64
        );
        drop(engine);
        if verify_dir.is_none() {
            verify_dir = Some(dir);
        }
    }

    let scratch = verify_dir.ok_or("no log")?;
    let dir = scratch.path();
    let bytes: u64 = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let started = Instant::now();
    for entry in std::fs::read_dir(dir)? {
        std::hint::black_box(std::fs::read(entry?.path())?);
    }
    let read = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = audit::verify(dir, Some(&key()?), None)?;
    let verified = started.elapsed().as_secs_f64();
    println!(
        "\n## verify ({} records, {:.1} MB, files in the page cache)",
        report.records,
        bytes as f64 / 1e6
    );
    println!("| | seconds | MB/s |");
    println!("|---|---:|---:|");
    println!(
        "| read the files | {read:.3} | {:.0} |",
        bytes as f64 / 1e6 / read
    );
    println!(
        "| acs_engine::audit::verify | {verified:.3} | {:.0} |",
        bytes as f64 / 1e6 / verified
    );
    Ok(())
}
