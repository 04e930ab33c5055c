//! `acs eval --explain`: the explanation then the decision (human), or one JSON object
//! (`--format json`), on the project bundle, the rules directory and the legacy fixture;
//! colours, exit codes, and a snapshot of one shipped example. In-process through the
//! library, but for the help text and standard input as the binary reads them.

use crate::support::{acs_lib, in_dir, Run};

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

use acs_integration_tests::{legacy_bundle, EXAMPLE_OUTCOMES};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const RULES_FILE: &str = "rules/acs_rules_top25.yaml";
const STUBS: &str = "rules/examples/stubs.json";

/// `acs eval --rules RULES --functions stubs.json ARGS... rules/examples/EXAMPLE`, with
/// the output as from the repository root, where files are named as an analyst would
/// type them (`RULES` is relative to the root, or absolute).
fn eval(rules: &str, args: &[&str], example: &str) -> Run {
    let root = Path::new(REPO);
    let rules = in_dir(root, rules);
    let stubs = in_dir(root, STUBS);
    let input = in_dir(root, &format!("rules/examples/{example}"));
    let mut all = vec!["eval", "--rules", &rules, "--functions", &stubs];
    all.extend(args);
    all.push(&input);
    acs_lib(&all, b"").seen_from(root)
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The human output split into the explanation and the decision that follows it.
fn split_human(stdout: &str) -> (&str, Value) {
    let at = stdout
        .find("\n{\n")
        .unwrap_or_else(|| panic!("no decision after the explanation:\n{stdout}"));
    let (explanation, decision) = stdout.split_at(at + 1);
    (explanation, serde_json::from_str(decision).unwrap())
}

fn ids(values: &Value, key: &str) -> Vec<String> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect()
}

fn bundles() -> Vec<&'static str> {
    let mut bundles = vec![RULES_FILE, "rules/"];
    bundles.extend(legacy_bundle().and_then(Path::to_str));
    bundles
}

#[test]
fn explain_prints_every_candidate_rule_then_the_unchanged_decision() {
    for bundle in bundles() {
        for (file, matched, _code) in EXAMPLE_OUTCOMES {
            let plain = eval(bundle, &[], file).json();
            let explained = eval(bundle, &["--explain"], file);
            let (explanation, decision) = split_human(explained.ok());
            assert_eq!(decision, plain, "{bundle}: {file}");
            let evaluated = plain["rules_evaluated"].as_u64().unwrap();
            assert!(
                explanation.starts_with(&format!("{evaluated} candidate rule")),
                "{bundle}: {file}:\n{explanation}"
            );
            let headers: Vec<&str> = explanation
                .lines()
                .filter(|l| l.starts_with("RF"))
                .collect();
            assert_eq!(headers.len() as u64, evaluated, "{bundle}: {file}");
            for header in headers {
                let id = header.split_whitespace().next().unwrap();
                let want = if matched.contains(&id) {
                    "  MATCHED"
                } else {
                    "  not matched"
                };
                assert!(header.ends_with(want), "{bundle}: {file}: {header}");
            }
        }
    }
}

#[test]
fn explain_format_json_prints_one_object_with_the_decision_and_the_explanation() {
    for bundle in bundles() {
        for (file, matched, _code) in EXAMPLE_OUTCOMES {
            let plain = eval(bundle, &[], file).json();
            let both = eval(bundle, &["--explain", "--format", "json"], file).json();
            let object = both.as_object().unwrap();
            assert_eq!(
                object.keys().collect::<Vec<_>>(),
                ["decision", "explanation"],
                "{bundle}: {file}"
            );
            assert_eq!(both["decision"], plain, "{bundle}: {file}");
            let rules = &both["explanation"]["rules"];
            assert_eq!(
                rules.as_array().unwrap().len() as u64,
                plain["rules_evaluated"].as_u64().unwrap()
            );
            let explained_matches: Vec<String> = rules
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["outcome"] == "matched")
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(explained_matches, *matched, "{bundle}: {file}");
            assert_eq!(explained_matches, ids(&plain["matched"], "id"));
            let root = &rules[0]["condition"];
            for key in ["text", "location", "status", "children"] {
                assert!(
                    root.get(key).is_some(),
                    "{bundle}: {file}: no `{key}` in {root}"
                );
            }
            assert!(
                root["location"]["line"].as_u64().unwrap() > 0,
                "{bundle}: {file}"
            );
        }
    }
}

#[test]
fn explain_shows_errors_of_unstubbed_functions_and_skipped_operands() {
    // Without the stub table the host functions are unregistered: RF17 fails.
    let root = Path::new(REPO);
    let run = acs_lib(
        &[
            "--quiet",
            "eval",
            "--rules",
            &in_dir(root, RULES_FILE),
            "--explain",
            &in_dir(root, "rules/examples/shipment_accept_device_collision.json"),
        ],
        b"",
    );
    let stdout = run.ok();
    assert!(
        stdout.contains("RF17_DEVICE_ACCOUNT_COLLISION  priority 920  high  ERROR"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error: function `db.count.driverAccountsByDevice` is not registered"),
        "{stdout}"
    );
    assert!(stdout.contains("(not evaluated)"), "{stdout}");
}

#[test]
fn explain_colours_matches_green_and_dims_the_rest_only_when_asked() {
    let coloured = eval(
        RULES_FILE,
        &["--explain", "--color", "always"],
        "bid_create_kyc_missing.json",
    );
    let stdout = coloured.ok();
    assert!(
        stdout.contains("\x1b[32mRF01_KYC_MANDATORY  priority 1000  critical  MATCHED\x1b[0m"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("\x1b[2mRF02_TRUCK_DOCS_EXPIRED  priority 995  critical  not matched\x1b[0m"),
        "{stdout}"
    );
    let (_, decision) = split_human(stdout);
    assert_eq!(ids(&decision["matched"], "id"), ["RF01_KYC_MANDATORY"]);

    let plain = eval(
        RULES_FILE,
        &["--explain", "--color", "never"],
        "bid_create_kyc_missing.json",
    );
    assert!(!plain.ok().contains('\x1b'));
}

#[test]
fn format_without_explain_is_a_usage_error() {
    let run = eval(RULES_FILE, &["--format", "json"], "bid_create_clean.json");
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("--explain"), "{}", run.stderr);
}

#[test]
fn explain_of_an_invalid_input_exits_2_and_prints_nothing() {
    let mut command = Command::cargo_bin("acs").unwrap();
    let output = command
        .current_dir(REPO)
        .args(["--quiet", "eval", "--rules", RULES_FILE, "--explain", "-"])
        .write_stdin("{ not json")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: <stdin>: "), "{stderr}");
}

#[test]
fn eval_help_shows_an_explain_example() {
    let output = Command::cargo_bin("acs")
        .unwrap()
        .args(["eval", "--help"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("--explain"), "{help}");
    assert!(
        help.contains("acs eval --rules rules/ --functions rules/examples/stubs.json --explain"),
        "{help}"
    );
}

#[test]
fn explanation_of_the_kyc_example() {
    let run = eval(RULES_FILE, &["--explain"], "bid_create_kyc_missing.json");
    let (explanation, _) = split_human(run.ok());
    insta::assert_snapshot!(explanation);
}
