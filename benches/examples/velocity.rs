//! What velocity counting adds to an evaluation, side by side in one run:
//! `velocity ROUNDS` decides `bid.modify` events of 1,000 users with (a) a rule that reads
//! no counter, (b) the same rule reading a counter in the in-process store, (c) the same
//! in Redis on localhost (a `redis-server` this program starts on a free port), in
//! interleaved passes, and prints p50 / p99 / mean per evaluation of each. Then the
//! throughput of 1 process and of 2 processes sharing that Redis (each process this
//! program again, `velocity --worker URL N`). `velocity --memory KEYS` measures the
//! in-process store's memory per key and its sweep of idle keys. `velocity --backtest
//! LINES` measures a backtest of a timed counter over shuffled lines (the timeline: both
//! passes, on every core) against the same backtest of rules that count nothing, side by
//! side, and the resident memory the timeline adds per event.

#![allow(clippy::print_stdout, reason = "a bench prints its figures")]
#![allow(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "a bench program over its own fixed inputs and sample counts"
)]

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acs_engine::velocity::{RedisOptions, RedisStore};
use acs_engine::Engine;
use serde_json::{json, Value};

const WITH_COUNTER: &str = r#"
velocity:
  - name: bid.modify
    events: [bid.modify]
    key: ctx.userId
    windows: [1m, 1h]
rules:
  - id: FLOOD
    priority: 1
    severity: medium
    description: more than 20 changes a minute
    condition: "event.type == 'bid.modify' && velocity.count('bid.modify', ctx.userId, '1m') > 20"
    action: [ { throttle: { policy: backoff } } ]
    audit: false
"#;

const WITHOUT_COUNTER: &str = r#"
- id: FLOOD
  priority: 1
  severity: medium
  description: the same rule, reading no counter
  condition: "event.type == 'bid.modify' && ctx.userId == 'U-nobody'"
  action: [ { throttle: { policy: backoff } } ]
  audit: false
"#;

fn inputs() -> Vec<Value> {
    (0..1000)
        .map(|i| json!({"event": {"type": "bid.modify"}, "ctx": {"userId": format!("U-{i}")}}))
        .collect()
}

fn redis_engine(url: &str) -> Result<Engine, Box<dyn std::error::Error>> {
    let mut options = RedisOptions::new(url);
    options.budget = Duration::from_millis(50);
    let store = RedisStore::open(options)?;
    Ok(Engine::builder()
        .velocity_store(Arc::new(store))
        .load_str("rules.yaml", WITH_COUNTER)?)
}

/// Resident memory of this process, in bytes (Linux).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// `velocity --memory KEYS`: the in-process store's memory per key (two windows, keys of
/// 8-9 characters), and what a sweep gives back once the keys are idle.
fn memory(keys: usize) -> Result<(), Box<dyn std::error::Error>> {
    use acs_engine::velocity::{LocalStore, LocalStoreOptions, Record, VelocityStore, Window};
    let windows = [
        Window::parse("1m").ok_or("1m")?,
        Window::parse("1h").ok_or("1h")?,
    ];
    let store = LocalStore::new(LocalStoreOptions { max_keys: keys * 2 });
    let before = resident();
    let start = 1_764_000_000_000.0;
    for i in 0..keys {
        let key = format!("U-{i:07}");
        store.record(
            &[Record {
                counter: "bid.modify",
                key: &key,
                windows: &windows,
                event_id: None,
            }],
            start,
        )?;
    }
    let after = resident();
    println!(
        "{keys} keys, 2 windows: {} bytes resident, {:.0} bytes per key",
        after - before,
        (after - before) as f64 / keys as f64
    );
    // Two hours on, every key is idle: the sweeps (one shard per 1,024 records) drop them.
    for i in 0..(16 * 1024 + 1) {
        let key = format!("busy-{}", i % 8);
        store.record(
            &[Record {
                counter: "bid.modify",
                key: &key,
                windows: &windows,
                event_id: None,
            }],
            start + 7_200_000.0,
        )?;
    }
    println!("after the sweeps: {} keys held", store.keys());
    Ok(())
}

const TIMED: &str = r#"
velocity:
  - name: pays
    events: [pay]
    key: ctx.userId
    windows: [1m, 1h]
    time: event.at
    id: event.id
rules:
  - id: BURST
    priority: 1
    severity: medium
    description: a fourth payment within a minute
    condition: "event.type == 'pay' && ctx.amount > 0 && velocity.count('pays', ctx.userId, '1m') > 3"
    action: [ { flagWatchlist: { reason: burst } } ]
    audit: false
"#;

/// `velocity --backtest LINES`: LINES payments of LINES / 10 users over a day, shuffled;
/// backtests with and without the counter, interleaved, three rounds each.
fn backtest(lines: usize) -> Result<(), Box<dyn std::error::Error>> {
    use acs_engine::backtest::Backtest;
    let users = (lines / 10).max(1);
    let mut text = String::with_capacity(lines * 110);
    // A multiplicative walk over the lines: each appears once, far from its neighbours.
    let step = 7_919 % lines.max(1);
    let mut at = 0;
    for _ in 0..lines {
        at = (at + step.max(1)) % lines.max(1);
        let instant = 1_764_800_000_000_u64 + (at as u64) * 86_400_000 / lines as u64;
        text.push_str(&format!(
            "{}\n",
            json!({"event": {"type": "pay", "at": instant, "id": format!("E{at}")},
                   "ctx": {"userId": format!("U-{}", at % users), "amount": 10}})
        ));
    }
    let counting = Engine::builder().load_str("rules.yaml", TIMED)?;
    // The same rule without the count, and no counter declared: one pass, as before.
    let rules_only = TIMED
        .split_once("rules:\n")
        .map_or("", |(_, rules)| rules)
        .replace(" && velocity.count('pays', ctx.userId, '1m') > 3", "");
    let plain = Engine::builder().load_str("rules.yaml", rules_only)?;
    assert!(!Backtest::new(&plain).counts_velocity());
    println!(
        "{lines} lines, {users} users, {} MB",
        text.len() / 1_000_000
    );
    for round in 1..=3 {
        let mut seconds = [0.0; 2];
        for (i, engine) in [&plain, &counting].into_iter().enumerate() {
            let started = Instant::now();
            let report = Backtest::new(engine).run(text.as_bytes(), |_| {})?;
            seconds[i] = started.elapsed().as_secs_f64();
            assert_eq!(report.inputs, lines as u64);
        }
        println!(
            "round {round}: no counter {:.2} s, timed counter {:.2} s: {:.2}x",
            seconds[0],
            seconds[1],
            seconds[1] / seconds[0]
        );
    }
    // The timeline alone: its resident memory per event.
    let before = resident();
    let mut timeline = Backtest::new(&counting).timeline();
    let backtest = Backtest::new(&counting);
    for (number, line) in text.lines().enumerate() {
        let input: Value = serde_json::from_str(line)?;
        timeline.add(number as u64 + 1, backtest.events(&input));
    }
    let sealed = timeline.seal();
    let after = resident();
    println!(
        "timeline of {lines} events: {} bytes resident, {:.0} bytes per event",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / lines as f64
    );
    drop(sealed);
    Ok(())
}

/// Nanoseconds of each of `rounds` evaluations.
fn timed(engine: &Engine, inputs: &[Value], rounds: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let input = &inputs[i % inputs.len()];
        let started = Instant::now();
        let decision = engine.evaluate(input);
        out.push(started.elapsed().as_nanos() as u64);
        assert!(decision.errors.is_empty(), "{:?}", decision.errors);
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--memory") {
        let keys: usize = args.get(2).map_or(Ok(200_000), |n| n.parse())?;
        return memory(keys);
    }
    if args.get(1).map(String::as_str) == Some("--backtest") {
        let lines: usize = args.get(2).map_or(Ok(1_000_000), |n| n.parse())?;
        return backtest(lines);
    }
    if args.get(1).map(String::as_str) == Some("--worker") {
        let url = &args[2];
        let rounds: usize = args[3].parse()?;
        let engine = redis_engine(url)?;
        timed(&engine, &inputs(), rounds);
        return Ok(());
    }
    let rounds: usize = args.get(1).map_or(Ok(20_000), |r| r.parse())?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()?;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("redis://127.0.0.1:{port}");
    let inputs = inputs();
    let engines = [
        (
            "no velocity rule",
            Engine::builder().load_str("rules.yaml", WITHOUT_COUNTER)?,
        ),
        (
            "in-process counter",
            Engine::builder().load_str("rules.yaml", WITH_COUNTER)?,
        ),
        ("Redis counter (localhost)", redis_engine(&url)?),
    ];
    let mut samples: Vec<Vec<u64>> = vec![Vec::new(); engines.len()];
    for (_, engine) in &engines {
        timed(engine, &inputs, rounds / 10); // warm up, connect
    }
    for _pass in 0..5 {
        for ((_, engine), samples) in engines.iter().zip(&mut samples) {
            samples.extend(timed(engine, &inputs, rounds / 5));
        }
    }
    println!("| path | p50 ns | p99 ns | mean ns |");
    println!("|---|---:|---:|---:|");
    for ((name, _), samples) in engines.iter().zip(&mut samples) {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
        let mean = samples.iter().sum::<u64>() / samples.len() as u64;
        println!("| {name} | {} | {} | {mean} |", at(0.5), at(0.99));
    }
    let me = std::env::current_exe()?;
    let per_process = rounds;
    let mut throughput = Vec::new();
    for processes in [1usize, 2] {
        let started = Instant::now();
        let children: Vec<_> = (0..processes)
            .map(|_| {
                Command::new(&me)
                    .args(["--worker", &url, &per_process.to_string()])
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        for mut child in children {
            assert!(child.wait()?.success());
        }
        let seconds = started.elapsed().as_secs_f64();
        let per_second = (processes * per_process) as f64 / seconds;
        throughput.push(per_second);
        println!(
            "{processes} process(es) sharing Redis: {per_second:.0} evaluations/s ({seconds:.2} s)"
        );
    }
    println!("2 processes / 1: {:.2}x", throughput[1] / throughput[0]);
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
