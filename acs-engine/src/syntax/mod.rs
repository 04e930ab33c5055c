//! Text -> AST. Knows nothing of YAML, plans or evaluation.

pub mod ast;
mod parse;
mod print;

pub use ast::{BinaryOp, Expr, ExprKind, LocalSpan, UnaryOp};
pub(crate) use parse::outside_strings;
#[cfg(test)]
use parse::MAX_DEPTH;
pub use parse::{
    parse_condition, parse_condition_with, SyntaxError, SyntaxLimits, MAX_CONDITION_BYTES,
    MAX_NESTING,
};
pub use print::{to_sexpr, to_source};

#[cfg(test)]
mod tests;
