//! Building an explanation: re-parsing the plan's sources for the conditions as written,
//! then compiling and evaluating each sub-expression with the engine's own evaluator.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::compile::compile_expression_with;
use crate::eval::{evaluate_node_at, path_missing, truthy};
use crate::functions::builtins::now_millis;
use crate::functions::{FunctionError, Functions, HostFunction};
use crate::plan::{Callee, Node, Plan};
use crate::ruleset::{load_rule_set_with, RuleSet, SourceExpr};
use crate::source::{SourceFile, SourceMap};
use crate::syntax::{outside_strings, Expr, ExprKind, LocalSpan, SyntaxLimits};

use super::{ExplainedNode, Explanation, NodeOutcome, RuleExplanation, RuleOutcome};

/// Explain how `plan` decides `input`, with the host functions the plan was compiled
/// against (`Engine::explain` passes the engine's own).
///
/// Each sub-expression is compiled and evaluated on its own by the engine's evaluator, so
/// host functions may be called more often than by `Engine::evaluate`; within one
/// explanation a function is called once per distinct argument list, and `now()` is one
/// instant.
pub fn explain(plan: &Plan, functions: &Functions, input: &Value) -> Explanation {
    let event_type = input
        .get("event")
        .and_then(|event| event.get("type"))
        .and_then(Value::as_str);
    let rule_set = plan
        .as_written
        .get_or_init(|| reparse(plan.sources(), &plan.syntax_limits));
    let functions = remembering(functions);
    let now = now_millis();
    let rules = plan
        .candidate_rules(event_type)
        .into_iter()
        .filter_map(|id| {
            let compiled = plan.rules.iter().find(|r| &*r.id == id)?;
            let enabled = plan.rule_enabled(id).unwrap_or(false);
            let condition = match rule_set.rules.iter().find(|r| r.id == id) {
                Some(rule) => Explainer {
                    sources: &rule_set.sources,
                    functions: &functions,
                    input,
                    now,
                    source: &rule.condition,
                    plan,
                }
                .node(&rule.condition.expr, enabled),
                // The plan was compiled from these very sources, so this cannot happen;
                // say so rather than drop the rule.
                None => ExplainedNode {
                    text: String::new(),
                    location: None,
                    outcome: NodeOutcome::Error {
                        message: "the rule is not in the plan's sources".to_owned(),
                    },
                    children: Vec::new(),
                },
            };
            let outcome = match &condition.outcome {
                _ if !enabled => RuleOutcome::Disabled,
                NodeOutcome::Value { value, .. } if truthy(value) => RuleOutcome::Matched,
                NodeOutcome::Value { .. } | NodeOutcome::NotEvaluated => RuleOutcome::NotMatched,
                NodeOutcome::Error { .. } => RuleOutcome::Error,
            };
            Some(RuleExplanation {
                id: id.to_owned(),
                priority: compiled.facts.priority,
                severity: compiled.facts.severity,
                shadow: compiled.shadow,
                outcome,
                location: condition.location.clone(),
                condition,
            })
        })
        .collect();
    Explanation {
        event_type: event_type.map(str::to_owned),
        rules,
    }
}

/// The rule set behind a plan, parsed again from its sources: the plan keeps compiled
/// nodes only, and an explanation needs the tree as written, with its spans.
fn reparse(sources: &SourceMap, limits: &SyntaxLimits) -> RuleSet {
    let mut copy = SourceMap::default();
    for file in sources.files() {
        copy.add(SourceFile::new(file.name(), file.text()));
    }
    load_rule_set_with(copy, limits).0
}

/// The host functions, each remembering its results for the explanation, so every part
/// of a condition sees the same answer, as the parts of one evaluation do.
fn remembering(functions: &Functions) -> Functions {
    let mut remembered = Functions::new();
    for name in functions.host_names() {
        if let Some(function) = functions.host(name) {
            remembered.register(
                name,
                Remembered {
                    function: Arc::clone(function),
                    calls: Mutex::new(Vec::new()),
                },
            );
        }
    }
    remembered
}

/// Arguments and the answer they got.
type Answer = (Vec<Value>, Result<Value, FunctionError>);

struct Remembered {
    function: Arc<dyn HostFunction>,
    calls: Mutex<Vec<Answer>>,
}

impl HostFunction for Remembered {
    fn call(&self, args: &[&Value]) -> Result<Value, FunctionError> {
        let same = |(seen, _): &&Answer| {
            seen.len() == args.len() && seen.iter().zip(args).all(|(a, b)| a == *b)
        };
        if let Ok(calls) = self.calls.lock() {
            if let Some((_, result)) = calls.iter().find(same) {
                return result.clone();
            }
        }
        // Called outside the lock: a panicking function must not poison it.
        let result = self.function.call(args);
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((args.iter().map(|a| (*a).clone()).collect(), result.clone()));
        }
        result
    }
}

/// Explains the sub-expressions of one condition.
struct Explainer<'a> {
    sources: &'a SourceMap,
    functions: &'a Functions,
    input: &'a Value,
    now: f64,
    source: &'a SourceExpr,
    /// Velocity counts are read from the plan's store (an explanation records nothing).
    plan: &'a Plan,
}

impl Explainer<'_> {
    /// `expr` and its operands; `reached` says whether the evaluation gets to it at all.
    fn node(&self, expr: &Expr, reached: bool) -> ExplainedNode {
        let span = with_parentheses(&self.source.text, expr.span);
        let text = self
            .source
            .text
            .get(span.start..span.end)
            .unwrap_or_default()
            .to_owned();
        let location = self.sources.location(self.source.span(span));
        if !reached {
            return ExplainedNode {
                text,
                location,
                outcome: NodeOutcome::NotEvaluated,
                children: self.operands(expr, None, false),
            };
        }
        let compiled = self.compile(expr);
        let outcome = match &compiled {
            Err(message) => NodeOutcome::Error {
                message: message.clone(),
            },
            Ok(node) => match evaluate_node_at(node, self.input, self.now, self.plan) {
                Ok(value) => NodeOutcome::Value {
                    missing: value.is_null()
                        && matches!(node, Node::Path { root, keys, .. }
                            if path_missing(self.input, *root, keys)),
                    value,
                },
                Err(error) => NodeOutcome::Error {
                    message: error.message,
                },
            },
        };
        ExplainedNode {
            text,
            location,
            outcome,
            children: self.operands(expr, compiled.as_ref().ok(), true),
        }
    }

    /// The operands of `expr` worth showing, each marked reached or not the way the
    /// evaluator reaches them: `&&`/`||` stop at the deciding operand, everything else
    /// stops at the first error, and an unregistered function evaluates no argument.
    fn operands(&self, expr: &Expr, compiled: Option<&Node>, reached: bool) -> Vec<ExplainedNode> {
        if expr.as_dotted_path().is_some() {
            return Vec::new();
        }
        let (items, stop): (Vec<&Expr>, fn(&NodeOutcome) -> bool) = match &expr.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Name(_) => return Vec::new(),
            ExprKind::And(items) => (items.iter().collect(), |o| !is_truthy(o)),
            ExprKind::Or(items) => (items.iter().collect(), |o| is_truthy(o) || is_error(o)),
            ExprKind::Array(items) => (items.iter().collect(), is_error),
            ExprKind::Call { args, .. } => {
                let unregistered = matches!(
                    compiled,
                    Some(Node::Call {
                        callee: Callee::Unregistered(_),
                        ..
                    })
                );
                // An unregistered function fails before its arguments are evaluated.
                let args: Vec<&Expr> = args.iter().collect();
                return self.sequence(&args, reached && !unregistered, is_error);
            }
            ExprKind::Member(base, _) | ExprKind::Unary(_, base) => (vec![&**base], is_error),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => (vec![&**a, &**b], is_error),
        };
        self.sequence(&items, reached, stop)
    }

    /// Operands evaluated left to right until `stop` says one decided (or failed).
    fn sequence(
        &self,
        items: &[&Expr],
        mut reached: bool,
        stop: fn(&NodeOutcome) -> bool,
    ) -> Vec<ExplainedNode> {
        let mut shown = Vec::new();
        for item in items {
            let node = self.node(item, reached);
            reached = reached && !stop(&node.outcome);
            if !is_constant(item) || is_error(&node.outcome) {
                shown.push(node);
            }
        }
        shown
    }

    /// The engine's compiled form of one sub-expression, as if it were a whole condition.
    fn compile(&self, expr: &Expr) -> Result<Node, String> {
        let source = SourceExpr {
            text: self.source.text.clone(),
            expr: expr.clone(),
            map: self.source.map.clone(),
        };
        compile_expression_with(&source, self.sources, self.functions, self.plan)
            .map(|(node, _warnings)| node)
            .map_err(|diagnostics| {
                diagnostics.first().map_or_else(
                    || "cannot compile this expression".to_owned(),
                    |d| d.message.clone(),
                )
            })
    }
}

fn is_truthy(outcome: &NodeOutcome) -> bool {
    matches!(outcome, NodeOutcome::Value { value, .. } if truthy(value))
}

fn is_error(outcome: &NodeOutcome) -> bool {
    matches!(outcome, NodeOutcome::Error { .. })
}

/// Literals and expressions of literals (`'x'`, `-1`, `['a', 'b']`, `60 * 1000`) read no
/// input and say what they are: not worth a line of their own.
fn is_constant(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Null | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::String(_) => true,
        ExprKind::Name(_) | ExprKind::Call { .. } => false,
        ExprKind::Array(items) | ExprKind::And(items) | ExprKind::Or(items) => {
            items.iter().all(is_constant)
        }
        ExprKind::Member(operand, _) | ExprKind::Unary(_, operand) => is_constant(operand),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => is_constant(a) && is_constant(b),
    }
}

/// `span` widened over the parentheses it leaves unbalanced: the parser's spans leave out
/// a group's parentheses, so `(a * 2) + b` would otherwise read `a * 2) + b`.
fn with_parentheses(text: &str, span: LocalSpan) -> LocalSpan {
    let Some(inner) = text.get(span.start..span.end) else {
        return span;
    };
    let (mut unopened, mut unclosed) = (0usize, 0usize);
    for (_, c) in outside_strings(inner) {
        match c {
            '(' => unclosed += 1,
            ')' if unclosed > 0 => unclosed -= 1,
            ')' => unopened += 1,
            _ => {}
        }
    }
    let mut start = span.start;
    for _ in 0..unopened {
        let before = text.get(..start).unwrap_or_default().trim_end();
        match before.strip_suffix('(') {
            Some(rest) => start = rest.len(),
            None => break,
        }
    }
    let mut end = span.end;
    for _ in 0..unclosed {
        let after = text.get(end..).unwrap_or_default();
        let trimmed = after.trim_start();
        if !trimmed.starts_with(')') {
            break;
        }
        end += after.len() - trimmed.len() + 1;
    }
    LocalSpan { start, end }
}
