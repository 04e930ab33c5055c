//! ACS430: `x != 'OK'` and `!x` are true when `x` is missing, so a rule written as "the
//! status is not OK" also fires on events that carry no status at all. Warn unless an
//! earlier operand of the same `&&` (or `||`) already proves the path present.

use serde_json::Value;

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::lint::facts::{compared_with_literal, literal, path_of, shown};
use crate::ruleset::SourceExpr;
use crate::syntax::{BinaryOp, Expr, ExprKind, UnaryOp};

pub(crate) struct NegatedMissing;

impl Check for NegatedMissing {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        let condition = &cx.rule.condition;
        let mut present = Vec::new();
        visit(&condition.expr, &mut present, &mut |expr, path| {
            findings.push(finding(cx, condition, expr, path));
        });
    }
}

fn finding(cx: &RuleContext<'_>, condition: &SourceExpr, expr: &Expr, path: &str) -> Diagnostic {
    let shown = shown(path);
    let message = match &expr.kind {
        ExprKind::Unary(..) => format!("`!{shown}` is true when `{shown}` is missing"),
        _ => format!("`!=` is true when `{shown}` is missing"),
    };
    cx.at(
        Diagnostic::warning("ACS430", message).with_help(format!(
            "if a missing `{shown}` should not match, guard it: `{shown} != null && ...`"
        )),
        condition,
        expr.span,
    )
}

/// Walk `expr`; `present` holds the paths proven present at this point.
fn visit(expr: &Expr, present: &mut Vec<String>, report: &mut dyn FnMut(&Expr, &str)) {
    let saved = present.len();
    match &expr.kind {
        ExprKind::And(items) => {
            for item in items {
                visit(item, present, report);
                present.extend(present_when_true(item));
            }
        }
        ExprKind::Or(items) => {
            for item in items {
                visit(item, present, report);
                present.extend(present_when_false(item));
            }
        }
        ExprKind::Unary(UnaryOp::Not, inner) => match path_of(inner) {
            Some(path) if !proven(present, &path) => report(expr, &path),
            Some(_) => {}
            None => visit(inner, present, report),
        },
        ExprKind::Binary(BinaryOp::Ne, lhs, rhs) => {
            let against_null = matches!(literal(lhs), Some(Value::Null))
                || matches!(literal(rhs), Some(Value::Null));
            if !against_null {
                for path in [path_of(lhs), path_of(rhs)].into_iter().flatten() {
                    if !proven(present, &path) {
                        report(expr, &path);
                        break;
                    }
                }
            }
            visit(lhs, present, report);
            visit(rhs, present, report);
        }
        ExprKind::Binary(_, lhs, rhs) | ExprKind::Index(lhs, rhs) => {
            visit(lhs, present, report);
            visit(rhs, present, report);
        }
        ExprKind::Array(items) | ExprKind::Call { args: items, .. } => {
            items.iter().for_each(|item| visit(item, present, report));
        }
        ExprKind::Unary(UnaryOp::Neg, inner) | ExprKind::Member(inner, _) => {
            visit(inner, present, report);
        }
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::Name(_) => {}
    }
    present.truncate(saved);
}

/// A path is present when it, or a path below it, was proven present.
fn proven(present: &[String], path: &str) -> bool {
    present.iter().any(|p| {
        p == path
            || p.strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Paths that must be present (non-null) when `expr` is true.
fn present_when_true(expr: &Expr) -> Vec<String> {
    if let Some(path) = path_of(expr) {
        return vec![path];
    }
    match &expr.kind {
        ExprKind::And(items) => items.iter().flat_map(present_when_true).collect(),
        ExprKind::Unary(UnaryOp::Not, inner) => present_when_false(inner),
        ExprKind::Binary(BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge, lhs, rhs) => {
            [path_of(lhs), path_of(rhs)].into_iter().flatten().collect()
        }
        _ => match compared_with_literal(expr) {
            Some((path, BinaryOp::Ne, Value::Null)) => vec![path],
            Some((path, BinaryOp::Eq, value)) if !value.is_null() => vec![path],
            Some((path, BinaryOp::In, Value::Array(items))) if !items.contains(&Value::Null) => {
                vec![path]
            }
            Some((path, BinaryOp::In, Value::String(_) | Value::Object(_))) => vec![path],
            _ => Vec::new(),
        },
    }
}

/// Paths that must be present when `expr` is false.
fn present_when_false(expr: &Expr) -> Vec<String> {
    match &expr.kind {
        ExprKind::Or(items) => items.iter().flat_map(present_when_false).collect(),
        ExprKind::Unary(UnaryOp::Not, inner) => present_when_true(inner),
        _ => match compared_with_literal(expr) {
            Some((path, BinaryOp::Eq, Value::Null)) => vec![path],
            Some((path, BinaryOp::Ne, value)) if !value.is_null() => vec![path],
            _ => Vec::new(),
        },
    }
}
