//! `acs eval` end to end, in-process through the library: the shipped examples,
//! standard input, and every way it exits 2; the binary for a usage error and for
//! standard input as the process reads it.

use crate::support::{
    acs, acs_lib, run, temp_dir, write, Run, EXAMPLES, RULES_DIR, RULES_FILE, STUBS,
};

use serde_json::{json, Value};

use acs_integration_tests::{legacy_bundle, EXAMPLE_OUTCOMES};

fn example(name: &str) -> String {
    format!("{EXAMPLES}/{name}")
}

impl Run {
    /// The decision on stdout, after checking the run succeeded.
    fn decision(&self) -> Value {
        assert_eq!(self.code, 0, "stderr:\n{}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Check the run failed with exit code 2 and printed nothing on stdout.
    fn failed(&self) -> &str {
        assert_eq!(
            self.code, 2,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout);
        &self.stderr
    }
}

fn eval(rules: &str, functions: Option<&str>, input: Option<&str>, stdin: Option<&[u8]>) -> Run {
    let mut args = vec!["eval", "--rules", rules];
    if let Some(functions) = functions {
        args.extend(["--functions", functions]);
    }
    args.extend(input);
    acs_lib(&args, stdin.unwrap_or_default())
}

fn eval_args(args: &[&str]) -> Run {
    let mut all = vec!["eval", "--rules", RULES_DIR];
    all.extend(args);
    acs_lib(&all, b"")
}

fn matched_ids(decision: &Value) -> Vec<&str> {
    decision["matched"]
        .as_array()
        .unwrap_or_else(|| panic!("`matched` is not a list: {decision}"))
        .iter()
        .map(|m| {
            m["id"]
                .as_str()
                .unwrap_or_else(|| panic!("a match without a string `id`: {m}"))
        })
        .collect()
}

fn check_example(bundle: &str, decision: &Value, file: &str, ids: &[&str], code: Option<&str>) {
    assert_eq!(matched_ids(decision), ids, "{bundle}: {file}");
    assert_eq!(decision["errors"], json!([]), "{bundle}: {file}");
    match code {
        Some(code) => {
            assert_eq!(
                decision["verdict"]["outcome"], "rejected",
                "{bundle}: {file}"
            );
            assert_eq!(
                decision["verdict"]["rule_id"],
                json!(ids[0]),
                "{bundle}: {file}"
            );
            assert_eq!(decision["verdict"]["code"], code, "{bundle}: {file}");
        }
        None => assert_eq!(
            decision["verdict"],
            json!({ "outcome": "allowed" }),
            "{bundle}: {file}"
        ),
    }
    let hash = decision["ruleset_hash"].as_str().unwrap_or_default();
    assert!(
        hash.starts_with("sha256:") && hash.len() == 71,
        "{bundle}: {file}: {hash}"
    );
}

#[test]
fn eval_each_shipped_example_against_the_rules_file() {
    for (file, ids, code) in EXAMPLE_OUTCOMES {
        let decision = eval(RULES_FILE, Some(STUBS), Some(&example(file)), None).decision();
        check_example("rules file", &decision, file, ids, code);
    }
}

#[test]
fn eval_each_shipped_example_against_the_rules_directory_with_the_same_hash() {
    for (file, ids, code) in EXAMPLE_OUTCOMES {
        let from_dir = eval(RULES_DIR, Some(STUBS), Some(&example(file)), None).decision();
        check_example("rules directory", &from_dir, file, ids, code);
        let from_file = eval(RULES_FILE, Some(STUBS), Some(&example(file)), None).decision();
        assert_eq!(
            from_dir["ruleset_hash"], from_file["ruleset_hash"],
            "{file}"
        );
    }
}

#[test]
fn eval_each_shipped_example_against_the_unchanged_legacy_bundle() {
    let Some(legacy) = legacy_bundle() else {
        return;
    };
    let legacy = legacy.to_str().unwrap();
    for (file, ids, code) in EXAMPLE_OUTCOMES {
        let decision = eval(legacy, Some(STUBS), Some(&example(file)), None).decision();
        check_example("legacy bundle", &decision, file, ids, code);
    }
}

#[test]
fn eval_prints_matches_with_priority_and_rendered_actions() {
    let decision = eval(
        RULES_FILE,
        Some(STUBS),
        Some(&example("truck_create_over_limit.json")),
        None,
    )
    .decision();
    let rule = &decision["matched"][0];
    assert_eq!(rule["priority"], 945);
    assert_eq!(rule["severity"], "medium");
    assert_eq!(rule["audit"], true);
    assert_eq!(
        rule["actions"],
        json!([
            { "name": "rejectRequest", "params": { "code": "MAX_TRUCKS_EXCEEDED", "message": "Operator truck limit exceeded" } },
            { "name": "notifyRole", "params": { "role": "operator", "message": "Max trucks allowed: 10" } }
        ])
    );
    assert_eq!(decision["rules_evaluated"], 2);
}

#[test]
fn eval_reads_standard_input_given_a_dash() {
    let bytes = std::fs::read(example("bid_create_kyc_missing.json")).unwrap();
    let decision = eval(RULES_FILE, Some(STUBS), Some("-"), Some(&bytes)).decision();
    assert_eq!(matched_ids(&decision), ["RF01_KYC_MANDATORY"]);
}

#[test]
fn the_binary_reads_standard_input_given_a_dash() {
    let bytes = std::fs::read(example("bid_create_kyc_missing.json")).unwrap();
    let run = run(acs()
        .args(["eval", "--rules", RULES_FILE, "--functions", STUBS, "-"])
        .write_stdin(bytes));
    assert_eq!(matched_ids(&run.decision()), ["RF01_KYC_MANDATORY"]);
}

#[test]
fn eval_reads_standard_input_given_no_input_argument() {
    let bytes = std::fs::read(example("shipment_accept_device_collision.json")).unwrap();
    let decision = eval(RULES_DIR, Some(STUBS), None, Some(&bytes)).decision();
    assert_eq!(matched_ids(&decision), ["RF17_DEVICE_ACCOUNT_COLLISION"]);
    let from_file = eval(
        RULES_DIR,
        Some(STUBS),
        Some(&example("shipment_accept_device_collision.json")),
        None,
    )
    .decision();
    assert_eq!(decision, from_file);
}

#[test]
fn eval_without_stubs_reports_unregistered_functions_as_rule_errors() {
    let decision = eval(
        RULES_FILE,
        None,
        Some(&example("bid_create_kyc_missing.json")),
        None,
    )
    .decision();
    assert_eq!(matched_ids(&decision), ["RF01_KYC_MANDATORY"]);
    let errors = decision["errors"].as_array().unwrap();
    let ids: Vec<&str> = errors
        .iter()
        .map(|e| e["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["RF21_PREDATORY_BID_DETECT", "RF22_MAINTENANCE_WINDOW_BLOCK"]
    );
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("`priceEstimator.lowerBound`"));
}

#[test]
fn eval_input_with_an_unknown_event_type_evaluates_no_rule() {
    let decision = eval(
        RULES_FILE,
        Some(STUBS),
        None,
        Some(br#"{"event": {"type": "invoice.paid"}, "ctx": {"userRole": "operator"}}"#),
    )
    .decision();
    assert_eq!(decision["rules_evaluated"], 0);
    assert_eq!(decision["matched"], json!([]));
    assert_eq!(decision["verdict"]["outcome"], "allowed");
}

#[test]
fn eval_of_a_rules_file_with_a_bad_condition_exits_2_with_file_line_and_column() {
    let scratch = temp_dir("bad-condition");
    let dir = scratch.path();
    let rules = write(
        dir,
        "broken.yaml",
        "- id: BROKEN\n  priority: 1\n  severity: low\n  description: Broken.\n  condition: \"event.type == 'x' && (ctx.a == \"\n  action:\n    - proceed: { outcome: x }\n  audit: false\n",
    );
    let run = eval(
        rules.to_str().unwrap(),
        None,
        Some(&example("bid_create_clean.json")),
        None,
    );
    let stderr = run.failed();
    assert!(
        stderr.contains(&format!("{}:5:46", rules.display())),
        "{stderr}"
    );
    assert!(stderr.contains("ACS101"), "{stderr}");
    assert!(stderr.contains("BROKEN"), "{stderr}");
}

#[test]
fn eval_of_a_rules_directory_reports_every_broken_file_with_positions() {
    let scratch = temp_dir("bad-dir");
    let dir = scratch.path();
    let typo = write(
        dir,
        "a_typo.yaml",
        "- id: TYPO\n  priority: 1\n  severity: low\n  description: Typo.\n  condition: \"event.type == 'x'\"\n  enabeld: false\n  action:\n    - proceed: { outcome: x }\n  audit: false\n",
    );
    let yaml = write(dir, "b_yaml.yaml", "- id: [unclosed\n");
    let run = eval(
        dir.to_str().unwrap(),
        None,
        Some(&example("bid_create_clean.json")),
        None,
    );
    let stderr = run.failed();
    assert!(
        stderr.contains(&format!("{}:6:3", typo.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown key `enabeld`"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:1", yaml.display())),
        "{stderr}"
    );
    assert!(stderr.contains("2 errors"), "{stderr}");
}

#[test]
fn eval_of_invalid_json_input_exits_2() {
    let from_stdin = eval(
        RULES_FILE,
        Some(STUBS),
        None,
        Some(b"{\"event\": {\"type\": }"),
    );
    let stderr = from_stdin.failed();
    assert!(stderr.contains("<stdin>"), "{stderr}");
    assert!(
        stderr.contains("invalid JSON input at line 1, column"),
        "{stderr}"
    );

    let scratch = temp_dir("bad-input");

    let dir = scratch.path();
    let input = write(
        dir,
        "input.json",
        "{\n  \"event\": {\"type\": \"bid.create\"},\n  oops\n}\n",
    );
    let from_file = eval(RULES_FILE, Some(STUBS), Some(input.to_str().unwrap()), None);
    let stderr = from_file.failed();
    assert!(stderr.contains(&input.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[test]
fn eval_of_a_missing_input_file_exits_2() {
    let missing = format!("{EXAMPLES}/no_such_input.json");
    let stderr = eval(RULES_FILE, Some(STUBS), Some(&missing), None)
        .failed()
        .to_owned();
    assert!(stderr.contains("no_such_input.json"), "{stderr}");
}

#[test]
fn eval_of_a_missing_rules_path_exits_2() {
    let missing = format!("{RULES_DIR}/no_such_rules.yaml");
    let run = eval(
        &missing,
        Some(STUBS),
        Some(&example("bid_create_clean.json")),
        None,
    );
    let stderr = run.failed();
    assert!(stderr.contains("no_such_rules.yaml"), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn eval_of_a_directory_without_rules_files_exits_2() {
    let scratch = temp_dir("empty-dir");
    let dir = scratch.path();
    let run = eval(
        dir.to_str().unwrap(),
        None,
        Some(&example("bid_create_clean.json")),
        None,
    );
    assert!(
        run.failed().contains("no `*.yaml` rules files"),
        "{}",
        run.stderr
    );
}

#[test]
fn eval_without_the_rules_option_exits_2_with_usage() {
    let run = run(acs().args(["eval", &example("bid_create_clean.json")]));
    assert!(run.failed().contains("--rules"), "{}", run.stderr);
}

#[test]
fn eval_with_a_bad_stubs_file_exits_2() {
    let scratch = temp_dir("bad-stubs");
    let dir = scratch.path();
    let cases = [
        ("not_json.json", "{ \"now\": [[[], 1] ", "not valid JSON"),
        (
            "a_list.json",
            "[[\"now\", 1]]",
            "a stub table is an object of function names",
        ),
        (
            "not_a_list.json",
            "{\"now\": 5}",
            "stubs of `now` must be a list",
        ),
        (
            "bad_entry.json",
            "{\"now\": [[[], 1], [1]]}",
            "entry 1 must be `[[args...], result]`",
        ),
        ("args_not_a_list.json", "{\"now\": [[\"x\", 1]]}", "entry 0"),
        (
            "duplicate.json",
            "{\"now\": [[[], 1]], \"now\": [[[], 2]]}",
            "duplicate key \"now\" in one JSON object, at line 1, column 24",
        ),
    ];
    for (name, text, message) in cases {
        let stubs = write(dir, name, text);
        let run = eval(
            RULES_FILE,
            Some(stubs.to_str().unwrap()),
            Some(&example("bid_create_clean.json")),
            None,
        );
        let stderr = run.failed();
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
    }
    let missing = dir.join("missing.json");
    let run = eval(
        RULES_FILE,
        Some(missing.to_str().unwrap()),
        Some(&example("bid_create_clean.json")),
        None,
    );
    assert!(run.failed().contains("missing.json"), "{}", run.stderr);
}

#[test]
fn eval_stubs_pin_now_for_rules_that_pass_it_to_the_host() {
    let scratch = temp_dir("pinned-now");
    let dir = scratch.path();
    let stubs_at = |now: i64| {
        json!({
            "now": [[[], now]],
            "db.count.trucksByOperator": [[["OP-9"], 1]],
            "operator.maintenanceWindowActive": [[["OP-9", 1_700_000_000_000_i64], true]]
        })
        .to_string()
    };
    let input = br#"{"event": {"type": "truck.create"}, "ctx": {"operatorId": "OP-9"},
                     "system": {"config": {"maxTrucksPerOperator": 10}}}"#;

    let pinned = write(dir, "pinned.json", &stubs_at(1_700_000_000_000));
    let decision = eval(
        RULES_FILE,
        Some(pinned.to_str().unwrap()),
        None,
        Some(input),
    )
    .decision();
    assert_eq!(matched_ids(&decision), ["RF22_MAINTENANCE_WINDOW_BLOCK"]);
    assert_eq!(decision["errors"], json!([]));
    assert_eq!(decision["verdict"]["code"], "MAINTENANCE_WINDOW");
    assert_eq!(
        decision["matched"][0]["actions"][1]["params"]["payload"],
        json!({ "operatorId": "OP-9", "action": "truck.create" })
    );

    // Another instant has no stub entry: RF22 errors, and says which function.
    let other = write(dir, "other.json", &stubs_at(1_800_000_000_000));
    let decision = eval(RULES_FILE, Some(other.to_str().unwrap()), None, Some(input)).decision();
    assert_eq!(decision["matched"], json!([]));
    assert_eq!(
        decision["errors"][0]["rule_id"],
        "RF22_MAINTENANCE_WINDOW_BLOCK"
    );
    assert!(decision["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("`operator.maintenanceWindowActive` is not registered for these arguments"));
}

#[test]
fn eval_stubbed_now_reaches_conditions_and_templates_directly() {
    let scratch = temp_dir("now-template");
    let dir = scratch.path();
    let rules = write(
        dir,
        "clock.yaml",
        "- id: CLOCK\n  priority: 1\n  severity: low\n  description: Pinned clock.\n  condition: \"event.type == 'tick' && now() == 1234\"\n  action:\n    - emitEvent: { name: tick, payload: { at: \"{{now()}}\", text: \"at {{now()}}\" } }\n  audit: false\n",
    );
    let stubs = write(dir, "stubs.json", "{\"now\": [[[], 1234]]}");
    let decision = eval(
        rules.to_str().unwrap(),
        Some(stubs.to_str().unwrap()),
        None,
        Some(br#"{"event": {"type": "tick"}}"#),
    )
    .decision();
    assert_eq!(matched_ids(&decision), ["CLOCK"]);
    assert_eq!(
        decision["matched"][0]["actions"][0]["params"]["payload"],
        json!({ "at": 1234, "text": "at 1234" })
    );
    // Without the stub the system clock is used and the rule does not match.
    let decision = eval(
        rules.to_str().unwrap(),
        None,
        None,
        Some(br#"{"event": {"type": "tick"}}"#),
    )
    .decision();
    assert_eq!(decision["matched"], json!([]));
}

/// `yes` as standard input: `y\n` over and over, here up to 64 MiB; counts what was read.
struct Yes {
    served: usize,
}

impl std::io::Read for Yes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((64 << 20) - self.served);
        for (i, byte) in buf.iter_mut().take(n).enumerate() {
            *byte = if (self.served + i).is_multiple_of(2) {
                b'y'
            } else {
                b'\n'
            };
        }
        self.served += n;
        Ok(n)
    }
}

#[test]
fn eval_of_endless_standard_input_stops_reading_at_the_limit_and_names_the_flag() {
    for (flags, limit) in [
        (&[][..], 16usize << 20),
        (&["--max-input-bytes", "1000"][..], 1000),
    ] {
        let mut yes = Yes { served: 0 };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut io = acs_cli::Io {
            stdin: &mut yes,
            stdout: &mut stdout,
            stderr: &mut stderr,
            style: acs_cli::Style::plain(),
            interrupted: None,
        };
        let mut args = vec!["acs", "eval", "--quiet", "--rules", RULES_DIR];
        args.extend(flags);
        args.push("-");
        let code = acs_cli::run(args, &mut io);
        let stderr = String::from_utf8(stderr).unwrap();
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains("standard input") && stderr.contains("--max-input-bytes"),
            "{stderr}"
        );
        // Reading stops just past the limit, not at the end of the stream.
        assert!(yes.served <= limit + (1 << 16), "{} bytes read", yes.served);
    }
}

#[test]
fn eval_of_an_input_file_past_the_limit_names_the_flag() {
    let scratch = temp_dir("eval-large");
    let dir = scratch.path();
    let input = write(
        dir,
        "large.json",
        &format!("{{\"event\": \"{}\"}}", "x".repeat(2000)),
    );
    let run = eval_args(&["--max-input-bytes", "1000", input.to_str().unwrap()]);
    let stderr = run.failed();
    assert!(stderr.contains("--max-input-bytes"), "{stderr}");
    let fits = eval_args(&["--max-input-bytes", "3000", input.to_str().unwrap()]);
    fits.decision();
}

#[test]
fn eval_of_an_input_that_is_not_an_object_exits_2() {
    for (input, found) in [("42", "a number"), ("[1, 2]", "an array"), ("null", "null")] {
        let run = eval(RULES_FILE, Some(STUBS), None, Some(input.as_bytes()));
        let stderr = run.failed();
        assert!(
            stderr.contains(&format!(
                "error: <stdin>: the input must be a JSON object with event, ctx, system and db; found {found}"
            )),
            "{stderr}"
        );
    }
}
