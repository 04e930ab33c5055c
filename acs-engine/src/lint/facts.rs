//! What the checks ask of a condition's AST beyond what the compiler's gate already
//! reads (re-exported here): truthiness, static types and a walk over every node.

use serde_json::Value;

pub(crate) use crate::compile::gate::{
    compared_with_literal, conjuncts, event_type_gate as gate, gate_of, literal, path_of,
};
use crate::syntax::{BinaryOp, Expr, ExprKind, UnaryOp};

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
    expr.for_each_child(|child| walk(child, visit));
}
