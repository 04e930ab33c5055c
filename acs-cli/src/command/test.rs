//! `acs test`: run rule test files (the engine's `testing` module) and print what passed,
//! what differed and which rules no test covers.

use std::fmt::Write as _;
use std::path::PathBuf;

use acs_engine::testing::{run_paths, Difference, Report};

use super::{after_writing, Io, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::terminal::Style;

/// Arguments of `acs test`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  acs test rules/tests/acs_rules_top25.test.yaml
  acs test rules/
  acs test --rules /path/to/other_rules.yaml rules/tests/
  acs test --quiet --format json rules/ > results.json

Exit status: 0 all tests passed, 1 a test failed, 2 usage errors or invalid rules or test \
files.

The test-file format is described in rules/README.md (\"Rule tests\").")]
pub struct Args {
    /// Test files, or directories searched (with their subdirectories) for `*.test.yaml`.
    #[arg(value_name = "FILE_OR_DIR", required = true)]
    pub paths: Vec<PathBuf>,
    /// Rules file or directory to test, instead of each test file's `rules:`.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub rules: Option<PathBuf>,
    /// Let test files read `rules:` and `input_file`s outside their bundle (the test
    /// file's directory, or the parent of a `tests` directory).
    #[arg(long)]
    pub allow_outside_reads: bool,
    /// Output: `human` lines, or the whole report as JSON.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per test, what differed under each failure, a summary line.
    Human,
    /// The report as JSON on standard output.
    Json,
}

/// Run `acs test`; returns the exit code.
pub fn run(args: &Args, io: &mut Io<'_>) -> u8 {
    let report = match run_paths(&args.paths, args.rules.as_deref(), args.allow_outside_reads) {
        Ok(report) => report,
        Err(errors) => {
            for error in errors {
                let _ = writeln!(io.stderr, "{error}\n");
            }
            return EXIT_USAGE;
        }
    };
    let written = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(io.stdout, "{json}")),
        Format::Human => print_human(&report, io),
    };
    let code = if report.all_passed() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    };
    after_writing(written.and_then(|()| io.stdout.flush()), code, io.stderr)
}

fn print_human(report: &Report, io: &mut Io<'_>) -> std::io::Result<()> {
    let style = io.style;
    for file in &report.files {
        for test in &file.tests {
            let place = format!("{}:{}", test.location.file, test.location.line);
            if test.passed {
                if !style.quiet {
                    writeln!(
                        io.stdout,
                        "{}      {place}  {}",
                        style.good("ok"),
                        test.name
                    )?;
                }
                continue;
            }
            writeln!(
                io.stdout,
                "{}  {place}  {}",
                style.error("FAILED"),
                test.name
            )?;
            for difference in &test.differences {
                write!(io.stdout, "{}", describe(difference, &style))?;
            }
        }
    }
    let summary = format!("{} passed, {} failed", report.passed, report.failed);
    let summary = if report.all_passed() {
        style.good(&summary)
    } else {
        style.error(&summary)
    };
    writeln!(io.stdout, "\n{summary}")?;
    if !style.quiet {
        for coverage in &report.coverage {
            if coverage.uncovered.is_empty() {
                continue;
            }
            writeln!(
                io.stderr,
                "{}: {} of {} rule{} of `{}` {} not expected to match by any test: {}",
                style.warning("warning"),
                coverage.uncovered.len(),
                coverage.rule_count,
                if coverage.rule_count == 1 { "" } else { "s" },
                coverage.rules,
                if coverage.uncovered.len() == 1 {
                    "is"
                } else {
                    "are"
                },
                coverage.uncovered.join(", ")
            )?;
        }
    }
    Ok(())
}

const INDENT: &str = "        ";

fn ids(ids: &[String]) -> String {
    format!("[{}]", ids.join(", "))
}

fn or_none(value: Option<&String>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| format!("`{v}`"))
}

/// What differed, as indented lines under the FAILED line.
fn describe(difference: &Difference, style: &Style) -> String {
    let mut out = String::new();
    let label = |name: &str| style.bold(name);
    match difference {
        Difference::Matched {
            expected,
            actual,
            missing,
            unexpected,
        }
        | Difference::ShadowMatched {
            expected,
            actual,
            missing,
            unexpected,
        } => {
            let name = if matches!(difference, Difference::Matched { .. }) {
                "matched"
            } else {
                "shadow_matched"
            };
            let _ = writeln!(out, "{INDENT}{}", label(name));
            let _ = writeln!(out, "{INDENT}  expected:   {}", ids(expected));
            let _ = writeln!(out, "{INDENT}  actual:     {}", ids(actual));
            if !missing.is_empty() {
                let _ = writeln!(out, "{INDENT}  missing:    {}", missing.join(", "));
            }
            if !unexpected.is_empty() {
                let _ = writeln!(out, "{INDENT}  unexpected: {}", unexpected.join(", "));
            }
            if missing.is_empty() && unexpected.is_empty() {
                let _ = writeln!(out, "{INDENT}  (the same rules in another order)");
            }
        }
        Difference::MissingMatches { missing, actual } => {
            let _ = writeln!(
                out,
                "{INDENT}{}: {} did not match; matched {}",
                label("matched_includes"),
                missing.join(", "),
                ids(actual)
            );
        }
        Difference::UnexpectedMatches { unexpected, actual } => {
            let _ = writeln!(
                out,
                "{INDENT}{}: {} matched; matched {}",
                label("not_matched"),
                unexpected.join(", "),
                ids(actual)
            );
        }
        Difference::Verdict {
            expected,
            actual,
            rejected_by,
        } => {
            let by = rejected_by
                .as_ref()
                .map(|r| format!(" (by {r})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{INDENT}{}: expected {}, actual {}{by}",
                label("verdict"),
                expected.name(),
                actual.name()
            );
        }
        Difference::Code { expected, actual } => {
            let _ = writeln!(
                out,
                "{INDENT}{}: expected `{expected}`, actual {}",
                label("code"),
                or_none(actual.as_ref())
            );
        }
        Difference::RejectedBy { expected, actual } => {
            let _ = writeln!(
                out,
                "{INDENT}{}: expected `{expected}`, actual {}",
                label("rejected_by"),
                or_none(actual.as_ref())
            );
        }
        Difference::Errors {
            expected,
            missing,
            unexpected,
        } => {
            let _ = writeln!(out, "{INDENT}{}", label("errors"));
            let _ = writeln!(out, "{INDENT}  expected:   {}", ids(expected));
            if !missing.is_empty() {
                let _ = writeln!(
                    out,
                    "{INDENT}  missing:    {} (did not fail)",
                    missing.join(", ")
                );
            }
            for error in unexpected {
                let _ = writeln!(
                    out,
                    "{INDENT}  unexpected: {}: {}",
                    error.rule_id, error.message
                );
            }
        }
        Difference::RulesEvaluated { expected, actual } => {
            let _ = writeln!(
                out,
                "{INDENT}{}: expected {expected}, actual {actual}",
                label("rules_evaluated")
            );
        }
        Difference::Action {
            rule,
            action,
            expected,
            actual,
            rule_matched,
        } => {
            let name = label(&format!("actions.{rule}.{action}"));
            let _ = writeln!(out, "{INDENT}{name}");
            let _ = writeln!(out, "{INDENT}  expected:   {expected}");
            match actual {
                Some(actual) => {
                    let _ = writeln!(out, "{INDENT}  actual:     {actual}");
                }
                None if *rule_matched => {
                    let _ = writeln!(
                        out,
                        "{INDENT}  actual:     the rule has no `{action}` action"
                    );
                }
                None => {
                    let _ = writeln!(out, "{INDENT}  actual:     the rule did not match");
                }
            }
        }
        // A kind of difference this CLI does not know yet: its serialized form.
        other => {
            let text = serde_json::to_string(other).unwrap_or_else(|_| format!("{other:?}"));
            let _ = writeln!(out, "{INDENT}{text}");
        }
    }
    out
}
