//! ACS440: rules without an `event.type` gate run on every event of every type.

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::lint::facts::gate;

pub(crate) struct NoGate;

impl Check for NoGate {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        let condition = &cx.rule.condition;
        if gate(&condition.expr).is_none() {
            findings.push(cx.at(
                Diagnostic::warning("ACS440", "no `event.type` gate: the rule runs on every event")
                    .with_help("start the condition with `event.type == '...' &&` or `event.type in [...] &&`"),
                condition,
                condition.expr.span,
            ));
        }
    }
}
