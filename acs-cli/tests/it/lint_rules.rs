//! `acs lint-rules`: one fixture file per finding code with a snapshot of the human
//! output, the shipped and legacy bundles, formats, config discovery and exit codes.
//! In-process through the library, but for the config's name as shown relative to the
//! directory `acs` runs in.

use crate::support::{acs, acs_lib, in_dir, run, Run, ROOT};

use std::path::{Path, PathBuf};

use acs_integration_tests::legacy_bundle;
use serde_json::Value;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lint_cases");

/// The binary run in `dir`.
fn acs_in(dir: &Path, args: &[&str]) -> Run {
    run(acs().current_dir(dir).env_remove("NO_COLOR").args(args))
}

/// `acs FLAGS... lint-rules FILES...` in-process, with `FILES` under `dir` and the output
/// as from `dir`.
fn lint_in(dir: &Path, flags: &[&str], files: &[&str]) -> Run {
    let files: Vec<String> = files.iter().map(|f| in_dir(dir, f)).collect();
    let mut args = vec!["lint-rules"];
    args.extend(flags);
    args.extend(files.iter().map(String::as_str));
    acs_lib(&args, b"").seen_from(dir)
}

fn case_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(CASES).join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every fixture, linted from its own directory so paths in the output are short, and
/// snapshotted. A fixture named after a code must report that code.
#[test]
fn every_finding_kind_matches_its_snapshot() {
    for dir in [
        "plain",
        "with_config",
        "with_schema",
        "bad_config",
        "bad_schema",
    ] {
        for file in case_files(dir) {
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            let run = lint_in(file.parent().unwrap(), &[], &[&name]);
            if let Some(code) = name.split('_').next().filter(|c| c.starts_with("ACS")) {
                assert!(
                    run.stdout.contains(&format!("[{code}]")),
                    "{dir}/{name} does not report {code}:\n{}",
                    run.stdout
                );
            }
            let stem = name.trim_end_matches(".yaml");
            insta::assert_snapshot!(
                format!("{dir}__{stem}"),
                format!(
                    "$ acs lint-rules {name}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
                    run.code, run.stdout, run.stderr
                )
            );
        }
    }
}

/// Every code the linter can report has a fixture.
#[test]
fn every_code_has_a_fixture() {
    let mut names: Vec<String> = ["plain", "with_config"]
        .into_iter()
        .flat_map(case_files)
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    names.push("ACS601 (bad_config/acs.toml)".to_owned());
    for code in acs_engine::unstable::CODES {
        // ACS200 (an unreadable file) is `missing_file_is_a_usage_error`; ACS5xx belong
        // to rule test files (acs-engine/tests/it/testing.rs).
        if code.code == "ACS200" || code.code.starts_with("ACS5") {
            continue;
        }
        assert!(
            names.iter().any(|n| n.starts_with(code.code)),
            "no lint fixture for {}",
            code.code
        );
    }
}

#[test]
fn the_shipped_bundle_is_clean() {
    let root = Path::new(ROOT);
    for target in ["rules/acs_rules_top25.yaml", "rules/"] {
        let run = acs_in(root, &["lint-rules", "--deny-warnings", target]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("25 rules, 0 errors, 0 warnings"),
            "{}",
            run.stdout
        );
        assert!(
            run.stderr.contains("note: using rules/acs.toml"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn the_legacy_bundle_lints_with_warnings_and_exit_0() {
    let Some(legacy) = legacy_bundle().and_then(Path::to_str) else {
        return;
    };
    let run = lint_in(Path::new(ROOT), &[], &[legacy]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("25 rules, 0 errors,"), "{}", run.stdout);
    assert!(run.stdout.contains("warning[ACS401]"), "{}", run.stdout);
    assert!(run.stdout.contains("warning[ACS430]"), "{}", run.stdout);
    let denied = lint_in(Path::new(ROOT), &["--deny-warnings"], &[legacy]);
    assert_eq!(denied.code, 1);
}

#[test]
fn json_format_carries_every_finding() {
    let dir = Path::new(CASES).join("plain");
    let run = lint_in(&dir, &["--format", "json"], &["ACS420_never_true.yaml"]);
    assert_eq!(run.code, 1);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["errors"], 4);
    assert_eq!(json["warnings"], 0);
    let diagnostics = json["reports"][0]["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 4);
    let first = &diagnostics[0];
    assert_eq!(first["code"], "ACS420");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["rule_id"], "TWO_VALUES");
    assert_eq!(first["location"]["file"], "ACS420_never_true.yaml");
    assert_eq!(first["location"]["line"], 5);
    assert_eq!(first["location"]["column"], 69);
}

#[test]
fn sarif_format_is_sarif_2_1_0() {
    let dir = Path::new(CASES).join("plain");
    let run = lint_in(
        &dir,
        &["--format", "sarif"],
        &["ACS430_negated_missing.yaml", "clean.yaml"],
    );
    assert_eq!(run.code, 0, "warnings alone pass");
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        assert_eq!(result["ruleId"], "ACS430");
        assert_eq!(result["level"], "warning");
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], "ACS430");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            location["artifactLocation"]["uri"],
            "ACS430_negated_missing.yaml"
        );
        assert!(location["region"]["startLine"].as_u64().unwrap() > 0);
        assert!(
            location["region"]["endColumn"].as_u64().unwrap()
                > location["region"]["startColumn"].as_u64().unwrap()
        );
    }
}

#[test]
fn deny_warnings_turns_warnings_into_a_failure() {
    let dir = Path::new(CASES).join("plain");
    assert_eq!(lint_in(&dir, &[], &["ACS440_no_gate.yaml"]).code, 0);
    assert_eq!(
        lint_in(&dir, &["--deny-warnings"], &["ACS440_no_gate.yaml"]).code,
        1
    );
}

#[test]
fn missing_file_is_a_usage_error() {
    let run = lint_in(Path::new(CASES), &[], &["no/such/rules.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no/such/rules.yaml"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn explicit_config_wins_over_discovery() {
    let plain = Path::new(CASES).join("plain");
    let config = Path::new(CASES).join("with_config/acs.toml");
    let run = lint_in(
        &plain,
        &["--config", config.to_str().unwrap()],
        &["ACS401_unknown_function_warning.yaml"],
    );
    // Declared in that config: no finding at all.
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains("[ACS401]"), "{}", run.stdout);
}

#[test]
fn quiet_prints_errors_only() {
    let dir = Path::new(CASES).join("plain");
    let run = lint_in(&dir, &["--quiet"], &["ACS421_always_true.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("error[ACS421]"));
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
    assert!(!run.stdout.contains("rules,"), "no summary: {}", run.stdout);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let dir = Path::new(CASES).join("plain");
    let piped = acs_in(&dir, &["lint-rules", "ACS410_unknown_action.yaml"]);
    assert!(!piped.stdout.contains('\u{1b}'), "no colour into a pipe");
    let forced = lint_in(
        &dir,
        &["--color", "always"],
        &["ACS410_unknown_action.yaml"],
    );
    assert!(
        forced.stdout.contains("\u{1b}[1;31merror\u{1b}[0m[ACS410]"),
        "{}",
        forced.stdout
    );
}

#[test]
fn docs_list_every_code() {
    let docs = std::fs::read_to_string(Path::new(ROOT).join("docs/LINT.md")).unwrap();
    for code in acs_engine::unstable::CODES {
        assert!(
            docs.contains(&format!("| {} |", code.code)),
            "docs/LINT.md does not describe {}",
            code.code
        );
    }
}

/// The analysts' table of action parameters in rules/README.md is the linter's.
#[test]
fn readme_lists_every_action_with_its_parameters() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("rules/README.md")).unwrap();
    for (name, required, optional) in acs_engine::lint::actions::BUILTIN_ACTIONS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("rules/README.md has no row for `{name}`"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        for (params, cell) in [(required, cells[2]), (optional, cells[3])] {
            let written: Vec<&str> = cell
                .split("), ")
                .filter(|p| !p.is_empty())
                .map(|p| p.split(' ').next().unwrap().trim_matches('`'))
                .collect();
            let declared: Vec<&str> = params.iter().map(|(key, _)| *key).collect();
            assert_eq!(written, declared, "`{name}` in rules/README.md");
            for (key, ty) in params.iter() {
                let ty = serde_json::to_value(ty).unwrap();
                let ty = ty.as_str().unwrap();
                assert!(
                    cell.contains(&format!("`{key}` ({ty}")),
                    "`{name}`'s `{key}` is {ty} in the linter: {row}"
                );
            }
        }
    }
}

#[test]
fn explain_prints_a_codes_documentation() {
    let run = lint_in(Path::new(CASES), &["--explain", "ACS411"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("ACS411 (error): a path whose root cannot exist"),
        "{}",
        run.stdout
    );
    let unknown = lint_in(Path::new(CASES), &["--explain", "ACS999"], &[]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("ACS999"), "{}", unknown.stderr);
}

#[cfg(unix)]
#[test]
fn a_config_that_is_a_device_is_refused_unread() {
    let scratch = crate::support::temp_dir("lint-config-device");
    let dir = scratch.path();
    let rules = crate::support::write(dir, "rules.yaml", "- {id: A, priority: 1, severity: low, description: d, condition: \"event.type == 'a'\", action: [], audit: false}\n");
    let run = crate::support::acs_lib(
        &[
            "lint-rules",
            "--config",
            "/dev/zero",
            rules.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("ACS601") && run.stderr.contains("not a regular file"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_path_given_twice_is_linted_and_reported_once() {
    let scratch = crate::support::temp_dir("lint-twice");
    let dir = scratch.path();
    let rules = crate::support::write(dir, "rules.yaml", "- {id: A, priority: 1, severity: low, description: d, condition: \"event.type == 'a' && f(1) > 1\", action: [], audit: false}\n");
    let path = rules.to_str().unwrap().to_owned();
    let again = format!("{}/./rules.yaml", dir.display());
    let twice = crate::support::acs_lib(&["lint-rules", &path, &again], b"");
    let once = crate::support::acs_lib(&["lint-rules", &path], b"");
    assert_eq!(twice.code, once.code);
    assert_eq!(
        twice.stdout.matches("ACS401").count(),
        once.stdout.matches("ACS401").count(),
        "{}",
        twice.stdout
    );
    assert_eq!(once.stdout.matches("ACS401").count(), 1, "{}", once.stdout);
}
