//! The worker threads: each takes batches off the shared channel, evaluates every line
//! against the plan (and the baseline) and keeps its own tally.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, PoisonError};

use crate::eval;
use crate::eval::evaluate_json;
use crate::input::{self, InputError};

use super::read::Batch;
use super::report::LineMessage;
use super::tally::{Index, Tally};

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
    /// Where each decision of the current plan is recorded, if anywhere.
    #[cfg(feature = "audit")]
    pub(super) recorder: Option<&'a crate::engine::BacktestRecorder>,
}

impl Worker<'_> {
    /// The current plan's decision on a line, recorded when the backtest records.
    fn decide_json(&self, line: &[u8]) -> Result<crate::decision::Decision, InputError> {
        #[cfg(feature = "audit")]
        if let Some(recorder) = self.recorder {
            return recorder.decide_json(&self.current.plan, line);
        }
        evaluate_json(&self.current.plan, line, false)
    }

    /// The current plan's decision on a document, recorded when the backtest records.
    fn decide(&self, input: &serde_json::Value) -> crate::decision::Decision {
        #[cfg(feature = "audit")]
        if let Some(recorder) = self.recorder {
            return recorder.decide(&self.current.plan, input);
        }
        eval::evaluate_uncounted(&self.current.plan, input)
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
                None => self.decide_json(line).map(|after| (after, None)),
                Some(_) => input::parse(line).map(|input| {
                    let after = self.decide(&input);
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
