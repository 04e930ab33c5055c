//! ACS442: two rules with the same gate and the same condition (the order of the `&&`
//! operands and the spelling of the gate aside): one of them is dead weight or a
//! copy-paste slip.

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::lint::facts::{conjuncts, gate, gate_of};
use crate::ruleset::RuleSet;
use crate::syntax::to_source;

pub(crate) fn check(rule_set: &RuleSet, findings: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<(Option<Vec<String>>, Vec<String>), &str> = HashMap::new();
    for rule in &rule_set.rules {
        let expr = &rule.condition.expr;
        let mut rest: Vec<String> = conjuncts(expr)
            .iter()
            .filter(|c| gate_of(c).is_none())
            .map(to_source)
            .collect();
        rest.sort_unstable();
        let key = (gate(expr), rest);
        match seen.get(&key) {
            Some(first) => findings.push(
                Diagnostic::warning(
                    "ACS442",
                    format!("the rule has the same gate and condition as `{first}`"),
                )
                .at(&rule_set.sources, rule.condition.span(expr.span))
                .for_rule(Some(&rule.id))
                .with_help("remove one, or merge their actions into one rule"),
            ),
            None => {
                seen.insert(key, &rule.id);
            }
        }
    }
}
