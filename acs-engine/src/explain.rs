//! Explanations: for one input and each candidate rule, the value of every
//! sub-expression of its condition, so a person sees why it matched or not. Built from the
//! engine's own parser, compiler and evaluator, so it cannot disagree with a decision.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::eval::{evaluate_node_at, path_missing, truthy};
use crate::functions::builtins::now_millis;
use crate::functions::{FunctionError, Functions, HostFunction};
use crate::plan::{compile_expression, Callee, Node, Plan};
use crate::ruleset::{load_rule_set_with, RuleSet, RuleSeverity, SourceExpr};
use crate::source::{Location, SourceFile, SourceMap};
use crate::syntax::{Expr, ExprKind, LocalSpan, SyntaxLimits};

/// How the candidate rules of a plan fare on one input, node by node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The input's `event.type` when it is a string: it picks the gated rules.
    pub event_type: Option<String>,
    /// Every rule the plan checks for this event type, in evaluation order (priority,
    /// then file order), including rules switched off.
    pub rules: Vec<RuleExplanation>,
}

/// One candidate rule: its outcome and its condition as a tree of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleExplanation {
    /// Rule id.
    pub id: String,
    /// Rule priority.
    pub priority: i64,
    /// Rule severity.
    pub severity: RuleSeverity,
    /// `mode: shadow`: a match goes to `Decision::shadow_matched`, never to the verdict.
    pub shadow: bool,
    /// Whether the rule matched.
    pub outcome: RuleOutcome,
    /// Where the condition starts in the rules file.
    pub location: Option<Location>,
    /// The condition, with the value of each sub-expression.
    pub condition: ExplainedNode,
}

/// What became of one candidate rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    /// The condition was truthy.
    Matched,
    /// The condition was falsy.
    NotMatched,
    /// The condition raised an error, so the rule did not match.
    Error,
    /// Switched off (`enabled: false` or the engine's kill switch): not evaluated.
    SwitchedOff,
}

/// One sub-expression of a condition. Literals are not listed as nodes of their own, and
/// a path such as `operator.kycStatus` is one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainedNode {
    /// The sub-expression as written (YAML quoting removed).
    pub text: String,
    /// Where it is in the rules file.
    pub location: Option<Location>,
    /// Its value, or why there is none.
    #[serde(flatten)]
    pub outcome: NodeOutcome,
    /// Its operands, in evaluation order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ExplainedNode>,
}

/// The value of a sub-expression, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum NodeOutcome {
    /// Evaluated to `value`.
    Value {
        /// The value.
        value: Value,
        /// The sub-expression is a path that is absent from the input (so `value` is null).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        missing: bool,
    },
    /// Never reached: an earlier operand of `&&` / `||` decided, an earlier operand
    /// failed, or the function called is not registered.
    NotEvaluated,
    /// Evaluating it failed.
    Error {
        /// What went wrong, one line.
        message: String,
    },
}

impl Explanation {
    /// Ids of the matched enforced rules, in order: `Decision::matched_ids` for the input.
    pub fn matched_ids(&self) -> Vec<&str> {
        self.ids_where(|r| r.outcome == RuleOutcome::Matched && !r.shadow)
    }

    /// Ids of the matched `mode: shadow` rules, in order.
    pub fn shadow_matched_ids(&self) -> Vec<&str> {
        self.ids_where(|r| r.outcome == RuleOutcome::Matched && r.shadow)
    }

    /// Ids of the rules whose condition failed, in order.
    pub fn error_ids(&self) -> Vec<&str> {
        self.ids_where(|r| r.outcome == RuleOutcome::Error)
    }

    fn ids_where(&self, keep: impl Fn(&RuleExplanation) -> bool) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.id.as_str())
            .collect()
    }
}

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
            let active = plan.rule_active(id).unwrap_or(false);
            let condition = match rule_set.rules.iter().find(|r| r.id == id) {
                Some(rule) => Explainer {
                    sources: &rule_set.sources,
                    functions: &functions,
                    input,
                    now,
                    source: &rule.condition,
                }
                .node(&rule.condition.expr, active),
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
                _ if !active => RuleOutcome::SwitchedOff,
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
            Ok(node) => match evaluate_node_at(node, self.input, self.now) {
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
        compile_expression(&source, self.sources, self.functions)
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
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in inner.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' => unclosed += 1,
                ')' if unclosed > 0 => unclosed -= 1,
                ')' => unopened += 1,
                _ => {}
            },
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

// ---------------------------------------------------------------------------------------
// Human rendering
// ---------------------------------------------------------------------------------------

/// Longest sub-expression text shown on one line of the rendering.
const MAX_TEXT_CHARS: usize = 72;
/// Longest value shown.
const MAX_VALUE_CHARS: usize = 48;
/// Longest error message shown.
const MAX_ERROR_CHARS: usize = 100;

impl Explanation {
    /// The first line of the rendering: how many rules the event's type selects.
    pub fn summary(&self) -> String {
        let count = self.rules.len();
        let plural = if count == 1 { "" } else { "s" };
        match &self.event_type {
            Some(event_type) => {
                format!("{count} candidate rule{plural} for event type `{event_type}`")
            }
            None => {
                format!("{count} candidate rule{plural} (the input has no string `event.type`)")
            }
        }
    }
}

impl fmt::Display for Explanation {
    /// The [summary](Explanation::summary), then each rule as [`RuleExplanation`] renders
    /// it, a blank line before each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        for rule in &self.rules {
            writeln!(f)?;
            write!(f, "{rule}")?;
        }
        Ok(())
    }
}

impl RuleExplanation {
    /// The first line of the rendering: id, priority, severity and outcome.
    pub fn header(&self) -> String {
        let outcome = match self.outcome {
            RuleOutcome::Matched => "MATCHED",
            RuleOutcome::NotMatched => "not matched",
            RuleOutcome::Error => "ERROR",
            RuleOutcome::SwitchedOff => "switched off",
        };
        let shadow = if self.shadow { " (shadow)" } else { "" };
        format!(
            "{}  priority {}  {}  {outcome}{shadow}",
            self.id,
            self.priority,
            severity_name(self.severity)
        )
    }
}

impl fmt::Display for RuleExplanation {
    /// The header, the condition's location, then the condition as a tree with each
    /// node's value in a column: long texts and values are shortened, nodes never reached
    /// say `(not evaluated)`, failed ones `error: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.header())?;
        if let Some(location) = &self.location {
            writeln!(f, "  {location}")?;
        }
        let mut rows = Vec::new();
        tree_rows(&self.condition, "", "", &mut rows);
        let width = rows
            .iter()
            .map(|(left, _)| left.chars().count())
            .max()
            .unwrap_or(0);
        for (left, value) in rows {
            let pad = width - left.chars().count();
            writeln!(f, "  {left}{:pad$}  {value}", "")?;
        }
        Ok(())
    }
}

/// One `(tree and text, value)` row per node, depth first.
fn tree_rows(node: &ExplainedNode, lead: &str, rest: &str, rows: &mut Vec<(String, String)>) {
    let text = shorten(&collapse_whitespace(&node.text), MAX_TEXT_CHARS);
    rows.push((format!("{lead}{text}"), value_text(&node.outcome)));
    let count = node.children.len();
    for (i, child) in node.children.iter().enumerate() {
        let last = i + 1 == count;
        let (branch, under) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        tree_rows(
            child,
            &format!("{rest}{branch}"),
            &format!("{rest}{under}"),
            rows,
        );
    }
}

fn value_text(outcome: &NodeOutcome) -> String {
    match outcome {
        NodeOutcome::Value { value, missing } => {
            let text = shorten(&value.to_string(), MAX_VALUE_CHARS);
            if *missing {
                format!("{text} (missing)")
            } else {
                text
            }
        }
        NodeOutcome::NotEvaluated => "(not evaluated)".to_owned(),
        NodeOutcome::Error { message } => {
            format!("error: {}", shorten(message, MAX_ERROR_CHARS))
        }
    }
}

/// A condition written over several YAML lines reads as one line.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

fn severity_name(severity: RuleSeverity) -> &'static str {
    match severity {
        RuleSeverity::Low => "low",
        RuleSeverity::Medium => "medium",
        RuleSeverity::High => "high",
        RuleSeverity::Critical => "critical",
    }
}
