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
//!
//! Rules with velocity counters are the exception: a first pass gathers every line's
//! events into a [`Timeline`] (and the input into a temporary file), so that each line
//! then reads the counts of the events before it in time, whatever the input's order.
//! The timeline grows with the events counted.

use std::io::{self, BufRead};
use std::num::NonZeroUsize;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::eval::VelocityFound;
use crate::plan::Plan;

mod part;
mod read;
mod replay;
mod report;
mod tally;
mod timeline;
mod workers;

pub use part::{BacktestPart, PartError};
pub use replay::{decide_with_counts, recorded_counts, replay, RecordedCalls, RecordedCallsError};
#[cfg(feature = "audit")]
pub use replay::{recorded_decisions, RecordedDecision};
pub use timeline::{EventCounts, SealedTimeline, Timeline};

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
    /// The temporary file a backtest of velocity rules reads its input back from failed.
    #[error("cannot keep the input in a temporary file: {0}")]
    Spool(io::Error),
}

/// A line's number and its events in the counters of the rules and of the baseline.
type LineEvents = (u64, VelocityFound, VelocityFound);

/// What the first pass of a backtest of velocity rules learned of the input.
struct Gathered {
    timeline: Arc<SealedTimeline>,
    /// Lines too long to hold (left blank in the spool), in order.
    oversized: Vec<u64>,
    /// The input as read (lines, bytes, oversized examples), for the report.
    read: ReadState,
}

impl Backtest {
    /// A backtest of the plan `engine` serves now. Velocity counters never touch the
    /// engine's store: a backtest of rules that declare counters reads the whole input
    /// first and counts each key's events in time order ([`Timeline`]), so every line
    /// reads the counts production would have seen, whatever the input's order.
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
    ///
    /// When the rules declare velocity counters, the input is read twice: once to gather
    /// every event into a [`Timeline`] (and into a temporary file, so that any reader
    /// will do), then to decide each line with the counts of the events before it in
    /// time. Progress is reported for the second pass.
    pub fn run(
        &self,
        mut reader: impl BufRead,
        progress: impl FnMut(&Progress),
    ) -> Result<BacktestReport, BacktestError> {
        let started = Instant::now();
        if !self.counts_velocity() {
            return self.decide_lines(reader, progress, None, started);
        }
        let mut spool = tempfile::tempfile().map_err(BacktestError::Spool)?;
        let gathered = {
            let mut writer = io::BufWriter::new(&mut spool);
            let gathered = self.gather(&mut reader, &mut writer)?;
            io::Write::flush(&mut writer).map_err(BacktestError::Spool)?;
            gathered
        };
        io::Seek::rewind(&mut spool).map_err(BacktestError::Spool)?;
        let spooled = io::BufReader::with_capacity(1 << 18, spool);
        self.decide_lines(spooled, progress, Some(gathered), started)
    }

    /// Whether either rule set declares velocity counters (its lines then read counts
    /// from a [`Timeline`] of the whole input).
    pub fn counts_velocity(&self) -> bool {
        self.plan.velocity.is_some() || self.baseline.as_ref().is_some_and(|b| b.velocity.is_some())
    }

    /// A timeline of this backtest's counters (both rule sets'), empty: what a host that
    /// spreads the input over machines fills with [`Backtest::events`] of every line.
    pub fn timeline(&self) -> Timeline {
        Timeline::new(std::iter::once(&*self.plan).chain(self.baseline.as_deref()))
    }

    /// The events `input` makes in this backtest's counters (both rule sets'), for a
    /// [`Timeline`]. None when the rules declare no counter.
    pub fn events(&self, input: &serde_json::Value) -> Vec<crate::velocity::CountedEvent> {
        let mut events = crate::eval::velocity_events(&self.plan, input);
        if let Some(baseline) = &self.baseline {
            events.extend(crate::eval::velocity_events(baseline, input));
        }
        events
    }

    /// The events of line `number` of JSON-lines input in the counters of the rules and
    /// of the baseline (none when it holds no document), read in place.
    fn line_events(&self, number: u64, line: &[u8]) -> (VelocityFound, VelocityFound) {
        let line = read::trim_line(number, line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Default::default();
        }
        let found = |plan: &Plan| crate::eval::velocity_found_json(plan, line);
        (
            found(&self.plan),
            self.baseline.as_deref().map(found).unwrap_or_default(),
        )
    }

    /// The counts `input`'s rules may read of keys its own events do not count in (another
    /// user's, say), each as a [`CountedEvent`](crate::velocity::CountedEvent) that is
    /// not counted: for [`Timeline::add_read`]. Each `velocity.count` and
    /// `rate.limitExceeded` of the rules `input` runs has its key evaluated on `input`,
    /// whatever the conditions around it decide.
    pub fn reads(&self, input: &serde_json::Value) -> Vec<crate::velocity::CountedEvent> {
        let mut reads = crate::eval::velocity_reads(&self.plan, input);
        if let Some(baseline) = &self.baseline {
            for read in crate::eval::velocity_reads(baseline, input) {
                if !reads.contains(&read) {
                    reads.push(read);
                }
            }
        }
        reads
    }

    /// The first pass of a backtest of velocity rules: every line copied to `spool` (a
    /// line too long to hold left blank) and its events gathered.
    fn gather(
        &self,
        reader: &mut impl BufRead,
        spool: &mut impl io::Write,
    ) -> Result<Gathered, BacktestError> {
        let threads = self.worker_threads();
        let mut timeline = self.timeline();
        let mut read = ReadState::default();
        let mut oversized = Vec::new();
        // The calling thread reads and spools; the workers find each batch's events. The
        // timeline sorts when sealed, so batches may come back in any order.
        let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(threads.saturating_mul(2));
        let batch_rx = Arc::new(Mutex::new(batch_rx));
        let (events_tx, events_rx) = mpsc::channel::<Vec<LineEvents>>();
        std::thread::scope(|scope| {
            let mut workers = Vec::with_capacity(threads);
            for _ in 0..threads {
                let batch_rx = Arc::clone(&batch_rx);
                let events_tx = events_tx.clone();
                let spawned = std::thread::Builder::new()
                    .name("acs-backtest".to_owned())
                    .spawn_scoped(scope, move || loop {
                        let batch = batch_rx
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        let Ok(batch) = batch else { return };
                        if events_tx.send(self.batch_events(&batch)).is_err() {
                            return;
                        }
                    });
                workers.push(spawned.map_err(BacktestError::Spawn)?);
            }
            drop(events_tx);
            drop(batch_rx);
            let mut add = |found: Vec<LineEvents>| {
                for (number, current, baseline) in found {
                    timeline.add_found(number, &self.plan, current);
                    if let Some(plan) = &self.baseline {
                        timeline.add_found(number, plan, baseline);
                    }
                }
            };
            loop {
                let batch = match read.next_batch(reader, self.batch_bytes) {
                    Ok(Some(batch)) => batch,
                    Ok(None) => break,
                    Err(source) => {
                        return Err(BacktestError::Read {
                            line: read.next_line.saturating_sub(1),
                            source,
                        })
                    }
                };
                spool.write_all(&batch.data).map_err(BacktestError::Spool)?;
                oversized.extend_from_slice(&batch.oversized);
                if batch_tx.send(batch).is_err() {
                    return Err(BacktestError::Worker);
                }
                while let Ok(found) = events_rx.try_recv() {
                    add(found);
                }
            }
            drop(batch_tx);
            for found in events_rx {
                add(found);
            }
            let mut panicked = false;
            for worker in workers {
                panicked |= worker.join().is_err();
            }
            if panicked {
                return Err(BacktestError::Worker);
            }
            Ok(())
        })?;
        Ok(Gathered {
            timeline: timeline.seal(),
            oversized,
            read,
        })
    }

    /// The events of every line of `batch` that makes some.
    fn batch_events(&self, batch: &Batch) -> Vec<LineEvents> {
        let lines = batch.data.split(|&b| b == b'\n');
        (batch.first_line..batch.first_line + batch.lines)
            .zip(lines)
            .map(|(number, line)| {
                let (current, baseline) = self.line_events(number, line);
                (number, current, baseline)
            })
            .filter(|(_, current, baseline)| !current.is_empty() || !baseline.is_empty())
            .collect()
    }

    /// Worker threads: as asked, else one per available core.
    fn worker_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            n => n,
        }
    }

    /// Decide every line of `reader` on the worker threads and report; `gathered` holds
    /// what a first pass learned (velocity rules), and then `reader` is its spool.
    fn decide_lines(
        &self,
        mut reader: impl BufRead,
        mut progress: impl FnMut(&Progress),
        gathered: Option<Gathered>,
        started: Instant,
    ) -> Result<BacktestReport, BacktestError> {
        let threads = self.worker_threads();
        let timeline = gathered.as_ref().map(|g| &g.timeline);
        let oversized = gathered.as_ref().map_or(&[][..], |g| &g.oversized);
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
                timeline,
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
                    Ok(Some(mut batch)) => {
                        // The spool holds a line too long to hold as a blank line.
                        let range = batch.first_line..batch.first_line + batch.lines;
                        batch
                            .oversized
                            .extend(oversized.iter().filter(|line| range.contains(line)));
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
        if let Some(first) = gathered {
            read = first.read; // the input as read, not its spool
        }
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
