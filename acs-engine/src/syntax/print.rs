//! AST -> text: fully parenthesised source (parses back to the same tree) and a compact
//! S-expression for snapshots and `--explain`.

use std::fmt::Write as _;

use super::ast::{Expr, ExprKind, UnaryOp};

/// Source text that parses back to the same tree (spans aside).
pub fn to_source(expr: &Expr) -> String {
    let mut out = String::new();
    write_source(expr, &mut out);
    out
}

fn write_list(items: &[Expr], sep: &str, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_source(item, out);
    }
}

fn write_source(expr: &Expr, out: &mut String) {
    match &expr.kind {
        ExprKind::Null => out.push_str("null"),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Number(n) => {
            let _ = write!(out, "{n}");
        }
        ExprKind::String(s) => write_string(s, out),
        ExprKind::Array(items) => {
            out.push('[');
            write_list(items, ", ", out);
            out.push(']');
        }
        ExprKind::Name(name) => out.push_str(name),
        ExprKind::Member(base, field) => {
            write_postfix_base(base, out);
            out.push('.');
            out.push_str(field);
        }
        ExprKind::Index(base, index) => {
            write_postfix_base(base, out);
            out.push('[');
            write_source(index, out);
            out.push(']');
        }
        ExprKind::Call { name, args, .. } => {
            out.push_str(name);
            out.push('(');
            write_list(args, ", ", out);
            out.push(')');
        }
        ExprKind::Unary(op, operand) => {
            out.push_str(match op {
                UnaryOp::Not => "!",
                UnaryOp::Neg => "-",
            });
            write_postfix_base(operand, out);
        }
        ExprKind::Binary(op, lhs, rhs) => {
            out.push('(');
            write_source(lhs, out);
            let _ = write!(out, " {} ", op.symbol());
            write_source(rhs, out);
            out.push(')');
        }
        ExprKind::And(items) => {
            out.push('(');
            write_list(items, " && ", out);
            out.push(')');
        }
        ExprKind::Or(items) => {
            out.push('(');
            write_list(items, " || ", out);
            out.push(')');
        }
    }
}

/// Operands of postfix and prefix operators need parentheses unless they are atoms.
fn write_postfix_base(expr: &Expr, out: &mut String) {
    let atomic = matches!(
        expr.kind,
        ExprKind::Name(_)
            | ExprKind::Member(..)
            | ExprKind::Index(..)
            | ExprKind::Call { .. }
            | ExprKind::Array(_)
            | ExprKind::Binary(..)
            | ExprKind::And(_)
            | ExprKind::Or(_)
    );
    if atomic {
        write_source(expr, out);
    } else {
        out.push('(');
        write_source(expr, out);
        out.push(')');
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
        _ => write_source(expr, out),
    }
}
