//! The `event.type` gate of a rule: the types named by its top-level
//! `event.type == 'x'` / `event.type in [...]` conjuncts, read from the condition as
//! written. The compiler indexes rules by it and compiles only the other conjuncts; the
//! linter reads the same gate (and the helpers below) for its checks.

use serde_json::Value;

use crate::eval::number::{from_i128, to_number};
use crate::input::Root;
use crate::syntax::{BinaryOp, Expr, ExprKind, UnaryOp};

/// The canonical dotted path an expression reads (`truck.status` -> `event.truck.status`).
pub(crate) fn path_of(expr: &Expr) -> Option<String> {
    let path = expr.as_dotted_path()?;
    let head = path.split('.').next().unwrap_or("");
    Some(if Root::by_name(head).is_some() {
        path
    } else {
        format!("event.{path}")
    })
}

/// The value of a literal (`'a'`, `-1`, `[1, 'x']`, `null`), if the expression is one;
/// integral numbers as integers, so findings show them as written (`5`, not `5.0`).
pub(crate) fn literal(expr: &Expr) -> Option<Value> {
    Some(match &expr.kind {
        ExprKind::Null => Value::Null,
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Number(n) => crate::eval::number::literal(n),
        ExprKind::String(s) => Value::String(s.clone()),
        ExprKind::Unary(UnaryOp::Neg, inner) => match &inner.kind {
            ExprKind::Number(n) => match n.as_u64() {
                Some(u) => Value::Number(from_i128(-i128::from(u))),
                None => Value::Number(to_number(-n.as_f64()?)?),
            },
            _ => return None,
        },
        ExprKind::Array(items) => Value::Array(items.iter().map(literal).collect::<Option<_>>()?),
        _ => return None,
    })
}

/// The operands of a top-level `&&` (the expression itself when it is not one).
pub(crate) fn conjuncts(expr: &Expr) -> &[Expr] {
    match &expr.kind {
        ExprKind::And(items) => items,
        _ => std::slice::from_ref(expr),
    }
}

/// The `event.type` values a condition's top-level conjuncts allow: `None` without a gate,
/// `Some(types)` (possibly empty: the rule can never match) with one or more.
pub(crate) fn event_type_gate(expr: &Expr) -> Option<Vec<String>> {
    let mut gate: Option<Vec<String>> = None;
    for conjunct in conjuncts(expr) {
        let Some(types) = gate_of(conjunct) else {
            continue;
        };
        gate = Some(match gate {
            None => types,
            Some(previous) => previous.into_iter().filter(|t| types.contains(t)).collect(),
        });
    }
    gate.map(|mut types| {
        types.sort_unstable();
        types.dedup();
        types
    })
}

/// Whether a conjunct is an `event.type == 'x'` / `event.type in [...]` gate. Only
/// all-string lists gate: the index is keyed by string types, and a list with other
/// values could match an event whose `type` is not a string.
pub(crate) fn gate_of(expr: &Expr) -> Option<Vec<String>> {
    // Most conjuncts are not gates: tell those apart without building their path and
    // literal (the compiler asks twice per conjunct of every rule).
    if !may_gate(expr) {
        return None;
    }
    let (path, op, value) = compared_with_literal(expr)?;
    if path != "event.type" {
        return None;
    }
    match (op, value) {
        (BinaryOp::Eq, Value::String(t)) => Some(vec![t]),
        (BinaryOp::In, Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A necessary condition for [`gate_of`]: `event.type == x`, `x == event.type` or
/// `event.type in x`, without allocating.
fn may_gate(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Binary(BinaryOp::Eq, lhs, rhs) => is_event_type(lhs) || is_event_type(rhs),
        ExprKind::Binary(BinaryOp::In, lhs, _) => is_event_type(lhs),
        _ => false,
    }
}

/// Whether [`path_of`] would be `event.type`: `type` or `event.type`.
fn is_event_type(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Name(name) => name == "type",
        ExprKind::Member(base, field) => {
            field == "type" && matches!(&base.kind, ExprKind::Name(name) if name == "event")
        }
        _ => false,
    }
}

/// `path op literal`, with the operands flipped (and the operator mirrored) when the
/// literal is on the left. `in` is only read with the path on the left.
pub(crate) fn compared_with_literal(expr: &Expr) -> Option<(String, BinaryOp, Value)> {
    let ExprKind::Binary(op, lhs, rhs) = &expr.kind else {
        return None;
    };
    if let (Some(path), Some(value)) = (path_of(lhs), literal(rhs)) {
        return Some((path, *op, value));
    }
    if *op == BinaryOp::In {
        return None;
    }
    let (Some(value), Some(path)) = (literal(lhs), path_of(rhs)) else {
        return None;
    };
    let mirrored = match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => *other,
    };
    Some((path, mirrored, value))
}
