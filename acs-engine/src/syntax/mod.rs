//! Text -> AST. Knows nothing of YAML, plans or evaluation.

pub mod ast;
mod fast;
mod parse;
mod print;

pub use ast::{BinaryOp, Expr, ExprKind, LocalSpan, UnaryOp};
pub use parse::{parse_condition, SyntaxError, MAX_CONDITION_BYTES, MAX_DEPTH, MAX_NESTING};
pub use print::{to_sexpr, to_source};

#[cfg(test)]
mod tests;
