//! `acs test` end to end: the shipped test file on the project rules (file and directory)
//! and on the legacy fixture, what a failing test prints, and every way it exits 2.
//! In-process through the library; the binary for its help and its exit statuses.

use crate::support::{acs, acs_lib, run, temp_dir, write, Run, RULES_DIR, RULES_FILE};

use std::path::{Path, PathBuf};

use acs_integration_tests::legacy_bundle;
use assert_cmd::Command;
use serde_json::Value;

const SHIPPED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rules/tests/acs_rules_top25.test.yaml"
);

/// How many tests the shipped file holds.
const SHIPPED_TESTS: usize = 71;

impl Run {
    fn passed(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Exit 2, nothing on stdout; returns stderr.
    fn usage_error(&self) -> &str {
        assert_eq!(
            self.code, 2,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout);
        self.no_panic();
        &self.stderr
    }
}

/// `acs test ARGS...` in-process; with `dir`, the `*.yaml` arguments are files in `dir`
/// and the output is as from `dir`.
fn acs_test(args: &[&str], dir: Option<&Path>) -> Run {
    let args: Vec<String> = args
        .iter()
        .map(|arg| match dir {
            Some(dir) if arg.ends_with(".yaml") => dir.join(arg).display().to_string(),
            _ => (*arg).to_owned(),
        })
        .collect();
    let mut all = vec!["test"];
    all.extend(args.iter().map(String::as_str));
    let run = acs_lib(&all, b"");
    let run = match dir {
        Some(dir) => run.seen_from(dir),
        None => run,
    };
    run.no_panic();
    run
}

fn summary(passed: usize, failed: usize) -> String {
    format!("\n{passed} passed, {failed} failed\n")
}

const FAILING: &str = r#"rules: RULES
functions:
  now: [[[], 1763726400000]]
  db.count.trucksByOperator: [[["OP-1"], 12]]
tests:
  - name: the truck limit rejects OP-1
    input:
      event: { type: truck.create }
      ctx: { operatorId: OP-1 }
      system: { config: { maxTrucksPerOperator: 10 } }
    functions:
      operator.maintenanceWindowActive: [[["OP-1", 1763726400000], false]]
    expect:
      matched: [RF12_OPERATOR_MAX_TRUCKS_LIMIT]
      code: MAX_TRUCKS_EXCEEDED
  - name: a wrong expectation of everything
    input:
      event: { type: truck.create }
      ctx: { operatorId: OP-1 }
      system: { config: { maxTrucksPerOperator: 10 } }
    expect:
      matched: [RF22_MAINTENANCE_WINDOW_BLOCK, RF12_OPERATOR_MAX_TRUCKS_LIMIT]
      verdict: allowed
      code: KYC_REQUIRED
      rejected_by: RF22_MAINTENANCE_WINDOW_BLOCK
      rules_evaluated: 1
      actions:
        RF12_OPERATOR_MAX_TRUCKS_LIMIT:
          notifyRole: { message: "Max trucks allowed: 11" }
  - name: the right rules in the wrong order
    input:
      event: { type: truck.create }
      ctx: { operatorId: OP-1 }
      system: { config: { maxTrucksPerOperator: 10 } }
    functions:
      operator.maintenanceWindowActive: [[["OP-1", 1763726400000], true]]
    expect:
      matched: [RF22_MAINTENANCE_WINDOW_BLOCK, RF12_OPERATOR_MAX_TRUCKS_LIMIT]
  - name: includes, excludes and expected errors
    input:
      event: { type: inspection.uploaded, inspection: { id: I-1 }, image: { hash: h1 } }
      db: { indexes: { inspection_image_hashes: { h1: { truckId: T-2 } } } }
    expect:
      matched_includes: [RF24_INSPECTION_OUT_OF_ZONE]
      not_matched: [RF09_INSPECTION_GEO_MISSING]
      errors: [RF10_INSPECTION_DUPLICATE_PHOTO]
"#;

/// A copy of the shipped rules in `dir`, where a test file in `dir` may read it (a test
/// file reads only under its bundle); its path.
fn bundled_rules(dir: &Path) -> String {
    let copy = dir.join("acs_rules_top25.yaml");
    std::fs::copy(RULES_FILE, &copy).unwrap();
    copy.display().to_string()
}

fn failing_file(dir: &Path) -> PathBuf {
    write(
        dir,
        "failing.test.yaml",
        &FAILING.replace("RULES", &bundled_rules(dir)),
    )
}

#[test]
fn the_shipped_file_passes_on_the_rules_directory_and_covers_every_rule() {
    let run = acs_test(&[RULES_DIR], None);
    let stdout = run.passed();
    assert!(stdout.ends_with(&summary(SHIPPED_TESTS, 0)), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        SHIPPED_TESTS
    );
    assert!(
        stdout.contains("rules/tests/acs_rules_top25.test.yaml:75  RF01 a bid by an operator"),
        "{stdout}"
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    // Named twice, it runs once.
    let twice = acs_test(&[RULES_DIR, SHIPPED], None);
    assert!(twice.passed().ends_with(&summary(SHIPPED_TESTS, 0)));
}

#[test]
fn the_shipped_file_passes_with_the_rules_given_as_file_or_directory() {
    for rules in [RULES_FILE, RULES_DIR] {
        let run = acs_test(&["--rules", rules, SHIPPED], None);
        assert!(
            run.passed().ends_with(&summary(SHIPPED_TESTS, 0)),
            "{rules}"
        );
    }
}

#[test]
fn the_shipped_file_passes_on_the_unchanged_legacy_bundle() {
    let Some(legacy) = legacy_bundle().and_then(Path::to_str) else {
        return;
    };
    let run = acs_test(&["--rules", legacy, SHIPPED], None);
    assert!(run.passed().ends_with(&summary(SHIPPED_TESTS, 0)));
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn a_failing_test_exits_1_and_shows_what_differed() {
    let scratch = temp_dir("failing");
    let dir = scratch.path();
    failing_file(dir);
    let run = acs_test(&["failing.test.yaml"], Some(dir));
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    insta::assert_snapshot!("failure_output", run.stdout);
    assert!(
        run.stderr.contains("warning: 22 of 25 rules of `"),
        "{}",
        run.stderr
    );
}

#[test]
fn quiet_prints_only_failures_and_the_summary_line() {
    let scratch = temp_dir("quiet");
    let dir = scratch.path();
    failing_file(dir);
    let run = acs_test(&["--quiet", "failing.test.yaml"], Some(dir));
    assert_eq!(run.code, 1);
    assert!(!run.stdout.contains("ok "), "{}", run.stdout);
    assert_eq!(run.stdout.matches("FAILED").count(), 3, "{}", run.stdout);
    assert!(run.stdout.ends_with(&summary(1, 3)), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    let shipped = acs_test(&["-q", SHIPPED], None);
    assert_eq!(shipped.passed(), summary(SHIPPED_TESTS, 0));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let scratch = temp_dir("colour");
    let dir = scratch.path();
    failing_file(dir);
    let piped = acs_test(&["failing.test.yaml"], Some(dir));
    assert!(!piped.stdout.contains('\x1b'), "{}", piped.stdout);
    let forced = acs_test(&["--color", "always", "failing.test.yaml"], Some(dir));
    assert!(
        forced.stdout.contains("\x1b[1;31mFAILED\x1b[0m"),
        "{}",
        forced.stdout
    );
    assert!(
        forced.stdout.contains("\x1b[32mok\x1b[0m"),
        "{}",
        forced.stdout
    );
}

#[test]
fn json_format_prints_the_report() {
    let scratch = temp_dir("json");
    let dir = scratch.path();
    failing_file(dir);
    let run = acs_test(&["--format", "json", "failing.test.yaml"], Some(dir));
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 3);
    let test = &report["files"][0]["tests"][1];
    assert_eq!(test["passed"], false);
    assert_eq!(test["location"]["line"], 16);
    assert_eq!(test["differences"][0]["kind"], "matched");
    assert_eq!(
        test["differences"][0]["missing"][0],
        "RF22_MAINTENANCE_WINDOW_BLOCK"
    );
    assert_eq!(report["coverage"][0]["rule_count"], 25);

    let shipped = acs_test(&["--format", "json", SHIPPED], None);
    let report: Value = serde_json::from_str(shipped.passed()).unwrap();
    assert_eq!(report["failed"], 0);
    assert_eq!(report["coverage"][0]["uncovered"], serde_json::json!([]));
}

#[test]
fn an_invalid_test_file_exits_2_with_every_error_and_its_position() {
    let scratch = temp_dir("invalid");
    let dir = scratch.path();
    let rules = bundled_rules(dir);
    let text = format!(
        "rules: {rules}\ntests:\n  - name: t\n    input: {{ event: {{ type: x }} }}\n    expect:\n      matchd: []\n      verdict: maybe\n"
    );
    let file = write(dir, "bad.test.yaml", &text);
    let stderr = acs_test(&[file.to_str().unwrap()], None)
        .usage_error()
        .to_owned();
    assert!(
        stderr.contains(&format!("{}:6:7", file.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown key `matchd` in `expect`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `matched`?"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:7:16", file.display())),
        "{stderr}"
    );

    let yaml = write(dir, "yaml.test.yaml", "tests: [\n");
    let stderr = acs_test(&[yaml.to_str().unwrap()], None)
        .usage_error()
        .to_owned();
    assert!(stderr.contains("ACS201"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:1", yaml.display())),
        "{stderr}"
    );
}

#[test]
fn an_unknown_rule_id_exits_2_with_a_suggestion() {
    let scratch = temp_dir("unknown-id");
    let dir = scratch.path();
    let rules = bundled_rules(dir);
    let file = write(
        dir,
        "ids.test.yaml",
        &format!("rules: {rules}\ntests:\n  - name: t\n    input: {{}}\n    expect: {{ matched: [RF01_KYC_MANDATROY] }}\n"),
    );
    let stderr = acs_test(&[file.to_str().unwrap()], None)
        .usage_error()
        .to_owned();
    assert!(
        stderr.contains("unknown rule `RF01_KYC_MANDATROY`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `RF01_KYC_MANDATORY`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:5:25", file.display())),
        "{stderr}"
    );
}

#[test]
fn invalid_or_missing_rules_exit_2() {
    let scratch = temp_dir("bad-rules");
    let dir = scratch.path();
    let broken = write(
        dir,
        "broken.yaml",
        "- id: BROKEN\n  priority: 1\n  severity: low\n  description: Broken.\n  condition: \"event.type == 'x' && (\"\n  action:\n    - proceed: { outcome: x }\n  audit: false\n",
    );
    let stderr = acs_test(&["--rules", broken.to_str().unwrap(), SHIPPED], None)
        .usage_error()
        .to_owned();
    assert!(stderr.contains("ACS101"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:5:", broken.display())),
        "{stderr}"
    );

    let missing = dir.join("missing.yaml");
    let stderr = acs_test(&["--rules", missing.to_str().unwrap(), SHIPPED], None)
        .usage_error()
        .to_owned();
    assert!(
        stderr.contains("cannot read") && stderr.contains("missing.yaml"),
        "{stderr}"
    );

    let unnamed = write(
        dir,
        "unnamed.test.yaml",
        "tests:\n  - name: t\n    input: {}\n    expect: { matched: [] }\n",
    );
    let stderr = acs_test(&[unnamed.to_str().unwrap()], None)
        .usage_error()
        .to_owned();
    assert!(stderr.contains("names no rules"), "{stderr}");
    assert!(stderr.contains("--rules"), "{stderr}");
    // `--rules` supplies them.
    acs_test(&["--rules", RULES_FILE, unnamed.to_str().unwrap()], None).passed();
}

#[test]
fn missing_paths_and_directories_without_test_files_exit_2() {
    let scratch = temp_dir("no-tests");
    let dir = scratch.path();
    let stderr = acs_test(&[dir.join("nope.test.yaml").to_str().unwrap()], None)
        .usage_error()
        .to_owned();
    assert!(stderr.contains("nope.test.yaml"), "{stderr}");
    write(dir, "rules.yaml", "[]\n");
    let stderr = acs_test(&[dir.to_str().unwrap()], None)
        .usage_error()
        .to_owned();
    assert!(
        stderr.contains("holds no `*.test.yaml` test files"),
        "{stderr}"
    );
    let usage = acs_test(&[], None);
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("FILE_OR_DIR"), "{}", usage.stderr);
}

#[test]
fn directories_are_searched_for_test_files_in_name_order() {
    let scratch = temp_dir("search");
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("b/deeper")).unwrap();
    let test = |name: &str, rules: &str| {
        format!("rules: {rules}\ntests:\n  - name: {name}\n    input: {{}}\n    expect: {{ matched: [] }}\n")
    };
    let deeper = bundled_rules(&dir.join("b/deeper"));
    write(dir, "b/deeper/z.test.yaml", &test("deep", &deeper));
    write(dir, "a.test.yml", &test("first", &bundled_rules(dir)));
    write(dir, "not-a-test.yaml", "this: is ignored\n");
    write(dir, ".hidden.test.yaml", "ignored: [\n");
    let run = acs_test(&[dir.to_str().unwrap()], None);
    let names: Vec<&str> = run
        .passed()
        .lines()
        .filter_map(|l| l.rsplit("  ").next().filter(|_| l.starts_with("ok")))
        .collect();
    assert_eq!(names, ["first", "deep"]);
}

#[test]
fn the_binary_exits_0_when_all_pass_1_when_one_fails_and_2_on_usage_errors() {
    let scratch = temp_dir("binary");
    let dir = scratch.path();
    let failing = failing_file(dir);
    assert_eq!(run(acs().args(["test", SHIPPED])).code, 0);
    let failed = run(acs().arg("test").arg(&failing));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stdout.contains("FAILED"), "{}", failed.stdout);
    let usage = run(acs().args(["test", "--no-such-flag", SHIPPED]));
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("--no-such-flag"), "{}", usage.stderr);
    usage.no_panic();
}

#[test]
fn help_shows_an_example() {
    let mut command = Command::cargo_bin("acs").unwrap();
    let output = command.args(["test", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("acs test rules/"), "{help}");
    assert!(help.contains("--rules"), "{help}");
    assert!(help.contains("Exit status"), "{help}");
}

#[test]
fn rules_outside_the_bundle_are_read_only_with_allow_outside_reads() {
    let scratch = temp_dir("outside");
    let dir = scratch.path();
    let file = write(
        dir,
        "outside.test.yaml",
        &format!("rules: {RULES_FILE}\ntests:\n  - name: t\n    input: {{}}\n    expect: {{ matched: [] }}\n"),
    );
    let file = file.to_str().unwrap();
    let stderr = acs_test(&[file], None).usage_error().to_owned();
    assert!(stderr.contains("error[ACS508]: rules `"), "{stderr}");
    assert!(
        stderr.contains("is outside the test file's bundle"),
        "{stderr}"
    );
    acs_test(&["--allow-outside-reads", file], None).passed();
}
