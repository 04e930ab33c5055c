//! `acs replay` end to end: the recorded sample as a table and as JSON, against a baseline,
//! on the legacy bundle, from standard input, and every way it exits 2. In-process through
//! the library; the binary for its help and `NO_COLOR`.

use crate::support::{acs, acs_lib, temp_dir, Run, RULES_DIR, RULES_FILE, STUBS};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use acs_engine::{Engine, Functions};
use acs_integration_tests::legacy_bundle;
use serde_json::Value;
use tempfile::TempDir;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rules/examples/recorded.jsonl"
);

impl Run {
    fn report(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Check the run failed with exit code 2, printed nothing on stdout and no panic.
    fn failed_without_panic(&self) -> &str {
        assert_eq!(
            self.code, 2,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        &self.stderr
    }
}

fn replay(args: &[&str]) -> Run {
    replay_with(args, None)
}

fn replay_with(args: &[&str], stdin: Option<Vec<u8>>) -> Run {
    let mut all = vec!["replay"];
    all.extend(args);
    acs_lib(&all, &stdin.unwrap_or_default())
}

/// Per-rule match counts of `rules` over the sample, computed line by line with the
/// engine directly: what the report must say.
fn expected_matches(rules: &str) -> BTreeMap<String, u64> {
    let stubs: Value = serde_json::from_str(&std::fs::read_to_string(STUBS).unwrap()).unwrap();
    let engine = Engine::builder()
        .functions(Functions::from_stubs(&stubs).unwrap())
        .load_path(rules)
        .unwrap();
    let mut counts: BTreeMap<String, u64> = engine
        .plan()
        .rule_ids()
        .map(|id| (id.to_owned(), 0))
        .collect();
    for line in std::fs::read_to_string(SAMPLE).unwrap().lines() {
        if let Ok(decision) = engine.evaluate_json(line.as_bytes()) {
            for matched in decision.matched.iter().chain(&decision.shadow_matched) {
                *counts.get_mut(matched.id()).unwrap() += 1;
            }
        }
    }
    counts
}

fn reported_matches(report: &Value) -> BTreeMap<String, u64> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["matches"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A copy of the project bundle in a temp directory with `edits` (from, to) applied; the
/// directory goes when the guard drops.
fn edited_bundle(label: &str, edits: &[(&str, &str)]) -> TempDir {
    let mut text = std::fs::read_to_string(RULES_FILE).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "`{from}` is not in the bundle");
        text = text.replacen(from, to, 1);
    }
    let dir = temp_dir(label);
    std::fs::write(dir.path().join("acs_rules_top25.yaml"), text).unwrap();
    dir
}

fn sample_json(extra: &[&str]) -> Value {
    let mut args = vec![
        "--rules",
        RULES_DIR,
        "--functions",
        STUBS,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args.push(SAMPLE);
    replay(&args).report()
}

#[test]
fn replay_json_report_of_the_sample_counts_every_line_and_rule() {
    let report = sample_json(&[]);
    assert_eq!(report["lines"], 300);
    assert_eq!(report["blank_lines"], 1);
    assert_eq!(report["inputs"], 298);
    assert_eq!(report["invalid"]["count"], 1);
    assert_eq!(report["invalid"]["examples"][0]["line"], 261);
    assert_eq!(reported_matches(&report), expected_matches(RULES_DIR));
    assert_eq!(report["rules"].as_array().unwrap().len(), 25);
    // Every rejection is counted once, by its rule and code.
    let verdicts = &report["verdicts"];
    let by_code: u64 = verdicts["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(by_code, verdicts["rejected"].as_u64().unwrap());
    assert_eq!(
        verdicts["allowed"].as_u64().unwrap() + verdicts["rejected"].as_u64().unwrap(),
        298
    );
    // Three truck creations by an operator the stubs do not know.
    assert_eq!(report["inputs_with_errors"], 3);
    assert_eq!(report["rules"][11]["id"], "RF12_OPERATOR_MAX_TRUCKS_LIMIT");
    assert_eq!(report["rules"][11]["errors"], 3);
    assert_eq!(report["rules"][11]["first_error"]["line"], 42);
    assert!(report["baseline"].is_null());
    assert_eq!(
        report["throughput"]["bytes"],
        std::fs::metadata(SAMPLE).unwrap().len()
    );
}

#[test]
fn replay_counts_do_not_depend_on_the_number_of_threads() {
    let strip = |mut report: Value| {
        report.as_object_mut().unwrap().remove("throughput");
        report
    };
    let one = strip(sample_json(&["--threads", "1"]));
    let three = strip(sample_json(&["--threads", "3"]));
    assert_eq!(one, three);
}

#[test]
fn replay_table_of_the_sample_shows_rules_verdicts_errors_invalid_lines_and_throughput() {
    let run = replay(&["--rules", RULES_DIR, "--functions", STUBS, SAMPLE]);
    let out = run.ok();
    let expected = expected_matches(RULES_DIR);
    assert!(out.contains("RULE"), "{out}");
    assert!(out.contains("MATCHES"), "{out}");
    for (id, count) in &expected {
        let row = out
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("no row for {id}:\n{out}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], count.to_string(), "{row}");
    }
    assert!(
        out.contains("300 lines, 298 inputs, 1 blank, 1 invalid"),
        "{out}"
    );
    assert!(out.contains("verdicts: "), "{out}");
    assert!(out.contains("KYC_REQUIRED"), "{out}");
    assert!(
        out.contains("RF12_OPERATOR_MAX_TRUCKS_LIMIT: 3 errors, first on line 42"),
        "{out}"
    );
    assert!(out.contains("invalid: 1 line is not JSON"), "{out}");
    assert!(out.contains("line 261: invalid JSON at column"), "{out}");
    assert!(out.contains("throughput: 298 inputs"), "{out}");
    // Not a terminal: plain text, and no progress line on stderr.
    assert!(!out.contains('\x1b'), "{out}");
    assert!(!run.stderr.contains('\r'), "{}", run.stderr);
}

#[test]
fn replay_against_a_baseline_reports_verdict_transitions_and_rule_changes() {
    // RF01 gets a new code, RF05 a lower threshold, RF25 a new id.
    let changed_dir = edited_bundle(
        "changed",
        &[
            ("code: \"KYC_REQUIRED\"", "code: \"KYC_MISSING\""),
            ("gps.deltaDistanceKm >= 200", "gps.deltaDistanceKm >= 2"),
            ("id: RF25_BATCH_KYC_INGEST_INCONSISTENT", "id: RF26_RENAMED"),
        ],
    );
    let changed = changed_dir.path().to_str().unwrap();
    let report = replay(&[
        "--rules",
        changed,
        "--baseline",
        RULES_DIR,
        "--functions",
        STUBS,
        "--format",
        "json",
        "--examples",
        "2",
        SAMPLE,
    ])
    .report();
    let baseline = &report["baseline"];
    let before = expected_matches(RULES_DIR);
    let after = expected_matches(changed);
    let kyc = before["RF01_KYC_MANDATORY"];
    assert!(kyc > 0);
    let transitions = &baseline["transitions"];
    assert_eq!(transitions["code_changed"]["count"], kyc);
    assert_eq!(
        transitions["code_changed"]["by_code"][0]["from"],
        "KYC_REQUIRED"
    );
    assert_eq!(
        transitions["code_changed"]["by_code"][0]["to"],
        "KYC_MISSING"
    );
    assert_eq!(
        transitions["code_changed"]["examples"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(transitions["allowed_to_rejected"]["count"], 0);
    assert_eq!(transitions["rejected_to_allowed"]["count"], 0);
    assert_eq!(baseline["inputs_with_changed_verdict"], kyc);
    // RF05 matches more, without rejecting anything.
    let gps_more = after["RF05_GPS_JUMP_ANOMALY"] - before["RF05_GPS_JUMP_ANOMALY"];
    assert!(gps_more > 0);
    let rules = baseline["rules"].as_array().unwrap();
    let rf05 = rules
        .iter()
        .find(|r| r["id"] == "RF05_GPS_JUMP_ANOMALY")
        .unwrap();
    assert_eq!(rf05["change"], gps_more);
    assert_eq!(rf05["before"], before["RF05_GPS_JUMP_ANOMALY"]);
    let renamed = rules.iter().find(|r| r["id"] == "RF26_RENAMED").unwrap();
    assert!(renamed["before"].is_null());
    let gone = rules
        .iter()
        .find(|r| r["id"] == "RF25_BATCH_KYC_INGEST_INCONSISTENT")
        .unwrap();
    assert!(gone["after"].is_null());
    assert_eq!(rules.len(), 26);
    assert_ne!(baseline["ruleset_hash"], report["ruleset_hash"]);

    let table = replay(&[
        "--rules",
        changed,
        "--baseline",
        RULES_DIR,
        "--functions",
        STUBS,
        SAMPLE,
    ]);
    let out = table.ok();
    assert!(out.contains("BEFORE"), "{out}");
    assert!(out.contains("CHANGE"), "{out}");
    assert!(out.contains(&format!("+{gps_more}")), "{out}");
    assert!(
        out.contains("RF25_BATCH_KYC_INGEST_INCONSISTENT (removed)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("rejected with a different code: {kyc}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("KYC_REQUIRED -> KYC_MISSING: {kyc}")),
        "{out}"
    );
    assert!(out.contains("e.g. line "), "{out}");
}

#[test]
fn replay_against_itself_changes_nothing() {
    let report = sample_json(&["--baseline", RULES_FILE]);
    let baseline = &report["baseline"];
    assert_eq!(baseline["inputs_with_changed_verdict"], 0);
    assert_eq!(baseline["inputs_with_changed_matches"], 0);
    assert!(baseline["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["change"] == 0));
}

#[test]
fn replay_runs_on_the_unchanged_legacy_bundle() {
    let Some(legacy) = legacy_bundle().and_then(Path::to_str) else {
        return;
    };
    let report = replay(&[
        "--rules",
        legacy,
        "--functions",
        STUBS,
        "--format",
        "json",
        SAMPLE,
    ])
    .report();
    assert_eq!(report["inputs"], 298);
    assert_eq!(reported_matches(&report), expected_matches(legacy));

    let against = sample_json(&["--baseline", legacy]);
    assert_eq!(against["baseline"]["rules"].as_array().unwrap().len(), 25);
    let table = replay(&[
        "--rules",
        RULES_DIR,
        "--baseline",
        legacy,
        "--functions",
        STUBS,
        SAMPLE,
    ]);
    assert!(table.ok().contains("verdict changes against the baseline"));
}

#[test]
fn replay_reads_standard_input_given_a_dash() {
    let input = std::fs::read(SAMPLE).unwrap();
    let run = replay_with(
        &[
            "--rules",
            RULES_DIR,
            "--functions",
            STUBS,
            "--format",
            "json",
            "-",
        ],
        Some(input),
    );
    let report = run.report();
    assert_eq!(report["inputs"], 298);
    assert_eq!(reported_matches(&report), expected_matches(RULES_DIR));
    let table = replay_with(
        &["--rules", RULES_DIR, "-"],
        Some(b"{\"event\": {}}\n".to_vec()),
    );
    assert!(
        table.ok().contains("<stdin>: 1 line, 1 input,"),
        "{}",
        table.stdout
    );
}

#[test]
fn replay_where_no_line_is_a_valid_input_exits_1_with_the_report() {
    for input in ["", "\n\n", "not json\n{\"event\": \n"] {
        let run = replay_with(
            &["--rules", RULES_DIR, "-"],
            Some(input.as_bytes().to_vec()),
        );
        assert_eq!(run.code, 1, "{input:?}\nstderr:\n{}", run.stderr);
        assert!(run.stdout.contains("0 inputs"), "{}", run.stdout);
        assert!(
            run.stderr
                .contains("error: no line of `<stdin>` is a valid input"),
            "{}",
            run.stderr
        );
    }
    let one_valid = replay_with(
        &["--rules", RULES_DIR, "-"],
        Some(b"not json\n{\"event\": {}}\n".to_vec()),
    );
    assert_eq!(one_valid.code, 0, "{}", one_valid.stderr);
}

/// 20 MB of one line over and over; sets `stop` once `after` bytes have been read, as a
/// Ctrl-C in the middle of a long replay would.
struct Long<'a> {
    served: usize,
    after: usize,
    stop: &'a AtomicBool,
}

impl Read for Long<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        const LINE: &[u8] = b"{\"event\": {\"type\": \"bid.create\"}}\n";
        if self.served >= 20_000_000 {
            return Ok(0);
        }
        if self.served >= self.after {
            self.stop.store(true, Ordering::SeqCst);
        }
        // Odd-sized reads, so lines straddle the reader's buffer.
        let n = buf.len().min(7);
        for (i, byte) in buf.iter_mut().take(n).enumerate() {
            *byte = LINE[(self.served + i) % LINE.len()];
        }
        self.served += n;
        Ok(n)
    }
}

#[test]
fn replay_asked_to_stop_reports_the_whole_lines_read_so_far() {
    let stop = AtomicBool::new(false);
    let mut stdin = Long {
        served: 0,
        after: 100_000,
        stop: &stop,
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut io = acs_cli::Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        style: acs_cli::Style::plain(),
        interrupted: Some(&stop),
    };
    let args = [
        "acs", "replay", "--quiet", "--rules", RULES_DIR, "--format", "json", "-",
    ];
    let code = acs_cli::run(args, &mut io);
    let stderr = String::from_utf8(stderr).unwrap();
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let report: Value = serde_json::from_slice(&stdout).unwrap();
    let lines = report["lines"].as_u64().unwrap();
    assert!(lines > 1000 && lines < 100_000, "{report}");
    assert_eq!(report["inputs"].as_u64(), Some(lines), "{report}");
    assert_eq!(report["invalid"]["count"], 0, "{report}");
}

#[test]
fn replay_of_a_missing_input_file_exits_2() {
    let stderr = replay(&["--rules", RULES_DIR, "/no/such/events.jsonl"])
        .failed_without_panic()
        .to_owned();
    assert!(
        stderr.contains("error: cannot read `/no/such/events.jsonl`"),
        "{stderr}"
    );
}

#[test]
fn replay_of_a_directory_as_input_exits_2() {
    let scratch = temp_dir("input-dir");
    let dir = scratch.path();
    let stderr = replay(&["--rules", RULES_DIR, dir.to_str().unwrap()])
        .failed_without_panic()
        .to_owned();
    assert!(stderr.contains("cannot read the input"), "{stderr}");
}

#[test]
fn replay_of_broken_rules_exits_2_with_file_line_and_column() {
    let broken = edited_bundle(
        "broken",
        &[(
            "gps.deltaDistanceKm >= 200",
            "gps.deltaDistanceKm >= >= 200",
        )],
    );
    let broken_file = broken.path().join("acs_rules_top25.yaml");
    for args in [
        vec!["--rules", broken_file.to_str().unwrap(), SAMPLE],
        vec![
            "--rules",
            RULES_DIR,
            "--baseline",
            broken_file.to_str().unwrap(),
            SAMPLE,
        ],
    ] {
        let run = replay(&args);
        let stderr = run.failed_without_panic();
        assert!(stderr.contains("error[ACS101]"), "{stderr}");
        assert!(stderr.contains("acs_rules_top25.yaml:95:"), "{stderr}");
    }
}

#[test]
fn replay_of_a_missing_rules_path_or_bad_stubs_exits_2() {
    let stderr = replay(&["--rules", "/no/such/rules", SAMPLE])
        .failed_without_panic()
        .to_owned();
    assert!(stderr.starts_with("error: "), "{stderr}");
    let scratch = temp_dir("stubs");
    let dir = scratch.path();
    let stubs = dir.join("stubs.json");
    std::fs::write(&stubs, "{not json").unwrap();
    let stderr = replay(&[
        "--rules",
        RULES_DIR,
        "--functions",
        stubs.to_str().unwrap(),
        SAMPLE,
    ])
    .failed_without_panic()
    .to_owned();
    assert!(stderr.contains("is not valid JSON"), "{stderr}");
}

#[test]
fn replay_without_an_input_argument_exits_2_with_usage() {
    let run = replay(&["--rules", RULES_DIR]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("Usage"), "{}", run.stderr);
}

#[test]
fn replay_threads_past_the_bound_is_a_usage_error_naming_it() {
    for threads in ["1025", "20000", "18446744073709551616"] {
        let run = replay(&["--rules", RULES_DIR, "--threads", threads, SAMPLE]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(
            run.stderr.contains("--threads") && run.stderr.contains("1024"),
            "{}",
            run.stderr
        );
    }
    replay(&[
        "--rules",
        RULES_DIR,
        "--threads",
        "1024",
        "--format",
        "json",
        SAMPLE,
    ])
    .report();
}

#[test]
fn replay_quiet_prints_no_warnings() {
    // Without stubs, the bundle's host functions are unregistered: warnings on stderr.
    let loud = replay(&["--rules", RULES_DIR, SAMPLE]);
    assert!(loud.stderr.contains("warning[ACS401]"), "{}", loud.stderr);
    let quiet = replay(&["--quiet", "--rules", RULES_DIR, SAMPLE]);
    quiet.ok();
    assert_eq!(quiet.stderr, "");
}

#[test]
fn replay_colours_only_when_asked_and_never_with_no_color() {
    let args = [
        "--color",
        "always",
        "--rules",
        RULES_DIR,
        "--functions",
        STUBS,
        SAMPLE,
    ];
    let coloured = replay(&args);
    assert!(coloured.ok().contains("\x1b[1m"), "{}", coloured.stdout);
    let mut command = acs();
    let output = command
        .arg("replay")
        .args(&args[2..])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(!String::from_utf8(output.stdout).unwrap().contains('\x1b'));
}

#[test]
fn replay_help_shows_an_example() {
    let output = acs().args(["replay", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    assert!(
        help.contains("acs replay --rules rules/ --functions rules/examples/stubs.json rules/examples/recorded.jsonl"),
        "{help}"
    );
    assert!(help.contains("--baseline"), "{help}");
}

/// A velocity rule replayed over events in any order reads the counts of their time
/// order: the same report as the events sorted, which a live engine decides alike.
#[test]
fn velocity_rules_replay_in_time_order_whatever_the_lines_order() {
    const BURSTS: &str = r#"
velocity:
  - { name: logins, events: [user.login], key: ctx.deviceId, windows: [10m], time: event.at }
rules:
  - id: DEVICE_BURST
    priority: 1
    severity: high
    description: a third login from one device within ten minutes
    condition: "event.type == 'user.login' && velocity.count('logins', ctx.deviceId, '10m') >= 3"
    action: [ { flagWatchlist: { reason: burst } } ]
    audit: false
"#;
    let scratch = temp_dir("replay-velocity");
    let dir = scratch.path();
    let rules = crate::support::write(dir, "rules.yaml", BURSTS);
    let rules = rules.to_str().unwrap();
    // Three devices; D-1 logs in 4 times in 6 minutes, D-2 every 6 minutes, D-3 twice.
    let mut events = Vec::new();
    let base = 1_700_000_000_000_i64;
    for (device, count, every_minutes) in [("D-1", 4, 2), ("D-2", 5, 6), ("D-3", 2, 1)] {
        for i in 0..count {
            let at = base + i * every_minutes * 60_000;
            events.push((at, format!(
                r#"{{"event": {{"type": "user.login", "at": {at}}}, "ctx": {{"deviceId": "{device}"}}}}"#
            )));
        }
    }
    events.sort();
    let sorted: String = events.iter().map(|(_, line)| format!("{line}\n")).collect();
    let shuffled: String = events
        .iter()
        .rev()
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let matches = |input: &str| {
        let report = replay_with(
            &["--rules", rules, "--format", "json", "-"],
            Some(input.as_bytes().to_vec()),
        )
        .report();
        report["rules"][0]["matches"].as_u64().unwrap()
    };
    assert_eq!(matches(&sorted), 2, "D-1's third and fourth only");
    assert_eq!(matches(&shuffled), 2, "the lines' order does not count");
}
