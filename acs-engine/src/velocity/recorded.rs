//! A velocity store that answers with the counts a request recorded (an audit record's
//! `velocity`, or a request the audit writer decides again) and records nothing.

use super::{Counts, Record, VelocityError, VelocityStore, Window};

/// Velocity counts as a record holds them (`"velocity": [{"counter", "key", "windows",
/// "counts"}]`, `"error"` for a count the store could not give): a store that answers a
/// replay with them and records nothing.
#[derive(Debug, Default)]
pub(crate) struct RecordedCounts {
    used: Vec<UsedCount>,
}

/// A counter, a key, the windows recorded (when the record names them) and their counts
/// or why there were none.
pub(crate) type UsedCount = (String, String, Option<Vec<u64>>, Result<Counts, String>);

impl RecordedCounts {
    pub(crate) fn new(used: Vec<UsedCount>) -> Self {
        RecordedCounts { used }
    }
}

impl VelocityStore for RecordedCounts {
    fn record(&self, records: &[Record<'_>], _now_ms: f64) -> Result<Vec<Counts>, VelocityError> {
        records
            .iter()
            .map(|r| self.read(r.counter, r.key, r.windows, 0.0))
            .collect()
    }

    fn read(
        &self,
        counter: &str,
        key: &str,
        windows: &[Window],
        _now_ms: f64,
    ) -> Result<Counts, VelocityError> {
        match self
            .used
            .iter()
            .find(|(c, k, _, _)| c == counter && k == key)
        {
            // Windows named: each asked for is looked up (a baseline may declare fewer).
            Some((_, _, Some(recorded), Ok(counts))) => windows
                .iter()
                .map(|w| {
                    recorded
                        .iter()
                        .position(|&ms| ms == w.millis())
                        .and_then(|i| counts.get(i).copied())
                        .ok_or_else(|| {
                            VelocityError(format!(
                                "the count of `{counter}` over {w} is not in the recording"
                            ))
                        })
                })
                .collect(),
            Some((_, _, None, Ok(counts))) => Ok(counts.clone()),
            // The recorded reason already reads `velocity store: ...`.
            Some((_, _, _, Err(reason))) => Err(VelocityError(
                reason
                    .strip_prefix("velocity store: ")
                    .unwrap_or(reason)
                    .to_owned(),
            )),
            None => Err(VelocityError(format!(
                "the count of `{counter}` for this key is not in the recording"
            ))),
        }
    }
}
