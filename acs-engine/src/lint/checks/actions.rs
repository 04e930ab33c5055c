//! ACS410: action names the host does not handle.

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::ruleset::suggest_name;

pub(crate) struct UnknownActions;

impl Check for UnknownActions {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        let known = cx.config.action_names();
        for action in &cx.rule.actions {
            if known.contains(&action.name.as_str()) {
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
