//! The worker threads: each takes batches off the shared channel, evaluates every line
//! against the plan (and the baseline) and keeps its own tally.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, PoisonError};

use crate::decision::Decision;
use crate::eval;
use crate::eval::evaluate_json;
use crate::input::{self, InputError};
use crate::plan::Plan;
use crate::velocity::SharedStore;

use super::read::{trim_line, Batch};
use super::replay::{replay, RecordedCalls};
use super::report::LineMessage;
use super::tally::{Index, Tally};
use super::timeline::SealedTimeline;

/// Lines and bytes the workers have finished, for progress.
#[derive(Default)]
pub(super) struct Counters {
    bytes: AtomicU64,
    lines: AtomicU64,
}

impl Counters {
    pub(super) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(super) fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy)]
pub(super) struct Worker<'a> {
    pub(super) current: &'a Index,
    pub(super) baseline: Option<&'a Index>,
    pub(super) examples: usize,
    pub(super) done: &'a Counters,
    /// The input's velocity events in time order, when the rules count some: each line
    /// reads its counts there.
    pub(super) timeline: Option<&'a std::sync::Arc<SealedTimeline>>,
    /// Where each decision of the current plan is recorded, if anywhere.
    #[cfg(feature = "audit")]
    pub(super) recorder: Option<&'a crate::engine::BacktestRecorder>,
}

impl Worker<'_> {
    /// The current plan's decision on a line, recorded when the backtest records;
    /// velocity counts read from `store` when given.
    fn decide_json(
        &self,
        line: &[u8],
        store: Option<&SharedStore>,
    ) -> Result<crate::decision::Decision, InputError> {
        #[cfg(feature = "audit")]
        if let Some(recorder) = self.recorder {
            return match store {
                Some(store) => input::parse(line).map(|input| {
                    recorder.decide_over_store(&self.current.plan, &input, store.clone())
                }),
                None => recorder.decide_json(&self.current.plan, line),
            };
        }
        match store {
            Some(store) => eval::evaluate_json_over_store(&self.current.plan, line, store),
            None => evaluate_json(&self.current.plan, line, false),
        }
    }

    /// The current plan's decision on a document, recorded when the backtest records;
    /// velocity counts read from `store` when given.
    fn decide(
        &self,
        input: &serde_json::Value,
        store: Option<&SharedStore>,
    ) -> crate::decision::Decision {
        #[cfg(feature = "audit")]
        if let Some(recorder) = self.recorder {
            return match store {
                Some(store) => recorder.decide_over_store(&self.current.plan, input, store.clone()),
                None => recorder.decide(&self.current.plan, input),
            };
        }
        decide_over(&self.current.plan, input, store)
    }

    pub(super) fn run(self, batches: &Mutex<Receiver<Batch>>) -> Tally {
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
            if batch.oversized.contains(&line_number) {
                continue; // counted by the reader
            }
            self.line(tally, line_number, line, None);
        }
    }

    /// Count one line of JSON-lines input: blank, not a document, or decided; velocity
    /// counts read from `counts` when given, else from the timeline at this line.
    pub(super) fn line(
        &self,
        tally: &mut Tally,
        line_number: u64,
        line: &[u8],
        counts: Option<&SharedStore>,
    ) {
        let line = trim_line(line_number, line);
        if line.iter().all(u8::is_ascii_whitespace) {
            tally.blank += 1;
            return;
        }
        let store = counts
            .cloned()
            .or_else(|| self.timeline.map(|timeline| timeline.at_line(line_number)));
        // One plan reads the bytes in place, as requests are read; two plans need the
        // whole document.
        let decided = match self.baseline {
            None => self
                .decide_json(line, store.as_ref())
                .map(|after| (after, None)),
            Some(_) => input::parse(line).map(|input| {
                let after = self.decide(&input, store.as_ref());
                (after, Some(input))
            }),
        };
        match decided {
            Ok((after, input)) => {
                let before = input.map(|input| {
                    self.baseline
                        .map(|index| decide_over(&index.plan, &input, store.as_ref()))
                });
                self.count(tally, line_number, &after, before.flatten().as_ref());
            }
            Err(error) => {
                let message = match error {
                    InputError::Json {
                        column, message, ..
                    } => format!("invalid JSON at column {column}: {message}"),
                    other => other.to_string(),
                };
                self.invalid(tally, line_number, message);
            }
        }
    }

    /// Count one input document, its host calls answered from `calls` when given (the
    /// calls' answers recorded with the request) and by the plans' functions otherwise;
    /// velocity counts read from `counts` when given (the line's counts, from a timeline
    /// the host built).
    pub(super) fn document(
        &self,
        tally: &mut Tally,
        line_number: u64,
        input: &serde_json::Value,
        calls: Option<(&RecordedCalls, Option<f64>)>,
        counts: Option<&SharedStore>,
    ) {
        if let Err(error) = InputError::check_document(input) {
            self.invalid(tally, line_number, error.to_string());
            return;
        }
        let decide = |plan: &std::sync::Arc<crate::plan::Plan>| match calls {
            // Counts the recording holds are those production saw: they win.
            Some((calls, now)) => match counts {
                Some(counts) if !calls.has_counts() => {
                    replay(plan, input, &calls.with_counts(counts.clone()), now)
                }
                _ => replay(plan, input, calls, now),
            },
            None => decide_over(plan, input, counts),
        };
        let after = match calls {
            Some(_) => decide(&self.current.plan),
            None => self.decide(input, counts),
        };
        let before = self.baseline.map(|index| decide(&index.plan));
        self.count(tally, line_number, &after, before.as_ref());
    }

    /// Count a line that holds no input document.
    pub(super) fn invalid(&self, tally: &mut Tally, line_number: u64, message: String) {
        tally.invalid.count += 1;
        tally
            .invalid
            .examples
            .record(line_number, self.examples, || LineMessage {
                line: line_number,
                message,
            });
    }

    fn count(
        &self,
        tally: &mut Tally,
        line_number: u64,
        after: &Decision,
        before: Option<&Decision>,
    ) {
        tally.inputs += 1;
        tally.current.record(self.current, after, line_number);
        if let (Some(index), Some(before), Some(before_side), Some(comparison)) = (
            self.baseline,
            before,
            tally.baseline.as_mut(),
            tally.comparison.as_mut(),
        ) {
            before_side.record(index, before, line_number);
            comparison.record(before, after, line_number, self.examples);
        }
    }
}

/// `plan`'s decision on `input`, counted in no metrics, velocity counts read from `store`
/// when given.
fn decide_over(plan: &Plan, input: &serde_json::Value, store: Option<&SharedStore>) -> Decision {
    match store {
        Some(store) => eval::evaluate_over_store(plan, input, store.clone()),
        None => eval::evaluate_uncounted(plan, input),
    }
}
