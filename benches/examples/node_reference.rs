//! The Rust engine's own figure for the Node binding's benchmark
//! (`bindings/node/bench/bench.js`), from the same run: `node_reference CASES.jsonl
//! ROUNDS` writes the representative cases to CASES.jsonl (one compact document per
//! line) and prints the mean nanoseconds per call of `Engine::evaluate` and
//! `Engine::evaluate_json` over them, round-robin, with the benches' host functions.
//! With `--no-functions` after ROUNDS, the engine has none registered (the rules calling
//! them record an error), as a binding that registers none sees it (the Python binding's
//! `bench/bench_arrow.py`).

#![allow(clippy::print_stdout, reason = "a bench helper prints its result")]

use std::io::Write;
use std::time::Instant;

use acs_benches::{bundle_engine, cases, BUNDLE_NAME, BUNDLE_YAML};
use acs_engine::Engine;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: node_reference CASES.jsonl ROUNDS [--no-functions]")?;
    let rounds: usize = args.next().map_or(Ok(200_000), |r| r.parse())?;
    let engine = match args.next().as_deref() {
        None => bundle_engine()?,
        Some("--no-functions") => Engine::builder().load_str(BUNDLE_NAME, BUNDLE_YAML)?,
        Some(other) => return Err(format!("unknown option {other}").into()),
    };
    let cases = cases();
    let mut file = std::fs::File::create(&out)?;
    let mut bytes = Vec::new();
    for case in &cases {
        let line = case.json_bytes();
        file.write_all(&line)?;
        file.write_all(b"\n")?;
        bytes.push(line);
    }
    let mut work = 0usize;
    let started = Instant::now();
    for case in cases.iter().cycle().take(rounds) {
        work += std::hint::black_box(engine.evaluate(std::hint::black_box(&case.input)))
            .matched
            .len();
    }
    let evaluate_ns = started.elapsed().as_nanos() as f64 / rounds as f64;
    let started = Instant::now();
    for json in bytes.iter().cycle().take(rounds) {
        work += std::hint::black_box(engine.evaluate_json(std::hint::black_box(json))?)
            .matched
            .len();
    }
    let evaluate_json_ns = started.elapsed().as_nanos() as f64 / rounds as f64;
    println!("{{\"evaluate_ns\": {evaluate_ns:.1}, \"evaluate_json_ns\": {evaluate_json_ns:.1}, \"work\": {work}}}");
    Ok(())
}
