//! ACS420 (never true), ACS421 (always true) and ACS422 (a comparison between types that
//! can never satisfy it). Reasoning is local and sound: every finding is a certainty,
//! and conditions it cannot decide are left alone.

use serde_json::Value;

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use std::cmp::Ordering;

use crate::eval::value_order;
use crate::eval::values_equal;
use crate::lint::facts::{
    compared_with_literal, conjuncts, literal, path_of, shown, truthy, types_of, walk, Types,
};
use crate::syntax::{to_source, BinaryOp, Expr, ExprKind, UnaryOp};

pub(crate) struct Satisfiable;

impl Check for Satisfiable {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        let condition = &cx.rule.condition;
        walk(&condition.expr, &mut |expr| {
            if let ExprKind::Binary(op, lhs, rhs) = &expr.kind {
                if let Some((always, why)) = fixed_comparison(*op, lhs, rhs, &condition.text) {
                    findings.push(cx.at(
                        Diagnostic::error(
                            "ACS422",
                            format!("this comparison is always {always}: {why}"),
                        ),
                        condition,
                        expr.span,
                    ));
                }
            }
        });
        match constant_truth(&condition.expr, &condition.text) {
            Some(true) => findings.push(
                cx.at(
                    Diagnostic::error(
                        "ACS421",
                        "the condition is always true: the rule matches every event",
                    )
                    .with_help(
                        "a rule must test something of the input; add the `event.type` it is for",
                    ),
                    condition,
                    condition.expr.span,
                ),
            ),
            Some(false) => findings.push(cx.at(
                Diagnostic::error(
                    "ACS420",
                    "the condition can never be true: the rule never matches",
                ),
                condition,
                condition.expr.span,
            )),
            None => {
                if let Some((conjunct, why)) = contradiction(conjuncts(&condition.expr)) {
                    findings.push(cx.at(
                        Diagnostic::error(
                            "ACS420",
                            format!("the condition can never be true: {why}"),
                        ),
                        condition,
                        conjunct.span,
                    ));
                }
            }
        }
    }
}

/// The truth of an expression when it is the same for every input.
fn constant_truth(expr: &Expr, text: &str) -> Option<bool> {
    if let Some(value) = literal(expr) {
        return Some(truthy(&value));
    }
    match &expr.kind {
        ExprKind::Unary(UnaryOp::Not, inner) => constant_truth(inner, text).map(|t| !t),
        ExprKind::And(items) => {
            let truths: Vec<Option<bool>> = items.iter().map(|i| constant_truth(i, text)).collect();
            if truths.contains(&Some(false)) {
                Some(false)
            } else if truths.iter().all(|t| *t == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        ExprKind::Or(items) => {
            let truths: Vec<Option<bool>> = items.iter().map(|i| constant_truth(i, text)).collect();
            if truths.contains(&Some(true)) {
                Some(true)
            } else if truths.iter().all(|t| *t == Some(false)) {
                Some(false)
            } else {
                None
            }
        }
        ExprKind::Binary(op, lhs, rhs) => {
            if let (Some(a), Some(b)) = (literal(lhs), literal(rhs)) {
                match op {
                    BinaryOp::Eq => return Some(values_equal(&a, &b)),
                    BinaryOp::Ne => return Some(!values_equal(&a, &b)),
                    _ => {}
                }
            }
            if let (Some(a), Some(b)) = (path_of(lhs), path_of(rhs)) {
                if a == b {
                    // null == null, and a value always equals itself.
                    match op {
                        BinaryOp::Eq => return Some(true),
                        BinaryOp::Ne => return Some(false),
                        _ => {}
                    }
                }
            }
            fixed_comparison(*op, lhs, rhs, text).map(|(always, _)| always)
        }
        _ => None,
    }
}

fn describe(expr: &Expr, text: &str) -> String {
    match literal(expr) {
        Some(Value::String(s)) => format!("the string `'{s}'`"),
        Some(Value::Number(n)) => format!("the number `{n}`"),
        Some(Value::Bool(b)) => format!("`{b}`"),
        Some(Value::Null) => "`null`".to_owned(),
        _ => {
            let written = text
                .get(expr.span.start..expr.span.end)
                .map_or_else(|| to_source(expr), str::to_owned);
            format!("`{written}` ({})", types_of(expr).describe())
        }
    }
}

fn is_timestamp_literal(expr: &Expr) -> bool {
    matches!(&expr.kind, ExprKind::String(s) if crate::eval::is_timestamp(s))
}

/// `Some((result, why))` when `lhs op rhs` has the same result for every input because
/// of the operands' types.
fn fixed_comparison(op: BinaryOp, lhs: &Expr, rhs: &Expr, text: &str) -> Option<(bool, String)> {
    let (left, right) = (types_of(lhs), types_of(rhs));
    match op {
        BinaryOp::Eq | BinaryOp::Ne if !left.meets(right) => Some((
            op == BinaryOp::Ne,
            format!(
                "{} is never equal to {}",
                describe(lhs, text),
                describe(rhs, text)
            ),
        )),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let num_str = |a: Types, a_expr: &Expr, b: Types, b_expr: &Expr| {
                let a_num =
                    a.meets(Types::NUM) || (a.meets(Types::STR) && !is_plain_string(a_expr));
                let b_num =
                    b.meets(Types::NUM) || (b.meets(Types::STR) && !is_plain_string(b_expr));
                a_num && b_num
            };
            let orderable = (left.meets(Types::STR) && right.meets(Types::STR))
                || num_str(left, lhs, right, rhs);
            (!orderable).then(|| {
                (
                    false,
                    format!(
                        "{} and {} cannot be ordered (only numbers with numbers, strings with strings and timestamps with numbers)",
                        describe(lhs, text),
                        describe(rhs, text)
                    ),
                )
            })
        }
        BinaryOp::In if right.within(Types::NULL.or(Types::BOOL).or(Types::NUM)) => Some((
            false,
            format!(
                "`in` needs an array, a string or an object on its right, not {}",
                describe(rhs, text)
            ),
        )),
        _ => None,
    }
}

/// A string literal that is not a timestamp, so it never takes part in numeric ordering.
fn is_plain_string(expr: &Expr) -> bool {
    matches!(expr.kind, ExprKind::String(_)) && !is_timestamp_literal(expr)
}

/// What the top-level conjuncts require of one path.
#[derive(Default)]
struct Facts {
    equal: Option<Value>,
    not_equal: Vec<Value>,
    one_of: Option<Vec<Value>>,
    /// Bounds as written, compared with the evaluator's own exact order (integers beyond
    /// 2^53 are not rounded to a float).
    lower: Option<(Value, bool)>,
    upper: Option<(Value, bool)>,
}

impl Facts {
    fn admits(&self, value: &Value) -> bool {
        if self.equal.as_ref().is_some_and(|e| !values_equal(e, value))
            || self.not_equal.iter().any(|n| values_equal(n, value))
            || self
                .one_of
                .as_ref()
                .is_some_and(|set| !set.iter().any(|s| values_equal(s, value)))
        {
            return false;
        }
        if self.lower.is_none() && self.upper.is_none() {
            return true;
        }
        match value {
            Value::Number(_) => self.in_bounds(value),
            // A timestamp string may satisfy numeric bounds; other values never do.
            Value::String(_) => true,
            _ => false,
        }
    }

    fn in_bounds(&self, x: &Value) -> bool {
        let above = self
            .lower
            .as_ref()
            .is_none_or(|(lo, strict)| beyond(x, lo, *strict, Ordering::Greater));
        let below = self
            .upper
            .as_ref()
            .is_none_or(|(hi, strict)| beyond(x, hi, *strict, Ordering::Less));
        above && below
    }

    fn bounds_empty(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Some((lo, lo_strict)), Some((hi, hi_strict))) => match value_order(lo, hi) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => *lo_strict || *hi_strict,
                _ => false,
            },
            _ => false,
        }
    }

    fn satisfiable(&self) -> bool {
        if self.bounds_empty() {
            return false;
        }
        if let Some(value) = &self.equal {
            return self.admits(value);
        }
        if let Some(set) = &self.one_of {
            return set.iter().any(|v| self.admits(v));
        }
        true
    }
}

/// Whether `x` lies past `bound` in `direction` (`Greater`: above a lower bound, `Less`:
/// below an upper one) by the evaluator's exact order; on the bound itself only when the
/// bound is not `strict`.
fn beyond(x: &Value, bound: &Value, strict: bool, direction: Ordering) -> bool {
    match value_order(x, bound) {
        Some(Ordering::Equal) => !strict,
        Some(order) => order == direction,
        None => false,
    }
}

/// The first conjunct that contradicts the ones before it, and why.
fn contradiction(conjuncts: &[Expr]) -> Option<(&Expr, String)> {
    let mut facts: Vec<(String, Facts)> = Vec::new();
    for conjunct in conjuncts {
        let Some((path, op, value)) = compared_with_literal(conjunct) else {
            continue;
        };
        let index = match facts.iter().position(|(p, _)| *p == path) {
            Some(index) => index,
            None => {
                facts.push((path.clone(), Facts::default()));
                facts.len() - 1
            }
        };
        let Some((_, fact)) = facts.get_mut(index) else {
            continue;
        };
        match (op, &value) {
            (BinaryOp::Eq, _) => {
                if !fact.admits(&value) {
                    return Some((
                        conjunct,
                        format!(
                            "`{}` cannot be {} here, given the conjuncts before it",
                            shown(&path),
                            show(&value)
                        ),
                    ));
                }
                fact.equal = Some(value.clone());
            }
            (BinaryOp::Ne, _) => fact.not_equal.push(value.clone()),
            (BinaryOp::In, Value::Array(items)) => {
                fact.one_of = Some(match fact.one_of.take() {
                    None => items.clone(),
                    Some(set) => set
                        .into_iter()
                        .filter(|v| items.iter().any(|i| values_equal(i, v)))
                        .collect(),
                });
            }
            (BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge, Value::Number(_)) => {
                let strict = matches!(op, BinaryOp::Lt | BinaryOp::Gt);
                let (bound, direction) = if matches!(op, BinaryOp::Lt | BinaryOp::Le) {
                    (&mut fact.upper, Ordering::Less)
                } else {
                    (&mut fact.lower, Ordering::Greater)
                };
                // The new bound replaces the old one when it is tighter: further in, or as
                // far and strict.
                let tighter = bound
                    .as_ref()
                    .is_none_or(|(old, _)| beyond(&value, old, !strict, direction));
                if tighter {
                    *bound = Some((value.clone(), strict));
                }
            }
            _ => continue,
        }
        if !fact.satisfiable() {
            return Some((
                conjunct,
                format!(
                    "this contradicts the conjuncts on `{}` before it",
                    shown(&path)
                ),
            ));
        }
    }
    None
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`'{s}'`"),
        other => format!("`{other}`"),
    }
}
