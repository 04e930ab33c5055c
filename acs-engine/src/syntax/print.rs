//! AST -> text: source with the parentheses it needs (parses back to the same tree) and a compact
//! S-expression for snapshots and `--explain`.

use std::fmt::Write as _;

use super::ast::{BinaryOp, Expr, ExprKind, UnaryOp};

/// Source text that parses back to the same tree (spans aside).
///
/// Parentheses appear only where the tree needs them, so the text nests no deeper than
/// the condition it was parsed from and stays within [`MAX_NESTING`](super::MAX_NESTING).
pub fn to_source(expr: &Expr) -> String {
    let mut out = String::new();
    write_source(expr, LOOSEST, &mut out);
    out
}

/// Binding strength, loosest first, as in `condition.pest`.
const LOOSEST: u8 = 0;
const OR: u8 = 1;
const AND: u8 = 2;
const UNARY: u8 = 8;
const POSTFIX: u8 = 9;

fn binding(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Or(_) => OR,
        ExprKind::And(_) => AND,
        ExprKind::Binary(op, ..) => binary_binding(*op),
        ExprKind::Unary(..) => UNARY,
        _ => POSTFIX,
    }
}

fn binary_binding(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::In => 3,
        BinaryOp::Eq | BinaryOp::Ne => 4,
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 5,
        BinaryOp::Add | BinaryOp::Sub => 6,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 7,
    }
}

fn write_list(items: &[Expr], sep: &str, min: u8, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_source(item, min, out);
    }
}

/// Write `expr` where an operand binding at least `min` is expected: anything looser
/// goes in parentheses.
fn write_source(expr: &Expr, min: u8, out: &mut String) {
    if binding(expr) < min {
        out.push('(');
        write_bare(expr, out);
        out.push(')');
    } else {
        write_bare(expr, out);
    }
}

fn write_bare(expr: &Expr, out: &mut String) {
    match &expr.kind {
        ExprKind::Null => out.push_str("null"),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Number(n) => write_number(n, out),
        ExprKind::String(s) => write_string(s, out),
        ExprKind::Array(items) => {
            out.push('[');
            write_list(items, ", ", LOOSEST, out);
            out.push(']');
        }
        ExprKind::Name(name) => out.push_str(name),
        ExprKind::Member(base, field) => {
            write_source(base, POSTFIX, out);
            out.push('.');
            out.push_str(field);
        }
        ExprKind::Index(base, index) => {
            write_source(base, POSTFIX, out);
            out.push('[');
            write_source(index, LOOSEST, out);
            out.push(']');
        }
        ExprKind::Call { name, args, .. } => {
            out.push_str(name);
            out.push('(');
            write_list(args, ", ", LOOSEST, out);
            out.push(')');
        }
        ExprKind::Unary(op, operand) => {
            out.push_str(match op {
                UnaryOp::Not => "!",
                UnaryOp::Neg => "-",
            });
            write_source(operand, UNARY, out);
        }
        ExprKind::Binary(op, lhs, rhs) => {
            // Left-associative: an equal operator on the right needs parentheses.
            let level = binary_binding(*op);
            write_source(lhs, level, out);
            let _ = write!(out, " {} ", op.symbol());
            write_source(rhs, level + 1, out);
        }
        // A nested chain of the same kind needs parentheses, or it would flatten.
        ExprKind::And(items) => write_list(items, " && ", AND + 1, out),
        ExprKind::Or(items) => write_list(items, " || ", OR + 1, out),
    }
}

/// Plain notation, or exponent notation when plain runs long (both read back to the same
/// `f64`), so `1e300` does not print as 301 digits.
fn write_number(n: &serde_json::Number, out: &mut String) {
    let Some(n) = n.as_f64().filter(|_| n.is_f64()) else {
        out.push_str(&n.to_string());
        return;
    };
    let plain = n.to_string();
    let exponent = format!("{n:e}");
    if plain.len() > 24 && exponent.len() < plain.len() {
        out.push_str(&exponent);
    } else {
        out.push_str(&plain);
        // A float stays a float when read back: `5.0`, not the integer `5`.
        if !plain.contains(['.', 'e']) {
            out.push_str(".0");
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// A compact S-expression: `(&& (== event.type 'bid.create') (< a b))`.
pub fn to_sexpr(expr: &Expr) -> String {
    let mut out = String::new();
    write_sexpr(expr, &mut out);
    out
}

fn write_sexpr(expr: &Expr, out: &mut String) {
    let group = |head: &str, items: &[&Expr], out: &mut String| {
        out.push('(');
        out.push_str(head);
        for item in items {
            out.push(' ');
            write_sexpr(item, out);
        }
        out.push(')');
    };
    match &expr.kind {
        ExprKind::Member(base, field) => {
            if let Some(path) = expr.as_dotted_path() {
                out.push_str(&path);
            } else {
                write_sexpr(base, out);
                out.push('.');
                out.push_str(field);
            }
        }
        ExprKind::Index(base, index) => group("[]", &[base, index], out),
        ExprKind::Call { name, args, .. } => {
            let args: Vec<&Expr> = args.iter().collect();
            group(&format!("call {name}"), &args, out);
        }
        ExprKind::Unary(op, operand) => group(
            match op {
                UnaryOp::Not => "!",
                UnaryOp::Neg => "neg",
            },
            &[operand],
            out,
        ),
        ExprKind::Binary(op, lhs, rhs) => group(op.symbol(), &[lhs, rhs], out),
        ExprKind::And(items) => group("&&", &items.iter().collect::<Vec<_>>(), out),
        ExprKind::Or(items) => group("||", &items.iter().collect::<Vec<_>>(), out),
        ExprKind::Array(items) => group("array", &items.iter().collect::<Vec<_>>(), out),
        _ => write_source(expr, LOOSEST, out),
    }
}
