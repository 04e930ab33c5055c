//! Load a synthetic bundle of N rules, for profilers:
//! `cargo build --release -p acs-benches --example profile_load` then
//! `valgrind --tool=callgrind target/release/examples/profile_load 10000`.
//! A second argument `parse` stops after the YAML and condition parsing (no compile).

#![allow(clippy::print_stdout, reason = "a profiling helper prints its result")]

use acs_benches::host_functions;
use acs_benches::synth::{event_types_for, synthetic_bundle};
use acs_engine::unstable::{compile, load_rule_set, SourceFile, SourceMap};
use acs_engine::Limits;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rules: usize = args.next().map_or(Ok(10_000), |r| r.parse())?;
    let parse_only = args.next().as_deref() == Some("parse");
    let yaml = synthetic_bundle(rules, event_types_for(rules), 42);
    let mut sources = SourceMap::default();
    sources.add(SourceFile::new("synthetic.yaml", yaml));
    let (rule_set, diagnostics) = load_rule_set(sources);
    if parse_only {
        println!(
            "{} rules parsed, {} diagnostics",
            rule_set.rules.len(),
            diagnostics.len()
        );
        return Ok(());
    }
    let compiled =
        compile(&rule_set, &host_functions(), &Limits::default()).map_err(|d| format!("{d:?}"))?;
    println!("{} rules compiled", compiled.0.rule_count());
    Ok(())
}
