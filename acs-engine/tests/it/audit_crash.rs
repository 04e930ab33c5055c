//! Crash safety of the audit log under load: a child process evaluating on two threads is
//! killed with SIGKILL at random points (0-20 ms after its first returned decision), 100
//! times. After each kill the log verifies,
//! every decision whose evaluation returned is in it (`Fsync::EveryBatch`), and the next
//! process cuts whatever torn tail the kill left, says so in its status, and goes on.
//!
//! The child is this test binary run again (`crash_child_entry`, which does nothing
//! unless `ACS_AUDIT_CRASH_CHILD` names a log directory).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acs_engine::audit::{self, HmacKey};
use acs_engine::{AuditOptions, Engine, Fsync};
use serde_json::{json, Value};
use tempfile::TempDir;

const CHILD: &str = "ACS_AUDIT_CRASH_CHILD";
const ROUND: &str = "ACS_AUDIT_CRASH_ROUND";

const RULES: &str = r#"
- id: AUDITED
  priority: 100
  severity: high
  description: every payment is audited
  condition: "event.type == 'pay'"
  action:
    - flagWatchlist: { entityId: "{{ctx.user}}", reason: "paid {{ctx.n}}" }
  audit: true
"#;

fn key() -> HmacKey {
    HmacKey::new(vec![9u8; 32]).unwrap()
}

fn engine(dir: &Path) -> Engine {
    let mut options = AuditOptions::new(dir, Box::new(key()));
    options.fsync = Fsync::EveryBatch;
    // Checkpoints often and small segments, so that kills land during checkpoint writes
    // and segment rotations too.
    options.writer.checkpoint_records = 50;
    options.writer.segment_bytes = 256 * 1024;
    Engine::builder()
        .audit(options)
        .load_str("rules.yaml", RULES)
        .unwrap()
}

/// The child: open the log, say what opening it repaired, then decide payments on two
/// threads as fast as they go, printing `round n` for each evaluation that returned with
/// its record durable, until killed.
#[test]
fn crash_child_entry() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return; // run as a test of its own: nothing to do
    };
    let round: u64 = std::env::var(ROUND).unwrap().parse().unwrap();
    let engine = engine(Path::new(&dir));
    let status = engine.status();
    let audit = status.audit.as_ref().unwrap();
    let stdout = std::io::stdout();
    for repaired in &audit.recovered {
        writeln!(stdout.lock(), "recovered {repaired}").unwrap();
    }
    std::thread::scope(|scope| {
        for thread in 0..2u64 {
            let engine = &engine;
            let stdout = &stdout;
            scope.spawn(move || {
                // Records of two sizes, so that frames end at varied offsets.
                let pad = "x".repeat(if thread == 0 { 200 } else { 2_000 });
                for n in (thread..).step_by(2) {
                    let input = json!({"event": {"type": "pay"}, "ctx": {"user": "U-1", "round": round, "n": n, "pad": pad}});
                    let decision = engine.evaluate(&input);
                    assert_eq!(decision.matched.len(), 1);
                    if !decision.audit_unavailable {
                        let mut out = stdout.lock();
                        writeln!(out, "{round} {n}").unwrap();
                        out.flush().unwrap();
                    }
                }
            });
        }
    });
}

/// `(round, n)` of a child's `round n` line.
fn parse_returned(line: &str) -> Option<(u64, u64)> {
    let (round, n) = line.split_once(' ')?;
    Some((round.parse().ok()?, n.parse().ok()?))
}

fn temp_dir(label: &str) -> (TempDir, PathBuf) {
    crate::support::scratch_log(&format!("audit-crash-{label}"))
}

/// `(round, n)` of every decision record in the log.
fn recorded(dir: &Path) -> HashSet<(u64, u64)> {
    let mut out = HashSet::new();
    audit::read(dir, &mut |entry| {
        let record: Value = serde_json::from_slice(entry.body).unwrap();
        if record["kind"] == "decision" {
            let ctx = &record["input"]["ctx"];
            let pair = (ctx["round"].as_u64().unwrap(), ctx["n"].as_u64().unwrap());
            assert!(out.insert(pair), "{pair:?} recorded twice");
        }
    })
    .unwrap();
    out
}

#[cfg(unix)]
#[test]
fn sigkill_at_random_points_under_load_loses_no_returned_decision() {
    let (_scratch, dir) = temp_dir("kill");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    // A cheap deterministic spread of kill delays (no rand dependency).
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut returned: HashSet<(u64, u64)> = HashSet::new();
    let mut repairs = 0;
    let mut size = 0;
    for round in 0..100u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut child = Command::new(&exe)
            .args([
                "audit_crash::crash_child_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &dir)
            .env(ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Under load first: wait for the child's first returned evaluation, then kill it
        // somewhere in the next 0-20 ms.
        let started = Instant::now();
        let mut printed = Vec::new();
        // (The test harness prints lines of its own first: only `round n` counts.)
        for line in lines.by_ref() {
            let line = line.unwrap();
            let done = parse_returned(&line).is_some();
            printed.push(line);
            if done {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the child never decided"
            );
        }
        std::thread::sleep(Duration::from_micros(state % 20_000));
        child.kill().unwrap(); // SIGKILL
        printed.extend(lines.map_while(Result::ok));
        let _ = child.wait();
        for line in printed {
            if line.starts_with("recovered") {
                assert!(line.contains("torn tail"), "{line}");
                repairs += 1;
                continue;
            }
            // A line cut by the kill is not a returned evaluation's.
            if let Some(pair) = parse_returned(&line) {
                returned.insert(pair);
            }
        }
        let report = audit::verify(&dir, Some(&key()), None)
            .unwrap_or_else(|e| panic!("round {round}: the log does not verify: {e}"));
        assert!(report.records >= size, "round {round}: the log shrank");
        size = report.records;
    }
    let logged = recorded(&dir);
    let lost: Vec<_> = returned.difference(&logged).collect();
    assert!(lost.is_empty(), "returned but not in the log: {lost:?}");
    // Each round waited for one returned evaluation before its kill.
    assert!(
        returned.len() >= 100,
        "the children decided under load ({} returned)",
        returned.len()
    );
    // The last kill may have left a torn tail: a final writer cuts it, reports it and
    // goes on, and the log still verifies.
    let engine = engine(&dir);
    let decision = engine.evaluate(
        &json!({"event": {"type": "pay"}, "ctx": {"user": "U-1", "round": 1000, "n": 0}}),
    );
    assert!(!decision.audit_unavailable);
    drop(engine);
    audit::verify(&dir, Some(&key()), None).unwrap();
    eprintln!(
        "100 kills: {} evaluations returned, all in the log; {repairs} torn tails cut on restart",
        returned.len()
    );
}

/// A torn tail written by hand (half a frame at the end of the last segment) is cut when
/// the engine opens the log, named in its status, and the chain goes on.
#[test]
fn a_torn_tail_is_cut_and_reported_in_status() {
    let (_scratch, dir) = temp_dir("torn");
    let first = engine(&dir);
    first.evaluate(&json!({"event": {"type": "pay"}, "ctx": {"user": "U-1", "round": 0, "n": 1}}));
    drop(first);
    let segment = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| audit::parse_segment_name(&p.file_name().unwrap().to_string_lossy()).is_some())
        .max()
        .unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    file.write_all(&[0, 0, 1, 0, 7, 7]).unwrap(); // a length promising 256 bytes, then 2
    drop(file);
    let reopened = engine(&dir);
    let recovered = reopened.status().audit.unwrap().recovered;
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert!(recovered[0].contains("torn tail"), "{}", recovered[0]);
    assert!(recovered[0].contains("offset"), "{}", recovered[0]);
    reopened
        .evaluate(&json!({"event": {"type": "pay"}, "ctx": {"user": "U-1", "round": 0, "n": 2}}));
    drop(reopened);
    audit::verify(&dir, Some(&key()), None).unwrap();
    assert_eq!(recorded(&dir).len(), 2);
}

/// Under `Fsync::EveryBatch` the record is in the files when `evaluate` returns, with no
/// flush: what a process killed right after it returned leaves behind.
#[test]
fn every_batch_returns_with_the_record_on_disk() {
    let (_scratch, dir) = temp_dir("durable");
    let engine = engine(&dir);
    for n in 0..20 {
        let decision = engine.evaluate(
            &json!({"event": {"type": "pay"}, "ctx": {"user": "U-1", "round": 0, "n": n}}),
        );
        assert!(!decision.audit_unavailable);
        assert!(
            recorded(&dir).contains(&(0, n)),
            "record {n} not on disk when evaluate returned"
        );
    }
}
