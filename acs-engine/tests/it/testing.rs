//! Rule test files: the format (errors at file:line:col, unknown keys, stub and input
//! merging), every kind of difference a failing test reports, coverage, and the shipped
//! test file against the project bundle and the legacy one.
use std::path::{Path, PathBuf};

use acs_engine::testing::{
    run_all, Difference, FileReport, TestBundle, TestFile, TestFileError, VerdictKind,
};
use acs_engine::{Diagnostic, RulesSource};
use serde_json::json;

const RULES: &str = r#"
- id: REJECT_HIGH
  priority: 100
  severity: high
  description: Rejects big amounts.
  condition: "event.type == 'pay' && event.amount > 100"
  action:
    - rejectRequest: { code: TOO_BIG, message: "amount {{event.amount}}" }
    - notifyRole: { role: ops, message: "big payment {{event.amount}}", payload: { amount: "{{event.amount}}", user: "{{ctx.user}}" } }
  audit: true
- id: FLAG_ODD
  priority: 50
  severity: low
  description: Flags odd amounts.
  condition: "event.type == 'pay' && event.amount % 2 == 1"
  action:
    - flagWatchlist: { entityId: "{{ctx.user}}" }
  audit: false
- id: LOOKUP
  priority: 40
  severity: medium
  description: Asks the host.
  condition: "event.type == 'pay' && risk.score(ctx.user) > 5"
  action:
    - rejectRequest: { code: RISKY, message: risky }
  audit: true
- id: CLOCK
  priority: 30
  severity: low
  description: Pinned clock.
  condition: "event.type == 'tick' && now() == 1234"
  action:
    - proceed: { outcome: tick }
  audit: false
- id: TRIAL
  priority: 20
  severity: low
  description: A shadow rule.
  condition: "event.type == 'pay' && event.amount > 1000"
  action:
    - rejectRequest: { code: TRIAL, message: trial }
  audit: false
  mode: shadow
"#;

fn bundle() -> TestBundle {
    TestBundle::load(&RulesSource::Text {
        name: "rules.yaml".to_owned(),
        text: RULES.to_owned(),
    })
    .unwrap()
}

fn parse(text: &str) -> Result<TestFile, Vec<Diagnostic>> {
    TestFile::parse("t.test.yaml", text, Path::new("/nowhere"))
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(_) => panic!("`{text}` parsed"),
        Err(diagnostics) => diagnostics,
    }
}

/// `file:line:col message` of each diagnostic.
fn placed(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            let at = d
                .location
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("{at} {} {}", d.code, d.message)
        })
        .collect()
}

fn run(text: &str) -> FileReport {
    parse(text).unwrap().run(&bundle()).unwrap()
}

/// The differences of the single test in `text`.
fn differences(text: &str) -> Vec<Difference> {
    let report = run(text);
    assert_eq!(report.tests.len(), 1);
    report.tests[0].differences.clone()
}

const PAY_150: &str = "    input: { event: { type: pay, amount: 150 }, ctx: { user: U-1 } }\n    functions: { risk.score: [[[U-1], 1]] }\n";

fn one_test(expect: &str) -> String {
    format!("tests:\n  - name: t\n{PAY_150}    expect: {expect}\n")
}

// ---------------------------------------------------------------------------------------
// The format
// ---------------------------------------------------------------------------------------

#[test]
fn a_valid_file_parses_with_test_locations_and_resolved_rules() {
    let file = parse(
        "rules: ../rules/x.yaml\ntests:\n  - name: first\n    input: { event: { type: pay } }\n    expect: { matched: [] }\n  - name: second\n    input: { event: { type: tick } }\n    expect: { verdict: allowed }\n",
    )
    .unwrap();
    assert_eq!(file.rules, Some(PathBuf::from("/rules/x.yaml")));
    let places: Vec<String> = file.tests.iter().map(|t| t.location.to_string()).collect();
    assert_eq!(places, ["t.test.yaml:3:5", "t.test.yaml:6:5"]);
    assert_eq!(file.tests[1].expect.verdict, Some(VerdictKind::Allowed));
}

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    let found = placed(&errors("tests:\n  - name: [unclosed\n"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("t.test.yaml:3:1 ACS201 invalid YAML"),
        "{found:?}"
    );
}

#[test]
fn unknown_keys_are_refused_at_every_level_with_a_suggestion() {
    let diagnostics = errors(
        "rule: x.yaml\ntests:\n  - name: t\n    inptu: { event: { type: pay } }\n    expect: { matchd: [] }\n",
    );
    assert_eq!(
        placed(&diagnostics),
        [
            "t.test.yaml:1:1 ACS502 unknown key `rule` in a test file",
            "t.test.yaml:4:5 ACS502 unknown key `inptu` in a test",
            "t.test.yaml:3:5 ACS504 a test is missing `input` or `input_file`",
            "t.test.yaml:5:15 ACS502 unknown key `matchd` in `expect`",
        ]
    );
    let helps: Vec<_> = diagnostics
        .iter()
        .map(|d| d.help.clone().unwrap_or_default())
        .collect();
    assert_eq!(helps[0], "did you mean `rules`?");
    assert_eq!(helps[1], "did you mean `input`?");
    assert_eq!(helps[3], "did you mean `matched`?");
    let far = errors("tests:\n  - name: t\n    input: {}\n    expect: { zzzzzzzz: 1 }\n");
    assert!(
        far[0]
            .help
            .as_deref()
            .unwrap()
            .contains("`matched_includes`"),
        "{far:?}"
    );
}

#[test]
fn wrong_types_and_missing_keys_are_each_reported_with_positions() {
    let found = placed(&errors(
        "tests:\n  - input: { event: {} }\n    expect: { matched: RF01, verdict: maybe, rules_evaluated: -1, code: [x] }\n  - name: 5\n    input: [1]\n    expect: {}\n",
    ));
    assert_eq!(
        found,
        [
            "t.test.yaml:2:5 ACS504 a test is missing `name`",
            "t.test.yaml:3:24 ACS503 `matched` must be a list of rule ids, found a string",
            "t.test.yaml:3:39 ACS503 `verdict` must be `allowed` or `rejected`, found `maybe`",
            "t.test.yaml:3:63 ACS503 `rules_evaluated` must be a count (0 or more), found a number",
            "t.test.yaml:3:73 ACS503 `code` must be a string, found a list",
            "t.test.yaml:4:11 ACS503 `name` must be a string, found a number",
            "t.test.yaml:5:12 ACS503 `input` must be a mapping (the input document), found a list",
            "t.test.yaml:6:13 ACS504 `expect` is empty",
        ]
    );
}

#[test]
fn files_without_tests_are_refused() {
    assert_eq!(
        placed(&errors("")),
        ["t.test.yaml:1:1 ACS504 the test file is empty"]
    );
    assert_eq!(
        placed(&errors("rules: x.yaml\n")),
        ["t.test.yaml:1:1 ACS504 the test file has no `tests`"]
    );
    assert_eq!(
        placed(&errors("tests: []\n")),
        ["t.test.yaml:1:8 ACS504 `tests` is empty"]
    );
    assert_eq!(
        placed(&errors("- name: t\n")),
        ["t.test.yaml:1:1 ACS501 a test file is a mapping, found a list"]
    );
}

#[test]
fn malformed_stub_tables_point_at_the_function() {
    let found = placed(&errors(
        "functions:\n  now: 5\ntests:\n  - name: t\n    input: {}\n    functions: { f: [[1]] }\n    expect: { matched: [] }\n",
    ));
    assert_eq!(
        found,
        [
            "t.test.yaml:2:8 ACS506 stubs of `now` must be a list of `[[args...], result]` entries",
            "t.test.yaml:6:21 ACS506 stubs of `f`: entry 0 must be `[[args...], result]`",
        ]
    );
}

#[test]
fn input_files_are_read_relative_to_the_test_file_and_merged_under_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("inputs")).unwrap();
    std::fs::write(
        dir.path().join("inputs/pay.json"),
        r#"{"event": {"type": "pay", "amount": 150, "note": "kept"}, "ctx": {"user": "U-FILE"}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("inputs/list.json"), "[1]").unwrap();
    std::fs::write(dir.path().join("inputs/broken.json"), "{\n oops").unwrap();
    std::fs::write(
        dir.path().join("inputs/twice.json"),
        r#"{"event": {"type": "a"}, "event": {}}"#,
    )
    .unwrap();
    let text = "input_defaults: { system: { region: south }, ctx: { user: U-DEFAULT, role: ops } }\ntests:\n  - name: t\n    input_file: inputs/pay.json\n    input: { event: { amount: 3 } }\n    expect: { matched: [] }\n";
    let path = dir.path().join("t.test.yaml");
    std::fs::write(&path, text).unwrap();
    let file = TestFile::read(&path).unwrap();
    assert_eq!(
        file.tests[0].input,
        json!({
            "event": { "type": "pay", "amount": 3, "note": "kept" },
            "ctx": { "user": "U-FILE", "role": "ops" },
            "system": { "region": "south" }
        })
    );

    let bad = "tests:\n  - name: a\n    input_file: inputs/missing.json\n    expect: { matched: [] }\n  - name: b\n    input_file: inputs/list.json\n    expect: { matched: [] }\n  - name: c\n    input_file: inputs/broken.json\n    expect: { matched: [] }\n  - name: d\n    input_file: inputs/twice.json\n    expect: { matched: [] }\n";
    std::fs::write(&path, bad).unwrap();
    let Err(TestFileError::Invalid { diagnostics }) = TestFile::read(&path) else {
        panic!("bad input files were accepted");
    };
    let messages: Vec<String> = diagnostics.iter().map(|d| d.message.clone()).collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(messages[0].contains("cannot read input file") && messages[0].contains("missing.json"));
    assert!(
        messages[1].contains("holds a list, not an object"),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("is not valid JSON (line 2"),
        "{messages:?}"
    );
    assert!(
        messages[3].ends_with(
            "twice.json` gives a key twice: duplicate key \"event\" in one JSON object, at line 1, column 32"
        ),
        "{messages:?}"
    );
    assert!(diagnostics.iter().all(|d| d.code == "ACS505"));
    assert_eq!(diagnostics[0].location.as_ref().unwrap().line, 3);
}

#[test]
fn a_missing_test_file_is_an_io_error_with_a_diagnostic() {
    let error = TestFile::read(Path::new("/no/such/dir/x.test.yaml")).unwrap_err();
    assert!(matches!(error, TestFileError::Io { .. }));
    assert_eq!(error.diagnostics()[0].code, "ACS500");
    assert!(error.to_string().contains("x.test.yaml"), "{error}");
}

#[test]
fn a_tests_stubs_replace_the_files_stubs_of_the_same_function_only() {
    let text = "functions:\n  risk.score: [[[U-1], 9]]\n  now: [[[], 1234]]\ntests:\n  - name: file stubs\n    input: { event: { type: pay, amount: 2 }, ctx: { user: U-1 } }\n    expect: { matched: [LOOKUP] }\n  - name: test stub replaces the file's table for risk.score\n    input: { event: { type: pay, amount: 2 }, ctx: { user: U-1 } }\n    functions: { risk.score: [[[U-1], 1]] }\n    expect: { matched: [] }\n  - name: an empty table answers nothing, so the rule errors\n    input: { event: { type: pay, amount: 2 }, ctx: { user: U-1 } }\n    functions: { risk.score: [] }\n    expect: { matched: [], errors: [LOOKUP] }\n  - name: the file's now still applies\n    input: { event: { type: tick } }\n    functions: { risk.score: [] }\n    expect: { matched: [CLOCK] }\n";
    let file = parse(text).unwrap();
    assert_eq!(
        file.tests[1].functions,
        json!({ "risk.score": [[["U-1"], 1]], "now": [[[], 1234]] })
    );
    let report = file.run(&bundle()).unwrap();
    for test in &report.tests {
        assert!(test.passed, "{}: {:?}", test.name, test.differences);
    }
    let error = &report.tests[2].decision.errors[0];
    assert!(error.message.contains("`risk.score`"), "{error:?}");
}

#[test]
fn a_now_stub_pins_the_clock() {
    let pinned = "tests:\n  - name: t\n    input: { event: { type: tick } }\n    functions: { now: [[[], 1234]] }\n    expect: { matched: [CLOCK] }\n";
    assert!(run(pinned).tests[0].passed);
    let unpinned =
        "tests:\n  - name: t\n    input: { event: { type: tick } }\n    expect: { matched: [] }\n";
    assert!(run(unpinned).tests[0].passed);
}

#[test]
fn unknown_rule_ids_in_expectations_are_errors_with_a_suggestion() {
    let file = parse(
        "tests:\n  - name: t\n    input: {}\n    expect:\n      matched: [REJECT_HIHG]\n      not_matched: [NOPE_NOT_A_RULE_AT_ALL]\n      actions: { FLAG_OD: { flagWatchlist: {} } }\n",
    )
    .unwrap();
    let diagnostics = file.run(&bundle()).unwrap_err();
    assert_eq!(
        placed(&diagnostics),
        [
            "t.test.yaml:5:17 ACS507 unknown rule `REJECT_HIHG`",
            "t.test.yaml:6:21 ACS507 unknown rule `NOPE_NOT_A_RULE_AT_ALL`",
            "t.test.yaml:7:18 ACS507 unknown rule `FLAG_OD`",
        ]
    );
    assert_eq!(
        diagnostics[0].help.as_deref(),
        Some("did you mean `REJECT_HIGH`?")
    );
    assert_eq!(
        diagnostics[2].help.as_deref(),
        Some("did you mean `FLAG_ODD`?")
    );
}

#[test]
fn a_bundle_that_does_not_load_is_a_load_error() {
    let error = TestBundle::load(&RulesSource::Text {
        name: "broken.yaml".to_owned(),
        text: "- id: X\n".to_owned(),
    })
    .unwrap_err();
    assert!(
        error.to_string().contains("rule is missing `priority`"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// Differences
// ---------------------------------------------------------------------------------------

#[test]
fn a_passing_test_has_no_differences_and_keeps_the_decision() {
    let report = run(&one_test(
        "{ matched: [REJECT_HIGH], verdict: rejected, code: TOO_BIG, rejected_by: REJECT_HIGH, shadow_matched: [], errors: [], rules_evaluated: 4, matched_includes: [REJECT_HIGH], not_matched: [FLAG_ODD] }",
    ));
    let test = &report.tests[0];
    assert!(test.passed, "{:?}", test.differences);
    assert_eq!(test.decision.matched_ids(), ["REJECT_HIGH"]);
    assert_eq!((report.passed, report.failed), (1, 0));
}

#[test]
fn matched_reports_missing_and_unexpected_ids() {
    assert_eq!(
        differences(&one_test("{ matched: [FLAG_ODD] }")),
        [Difference::Matched {
            expected: vec!["FLAG_ODD".into()],
            actual: vec!["REJECT_HIGH".into()],
            missing: vec!["FLAG_ODD".into()],
            unexpected: vec!["REJECT_HIGH".into()],
        }]
    );
}

#[test]
fn matched_in_another_order_is_a_difference_with_nothing_missing() {
    let text = "tests:\n  - name: t\n    input: { event: { type: pay, amount: 151 } }\n    functions: { risk.score: [[[null], 1]] }\n    expect: { matched: [FLAG_ODD, REJECT_HIGH] }\n";
    assert_eq!(
        differences(text),
        [Difference::Matched {
            expected: vec!["FLAG_ODD".into(), "REJECT_HIGH".into()],
            actual: vec!["REJECT_HIGH".into(), "FLAG_ODD".into()],
            missing: vec![],
            unexpected: vec![],
        }]
    );
}

#[test]
fn matched_includes_and_not_matched_report_the_offending_ids() {
    assert_eq!(
        differences(&one_test(
            "{ matched_includes: [REJECT_HIGH, FLAG_ODD], not_matched: [REJECT_HIGH, CLOCK] }"
        )),
        [
            Difference::MissingMatches {
                missing: vec!["FLAG_ODD".into()],
                actual: vec!["REJECT_HIGH".into()],
            },
            Difference::UnexpectedMatches {
                unexpected: vec!["REJECT_HIGH".into()],
                actual: vec!["REJECT_HIGH".into()],
            },
        ]
    );
}

#[test]
fn verdict_code_and_rejecting_rule_are_each_compared() {
    assert_eq!(
        differences(&one_test(
            "{ verdict: allowed, code: OTHER, rejected_by: LOOKUP }"
        )),
        [
            Difference::Verdict {
                expected: VerdictKind::Allowed,
                actual: VerdictKind::Rejected,
                rejected_by: Some("REJECT_HIGH".into()),
            },
            Difference::Code {
                expected: "OTHER".into(),
                actual: Some("TOO_BIG".into()),
            },
            Difference::RejectedBy {
                expected: "LOOKUP".into(),
                actual: Some("REJECT_HIGH".into()),
            },
        ]
    );
    let allowed = "tests:\n  - name: t\n    input: { event: { type: pay, amount: 2 } }\n    functions: { risk.score: [[[null], 1]] }\n    expect: { verdict: rejected, code: TOO_BIG }\n";
    assert_eq!(
        differences(allowed),
        [
            Difference::Verdict {
                expected: VerdictKind::Rejected,
                actual: VerdictKind::Allowed,
                rejected_by: None,
            },
            Difference::Code {
                expected: "TOO_BIG".into(),
                actual: None,
            },
        ]
    );
}

#[test]
fn shadow_matches_are_compared_apart_from_the_verdict() {
    let text = "tests:\n  - name: t\n    input: { event: { type: pay, amount: 2000 } }\n    functions: { risk.score: [[[null], 1]] }\n    expect: { matched: [REJECT_HIGH], code: TOO_BIG, shadow_matched: [] }\n";
    assert_eq!(
        differences(text),
        [Difference::ShadowMatched {
            expected: vec![],
            actual: vec!["TRIAL".into()],
            missing: vec![],
            unexpected: vec!["TRIAL".into()],
        }]
    );
}

#[test]
fn unexpected_rule_errors_fail_a_test_that_does_not_list_them() {
    let text = "tests:\n  - name: t\n    input: { event: { type: pay, amount: 2 } }\n    expect: { matched: [] }\n";
    let found = differences(text);
    let [Difference::Errors {
        expected,
        missing,
        unexpected,
    }] = found.as_slice()
    else {
        panic!("{found:?}");
    };
    assert!(expected.is_empty() && missing.is_empty());
    assert_eq!(&*unexpected[0].rule_id, "LOOKUP");
    assert!(
        unexpected[0].message.contains("`risk.score`"),
        "{unexpected:?}"
    );

    assert_eq!(
        differences(&one_test("{ errors: [LOOKUP] }")),
        [Difference::Errors {
            expected: vec!["LOOKUP".into()],
            missing: vec!["LOOKUP".into()],
            unexpected: vec![],
        }]
    );
}

#[test]
fn rules_evaluated_is_compared() {
    assert_eq!(
        differences(&one_test("{ rules_evaluated: 1 }")),
        [Difference::RulesEvaluated {
            expected: 1,
            actual: 4
        }]
    );
}

#[test]
fn action_parameters_are_compared_key_by_key() {
    let passing = one_test(
        "{ actions: { REJECT_HIGH: { notifyRole: { message: big payment 150, payload: { amount: 150 } } } } }",
    );
    assert_eq!(differences(&passing), []);
    assert_eq!(
        differences(&one_test(
            "{ actions: { REJECT_HIGH: { notifyRole: { payload: { user: U-2 } }, proceed: {} }, FLAG_ODD: { flagWatchlist: {} } } }"
        )),
        [
            Difference::Action {
                rule: "REJECT_HIGH".into(),
                action: "notifyRole".into(),
                expected: json!({ "payload": { "user": "U-2" } }),
                actual: Some(json!({
                    "role": "ops",
                    "message": "big payment 150",
                    "payload": { "amount": 150, "user": "U-1" }
                })),
                rule_matched: true,
            },
            Difference::Action {
                rule: "REJECT_HIGH".into(),
                action: "proceed".into(),
                expected: json!({}),
                actual: None,
                rule_matched: true,
            },
            Difference::Action {
                rule: "FLAG_ODD".into(),
                action: "flagWatchlist".into(),
                expected: json!({}),
                actual: None,
                rule_matched: false,
            },
        ]
    );
}

#[test]
fn differences_serialize_with_a_kind_tag() {
    let found = differences(&one_test("{ code: OTHER }"));
    assert_eq!(
        serde_json::to_value(&found).unwrap(),
        json!([{ "kind": "code", "expected": "OTHER", "actual": "TOO_BIG" }])
    );
}

// ---------------------------------------------------------------------------------------
// Coverage and the shipped file
// ---------------------------------------------------------------------------------------

#[test]
fn coverage_lists_the_rules_no_test_expects_to_match_over_all_files_of_a_bundle() {
    let rules = bundle();
    let a = parse(&one_test("{ matched: [REJECT_HIGH] }")).unwrap();
    let b = parse(&one_test(
        "{ matched_includes: [REJECT_HIGH], not_matched: [FLAG_ODD], shadow_matched: [TRIAL] }",
    ))
    .unwrap();
    let report = run_all(&[(&a, &rules), (&b, &rules)]).unwrap();
    assert_eq!(report.coverage.len(), 1);
    assert_eq!(report.coverage[0].rules, "rules.yaml");
    assert_eq!(report.coverage[0].rule_count, 5);
    assert_eq!(
        report.coverage[0].uncovered,
        ["FLAG_ODD", "LOOKUP", "CLOCK"]
    );
    assert_eq!((report.passed, report.failed), (1, 1));
    assert!(!report.all_passed());
}

const SHIPPED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rules/tests/acs_rules_top25.test.yaml"
);
const PROJECT_BUNDLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/acs_rules_top25.yaml");

fn check_shipped_file(rules: &str) {
    let file = TestFile::read(Path::new(SHIPPED)).unwrap();
    let bundle = TestBundle::load(&RulesSource::Path(rules.into())).unwrap();
    let report = run_all(&[(&file, &bundle)]).unwrap();
    let failures: Vec<String> = report.files[0]
        .tests
        .iter()
        .filter(|t| !t.passed)
        .map(|t| format!("{}: {:?}", t.name, t.differences))
        .collect();
    assert!(failures.is_empty(), "{rules}:\n{}", failures.join("\n"));
    assert_eq!(report.coverage[0].rule_count, 25);
    assert_eq!(report.coverage[0].uncovered, Vec::<String>::new());
    // Every rule has a test where it matches and one where it does not.
    for id in bundle.rule_ids() {
        let matches = report.files[0]
            .tests
            .iter()
            .filter(|t| t.decision.matched_ids().contains(&id))
            .count();
        assert!(matches >= 1, "{id} never matches");
        let gated_misses = report.files[0]
            .tests
            .iter()
            .filter(|t| {
                !t.decision.matched_ids().contains(&id)
                    && t.decision.rules_evaluated > 0
                    && file
                        .tests
                        .iter()
                        .find(|c| c.name == t.name)
                        .is_some_and(|c| c.name.starts_with(&id[..4]))
            })
            .count();
        assert!(
            gated_misses >= 1,
            "{id} has no test where it does not match"
        );
    }
}

#[test]
fn the_shipped_test_file_passes_against_the_project_bundle_and_covers_every_rule() {
    check_shipped_file(PROJECT_BUNDLE);
}

#[test]
fn the_shipped_test_file_passes_against_the_unchanged_legacy_bundle() {
    let Some(legacy) = crate::support::legacy_bundle().and_then(Path::to_str) else {
        return;
    };
    check_shipped_file(legacy);
}

// ---------------------------------------------------------------------------------------
// No panics on any text
// ---------------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Lines a test file is made of, right and wrong, to be shuffled into near-miss files.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "tests:",
                "tests: []",
                "  - name: t",
                "  - name: [x]",
                "  -",
                "    input: { event: { type: pay, amount: 150 }, ctx: { user: U-1 } }",
                "    input: [1]",
                "    input_file: missing.json",
                "    functions: { risk.score: [[[U-1], 9]] }",
                "    functions: { risk.score: [] }",
                "    functions: { now: 5 }",
                "    expect:",
                "    expect: { matched: [] }",
                "      matched: [REJECT_HIGH, FLAG_ODD]",
                "      matched: REJECT_HIGH",
                "      matched_includes: [NOPE]",
                "      errors: [LOOKUP]",
                "      verdict: rejected",
                "      code: 5",
                "      rules_evaluated: 4",
                "      shadow_matched: [TRIAL]",
                "      actions: { REJECT_HIGH: { notifyRole: { payload: { amount: 150 } } } }",
                "      actions: { REJECT_HIGH: 1 }",
                "functions: { now: [[[], 1234]] }",
                "input_defaults: { ctx: { user: U-2 }, event: { type: pay } }",
                "rules: ../r.yaml",
                "- 1",
                "[",
                "{",
                "&a x",
                "*a",
                "---",
            ])
            .prop_map(str::to_owned),
            ".{0,30}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any text parses or fails with placed diagnostics; what parses runs or fails with
        /// diagnostics; nothing panics.
        #[test]
        fn any_test_file_text_parses_and_runs_without_panicking(lines in prop::collection::vec(line(), 0..14)) {
            let text = lines.join("\n");
            match parse(&text) {
                Ok(file) => {
                    if let Ok(report) = file.run(&bundle()) {
                        prop_assert_eq!(report.passed + report.failed, file.tests.len());
                        for test in &report.tests {
                            prop_assert_eq!(test.passed, test.differences.is_empty());
                        }
                    }
                }
                Err(diagnostics) => {
                    prop_assert!(!diagnostics.is_empty());
                    prop_assert!(diagnostics.iter().all(|d| d.location.is_some()), "{:?}", diagnostics);
                }
            }
        }
    }
}

/// A bundle in a temporary directory: `rules.yaml`, `examples/in.json`, `tests/` for test
/// files, and beside it (outside) `secret.json` and `other.yaml`.
#[cfg(unix)]
fn bundle_with_a_secret_beside_it() -> tempfile::TempDir {
    let outer = tempfile::tempdir().unwrap();
    let bundle = outer.path().join("bundle");
    std::fs::create_dir_all(bundle.join("tests")).unwrap();
    std::fs::create_dir_all(bundle.join("examples")).unwrap();
    let rules = "- id: R\n  priority: 1\n  severity: low\n  description: r\n  condition: \"event.type == 'x'\"\n  action: []\n  audit: false\n";
    std::fs::write(bundle.join("rules.yaml"), rules).unwrap();
    std::fs::write(outer.path().join("other.yaml"), rules).unwrap();
    std::fs::write(bundle.join("examples/in.json"), r#"{"event":{"type":"x"}}"#).unwrap();
    std::fs::write(
        outer.path().join("secret.json"),
        r#"{"event":{"type":"x"}}"#,
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outer.path().join("secret.json"),
        bundle.join("tests/link.json"),
    )
    .unwrap();
    let fifo = bundle.join("tests/pipe.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    outer
}

#[cfg(unix)]
fn reading(input_file: &str) -> String {
    format!("rules: ../rules.yaml\ntests:\n  - name: t\n    input_file: {input_file}\n    expect: {{ matched: [R] }}\n")
}

#[cfg(unix)]
#[test]
fn rules_and_input_files_outside_the_bundle_are_refused_unless_allowed() {
    use acs_engine::testing::ReadPolicy;

    let outer = bundle_with_a_secret_beside_it();
    let bundle = outer.path().join("bundle");
    let secret = outer.path().join("secret.json").canonicalize().unwrap();
    let path = bundle.join("tests/t.test.yaml");
    let read = |text: &str, allow: bool| {
        std::fs::write(&path, text).unwrap();
        TestFile::read_with(&path, &ReadPolicy::default().allowing_outside(allow))
    };
    let refused = |text: &str, allow: bool| match read(text, allow) {
        Err(TestFileError::Invalid { diagnostics }) => diagnostics
            .iter()
            .map(|d| format!("{} {}", d.code, d.message))
            .collect::<Vec<_>>(),
        Ok(_) => panic!("accepted {text}"),
        Err(other) => panic!("{other}"),
    };

    // Inside the bundle: the test file's directory, and the bundle above `tests/`.
    let file = read(&reading("../examples/in.json"), false).unwrap();
    assert_eq!(file.tests[0].input, json!({"event": {"type": "x"}}));
    assert_eq!(
        file.rules.as_deref(),
        Some(bundle.join("rules.yaml").as_path())
    );

    for input_file in [
        "../../secret.json".to_owned(),
        "../examples/../../secret.json".to_owned(),
        secret.display().to_string(),
        "link.json".to_owned(),
    ] {
        let messages = refused(&reading(&input_file), false);
        assert_eq!(
            messages,
            [format!(
                "ACS508 input file `{}` is outside the test file's bundle `{}`",
                secret.display(),
                bundle.canonicalize().unwrap().display()
            )],
            "{input_file}"
        );
        // Allowed explicitly, it is read.
        let file = read(&reading(&input_file), true).unwrap();
        assert_eq!(file.tests[0].input, json!({"event": {"type": "x"}}));
    }

    let outside_rules = "rules: ../../other.yaml\ntests:\n  - name: t\n    input: { event: { type: x } }\n    expect: { matched: [R] }\n";
    let messages = refused(outside_rules, false);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("ACS508 rules `") && messages[0].contains("other.yaml` is outside"),
        "{messages:?}"
    );
    assert!(read(outside_rules, true).is_ok());

    // A FIFO is never read (opening it would wait for a writer), allowed or not.
    for allow in [false, true] {
        let messages = refused(&reading("pipe.json"), allow);
        assert_eq!(
            messages,
            [format!(
                "ACS508 input file `{}` is not a regular file (a FIFO)",
                bundle.join("tests/pipe.json").display()
            )]
        );
    }
    let fifo_rules = "rules: pipe.json\ntests:\n  - name: t\n    input: { event: { type: x } }\n    expect: { matched: [R] }\n";
    let messages = refused(fifo_rules, true);
    assert!(
        messages[0].ends_with("pipe.json` is not a regular file (a FIFO)"),
        "{messages:?}"
    );
}

/// A test file outside any `tests/` directory reads under its own directory only.
#[cfg(unix)]
#[test]
fn a_test_file_elsewhere_reads_under_its_own_directory() {
    let outer = bundle_with_a_secret_beside_it();
    let path = outer.path().join("bundle/examples/t.test.yaml");
    std::fs::write(&path, reading("in.json")).unwrap();
    let Err(TestFileError::Invalid { diagnostics }) = TestFile::read(&path) else {
        panic!("`rules: ../rules.yaml` was read from outside `examples/`");
    };
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(
        diagnostics[0].message.starts_with("rules `"),
        "{diagnostics:?}"
    );
}

#[test]
fn an_input_file_larger_than_the_input_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = std::fs::File::create(dir.path().join("big.json")).unwrap();
    let limit = acs_engine::Limits::default().max_input_bytes as u64;
    big.set_len(limit + 1).unwrap();
    let path = dir.path().join("t.test.yaml");
    std::fs::write(
        &path,
        "tests:\n  - name: t\n    input_file: big.json\n    expect: { matched: [] }\n",
    )
    .unwrap();
    let Err(TestFileError::Invalid { diagnostics }) = TestFile::read(&path) else {
        panic!("a large input file was accepted");
    };
    assert!(
        diagnostics[0]
            .message
            .ends_with(&format!("more than the limit of {limit} bytes")),
        "{diagnostics:?}"
    );
}
