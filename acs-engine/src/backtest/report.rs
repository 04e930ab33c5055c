//! The report a backtest hands back: counts per rule and per verdict, the comparison with
//! a baseline, and throughput, all serializable.

use serde::{Deserialize, Serialize};

use crate::decision::Verdict;
use crate::ruleset::RuleMode;
use crate::source::RulesetHash;

/// What a backtest found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BacktestReport {
    /// `sha256:<hex>` of the rules under test.
    pub ruleset_hash: RulesetHash,
    /// Lines read, blank and invalid ones included.
    pub lines: u64,
    /// Lines holding only whitespace: skipped, not errors.
    pub blank_lines: u64,
    /// Input documents evaluated (lines that are neither blank nor invalid).
    pub inputs: u64,
    /// Lines that are not a JSON document.
    pub invalid: InvalidLines,
    /// Every rule of the rule set under test, in evaluation order, zero counts included.
    pub rules: Vec<RuleCount>,
    /// Verdicts of the rule set under test.
    pub verdicts: VerdictCounts,
    /// Inputs for which at least one rule failed to evaluate.
    pub inputs_with_errors: u64,
    /// Inputs matched by at least one `mode: shadow` rule.
    pub inputs_with_shadow_matches: u64,
    /// The comparison with the baseline rule set, when there is one.
    pub baseline: Option<BaselineComparison>,
    /// How fast it went.
    pub throughput: Throughput,
}

/// Lines that are not a JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InvalidLines {
    /// How many.
    pub count: u64,
    /// The first few, by line number.
    pub examples: Vec<LineMessage>,
}

/// A message about one line of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineMessage {
    /// 1-based line number in the input.
    pub line: u64,
    /// What went wrong, one line.
    pub message: String,
}

/// The counts of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleCount {
    /// Rule id.
    pub id: String,
    /// `enforce` or `shadow` (a shadow rule's matches never decide a verdict).
    pub mode: RuleMode,
    /// Whether the rule is enabled (a disabled rule never matches).
    pub enabled: bool,
    /// Inputs the rule matched.
    pub matches: u64,
    /// `matches / inputs` (0 when there are no inputs).
    pub rate: f64,
    /// Inputs on which the rule failed to evaluate.
    pub errors: u64,
    /// The rule's error with the lowest line number.
    pub first_error: Option<LineMessage>,
}

/// How many inputs each verdict got.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerdictCounts {
    /// Inputs allowed.
    pub allowed: u64,
    /// Inputs rejected.
    pub rejected: u64,
    /// Rejections by rule and code, most frequent first.
    pub rejections: Vec<RejectionCount>,
    /// Rejections beyond the first [`MAX_REJECTION_KINDS`](super::MAX_REJECTION_KINDS) kinds.
    pub other_rejections: u64,
}

/// How many inputs one rule rejected with one code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RejectionCount {
    /// The rejecting rule.
    pub rule_id: String,
    /// The `code` of its `rejectRequest`.
    pub code: Option<String>,
    /// Inputs.
    pub count: u64,
}

/// What changes from the baseline rule set to the rule set under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BaselineComparison {
    /// `sha256:<hex>` of the baseline rules.
    pub ruleset_hash: RulesetHash,
    /// Verdicts of the baseline rule set.
    pub verdicts: VerdictCounts,
    /// Inputs for which at least one baseline rule failed to evaluate.
    pub inputs_with_errors: u64,
    /// Match counts before and after, for every rule of either set: the rules under test
    /// in their order, then the rules only the baseline has.
    pub rules: Vec<RuleChange>,
    /// Inputs whose matched rules (enforced or shadow) differ.
    pub inputs_with_changed_matches: u64,
    /// Inputs whose verdict differs (the sum of the three transitions).
    pub inputs_with_changed_verdict: u64,
    /// The verdict changes, by kind.
    pub transitions: Transitions,
}

/// A rule's match count in the baseline and in the rule set under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChange {
    /// Rule id.
    pub id: String,
    /// Matches under the baseline; `None` when the baseline has no such rule.
    pub before: Option<u64>,
    /// Matches under the rule set under test; `None` when it has no such rule.
    pub after: Option<u64>,
    /// `after - before`, a missing side counting as 0.
    pub change: i64,
}

/// The three ways a verdict can change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transitions {
    /// Allowed by the baseline, rejected now.
    pub allowed_to_rejected: Transition,
    /// Rejected by the baseline, allowed now.
    pub rejected_to_allowed: Transition,
    /// Rejected by both, with a different code.
    pub code_changed: Transition,
}

/// One kind of verdict change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transition {
    /// Inputs.
    pub count: u64,
    /// Inputs by code before and after, most frequent first.
    pub by_code: Vec<CodeChange>,
    /// The first few, by line number.
    pub examples: Vec<ChangeExample>,
}

/// How many inputs went from one code to another. A code is the rejection's `code` (or the
/// rejecting rule's id when it has none); `None` means allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeChange {
    /// Under the baseline.
    pub from: Option<String>,
    /// Under the rule set under test.
    pub to: Option<String>,
    /// Inputs.
    pub count: u64,
}

/// One input whose verdict changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChangeExample {
    /// 1-based line number in the input.
    pub line: u64,
    /// The baseline's decision.
    pub before: Outcome,
    /// The decision of the rule set under test.
    pub after: Outcome,
}

/// The parts of a decision an example shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Ids of the matched (enforced) rules, highest priority first.
    pub matched: Vec<String>,
}

/// How fast the backtest went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Throughput {
    /// Worker threads.
    pub threads: usize,
    /// Bytes of input read.
    pub bytes: u64,
    /// Wall-clock seconds, from start to report.
    pub elapsed_seconds: f64,
    /// Inputs evaluated per second.
    pub inputs_per_second: f64,
    /// Megabytes (10^6 bytes) of input per second.
    pub megabytes_per_second: f64,
}
