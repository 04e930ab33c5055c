//! Plan x input -> [`Decision`]. No I/O, no locks, no panics; one rule's error stays in
//! that rule. Host calls are memoised for the length of one evaluation. A host whose
//! functions are asynchronous evaluates in rounds instead (`resume.rs`): the same loop
//! and evaluator, with host calls answered from a book the host fills in.

mod call;
mod doc;
pub(crate) mod number;
mod ops;
mod render;
mod resume;
mod value;
mod velocity;

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::Value;

use doc::Doc;
pub(crate) use doc::LeafDoc;
#[cfg(feature = "simd")]
use doc::TapeRef;
#[cfg(feature = "tools")]
pub(crate) use ops::value_order;
pub use ops::values_equal;
use value::{Val, View};

/// The velocity events of the document `input` makes in `plan`'s counters (see
/// `backtest::Timeline`).
#[cfg(feature = "tools")]
pub(crate) fn velocity_events(plan: &Plan, input: &Value) -> Vec<crate::velocity::CountedEvent> {
    velocity::found(plan, input)
        .into_iter()
        .filter_map(|event| velocity::named(plan, event))
        .collect()
}

/// The velocity events of the JSON document `bytes` (by counter index), read in place
/// from a tape as requests are; none when they hold no document.
#[cfg(feature = "tools")]
pub(crate) fn velocity_found_json(plan: &Plan, bytes: &[u8]) -> velocity::Found {
    #[cfg(feature = "simd")]
    if let Some(found) =
        input::tape::with_input_tape(bytes, |tape| velocity::found(plan, TapeRef::root(tape)))
    {
        return found;
    }
    match input::parse(bytes) {
        Ok(document) => velocity::found(plan, &document),
        Err(_) => velocity::Found::new(),
    }
}

#[cfg(feature = "tools")]
pub(crate) use velocity::Found as VelocityFound;

/// The counts the document `input`'s rules may read of keys its own events do not count
/// in, each as the event it is not (see `backtest::Backtest::reads`).
#[cfg(feature = "tools")]
pub(crate) fn velocity_reads(plan: &Plan, input: &Value) -> Vec<crate::velocity::CountedEvent> {
    velocity::reads(plan, input)
        .into_iter()
        .filter_map(|(index, key, at)| velocity::named(plan, (index, key, None, at)))
        .collect()
}

use call::MemoEntry;
use resume::Book;
pub use resume::{AnswerError, Evaluation, HostCall, Step};
use smallvec::SmallVec;

use crate::decision::{Decision, Rejection, RuleError, Verdict};
use crate::input::{self, InputError, Root};
use crate::metrics;
use crate::plan::{merge_sorted, Node, PathTest, Plan, RulePlan, PATH_SLOTS};
use crate::source::Span;
use crate::syntax::BinaryOp;

impl Plan {
    /// Evaluate `input` against this plan, whatever the engine serves by now: a batch
    /// (a backtest, a replay) pins one plan for all its inputs and skips the engine's
    /// per-request plan lookup. Counted in the plan's metrics like
    /// [`Engine::evaluate`](crate::Engine::evaluate). (Defined here, beside the
    /// evaluator, so that the plan's data does not depend on it.)
    pub fn evaluate(&self, input: &Value) -> Decision {
        evaluate(self, input)
    }
}

/// An evaluation error, placed at the node that failed.
#[derive(Debug)]
pub(crate) struct EvalError {
    pub message: String,
    pub span: Span,
}

/// Errors are rare: boxed, they keep `Result<Val>` as small as `Val` on the hot path.
type Result<T> = std::result::Result<T, Box<EvalError>>;

/// Evaluates over a document `D`: a `&Value`, or a place on a simd-json tape (see `doc`).
/// Generic rather than an enum, so the `Value` form pays nothing for the tape's.
pub(crate) struct Evaluator<'a, D = &'a Value> {
    roots: [Option<D>; 4],
    /// Per-rule path cache (see `assign_path_slots`); `filled` marks the valid slots.
    slots: [Option<D>; PATH_SLOTS],
    /// Bit `i` set: `slots[i]` holds this rule's lookup (one bit per slot, see below).
    filled: u8,
    memo: Vec<MemoEntry>,
    now: Option<f64>,
    /// In a round of a resumable evaluation, the host's answers and the calls still to
    /// ask for (`resume.rs`): host calls are looked up there, never made. `None` on the
    /// synchronous path, which calls host functions itself; read only at a host call.
    book: Option<&'a mut Book>,
    /// When the decision is audited, the host calls made and the instant `now()` read,
    /// for the audit record (replay answers from them). `None` otherwise: read only at
    /// a host call (the slow path already) and at `now()`.
    recorder: Option<&'a mut Recording>,
    /// The plan's velocity counters, when it declares some (set by `decide`).
    velocity_plan: Option<&'a crate::plan::VelocityPlan>,
    /// The counts this evaluation recorded and read (in the book, for a resumable one).
    velocity: Option<Box<velocity::VelocityState>>,
    /// Where velocity counts come from instead of the plan's store (a backtest's
    /// timeline), when set.
    store: Option<crate::velocity::SharedStore>,
    /// Values borrowed from the document and the plan live for `'a`.
    lifetime: std::marker::PhantomData<&'a ()>,
}

// `filled` has a bit for every slot, so `1 << slot` in `Evaluator::path` cannot overflow.
const _: () = assert!(PATH_SLOTS <= u8::BITS as usize);

/// What an audited evaluation used from outside the input: the host calls it made, in
/// order (each distinct call once when memoised), and the instant `now()` read.
///
/// A request records lean: the answers alone, in the order the calls were made, and the
/// rules it found switched off. The audit writer then decides the request again with
/// those answers (`Recording::replaying`), which gives it the decision and each call's
/// name and arguments without the request thread copying any of them.
#[cfg_attr(
    not(feature = "audit"),
    allow(dead_code, reason = "only the audit feature reads a recording")
)]
#[derive(Debug, Default)]
pub(crate) struct Recording {
    /// Each call with its name and arguments (unless `lean`).
    pub calls: Vec<RecordedCall>,
    /// Each call's answer alone, in order (when `lean`).
    pub answers: Answers,
    pub lean: bool,
    /// Give `answers` back in order instead of calling the host (a writer's replay);
    /// `replayed` of them were.
    pub replay: bool,
    pub replayed: usize,
    /// The rules the evaluation skipped as switched off, by index.
    pub off: SmallVec<[u32; 4]>,
    pub now: Option<f64>,
    /// The velocity counts the evaluation used (recorded or read), so that a replay
    /// decides with the same counts.
    pub velocity: Vec<RecordedCount>,
}

/// A host call's answer.
pub(crate) type Answer = std::result::Result<Value, crate::functions::FunctionError>;
/// A request's answers, in call order: a `Vec`, not inline, because the recording is
/// moved on its way to the audit queue (measured: one answer inline cost more in moves
/// than the allocation it saves).
pub(crate) type Answers = Vec<Answer>;

#[cfg(feature = "audit")]
impl Recording {
    /// A request's recording: answers only.
    pub(crate) fn lean() -> Self {
        Recording {
            lean: true,
            ..Recording::default()
        }
    }

    /// A full recording of a decision made again from a lean one's answers, in order.
    pub(crate) fn replaying(answers: Answers, now: Option<f64>) -> Self {
        Recording {
            answers,
            replay: true,
            now,
            ..Recording::default()
        }
    }
}

impl Recording {
    /// The next answer of a replay, `None` once they are used up.
    pub(crate) fn next_answer(&mut self) -> Option<Answer> {
        let answer = self.answers.get_mut(self.replayed)?;
        self.replayed += 1;
        Some(std::mem::replace(answer, Ok(Value::Null)))
    }
}

/// One counter's counts for one key, as an evaluation used them; `Err`: unknown (the
/// store failed and the counter failed open), with why.
#[cfg_attr(
    not(feature = "audit"),
    allow(dead_code, reason = "only the audit feature reads a recording")
)]
#[derive(Debug, Clone)]
pub(crate) struct RecordedCount {
    /// The counter's index in the plan's velocity counters (its name and windows are the
    /// plan's: the recording goes with its plan).
    pub counter: u32,
    pub key: String,
    pub counts: std::result::Result<crate::velocity::Counts, String>,
}

/// One host call of an audited evaluation and its answer.
#[cfg_attr(
    not(feature = "audit"),
    allow(dead_code, reason = "only the audit feature reads a recording")
)]
#[derive(Debug)]
pub(crate) struct RecordedCall {
    pub name: String,
    pub args: Vec<Value>,
    pub result: std::result::Result<Value, crate::functions::FunctionError>,
}

/// [`evaluate`] recording the host calls and `now()` into `recording`, counted in the
/// plan's metrics like a request or (a backtest's) in none.
#[cfg(feature = "audit")]
pub(crate) fn evaluate_recorded<'a, D: Doc<'a>>(
    plan: &'a Plan,
    input: D,
    recording: &'a mut Recording,
    counted: bool,
    store: Option<crate::velocity::SharedStore>,
) -> Decision {
    let shard = if counted { plan.counters.shard() } else { None };
    let started = (shard.is_some() && metrics::sample_latency()).then(Instant::now);
    let mut evaluator = Evaluator::over(input);
    evaluator.recorder = Some(recording);
    evaluator.store = store;
    decide(
        plan,
        evaluator,
        |index| switched_off(plan, index),
        shard,
        started,
    )
}

/// A recorded request decided again by the audit writer: host calls answered from
/// `recording`'s answers in order, `now()` reading the recorded instant, velocity counts
/// from `store` (the recorded ones), the rules in `off` switched off as they were. Not
/// counted in the plan's metrics. The same plan and input give the request's decision:
/// evaluation depends on nothing else.
#[cfg(feature = "audit")]
pub(crate) fn evaluate_again<'a, D: Doc<'a>>(
    plan: &'a Plan,
    input: D,
    recording: &'a mut Recording,
    off: &[u32],
    store: crate::velocity::SharedStore,
) -> Decision {
    let mut evaluator = Evaluator::over(input);
    evaluator.now = recording.now;
    evaluator.recorder = Some(recording);
    evaluator.store = Some(store);
    decide(
        plan,
        evaluator,
        |index| u32::try_from(index).is_ok_and(|index| off.contains(&index)),
        None,
        None,
    )
}

/// Evaluate every candidate rule of `plan` against `input`.
pub(crate) fn evaluate(plan: &Plan, input: &Value) -> Decision {
    evaluate_counted(plan, input, plan.counters.shard())
}

/// `plan`'s decision on an input given as a host's leaves at its read paths.
pub(crate) fn evaluate_leaves(plan: &Plan, doc: &LeafDoc<'_>) -> Decision {
    evaluate_counted(plan, doc.root(), plan.counters.shard())
}

/// [`evaluate`] without touching the plan's metrics: backtests replay recorded traffic
/// through a live plan and must not show up as requests served.
#[cfg(feature = "tools")]
pub(crate) fn evaluate_uncounted(plan: &Plan, input: &Value) -> Decision {
    evaluate_counted(plan, input, None)
}

/// [`evaluate_uncounted`] with velocity counts read from `store` instead of the plan's
/// (a backtest's timeline of the whole input).
#[cfg(feature = "tools")]
pub(crate) fn evaluate_over_store<'a, D: Doc<'a>>(
    plan: &'a Plan,
    input: D,
    store: crate::velocity::SharedStore,
) -> Decision {
    let mut evaluator = Evaluator::over(input);
    evaluator.store = Some(store);
    decide(
        plan,
        evaluator,
        |index| switched_off(plan, index),
        None,
        None,
    )
}

/// [`evaluate_over_store`] of the JSON document `bytes`, read in place from a tape as
/// requests are.
#[cfg(feature = "tools")]
pub(crate) fn evaluate_json_over_store(
    plan: &Plan,
    bytes: &[u8],
    store: &crate::velocity::SharedStore,
) -> std::result::Result<Decision, InputError> {
    #[cfg(feature = "simd")]
    {
        let decided = input::tape::with_input_tape(bytes, |tape| {
            evaluate_over_store(plan, TapeRef::root(tape), store.clone())
        });
        if let Some(decision) = decided {
            return Ok(decision);
        }
    }
    let document = input::parse(bytes)?;
    Ok(evaluate_over_store(plan, &document, store.clone()))
}

/// [`evaluate_again`] of the JSON document `bytes`, read as the request read them: from
/// a tape where the request did, else parsed whole.
#[cfg(feature = "audit")]
pub(crate) fn evaluate_json_again(
    plan: &Plan,
    bytes: &[u8],
    recording: &mut Recording,
    off: &[u32],
    store: &crate::velocity::SharedStore,
) -> std::result::Result<Decision, InputError> {
    #[cfg(feature = "simd")]
    {
        let decided = input::tape::with_input_tape(bytes, |tape| {
            evaluate_again(
                plan,
                TapeRef::root(tape),
                &mut *recording,
                off,
                store.clone(),
            )
        });
        if let Some(decision) = decided {
            return Ok(decision);
        }
    }
    let document = input::parse(bytes)?;
    Ok(evaluate_again(
        plan,
        &document,
        recording,
        off,
        store.clone(),
    ))
}

/// [`evaluate_json`] with the host calls recorded (the audit trail's path): the bytes read
/// in place from a tape as without auditing.
#[cfg(feature = "audit")]
pub(crate) fn evaluate_json_recorded(
    plan: &Plan,
    bytes: &[u8],
    recording: &mut Recording,
    counted: bool,
) -> std::result::Result<Decision, InputError> {
    #[cfg(feature = "simd")]
    {
        let decided = input::tape::with_input_tape(bytes, |tape| {
            evaluate_recorded(plan, TapeRef::root(tape), &mut *recording, counted, None)
        });
        if let Some(decision) = decided {
            return Ok(decision);
        }
    }
    let document = input::parse(bytes)?;
    Ok(evaluate_recorded(plan, &document, recording, counted, None))
}

/// `plan`'s decision on the JSON document `bytes`: read in place from a simd-json tape;
/// what the tape declines, `serde_json` parses whole (and words the error). One path for
/// requests (`counted`: in the plan's metrics) and backtests (not counted, see
/// [`evaluate_uncounted`]). The caller has checked `bytes` against its limits.
pub(crate) fn evaluate_json(
    plan: &Plan,
    bytes: &[u8],
    counted: bool,
) -> std::result::Result<Decision, InputError> {
    let shard = if counted { plan.counters.shard() } else { None };
    if let Some(decision) = evaluate_tape(plan, bytes, shard) {
        return Ok(decision);
    }
    let document = input::parse(bytes)?;
    Ok(evaluate_counted(plan, &document, shard))
}

/// `plan`'s decision on `bytes` read from a simd-json tape, or `None` when the tape
/// declines them (invalid JSON, not an object, too deep, a number it cannot read as
/// `serde_json` does).
#[cfg(feature = "simd")]
fn evaluate_tape(plan: &Plan, bytes: &[u8], shard: Option<&metrics::Shard>) -> Option<Decision> {
    input::tape::with_input_tape(bytes, |tape| {
        evaluate_counted(plan, TapeRef::root(tape), shard)
    })
}

/// Without the `simd` feature there is no tape: `serde_json` reads every input.
#[cfg(not(feature = "simd"))]
fn evaluate_tape(_: &Plan, _: &[u8], _: Option<&metrics::Shard>) -> Option<Decision> {
    None
}

fn evaluate_counted<'a, D: Doc<'a>>(
    plan: &'a Plan,
    input: D,
    shard: Option<&metrics::Shard>,
) -> Decision {
    let started = (shard.is_some() && metrics::sample_latency()).then(Instant::now);
    decide(
        plan,
        Evaluator::over(input),
        |index| switched_off(plan, index),
        shard,
        started,
    )
}

/// The evaluation loop: every candidate rule of `plan` not `off`, in priority order, by
/// `evaluator`. One loop for the synchronous path and for every round of a resumable
/// evaluation (`resume.rs`), which brings its own evaluator (with its answer book and
/// instant) and its own copy of the kill switch. Inlined, and the switch a closure rather
/// than a slice, so that the synchronous path compiles to what it was before the split
/// (a slice argument costs it a register and a few spilled instructions per evaluation).
#[inline(always)]
fn decide<'a, D: Doc<'a>>(
    plan: &'a Plan,
    mut evaluator: Evaluator<'a, D>,
    off: impl Fn(usize) -> bool,
    shard: Option<&metrics::Shard>,
    started: Option<Instant>,
) -> Decision {
    let event_type = evaluator.event_type();
    if let Some(velocity) = plan.velocity.as_deref() {
        evaluator.velocity_plan = Some(velocity);
        evaluator.record_velocity(velocity, event_type);
    }
    let gated: &[u32] = event_type
        .and_then(|t| plan.by_type.get(t))
        .map_or(&[], |v| v);
    let mut decision = Decision {
        verdict: Verdict::Allowed,
        matched: Vec::new(),
        shadow_matched: Vec::new(),
        errors: Vec::new(),
        rules_evaluated: 0,
        generation: plan.generation,
        ruleset_hash: plan.ruleset_hash,
        audit_unavailable: false,
    };
    for index in merge_sorted(gated, &plan.ungated) {
        let index = index as usize;
        let Some(rule) = plan.rules.get(index) else {
            continue;
        };
        if off(index) {
            evaluator.note_off(index);
            continue;
        }
        decision.rules_evaluated += 1;
        if let Some(shard) = shard {
            shard.rule_evaluated(index);
        }
        evaluator.start_rule();
        match evaluator.test(&rule.condition) {
            Ok(true) => {
                if let Some(shard) = shard {
                    shard.rule_matched(index);
                }
                let matched = evaluator.render_match(plan, rule, &mut decision.errors);
                if rule.shadow {
                    decision.shadow_matched.push(matched);
                    continue;
                }
                if matches!(decision.verdict, Verdict::Allowed) {
                    if let Some(rejection) = Rejection::by(&matched) {
                        decision.verdict = Verdict::Rejected(rejection);
                    }
                }
                decision.matched.push(matched);
            }
            Ok(false) => {}
            Err(error) => {
                if let Some(shard) = shard {
                    shard.rule_errored(index);
                }
                decision.errors.push(rule_error(plan, rule, *error));
            }
        }
    }
    if let Some(shard) = shard {
        shard.evaluation_done();
        if let Some(started) = started {
            shard.record_latency(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
    }
    decision
}

/// Whether rule `index` is off now: disabled in its file or by the kill switch (or no
/// such rule).
#[inline(always)]
fn switched_off(plan: &Plan, index: usize) -> bool {
    plan.disabled
        .get(index)
        .is_none_or(|off| off.load(Ordering::Relaxed))
}

fn rule_error(plan: &Plan, rule: &RulePlan, error: EvalError) -> RuleError {
    RuleError {
        rule_id: rule.id.clone(),
        message: error.message,
        location: plan.sources.location(error.span),
    }
}

/// Evaluate one compiled expression to a JSON value.
pub(crate) fn evaluate_node(node: &Node, input: &Value) -> Result<Value> {
    Evaluator::new(input).eval(node).map(|v| v.to_value())
}

/// Evaluate one compiled expression with `now()` fixed, so the separately compiled parts
/// of one condition that `explain` evaluates see one instant, as a rule does; velocity
/// counts are read from `plan`'s store, and nothing is recorded.
pub(crate) fn evaluate_node_at(node: &Node, input: &Value, now: f64, plan: &Plan) -> Result<Value> {
    let mut evaluator = Evaluator::new(input);
    evaluator.now = Some(now);
    if let Some(velocity) = plan.velocity.as_deref() {
        evaluator.velocity_plan = Some(velocity);
        evaluator.velocity = Some(Box::new(velocity::VelocityState::read_only()));
    }
    evaluator.eval(node).map(|v| v.to_value())
}

/// Whether a condition with this value matches.
pub(crate) fn truthy(value: &Value) -> bool {
    Val::from_ref(value).truthy()
}

/// Whether `root.k1.k2...` is absent from `input` (a missing field, not a `null` one).
pub(crate) fn path_missing(input: &Value, root: Root, keys: &[Box<str>]) -> bool {
    Evaluator::new(input)
        .path(root, keys, crate::plan::NO_SLOT)
        .is_none()
}

/// Fold a node whose operands are all constants into a constant, when it evaluates cleanly.
pub(crate) fn fold_constant(node: Node) -> Node {
    let foldable = match &node {
        Node::Array(items) | Node::And(items) | Node::Or(items) => items.iter().all(is_const),
        Node::Not(x) | Node::Neg(x, _) => is_const(x),
        Node::Binary { lhs, rhs, .. } => is_const(lhs) && is_const(rhs),
        Node::Index { base, index } => is_const(base) && is_const(index),
        Node::Get { base, .. } => is_const(base),
        _ => false,
    };
    if !foldable {
        return node;
    }
    let empty = Value::Null;
    let mut evaluator = Evaluator::new(&empty);
    let folded = evaluator.eval(&node).map(|v| v.to_value());
    match folded {
        Ok(value) => Node::Const(value),
        Err(_) => node,
    }
}

/// "a string", "an array".
fn article(type_name: &str) -> String {
    let vowel = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_name}", if vowel { "an" } else { "a" })
}

fn is_const(node: &Node) -> bool {
    matches!(node, Node::Const(_))
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(input: &'a Value) -> Self {
        Evaluator::over(input)
    }
}

impl<'a, D: Doc<'a>> Evaluator<'a, D> {
    pub(crate) fn over(input: D) -> Self {
        // One pass over the input's top level finds all four roots (the last of
        // duplicate keys wins, as in a parse).
        let mut roots = [None; 4];
        input.each_entry(|key, value| {
            if let Some(root) = Root::by_name(key) {
                if let Some(slot) = roots.get_mut(root as usize) {
                    *slot = Some(value);
                }
            }
        });
        Evaluator {
            roots,
            slots: [None; PATH_SLOTS],
            filled: 0,
            memo: Vec::new(),
            now: None,
            book: None,
            recorder: None,
            velocity_plan: None,
            velocity: None,
            store: None,
            lifetime: std::marker::PhantomData,
        }
    }

    /// The input's `event.type`, when it is a string: what selects the rules and the
    /// velocity counters that run.
    #[inline]
    pub(super) fn event_type(&mut self) -> Option<&'a str> {
        self.path(Root::Event, &[], crate::plan::NO_SLOT)
            .and_then(|event| event.field("type"))
            .and_then(Doc::as_str)
    }

    /// Note that rule `index` was skipped as switched off, for the audit record's replay.
    #[cold]
    fn note_off(&mut self, index: usize) {
        if let (Some(recording), Ok(index)) = (self.recorder.as_deref_mut(), u32::try_from(index)) {
            recording.off.push(index);
        }
    }

    /// The instant `now()` reads: fixed at its first read for the whole evaluation (and
    /// noted for the audit record).
    pub(super) fn now(&mut self) -> f64 {
        let now = *self
            .now
            .get_or_insert_with(crate::functions::builtins::now_millis);
        if let Some(recording) = self.recorder.as_deref_mut() {
            recording.now = Some(now);
        }
        now
    }

    /// Follow `root.k1.k2...` in the input; `None` where it is missing. A path with a
    /// slot is looked up once per rule and then read from the slot.
    #[inline]
    pub(super) fn path(&mut self, root: Root, keys: &[Box<str>], slot: u8) -> Option<D> {
        let cached = usize::from(slot);
        if cached < PATH_SLOTS && self.filled & (1 << cached) != 0 {
            return self.slots.get(cached).copied().flatten();
        }
        let current = self.lookup(root, keys);
        if let Some(entry) = self.slots.get_mut(cached) {
            *entry = current;
            self.filled |= 1 << cached;
        }
        current
    }

    #[inline]
    fn lookup(&self, root: Root, keys: &[Box<str>]) -> Option<D> {
        let mut current = self.roots.get(root as usize).copied().flatten()?;
        for key in keys {
            current = current.field(key)?;
        }
        Some(current)
    }

    /// Forget cached paths: they belong to one rule.
    #[inline]
    fn start_rule(&mut self) {
        self.filled = 0;
    }

    /// `node` in a boolean context (a condition, an operand of `&&`, `||`, `!`): the
    /// truth value without building a value first.
    pub(crate) fn test(&mut self, node: &'a Node) -> Result<bool> {
        match node {
            Node::And(items) => {
                for item in items.iter() {
                    if !self.test_operand(item)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(items) => {
                for item in items.iter() {
                    if self.test_operand(item)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            other => self.test_operand(other),
        }
    }

    /// [`Evaluator::test`] for an operand of `&&` or `||`: comparisons, the usual
    /// operands, are decided here without another call into `test`.
    #[inline(always)]
    fn test_operand(&mut self, node: &'a Node) -> Result<bool> {
        match node {
            Node::And(_) | Node::Or(_) => self.test(node),
            Node::Not(operand) => Ok(!self.test(operand)?),
            Node::PathCompare {
                root,
                keys,
                slot,
                test,
                span,
            } => {
                let value = self.path(*root, keys, *slot);
                match test {
                    PathTest::Null { equal } => Ok(value.is_none_or(Doc::is_null) == *equal),
                    PathTest::Text { text, equal } => {
                        Ok((value.and_then(Doc::as_str) == Some(&**text)) == *equal)
                    }
                    PathTest::AmongTexts(texts) => Ok(value
                        .and_then(Doc::as_str)
                        .is_some_and(|found| texts.iter().any(|text| **text == *found))),
                    PathTest::Other { op, constant } => {
                        let (a, b) = (value.map_or(View::Null, Doc::view), View::of(constant));
                        ops::compare(*op, a, b).map_err(|error| {
                            Box::new(EvalError {
                                message: error.message(),
                                span: *span,
                            })
                        })
                    }
                }
            }
            Node::PathPair { op, lhs, rhs } => {
                let a = self.path(lhs.root, &lhs.keys, lhs.slot);
                let b = self.path(rhs.root, &rhs.keys, rhs.slot);
                let (a, b) = (
                    a.map_or(View::Null, Doc::view),
                    b.map_or(View::Null, Doc::view),
                );
                // A path pair is never `in` (compile/specialize.rs), the one comparison
                // that can fail, so there is no error to place (the node keeps no span).
                Ok(ops::compare(*op, a, b).unwrap_or(false))
            }
            Node::BoolCompare {
                operand,
                want,
                equal,
            } => {
                let is = matches!(self.eval(operand)?, Val::Bool(b) if b == *want);
                Ok(is == *equal)
            }
            Node::Binary {
                op:
                    op @ (BinaryOp::Eq
                    | BinaryOp::Ne
                    | BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge),
                lhs,
                rhs,
                span,
            } => {
                let a = self.eval(lhs)?;
                let b = self.eval(rhs)?;
                ops::compare(*op, a.view(), b.view()).map_err(|error| {
                    Box::new(EvalError {
                        message: error.message(),
                        span: *span,
                    })
                })
            }
            other => Ok(self.eval(other)?.truthy()),
        }
    }

    pub(crate) fn eval(&mut self, node: &'a Node) -> Result<Val<'a>> {
        match node {
            Node::Const(value) => Ok(Val::from_ref(value)),
            Node::Path { root, keys, slot } => {
                Ok(self.path(*root, keys, *slot).map_or(Val::Null, Doc::val))
            }
            Node::Get { base, keys } => {
                let mut value = self.eval(base)?;
                for key in keys.iter() {
                    value = value.member(key);
                }
                Ok(value)
            }
            Node::Index { base, index } => {
                let base = self.eval(base)?;
                let index = self.eval(index)?;
                Ok(base.index(&index))
            }
            Node::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items.iter() {
                    values.push(self.eval(item)?.to_value());
                }
                Ok(Val::Owned(Rc::new(Value::Array(values))))
            }
            Node::Not(operand) => Ok(Val::Bool(!self.test(operand)?)),
            Node::Neg(operand, span) => {
                let operand = self.eval(operand)?;
                match operand.view() {
                    View::Num(n) => Ok(Val::Num(-n)),
                    View::BigInt(i) => Ok(Val::from_owned(Value::Number(number::from_i128(-i)))),
                    View::Null => Ok(Val::Null),
                    other => Err(Box::new(EvalError {
                        message: format!("cannot negate {}", article(other.type_name())),
                        span: *span,
                    })),
                }
            }
            Node::And(_)
            | Node::Or(_)
            | Node::PathCompare { .. }
            | Node::PathPair { .. }
            | Node::BoolCompare { .. } => Ok(Val::Bool(self.test(node)?)),
            Node::Binary { op, lhs, rhs, span } => {
                let a = self.eval(lhs)?;
                let b = self.eval(rhs)?;
                let fail = |message: String| {
                    Box::new(EvalError {
                        message,
                        span: *span,
                    })
                };
                Ok(match op {
                    BinaryOp::Eq
                    | BinaryOp::Ne
                    | BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge
                    | BinaryOp::In => Val::Bool(
                        ops::compare(*op, a.view(), b.view())
                            .map_err(|error| fail(error.message()))?,
                    ),
                    BinaryOp::Add
                    | BinaryOp::Sub
                    | BinaryOp::Mul
                    | BinaryOp::Div
                    | BinaryOp::Rem => ops::arithmetic(*op, &a, &b).map_err(fail)?,
                })
            }
            Node::Call { callee, args, span } => self.call(callee, args, *span),
        }
    }
}

/// Whether a string is an RFC 3339 timestamp, which meets numbers as epoch milliseconds.
#[cfg(feature = "tools")]
pub(crate) fn is_timestamp(text: &str) -> bool {
    ops::timestamp_millis(text).is_some()
}
