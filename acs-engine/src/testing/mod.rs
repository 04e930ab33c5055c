//! Rule test files: inputs with function stubs and the expected matches and verdict, run
//! against a rule set, with every difference between what a test expected and what the
//! engine decided, and which files a host runs as rule tests ([`find_test_files`]). The
//! format is documented in `rules/README.md` ("Rule tests").

mod check;
mod discover;
mod parse;
mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::compile;
use crate::decision::{Decision, RuleError};
use crate::diagnostic::Diagnostic;
use crate::engine::{read_sources, LoadError, RulesSource};
use crate::functions::Functions;
use crate::limits::{Limits, ReadError};
use crate::ruleset::{load_rule_set, suggest_name, RuleSet};
use crate::source::{Location, SourceMap, Span};

pub use discover::{
    find_test_files, is_test_file_name, test_files_at, FindTestFilesError, FoundTestFiles,
    MAX_TEST_DIR_DEPTH,
};
pub use parse::{EXPECT_KEYS, TEST_FILE_KEYS, TEST_KEYS};
pub use run::run_paths;

/// Largest rule test file accepted, in bytes (an `input_file` is an input: at most
/// `Limits::max_input_bytes`).
pub const MAX_TEST_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// What a rule test file may read besides itself: its `rules:` and `input_file`s.
///
/// By default both must lie in the test file's **bundle**: the test file's directory, or
/// its parent when that directory is called `tests` (a bundle keeps its tests in
/// `tests/`, see `rules/README.md`), checked after `..` and symbolic links are resolved.
/// So a test file from elsewhere cannot read `/etc/shadow` or `../../secrets.json` into
/// a report. Whatever the policy, only a regular file (or, for `rules:`, a directory) is
/// read: never a FIFO, socket or device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadPolicy {
    /// Read `rules:` and `input_file`s wherever they are.
    pub allow_outside: bool,
}

impl ReadPolicy {
    /// This policy, reading outside the bundle or not.
    pub fn allowing_outside(mut self, allow: bool) -> ReadPolicy {
        self.allow_outside = allow;
        self
    }
}

/// A parsed rule test file.
#[derive(Debug)]
pub struct TestFile {
    /// The name shown in results and diagnostics (usually the path).
    pub name: String,
    /// The `rules:` key, resolved against the test file's directory.
    pub rules: Option<PathBuf>,
    /// The tests, in file order.
    pub tests: Vec<TestCase>,
    /// The test file's text, so later diagnostics (unknown rule ids) can point into it.
    sources: Arc<SourceMap>,
    /// Every rule id an expectation names, with where it is written.
    rule_refs: Vec<(String, Span)>,
}

/// One test: an input, the stubs it runs with, and what it expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// What the test shows, as written.
    pub name: String,
    /// Where the test starts in its file.
    pub location: Location,
    /// The input document: `input_defaults`, then `input_file`, then `input`, merged.
    pub input: Value,
    /// The stub table the test runs with: the file's `functions`, with the test's own
    /// table for a function replacing the file's table for that function.
    pub functions: Value,
    /// What the decision must show.
    pub expect: Expectation,
}

/// What a test expects of the decision. Every field left out is not checked, except
/// `errors`: a test fails on any rule error it does not list, since an erroring rule does
/// not match and would otherwise pass a "does not match" test for the wrong reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Expectation {
    /// Exactly these rules match, in this order (highest priority first).
    pub matched: Option<Vec<String>>,
    /// These rules are among the matches (in any order).
    pub matched_includes: Vec<String>,
    /// None of these rules matches.
    pub not_matched: Vec<String>,
    /// The verdict.
    pub verdict: Option<VerdictKind>,
    /// The rejection code (implies a rejection).
    pub code: Option<String>,
    /// The rule whose `rejectRequest` decides (implies a rejection).
    pub rejected_by: Option<String>,
    /// Exactly these `mode: shadow` rules match, in this order.
    pub shadow_matched: Option<Vec<String>>,
    /// Exactly these rules fail at run time (in any order).
    pub errors: Vec<String>,
    /// How many rules the event's type selects for evaluation.
    pub rules_evaluated: Option<u32>,
    /// Rendered parameters that matched rules' actions must carry.
    pub actions: Vec<ActionExpectation>,
}

/// `actions: { RULE: { actionName: { param: value } } }`: the first `actionName` action of
/// the matched rule `RULE` has these parameters. Objects are compared key by key (the
/// actual one may have more keys); anything else must be equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionExpectation {
    /// The rule id.
    pub rule: String,
    /// The action name, e.g. `rejectRequest`.
    pub action: String,
    /// The parameters it must carry.
    pub params: Value,
}

/// A verdict without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// No matched rule rejects.
    Allowed,
    /// A matched rule's `rejectRequest` rejects.
    Rejected,
}

impl VerdictKind {
    /// The spelling used in test files.
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Allowed => "allowed",
            VerdictKind::Rejected => "rejected",
        }
    }
}

/// One way a decision differs from a test's expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Difference {
    /// `matched`: other rules matched, or the same rules in another order (when `missing`
    /// and `unexpected` are both empty).
    Matched {
        /// The expected ids, in order.
        expected: Vec<String>,
        /// The matched ids, in order.
        actual: Vec<String>,
        /// Expected ids that did not match.
        missing: Vec<String>,
        /// Matched ids that were not expected.
        unexpected: Vec<String>,
    },
    /// `matched_includes`: some of these rules did not match.
    MissingMatches {
        /// The ids that did not match.
        missing: Vec<String>,
        /// The matched ids, in order.
        actual: Vec<String>,
    },
    /// `not_matched`: some of these rules matched.
    UnexpectedMatches {
        /// The ids that matched.
        unexpected: Vec<String>,
        /// The matched ids, in order.
        actual: Vec<String>,
    },
    /// `verdict`.
    Verdict {
        /// The expected verdict.
        expected: VerdictKind,
        /// The verdict.
        actual: VerdictKind,
        /// The rule that rejected, when one did.
        rejected_by: Option<String>,
    },
    /// `code`.
    Code {
        /// The expected code.
        expected: String,
        /// The verdict's code (none when allowed).
        actual: Option<String>,
    },
    /// `rejected_by`.
    RejectedBy {
        /// The expected rule.
        expected: String,
        /// The rule that rejected (none when allowed).
        actual: Option<String>,
    },
    /// `shadow_matched`.
    ShadowMatched {
        /// The expected ids, in order.
        expected: Vec<String>,
        /// The shadow-matched ids, in order.
        actual: Vec<String>,
        /// Expected ids that did not match.
        missing: Vec<String>,
        /// Shadow-matched ids that were not expected.
        unexpected: Vec<String>,
    },
    /// `errors`: other rules failed than expected.
    Errors {
        /// The rules expected to fail.
        expected: Vec<String>,
        /// Expected to fail but did not.
        missing: Vec<String>,
        /// Failed without being expected to, with what went wrong.
        unexpected: Vec<RuleError>,
    },
    /// `rules_evaluated`.
    RulesEvaluated {
        /// The expected count.
        expected: u32,
        /// How many rules were evaluated.
        actual: u32,
    },
    /// `actions`: an action is missing or its parameters differ.
    Action {
        /// The rule id.
        rule: String,
        /// The action name.
        action: String,
        /// The parameters expected.
        expected: Value,
        /// The action's rendered parameters; none when the rule did not match or has no
        /// such action.
        actual: Option<Value>,
        /// Whether the rule matched (enforced or shadow).
        rule_matched: bool,
    },
}

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// Where the test starts.
    pub location: Location,
    /// Whether the decision showed everything the test expected.
    pub passed: bool,
    /// What differed (empty when passed).
    pub differences: Vec<Difference>,
    /// The decision the test was checked against.
    pub decision: Decision,
}

/// The outcome of one test file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileReport {
    /// The test file.
    pub file: String,
    /// The rules it ran against.
    pub rules: String,
    /// One result per test, in file order.
    pub tests: Vec<TestResult>,
    /// How many tests passed.
    pub passed: usize,
    /// How many tests failed.
    pub failed: usize,
}

/// Which rules of a bundle no test expects to match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Coverage {
    /// The rules bundle.
    pub rules: String,
    /// How many rules the bundle has.
    pub rule_count: usize,
    /// Rules no test lists in `matched`, `matched_includes` or `shadow_matched`, in
    /// priority order.
    pub uncovered: Vec<String>,
}

/// The outcome of a whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// One report per test file, in the order given.
    pub files: Vec<FileReport>,
    /// Tests passed, over all files.
    pub passed: usize,
    /// Tests failed, over all files.
    pub failed: usize,
    /// Per rules bundle, the rules no test expects to match.
    pub coverage: Vec<Coverage>,
}

impl Report {
    /// Whether every test passed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

/// Why a test file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestFileError {
    /// The file could not be read.
    #[error("cannot read `{}`: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// The file has errors; every one found is listed.
    #[error("{}", Diagnostic::render_all(diagnostics))]
    Invalid {
        /// The diagnostics.
        diagnostics: Vec<Diagnostic>,
    },
}

impl TestFileError {
    /// The diagnostics behind the error (one synthesised for I/O errors).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            TestFileError::Io { path, message } => {
                vec![
                    Diagnostic::error("ACS500", format!("cannot read test file: {message}"))
                        .in_file(&path.display().to_string()),
                ]
            }
            TestFileError::Invalid { diagnostics } => diagnostics.clone(),
        }
    }
}

impl TestFile {
    /// Read and parse a test file; `rules:` and `input_file:` are relative to its
    /// directory, and read under the default [`ReadPolicy`] (within its bundle).
    pub fn read(path: &Path) -> Result<TestFile, TestFileError> {
        TestFile::read_with(path, &ReadPolicy::default())
    }

    /// [`TestFile::read`] under `policy`.
    pub fn read_with(path: &Path, policy: &ReadPolicy) -> Result<TestFile, TestFileError> {
        let text = read_text(path, MAX_TEST_FILE_BYTES).map_err(|message| TestFileError::Io {
            path: path.to_owned(),
            message,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new(""));
        TestFile::parse_with(&path.display().to_string(), &text, base, policy)
            .map_err(|diagnostics| TestFileError::Invalid { diagnostics })
    }

    /// Parse a test file's text; `name` is shown in diagnostics, and `rules:` and
    /// `input_file:` are resolved against `base_dir`, under the default [`ReadPolicy`].
    /// Returns every error found.
    pub fn parse(name: &str, text: &str, base_dir: &Path) -> Result<TestFile, Vec<Diagnostic>> {
        TestFile::parse_with(name, text, base_dir, &ReadPolicy::default())
    }

    /// [`TestFile::parse`] under `policy`.
    pub fn parse_with(
        name: &str,
        text: &str,
        base_dir: &Path,
        policy: &ReadPolicy,
    ) -> Result<TestFile, Vec<Diagnostic>> {
        parse::parse(name, text, base_dir, policy)
    }

    /// Rule ids the expectations name that `rules` does not have, each as an error at
    /// the place it is written, with the nearest known id as a hint.
    pub fn check_rule_ids(&self, rules: &TestBundle) -> Vec<Diagnostic> {
        let known: Vec<&str> = rules.rule_ids().collect();
        self.rule_refs
            .iter()
            .filter(|(id, _)| !known.contains(&id.as_str()))
            .map(|(id, span)| {
                let diagnostic = Diagnostic::error("ACS507", format!("unknown rule `{id}`"))
                    .at(&self.sources, *span);
                match suggest_name(id, &known) {
                    Some(near) => diagnostic.with_help(format!("did you mean `{near}`?")),
                    None => {
                        diagnostic.with_help(format!("`{}` has no rule of that id", rules.name()))
                    }
                }
            })
            .collect()
    }

    /// Run every test against `rules`. `Err` holds the diagnostics when an expectation
    /// names a rule the bundle does not have, or the rules fail to compile with a test's
    /// stubs.
    pub fn run(&self, rules: &TestBundle) -> Result<FileReport, Vec<Diagnostic>> {
        let unknown = self.check_rule_ids(rules);
        if !unknown.is_empty() {
            return Err(unknown);
        }
        let mut tests = Vec::with_capacity(self.tests.len());
        for test in &self.tests {
            let decision = rules
                .evaluate(&test.functions, &test.input)
                .map_err(|diagnostics| {
                    diagnostics
                        .into_iter()
                        .map(|mut d| {
                            d.location.get_or_insert_with(|| test.location.clone());
                            d
                        })
                        .collect::<Vec<_>>()
                })?;
            let differences = check::differences(&test.expect, &decision);
            tests.push(TestResult {
                name: test.name.clone(),
                location: test.location.clone(),
                passed: differences.is_empty(),
                differences,
                decision,
            });
        }
        let passed = tests.iter().filter(|t| t.passed).count();
        Ok(FileReport {
            file: self.name.clone(),
            rules: rules.name().to_owned(),
            failed: tests.len() - passed,
            passed,
            tests,
        })
    }
}

/// A rules bundle loaded once for testing: each test compiles it with its own stubs, so
/// the files are read once and every test sees the same rules.
#[derive(Debug)]
pub struct TestBundle {
    name: String,
    rule_set: RuleSet,
    /// Rule ids in priority order (the order decisions report them).
    ids: Vec<String>,
}

impl TestBundle {
    /// Read a rules file or directory and check it loads and compiles.
    pub fn load(source: &RulesSource) -> Result<TestBundle, LoadError> {
        let name = source.describe();
        let sources = read_sources(source)?;
        let (rule_set, mut diagnostics) = load_rule_set(sources);
        // Without stubs every host call is unregistered: a warning, never an error, so
        // this finds exactly the errors that do not depend on the functions.
        let compiled = compile(&rule_set, &Functions::new(), &Limits::default());
        if let Err(errors) = &compiled {
            diagnostics.extend(errors.iter().cloned());
        }
        if diagnostics.iter().any(Diagnostic::is_error) {
            diagnostics.retain(Diagnostic::is_error);
            return Err(LoadError::Invalid { diagnostics });
        }
        let ids = match compiled {
            Ok((plan, _)) => plan.rule_ids().map(str::to_owned).collect(),
            Err(_) => Vec::new(),
        };
        Ok(TestBundle {
            name,
            rule_set,
            ids,
        })
    }

    /// The bundle's name (its path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rule ids, highest priority first.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// Evaluate `input` with host functions answered from the stub table `stubs`.
    /// `Err` holds the diagnostics of a malformed stub table or of rules that do not
    /// compile with these functions.
    pub fn evaluate(&self, stubs: &Value, input: &Value) -> Result<Decision, Vec<Diagnostic>> {
        let functions = Functions::from_stubs(stubs)
            .map_err(|e| vec![Diagnostic::error("ACS506", e.to_string())])?;
        let (plan, _) = compile(&self.rule_set, &functions, &Limits::default())?;
        Ok(crate::eval::evaluate(&plan, input))
    }
}

/// Run each test file against its rules bundle and sum up, with coverage per bundle (a
/// rule counts as covered when any file run against that bundle expects it to match).
pub fn run_all(runs: &[(&TestFile, &TestBundle)]) -> Result<Report, Vec<Diagnostic>> {
    let mut files = Vec::with_capacity(runs.len());
    let mut problems = Vec::new();
    for (file, rules) in runs {
        match file.run(rules) {
            Ok(report) => files.push(report),
            Err(diagnostics) => problems.extend(diagnostics),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Bundles in first-use order; BTreeMap only to collect the covered ids per bundle.
    let mut bundles: Vec<&TestBundle> = Vec::new();
    let mut covered: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (file, rules) in runs {
        if !bundles.iter().any(|b| b.name() == rules.name()) {
            bundles.push(rules);
        }
        covered
            .entry(rules.name())
            .or_default()
            .extend(file.tests.iter().flat_map(|t| t.expect.expected_matches()));
    }
    let coverage = bundles
        .iter()
        .map(|rules| {
            let covered = covered.get(rules.name()).map_or(&[][..], Vec::as_slice);
            Coverage {
                rules: rules.name().to_owned(),
                rule_count: rules.ids.len(),
                uncovered: rules
                    .rule_ids()
                    .filter(|id| !covered.contains(id))
                    .map(str::to_owned)
                    .collect(),
            }
        })
        .collect();
    let passed = files.iter().map(|f| f.passed).sum();
    let failed = files.iter().map(|f| f.failed).sum();
    Ok(Report {
        files,
        passed,
        failed,
        coverage,
    })
}

impl Expectation {
    /// The ids this expectation says match (enforced or shadow).
    pub fn expected_matches(&self) -> impl Iterator<Item = &str> {
        self.matched
            .iter()
            .flatten()
            .chain(&self.matched_includes)
            .chain(self.shadow_matched.iter().flatten())
            .map(String::as_str)
    }
}

/// Read a regular UTF-8 file of at most `limit` bytes ([`crate::limits::read_file`]: the
/// type checked before opening, the read stopped past the limit); the error is one line.
fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = crate::limits::read_file(path, limit).map_err(|e| match e {
        ReadError::TooLarge { limit } => {
            format!("the file is more than the limit of {limit} bytes")
        }
        other => other.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "the file is not UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}
