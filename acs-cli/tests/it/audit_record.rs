//! `acs eval` and `acs replay` with `--audit-dir`: the log they write verifies, `acs
//! replay --audit` reproduces every recorded decision and reports what new rules change,
//! and `acs eval` killed with SIGKILL at random points loses no decision it printed.

use std::path::Path;
use std::time::Duration;

use crate::support::{acs_lib, in_dir, temp_dir, write};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

const RULES: &str = r#"
- id: RISKY
  priority: 100
  severity: high
  description: risky payers
  condition: "event.type == 'pay' && db.score(ctx.user) > 5"
  action:
    - rejectRequest: { code: RISK, message: "score {{db.score(ctx.user)}}" }
  audit: true
- id: BIG
  priority: 50
  severity: medium
  description: big payments
  condition: "event.type == 'pay' && event.amount > 1000"
  action:
    - flagForReview: { reason: big }
  audit: true
- id: CLOSED
  priority: 10
  severity: low
  description: the payer's account is closed at this instant (`now` is stubbed)
  condition: "event.type == 'pay' && db.open(ctx.user, now()) == false"
  action:
    - flagForReview: { reason: closed }
  audit: true
"#;

/// `now` is stubbed too: the record then holds it as a host call, and a replay must pin
/// the instant from it (the call that reads it passes it on to `db.open`).
const STUBS: &str = r#"{"db.score": [[["U-1"], 9], [["U-2"], 1], [["U-3"], 6]],
  "now": [[[], 1763726400000]],
  "db.open": [[["U-1", 1763726400000], true], [["U-2", 1763726400000], false], [["U-3", 1763726400000], true]]}"#;

fn inputs() -> String {
    (0..40)
        .map(|i| {
            format!(
                "{{\"event\": {{\"type\": \"pay\", \"amount\": {}}}, \"ctx\": {{\"user\": \"U-{}\", \"n\": {i}}}}}\n",
                i * 50,
                1 + i % 3
            )
        })
        .collect()
}

/// The files of a recorded replay in `dir`, and the audit log it writes.
struct Recorded {
    key: String,
    stubs: String,
    log: String,
}

/// `acs replay` of the 40 payments under `rules` (a file or a directory), with the stub
/// table, recording every decision in the signed audit log `dir/log`.
fn replay_recorded(dir: &Path, rules: &str) -> Recorded {
    let recorded = Recorded {
        key: write(dir, "audit.key", KEY).display().to_string(),
        stubs: write(dir, "stubs.json", STUBS).display().to_string(),
        log: in_dir(dir, "log"),
    };
    let events = write(dir, "events.jsonl", &inputs()).display().to_string();
    let replayed = acs_lib(
        &[
            "replay",
            "--rules",
            rules,
            "--functions",
            &recorded.stubs,
            "--audit-dir",
            &recorded.log,
            "--audit-hmac-key",
            &recorded.key,
            &events,
        ],
        b"",
    );
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    recorded
}

/// `acs replay --audit log`: every recorded decision reproduced, and more than 20 of them.
fn assert_every_decision_reproduced(log: &str) {
    let audited = acs_lib(&["replay", "--audit", log, "--format", "json"], b"");
    assert_eq!(audited.code, 0, "{}", audited.stdout);
    let report: serde_json::Value = serde_json::from_str(&audited.stdout).unwrap();
    assert_eq!(report["decisions"], report["reproduced"], "{report}");
    assert!(report["decisions"].as_u64().unwrap() > 20, "{report}");
    assert_eq!(report["nondeterministic"], serde_json::json!([]));
}

#[test]
fn replay_records_verifies_reproduces_and_reports_changed_rules() {
    let scratch = temp_dir("audit-record");
    let dir = scratch.path();
    let rules = write(dir, "rules.yaml", RULES).display().to_string();
    let Recorded { key, stubs, log } = replay_recorded(dir, &rules);
    let evaluated = acs_lib(
        &[
            "eval",
            "--rules",
            &rules,
            "--functions",
            &stubs,
            "--audit-dir",
            &log,
            "--audit-hmac-key",
            &key,
            "--audit-all",
        ],
        br#"{"event": {"type": "login"}}"#,
    );
    assert_eq!(evaluated.code, 0, "{}", evaluated.stderr);
    let verified = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
    assert_eq!(verified.code, 0, "{}", verified.stderr);

    // 40 payments: U-1 and U-3 are risky (27), and 19 more are big; the login is
    // recorded by --audit-all.
    assert_every_decision_reproduced(&log);

    // New rules: a score of 6 is no longer risky.
    let stricter = write(dir, "new.yaml", &RULES.replace("> 5", "> 7"))
        .display()
        .to_string();
    let changed = acs_lib(&["replay", "--audit", &log, "--rules", &stricter], b"");
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert!(
        changed.stdout.contains("rejected by RISKY -> allowed: "),
        "{}",
        changed.stdout
    );
}

#[test]
fn replay_audit_reproduces_decisions_of_rules_split_over_a_directory() {
    // The log's ruleset record holds both files; the replay loads them as the directory
    // they came from (`RulesSource::Files`): same hash, same decisions.
    let scratch = temp_dir("audit-dir-rules");
    let dir = scratch.path();
    let bundle = dir.join("rules");
    std::fs::create_dir(&bundle).unwrap();
    let (first, rest) = RULES.split_at(RULES.find("- id: BIG").unwrap());
    write(&bundle, "a.yaml", first);
    write(&bundle, "b.yml", rest);
    let recorded = replay_recorded(dir, &bundle.display().to_string());
    assert_every_decision_reproduced(&recorded.log);
}

#[test]
fn eval_needs_a_key_for_its_audit_log() {
    let scratch = temp_dir("audit-nokey");
    let dir = scratch.path();
    let rules = write(dir, "rules.yaml", RULES).display().to_string();
    let log = in_dir(dir, "log");
    let run = acs_lib(&["eval", "--rules", &rules, "--audit-dir", &log], b"{}");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--audit-key"), "{}", run.stderr);
}

/// `acs eval --audit-dir` (every batch synced) killed with SIGKILL at random points,
/// 24 times, among evaluations that complete: every decision an `acs eval` printed is
/// in the log, which verifies, and the next writer goes on from where the kill left it.
#[cfg(unix)]
#[test]
fn eval_killed_at_random_points_loses_no_printed_decision() {
    let scratch = temp_dir("audit-kill");
    let dir = scratch.path();
    let key = write(dir, "audit.key", KEY).display().to_string();
    let rules = write(dir, "rules.yaml", RULES).display().to_string();
    let stubs = write(dir, "stubs.json", STUBS).display().to_string();
    let log = in_dir(dir, "log");
    let mut printed = Vec::new();
    let mut kills = 0;
    // A cheap deterministic spread of kill delays (no rand dependency).
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut n = 0u64;
    while kills < 24 {
        n += 1;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let input = format!(
            "{{\"event\": {{\"type\": \"pay\", \"amount\": 5}}, \"ctx\": {{\"user\": \"U-1\", \"n\": {n}}}}}"
        );
        let input_path = write(dir, "input.json", &input);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_acs"))
            .args([
                "eval",
                "--rules",
                &rules,
                "--functions",
                &stubs,
                "--audit-dir",
                &log,
                "--audit-hmac-key",
                &key,
            ])
            .arg(&input_path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Every other run is killed somewhere in its first 40 ms; the rest complete.
        if n.is_multiple_of(2) {
            std::thread::sleep(Duration::from_micros(state % 40_000));
            if child.try_wait().unwrap().is_none() {
                kills += 1;
            }
            let _ = child.kill();
        }
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        // A decision printed is one whose evaluation returned after its record synced.
        if output.status.success() && stdout.contains("RISKY") {
            printed.push(n);
        }
        assert!(n < 400, "the children finish before they can be killed");
    }
    let verified = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    let exported = acs_lib(&["audit", "export", &log], b"");
    let recorded: std::collections::HashSet<u64> = exported
        .ok()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|r| r["input"]["ctx"]["n"].as_u64())
        .collect();
    for n in &printed {
        assert!(
            recorded.contains(n),
            "decision {n} was printed and is not in the log"
        );
    }
    assert!(!printed.is_empty());
    // The next writer opens the log (cutting a torn tail if a kill left one) and goes on.
    let again = acs_lib(
        &[
            "eval",
            "--rules",
            &rules,
            "--functions",
            &stubs,
            "--audit-dir",
            &log,
            "--audit-hmac-key",
            &key,
        ],
        br#"{"event": {"type": "pay"}, "ctx": {"user": "U-1"}}"#,
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let verified = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
    assert_eq!(verified.code, 0, "{}", verified.stderr);
}
