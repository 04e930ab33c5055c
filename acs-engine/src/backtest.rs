//! Backtests: replay recorded inputs (JSON lines) through a plan, and optionally a baseline
//! plan, on every core; aggregate per-rule counts, verdicts, verdict changes and throughput
//! in memory that does not grow with the input.
//!
//! ```
//! use acs_engine::backtest::Backtest;
//! use acs_engine::Engine;
//!
//! let rules = r#"
//! - id: BIG_BID
//!   priority: 10
//!   severity: high
//!   description: Reject bids over the limit
//!   condition: "event.type == 'bid.create' && bid.amount > 1000"
//!   action:
//!     - rejectRequest: { code: BID_TOO_BIG, message: "bid over the limit" }
//!   audit: false
//! "#;
//! let engine = Engine::builder().load_str("rules.yaml", rules)?;
//! let events = concat!(
//!     r#"{"event": {"type": "bid.create", "bid": {"amount": 5000}}}"#, "\n",
//!     r#"{"event": {"type": "bid.create", "bid": {"amount": 10}}}"#, "\n",
//!     "\n",
//!     "not json\n",
//! );
//! let report = Backtest::new(&engine).threads(2).run(events.as_bytes(), |_progress| {})?;
//! assert_eq!(report.inputs, 2);
//! assert_eq!(report.rules[0].matches, 1);
//! assert_eq!(report.verdicts.rejected, 1);
//! assert_eq!(report.invalid.examples[0].line, 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The calling thread reads the input into batches of about [`DEFAULT_BATCH_BYTES`] and
//! hands them over a bounded channel to the worker threads, which evaluate each line and
//! keep their own counts; the counts are merged when the input ends. Memory is bounded by
//! (channel capacity + workers) × batch size, plus a few examples: it does not depend on
//! the input's size. Every count is exact and the same whatever the number of threads;
//! examples are the ones with the lowest line numbers.

use std::collections::HashMap;
use std::hash::Hash;
use std::io::{self, BufRead};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::decision::{Decision, RuleMatch, Verdict};
use crate::engine::{evaluate_bytes, parse_input, Engine, InputError};
use crate::eval;
use crate::plan::Plan;
use crate::ruleset::RuleMode;
use crate::source::RulesetHash;

/// Bytes of input handed to a worker at a time, unless [`Backtest::batch_bytes`] says
/// otherwise.
pub const DEFAULT_BATCH_BYTES: usize = 1 << 20;

/// Examples kept per kind (invalid lines, each verdict transition), unless
/// [`Backtest::examples`] says otherwise.
pub const DEFAULT_EXAMPLES: usize = 5;

/// A line longer than this is reported as invalid without being held in memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Distinct rejection kinds counted one by one; any further kind is counted in an `other`
/// total, so a rejection code rendered from a template cannot grow memory without bound.
pub const MAX_REJECTION_KINDS: usize = 256;

/// How often the progress callback is called, at most (plus once at the end).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// A backtest of one rule set, optionally against a baseline rule set, over JSON lines.
///
/// Both rule sets are pinned when the backtest is created: a reload of the engines while
/// it runs changes nothing (the kill switch still applies). Backtest evaluations do not
/// count in the engines' metrics, so a backtest can run beside live traffic.
#[derive(Debug, Clone)]
pub struct Backtest {
    plan: Arc<Plan>,
    baseline: Option<Arc<Plan>>,
    threads: usize,
    examples: usize,
    batch_bytes: usize,
}

/// How far a running backtest has got, passed to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Bytes of input evaluated.
    pub bytes: u64,
    /// Lines of input evaluated (blank and invalid ones included).
    pub lines: u64,
    /// Seconds since the backtest started.
    pub elapsed_seconds: f64,
}

/// Why a backtest stopped.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// Reading the input failed.
    #[error("cannot read the input after line {line}: {source}")]
    Read {
        /// The last line read completely.
        line: u64,
        /// What the reader said.
        source: io::Error,
    },
    /// The operating system refused a worker thread.
    #[error("cannot start a worker thread: {0}")]
    Spawn(io::Error),
    /// A worker thread stopped without reporting (it panicked).
    #[error("a worker thread stopped unexpectedly")]
    Worker,
}

/// What a backtest found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
pub struct RuleCount {
    /// Rule id.
    pub id: String,
    /// `enforce` or `shadow` (a shadow rule's matches never decide a verdict).
    pub mode: RuleMode,
    /// Whether the rule is switched on (a rule switched off never matches).
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
pub struct VerdictCounts {
    /// Inputs allowed.
    pub allowed: u64,
    /// Inputs rejected.
    pub rejected: u64,
    /// Rejections by rule and code, most frequent first.
    pub rejections: Vec<RejectionCount>,
    /// Rejections beyond the first [`MAX_REJECTION_KINDS`] kinds.
    pub other_rejections: u64,
}

/// How many inputs one rule rejected with one code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Ids of the matched (enforced) rules, highest priority first.
    pub matched: Vec<String>,
}

/// How fast the backtest went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Backtest {
    /// A backtest of the plan `engine` serves now.
    pub fn new(engine: &Engine) -> Self {
        Backtest {
            plan: engine.plan(),
            baseline: None,
            threads: 0,
            examples: DEFAULT_EXAMPLES,
            batch_bytes: DEFAULT_BATCH_BYTES,
        }
    }

    /// Compare with the plan `engine` serves now: verdict transitions and per-rule count
    /// changes go into [`BacktestReport::baseline`].
    pub fn baseline(mut self, engine: &Engine) -> Self {
        self.baseline = Some(engine.plan());
        self
    }

    /// Worker threads; 0 (the default) means one per available core.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Examples kept per kind (invalid lines, each transition); the default is
    /// [`DEFAULT_EXAMPLES`].
    pub fn examples(mut self, examples: usize) -> Self {
        self.examples = examples;
        self
    }

    /// Bytes of input per batch handed to a worker (at least one line per batch); the
    /// default is [`DEFAULT_BATCH_BYTES`]. Smaller batches spread tiny inputs over more
    /// threads; larger ones cost more memory.
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes.max(1);
        self
    }

    /// Read JSON lines from `reader` to its end and evaluate each one; `progress` is
    /// called on the calling thread a few times per second and once at the end.
    ///
    /// Blank lines are skipped; a line that is not JSON is counted and reported in
    /// [`BacktestReport::invalid`]. Only a failure to read the input stops the run.
    pub fn run(
        &self,
        mut reader: impl BufRead,
        mut progress: impl FnMut(&Progress),
    ) -> Result<BacktestReport, BacktestError> {
        let started = Instant::now();
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            n => n,
        };
        let current = Index::new(&self.plan);
        let baseline = self.baseline.as_ref().map(Index::new);
        let done = Counters::default();
        let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(threads.saturating_mul(2));
        // Only the workers hold the receiver: should they all stop, a blocked `send` fails
        // instead of waiting forever.
        let batch_rx = Arc::new(Mutex::new(batch_rx));
        let (tally_tx, tally_rx) = mpsc::channel::<Tally>();
        let mut read = ReadState::default();

        let outcome = std::thread::scope(|scope| {
            let mut workers = Vec::with_capacity(threads);
            let worker = Worker {
                current: &current,
                baseline: baseline.as_ref(),
                examples: self.examples,
                done: &done,
            };
            for _ in 0..threads {
                let tally_tx = tally_tx.clone();
                let batch_rx = Arc::clone(&batch_rx);
                let spawned = std::thread::Builder::new()
                    .name("acs-backtest".to_owned())
                    .spawn_scoped(scope, move || {
                        let _ = tally_tx.send(worker.run(&batch_rx));
                    });
                match spawned {
                    Ok(handle) => workers.push(handle),
                    Err(error) => {
                        // Dropping the sender lets the started workers finish.
                        drop(batch_tx);
                        return Err(BacktestError::Spawn(error));
                    }
                }
            }
            drop(tally_tx);
            drop(batch_rx);

            let mut last_report = started;
            let mut report_progress = |force: bool, bytes: u64, lines: u64| {
                let now = Instant::now();
                if force || now.duration_since(last_report) >= PROGRESS_INTERVAL {
                    last_report = now;
                    progress(&Progress {
                        bytes,
                        lines,
                        elapsed_seconds: now.duration_since(started).as_secs_f64(),
                    });
                }
            };

            let mut read_result = Ok(());
            loop {
                match read.next_batch(&mut reader, self.batch_bytes) {
                    Ok(Some(batch)) => {
                        if batch_tx.send(batch).is_err() {
                            break; // every worker is gone: reported below
                        }
                        report_progress(false, done.bytes(), done.lines());
                    }
                    Ok(None) => break,
                    Err(source) => {
                        read_result = Err(BacktestError::Read {
                            line: read.next_line.saturating_sub(1),
                            source,
                        });
                        break;
                    }
                }
            }
            drop(batch_tx);

            let mut merged = Tally::new(&current, baseline.as_ref());
            let mut reported = 0;
            while reported < workers.len() {
                match tally_rx.recv_timeout(PROGRESS_INTERVAL) {
                    Ok(tally) => {
                        merged.merge(tally, self.examples);
                        reported += 1;
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        report_progress(false, done.bytes(), done.lines());
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            let mut panicked = false;
            for handle in workers {
                panicked |= handle.join().is_err();
            }
            read_result?;
            if panicked || reported < threads {
                return Err(BacktestError::Worker);
            }
            report_progress(true, read.bytes, read.lines());
            Ok(merged)
        })?;

        let mut tally = outcome;
        tally
            .invalid
            .merge(std::mem::take(&mut read.oversized), self.examples);
        Ok(self.report(tally, &current, baseline.as_ref(), &read, threads, started))
    }

    fn report(
        &self,
        tally: Tally,
        current: &Index,
        baseline: Option<&Index>,
        read: &ReadState,
        threads: usize,
        started: Instant,
    ) -> BacktestReport {
        let Tally {
            inputs,
            blank,
            invalid,
            current: now,
            baseline: before,
            comparison,
        } = tally;
        let elapsed = started.elapsed().as_secs_f64();
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
            lines: read.lines(),
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
                bytes: read.bytes,
                elapsed_seconds: elapsed,
                inputs_per_second: per_second(inputs as f64),
                megabytes_per_second: per_second(read.bytes as f64 / 1e6),
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

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// A run of whole lines; each line of `data` ends with `\n`.
struct Batch {
    first_line: u64,
    bytes: u64,
    lines: u64,
    data: Vec<u8>,
    /// Lines cut out for being longer than [`MAX_LINE_BYTES`] (left empty in `data`).
    oversized: Vec<u64>,
}

#[derive(Default)]
struct ReadState {
    /// Number of the next line to read (1-based), once started.
    next_line: u64,
    bytes: u64,
    oversized: Examples<LineMessage>,
}

impl ReadState {
    fn lines(&self) -> u64 {
        self.next_line.saturating_sub(1)
    }

    /// Read whole lines until the batch holds `target` bytes or the input ends.
    fn next_batch(
        &mut self,
        reader: &mut impl BufRead,
        target: usize,
    ) -> io::Result<Option<Batch>> {
        if self.next_line == 0 {
            self.next_line = 1;
        }
        let mut batch = Batch {
            first_line: self.next_line,
            bytes: 0,
            lines: 0,
            data: Vec::with_capacity(target.min(DEFAULT_BATCH_BYTES) + 1024),
            oversized: Vec::new(),
        };
        let mut line_start = 0;
        let mut too_long = false;
        loop {
            let buf = match reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                // The input ends; a last line without `\n` still counts.
                if too_long || batch.data.len() > line_start {
                    self.end_line(&mut batch, too_long);
                }
                break;
            }
            let newline = buf.iter().position(|&b| b == b'\n');
            let (piece, ends_line) = match newline {
                Some(at) => (buf.get(..=at).unwrap_or(buf), true),
                None => (buf, false),
            };
            let taken = piece.len();
            if !too_long {
                if batch.data.len() - line_start + taken > MAX_LINE_BYTES {
                    too_long = true;
                    batch.data.truncate(line_start);
                } else {
                    batch.data.extend_from_slice(piece);
                }
            }
            reader.consume(taken);
            batch.bytes += taken as u64;
            self.bytes += taken as u64;
            if ends_line {
                self.end_line(&mut batch, too_long);
                too_long = false;
                line_start = batch.data.len();
                if batch.data.len() >= target {
                    break;
                }
            }
        }
        Ok((batch.lines > 0).then_some(batch))
    }

    fn end_line(&mut self, batch: &mut Batch, too_long: bool) {
        if too_long {
            batch.oversized.push(self.next_line);
            let line = self.next_line;
            self.oversized.record(line, usize::MAX, || LineMessage {
                line,
                message: format!("line longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        if batch.data.last() != Some(&b'\n') || too_long {
            batch.data.push(b'\n');
        }
        batch.lines += 1;
        self.next_line += 1;
    }
}

// ---------------------------------------------------------------------------------------
// Evaluating
// ---------------------------------------------------------------------------------------

/// A plan with its rules' positions by id.
struct Index {
    plan: Arc<Plan>,
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
    fn new(plan: &Arc<Plan>) -> Self {
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
                enabled: plan.rule_active(&rule.id).unwrap_or(false),
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

/// Lines and bytes the workers have finished, for progress.
#[derive(Default)]
struct Counters {
    bytes: AtomicU64,
    lines: AtomicU64,
}

impl Counters {
    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy)]
struct Worker<'a> {
    current: &'a Index,
    baseline: Option<&'a Index>,
    examples: usize,
    done: &'a Counters,
}

impl Worker<'_> {
    fn run(self, batches: &Mutex<Receiver<Batch>>) -> Tally {
        let mut tally = Tally::new(self.current, self.baseline);
        loop {
            // The lock is held only while waiting for the next batch, never while evaluating.
            let batch = batches
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            let Ok(batch) = batch else {
                return tally;
            };
            self.evaluate(&batch, &mut tally);
            self.done.bytes.fetch_add(batch.bytes, Ordering::Relaxed);
            self.done.lines.fetch_add(batch.lines, Ordering::Relaxed);
        }
    }

    fn evaluate(&self, batch: &Batch, tally: &mut Tally) {
        let lines = batch.data.split(|&b| b == b'\n');
        for (line_number, line) in (batch.first_line..batch.first_line + batch.lines).zip(lines) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = if line_number == 1 {
                line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
            } else {
                line
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                if !batch.oversized.contains(&line_number) {
                    tally.blank += 1;
                }
                continue;
            }
            // One plan reads the bytes in place, as requests are read; two plans need the
            // whole document.
            let decided = match self.baseline {
                None => evaluate_bytes(&self.current.plan, line, false).map(|after| (after, None)),
                Some(_) => parse_input(line).map(|input| {
                    let after = eval::evaluate_uncounted(&self.current.plan, &input);
                    (after, Some(input))
                }),
            };
            let (after, input) = match decided {
                Ok(decided) => decided,
                Err(error) => {
                    let message = match error {
                        InputError::Json {
                            column, message, ..
                        } => format!("invalid JSON at column {column}: {message}"),
                        other => other.to_string(),
                    };
                    tally.invalid.count += 1;
                    tally
                        .invalid
                        .examples
                        .record(line_number, self.examples, || LineMessage {
                            line: line_number,
                            message,
                        });
                    continue;
                }
            };
            tally.inputs += 1;
            tally.current.record(self.current, &after, line_number);
            if let (Some(index), Some(input), Some(before_side), Some(comparison)) = (
                self.baseline,
                input,
                tally.baseline.as_mut(),
                tally.comparison.as_mut(),
            ) {
                let before = eval::evaluate_uncounted(&index.plan, &input);
                before_side.record(index, &before, line_number);
                comparison.record(&before, &after, line_number, self.examples);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------------------

/// One worker's counts, and after merging, everyone's.
struct Tally {
    inputs: u64,
    blank: u64,
    invalid: InvalidTally,
    current: Side,
    baseline: Option<Side>,
    comparison: Option<Comparison>,
}

#[derive(Default)]
struct InvalidTally {
    count: u64,
    examples: Examples<LineMessage>,
}

impl InvalidTally {
    /// Add the lines the reader found too long.
    fn merge(&mut self, oversized: Examples<LineMessage>, keep: usize) {
        self.count += oversized.items.len() as u64;
        self.examples.merge(oversized, keep);
    }
}

impl Tally {
    fn new(current: &Index, baseline: Option<&Index>) -> Self {
        Tally {
            inputs: 0,
            blank: 0,
            invalid: InvalidTally::default(),
            current: Side::new(current),
            baseline: baseline.map(Side::new),
            comparison: baseline.map(|_| Comparison::default()),
        }
    }

    fn merge(&mut self, other: Tally, keep: usize) {
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
}

/// Counts of one rule set.
struct Side {
    rules: Vec<RuleTally>,
    verdicts: VerdictTally,
    inputs_with_errors: u64,
    inputs_with_shadow_matches: u64,
}

#[derive(Default, Clone)]
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

    fn record(&mut self, index: &Index, decision: &Decision, line: u64) {
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

#[derive(Default)]
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
#[derive(Default)]
struct Comparison {
    changed_matches: u64,
    /// Allowed to rejected, rejected to allowed, code changed.
    transitions: [TransitionTally; 3],
}

impl Comparison {
    fn record(&mut self, before: &Decision, after: &Decision, line: u64, keep: usize) {
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

#[derive(Default)]
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
struct CappedCounts<K> {
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
struct Examples<T> {
    items: Vec<(u64, T)>,
}

impl<T> Default for Examples<T> {
    fn default() -> Self {
        Examples { items: Vec::new() }
    }
}

impl<T> Examples<T> {
    /// Keep the example of `line` if it is among the `keep` lowest; `make` runs only then.
    fn record(&mut self, line: u64, keep: usize, make: impl FnOnce() -> T) {
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
