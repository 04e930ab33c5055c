//! What the checks ask of a condition's AST: canonical paths, literal values, static
//! types, top-level conjuncts and the `event.type` gate.

use serde_json::Value;

use crate::plan::Root;
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

/// The value of a literal (`'a'`, `-1`, `[1, 'x']`, `null`), if the expression is one.
pub(crate) fn literal(expr: &Expr) -> Option<Value> {
    Some(match &expr.kind {
        ExprKind::Null => Value::Null,
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Number(n) => number(*n)?,
        ExprKind::String(s) => Value::String(s.clone()),
        ExprKind::Unary(UnaryOp::Neg, inner) => match &inner.kind {
            ExprKind::Number(n) => number(-n)?,
            _ => return None,
        },
        ExprKind::Array(items) => Value::Array(items.iter().map(literal).collect::<Option<_>>()?),
        _ => return None,
    })
}

fn number(n: f64) -> Option<Value> {
    // Integral literals show as written (`5`, not `5.0`) in findings.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 && n.abs() < EXACT {
        #[expect(clippy::cast_possible_truncation, reason = "integral and below 2^53")]
        return Some(Value::from(n as i64));
    }
    serde_json::Number::from_f64(n).map(Value::Number)
}

/// A canonical path as an analyst reads it: `event.` dropped, except from `event.type`.
pub(crate) fn shown(path: &str) -> &str {
    match path.strip_prefix("event.") {
        Some(rest) if rest != "type" => rest,
        _ => path,
    }
}

/// Truthiness, as conditions use it: null, false, 0 and "" are falsy.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The operands of a top-level `&&` (the expression itself when it is not one).
pub(crate) fn conjuncts(expr: &Expr) -> &[Expr] {
    match &expr.kind {
        ExprKind::And(items) => items,
        _ => std::slice::from_ref(expr),
    }
}

/// The `event.type` values a condition's top-level conjuncts allow: `None` without a gate.
pub(crate) fn gate(expr: &Expr) -> Option<Vec<String>> {
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

/// Whether a conjunct is an `event.type == 'x'` / `event.type in [...]` gate.
pub(crate) fn gate_of(expr: &Expr) -> Option<Vec<String>> {
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

/// Static types as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Types(u8);

impl Types {
    pub const NULL: Types = Types(1);
    pub const BOOL: Types = Types(2);
    pub const NUM: Types = Types(4);
    pub const STR: Types = Types(8);
    pub const ARR: Types = Types(16);
    pub const OBJ: Types = Types(32);
    pub const ANY: Types = Types(63);

    pub fn or(self, other: Types) -> Types {
        Types(self.0 | other.0)
    }

    pub fn meets(self, other: Types) -> bool {
        self.0 & other.0 != 0
    }

    pub fn within(self, other: Types) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn describe(self) -> &'static str {
        match self {
            t if t == Types::NULL => "null",
            t if t == Types::BOOL => "a boolean",
            t if t == Types::NUM => "a number",
            t if t == Types::STR => "a string",
            t if t == Types::ARR => "an array",
            t if t == Types::OBJ => "an object",
            t if t == Types::NUM.or(Types::NULL) => "a number or null",
            _ => "a value of several types",
        }
    }
}

/// The types an expression can produce, whatever the input.
pub(crate) fn types_of(expr: &Expr) -> Types {
    match &expr.kind {
        ExprKind::Null => Types::NULL,
        ExprKind::Bool(_) => Types::BOOL,
        ExprKind::Number(_) => Types::NUM,
        ExprKind::String(_) => Types::STR,
        ExprKind::Array(_) => Types::ARR,
        ExprKind::Name(_) | ExprKind::Member(..) | ExprKind::Index(..) => Types::ANY,
        ExprKind::Call { name, .. } => match name.as_str() {
            "textContainsPII" | "matches" => Types::BOOL,
            "distance" => Types::NUM.or(Types::NULL),
            "now" => Types::NUM,
            _ => Types::ANY,
        },
        ExprKind::Unary(UnaryOp::Not, _)
        | ExprKind::And(_)
        | ExprKind::Or(_)
        | ExprKind::Binary(
            BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::In,
            ..,
        ) => Types::BOOL,
        ExprKind::Unary(UnaryOp::Neg, _)
        | ExprKind::Binary(BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem | BinaryOp::Sub, ..) => {
            Types::NUM.or(Types::NULL)
        }
        ExprKind::Binary(BinaryOp::Add, ..) => Types::NUM.or(Types::STR).or(Types::NULL),
    }
}

/// Every node of an expression, parents before children.
pub(crate) fn walk<'a>(expr: &'a Expr, visit: &mut dyn FnMut(&'a Expr)) {
    visit(expr);
    match &expr.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::Name(_) => {}
        ExprKind::Array(items) | ExprKind::And(items) | ExprKind::Or(items) => {
            items.iter().for_each(|item| walk(item, visit));
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|arg| walk(arg, visit)),
        ExprKind::Member(base, _) | ExprKind::Unary(_, base) => walk(base, visit),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            walk(a, visit);
            walk(b, visit);
        }
    }
}
