//! RuleSet -> [`Plan`]: the steps of compiling a rule set. Rules are put in priority
//! order and indexed by their `event.type` gate (`gate.rs`); each rule's condition and
//! action templates are compiled (`expr.rs`: names resolved, functions bound, constants
//! folded with the evaluator, regexes compiled), its commonest comparisons specialised
//! (`specialize.rs`) and the paths it reads twice given cache slots (`slots.rs`).

mod expr;
pub(crate) mod gate;
mod slots;
mod specialize;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use rustc_hash::FxHashMap;
use serde_json::Value;

use expr::{count_calls, Compiler};
use gate::{conjuncts, event_type_gate, gate_of};
use slots::assign_path_slots;

use crate::decision::{ParamTemplate, RuleFacts};
use crate::diagnostic::Diagnostic;
use crate::functions::Functions;
use crate::limits::Limits;
use crate::metrics::PlanCounters;
use crate::plan::{CounterPlan, Node, Plan, RulePlan, VelocityPlan};
use crate::ruleset::{RuleMode, RuleSet, SourceExpr};
use crate::source::SourceMap;
use crate::syntax::{Expr, ExprKind};

/// Compile a rule set against the host's functions, within the host's limits. Returns the
/// plan and its warnings, or every error found.
pub fn compile(
    rule_set: &RuleSet,
    functions: &Functions,
    limits: &Limits,
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
    let mut compiler = Compiler::new(functions, &rule_set.sources, call_sites);
    compiler.counters = rule_set
        .counters
        .iter()
        .map(|decl| (decl.counter.name.clone(), decl.counter.windows.clone()))
        .collect();
    let velocity = compile_counters(&mut compiler, rule_set, functions);
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
            shadow: rule.mode == RuleMode::Shadow,
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
    let disabled = rules.iter().map(|r| AtomicBool::new(!r.enabled)).collect();
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
        syntax_limits: limits.syntax(),
        as_written: std::sync::OnceLock::new(),
        max_rendered_bytes: limits.max_rendered_bytes,
        generation: 0,
        loaded_at: SystemTime::now(),
        ids,
        disabled,
        counters,
        velocity,
    };
    Ok((plan, compiler.diagnostics))
}

/// The declared counters, their keys and ids compiled as expressions, over the stores of
/// `functions` (or a new in-process store). `None` when nothing is declared.
fn compile_counters(
    compiler: &mut Compiler<'_>,
    rule_set: &RuleSet,
    functions: &Functions,
) -> Option<Box<VelocityPlan>> {
    if rule_set.counters.is_empty() {
        return None;
    }
    let mut counters = Vec::with_capacity(rule_set.counters.len());
    let mut by_type: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
    for (index, decl) in rule_set.counters.iter().enumerate() {
        compiler.rule_id.clone_from(&decl.counter.name);
        let key = decl
            .key
            .iter()
            .map(|part| compiler.expr(part, &part.expr))
            .collect();
        let id = decl.id.as_ref().map(|id| compiler.expr(id, &id.expr));
        let time = decl.time.as_ref().map(|t| compiler.expr(t, &t.expr));
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        for event in &decl.counter.events {
            let counting = by_type.entry(event.as_str().into()).or_default();
            if !counting.contains(&index) {
                counting.push(index);
            }
        }
        counters.push(CounterPlan {
            counter: decl.counter.clone(),
            key,
            id,
            time,
        });
    }
    compiler.rule_id.clear();
    let stores = functions.velocity_stores_if_any().unwrap_or_else(|| {
        let local = Arc::new(crate::velocity::LocalStore::default());
        crate::functions::VelocityStores {
            store: local.clone(),
            local,
        }
    });
    Some(Box::new(VelocityPlan {
        counters: counters.into_boxed_slice(),
        by_type: by_type
            .into_iter()
            .map(|(k, v)| (k, v.into_boxed_slice()))
            .collect(),
        store: stores.store,
        local: stores.local,
    }))
}

/// Compile one expression (not part of a rule set), e.g. for tools and tests.
pub(crate) fn compile_expression(
    source: &SourceExpr,
    sources: &SourceMap,
    functions: &Functions,
) -> Result<(Node, Vec<Diagnostic>), Vec<Diagnostic>> {
    compile_expression_over(source, sources, functions, Vec::new())
}

/// [`compile_expression`] for a part of one of `plan`'s rules: velocity calls resolve
/// against the plan's counters.
pub(crate) fn compile_expression_with(
    source: &SourceExpr,
    sources: &SourceMap,
    functions: &Functions,
    plan: &Plan,
) -> Result<(Node, Vec<Diagnostic>), Vec<Diagnostic>> {
    let counters = plan
        .velocity
        .as_deref()
        .map(|velocity| {
            velocity
                .counters
                .iter()
                .map(|c| (c.counter.name.clone(), c.counter.windows.clone()))
                .collect()
        })
        .unwrap_or_default();
    compile_expression_over(source, sources, functions, counters)
}

fn compile_expression_over(
    source: &SourceExpr,
    sources: &SourceMap,
    functions: &Functions,
    counters: Vec<(String, Vec<crate::velocity::Window>)>,
) -> Result<(Node, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut call_sites = FxHashMap::default();
    count_calls(&source.expr, &mut call_sites);
    let mut compiler = Compiler::new(functions, sources, call_sites);
    compiler.counters = counters;
    let node = compiler.expr(source, &source.expr);
    for diagnostic in &mut compiler.diagnostics {
        diagnostic.rule_id = None;
    }
    if compiler.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(compiler.diagnostics);
    }
    Ok((node, compiler.diagnostics))
}
