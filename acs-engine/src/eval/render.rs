//! Action templates: a matched rule's parameters rendered against the input.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::value::Val;
use super::{rule_error, Evaluator, Result};
use crate::decision::{RenderedAction, RuleError, RuleMatch};
use crate::plan::{Plan, RulePlan, TemplatePlan, TextPlan};

/// A value as text inside a string: strings raw, null empty, numbers without `.0`,
/// arrays and objects as JSON.
pub(crate) fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'a> Evaluator<'a> {
    pub(super) fn render_match(
        &mut self,
        plan: &Plan,
        rule: &'a RulePlan,
        errors: &mut Vec<RuleError>,
    ) -> RuleMatch {
        let mut actions = Vec::with_capacity(rule.actions.len());
        for action in rule.actions.iter() {
            let params = match &action.params {
                // No template inside: share the plan's copy.
                TemplatePlan::Value(constant) => Arc::clone(constant),
                template => match self.render(template) {
                    Ok(params) => Arc::new(params),
                    Err(error) => {
                        errors.push(rule_error(plan, rule, *error));
                        Arc::new(Value::Null)
                    }
                },
            };
            actions.push(RenderedAction {
                name: action.name.clone(),
                params,
            });
        }
        RuleMatch {
            id: rule.id.clone(),
            priority: rule.priority,
            severity: rule.severity,
            audit: rule.audit,
            actions,
        }
    }

    fn render(&mut self, template: &'a TemplatePlan) -> Result<Value> {
        Ok(match template {
            TemplatePlan::Value(value) => (**value).clone(),
            TemplatePlan::Expr(node) => self.eval(node)?.to_value(),
            TemplatePlan::Text(parts) => {
                let mut text = String::new();
                for part in parts.iter() {
                    match part {
                        TextPlan::Literal(literal) => text.push_str(literal),
                        TextPlan::Expr(node) => match self.eval(node)? {
                            Val::Str(s) => text.push_str(s),
                            Val::Null => {}
                            Val::Num(n)
                                if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 =>
                            {
                                text.push_str(itoa::Buffer::new().format(n as i64));
                            }
                            other => text.push_str(&display(&other.to_value())),
                        },
                    }
                }
                Value::String(text)
            }
            TemplatePlan::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items.iter() {
                    values.push(self.render(item)?);
                }
                Value::Array(values)
            }
            TemplatePlan::Object(entries) => {
                let mut map = Map::new();
                for (key, item) in entries.iter() {
                    map.insert(String::from(&**key), self.render(item)?);
                }
                Value::Object(map)
            }
        })
    }
}
