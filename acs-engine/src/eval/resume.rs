//! Resumable evaluation, for hosts whose functions are asynchronous (a JS Promise, a
//! Python coroutine): an [`Evaluation`] never calls a host function itself. It reports
//! the calls it needs ([`Step::Needs`]), the host answers them ([`Evaluation::answer`]),
//! concurrently if it likes, and the evaluation goes on, until it decides
//! ([`Step::Decided`]). This module owns the evaluation's state between rounds: the
//! pinned plan, input, instant and kill switch, and the [`Book`] of calls and answers.
//!
//! # A round
//!
//! A round is the ordinary evaluation loop (`decide` in `mod.rs`) with an evaluator that
//! looks host calls up in the book instead of making them (`call.rs`, the only place that
//! reads the book; only `Callee::Host` calls reach it, so built-ins and unregistered
//! names behave exactly as in [`Plan::evaluate`]). A call with an answer gets exactly what
//! the function returning that answer would give (the same value, the same error
//! wording). A call without one is asked for, at most once per evaluation (the book is
//! keyed by function name and argument values), and ends its rule for this round with a
//! placeholder error. The loop goes on to the other rules, and a matched rule's template
//! goes on to its next action, so calls that do not depend on each other are asked in the
//! same round. A round that met no unanswered call is the decision; any other round is
//! discarded whole.
//!
//! # Why every call asked for is one [`Plan::evaluate`] makes, and the decision its
//! decision
//!
//! Compare with the synchronous evaluation of the same plan, input, instant and kill
//! switch whose host functions return the answers the host gives here.
//!
//! 1. Within a rule, evaluation is sequential and depends only on the input, the instant
//!    `now()` reads and the results of the calls already made. Up to its first
//!    unanswered call, a rule in a round does exactly what it does in the synchronous
//!    evaluation, so that call (function and arguments) is one the synchronous
//!    evaluation makes. Stopping there keeps its short circuits: in `a() > 1 && b()`,
//!    `b` is not asked for before `a` is answered, nor ever when `a`'s answer is `1`.
//! 2. The placeholder error cannot make a round ask for more: every operator passes an
//!    error straight up (`?`) and ends the rule; constant folding, which discards
//!    errors, folds constants only, never a call. The one place that catches an error is
//!    a template hole (`render.rs`): it ends that action and the next action is rendered,
//!    which is what the synchronous path does after a hole that failed, and a matched
//!    rule renders every action whatever its holes do. So the placeholder takes, within
//!    the round, a path the synchronous evaluation takes too, and the round's decision,
//!    which would carry it as a rule error, is discarded.
//! 3. Answers only fill in: an answer, once given, is final, and the plan, input,
//!    instant and kill switch are pinned when the evaluation starts. A later round
//!    therefore retraces every rule's path up to where it stopped before and goes
//!    further: every call asked for is met again, and a round after the host answered
//!    everything asked either asks for a new call or decides.
//! 4. A round that meets no unanswered call is, call for call, the synchronous
//!    evaluation with those answers: its decision is the decision.
//!
//! # The host's side
//!
//! An answer is final: a second answer to a call, or an answer to an id never asked
//! for, is refused ([`AnswerError`]) and changes nothing, since rounds may have used the
//! first. A poll with no answer since the last round runs none. A poll after the
//! decision gives it again, uncounted. Answers may come in any order and in parts: a
//! round runs with whatever answers are in, and asks only for calls not asked before.
//!
//! # Bounds
//!
//! No extra limit is needed against hostile rules: a call site gives at most one
//! distinct call per evaluation (its arguments are fixed once the calls before it are
//! answered), so the calls asked are at most the host call sites the synchronous
//! evaluation reaches, and a host that answers what it is asked needs at most one round
//! more than the longest chain of calls that wait on one another.
//!
//! # Metrics
//!
//! Rounds are not counted; the deciding round is run once more, counted, and that run's
//! decision is returned. A counter is a plain add that cannot be taken back, and whether a
//! round decides is known only when it ends; running it again keeps the one loop that
//! counts (no second way of counting to drift from it), and it gives the same decision,
//! since everything it reads is pinned and no host function is called. It costs one
//! more pass without host calls (microseconds), small beside one call's trip through a
//! binding, and is skipped when the engine keeps no metrics. So an evaluation counts
//! once, as one request served, whatever its number of rounds.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::{decide, Evaluator};
use crate::decision::Decision;
use crate::functions::{builtins, FunctionError, Functions};
use crate::metrics::{self, Shard};
use crate::plan::Plan;

/// What a host call without an answer ends its rule with, for the round only: a round
/// that meets one is discarded, so this never reaches a decision.
pub(super) const UNANSWERED: &str = "waiting for the host's answer";

impl Plan {
    /// Start a resumable evaluation of `input` against this plan: see [`Evaluation`].
    /// (Defined here, beside the evaluator, so that the plan's data does not depend on
    /// it.)
    pub fn evaluation(self: &Arc<Plan>, input: Value) -> Evaluation {
        Evaluation::new(Arc::clone(self), input)
    }
}

/// An evaluation whose host calls the host answers, for host functions that are
/// asynchronous: the engine says which calls it needs, the host makes them (all at once
/// if it likes), answers, and polls again, until the evaluation decides.
///
/// The decision is the one [`Engine::evaluate`](crate::Engine::evaluate) gives when the
/// host functions return these answers. Every call asked for is one that evaluation
/// makes, each distinct call (function name and argument values) is asked for once, and
/// calls that do not wait on each other (those of different rules, or of different
/// actions of a matched rule) are asked for together. Within one rule calls are asked
/// one after another, since a call may end the rule or decide a short circuit
/// (`a() > 1 && b()` asks for `b` only once `a` is answered, and not when its answer is
/// `1`).
///
/// The plan, the input, the instant `now()` reads and the kill switch are fixed when the
/// evaluation starts. Only calls to host functions are asked for, and only to the ones
/// registered when the plan was compiled (a binding can register placeholders: their
/// bodies are never called here); built-ins and unregistered names behave as in
/// `evaluate`. The decision is counted in the engine's metrics once, however many rounds
/// it took.
///
/// ```
/// use acs_engine::{Engine, FunctionError, Step};
/// use serde_json::{json, Value};
///
/// let rules = r#"
/// - id: MAX_TRUCKS
///   priority: 100
///   severity: medium
///   description: Operators may not exceed their truck limit
///   condition: "db.count.trucksByOperator(ctx.operatorId) >= 10"
///   action:
///     - rejectRequest: { code: MAX_TRUCKS, message: too many trucks }
///   audit: true
/// "#;
/// // Registered so that the rules compile a host call; never called by an `Evaluation`.
/// let engine = Engine::builder()
///     .function("db.count.trucksByOperator", |_: &[&Value]| -> Result<Value, FunctionError> {
///         Err(FunctionError::failed("answered by the host"))
///     })
///     .load_str("rules.yaml", rules)?;
///
/// let mut evaluation = engine.evaluation(json!({"ctx": {"operatorId": "OP-1"}}));
/// let decision = loop {
///     match evaluation.poll() {
///         Step::Decided(decision) => break decision,
///         Step::Needs(calls) => {
///             for call in calls {
///                 // A real host starts every call here and answers as each completes.
///                 assert_eq!(call.function, "db.count.trucksByOperator");
///                 assert_eq!(call.args, [json!("OP-1")]);
///                 evaluation.answer(call.id, Ok(json!(12)))?;
///             }
///         }
///     }
/// };
/// assert!(decision.is_rejected());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Evaluation {
    plan: Arc<Plan>,
    input: Value,
    /// The kill switch as it stood at the start: every round evaluates the same rules.
    disabled: Box<[bool]>,
    /// What `now()` reads in every round: the instant the evaluation started.
    now: f64,
    book: Book,
    /// An answer came since the last round (or no round ran yet): the next poll runs one.
    answered: bool,
    /// Kept for a poll after the decision.
    decided: Option<Decision>,
    /// Where the decision's audit record goes, when the engine audits (set by
    /// `Engine::evaluation`).
    #[cfg(feature = "audit")]
    audit: Option<AuditHook>,
}

/// Hands a decided evaluation to the engine's audit log: the plan that decided, the
/// decision (marked `audit_unavailable` if it cannot be recorded), what the deciding
/// round used (host answers in call order, `now()`, velocity counts, rules switched off)
/// and the input, which the evaluation no longer needs.
#[cfg(feature = "audit")]
pub(crate) type AuditHook =
    Box<dyn FnOnce(&Arc<Plan>, &mut Decision, super::Recording, Value) + Send + Sync>;

/// What [`Evaluation::poll`] found.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Step {
    /// The evaluation is over: the decision, counted in the metrics (once: a later
    /// poll gives it again without counting it again).
    Decided(Decision),
    /// The evaluation needs these host calls answered, in the order they were met. They
    /// are the calls this poll asks for the first time: a call is asked for once, and a
    /// call asked for before and still unanswered is not listed again, so a host that
    /// polls before answering everything it was asked may get an empty list. Answer them
    /// with [`Evaluation::answer`] and poll again.
    Needs(Vec<HostCall>),
}

/// A host-function call an [`Evaluation`] needs answered: the host calls `function` with
/// `args` and passes the result to [`Evaluation::answer`] under `id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HostCall {
    /// Names the call to [`Evaluation::answer`]; ids count up from 0 in one evaluation.
    pub id: usize,
    /// The function's dotted name, as registered (`db.count.trucksByOperator`).
    pub function: String,
    /// The argument values, in order.
    pub args: Vec<Value>,
}

/// Why [`Evaluation::answer`] refused an answer. Refusing changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// No call with this id was asked for in this evaluation.
    #[error("no host call with id {id} was asked for in this evaluation")]
    UnknownCall {
        /// The id given.
        id: usize,
    },
    /// The call was answered already: an answer is final, since rounds after it may
    /// have used it.
    #[error("host call {id} is already answered")]
    AlreadyAnswered {
        /// The id given.
        id: usize,
    },
}

impl std::fmt::Debug for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluation")
            .field("generation", &self.plan.generation)
            .field("calls", &self.book.entries.len())
            .field("decided", &self.decided.is_some())
            .finish_non_exhaustive()
    }
}

impl Evaluation {
    fn new(plan: Arc<Plan>, input: Value) -> Evaluation {
        let disabled = plan
            .disabled
            .iter()
            .map(|off| off.load(Ordering::Relaxed))
            .collect();
        Evaluation {
            plan,
            input,
            disabled,
            now: builtins::now_millis(),
            book: Book::default(),
            answered: true,
            decided: None,
            #[cfg(feature = "audit")]
            audit: None,
        }
    }

    /// Record the decision through `hook` (the engine's audit log) when it is made.
    #[cfg(feature = "audit")]
    pub(crate) fn audited_by(mut self, hook: AuditHook) -> Evaluation {
        self.audit = Some(hook);
        self
    }

    /// Run one round: [`Step::Needs`] with the calls it asks for, or [`Step::Decided`].
    ///
    /// A poll when no answer came since the last one runs no round (it would ask for
    /// nothing new) and gives an empty [`Step::Needs`]. A poll after the decision gives
    /// the same decision again.
    pub fn poll(&mut self) -> Step {
        if let Some(decision) = &self.decided {
            return Step::Decided(decision.clone());
        }
        if !self.answered {
            return Step::Needs(Vec::new());
        }
        self.answered = false;
        let asked_before = self.book.entries.len();
        let decision = self.round(None, None);
        if self.book.waiting {
            let asked = self.book.entries.get(asked_before..).unwrap_or_default();
            return Step::Needs(asked.iter().map(|entry| entry.call.clone()).collect());
        }
        // The deciding round, run again to be counted (see the module's doc).
        let plan = Arc::clone(&self.plan);
        #[cfg(feature = "audit")]
        if let Some(audit) = self.audit.take() {
            // Run again with the recorder on: every call is answered by now, so this
            // round meets them all in the order a synchronous evaluation makes them,
            // which is the order the audit writer answers them in when it decides the
            // request again.
            let mut recording = super::Recording::lean();
            let mut decision = self.round(plan.counters.shard(), Some(&mut recording));
            audit(
                &plan,
                &mut decision,
                recording,
                std::mem::take(&mut self.input),
            );
            self.decided = Some(decision.clone());
            return Step::Decided(decision);
        }
        let decision = match plan.counters.shard() {
            Some(shard) => self.round(Some(shard), None),
            None => decision,
        };
        self.decided = Some(decision.clone());
        Step::Decided(decision)
    }

    /// [`Evaluation::poll`], making itself the calls of the functions in `functions` (a
    /// host's Rust functions, a stub table's) unless `for_host` claims the name, until the
    /// evaluation decides or needs calls only the host can make: those are returned, to be
    /// answered with [`Evaluation::answer`]. A binding whose own functions are
    /// asynchronous or must run on its own thread (JS, Python) drives an evaluation this
    /// way and sees only its own calls. A function that panics is that call's failure.
    pub fn poll_answering(
        &mut self,
        functions: &Functions,
        for_host: &dyn Fn(&str) -> bool,
    ) -> Step {
        loop {
            let calls = match self.poll() {
                Step::Needs(calls) => calls,
                decided => return decided,
            };
            let mut for_the_host = Vec::new();
            for call in calls {
                match functions.get(&call.function) {
                    Some(function) if !for_host(&call.function) => {
                        let args: Vec<&Value> = call.args.iter().collect();
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            function.call(&args)
                        }))
                        .unwrap_or_else(|_| {
                            Err(FunctionError::new(
                                FunctionError::PANICKED,
                                "the function panicked",
                            ))
                        });
                        // The id was just asked for: it cannot be unknown or answered.
                        let _ = self.answer(call.id, result);
                    }
                    _ => for_the_host.push(call),
                }
            }
            if !for_the_host.is_empty() {
                return Step::Needs(for_the_host);
            }
        }
    }

    /// Give the result of call `id` (from the [`HostCall`] the evaluation asked for):
    /// the function's value, or its failure, which becomes the calling rule's error
    /// exactly as when a host function fails in [`Engine::evaluate`](crate::Engine::evaluate).
    /// An unknown id, or a call answered already, is refused and changes nothing.
    pub fn answer(
        &mut self,
        id: usize,
        result: Result<Value, FunctionError>,
    ) -> Result<(), AnswerError> {
        let entry = self
            .book
            .entries
            .get_mut(id)
            .ok_or(AnswerError::UnknownCall { id })?;
        if entry.answer.is_some() {
            return Err(AnswerError::AlreadyAnswered { id });
        }
        entry.answer = Some(result);
        self.answered = true;
        Ok(())
    }

    /// Fix the instant `now()` reads, in epoch milliseconds (to replay a recorded
    /// decision: audit records hold the instant theirs read). Before the first poll.
    #[must_use]
    pub fn at(mut self, now_millis: f64) -> Evaluation {
        self.now = now_millis;
        self
    }

    /// Count and read velocity in `store` instead of the plan's (a replay answers from the
    /// counts its record holds). Before the first poll.
    #[must_use]
    pub fn with_velocity_store(mut self, store: crate::velocity::SharedStore) -> Evaluation {
        self.book.velocity_store = Some(store);
        self
    }

    /// The plan this evaluation runs, fixed when it started.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// One round over the pinned plan, input, instant and kill switch; counted into
    /// `shard` when given; recording into `recording` when given (an audited
    /// evaluation's deciding round), with every velocity count the evaluation used (its
    /// first round recorded them; this one may only read them).
    fn round(
        &mut self,
        shard: Option<&Shard>,
        mut recording: Option<&mut super::Recording>,
    ) -> Decision {
        let started = (shard.is_some() && metrics::sample_latency()).then(Instant::now);
        self.book.waiting = false;
        let mut evaluator = Evaluator::new(&self.input);
        evaluator.now = Some(self.now);
        evaluator.book = Some(&mut self.book);
        evaluator.recorder = recording.as_deref_mut();
        let disabled = &self.disabled;
        let off = |index: usize| disabled.get(index).is_none_or(|off| *off);
        let decision = decide(&self.plan, evaluator, off, shard, started);
        if let Some(recording) = recording {
            recording.velocity = self.book.velocity.recorded_counts();
        }
        decision
    }
}

/// Every host call asked for in one evaluation, with its answer once given. Looked up by
/// function name and argument values, one by one: it holds the calls of one evaluation,
/// as the synchronous path's memo does.
#[derive(Default)]
pub(crate) struct Book {
    /// A call's id is its index.
    entries: Vec<Entry>,
    /// This round met a call without an answer: it decides nothing.
    waiting: bool,
    /// The evaluation's velocity counts: recorded in its first round, read in every one.
    pub(super) velocity: super::velocity::VelocityState,
    /// Where its counts come from instead of the plan's store (a replay's recording).
    pub(super) velocity_store: Option<crate::velocity::SharedStore>,
}

struct Entry {
    call: HostCall,
    answer: Option<Result<Value, FunctionError>>,
    /// Recorded for the audit log in the deciding round (see `Book::answer_to_record`).
    #[cfg_attr(
        not(feature = "audit"),
        allow(dead_code, reason = "only an audited evaluation records")
    )]
    recorded: bool,
}

impl Book {
    /// The answer to record for a call met in an audited deciding round, as a
    /// synchronous evaluation would make the call: a memoised function's once per
    /// evaluation, any other's each time. `None` when it is not to be recorded (or has
    /// no answer).
    #[cfg(feature = "audit")]
    pub(super) fn answer_to_record(
        &mut self,
        function: &str,
        args: &[&Value],
        memoized: bool,
    ) -> Option<Result<Value, FunctionError>> {
        let index = self.position(function, args)?;
        let entry = self.entries.get_mut(index)?;
        if memoized && entry.recorded {
            return None;
        }
        entry.recorded = true;
        entry.answer.clone()
    }

    /// Where the call `function(args)` is in the book, if it was asked for.
    fn position(&self, function: &str, args: &[&Value]) -> Option<usize> {
        self.entries.iter().position(|entry| {
            *entry.call.function == *function
                && entry.call.args.len() == args.len()
                && entry.call.args.iter().zip(args).all(|(a, b)| a == *b)
        })
    }

    /// The answer to `function(args)`; `None` when there is none yet, and then the call
    /// is asked for (unless it was before) and the round marked as waiting.
    pub(super) fn look_up(
        &mut self,
        function: &str,
        args: &[&Value],
    ) -> Option<&Result<Value, FunctionError>> {
        let index = self.position(function, args).unwrap_or_else(|| {
            let id = self.entries.len();
            self.entries.push(Entry {
                call: HostCall {
                    id,
                    function: function.to_owned(),
                    args: args.iter().map(|arg| (*arg).clone()).collect(),
                },
                answer: None,
                recorded: false,
            });
            id
        });
        let answered = self
            .entries
            .get(index)
            .is_some_and(|entry| entry.answer.is_some());
        if !answered {
            self.waiting = true;
            return None;
        }
        self.entries
            .get(index)
            .and_then(|entry| entry.answer.as_ref())
    }
}
