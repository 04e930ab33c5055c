//! ACS411: paths whose root cannot exist. A bare name reads under `event`, so `evnt.type`
//! silently reads `event.evnt.type`, which is always missing: a misspelt root.

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::lint::facts::walk;
use crate::syntax::ExprKind;

pub(crate) struct MisspeltRoots;

/// Roots worth checking for typos (`db` is too short to tell a typo from a field).
const ROOTS: [&str; 3] = ["event", "ctx", "system"];

pub(super) fn misspelt_root(name: &str) -> Option<&'static str> {
    if ROOTS.contains(&name) || name.len() < 3 {
        return None;
    }
    ROOTS.into_iter().find(|root| {
        let distance = strsim::damerau_levenshtein(name, root);
        distance == 1 || (distance == 2 && name.len() > 4)
    })
}

impl Check for MisspeltRoots {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        for source in cx.expressions() {
            walk(&source.expr, &mut |expr| {
                let ExprKind::Name(name) = &expr.kind else {
                    return;
                };
                if let Some(root) = misspelt_root(name) {
                    findings.push(cx.at(
                        Diagnostic::error(
                            "ACS411",
                            format!("`{name}` is not a root: this reads `event.{name}`, which no input has"),
                        )
                        .with_help(format!("did you mean `{root}`?")),
                        source,
                        expr.span,
                    ));
                }
            });
        }
    }
}
