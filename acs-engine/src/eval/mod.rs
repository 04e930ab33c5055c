//! Plan x input -> [`Decision`]. No I/O, no locks, no panics; one rule's error stays in
//! that rule. Host calls are memoised for the length of one evaluation.

mod ops;
mod value;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use smallvec::SmallVec;

pub use ops::values_equal;
pub(crate) use value::number;
use value::{Val, View};

use crate::decision::{Decision, RenderedAction, RuleError, RuleMatch, Verdict};
use crate::functions::{builtins, text_contains_pii, Builtin, FunctionError};
use crate::metrics;
use crate::plan::{
    merge_sorted, Callee, Node, Plan, Root, RulePlan, TemplatePlan, TextPlan, PATH_SLOTS,
};
use crate::source::Span;
use crate::syntax::BinaryOp;

/// An evaluation error, placed at the node that failed.
#[derive(Debug)]
pub(crate) struct EvalError {
    pub message: String,
    pub span: Span,
}

/// Errors are rare: boxed, they keep `Result<Val>` as small as `Val` on the hot path.
type Result<T> = std::result::Result<T, Box<EvalError>>;

static NULL: Value = Value::Null;

/// Keeps a host-function argument alive for the length of the call.
enum Arg<'a> {
    Borrowed(&'a Value),
    Shared(Rc<Value>),
    Temp(Value),
}

impl Arg<'_> {
    fn get(&self) -> &Value {
        match self {
            Arg::Borrowed(value) => value,
            Arg::Shared(value) => value,
            Arg::Temp(value) => value,
        }
    }
}

struct MemoEntry {
    slot: u32,
    args: Vec<Value>,
    result: std::result::Result<Rc<Value>, FunctionError>,
}

pub(crate) struct Evaluator<'a> {
    roots: [Option<&'a Value>; 4],
    /// Per-rule path cache (see `assign_path_slots`); `filled` marks the valid slots.
    slots: [Option<&'a Value>; PATH_SLOTS],
    filled: u8,
    memo: Vec<MemoEntry>,
    now: Option<f64>,
}

/// Evaluate every candidate rule of `plan` against `input`.
pub(crate) fn evaluate(plan: &Plan, input: &Value) -> Decision {
    let shard = plan.counters.shard();
    let started = (shard.is_some() && metrics::sample_latency()).then(Instant::now);
    let mut evaluator = Evaluator::new(input);
    let event_type = evaluator
        .path(Root::Event, &[], crate::plan::NO_SLOT)
        .and_then(|event| value::field(event, "type"))
        .and_then(Value::as_str);
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
        ruleset_hash: plan.content_hash.clone(),
    };
    for index in merge_sorted(gated, &plan.ungated) {
        let index = index as usize;
        let Some(rule) = plan.rules.get(index) else {
            continue;
        };
        if plan
            .switched_off
            .get(index)
            .is_none_or(|off| off.load(Ordering::Relaxed))
        {
            continue;
        }
        decision.rules_evaluated += 1;
        if let Some(shard) = shard {
            shard.rule_evaluated(index);
        }
        evaluator.start_rule();
        match evaluator.eval(&rule.condition) {
            Ok(value) if value.truthy() => {
                if let Some(shard) = shard {
                    shard.rule_matched(index);
                }
                let matched = evaluator.render_match(plan, rule, &mut decision.errors);
                if rule.shadow {
                    decision.shadow_matched.push(matched);
                    continue;
                }
                if matches!(decision.verdict, Verdict::Allowed) {
                    if let Some(reject) = rule.reject_action.and_then(|i| matched.actions.get(i)) {
                        decision.verdict = Verdict::Rejected {
                            rule_id: rule.id.clone(),
                            code: reject.params.get("code").map(display),
                            message: reject.params.get("message").map(display),
                        };
                    }
                }
                decision.matched.push(matched);
            }
            Ok(_) => {}
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

fn rule_error(plan: &Plan, rule: &RulePlan, error: EvalError) -> RuleError {
    RuleError {
        rule_id: rule.id.clone(),
        message: error.message,
        location: plan.sources.location(error.span),
    }
}

/// A value as text inside a string: strings raw, null empty, numbers without `.0`,
/// arrays and objects as JSON.
fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Evaluate one compiled expression to a JSON value.
pub(crate) fn evaluate_node(node: &Node, input: &Value) -> Result<Value> {
    Evaluator::new(input).eval(node).map(|v| v.to_value())
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

/// The message of a failed host call.
fn host_error(name: &str, error: FunctionError) -> String {
    match error {
        FunctionError::NotRegistered => {
            format!("function `{name}` is not registered for these arguments")
        }
        FunctionError::Failed(message) => format!("`{name}` failed: {message}"),
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
        Evaluator {
            roots: Root::ALL.map(|root| value::field(input, root.name())),
            slots: [None; PATH_SLOTS],
            filled: 0,
            memo: Vec::new(),
            now: None,
        }
    }

    /// Follow `root.k1.k2...` in the input; `None` where it is missing. A path with a
    /// slot is looked up once per rule and then read from the slot.
    #[inline]
    fn path(&mut self, root: Root, keys: &[Box<str>], slot: u8) -> Option<&'a Value> {
        let cached = usize::from(slot);
        if cached < PATH_SLOTS && self.filled & (1 << cached) != 0 {
            return self.slots.get(cached).copied().flatten();
        }
        let mut current = self.roots.get(root as usize).copied().flatten();
        for key in keys {
            current = current.and_then(|v| value::field(v, key));
        }
        if let Some(entry) = self.slots.get_mut(cached) {
            *entry = current;
            self.filled |= 1 << cached;
        }
        current
    }

    /// Forget cached paths: they belong to one rule.
    #[inline]
    fn start_rule(&mut self) {
        self.filled = 0;
    }

    pub(crate) fn eval(&mut self, node: &'a Node) -> Result<Val<'a>> {
        match node {
            Node::Const(value) => Ok(Val::from_ref(value)),
            Node::Path { root, keys, slot } => Ok(self
                .path(*root, keys, *slot)
                .map_or(Val::Null, Val::from_ref)),
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
            Node::Not(operand) => Ok(Val::Bool(!self.eval(operand)?.truthy())),
            Node::Neg(operand, span) => {
                let operand = self.eval(operand)?;
                match operand.view() {
                    View::Num(n) => Ok(Val::Num(-n)),
                    View::BigInt(i) => {
                        Ok(Val::from_owned(Value::Number(match i64::try_from(-i) {
                            Ok(n) => n.into(),
                            Err(_) => serde_json::Number::from_f64(-(i as f64))
                                .unwrap_or_else(|| 0.into()),
                        })))
                    }
                    View::Null => Ok(Val::Null),
                    other => Err(Box::new(EvalError {
                        message: format!("cannot negate {}", article(other.type_name())),
                        span: *span,
                    })),
                }
            }
            Node::And(items) => {
                for item in items.iter() {
                    if !self.eval(item)?.truthy() {
                        return Ok(Val::Bool(false));
                    }
                }
                Ok(Val::Bool(true))
            }
            Node::Or(items) => {
                for item in items.iter() {
                    if self.eval(item)?.truthy() {
                        return Ok(Val::Bool(true));
                    }
                }
                Ok(Val::Bool(false))
            }
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
                    BinaryOp::Eq => Val::Bool(ops::equal(a.view(), b.view())),
                    BinaryOp::Ne => Val::Bool(!ops::equal(a.view(), b.view())),
                    BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                        Val::Bool(ops::ordered(*op, a.view(), b.view()))
                    }
                    BinaryOp::In => Val::Bool(ops::contains(a.view(), b.view()).map_err(fail)?),
                    BinaryOp::Add
                    | BinaryOp::Sub
                    | BinaryOp::Mul
                    | BinaryOp::Div
                    | BinaryOp::Rem => ops::arithmetic(*op, &a, &b).map_err(fail)?,
                })
            }
            Node::Call { callee, args, span } => self.call(callee, args, *span),
            Node::PathCompare {
                root,
                keys,
                slot,
                op,
                constant,
                span,
            } => {
                let value = self.path(*root, keys, *slot);
                let (a, b) = (value.map_or(View::Null, View::of), View::of(constant));
                Ok(Val::Bool(match op {
                    BinaryOp::Eq => ops::equal(a, b),
                    BinaryOp::Ne => !ops::equal(a, b),
                    BinaryOp::In => ops::contains(a, b).map_err(|message| {
                        Box::new(EvalError {
                            message,
                            span: *span,
                        })
                    })?,
                    _ => ops::ordered(*op, a, b),
                }))
            }
        }
    }

    fn arg(&mut self, args: &'a [Node], i: usize, span: Span) -> Result<Val<'a>> {
        match args.get(i) {
            Some(node) => self.eval(node),
            None => Err(Box::new(EvalError {
                message: "missing argument".to_owned(),
                span,
            })),
        }
    }

    fn call(&mut self, callee: &'a Callee, args: &'a [Node], span: Span) -> Result<Val<'a>> {
        let fail = |message: String| Box::new(EvalError { message, span });
        match callee {
            Callee::Builtin(Builtin::TextContainsPii) => match self.arg(args, 0, span)?.view() {
                View::Str(text) => Ok(Val::Bool(text_contains_pii(text))),
                View::Null => Ok(Val::Bool(false)),
                other => Err(fail(format!(
                    "`textContainsPII` needs a string, found {}",
                    other.type_name()
                ))),
            },
            Callee::Builtin(Builtin::Distance) => {
                let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                    return Err(fail("`distance` takes 2 arguments".to_owned()));
                };
                let (a, b) = (self.arg_value(a)?, self.arg_value(b)?);
                let distance = builtins::distance(a.get(), b.get()).map_err(fail)?;
                Ok(distance.map_or(Val::Null, Val::Num))
            }
            Callee::Builtin(Builtin::Matches) => {
                let text = self.arg(args, 0, span)?;
                let pattern = self.arg(args, 1, span)?;
                let View::Str(pattern) = pattern.view() else {
                    return Err(fail("the pattern of `matches` must be a string".to_owned()));
                };
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| fail(format!("invalid regular expression `{pattern}`: {e}")))?;
                matches_text(&regex, text.view()).map_err(fail)
            }
            Callee::MatchesLiteral(regex) => {
                let text = self.arg(args, 0, span)?;
                matches_text(regex, text.view()).map_err(fail)
            }
            Callee::Builtin(Builtin::Now) => {
                Ok(Val::Num(*self.now.get_or_insert_with(builtins::now_millis)))
            }
            Callee::Unregistered(name) => Err(fail(format!("function `{name}` is not registered"))),
            Callee::Host {
                memoize,
                slot,
                name,
                function,
            } => {
                let mut held: SmallVec<[Arg<'a>; 4]> = SmallVec::with_capacity(args.len());
                for arg in args.iter() {
                    held.push(self.arg_value(arg)?);
                }
                let values: SmallVec<[&Value; 4]> = held.iter().map(Arg::get).collect();
                let call = || {
                    catch_unwind(AssertUnwindSafe(|| function.call(&values)))
                        .unwrap_or_else(|_| Err(FunctionError::failed("the function panicked")))
                };
                let result = if *memoize {
                    let cached = self
                        .memo
                        .iter()
                        .find(|entry| {
                            entry.slot == *slot
                                && entry.args.len() == values.len()
                                && entry.args.iter().zip(&values).all(|(a, b)| a == *b)
                        })
                        .map(|entry| entry.result.clone());
                    match cached {
                        Some(result) => result,
                        None => {
                            let result = call().map(Rc::new);
                            self.memo.push(MemoEntry {
                                slot: *slot,
                                args: values.iter().map(|v| (*v).clone()).collect(),
                                result: result.clone(),
                            });
                            result
                        }
                    }
                } else {
                    // Called once: no need to share the result.
                    return match call() {
                        Ok(value) => Ok(Val::from_owned(value)),
                        Err(error) => Err(fail(host_error(name, error))),
                    };
                };
                match result {
                    Ok(value) => Ok(Val::from_rc(value)),
                    Err(error) => Err(fail(host_error(name, error))),
                }
            }
        }
    }

    /// An argument for a host function, borrowed from the input or the plan when it comes
    /// from there (paths and constants, the usual case), so nothing is copied.
    fn arg_value(&mut self, node: &'a Node) -> Result<Arg<'a>> {
        Ok(match node {
            Node::Const(value) => Arg::Borrowed(value),
            Node::Path { root, keys, slot } => {
                Arg::Borrowed(self.path(*root, keys, *slot).unwrap_or(&NULL))
            }
            other => match self.eval(other)? {
                Val::Ref(value) => Arg::Borrowed(value),
                Val::Owned(value) => Arg::Shared(value),
                scalar => Arg::Temp(scalar.to_value()),
            },
        })
    }

    fn render_match(
        &mut self,
        plan: &Plan,
        rule: &'a RulePlan,
        errors: &mut Vec<RuleError>,
    ) -> RuleMatch {
        let mut actions = Vec::with_capacity(rule.actions.len());
        for action in rule.actions.iter() {
            let params = match &action.params {
                // No template inside: share the plan's copy.
                TemplatePlan::Value(constant) => Arc::clone(constant),
                template => match self.render(template) {
                    Ok(params) => Arc::new(params),
                    Err(error) => {
                        errors.push(rule_error(plan, rule, *error));
                        Arc::new(Value::Null)
                    }
                },
            };
            actions.push(RenderedAction {
                name: action.name.clone(),
                params,
            });
        }
        RuleMatch {
            id: rule.id.clone(),
            priority: rule.priority,
            severity: rule.severity,
            audit: rule.audit,
            actions,
        }
    }

    fn render(&mut self, template: &'a TemplatePlan) -> Result<Value> {
        Ok(match template {
            TemplatePlan::Value(value) => (**value).clone(),
            TemplatePlan::Expr(node) => self.eval(node)?.to_value(),
            TemplatePlan::Text(parts) => {
                let mut text = String::new();
                for part in parts.iter() {
                    match part {
                        TextPlan::Literal(literal) => text.push_str(literal),
                        TextPlan::Expr(node) => match self.eval(node)? {
                            Val::Str(s) => text.push_str(s),
                            Val::Null => {}
                            Val::Num(n)
                                if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 =>
                            {
                                text.push_str(itoa::Buffer::new().format(n as i64));
                            }
                            other => text.push_str(&display(&other.to_value())),
                        },
                    }
                }
                Value::String(text)
            }
            TemplatePlan::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items.iter() {
                    values.push(self.render(item)?);
                }
                Value::Array(values)
            }
            TemplatePlan::Object(entries) => {
                let mut map = Map::new();
                for (key, item) in entries.iter() {
                    map.insert(String::from(&**key), self.render(item)?);
                }
                Value::Object(map)
            }
        })
    }
}

fn matches_text<'a>(regex: &regex::Regex, text: View<'_>) -> std::result::Result<Val<'a>, String> {
    match text {
        View::Str(text) => Ok(Val::Bool(regex.is_match(text))),
        View::Null => Ok(Val::Bool(false)),
        other => Err(format!(
            "`matches` needs a string, found {}",
            other.type_name()
        )),
    }
}
