//! Velocity counters in an evaluation: the evaluation's events recorded once, before
//! its first rule (one store call for every counter that counts the event's type), and
//! `velocity.count` / `rate.limitExceeded` answered from what that call returned, or from
//! a read of the store for a key the evaluation did not record. A resumable evaluation
//! keeps this state in its book, so its rounds record once and read alike.

use smallvec::SmallVec;

use super::doc::Doc;
use super::value::{Val, View};
use super::{EvalError, Evaluator, Result};
use crate::plan::{Node, VelocityPlan};
use crate::source::Span;
use crate::velocity::SharedStore;
use crate::velocity::{join_key, Counts, FailurePolicy, Record, VelocityStore};

/// Counts an evaluation knows, by counter and key: each `Err` says why the store could not
/// give them (a counter failing open).
#[derive(Debug, Default)]
pub(crate) struct VelocityState {
    recorded: bool,
    known: SmallVec<[Known; 2]>,
}

impl VelocityState {
    /// Every count the evaluation used, as its audit record keeps them.
    pub(super) fn recorded_counts(&self) -> Vec<super::RecordedCount> {
        self.known
            .iter()
            .map(|(counter, key, counts)| super::RecordedCount {
                counter: *counter,
                key: key.clone(),
                counts: counts.clone(),
            })
            .collect()
    }

    /// A state that records nothing (an explanation reads counts only).
    pub(super) fn read_only() -> VelocityState {
        VelocityState {
            recorded: true,
            known: SmallVec::new(),
        }
    }
}

/// Events to record: a counter's index, the key's text, the event id, the instant.
type Keyed = SmallVec<[(u32, String, Option<String>, f64); 2]>;

/// Events an input makes: a counter's index, the key's text, the event id, the instant
/// the input gives.
pub(crate) type Found = SmallVec<[(u32, String, Option<String>, Option<f64>); 2]>;

/// A counter's index, a key's text, and its counts or why there are none.
type Known = (u32, String, std::result::Result<Counts, String>);

/// The text of a key part: a string as it is, an integer in decimal; `None` for anything
/// else (a missing field, null, a fraction, an object).
fn key_part(value: &Val<'_>) -> Option<String> {
    match value.view() {
        View::Str(text) => Some(text.to_owned()),
        View::BigInt(n) => Some(n.to_string()),
        View::Num(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => {
            #[allow(clippy::cast_possible_truncation, reason = "an integer below 2^53")]
            let n = n as i64;
            Some(n.to_string())
        }
        _ => None,
    }
}

/// Counts that read as unbounded (a counter failing closed): above any limit.
fn unbounded(windows: usize) -> Counts {
    vec![u64::MAX; windows]
}

impl<'a, D: Doc<'a>> Evaluator<'a, D> {
    /// The store this evaluation counts in: the plan's, or the one a resumable
    /// evaluation was given (a replay's recorded counts).
    fn velocity_store(&self, velocity: &VelocityPlan) -> SharedStore {
        self.book
            .as_deref()
            .and_then(|book| book.velocity_store.clone())
            .or_else(|| self.store.clone())
            .unwrap_or_else(|| velocity.store.clone())
    }

    /// Note the counts this evaluation used, for its audit record.
    fn note_counts(
        &mut self,
        velocity: &VelocityPlan,
        counter: u32,
        key: &str,
        counts: &std::result::Result<Counts, String>,
    ) {
        let Some(recording) = self.recorder.as_deref_mut() else {
            return;
        };
        if velocity.counters.get(counter as usize).is_none() {
            return;
        }
        recording.velocity.push(super::RecordedCount {
            counter,
            key: key.to_owned(),
            counts: counts.clone(),
        });
    }

    fn velocity_state(&mut self) -> &mut VelocityState {
        match self.book.as_deref_mut() {
            Some(book) => &mut book.velocity,
            None => self.velocity.get_or_insert_with(Box::default),
        }
    }

    /// The key's text of a counter's key parts, evaluated on this input; `None` when a
    /// part is no key (the event is then not counted).
    fn counter_key(&mut self, parts: &'a [Node]) -> Option<String> {
        let mut texts: SmallVec<[String; 2]> = SmallVec::new();
        for part in parts {
            let value = self.eval(part).ok()?;
            texts.push(key_part(&value)?);
        }
        let borrowed: SmallVec<[&str; 2]> = texts.iter().map(String::as_str).collect();
        Some(join_key(&borrowed))
    }

    /// The events this input makes in the counters that count `event_type`: each
    /// counter's index, key, event id and instant (`None` when the counter has no
    /// `time:`, or the input's is unreadable).
    #[cfg_attr(
        not(feature = "tools"),
        allow(dead_code, reason = "backtests and the timeline read the events")
    )]
    fn velocity_events(&mut self, velocity: &'a VelocityPlan, event_type: Option<&str>) -> Found {
        match event_type.and_then(|t| velocity.by_type.get(t)) {
            Some(counting) => self.events_in(velocity, counting),
            None => SmallVec::new(),
        }
    }

    /// The events this input makes in the counters `counting` (indexes).
    fn events_in(&mut self, velocity: &'a VelocityPlan, counting: &[u32]) -> Found {
        let mut events = SmallVec::new();
        for &index in counting {
            let Some(counter) = velocity.counters.get(index as usize) else {
                continue;
            };
            let Some(key) = self.counter_key(&counter.key) else {
                continue;
            };
            let id = match &counter.id {
                Some(node) => self.eval(node).ok().as_ref().and_then(key_part),
                None => None,
            };
            let at = self.recorded_instant(counter.time.as_ref());
            events.push((index, key, id, at));
        }
        events
    }

    /// Record this evaluation's event in every counter that counts `event_type`, once per
    /// evaluation, whatever the rules then do.
    pub(super) fn record_velocity(&mut self, velocity: &'a VelocityPlan, event_type: Option<&str>) {
        // Most event types count in no counter: they need no state at all.
        let Some(counting) = event_type.and_then(|t| velocity.by_type.get(t)) else {
            return;
        };
        if self.velocity_state().recorded {
            return;
        }
        self.velocity_state().recorded = true;
        let mut keyed: Keyed = SmallVec::new();
        for (index, key, id, at) in self.events_in(velocity, counting) {
            let at = match at {
                Some(at) => at,
                None => self.now(),
            };
            keyed.push((index, key, id, at));
        }
        // One store call per instant (usually one in all): counters read at another
        // instant (a `time:` path) go in a call of their own.
        while let Some(at) = keyed.first().map(|k| k.3) {
            let (same, rest): (Keyed, Keyed) = keyed.into_iter().partition(|k| k.3 == at);
            self.record_at(velocity, same);
            keyed = rest;
        }
    }

    /// The instant the input gives at a counter's `time:` (epoch ms, or an RFC 3339
    /// text), if it gives one.
    fn recorded_instant(&mut self, time: Option<&'a Node>) -> Option<f64> {
        let value = self.eval(time?).ok()?;
        match value.view() {
            View::Num(ms) if ms.is_finite() => Some(ms),
            View::Str(text) => super::ops::timestamp_millis(text),
            _ => None,
        }
    }

    /// The instant a counter counts at: its `time:` value, else this evaluation's `now()`.
    fn instant(&mut self, time: Option<&'a Node>) -> f64 {
        match self.recorded_instant(time) {
            Some(at) => at,
            None => self.now(),
        }
    }

    /// Record `keyed` (all at one instant) in one store call; keep what comes back.
    fn record_at(&mut self, velocity: &'a VelocityPlan, keyed: Keyed) {
        if keyed.is_empty() {
            return;
        }
        let now = keyed.first().map_or(0.0, |k| k.3);
        let records: SmallVec<[Record<'_>; 2]> = keyed
            .iter()
            .filter_map(|(index, key, id, _)| {
                let counter = &velocity.counters.get(*index as usize)?.counter;
                Some(Record {
                    counter: &counter.name,
                    key,
                    windows: &counter.windows,
                    event_id: id.as_deref(),
                })
            })
            .collect();
        let store = self.velocity_store(velocity);
        let answered = store.record(&records, now);
        let mut known = Vec::with_capacity(keyed.len());
        match answered {
            Ok(counts) if counts.len() == keyed.len() => {
                for ((index, key, _, _), counts) in keyed.iter().zip(counts) {
                    known.push((*index, key.clone(), Ok(counts)));
                }
            }
            answered => {
                let reason = match answered {
                    Err(error) => error.to_string(),
                    Ok(_) => "the store answered for other counters than asked".to_owned(),
                };
                for ((index, key, _, _), record) in keyed.iter().zip(&records) {
                    let index = *index;
                    let key = key.clone();
                    let policy = velocity
                        .counters
                        .get(index as usize)
                        .map_or(FailurePolicy::Open, |c| c.counter.on_failure);
                    if policy != FailurePolicy::Open {
                        store.fell_back();
                    }
                    let counts = match policy {
                        FailurePolicy::Open => Err(reason.clone()),
                        FailurePolicy::Closed => Ok(unbounded(record.windows.len())),
                        FailurePolicy::Local => velocity
                            .local
                            .record(std::slice::from_ref(record), now)
                            .map_err(|e| e.to_string())
                            .and_then(|mut c| c.pop().ok_or_else(|| reason.clone())),
                    };
                    known.push((index, key, counts));
                }
            }
        }
        for (index, key, counts) in &known {
            self.note_counts(velocity, *index, key, counts);
        }
        self.velocity_state().known.extend(known);
    }

    /// The counts of `counter` for `key`, from this evaluation's record or a read of the
    /// store.
    fn counts(
        &mut self,
        velocity: &'a VelocityPlan,
        counter: u32,
        key: &Val<'_>,
        span: Span,
    ) -> Result<Counts> {
        let fail = |message: String| Box::new(EvalError { message, span });
        let Some(plan) = velocity.counters.get(counter as usize) else {
            return Err(fail("no such counter".to_owned()));
        };
        let Some(key) = key_part(key) else {
            return Err(fail(format!(
                "a counter's key is a string or an integer, found {}",
                key.view().type_name()
            )));
        };
        let known = self
            .velocity_state()
            .known
            .iter()
            .find(|(c, k, _)| *c == counter && *k == key)
            .map(|(_, _, counts)| counts.clone());
        let counts = match known {
            Some(counts) => counts,
            None => {
                let now = self.instant(plan.time.as_ref());
                let name = &plan.counter.name;
                let windows = &plan.counter.windows;
                let store = self.velocity_store(velocity);
                let read = match store.read(name, &key, windows, now) {
                    Ok(counts) => Ok(counts),
                    Err(error) => {
                        let policy = plan.counter.on_failure;
                        if policy != FailurePolicy::Open {
                            store.fell_back();
                        }
                        match policy {
                            FailurePolicy::Open => Err(error.to_string()),
                            FailurePolicy::Closed => Ok(unbounded(windows.len())),
                            FailurePolicy::Local => velocity
                                .local
                                .read(name, &key, windows, now)
                                .map_err(|e| e.to_string()),
                        }
                    }
                };
                self.note_counts(velocity, counter, &key, &read);
                self.velocity_state()
                    .known
                    .push((counter, key, read.clone()));
                read
            }
        };
        counts.map_err(|reason| {
            fail(format!(
                "counter `{}` is unknown (failing open): {reason}",
                plan.counter.name
            ))
        })
    }

    /// `velocity.count('name', key, 'window')`.
    pub(super) fn velocity_count(
        &mut self,
        velocity: Option<&'a VelocityPlan>,
        counter: u32,
        window: u32,
        key: &'a Node,
        span: Span,
    ) -> Result<Val<'a>> {
        let Some(velocity) = velocity else {
            return Err(Box::new(EvalError {
                message: "no velocity counter is declared".to_owned(),
                span,
            }));
        };
        let key = self.eval(key)?;
        let counts = self.counts(velocity, counter, &key, span)?;
        let count = counts.get(window as usize).copied().unwrap_or(0);
        #[allow(
            clippy::cast_precision_loss,
            reason = "counts are far below 2^53, or unbounded"
        )]
        Ok(Val::Num(count as f64))
    }

    /// `rate.limitExceeded(key, 'name', limit)`: the count in the counter's shortest
    /// window above `limit`.
    pub(super) fn rate_limit(
        &mut self,
        velocity: Option<&'a VelocityPlan>,
        counter: u32,
        key: &'a Node,
        limit: &'a Node,
        span: Span,
    ) -> Result<Val<'a>> {
        let fail = |message: String| Box::new(EvalError { message, span });
        let Some(velocity) = velocity else {
            return Err(fail("no velocity counter is declared".to_owned()));
        };
        let key = self.eval(key)?;
        let limit = match self.eval(limit)?.view() {
            View::Num(n) => n,
            other => {
                return Err(fail(format!(
                    "the limit of `rate.limitExceeded` is a number, found {}",
                    other.type_name()
                )))
            }
        };
        let counts = self.counts(velocity, counter, &key, span)?;
        let count = counts.first().copied().unwrap_or(0);
        #[allow(
            clippy::cast_precision_loss,
            reason = "counts are far below 2^53, or unbounded"
        )]
        Ok(Val::Bool(count as f64 > limit))
    }
}

/// The events `input` makes in `plan`'s counters (by the counter's index), recorded
/// nowhere: what a backtest gathers over its whole input before it decides any line
/// (`backtest::Timeline`).
#[cfg(feature = "tools")]
pub(crate) fn found<'a, D: Doc<'a>>(plan: &'a crate::plan::Plan, input: D) -> Found {
    let Some(velocity) = plan.velocity.as_deref() else {
        return Found::new();
    };
    let mut evaluator = Evaluator::over(input);
    let event_type = evaluator.event_type();
    evaluator.velocity_events(velocity, event_type)
}

/// `index`'s event in `plan`'s counters, naming its counter.
#[cfg(feature = "tools")]
pub(crate) fn named(
    plan: &crate::plan::Plan,
    (index, key, id, at): (u32, String, Option<String>, Option<f64>),
) -> Option<crate::velocity::CountedEvent> {
    let counter = &plan
        .velocity
        .as_deref()?
        .counters
        .get(index as usize)?
        .counter;
    Some(crate::velocity::CountedEvent::new(
        counter.name.clone(),
        key,
        id,
        at,
    ))
}

/// Counts an input's rules may read of keys its own events do not count in (another
/// user's, say), by counter index: the key's text and the instant it is read at (`None`
/// when the counter has no `time:` or the input's is unreadable). Every `velocity.count`
/// and `rate.limitExceeded` of the rules the input runs, its key evaluated on the input
/// whatever the conditions around it decide (a key that fails to evaluate is skipped): a
/// host computing each line's counts ahead of the decision (Spark) computes these too.
#[cfg(feature = "tools")]
pub(crate) fn reads<'a, D: Doc<'a>>(
    plan: &'a crate::plan::Plan,
    input: D,
) -> SmallVec<[(u32, String, Option<f64>); 2]> {
    use crate::plan::Callee;
    let mut reads: SmallVec<[(u32, String, Option<f64>); 2]> = SmallVec::new();
    let Some(velocity) = plan.velocity.as_deref() else {
        return reads;
    };
    let mut evaluator = Evaluator::over(input);
    let event_type = evaluator.event_type();
    let own = evaluator.velocity_events(velocity, event_type);
    let mut calls: Vec<(u32, &'a Node)> = Vec::new();
    plan.each_rule_expression(event_type, &mut |expression| {
        crate::plan::each_node(expression, &mut |node| {
            let Node::Call { callee, args, .. } = node else {
                return;
            };
            let key = match callee {
                Callee::VelocityCount { counter, .. } => args.get(1).map(|key| (*counter, key)),
                Callee::RateLimit { counter } => args.first().map(|key| (*counter, key)),
                _ => None,
            };
            calls.extend(key);
        });
    });
    for (counter, node) in calls {
        // Paths are cached per rule: each key is evaluated afresh.
        evaluator.start_rule();
        let Some(key) = evaluator.eval(node).ok().as_ref().and_then(key_part) else {
            continue;
        };
        let counted = |c: &u32, k: &String| *c == counter && *k == key;
        if own.iter().any(|(c, k, _, _)| counted(c, k))
            || reads.iter().any(|(c, k, _)| counted(c, k))
        {
            continue;
        }
        let time = velocity
            .counters
            .get(counter as usize)
            .and_then(|c| c.time.as_ref());
        let at = evaluator.recorded_instant(time);
        reads.push((counter, key, at));
    }
    reads
}
