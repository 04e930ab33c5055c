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

use std::io::{self, BufRead};
use std::num::NonZeroUsize;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::plan::Plan;

mod part;
mod read;
mod replay;
mod report;
mod tally;
mod workers;

pub use part::{BacktestPart, PartError};
#[cfg(feature = "audit")]
pub use replay::{recorded_decisions, RecordedDecision};
pub use replay::{replay, RecordedCalls, RecordedCallsError};

pub use report::{
    BacktestReport, BaselineComparison, ChangeExample, CodeChange, InvalidLines, LineMessage,
    Outcome, RejectionCount, RuleChange, RuleCount, Throughput, Transition, Transitions,
    VerdictCounts,
};

use read::{Batch, ReadState};
use tally::{Index, Tally};
use workers::{Counters, Worker};

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
    #[cfg(feature = "audit")]
    recorder: Option<Arc<crate::engine::BacktestRecorder>>,
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
#[non_exhaustive]
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

impl Backtest {
    /// A backtest of the plan `engine` serves now. Velocity counters count in a store of
    /// the backtest's own, never the engine's; a backtest of rules that declare counters
    /// runs on one thread, in input order, so that its counts are those of the input's
    /// order (a log's order is its timestamps').
    pub fn new(engine: &Engine) -> Self {
        Backtest {
            plan: engine.plan_with_own_counts(),
            baseline: None,
            threads: 0,
            examples: DEFAULT_EXAMPLES,
            batch_bytes: DEFAULT_BATCH_BYTES,
            #[cfg(feature = "audit")]
            recorder: None,
        }
    }

    /// Record every decision of the backtest's rules in `engine`'s audit log as it is
    /// made (`acs replay --audit-dir`): each line evaluated once, the records naming the
    /// backtest's plan. `engine` should serve the same rules (its log then holds their
    /// text); an engine that does not audit records nothing.
    #[cfg(feature = "audit")]
    pub fn record_to(mut self, engine: &Engine) -> Self {
        self.recorder = crate::engine::BacktestRecorder::of(engine).map(Arc::new);
        self
    }

    /// Compare with the plan `engine` serves now: verdict transitions and per-rule count
    /// changes go into [`BacktestReport::baseline`].
    pub fn baseline(mut self, engine: &Engine) -> Self {
        self.baseline = Some(engine.plan_with_own_counts());
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
        let counts_in_order = self.plan.velocity.is_some()
            || self.baseline.as_ref().is_some_and(|b| b.velocity.is_some());
        let threads = match self.threads {
            _ if counts_in_order => 1,
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
                #[cfg(feature = "audit")]
                recorder: self.recorder.as_deref(),
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
        Ok(tally.report(
            &current,
            baseline.as_ref(),
            read.lines(),
            read.bytes,
            threads,
            started.elapsed().as_secs_f64(),
        ))
    }
}
