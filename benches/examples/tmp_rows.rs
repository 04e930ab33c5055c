#![allow(clippy::print_stdout, missing_docs)]
use acs_benches::{cases, BUNDLE_NAME, BUNDLE_YAML};
use acs_engine::Engine;
use std::time::Instant;
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args().nth(1).map_or(Ok(100_000), |r| r.parse())?;
    let engine = Engine::builder().load_str(BUNDLE_NAME, BUNDLE_YAML)?;
    let lines: Vec<Vec<u8>> = cases().iter().map(|c| c.json_bytes()).collect();
    // One contiguous buffer with offsets, as an Arrow string column lies.
    let mut data = Vec::new();
    let mut offsets = vec![0usize];
    for i in 0..rows {
        data.extend_from_slice(&lines[i % lines.len()]);
        offsets.push(data.len());
    }
    for _ in 0..5 {
        let started = Instant::now();
        let mut work = 0;
        for json in lines.iter().cycle().take(rows) {
            work += engine
                .evaluate_json(std::hint::black_box(json))?
                .matched
                .len();
        }
        let hot = started.elapsed().as_nanos() as f64 / rows as f64;
        let started = Instant::now();
        for w in offsets.windows(2) {
            let json = &data[w[0]..w[1]];
            work += engine
                .evaluate_json(std::hint::black_box(json))?
                .matched
                .len();
        }
        let rows_ns = started.elapsed().as_nanos() as f64 / rows as f64;
        println!(
            "hot {hot:.0} rows {rows_ns:.0} ratio {:.3} {work}",
            rows_ns / hot
        );
    }
    Ok(())
}
