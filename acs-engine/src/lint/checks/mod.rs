//! The lint checks: one file each, behind [`Check`]. Each sees one rule at a time, except
//! [`duplicates`], which compares rules with each other.

mod actions;
mod complexity;
mod duplicates;
mod events;
mod failing;
mod functions;
mod gate;
mod missing;
mod roots;
mod satisfiable;

use super::LintConfig;
use crate::diagnostic::Diagnostic;
use crate::ruleset::{Rule, RuleSet, SourceExpr};
use crate::source::SourceMap;
use crate::syntax::LocalSpan;

/// What a check sees of the rule under inspection.
pub(crate) struct RuleContext<'a> {
    pub rule: &'a Rule,
    pub sources: &'a SourceMap,
    pub config: &'a LintConfig,
}

impl RuleContext<'_> {
    /// Place a finding on a node of one of the rule's expressions.
    pub fn at(&self, diagnostic: Diagnostic, expr: &SourceExpr, span: LocalSpan) -> Diagnostic {
        diagnostic
            .at(self.sources, expr.span(span))
            .for_rule(Some(&self.rule.id))
    }

    /// Every expression of the rule: its condition, then each template.
    pub fn expressions(&self) -> impl Iterator<Item = &SourceExpr> {
        std::iter::once(&self.rule.condition).chain(
            self.rule
                .actions
                .iter()
                .flat_map(|action| action.params.expressions()),
        )
    }
}

/// One lint over one rule.
pub(crate) trait Check {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>);
}

const RULE_CHECKS: &[&dyn Check] = &[
    &actions::UnknownActions,
    &functions::HostArity,
    &roots::MisspeltRoots,
    &events::KnownEvents,
    &satisfiable::Satisfiable,
    &failing::FailingOperations,
    &missing::NegatedMissing,
    &gate::NoGate,
    &complexity::Complexity,
];

/// Run every check over every rule, then across rules.
pub(crate) fn run(rule_set: &RuleSet, config: &LintConfig, findings: &mut Vec<Diagnostic>) {
    for rule in &rule_set.rules {
        let cx = RuleContext {
            rule,
            sources: &rule_set.sources,
            config,
        };
        for check in RULE_CHECKS {
            check.check(&cx, findings);
        }
    }
    duplicates::check(rule_set, findings);
}
