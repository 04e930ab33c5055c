//! Recording decisions from the request path (`EngineBuilder::audit`): which decisions are
//! recorded, what a record holds, redaction, overflow policies, write errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acs_engine::audit::{self, HmacKey, Redactor};
use acs_engine::{AuditOptions, Engine, Fsync, FunctionError, Overflow};
use serde_json::{json, Value};
use tempfile::TempDir;

const RULES: &str = r#"
- id: AUDITED
  priority: 100
  severity: high
  description: audited
  condition: "event.type == 'pay' && db.score(ctx.user) > 5"
  action:
    - rejectRequest: { code: RISK, message: "too risky" }
  audit: true
- id: PLAIN
  priority: 10
  severity: low
  description: not audited
  condition: "event.type == 'login'"
  action: []
  audit: false
"#;

fn key() -> HmacKey {
    HmacKey::new(vec![7u8; 32]).unwrap()
}

fn temp_dir(label: &str) -> (TempDir, PathBuf) {
    crate::support::scratch_log(&format!("audit-rec-{label}"))
}

fn engine(options: AuditOptions) -> Engine {
    Engine::builder()
        .function("db.score", |args: &[&Value]| {
            if args[0] == "boom" {
                return Err(FunctionError::new("db_down", "no database"));
            }
            Ok(json!(if args[0] == "U-1" { 9 } else { 1 }))
        })
        .audit(options)
        .load_str("rules.yaml", RULES)
        .unwrap()
}

fn records(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    audit::read(dir, &mut |entry| {
        out.push(serde_json::from_slice(entry.body).unwrap());
    })
    .unwrap();
    out
}

fn decisions(dir: &Path) -> Vec<Value> {
    records(dir)
        .into_iter()
        .filter(|r| r["kind"] == "decision")
        .collect()
}

fn inputs() -> Vec<Value> {
    vec![
        json!({"event": {"type": "pay"}, "ctx": {"user": "U-1", "card": "4111"}}),
        json!({"event": {"type": "pay"}, "ctx": {"user": "U-2", "card": "4222"}}),
        json!({"event": {"type": "login"}, "ctx": {"user": "U-1"}}),
        json!({"event": {"type": "pay"}, "ctx": {"user": "boom"}}),
    ]
}

#[test]
fn only_audit_decisions_are_recorded_with_their_calls_and_the_ruleset() {
    let (_scratch, dir) = temp_dir("only");
    let engine = engine(AuditOptions::new(&dir, Box::new(key())));
    // Records keep the whole input: a binding must not cut it to the plan's reads.
    assert!(engine.needs_whole_input());
    assert!(!Engine::builder()
        .load_str("rules.yaml", RULES)
        .unwrap()
        .needs_whole_input());
    let decided: Vec<_> = inputs().iter().map(|i| engine.evaluate(i)).collect();
    assert!(decided.iter().all(|d| !d.audit_unavailable));
    engine.audit_flush(Duration::from_secs(10)).unwrap();
    let status = engine.status().audit.unwrap();
    assert!(status.alive);
    assert_eq!(status.records_written, 2, "{status:?}");
    drop(engine);
    let all = records(&dir);
    assert_eq!(all[0]["kind"], "ruleset");
    assert_eq!(all[0]["files"][0]["text"], RULES);
    let recorded = decisions(&dir);
    assert_eq!(recorded.len(), 1);
    let record = &recorded[0];
    assert_eq!(record["seq"], 1);
    assert_eq!(record["verdict"]["outcome"], "rejected");
    assert_eq!(record["matched"][0]["id"], "AUDITED");
    assert_eq!(record["generation"], 1);
    assert_eq!(
        record["calls"],
        json!([{"name": "db.score", "args": ["U-1"], "result": 9}])
    );
    assert_eq!(record["input"]["ctx"]["card"], "4111");
    assert!(record["time"].as_str().unwrap().ends_with('Z'));
    // Closing the engine checkpointed the whole log.
    let report = audit::verify(&dir, Some(&key()), None).unwrap();
    assert_eq!(report.records, 2);
    assert!(report.checkpoints >= 1);
}

/// An engine recording every decision into `dir`, and one that does not audit (whose
/// host function answers alike for every input).
fn recording_all_and_plain(dir: &Path) -> (Engine, Engine) {
    let mut options = AuditOptions::new(dir, Box::new(key()));
    options.record_all = true;
    let plain = Engine::builder()
        .function("db.score", |_: &[&Value]| Ok(json!(9)))
        .load_str("rules.yaml", RULES)
        .unwrap();
    (engine(options), plain)
}

/// The decision records in `dir` without the fields two runs cannot share (time, seq).
fn comparable_decisions(dir: &Path) -> Vec<Value> {
    let mut recorded = decisions(dir);
    for record in &mut recorded {
        let fields = record.as_object_mut().unwrap();
        for varying in ["time", "seq"] {
            fields.remove(varying);
        }
    }
    recorded
}

/// Two runs over `inputs()` recorded the same records, each holding its input.
fn assert_same_records_of_the_inputs(logs: &[Vec<Value>]) {
    assert_eq!(logs[0].len(), inputs().len());
    assert_eq!(logs[0], logs[1]);
    for (record, input) in logs[1].iter().zip(inputs()) {
        assert_eq!(record["input"], input);
    }
}

/// `evaluate_owned` decides as `evaluate` does, and its records keep the document given.
#[test]
fn evaluate_owned_decides_and_records_as_evaluate_does() {
    let (_by_ref_scratch, by_ref) = temp_dir("by-ref");
    let (_by_value_scratch, by_value) = temp_dir("by-value");
    let mut logs = Vec::new();
    for dir in [&by_ref, &by_value] {
        let (engine, plain) = recording_all_and_plain(dir);
        for input in inputs() {
            let decision = if dir == &by_ref {
                engine.evaluate(&input)
            } else {
                engine.evaluate_owned(input.clone())
            };
            assert_eq!(
                decision.matched.len(),
                engine.evaluate(&input).matched.len()
            );
            assert_eq!(
                plain.evaluate_owned(input.clone()),
                plain.evaluate(&input),
                "{input}"
            );
        }
        drop(engine);
        // Every other record is the check's `evaluate`: keep the decisions under test.
        logs.push(comparable_decisions(dir).into_iter().step_by(2).collect());
    }
    assert_same_records_of_the_inputs(&logs);
}

#[test]
fn record_all_records_every_decision_and_host_errors() {
    let (_scratch, dir) = temp_dir("all");
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.record_all = true;
    options.fsync = Fsync::Never;
    let engine = engine(options);
    for input in inputs() {
        engine.evaluate(&input);
    }
    engine
        .evaluate_json(br#"{"event": {"type": "login"}}"#)
        .unwrap();
    drop(engine);
    let recorded = decisions(&dir);
    assert_eq!(recorded.len(), 5);
    assert_eq!(
        recorded[3]["calls"],
        json!([{"name": "db.score", "args": ["boom"], "error": {"code": "db_down", "message": "no database"}}])
    );
    assert_eq!(recorded[3]["errors"][0]["rule_id"], "AUDITED");
    audit::verify(&dir, Some(&key()), None).unwrap();
}

#[test]
fn redacted_fields_are_never_written_in_clear() {
    let (_scratch, dir) = temp_dir("redact");
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.record_all = true;
    options.redactor = Some(
        Redactor::new(vec![9u8; 32])
            .remove("/ctx/card")
            .unwrap()
            .hash("ctx.user")
            .unwrap(),
    );
    let engine = engine(options);
    engine.evaluate(&json!({"event": {"type": "pay"}, "ctx": {"user": "SECRET-USER-77", "card": "4999123412341234"}}));
    drop(engine);
    let recorded = decisions(&dir);
    let input = &recorded[0]["input"]["ctx"];
    assert!(input.get("card").is_none(), "{input}");
    assert!(input["user"].as_str().unwrap().starts_with("hmac-sha256:"));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("4999123412341234"));
        assert!(!text.contains("SECRET-USER-77"));
    }
}

/// A writer slowed by its checkpoint publisher (a checkpoint per record), with requests
/// that do not wait for their records (`Fsync::Never`), so that the queue fills.
fn slow(label: &str, overflow: Overflow) -> (TempDir, PathBuf, Engine) {
    let (scratch, dir) = temp_dir(label);
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.fsync = Fsync::Never;
    options.record_all = true;
    options.queue_capacity = 1;
    options.overflow = overflow;
    options.writer.checkpoint_records = 1;
    options.on_checkpoint = Some(Box::new(|_| std::thread::sleep(Duration::from_millis(20))));
    (scratch, dir, engine(options))
}

#[test]
fn overflow_drop_counts_and_mark_unavailable_marks() {
    let login = json!({"event": {"type": "login"}});
    let (_scratch, _, engine) = slow("drop", Overflow::Drop);
    let decided: Vec<_> = (0..50).map(|_| engine.evaluate(&login)).collect();
    assert!(decided.iter().all(|d| !d.audit_unavailable));
    let dropped = engine.status().audit.unwrap().dropped;
    assert!(dropped > 0, "nothing dropped");
    assert!(engine
        .metrics()
        .to_prometheus()
        .contains(&format!("acs_audit_dropped_total {dropped}")));
    drop(engine);

    let (_scratch, _, engine) = slow("mark", Overflow::MarkUnavailable);
    let decided: Vec<_> = (0..50).map(|_| engine.evaluate(&login)).collect();
    let marked = decided.iter().filter(|d| d.audit_unavailable).count() as u64;
    assert!(marked > 0);
    assert_eq!(marked, engine.status().audit.unwrap().dropped);
    let json = serde_json::to_value(decided.iter().find(|d| d.audit_unavailable).unwrap()).unwrap();
    assert_eq!(json["audit_unavailable"], true);
    let json = serde_json::to_value(engine.plan().evaluate(&login)).unwrap();
    assert!(json.get("audit_unavailable").is_none());
    drop(engine);
}

#[test]
fn overflow_block_waits_for_room() {
    let login = json!({"event": {"type": "login"}});
    let (_scratch, dir, engine) = slow("block", Overflow::Block(Duration::from_secs(5)));
    let started = std::time::Instant::now();
    let decided: Vec<_> = (0..10).map(|_| engine.evaluate(&login)).collect();
    assert!(decided.iter().all(|d| !d.audit_unavailable));
    // Ten records through a writer that takes 20 ms each: the requests waited.
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(engine.status().audit.unwrap().dropped, 0);
    drop(engine);
    assert_eq!(decisions(&dir).len(), 10);
}

#[test]
fn an_unusable_directory_is_a_load_error_and_a_failed_write_is_in_status() {
    // A directory that cannot be made: a file stands in its way.
    let (_blocker_scratch, blocker) = temp_dir("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let error = Engine::builder()
        .audit(AuditOptions::new(blocker.join("log"), Box::new(key())))
        .load_str("rules.yaml", RULES)
        .unwrap_err();
    assert_eq!(error.code(), "audit");

    // A log whose segment vanishes under the writer (as a disk that fails): reported,
    // no panic, later records dropped and marked.
    #[cfg(target_os = "linux")]
    if Path::new("/dev/full").exists() {
        let (_scratch, dir) = temp_dir("full");
        let mut options = AuditOptions::new(&dir, Box::new(key()));
        options.record_all = true;
        options.overflow = Overflow::MarkUnavailable;
        let engine = engine(options);
        engine.audit_flush(Duration::from_secs(10)).unwrap();
        // Every write to /dev/full fails with ENOSPC.
        let segment = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "log") && !p.ends_with("checkpoints.log"))
            .unwrap();
        std::fs::remove_file(&segment).unwrap();
        std::os::unix::fs::symlink("/dev/full", &segment).unwrap();
        drop(engine);
        let engine = {
            let mut options = AuditOptions::new(&dir, Box::new(key()));
            options.record_all = true;
            options.overflow = Overflow::MarkUnavailable;
            Engine::builder()
                .function("db.score", |_: &[&Value]| Ok(json!(1)))
                .audit(options)
                .load_str("rules.yaml", RULES)
        };
        // Opening may already fail on the odd segment: either way it is an error, not a panic.
        if let Ok(engine) = engine {
            for _ in 0..3 {
                engine.evaluate(&json!({"event": {"type": "login"}}));
            }
            let _ = engine.audit_flush(Duration::from_secs(10));
            let status = engine.status().audit.unwrap();
            assert!(!status.alive, "{status:?}");
            assert!(status.last_error.is_some());
            assert!(engine
                .metrics()
                .to_prometheus()
                .contains("acs_audit_alive 0"));
            assert!(
                engine
                    .evaluate(&json!({"event": {"type": "login"}}))
                    .audit_unavailable
            );
        }
    }
}

#[test]
fn a_reload_records_the_new_rules_and_the_generation_that_decided() {
    let (_scratch, dir) = temp_dir("reload");
    let (_rules_scratch, rules_dir) = temp_dir("reload-rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    let path = rules_dir.join("rules.yaml");
    std::fs::write(&path, RULES).unwrap();
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.record_all = true;
    let engine = Engine::builder()
        .function("db.score", |_: &[&Value]| Ok(json!(9)))
        .audit(options)
        .load_path(&path)
        .unwrap();
    let pay = json!({"event": {"type": "pay"}, "ctx": {"user": "U-1"}});
    engine.evaluate(&pay);
    std::fs::write(&path, RULES.replace("> 5", "> 50")).unwrap();
    engine.reload().unwrap();
    engine.evaluate(&pay);
    drop(engine);
    let all = records(&dir);
    let kinds: Vec<_> = all
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_owned(),
                r["generation"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("ruleset".to_owned(), 1),
            ("decision".to_owned(), 1),
            ("ruleset".to_owned(), 2),
            ("decision".to_owned(), 2)
        ]
    );
    assert_eq!(all[3]["ruleset_hash"], all[2]["ruleset_hash"]);
    assert_ne!(all[1]["ruleset_hash"], all[3]["ruleset_hash"]);
}

#[test]
fn a_redacted_field_rendered_into_an_action_is_not_written_in_clear() {
    let rules = r#"
- id: WATCH
  priority: 1
  severity: high
  description: d
  condition: event.type == 'pay'
  action:
    - flagWatchlist: { entityType: user, entityId: "{{ctx.user}}", reason: "card {{ctx.card}}" }
  audit: true
"#;
    let (_scratch, dir) = temp_dir("redact-actions");
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.redactor = Some(Redactor::new(vec![9u8; 32]).hash("ctx.user").unwrap());
    let engine = Engine::builder()
        .audit(options)
        .load_str("rules.yaml", rules)
        .unwrap();
    let decision = engine.evaluate(
        &json!({"event": {"type": "pay"}, "ctx": {"user": "SECRET-USER-77", "card": "4111"}}),
    );
    assert_eq!(
        decision.matched_ids(),
        ["WATCH"],
        "the caller still gets the clear value"
    );
    drop(engine);
    let recorded = decisions(&dir);
    let params = &recorded[0]["matched"][0]["actions"][0]["params"];
    assert!(
        params["entityId"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:"),
        "{params}"
    );
    assert_eq!(
        params["entityId"], recorded[0]["input"]["ctx"]["user"],
        "the input's stand-in"
    );
    assert_eq!(recorded[0]["matched"][0]["severity"], "high");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("SECRET-USER-77"));
    }
}

/// A redacted field interpolated into text (an action's parameter, the verdict's
/// message) or quoted by a host function's error is replaced inside that text, whether
/// the field was hashed or removed: the log holds no copy of it anywhere.
#[test]
fn a_redacted_field_inside_rendered_text_and_messages_is_not_written_in_clear() {
    let rules = r#"
- id: CARD
  priority: 10
  severity: high
  description: d
  condition: event.type == 'pay'
  action:
    - rejectRequest: { code: CARD, message: "card {{ctx.card}} of {{ctx.user}} refused" }
    - notifyRole: { role: risk, message: "user={{ctx.user}};cvv={{ctx.cvv}}" }
  audit: true
- id: LOOKUP
  priority: 1
  severity: low
  description: d
  condition: event.type == 'pay' && db.lookup(ctx.user) == 1
  action: []
  audit: false
"#;
    let (_scratch, dir) = temp_dir("redact-text");
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.redactor = Some(
        Redactor::new(vec![9u8; 32])
            .hash("ctx.user")
            .unwrap()
            .remove("ctx.card")
            .unwrap()
            .remove("ctx.cvv")
            .unwrap(),
    );
    let engine = Engine::builder()
        .function("db.lookup", |args: &[&Value]| {
            Err(FunctionError::new(
                "not_found",
                format!("no account for {}", args[0]),
            ))
        })
        .audit(options)
        .load_str("rules.yaml", rules)
        .unwrap();
    let input = json!({"event": {"type": "pay"}, "ctx": {"user": "SECRET-USER-77", "card": "4111222233334444", "cvv": 987}});
    let decision = engine.evaluate(&input);
    assert_eq!(
        decision.rejection().unwrap().message(),
        Some("card 4111222233334444 of SECRET-USER-77 refused"),
        "the caller still gets the clear text"
    );
    let from_bytes = engine.evaluate_json(input.to_string().as_bytes()).unwrap();
    assert_eq!(from_bytes.matched_ids(), ["CARD"]);
    drop(engine);
    let recorded = decisions(&dir);
    assert_eq!(recorded.len(), 2);
    for record in &recorded {
        let text = record.to_string();
        for secret in ["SECRET-USER-77", "4111222233334444", "cvv=987"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let message = record["verdict"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("card [redacted] of hmac-sha256:"),
            "{message}"
        );
        let notify = record["matched"][0]["actions"][1]["params"]["message"]
            .as_str()
            .unwrap();
        assert!(notify.ends_with(";cvv=[redacted]"), "{notify}");
        assert_eq!(
            record["matched"][0]["id"], "CARD",
            "rule ids are left alone"
        );
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("SECRET-USER-77") && !text.contains("4111222233334444"));
    }
}

/// A backtest that records (`Backtest::record_to`, what `acs replay --audit-dir` does)
/// evaluates each line once: the host functions are called once per line, every audited
/// decision is in the log with the backtest's ruleset hash, and the engine's request
/// metrics count none of them.
#[cfg(feature = "tools")]
#[test]
fn a_recording_backtest_evaluates_each_line_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let (_scratch, dir) = temp_dir("backtest");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let engine = Engine::builder()
        .function("db.score", move |args: &[&Value]| {
            counted.fetch_add(1, Ordering::Relaxed);
            Ok(json!(if args[0] == "U-1" { 9 } else { 1 }))
        })
        .audit(AuditOptions::new(&dir, Box::new(key())))
        .load_str("rules.yaml", RULES)
        .unwrap();
    let lines: String = (0..40)
        .map(|i| {
            format!(
                "{}\n",
                json!({"event": {"type": "pay"}, "ctx": {"user": if i % 2 == 0 { "U-1" } else { "U-2" }, "n": i}})
            )
        })
        .collect();
    let report = acs_engine::backtest::Backtest::new(&engine)
        .threads(2)
        .record_to(&engine)
        .run(lines.as_bytes(), |_| {})
        .unwrap();
    assert_eq!(report.inputs, 40);
    assert_eq!(calls.load(Ordering::Relaxed), 40, "one host call per line");
    engine.audit_flush(Duration::from_secs(30)).unwrap();
    let recorded = decisions(&dir);
    assert_eq!(recorded.len(), 20, "the U-1 lines matched the audited rule");
    let hash = engine.plan().ruleset_hash().to_string();
    assert!(recorded.iter().all(|r| r["ruleset_hash"] == hash.as_str()));
    let mut ns: Vec<u64> = recorded
        .iter()
        .map(|r| r["input"]["ctx"]["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..40).step_by(2).collect::<Vec<u64>>());
    assert_eq!(engine.metrics().evaluations, 0, "a backtest is not traffic");
    drop(engine);
    audit::verify(&dir, Some(&key()), None).unwrap();
}

#[cfg(feature = "tools")]
#[test]
fn records_carry_the_velocity_counts_used_and_a_replay_reproduces_them() {
    const VELOCITY: &str = r#"
velocity:
  - name: pays
    events: [pay]
    key: ctx.user
    windows: [1m]
rules:
  - id: FAST
    priority: 1
    severity: high
    description: the third payment in a minute
    condition: "event.type == 'pay' && velocity.count('pays', ctx.user, '1m') >= 3"
    action:
      - rejectRequest: { code: FAST, message: "{{velocity.count('pays', ctx.user, '1m')}} payments" }
    audit: true
"#;
    let (_scratch, dir) = temp_dir("velocity");
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.record_all = true;
    let engine = Engine::builder()
        .audit(options)
        .load_str("rules.yaml", VELOCITY)
        .unwrap();
    let pay = json!({"event": {"type": "pay"}, "ctx": {"user": "U-1"}});
    let decided: Vec<bool> = (0..4)
        .map(|_| engine.evaluate(&pay).matched.is_empty())
        .collect();
    assert_eq!(decided, [true, true, false, false]);
    engine
        .audit_flush(std::time::Duration::from_secs(10))
        .unwrap();
    let recorded = decisions(&dir);
    assert_eq!(recorded.len(), 4);
    assert_eq!(
        recorded[2]["velocity"],
        json!([{"counter": "pays", "key": "U-1", "windows": ["1m"], "counts": [3]}])
    );
    // A fresh engine counts nothing of its own: the record's counts decide, exactly,
    // also when unknown names are answered by the recording (as `acs replay --audit`
    // loads rules): velocity's built-ins are not mistaken for recorded host calls.
    let fresh = Engine::builder().load_str("rules.yaml", VELOCITY).unwrap();
    let answered = Engine::builder()
        .functions(acs_engine::Functions::new().answered_by_recording())
        .load_str("rules.yaml", VELOCITY)
        .unwrap();
    for record in &recorded {
        let calls = acs_engine::backtest::RecordedCalls::from_record(record).unwrap();
        let replayed =
            acs_engine::backtest::replay(&answered.plan(), &record["input"], &calls, None);
        assert_eq!(
            serde_json::to_value(&replayed).unwrap()["verdict"],
            record["verdict"]
        );
    }
    for record in &recorded {
        let calls = acs_engine::backtest::RecordedCalls::from_record(record).unwrap();
        let replayed = acs_engine::backtest::replay(
            &fresh.plan(),
            &record["input"],
            &calls,
            record["now"].as_f64(),
        );
        let replayed = serde_json::to_value(&replayed).unwrap();
        for field in ["verdict", "matched", "errors"] {
            assert_eq!(replayed[field], record[field], "{field} of {record}");
        }
        // One column can carry both parts: `{"calls": ..., "velocity": ...}`.
        let both = json!({"calls": record["calls"], "velocity": record["velocity"]});
        let calls = acs_engine::backtest::RecordedCalls::from_value(&both).unwrap();
        let again = acs_engine::backtest::replay(&fresh.plan(), &record["input"], &calls, None);
        assert_eq!(
            serde_json::to_value(&again).unwrap()["verdict"],
            record["verdict"]
        );
    }
    let mut read = Vec::new();
    acs_engine::backtest::recorded_decisions(&dir, &mut |decision| read.push(decision)).unwrap();
    assert_eq!(read.len(), 4);
    assert_eq!(read[3].velocity[0]["counts"], json!([4]));
    let nested = json!({"calls": {"name": "x"}});
    assert!(acs_engine::backtest::RecordedCalls::from_value(&nested).is_err());
}

/// The writer decides each recorded request again from what the request handed over
/// (host answers in call order, `now()`, the rules switched off): whatever changed in
/// between, a host that answers differently on every call and a rule switched back on
/// before the writer runs, the record holds the decision the request returned and the
/// calls it made.
#[test]
fn a_record_holds_the_decision_the_request_returned_whatever_changed_since() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{mpsc, Arc, Mutex};
    const MOVING: &str = r#"
- id: SCORED
  priority: 100
  severity: high
  description: a score that moves with every call
  condition: "event.type == 'pay' && db.score(ctx.user) > 2 && db.score(ctx.friend) > 3"
  action:
    - rejectRequest: { code: RISK, message: "score {{ctx.user}}" }
  audit: true
- id: SWITCHED
  priority: 50
  severity: low
  description: switched off for the first requests
  condition: "event.type == 'pay' && db.limit(ctx.user) < 100"
  action:
    - flag: { reason: "limit {{ctx.user}}" }
  audit: false
- id: CLOCKED
  priority: 10
  severity: low
  description: reads the clock
  condition: "event.type == 'pay' && now() > event.at"
  action:
    - flag: { reason: "late" }
  audit: false
"#;
    let (_scratch, dir) = temp_dir("again");
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.record_all = true;
    options.fsync = Fsync::Never;
    options.writer.checkpoint_records = 1;
    // The writer is held in the publisher of its first checkpoint (the ruleset's record)
    // until every request below has returned.
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(Some(released));
    options.on_checkpoint = Some(Box::new(move |_| {
        if let Some(released) = released.lock().unwrap().take() {
            let _ = released.recv_timeout(Duration::from_secs(60));
        }
    }));
    let calls = Arc::new(AtomicU64::new(0));
    let answers = Arc::clone(&calls);
    let engine = Engine::builder()
        .function("db.score", move |_: &[&Value]| {
            Ok(json!(answers.fetch_add(1, Ordering::Relaxed) % 7))
        })
        .function("db.limit", |args: &[&Value]| {
            if args[0] == "U-3" {
                return Err(FunctionError::new("db_down", "no limit"));
            }
            Ok(json!(50))
        })
        .audit(options)
        .load_str("rules.yaml", MOVING)
        .unwrap();
    assert!(matches!(
        engine.set_rule_enabled("SWITCHED", false),
        acs_engine::RuleSwitch::Applied
    ));
    let mut returned = Vec::new();
    for round in 0..12 {
        if round == 6 {
            assert!(matches!(
                engine.set_rule_enabled("SWITCHED", true),
                acs_engine::RuleSwitch::Applied
            ));
        }
        let input = json!({
            "event": {"type": "pay", "at": 1},
            "ctx": {"user": format!("U-{}", round % 4), "friend": "F"}
        });
        let decision = if round % 2 == 0 {
            engine.evaluate(&input)
        } else {
            engine.evaluate_json(input.to_string().as_bytes()).unwrap()
        };
        returned.push(serde_json::to_value(&decision).unwrap());
    }
    assert!(matches!(
        engine.set_rule_enabled("SWITCHED", false),
        acs_engine::RuleSwitch::Applied
    ));
    release.send(()).unwrap();
    engine.audit_flush(Duration::from_secs(30)).unwrap();
    drop(engine);
    let recorded = decisions(&dir);
    assert_eq!(recorded.len(), returned.len());
    let mut answered = 0;
    for (record, decision) in recorded.iter().zip(&returned) {
        assert!(record.get("decided_again").is_none(), "{record}");
        for (key, value) in decision.as_object().unwrap() {
            assert_eq!(&record[key], value, "`{key}` of {record}");
        }
        for call in record["calls"].as_array().unwrap() {
            if call["name"] == "db.score" {
                assert_eq!(call["result"], json!(answered % 7), "{record}");
                answered += 1;
            }
        }
        assert!(record["now"].as_f64().unwrap() > 1.0);
    }
    assert_eq!(answered, calls.load(Ordering::Relaxed));
    // Some requests were rejected and some not, some ran SWITCHED and some failed in it.
    let outcome = |d: &Value| d["verdict"]["outcome"].as_str().unwrap().to_owned();
    assert!(returned.iter().any(|d| outcome(d) == "rejected"));
    assert!(returned.iter().any(|d| outcome(d) != "rejected"));
    assert!(returned[..6].iter().all(|d| d["rules_evaluated"] == 2));
    assert!(returned[6..].iter().all(|d| d["rules_evaluated"] == 3));
    assert!(returned
        .iter()
        .any(|d| d["errors"].as_array().unwrap().len() == 1));
    audit::verify(&dir, Some(&key()), None).unwrap();
}

/// Decisions made through the resumable `Evaluation` (the bindings' `evaluateAsync` /
/// `evaluate_async`) are recorded like `evaluate`'s: the same record, with the calls in
/// the order a synchronous evaluation makes them, the velocity counts used, and a replay
/// of the record gives the decision again.
#[test]
fn decisions_of_resumable_evaluations_are_recorded_like_synchronous_ones() {
    use acs_engine::Step;
    const ASYNC: &str = r#"
velocity:
  - name: pays
    events: [pay]
    key: ctx.user
    windows: [1m]
rules:
  - id: RISKY
    priority: 100
    severity: high
    description: a risky payer, or a fast one
    condition: "event.type == 'pay' && (db.score(ctx.user) > 5 || db.limit(ctx.user) < 10 || velocity.count('pays', ctx.user, '1m') >= 3)"
    action:
      - rejectRequest: { code: RISK, message: "risk {{ctx.user}}" }
    audit: true
  - id: AGAIN
    priority: 50
    severity: low
    description: the same score again (a synchronous evaluation asks once), then a friend's limit
    condition: "event.type == 'pay' && db.score(ctx.user) >= 0 && db.limit(ctx.friend) < 0"
    action: []
    audit: false
  - id: QUIET
    priority: 1
    severity: low
    description: never matches
    condition: "event.type == 'login'"
    action: []
    audit: false
"#;
    let (_scratch, dir) = temp_dir("async");
    let mut options = AuditOptions::new(&dir, Box::new(key()));
    options.record_all = true;
    let engine = Engine::builder()
        .function("db.score", |_: &[&Value]| Ok(json!(0)))
        .function("db.limit", |_: &[&Value]| Ok(json!(0)))
        .audit(options)
        .load_str("rules.yaml", ASYNC)
        .unwrap();
    let answer = |function: &str, user: &Value| match (function, user.as_str()) {
        ("db.score", Some("U-9")) => Ok(json!(9)),
        ("db.score", _) => Ok(json!(1)),
        (_, Some("U-down")) => Err(FunctionError::new("db_down", "no limit")),
        (_, Some("F")) => Ok(json!(-1)),
        _ => Ok(json!(50)),
    };
    let mut returned = Vec::new();
    for user in ["U-1", "U-9", "U-down", "U-1", "U-1"] {
        let input = json!({"event": {"type": "pay"}, "ctx": {"user": user, "friend": "F"}});
        let mut evaluation = engine.evaluation(input);
        let decision = loop {
            match evaluation.poll() {
                Step::Decided(decision) => break decision,
                Step::Needs(calls) => {
                    // Answered in reverse, as a host's concurrent calls may complete.
                    for call in calls.into_iter().rev() {
                        let result = answer(&call.function, &call.args[0]);
                        evaluation.answer(call.id, result).unwrap();
                    }
                }
            }
        };
        assert!(!decision.audit_unavailable);
        returned.push(serde_json::to_value(&decision).unwrap());
    }
    engine.audit_flush(Duration::from_secs(10)).unwrap();
    let recorded = decisions(&dir);
    assert_eq!(recorded.len(), returned.len());
    for (record, decision) in recorded.iter().zip(&returned) {
        assert!(record.get("decided_again").is_none(), "{record}");
        for (key, value) in decision.as_object().unwrap() {
            assert_eq!(&record[key], value, "`{key}` of {record}");
        }
    }
    // U-1: `db.score` then `db.limit`, then the friend's limit (the second score is
    // the first's, asked once), as a synchronous evaluation calls them.
    assert_eq!(
        recorded[0]["calls"],
        json!([
            {"name": "db.score", "args": ["U-1"], "result": 1},
            {"name": "db.limit", "args": ["U-1"], "result": 50},
            {"name": "db.limit", "args": ["F"], "result": -1}
        ])
    );
    assert_eq!(recorded[0]["shadow_matched"], json!([]));
    assert_eq!(recorded[0]["matched"][0]["id"], "AGAIN");
    assert_eq!(recorded[1]["verdict"]["outcome"], "rejected");
    assert_eq!(
        recorded[2]["calls"][1],
        json!({"name": "db.limit", "args": ["U-down"], "error": {"code": "db_down", "message": "no limit"}})
    );
    assert_eq!(
        recorded[4]["velocity"],
        json!([{"counter": "pays", "key": "U-1", "windows": ["1m"], "counts": [3]}])
    );
    assert_eq!(recorded[4]["verdict"]["outcome"], "rejected");
    #[cfg(feature = "tools")]
    let answered = Engine::builder()
        .functions(acs_engine::Functions::new().answered_by_recording())
        .load_str("rules.yaml", ASYNC)
        .unwrap();
    #[cfg(feature = "tools")]
    for record in &recorded {
        let calls = acs_engine::backtest::RecordedCalls::from_record(record).unwrap();
        let now = record["now"].as_f64();
        let replayed =
            acs_engine::backtest::replay(&answered.plan(), &record["input"], &calls, now);
        assert_eq!(
            serde_json::to_value(&replayed).unwrap()["verdict"],
            record["verdict"]
        );
    }
    drop(engine);
    audit::verify(&dir, Some(&key()), None).unwrap();
}

/// `evaluate_json_owned` decides as `evaluate_json` does, and its records hold the same
/// input: the bytes given, read as the borrowed path reads them.
#[test]
fn evaluate_json_owned_decides_and_records_as_evaluate_json_does() {
    let (_borrowed_scratch, borrowed) = temp_dir("json-borrowed");
    let (_owned_scratch, owned) = temp_dir("json-owned");
    let mut logs = Vec::new();
    let mut returned = Vec::new();
    for dir in [&borrowed, &owned] {
        let (engine, plain) = recording_all_and_plain(dir);
        for input in inputs() {
            let bytes = serde_json::to_vec(&input).unwrap();
            let decision = if dir == &borrowed {
                engine.evaluate_json(&bytes).unwrap()
            } else {
                engine.evaluate_json_owned(bytes.clone()).unwrap()
            };
            returned.push(decision);
            assert_eq!(
                plain.evaluate_json_owned(bytes.clone()).unwrap(),
                plain.evaluate_json(&bytes).unwrap(),
                "{input}"
            );
        }
        // Refused the same way, before anything is recorded.
        assert_eq!(
            engine.evaluate_json_owned(b"[1]".to_vec()).unwrap_err(),
            engine.evaluate_json(b"[1]").unwrap_err()
        );
        drop(engine);
        logs.push(comparable_decisions(dir));
    }
    assert_same_records_of_the_inputs(&logs);
    let (by_borrowed, by_owned) = returned.split_at(inputs().len());
    assert_eq!(by_borrowed, by_owned);
    assert!(by_owned.iter().any(|d| !d.matched.is_empty()));
}
