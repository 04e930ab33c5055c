//! AST -> [`Node`]: resolve names, bind functions, fold constants, compile regexes.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use regex::RegexBuilder;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::gate::{conjuncts, event_type_gate, gate_of};
use super::{
    Callee, FieldPath, HolePlan, Node, PathTest, Plan, RulePlan,
    TextPlan, NO_SLOT, PATH_SLOTS,
};
use crate::decision::{ParamTemplate, RuleFacts};
use crate::diagnostic::Diagnostic;
use crate::eval::fold_constant;
use crate::functions::{Builtin, Functions};
use crate::input::Root;
use crate::metrics::PlanCounters;
use crate::ruleset::{RuleSet, SourceExpr, Template, TextPart};
use crate::source::SourceMap;
use crate::syntax::{BinaryOp, Expr, ExprKind, UnaryOp};

/// Largest compiled size of a regex literal, so a pattern cannot eat the host's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compile a rule set against the host's functions. Returns the plan and its warnings, or
/// every error found.
pub fn compile(
    rule_set: &RuleSet,
    functions: &Functions,
) -> Result<(Plan, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut call_sites = FxHashMap::default();
    for rule in &rule_set.rules {
        count_calls(&rule.condition.expr, &mut call_sites);
        for action in &rule.actions {
            for template in action.params.expressions() {
                count_calls(&template.expr, &mut call_sites);
            }
        }
    }
    let mut compiler = Compiler {
        functions,
        sources: &rule_set.sources,
        diagnostics: Vec::new(),
        host_slots: FxHashMap::default(),
        call_sites,
        rule_id: String::new(),
    };
    let mut order: Vec<usize> = (0..rule_set.rules.len()).collect();
    // A stable sort: equal priorities keep file order.
    order.sort_by_key(|&i| {
        std::cmp::Reverse(rule_set.rules.get(i).map_or(i64::MIN, |r| r.priority))
    });
    // Rules are compiled, and so allocated, grouped by their first `event.type`: the
    // rules an event runs then lie together in memory instead of spread over the whole
    // plan, which is what a large plan's cost per event is made of (BENCHMARKS.md,
    // "fresh events"). The plan keeps them in priority order all the same.
    let mut gates: Vec<Option<Vec<String>>> = order
        .iter()
        .map(|&i| {
            rule_set
                .rules
                .get(i)
                .and_then(|rule| event_type_gate(&rule.condition.expr))
        })
        .collect();
    let mut layout: Vec<usize> = (0..order.len()).collect();
    layout.sort_by(|&a, &b| {
        let first = |pos: usize| gates.get(pos).and_then(|g| g.as_ref()?.first());
        first(a).cmp(&first(b))
    });
    let mut placed: Vec<Option<RulePlan>> =
        std::iter::repeat_with(|| None).take(order.len()).collect();
    for position in layout {
        let Some(rule) = order.get(position).and_then(|&i| rule_set.rules.get(i)) else {
            continue;
        };
        compiler.rule_id.clone_from(&rule.id);
        // Once the index has picked a rule for an event, the event's type is known to
        // pass every gate conjunct: only the others are compiled.
        let gate = gates.get_mut(position).and_then(Option::take);
        let condition = match &gate {
            None => compiler.expr(&rule.condition, &rule.condition.expr),
            Some(_) => {
                let mut rest: Vec<Expr> = conjuncts(&rule.condition.expr)
                    .iter()
                    .filter(|c| gate_of(c).is_none())
                    .cloned()
                    .collect();
                match (rest.pop(), rest.is_empty()) {
                    (None, _) => Node::Const(Value::Bool(true)),
                    (Some(only), true) => compiler.expr(&rule.condition, &only),
                    (Some(last), false) => {
                        rest.push(last);
                        let and = Expr {
                            kind: ExprKind::And(rest),
                            span: rule.condition.expr.span,
                        };
                        compiler.expr(&rule.condition, &and)
                    }
                }
            }
        };
        let gate: Option<Box<[Box<str>]>> =
            gate.map(|types| types.into_iter().map(String::into_boxed_str).collect());
        let mut holes = Vec::new();
        let actions: Vec<(Box<str>, ParamTemplate)> = rule
            .actions
            .iter()
            .map(|action| {
                (
                    action.name.as_str().into(),
                    compiler.template(&action.params, &mut holes),
                )
            })
            .collect();
        let mut condition = condition;
        assign_path_slots(&mut condition, &mut holes);
        let id: Arc<str> = rule.id.as_str().into();
        let compiled = RulePlan {
            id: id.clone(),
            enabled: rule.enabled,
            shadow: rule.mode == crate::ruleset::RuleMode::Shadow,
            condition,
            facts: Arc::new(RuleFacts::new(
                id,
                rule.priority,
                rule.severity,
                rule.audit,
                actions,
            )),
            holes: holes.into_boxed_slice(),
            gate,
        };
        if let Some(slot) = placed.get_mut(position) {
            *slot = Some(compiled);
        }
    }
    let rules: Vec<RulePlan> = placed.into_iter().flatten().collect();
    // Rules were compiled grouped by type: report in the order of the files instead.
    compiler.diagnostics.sort_by_key(Diagnostic::file_order);
    if compiler.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(compiler.diagnostics);
    }
    let mut by_type: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
    let mut ungated = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        match &rule.gate {
            None => ungated.push(index),
            Some(types) => {
                for t in types.iter() {
                    by_type.entry(t.clone()).or_default().push(index);
                }
            }
        }
    }
    let ids: Box<[Arc<str>]> = rules.iter().map(|r| r.id.clone()).collect();
    let switched_off = rules.iter().map(|r| AtomicBool::new(!r.enabled)).collect();
    let counters = PlanCounters::new(rules.len());
    let plan = Plan {
        rules: rules.into_boxed_slice(),
        by_type: by_type
            .into_iter()
            .map(|(k, v)| (k, v.into_boxed_slice()))
            .collect(),
        ungated: ungated.into_boxed_slice(),
        ruleset_hash: rule_set.ruleset_hash,
        sources: Arc::clone(&rule_set.sources),
        warnings: Box::new([]),
        syntax_limits: crate::syntax::SyntaxLimits::default(),
        as_written: std::sync::OnceLock::new(),
        max_rendered_bytes: crate::Limits::default().max_rendered_bytes,
        generation: 0,
        loaded_at: SystemTime::now(),
        ids,
        switched_off,
        counters,
    };
    Ok((plan, compiler.diagnostics))
}

/// Compile one expression (not part of a rule set), e.g. for tools and tests.
pub(crate) fn compile_expression(
    source: &SourceExpr,
    sources: &SourceMap,
    functions: &Functions,
) -> Result<(Node, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut call_sites = FxHashMap::default();
    count_calls(&source.expr, &mut call_sites);
    let mut compiler = Compiler {
        functions,
        sources,
        diagnostics: Vec::new(),
        host_slots: FxHashMap::default(),
        call_sites,
        rule_id: String::new(),
    };
    let node = compiler.expr(source, &source.expr);
    for diagnostic in &mut compiler.diagnostics {
        diagnostic.rule_id = None;
    }
    if compiler.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(compiler.diagnostics);
    }
    Ok((node, compiler.diagnostics))
}

struct Compiler<'a> {
    functions: &'a Functions,
    sources: &'a SourceMap,
    diagnostics: Vec<Diagnostic>,
    host_slots: FxHashMap<String, u32>,
    /// How many call sites each function name has in the whole rule set.
    call_sites: FxHashMap<String, usize>,
    rule_id: String,
}

impl Compiler<'_> {
    fn report(&mut self, diagnostic: Diagnostic) {
        let diagnostic = diagnostic.for_rule(Some(&self.rule_id));
        self.diagnostics.push(diagnostic);
    }

    fn expr(&mut self, source: &SourceExpr, expr: &Expr) -> Node {
        let span = source.span(expr.span);
        let node = match &expr.kind {
            ExprKind::Null => Node::Const(Value::Null),
            ExprKind::Bool(b) => Node::Const(Value::Bool(*b)),
            ExprKind::Number(n) => Node::Const(crate::eval::number(*n)),
            ExprKind::String(s) => Node::Const(Value::String(s.clone())),
            ExprKind::Array(items) => {
                Node::Array(items.iter().map(|i| self.expr(source, i)).collect())
            }
            ExprKind::Name(name) => match Root::by_name(name) {
                Some(root) => Node::Path {
                    root,
                    keys: Box::new([]),
                    slot: NO_SLOT,
                },
                None => Node::Path {
                    root: Root::Event,
                    keys: Box::new([name.as_str().into()]),
                    slot: NO_SLOT,
                },
            },
            ExprKind::Member(..) if dotted_len(expr).is_some() => dotted_path(expr),
            ExprKind::Member(base, field) => match self.expr(source, base) {
                Node::Path { root, keys, .. } => Node::Path {
                    root,
                    keys: append(keys, field),
                    slot: NO_SLOT,
                },
                Node::Get { base, keys } => Node::Get {
                    base,
                    keys: append(keys, field),
                },
                other => Node::Get {
                    base: Box::new(other),
                    keys: Box::new([field.as_str().into()]),
                },
            },
            ExprKind::Index(base, index) => Node::Index {
                base: Box::new(self.expr(source, base)),
                index: Box::new(self.expr(source, index)),
            },
            ExprKind::Call {
                name,
                name_span,
                args,
            } => {
                let args: Box<[Node]> = args.iter().map(|a| self.expr(source, a)).collect();
                let callee = self.callee(source, name, source.span(*name_span), &args, expr);
                Node::Call { callee, args, span }
            }
            ExprKind::Unary(UnaryOp::Not, operand) => {
                Node::Not(Box::new(self.expr(source, operand)))
            }
            ExprKind::Unary(UnaryOp::Neg, operand) => {
                Node::Neg(Box::new(self.expr(source, operand)), span)
            }
            ExprKind::Binary(op, lhs, rhs) => Node::Binary {
                op: *op,
                lhs: Box::new(self.expr(source, lhs)),
                rhs: Box::new(self.expr(source, rhs)),
                span,
            },
            ExprKind::And(items) => Node::And(items.iter().map(|i| self.expr(source, i)).collect()),
            ExprKind::Or(items) => Node::Or(items.iter().map(|i| self.expr(source, i)).collect()),
        };
        specialize(fold_constant(node))
    }

    fn callee(
        &mut self,
        source: &SourceExpr,
        name: &str,
        name_span: crate::source::Span,
        args: &[Node],
        call: &Expr,
    ) -> Callee {
        if let Some(function) = self.functions.host(name) {
            let next = u32::try_from(self.host_slots.len()).unwrap_or(u32::MAX);
            let slot = *self.host_slots.entry(name.to_owned()).or_insert(next);
            return Callee::Host {
                // One call site runs at most once per evaluation: nothing to remember.
                memoize: self.call_sites.get(name).copied().unwrap_or(0) > 1,
                slot,
                name: name.into(),
                function: Arc::clone(function),
            };
        }
        let Some(builtin) = Builtin::by_name(name) else {
            let mut diagnostic = Diagnostic::warning("ACS401", format!("function `{name}` is not registered"))
                .at(self.sources, name_span)
                .with_help("calls to it fail at evaluation and the rule reports an error; register it with the engine");
            if let Some(near) = crate::ruleset::suggest_name(name, &self.functions.all_names()) {
                diagnostic = diagnostic.with_help(format!(
                    "did you mean `{near}`? (calls to `{name}` fail at evaluation)"
                ));
            }
            self.report(diagnostic);
            return Callee::Unregistered(name.into());
        };
        if args.len() != builtin.arity() {
            self.report(
                Diagnostic::error(
                    "ACS302",
                    format!(
                        "`{name}` takes {} argument{}, found {}",
                        builtin.arity(),
                        if builtin.arity() == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .at(self.sources, source.span(call.span)),
            );
            return Callee::Builtin(builtin);
        }
        if builtin == Builtin::Matches {
            if let (Some(Node::Const(pattern)), Some(pattern_expr)) =
                (args.get(1), call_args(call).get(1))
            {
                let pattern_span = source.span(pattern_expr.span);
                let Value::String(pattern) = pattern else {
                    self.report(
                        Diagnostic::error("ACS303", "the pattern of `matches` must be a string")
                            .at(self.sources, pattern_span),
                    );
                    return Callee::Builtin(builtin);
                };
                match RegexBuilder::new(pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(regex) => return Callee::MatchesLiteral(regex),
                    Err(error) => {
                        let detail = error.to_string();
                        let last = detail
                            .lines()
                            .rfind(|l| !l.trim().is_empty())
                            .unwrap_or("")
                            .trim();
                        self.report(
                            Diagnostic::error("ACS303", format!("invalid regular expression: {}", last.trim_start_matches("error: ")))
                                .at(self.sources, pattern_span)
                                .with_help("the syntax is that of the Rust `regex` crate (no look-around, no backreferences)"),
                        );
                    }
                }
            }
        }
        Callee::Builtin(builtin)
    }

    /// `template` as a decision reports it, with the program of each of its holes pushed
    /// to `holes` in the order the template takes their values back.
    fn template(&mut self, template: &Template, holes: &mut Vec<HolePlan>) -> ParamTemplate {
        match template {
            Template::Value(v) => ParamTemplate::Value(v.clone()),
            Template::Expr(e) => {
                holes.push(HolePlan::Expr(self.expr(e, &e.expr)));
                ParamTemplate::Hole
            }
            Template::Text(parts) => {
                let span = parts
                    .iter()
                    .find_map(|part| match part {
                        TextPart::Expr(e) => Some(e.span(e.expr.span)),
                        TextPart::Literal(_) => None,
                    })
                    .unwrap_or_default();
                holes.push(HolePlan::Text(
                    parts
                        .iter()
                        .map(|part| match part {
                            TextPart::Literal(text) => TextPlan::Literal(text.as_str().into()),
                            TextPart::Expr(e) => TextPlan::Expr(self.expr(e, &e.expr)),
                        })
                        .collect(),
                    span,
                ));
                ParamTemplate::Hole
            }
            Template::Array(items) => {
                ParamTemplate::Array(items.iter().map(|t| self.template(t, holes)).collect())
            }
            Template::Object(entries) => {
                // Compiled in key order, the order `serde_json::Map` keeps, so that the
                // holes are laid out as building and serializing take them back (see
                // `ParamTemplate`).
                let mut sorted: Vec<&(String, Template)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let entries: Box<[(Box<str>, ParamTemplate)]> = sorted
                    .into_iter()
                    .map(|(k, t)| (k.as_str().into(), self.template(t, holes)))
                    .collect();
                ParamTemplate::Object(entries)
            }
        }
    }
}

/// Give the paths a rule reads more than once (in its condition or its templates) a
/// cache slot, so each is looked up once per evaluation of the rule.
///
/// The paths are counted by reference and the slots decided per occurrence before any is
/// written, so no key list is copied (this ran for every path of every rule at load).
fn assign_path_slots(condition: &mut Node, holes: &mut [HolePlan]) {
    let occurrences = paths_read(condition, holes);
    let mut counts: FxHashMap<(Root, &[Box<str>]), usize> = FxHashMap::default();
    for &path in &occurrences {
        *counts.entry(path).or_default() += 1;
    }
    let mut slots: FxHashMap<(Root, &[Box<str>]), u8> = FxHashMap::default();
    let decided: Vec<Option<u8>> = occurrences
        .iter()
        .map(|&path| {
            if counts.get(&path).copied().unwrap_or(0) < 2 {
                return None;
            }
            let next = slots.len();
            if let Some(&existing) = slots.get(&path) {
                Some(existing)
            } else if next < PATH_SLOTS {
                let id = u8::try_from(next).unwrap_or(NO_SLOT);
                slots.insert(path, id);
                Some(id)
            } else {
                None
            }
        })
        .collect();
    if decided.iter().all(Option::is_none) {
        return;
    }
    let mut next = decided.into_iter();
    let mut assign = |_: Root, _: &[Box<str>], slot: &mut u8| {
        if let Some(Some(id)) = next.next() {
            *slot = id;
        }
    };
    visit_paths(condition, &mut assign);
    for hole in holes.iter_mut() {
        visit_hole_paths(hole, &mut assign);
    }
}

fn visit_hole_paths(hole: &mut HolePlan, f: &mut impl FnMut(Root, &[Box<str>], &mut u8)) {
    match hole {
        HolePlan::Expr(node) => visit_paths(node, f),
        HolePlan::Text(parts, _) => {
            for part in parts.iter_mut() {
                if let TextPlan::Expr(node) = part {
                    visit_paths(node, f);
                }
            }
        }
    }
}

fn visit_paths(node: &mut Node, f: &mut impl FnMut(Root, &[Box<str>], &mut u8)) {
    match node {
        Node::Path { root, keys, slot }
        | Node::PathCompare {
            root, keys, slot, ..
        } => f(*root, keys, slot),
        Node::PathPair { lhs, rhs, .. } => {
            f(lhs.root, &lhs.keys, &mut lhs.slot);
            f(rhs.root, &rhs.keys, &mut rhs.slot);
        }
        Node::Const(_) => {}
        Node::Get { base, .. }
        | Node::Not(base)
        | Node::Neg(base, _)
        | Node::BoolCompare { operand: base, .. } => visit_paths(base, f),
        Node::Index { base, index } => {
            visit_paths(base, f);
            visit_paths(index, f);
        }
        Node::Binary { lhs, rhs, .. } => {
            visit_paths(lhs, f);
            visit_paths(rhs, f);
        }
        Node::Array(items)
        | Node::And(items)
        | Node::Or(items)
        | Node::Call { args: items, .. } => {
            items.iter_mut().for_each(|n| visit_paths(n, f));
        }
    }
}

/// Every path occurrence of a rule, in [`visit_paths`] order.
fn paths_read<'a>(condition: &'a Node, holes: &'a [HolePlan]) -> Vec<(Root, &'a [Box<str>])> {
    let mut occurrences = Vec::new();
    let mut record = |root: Root, keys: &'a [Box<str>]| occurrences.push((root, keys));
    visit_paths_ref(condition, &mut record);
    for hole in holes {
        visit_hole_paths_ref(hole, &mut record);
    }
    occurrences
}

/// [`visit_hole_paths`] for reading: the same paths in the same order.
fn visit_hole_paths_ref<'a>(hole: &'a HolePlan, f: &mut impl FnMut(Root, &'a [Box<str>])) {
    match hole {
        HolePlan::Expr(node) => visit_paths_ref(node, f),
        HolePlan::Text(parts, _) => {
            for part in parts.iter() {
                if let TextPlan::Expr(node) = part {
                    visit_paths_ref(node, f);
                }
            }
        }
    }
}

/// [`visit_paths`] for reading: the same paths in the same order.
fn visit_paths_ref<'a>(node: &'a Node, f: &mut impl FnMut(Root, &'a [Box<str>])) {
    match node {
        Node::Path { root, keys, .. } | Node::PathCompare { root, keys, .. } => f(*root, keys),
        Node::PathPair { lhs, rhs, .. } => {
            f(lhs.root, &lhs.keys);
            f(rhs.root, &rhs.keys);
        }
        Node::Const(_) => {}
        Node::Get { base, .. }
        | Node::Not(base)
        | Node::Neg(base, _)
        | Node::BoolCompare { operand: base, .. } => visit_paths_ref(base, f),
        Node::Index { base, index } => {
            visit_paths_ref(base, f);
            visit_paths_ref(index, f);
        }
        Node::Binary { lhs, rhs, .. } => {
            visit_paths_ref(lhs, f);
            visit_paths_ref(rhs, f);
        }
        Node::Array(items)
        | Node::And(items)
        | Node::Or(items)
        | Node::Call { args: items, .. } => {
            items.iter().for_each(|n| visit_paths_ref(n, f));
        }
    }
}

/// Rewrite the commonest comparisons into nodes evaluated in one step: `path op constant`
/// (and `constant ==/!= path`) into [`Node::PathCompare`], `path op path` into
/// [`Node::PathPair`], `expr ==/!= true|false` into [`Node::BoolCompare`].
fn specialize(node: Node) -> Node {
    let Node::Binary { op, lhs, rhs, span } = node else {
        return node;
    };
    let comparison = matches!(
        op,
        BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::In
    );
    let symmetric = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
    match (*lhs, *rhs) {
        (Node::Path { root, keys, slot }, Node::Const(constant)) if comparison => {
            Node::PathCompare {
                root,
                keys,
                slot,
                test: PathTest::new(op, constant),
                span,
            }
        }
        (
            Node::Path { root, keys, slot },
            Node::Path {
                root: rroot,
                keys: rkeys,
                slot: rslot,
            },
        ) if comparison && op != BinaryOp::In => Node::PathPair {
            op,
            lhs: FieldPath { root, keys, slot },
            rhs: FieldPath {
                root: rroot,
                keys: rkeys,
                slot: rslot,
            },
        },
        (operand, Node::Const(Value::Bool(want))) if symmetric => Node::BoolCompare {
            operand: Box::new(operand),
            want,
            equal: op == BinaryOp::Eq,
        },
        // `'x' == path` is `path == 'x'`.
        (Node::Const(constant), path @ Node::Path { .. }) if symmetric => {
            specialize(Node::Binary {
                op,
                lhs: Box::new(path),
                rhs: Box::new(Node::Const(constant)),
                span,
            })
        }
        (lhs, rhs) => Node::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        },
    }
}

/// Count the call sites of each function name in `expr`.
fn count_calls(expr: &Expr, counts: &mut FxHashMap<String, usize>) {
    match &expr.kind {
        ExprKind::Call { name, args, .. } => {
            *counts.entry(name.clone()).or_default() += 1;
            args.iter().for_each(|a| count_calls(a, counts));
        }
        ExprKind::Array(items) | ExprKind::And(items) | ExprKind::Or(items) => {
            items.iter().for_each(|i| count_calls(i, counts));
        }
        ExprKind::Member(base, _) | ExprKind::Unary(_, base) => count_calls(base, counts),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            count_calls(a, counts);
            count_calls(b, counts);
        }
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::Name(_) => {}
    }
}

fn call_args(call: &Expr) -> &[Expr] {
    match &call.kind {
        ExprKind::Call { args, .. } => args,
        _ => &[],
    }
}

/// How many names `a.b.c` has (3), when the expression is a plain dotted path.
fn dotted_len(expr: &Expr) -> Option<usize> {
    match &expr.kind {
        ExprKind::Name(_) => Some(1),
        ExprKind::Member(base, _) => dotted_len(base).map(|n| n + 1),
        _ => None,
    }
}

/// `a.b.c` as one [`Node::Path`], its keys collected once: what compiling it member by
/// member gives (a path folds and specializes to itself), without copying the key list
/// at every member.
fn dotted_path(expr: &Expr) -> Node {
    let mut names: Vec<&str> = Vec::with_capacity(dotted_len(expr).unwrap_or(0));
    let mut at = expr;
    loop {
        match &at.kind {
            ExprKind::Member(base, field) => {
                names.push(field);
                at = base;
            }
            ExprKind::Name(name) => {
                names.push(name);
                break;
            }
            _ => break,
        }
    }
    names.reverse();
    let (root, skip) = match names.first().and_then(|head| Root::by_name(head)) {
        Some(root) => (root, 1),
        None => (Root::Event, 0),
    };
    Node::Path {
        root,
        keys: names.iter().skip(skip).map(|&k| k.into()).collect(),
        slot: NO_SLOT,
    }
}

fn append(keys: Box<[Box<str>]>, field: &str) -> Box<[Box<str>]> {
    let mut keys = keys.into_vec();
    keys.push(field.into());
    keys.into_boxed_slice()
}
