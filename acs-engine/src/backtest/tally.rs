//! Exact counts: the tally each worker keeps, how tallies merge whatever the number of
//! threads, and how the merged tally becomes the report.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::decision::{Decision, RuleMatch, Verdict};
use crate::plan::Plan;
use crate::ruleset::RuleMode;
use crate::source::RulesetHash;

use super::report::{
    BacktestReport, BaselineComparison, ChangeExample, CodeChange, InvalidLines, LineMessage,
    Outcome, RejectionCount, RuleChange, RuleCount, Throughput, Transition, Transitions,
    VerdictCounts,
};
use super::MAX_REJECTION_KINDS;

/// A plan with its rules' positions by id: a rule's position is the slot of its counts in
/// a [`Side`].
pub(super) struct Index {
    pub(super) plan: Arc<Plan>,
    hash: RulesetHash,
    rules: Vec<RuleInfo>,
    positions: FxHashMap<Arc<str>, usize>,
}

struct RuleInfo {
    id: Arc<str>,
    mode: RuleMode,
    enabled: bool,
}

impl Index {
    pub(super) fn new(plan: &Arc<Plan>) -> Self {
        let rules: Vec<RuleInfo> = plan
            .rules
            .iter()
            .map(|rule| RuleInfo {
                id: rule.id.clone(),
                mode: if rule.shadow {
                    RuleMode::Shadow
                } else {
                    RuleMode::Enforce
                },
                enabled: plan.rule_enabled(&rule.id).unwrap_or(false),
            })
            .collect();
        let positions = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| (rule.id.clone(), i))
            .collect();
        Index {
            plan: plan.clone(),
            hash: plan.ruleset_hash(),
            rules,
            positions,
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.positions.get(id).copied()
    }
}

/// One worker's counts, and after merging, everyone's.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Tally {
    pub(super) inputs: u64,
    pub(super) blank: u64,
    pub(super) invalid: InvalidTally,
    pub(super) current: Side,
    pub(super) baseline: Option<Side>,
    pub(super) comparison: Option<Comparison>,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct InvalidTally {
    pub(super) count: u64,
    pub(super) examples: Examples<LineMessage>,
}

impl InvalidTally {
    /// Add the lines the reader found too long.
    pub(super) fn merge(&mut self, oversized: Examples<LineMessage>, keep: usize) {
        self.count += oversized.items.len() as u64;
        self.examples.merge(oversized, keep);
    }
}

impl Tally {
    pub(super) fn new(current: &Index, baseline: Option<&Index>) -> Self {
        Tally {
            inputs: 0,
            blank: 0,
            invalid: InvalidTally::default(),
            current: Side::new(current),
            baseline: baseline.map(Side::new),
            comparison: baseline.map(|_| Comparison::default()),
        }
    }

    pub(super) fn merge(&mut self, other: Tally, keep: usize) {
        self.inputs += other.inputs;
        self.blank += other.blank;
        self.invalid.count += other.invalid.count;
        self.invalid.examples.merge(other.invalid.examples, keep);
        self.current.merge(other.current);
        if let (Some(mine), Some(theirs)) = (self.baseline.as_mut(), other.baseline) {
            mine.merge(theirs);
        }
        if let (Some(mine), Some(theirs)) = (self.comparison.as_mut(), other.comparison) {
            mine.merge(theirs, keep);
        }
    }

    /// Whether a tally read from elsewhere has a count for each rule of these plans.
    pub(super) fn fits(&self, current: &Index, baseline: Option<&Index>) -> bool {
        self.current.rules.len() == current.rules.len()
            && match (&self.baseline, baseline, &self.comparison) {
                (Some(side), Some(index), Some(_)) => side.rules.len() == index.rules.len(),
                (None, None, None) => true,
                _ => false,
            }
    }

    /// Add `by` to every line number held (examples, first errors).
    pub(super) fn shift_lines(&mut self, by: u64) {
        self.invalid.examples.shift_lines(by);
        for side in std::iter::once(&mut self.current).chain(self.baseline.as_mut()) {
            for rule in &mut side.rules {
                if let Some(error) = &mut rule.first_error {
                    error.shift_line(by);
                }
            }
        }
        for transition in self.comparison.iter_mut().flat_map(|c| &mut c.transitions) {
            transition.examples.shift_lines(by);
        }
    }

    /// The report of the merged tally; `lines` and `bytes` are what the reader read.
    pub(super) fn report(
        self,
        current: &Index,
        baseline: Option<&Index>,
        lines: u64,
        bytes: u64,
        threads: usize,
        elapsed: f64,
    ) -> BacktestReport {
        let Tally {
            inputs,
            blank,
            invalid,
            current: now,
            baseline: before,
            comparison,
        } = self;
        let per_second = |n: f64| if elapsed > 0.0 { n / elapsed } else { 0.0 };
        let rules = current
            .rules
            .iter()
            .zip(&now.rules)
            .map(|(rule, counts)| RuleCount {
                id: rule.id.to_string(),
                mode: rule.mode,
                enabled: rule.enabled,
                matches: counts.matches,
                rate: if inputs > 0 {
                    counts.matches as f64 / inputs as f64
                } else {
                    0.0
                },
                errors: counts.errors,
                first_error: counts.first_error.clone(),
            })
            .collect();
        let baseline = match (baseline, before, comparison) {
            (Some(index), Some(before), Some(comparison)) => Some(BaselineComparison {
                ruleset_hash: index.hash,
                verdicts: before.verdicts.report(),
                inputs_with_errors: before.inputs_with_errors,
                rules: rule_changes(current, &now, index, &before),
                inputs_with_changed_matches: comparison.changed_matches,
                inputs_with_changed_verdict: comparison.transitions.iter().map(|t| t.count).sum(),
                transitions: {
                    let [allowed_to_rejected, rejected_to_allowed, code_changed] =
                        comparison.transitions.map(TransitionTally::report);
                    Transitions {
                        allowed_to_rejected,
                        rejected_to_allowed,
                        code_changed,
                    }
                },
            }),
            _ => None,
        };
        BacktestReport {
            ruleset_hash: current.hash,
            lines,
            blank_lines: blank,
            inputs,
            invalid: InvalidLines {
                count: invalid.count,
                examples: invalid.examples.into_sorted(),
            },
            rules,
            verdicts: now.verdicts.report(),
            inputs_with_errors: now.inputs_with_errors,
            inputs_with_shadow_matches: now.inputs_with_shadow_matches,
            baseline,
            throughput: Throughput {
                threads,
                bytes,
                elapsed_seconds: elapsed,
                inputs_per_second: per_second(inputs as f64),
                megabytes_per_second: per_second(bytes as f64 / 1e6),
            },
        }
    }
}

fn rule_changes(current: &Index, now: &Side, baseline: &Index, before: &Side) -> Vec<RuleChange> {
    let change = |id: &Arc<str>, before: Option<u64>, after: Option<u64>| {
        let delta = i128::from(after.unwrap_or(0)) - i128::from(before.unwrap_or(0));
        RuleChange {
            id: id.to_string(),
            before,
            after,
            change: i64::try_from(delta).unwrap_or(if delta < 0 { i64::MIN } else { i64::MAX }),
        }
    };
    let mut changes: Vec<RuleChange> = current
        .rules
        .iter()
        .zip(&now.rules)
        .map(|(rule, counts)| {
            let before = baseline
                .position(&rule.id)
                .and_then(|i| before.rules.get(i))
                .map(|c| c.matches);
            change(&rule.id, before, Some(counts.matches))
        })
        .collect();
    changes.extend(
        baseline
            .rules
            .iter()
            .zip(&before.rules)
            .filter(|(rule, _)| current.position(&rule.id).is_none())
            .map(|(rule, counts)| change(&rule.id, Some(counts.matches), None)),
    );
    changes
}

/// Counts of one rule set.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Side {
    rules: Vec<RuleTally>,
    verdicts: VerdictTally,
    inputs_with_errors: u64,
    inputs_with_shadow_matches: u64,
}

#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
struct RuleTally {
    matches: u64,
    errors: u64,
    first_error: Option<LineMessage>,
}

impl Side {
    fn new(index: &Index) -> Self {
        Side {
            rules: vec![RuleTally::default(); index.rules.len()],
            verdicts: VerdictTally::default(),
            inputs_with_errors: 0,
            inputs_with_shadow_matches: 0,
        }
    }

    pub(super) fn record(&mut self, index: &Index, decision: &Decision, line: u64) {
        for matched in decision.matched.iter().chain(&decision.shadow_matched) {
            if let Some(rule) = index
                .position(matched.id())
                .and_then(|i| self.rules.get_mut(i))
            {
                rule.matches += 1;
            }
        }
        for error in &decision.errors {
            if let Some(rule) = index
                .position(&error.rule_id)
                .and_then(|i| self.rules.get_mut(i))
            {
                rule.errors += 1;
                if rule.first_error.as_ref().is_none_or(|e| line < e.line) {
                    rule.first_error = Some(LineMessage {
                        line,
                        message: error.message.clone(),
                    });
                }
            }
        }
        self.inputs_with_errors += u64::from(!decision.errors.is_empty());
        self.inputs_with_shadow_matches += u64::from(!decision.shadow_matched.is_empty());
        self.verdicts.record(&decision.verdict);
    }

    fn merge(&mut self, other: Side) {
        for (mine, theirs) in self.rules.iter_mut().zip(other.rules) {
            mine.matches += theirs.matches;
            mine.errors += theirs.errors;
            if let Some(error) = theirs.first_error {
                if mine
                    .first_error
                    .as_ref()
                    .is_none_or(|e| error.line < e.line)
                {
                    mine.first_error = Some(error);
                }
            }
        }
        self.verdicts.merge(other.verdicts);
        self.inputs_with_errors += other.inputs_with_errors;
        self.inputs_with_shadow_matches += other.inputs_with_shadow_matches;
    }
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct VerdictTally {
    allowed: u64,
    rejected: u64,
    rejections: CappedCounts<(Arc<str>, Option<Arc<str>>)>,
}

impl VerdictTally {
    fn record(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Allowed => self.allowed += 1,
            Verdict::Rejected(rejection) => {
                self.rejected += 1;
                self.rejections.add(
                    (rejection.rule_id().into(), rejection.code().map(Arc::from)),
                    1,
                );
            }
        }
    }

    fn merge(&mut self, other: VerdictTally) {
        self.allowed += other.allowed;
        self.rejected += other.rejected;
        self.rejections.merge(other.rejections);
    }

    fn report(&self) -> VerdictCounts {
        VerdictCounts {
            allowed: self.allowed,
            rejected: self.rejected,
            rejections: self
                .rejections
                .sorted()
                .into_iter()
                .map(|((rule_id, code), count)| RejectionCount {
                    rule_id: rule_id.to_string(),
                    code: code.as_deref().map(str::to_owned),
                    count,
                })
                .collect(),
            other_rejections: self.rejections.other,
        }
    }
}

/// Verdict changes between the baseline and the rule set under test.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Comparison {
    changed_matches: u64,
    /// Allowed to rejected, rejected to allowed, code changed.
    transitions: [TransitionTally; 3],
}

impl Comparison {
    pub(super) fn record(&mut self, before: &Decision, after: &Decision, line: u64, keep: usize) {
        fn ids(d: &Decision) -> Vec<&str> {
            d.matched
                .iter()
                .chain(&d.shadow_matched)
                .map(RuleMatch::id)
                .collect()
        }
        let same_matches = before.matched.len() == after.matched.len()
            && before.shadow_matched.len() == after.shadow_matched.len()
            && ids(before) == ids(after);
        self.changed_matches += u64::from(!same_matches);
        let from = verdict_code(&before.verdict);
        let to = verdict_code(&after.verdict);
        let kind = match (&from, &to) {
            (None, Some(_)) => 0,
            (Some(_), None) => 1,
            (Some(a), Some(b)) if a != b => 2,
            _ => return,
        };
        if let Some(transition) = self.transitions.get_mut(kind) {
            transition.count += 1;
            transition.by_code.add((from, to), 1);
            transition.examples.record(line, keep, || ChangeExample {
                line,
                before: outcome(before),
                after: outcome(after),
            });
        }
    }

    fn merge(&mut self, other: Comparison, keep: usize) {
        self.changed_matches += other.changed_matches;
        for (mine, theirs) in self.transitions.iter_mut().zip(other.transitions) {
            mine.count += theirs.count;
            mine.by_code.merge(theirs.by_code);
            mine.examples.merge(theirs.examples, keep);
        }
    }
}

/// What identifies a rejection to the host: its code, or the rule when it has none.
fn verdict_code(verdict: &Verdict) -> Option<Arc<str>> {
    match verdict {
        Verdict::Allowed => None,
        Verdict::Rejected(rejection) => {
            Some(Arc::from(rejection.code().unwrap_or(rejection.rule_id())))
        }
    }
}

fn outcome(decision: &Decision) -> Outcome {
    Outcome {
        verdict: decision.verdict.clone(),
        matched: decision.matched.iter().map(|m| m.id().to_owned()).collect(),
    }
}

/// Code before and after (`None`: allowed).
type CodePair = (Option<Arc<str>>, Option<Arc<str>>);

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct TransitionTally {
    count: u64,
    by_code: CappedCounts<CodePair>,
    examples: Examples<ChangeExample>,
}

impl TransitionTally {
    fn report(self) -> Transition {
        Transition {
            count: self.count,
            by_code: self
                .by_code
                .sorted()
                .into_iter()
                .map(|((from, to), count)| CodeChange {
                    from: from.as_deref().map(str::to_owned),
                    to: to.as_deref().map(str::to_owned),
                    count,
                })
                .collect(),
            examples: self.examples.into_sorted(),
        }
    }
}

/// Counts per key for at most [`MAX_REJECTION_KINDS`] keys; the rest go to `other`.
/// Serialized as a list of `[key, count]` pairs, since its keys are not strings.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "K: serde::Serialize",
    deserialize = "K: serde::Deserialize<'de> + Hash + Eq"
))]
struct CappedCounts<K> {
    #[serde(with = "pairs")]
    counts: HashMap<K, u64>,
    other: u64,
}

impl<K> Default for CappedCounts<K> {
    fn default() -> Self {
        CappedCounts {
            counts: HashMap::new(),
            other: 0,
        }
    }
}

impl<K: Hash + Eq + Ord + Clone> CappedCounts<K> {
    fn add(&mut self, key: K, count: u64) {
        if let Some(n) = self.counts.get_mut(&key) {
            *n += count;
        } else if self.counts.len() < MAX_REJECTION_KINDS {
            self.counts.insert(key, count);
        } else {
            self.other += count;
        }
    }

    fn merge(&mut self, other: CappedCounts<K>) {
        self.other += other.other;
        for (key, count) in other.counts {
            self.add(key, count);
        }
    }

    /// Most frequent first, then by key, so the order does not depend on threads.
    fn sorted(&self) -> Vec<(K, u64)> {
        let mut counts: Vec<(K, u64)> = self.counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    }
}

/// The examples with the lowest line numbers seen so far, at most `keep` of them.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Examples<T> {
    items: Vec<(u64, T)>,
}

impl<T> Default for Examples<T> {
    fn default() -> Self {
        Examples { items: Vec::new() }
    }
}

/// An example that names its line.
pub(super) trait Lined {
    fn shift_line(&mut self, by: u64);
}

impl Lined for LineMessage {
    fn shift_line(&mut self, by: u64) {
        self.line += by;
    }
}

impl Lined for ChangeExample {
    fn shift_line(&mut self, by: u64) {
        self.line += by;
    }
}

impl<T: Lined> Examples<T> {
    /// Add `by` to every line number held: the examples' keys and their own `line`.
    fn shift_lines(&mut self, by: u64) {
        for (line, item) in &mut self.items {
            *line += by;
            item.shift_line(by);
        }
    }
}

impl<T> Examples<T> {
    /// Keep the example of `line` if it is among the `keep` lowest; `make` runs only then.
    pub(super) fn record(&mut self, line: u64, keep: usize, make: impl FnOnce() -> T) {
        if self.items.len() < keep {
            self.items.push((line, make()));
            return;
        }
        let highest = self
            .items
            .iter_mut()
            .max_by_key(|(l, _)| *l)
            .filter(|(l, _)| line < *l);
        if let Some(slot) = highest {
            *slot = (line, make());
        }
    }

    fn merge(&mut self, other: Examples<T>, keep: usize) {
        for (line, item) in other.items {
            self.record(line, keep, || item);
        }
    }

    fn into_sorted(mut self) -> Vec<T> {
        self.items.sort_by_key(|(line, _)| *line);
        self.items.into_iter().map(|(_, item)| item).collect()
    }
}

/// A map with keys that are not strings, as a list of `[key, value]` pairs.
mod pairs {
    use std::collections::HashMap;
    use std::hash::Hash;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<K: Serialize, S: Serializer>(
        map: &HashMap<K, u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub(super) fn deserialize<'de, K, D>(deserializer: D) -> Result<HashMap<K, u64>, D::Error>
    where
        K: Deserialize<'de> + Hash + Eq,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, u64)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}
