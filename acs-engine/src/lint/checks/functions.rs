//! ACS402: host functions called with another number of arguments than acs.toml declares.
//! (Unknown names are ACS401, reported by the compiler.)

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::lint::facts::walk;
use crate::syntax::ExprKind;

pub(crate) struct HostArity;

impl Check for HostArity {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        let Some(declared) = &cx.config.functions else {
            return;
        };
        for source in cx.expressions() {
            walk(&source.expr, &mut |expr| {
                let ExprKind::Call { name, args, .. } = &expr.kind else {
                    return;
                };
                let Some(&arity) = declared.get(name) else {
                    return;
                };
                if args.len() != arity {
                    findings.push(
                        cx.at(
                            Diagnostic::error(
                                "ACS402",
                                format!(
                                    "`{name}` takes {arity} argument{}, found {}",
                                    if arity == 1 { "" } else { "s" },
                                    args.len()
                                ),
                            )
                            .with_help("as declared under [functions] in acs.toml"),
                            source,
                            expr.span,
                        ),
                    );
                }
            });
        }
    }
}
