//! ACS441: conditions too complex to review, by node count.

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::lint::facts::path_of;
use crate::syntax::{Expr, ExprKind};

pub(crate) struct Complexity;

impl Check for Complexity {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        let condition = &cx.rule.condition;
        let nodes = size(&condition.expr);
        let limit = cx.config.lint.max_complexity;
        if nodes > limit {
            findings.push(
                cx.at(
                    Diagnostic::warning(
                        "ACS441",
                        format!("the condition has {nodes} nodes, more than the limit of {limit}"),
                    )
                    .with_help(
                        "split it into several rules, or raise [lint] max_complexity in acs.toml",
                    ),
                    condition,
                    condition.expr.span,
                ),
            );
        }
    }
}

/// Operators, literals, calls and paths, a dotted path counting once.
fn size(expr: &Expr) -> usize {
    if path_of(expr).is_some() {
        return 1;
    }
    1 + match &expr.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::Name(_) => 0,
        ExprKind::Array(items) | ExprKind::And(items) | ExprKind::Or(items) => {
            items.iter().map(size).sum()
        }
        ExprKind::Call { args, .. } => args.iter().map(size).sum(),
        ExprKind::Member(base, _) | ExprKind::Unary(_, base) => size(base),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => size(a) + size(b),
    }
}
