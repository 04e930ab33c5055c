//! Action templates: a matched rule's parameters rendered against the input.

use std::sync::Arc;

use serde_json::Value;

use super::doc::Doc;
use super::number;
use super::value::Val;
use super::{rule_error, EvalError, Evaluator, Result};
use crate::decision::{display, Holes, RuleError, RuleMatch};
use crate::plan::{HolePlan, Plan, RulePlan, TextPlan};

impl<'a, D: Doc<'a>> Evaluator<'a, D> {
    pub(super) fn render_match(
        &mut self,
        plan: &Plan,
        rule: &'a RulePlan,
        errors: &mut Vec<RuleError>,
    ) -> RuleMatch {
        let mut holes = Holes::new();
        let mut failed = Vec::new();
        for (index, action) in rule.facts.actions.iter().enumerate() {
            let programs = rule
                .holes
                .get(action.first_hole..action.first_hole + action.hole_count)
                .unwrap_or_default();
            for hole in programs {
                if let Err(error) = self.fill(hole, &mut holes, plan.max_rendered_bytes) {
                    errors.push(rule_error(plan, rule, *error));
                    // Keep every later action's holes where the layout expects them.
                    holes.truncate(action.first_hole);
                    holes.resize(action.first_hole + action.hole_count, Value::Null);
                    failed.push(index);
                    break;
                }
            }
        }
        RuleMatch::new(Arc::clone(&rule.facts), holes, failed)
    }

    /// Evaluate one hole of a template.
    fn fill(&mut self, hole: &'a HolePlan, holes: &mut Holes, max_bytes: usize) -> Result<()> {
        match hole {
            HolePlan::Expr(node) => holes.push(self.eval(node)?.to_value()),
            HolePlan::Text(parts, span) => {
                // Sized for the literals and a short value per hole: one allocation.
                let capacity = parts
                    .iter()
                    .map(|part| match part {
                        TextPlan::Literal(literal) => literal.len(),
                        TextPlan::Expr(_) => 16,
                    })
                    .sum();
                let mut text = String::with_capacity(capacity);
                for part in parts.iter() {
                    match part {
                        TextPlan::Literal(literal) => text.push_str(literal),
                        TextPlan::Expr(node) => match self.eval(node)? {
                            Val::Str(s) => text.push_str(s),
                            Val::Null => {}
                            Val::Num(n) => match number::exact_i64(n) {
                                Some(i) => text.push_str(itoa::Buffer::new().format(i)),
                                None => text.push_str(&display(&number::to_json(n))),
                            },
                            other => text.push_str(&display(&other.to_value())),
                        },
                    }
                }
                if text.len() > max_bytes {
                    return Err(Box::new(EvalError {
                        message: format!(
                            "the rendered text is {} bytes, more than the limit of {max_bytes} (`Limits::max_rendered_bytes`)",
                            text.len()
                        ),
                        span: *span,
                    }));
                }
                holes.push(Value::String(text));
            }
        }
        Ok(())
    }
}
