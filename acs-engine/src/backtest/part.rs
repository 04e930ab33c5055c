//! A backtest in parts, for hosts that spread the input over machines (Spark's
//! `mapInArrow` over the Python binding): each part counts the inputs it is given, with
//! line numbers of the caller's choosing, exactly as [`Backtest::run`] counts lines; parts
//! cross processes as JSON and merge into the report `run` would give for the same input
//! in the same order.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::source::RulesetHash;

use super::replay::RecordedCalls;
use super::report::BacktestReport;
use super::tally::{Index, Tally};
use super::workers::{Counters, Worker};
use super::Backtest;

/// The plans of one backtest, indexed once and shared by its parts.
struct Plans {
    current: Index,
    baseline: Option<Index>,
    examples: usize,
    done: Counters,
}

/// The counts of some of a backtest's inputs: made by [`Backtest::part`], filled one input
/// at a time, merged with [`BacktestPart::merge`], turned into the report by
/// [`Backtest::report`]. Memory does not grow with the inputs (a few examples per kind).
pub struct BacktestPart {
    plans: Arc<Plans>,
    tally: Tally,
    lines: u64,
    bytes: u64,
}

impl std::fmt::Debug for BacktestPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BacktestPart")
            .field("lines", &self.lines)
            .field("bytes", &self.bytes)
            .field("inputs", &self.tally.inputs)
            .finish_non_exhaustive()
    }
}

/// Why parts cannot be read or merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartError {
    /// The text is not a part.
    #[error("not a backtest part: {0}")]
    Malformed(String),
    /// The part counts other rules than this backtest's.
    #[error("the part counts the rules {found}, this backtest {expected}")]
    OtherRules {
        /// The rules of this backtest (`sha256:...`, and the baseline's after a `+`).
        expected: String,
        /// The rules the part counted.
        found: String,
    },
}

/// A part as it crosses processes.
#[derive(Serialize, Deserialize)]
struct Wire {
    ruleset_hash: RulesetHash,
    baseline_hash: Option<RulesetHash>,
    lines: u64,
    bytes: u64,
    tally: Tally,
}

impl Backtest {
    /// An empty part of this backtest, counting nothing yet.
    pub fn part(&self) -> BacktestPart {
        let current = Index::new(&self.plan);
        let baseline = self.baseline.as_ref().map(Index::new);
        let tally = Tally::new(&current, baseline.as_ref());
        BacktestPart {
            plans: Arc::new(Plans {
                current,
                baseline,
                examples: self.examples,
                done: Counters::default(),
            }),
            tally,
            lines: 0,
            bytes: 0,
        }
    }

    /// A part read back from [`BacktestPart::to_json`]; it must count this backtest's
    /// rules (and baseline).
    pub fn part_from_json(&self, json: &[u8]) -> Result<BacktestPart, PartError> {
        let wire: Wire =
            serde_json::from_slice(json).map_err(|e| PartError::Malformed(e.to_string()))?;
        let mut part = self.part();
        let theirs = rules_name(&wire.ruleset_hash, wire.baseline_hash.as_ref());
        let mine = part.rules_name();
        if theirs != mine {
            return Err(PartError::OtherRules {
                expected: mine,
                found: theirs,
            });
        }
        if !wire
            .tally
            .fits(&part.plans.current, part.plans.baseline.as_ref())
        {
            return Err(PartError::Malformed(
                "its counts do not fit the rules' number".to_owned(),
            ));
        }
        part.tally = wire.tally;
        part.lines = wire.lines;
        part.bytes = wire.bytes;
        Ok(part)
    }

    /// The report of the merged `parts` (see [`BacktestPart::merge`] for the line numbers
    /// each must carry), as [`Backtest::run`] reports: `threads` and `elapsed` are the
    /// throughput's, as the host measured them.
    pub fn report(
        &self,
        parts: impl IntoIterator<Item = BacktestPart>,
        threads: usize,
        elapsed: Duration,
    ) -> Result<BacktestReport, PartError> {
        let mut merged = self.part();
        for part in parts {
            merged.merge(part)?;
        }
        let BacktestPart {
            plans,
            tally,
            lines,
            bytes,
        } = merged;
        Ok(tally.report(
            &plans.current,
            plans.baseline.as_ref(),
            lines,
            bytes,
            threads,
            elapsed.as_secs_f64(),
        ))
    }
}

fn rules_name(current: &RulesetHash, baseline: Option<&RulesetHash>) -> String {
    match baseline {
        Some(baseline) => format!("{current}+{baseline}"),
        None => current.to_string(),
    }
}

impl Plans {
    fn worker(&self) -> Worker<'_> {
        Worker {
            current: &self.current,
            baseline: self.baseline.as_ref(),
            examples: self.examples,
            done: &self.done,
            timeline: None,
            #[cfg(feature = "audit")]
            recorder: None,
        }
    }
}

impl BacktestPart {
    fn rules_name(&self) -> String {
        rules_name(
            &self.plans.current.plan.ruleset_hash(),
            self.plans
                .baseline
                .as_ref()
                .map(|index| index.plan.ruleset_hash())
                .as_ref(),
        )
    }

    /// Count line `line` (1-based) of JSON-lines input, as [`Backtest::run`] counts it:
    /// blank, not a document (an invalid line, with its message), or decided. A trailing
    /// `\r` is dropped, and a byte-order mark on line 1.
    pub fn add_json(&mut self, line: u64, json: &[u8]) {
        self.add_json_counted(line, json, None);
    }

    /// [`BacktestPart::add_json`], velocity counts read from `counts` when given (see
    /// [`recorded_counts`](super::recorded_counts)): the counts a host's timeline of the
    /// whole input gave this line.
    pub fn add_json_counted(
        &mut self,
        line: u64,
        json: &[u8],
        counts: Option<&crate::velocity::SharedStore>,
    ) {
        self.lines += 1;
        self.bytes += json.len() as u64 + 1;
        self.plans
            .worker()
            .line(&mut self.tally, line, json, counts);
    }

    /// Count line `line` holding the input `document` (read by the host, from columns
    /// say), or `Err` with why there is none: counted as an invalid line with that message.
    /// With `calls`, every host call is answered from that recording (and `now()` reads
    /// the recorded instant, when there is one); a call it does not hold is its rule's
    /// error. The rules must then be loaded with
    /// [`Functions::answered_by_recording`](crate::Functions::answered_by_recording).
    /// With `counts` (see [`recorded_counts`](super::recorded_counts)), velocity counts
    /// are read there: the counts a host's timeline of the whole input gave this line.
    pub fn add_document(
        &mut self,
        line: u64,
        document: Result<&Value, &str>,
        calls: Option<(&RecordedCalls, Option<f64>)>,
        counts: Option<&crate::velocity::SharedStore>,
    ) {
        self.lines += 1;
        let worker = self.plans.worker();
        match document {
            Ok(input) => worker.document(&mut self.tally, line, input, calls, counts),
            Err(message) => worker.invalid(&mut self.tally, line, message.to_owned()),
        }
    }

    /// Count line `line` as not a document, with `message` saying why (a row whose
    /// recorded calls cannot be read, say).
    pub fn add_invalid(&mut self, line: u64, message: &str) {
        self.lines += 1;
        self.plans
            .worker()
            .invalid(&mut self.tally, line, message.to_owned());
    }

    /// Add `by` to every line number this part holds: a part counted with line numbers
    /// from 1 within its piece of the input becomes the piece at its place in the whole.
    pub fn shift_lines(&mut self, by: u64) {
        self.tally.shift_lines(by);
    }

    /// Add `other`'s counts to these. Counts add up; the examples kept are those with the
    /// lowest line numbers of both, so parts numbered by their place in the whole input
    /// merge, in any order, into the report `Backtest::run` gives for that input.
    pub fn merge(&mut self, other: BacktestPart) -> Result<(), PartError> {
        let (mine, theirs) = (self.rules_name(), other.rules_name());
        if mine != theirs {
            return Err(PartError::OtherRules {
                expected: mine,
                found: theirs,
            });
        }
        self.tally.merge(other.tally, self.plans.examples);
        self.lines += other.lines;
        self.bytes += other.bytes;
        Ok(())
    }

    /// Lines counted (blank and invalid ones included).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Input documents decided.
    pub fn inputs(&self) -> u64 {
        self.tally.inputs
    }

    /// The part as JSON, to cross to the process that merges; read back with
    /// [`Backtest::part_from_json`].
    pub fn to_json(&self) -> String {
        let wire = WireRef {
            ruleset_hash: self.plans.current.plan.ruleset_hash(),
            baseline_hash: self
                .plans
                .baseline
                .as_ref()
                .map(|index| index.plan.ruleset_hash()),
            lines: self.lines,
            bytes: self.bytes,
            tally: &self.tally,
        };
        // Counts, strings and decisions' verdicts only: nothing that can fail to serialize.
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

/// [`Wire`], borrowing the tally.
#[derive(Serialize)]
struct WireRef<'a> {
    ruleset_hash: RulesetHash,
    baseline_hash: Option<RulesetHash>,
    lines: u64,
    bytes: u64,
    tally: &'a Tally,
}
