//! ACS410: action names the host does not handle. ACS412-414: parameters against the
//! action's declared shape (`lint/actions.rs`, `[actions.NAME]` in acs.toml): a key the
//! action does not take, a required key left out, a value of the wrong type.

use serde_json::Value;

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::lint::actions::{ActionShape, ParamType};
use crate::lint::facts::{types_of, Types};
use crate::ruleset::{backticked_list, suggest_name, Action, Template};

pub(crate) struct UnknownActions;

impl Check for UnknownActions {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        let known = cx.config.action_names();
        for action in &cx.rule.actions {
            if known.contains(&action.name.as_str()) {
                if let Some(shape) = cx.config.action_shape(&action.name) {
                    check_params(cx, action, &shape, findings);
                }
                continue;
            }
            let help = match suggest_name(&action.name, &known) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "add it under [actions] known = [...] in acs.toml if the host handles it"
                    .to_owned(),
            };
            findings.push(
                Diagnostic::error("ACS410", format!("unknown action `{}`", action.name))
                    .at(cx.sources, action.name_span)
                    .for_rule(Some(&cx.rule.id))
                    .with_help(help),
            );
        }
    }
}

fn check_params(
    cx: &RuleContext<'_>,
    action: &Action,
    shape: &ActionShape,
    findings: &mut Vec<Diagnostic>,
) {
    let name = &action.name;
    let takes = shape.keys();
    let values = param_types(&action.params);
    let report =
        |diagnostic: Diagnostic, span| diagnostic.at(cx.sources, span).for_rule(Some(&cx.rule.id));
    // A required key that a misspelt one is suggested for is reported once, as the typo.
    let mut suggested = Vec::new();
    for (key, span) in &action.param_spans {
        let Some(wanted) = shape.param(key) else {
            let near = suggest_name(key, &takes);
            suggested.extend(near);
            let help = match near {
                Some(near) => format!("did you mean `{near}`?"),
                None if takes.is_empty() => format!("`{name}` takes no parameters"),
                None => format!("`{name}` takes {}", backticked_list(&takes)),
            };
            findings.push(report(
                Diagnostic::error("ACS412", format!("`{name}` has no parameter `{key}`"))
                    .with_help(help),
                *span,
            ));
            continue;
        };
        let found = values
            .iter()
            .find(|(k, _)| k == key)
            .map_or(Types::ANY, |(_, t)| *t);
        if !found.meets(mask(wanted)) {
            findings.push(report(
                Diagnostic::error(
                    "ACS414",
                    format!(
                        "`{name}`'s `{key}` must be {}, found {}",
                        wanted.describe(),
                        found.describe()
                    ),
                ),
                *span,
            ));
        }
    }
    for (key, wanted) in &shape.required {
        if action.param_spans.iter().any(|(k, _)| k == key) || suggested.contains(&key.as_str()) {
            continue;
        }
        findings.push(report(
            Diagnostic::error(
                "ACS413",
                format!("`{name}` is missing its parameter `{key}`"),
            )
            .with_help(format!("add `{key}: ...` ({})", wanted.describe())),
            action.name_span,
        ));
    }
}

fn mask(ty: ParamType) -> Types {
    match ty {
        ParamType::String => Types::STR,
        ParamType::Number => Types::NUM,
        ParamType::Boolean => Types::BOOL,
        ParamType::Array => Types::ARR,
        ParamType::Object => Types::OBJ,
        ParamType::Any => Types::ANY,
    }
}

/// Each top-level parameter with the types its rendered value can have.
fn param_types(params: &Template) -> Vec<(String, Types)> {
    match params {
        Template::Value(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), value_type(v)))
            .collect(),
        Template::Object(entries) => entries
            .iter()
            .map(|(k, t)| (k.clone(), template_type(t)))
            .collect(),
        _ => Vec::new(),
    }
}

fn template_type(template: &Template) -> Types {
    match template {
        Template::Value(value) => value_type(value),
        // A whole-string template keeps its value's type.
        Template::Expr(source) => types_of(&source.expr),
        Template::Text(_) => Types::STR,
        Template::Array(_) => Types::ARR,
        Template::Object(_) => Types::OBJ,
    }
}

fn value_type(value: &Value) -> Types {
    match value {
        Value::Null => Types::NULL,
        Value::Bool(_) => Types::BOOL,
        Value::Number(_) => Types::NUM,
        Value::String(_) => Types::STR,
        Value::Array(_) => Types::ARR,
        Value::Object(_) => Types::OBJ,
    }
}
