//! Deciding a recorded request again with the host-call answers recorded beside it (an
//! audit record's `calls`, a backtest's column of answers) instead of calling anything:
//! the same resumable evaluation the async bindings drive, answered from the recording.

use std::sync::Arc;

use serde_json::Value;

use crate::decision::Decision;
use crate::eval::Step;
use crate::functions::FunctionError;
use crate::plan::Plan;
use crate::velocity::{RecordedCounts, SharedStore, Window};

/// The host calls one request made and their answers, as an audit record's `calls` holds
/// them: `[{"name": "db.count.trucksByOperator", "args": ["OP-1"], "result": 12}, ...]`,
/// a failed call carrying `"error": {"code": ..., "message": ...}` instead of `result`.
#[derive(Debug, Clone, Default)]
pub struct RecordedCalls {
    calls: Vec<RecordedAnswer>,
    /// The velocity counts the request used, when the record holds them.
    counts: Option<SharedStore>,
}

#[derive(Debug, Clone, PartialEq)]
struct RecordedAnswer {
    name: String,
    args: Vec<Value>,
    answer: Result<Value, FunctionError>,
}

/// Why a recording of calls could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recorded calls: {0}")]
pub struct RecordedCallsError(String);

impl RecordedCalls {
    /// No calls: every host call is unanswered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read the recording from its JSON value (an array of calls; `null` is none).
    ///
    /// An object is read as an audit record's parts: its `calls` and, when present, its
    /// `velocity` counts (see [`RecordedCalls::from_record`]), so one column can carry both.
    pub fn from_value(value: &Value) -> Result<Self, RecordedCallsError> {
        let items = match value {
            Value::Null => return Ok(Self::new()),
            Value::Array(items) => items,
            Value::Object(map) => {
                if let Some(other) = map
                    .keys()
                    .find(|k| !matches!(k.as_str(), "calls" | "velocity"))
                {
                    return Err(RecordedCallsError(format!(
                        "expected an array of calls, or an object of `calls` and `velocity`; found the key `{other}`"
                    )));
                }
                return Self::from_record(value);
            }
            other => {
                return Err(RecordedCallsError(format!(
                    "expected an array of calls, found {}",
                    crate::input::describe(other)
                )))
            }
        };
        let mut calls = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = |key: &str| item.get(key);
            let Some(name) = field("name").and_then(Value::as_str) else {
                return Err(RecordedCallsError(format!("call {i} has no `name` string")));
            };
            let args = match field("args") {
                Some(Value::Array(args)) => args.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(other) => {
                    return Err(RecordedCallsError(format!(
                        "call {i} (`{name}`): `args` is {}, not an array",
                        crate::input::describe(other)
                    )))
                }
            };
            let answer = match (field("result"), field("error")) {
                (Some(result), _) => Ok(result.clone()),
                (None, Some(error)) => {
                    let text = |key: &str| error.get(key).and_then(Value::as_str);
                    Err(FunctionError::new(
                        text("code").unwrap_or(FunctionError::FAILED),
                        text("message").unwrap_or_default(),
                    ))
                }
                (None, None) => {
                    return Err(RecordedCallsError(format!(
                        "call {i} (`{name}`) has neither `result` nor `error`"
                    )))
                }
            };
            calls.push(RecordedAnswer {
                name: name.to_owned(),
                args,
                answer,
            });
        }
        Ok(RecordedCalls {
            calls,
            counts: None,
        })
    }

    /// The calls and the velocity counts of an audit record (its `calls` and `velocity`).
    pub fn from_record(record: &Value) -> Result<Self, RecordedCallsError> {
        let calls = match record.get("calls") {
            // An object's calls are a list: no object inside an object.
            Some(Value::Object(_)) => {
                return Err(RecordedCallsError(
                    "`calls` is an object, not an array of calls".to_owned(),
                ))
            }
            Some(calls) => calls,
            None => &Value::Null,
        };
        let mut recorded = Self::from_value(calls)?;
        if let Some(velocity) = record.get("velocity").filter(|v| !v.is_null()) {
            recorded.counts = Some(read_counts(velocity)?);
        }
        Ok(recorded)
    }

    /// Whether the recording holds velocity counts (an audit record's `velocity`).
    pub fn has_counts(&self) -> bool {
        self.counts.is_some()
    }

    /// These calls with velocity counts read from `counts` instead of the recording's.
    pub fn with_counts(&self, counts: SharedStore) -> RecordedCalls {
        RecordedCalls {
            calls: self.calls.clone(),
            counts: Some(counts),
        }
    }

    /// Read the recording from JSON text.
    pub fn from_json(json: &[u8]) -> Result<Self, RecordedCallsError> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| RecordedCallsError(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Add one answer (a stub for a test, a call recorded by other means).
    pub fn push(
        &mut self,
        name: impl Into<String>,
        args: Vec<Value>,
        answer: Result<Value, FunctionError>,
    ) {
        self.calls.push(RecordedAnswer {
            name: name.into(),
            args,
            answer,
        });
    }

    /// How many calls the recording holds.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The instant a host function named `now` answered, when the host registered one
    /// (a stub table pinning the clock): the built-in `now()` a replay runs reads it.
    fn recorded_now(&self) -> Option<f64> {
        self.calls
            .iter()
            .find(|call| call.name == "now" && call.args.is_empty())
            .and_then(|call| call.answer.as_ref().ok())
            .and_then(Value::as_f64)
    }

    fn answer(&self, function: &str, args: &[Value]) -> Result<Value, FunctionError> {
        self.calls
            .iter()
            .find(|call| call.name == function && call.args == args)
            .map_or_else(
                || {
                    Err(FunctionError::new(
                        FunctionError::NOT_RECORDED,
                        "the call is not in the recording",
                    ))
                },
                |call| call.answer.clone(),
            )
    }
}

/// Velocity counts as a record holds them, as the store a replay reads: `[{"counter",
/// "key", "windows", "counts"}]` (`"error"` instead of `counts` for a count the store
/// could not give; `windows` as written, `["1m", "1h"]`, or in milliseconds). A host that
/// computes each line's counts itself (Spark, from a timeline of the whole input) hands
/// them to [`BacktestPart::add_document`](super::BacktestPart::add_document) so.
pub fn recorded_counts(value: &Value) -> Result<SharedStore, RecordedCallsError> {
    read_counts(value)
}

fn read_counts(value: &Value) -> Result<SharedStore, RecordedCallsError> {
    let Value::Array(items) = value else {
        return Err(RecordedCallsError(format!(
            "velocity counts are an array, found {}",
            crate::input::describe(value)
        )));
    };
    let mut used = Vec::with_capacity(items.len());
    for item in items {
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(counter), Some(key)) = (text("counter"), text("key")) else {
            return Err(RecordedCallsError(
                "a velocity count without `counter` or `key`".to_owned(),
            ));
        };
        let windows = match item.get("windows") {
            Some(Value::Array(windows)) => Some(
                windows
                    .iter()
                    .map(|w| match w {
                        Value::String(text) => Window::parse(text).map(Window::millis),
                        other => other.as_u64(),
                    })
                    .collect::<Option<Vec<u64>>>()
                    .ok_or_else(|| {
                        RecordedCallsError(format!("the windows of `{counter}` are unreadable"))
                    })?,
            ),
            _ => None,
        };
        let counts = match (item.get("counts"), text("error")) {
            (Some(Value::Array(counts)), _) => {
                Ok(counts.iter().filter_map(Value::as_u64).collect())
            }
            (_, Some(reason)) => Err(reason),
            _ => {
                return Err(RecordedCallsError(format!(
                    "the velocity count of `{counter}` has neither `counts` nor `error`"
                )))
            }
        };
        used.push((counter, key, windows, counts));
    }
    Ok(Arc::new(RecordedCounts::new(used)))
}

/// Most rounds a replay runs. A host answering everything needs one round more than the
/// longest chain of calls waiting on one another; the bound keeps a damaged recording
/// from looping.
const MAX_ROUNDS: usize = 10_000;

/// `plan`'s decision on `input` with every host call answered from `calls` (a call the
/// recording does not hold fails with [`FunctionError::NOT_RECORDED`], an error of its
/// rule) and `now()` reading `now_millis` when given, else the answer of a recorded call
/// of a host function named `now` (a host that pinned the clock), else the clock. Calls compile to host calls only for
/// registered names, so load the plan with
/// [`Functions::answered_by_recording`](crate::Functions::answered_by_recording).
/// Not counted in the plan's metrics when the engine keeps none (backtests load without).
pub fn replay(
    plan: &Arc<Plan>,
    input: &Value,
    calls: &RecordedCalls,
    now_millis: Option<f64>,
) -> Decision {
    let mut evaluation = plan.evaluation(input.clone());
    if let Some(counts) = &calls.counts {
        evaluation = evaluation.with_velocity_store(Arc::clone(counts));
    }
    if let Some(now) = now_millis.or_else(|| calls.recorded_now()) {
        evaluation = evaluation.at(now);
    }
    for _ in 0..MAX_ROUNDS {
        match evaluation.poll() {
            Step::Decided(decision) => return decision,
            Step::Needs(needed) => {
                for call in needed {
                    let answer = calls.answer(&call.function, &call.args);
                    // The id was just asked for: it cannot be unknown or answered.
                    let _ = evaluation.answer(call.id, answer);
                }
            }
        }
    }
    // Not reached (see MAX_ROUNDS), but a decision must come back: the plan's own, every
    // call unanswered (`not_recorded`).
    crate::eval::evaluate_uncounted(plan, input)
}

/// `plan`'s decision on `input`, its host calls made as usual, its velocity counts read
/// from `counts` and recorded nowhere: a line of a backtest whose counts the host computed
/// from a [`Timeline`](super::Timeline) of the whole input (one row of Spark's
/// `decisions()`). Not counted in the plan's metrics.
pub fn decide_with_counts(plan: &Plan, input: &Value, counts: &SharedStore) -> Decision {
    crate::eval::evaluate_over_store(plan, input, Arc::clone(counts))
}

/// One decision recorded in an audit log, as a backtest replays it.
#[cfg(feature = "audit")]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordedDecision {
    /// The record's sequence number in the log.
    pub seq: u64,
    /// The rules that decided (`sha256:...`).
    pub ruleset_hash: String,
    /// The input as recorded (after redaction); `null` if the record holds none.
    pub input: Value,
    /// The host calls and their answers, as [`RecordedCalls::from_value`] reads them.
    pub calls: Value,
    /// The velocity counts the evaluation used (`null` when the rules declare none).
    pub velocity: Value,
    /// The instant `now()` read, in epoch milliseconds, when it read one.
    pub now: Option<f64>,
    /// The recorded verdict (`{"outcome": "allowed"}`, ...).
    pub verdict: Value,
}

/// Every decision recorded in the audit log in `dir`, in sequence order, handed to
/// `each`; the log is checked as it is read ([`audit::read`](crate::audit::read)). Returns
/// how many records the log holds (rule sets included).
#[cfg(feature = "audit")]
pub fn recorded_decisions(
    dir: &std::path::Path,
    each: &mut dyn FnMut(RecordedDecision),
) -> Result<u64, crate::audit::VerifyError> {
    crate::audit::read(dir, &mut |entry| {
        let Ok(mut record) = serde_json::from_slice::<Value>(entry.body) else {
            return; // framed and checksummed, so written so by the writer: not a decision
        };
        if record.get("kind").and_then(Value::as_str) != Some("decision") {
            return;
        }
        let mut take = |key: &str| record.get_mut(key).map(Value::take).unwrap_or_default();
        let ruleset_hash = take("ruleset_hash").as_str().unwrap_or_default().to_owned();
        each(RecordedDecision {
            seq: entry.seq,
            ruleset_hash,
            input: take("input"),
            calls: take("calls"),
            velocity: take("velocity"),
            now: take("now").as_f64(),
            verdict: take("verdict"),
        });
    })
}
