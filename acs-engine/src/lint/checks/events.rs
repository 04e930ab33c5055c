//! ACS415 (an `event.type` no declared event has) and ACS416 (an event field the rule's
//! events do not have), when acs.toml declares the events under `[events."TYPE"]`. A
//! misspelt type or field is otherwise silent: the gate never matches, the path reads
//! `null`.

use std::collections::BTreeSet;

use super::{Check, RuleContext};
use crate::diagnostic::Diagnostic;
use crate::lint::facts::{gate, path_of};
use crate::ruleset::{suggest_name, SourceExpr};
use crate::syntax::{BinaryOp, Expr, ExprKind};

pub(crate) struct KnownEvents;

impl Check for KnownEvents {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        root_fields(cx, findings);
        let Some(events) = &cx.config.events else {
            return;
        };
        let types: Vec<&str> = events.keys().map(String::as_str).collect();
        let condition = &cx.rule.condition;
        each_type_literal(&condition.expr, &mut |literal, name| {
            if types.contains(&name) {
                return;
            }
            let help = match suggest_name(name, &types) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "declare it under [events] in acs.toml if the host sends it".to_owned(),
            };
            findings.push(
                cx.at(
                    Diagnostic::error("ACS415", format!("no event has the type `{name}`"))
                        .with_help(help),
                    condition,
                    literal.span,
                ),
            );
        });
        // The fields of the events the rule is gated on (of every event, without a gate);
        // an undeclared type in the gate is ACS415 above, and its fields are unknown.
        let gated: Vec<String> = match gate(&condition.expr) {
            Some(gated) if gated.is_empty() => return,
            Some(gated) => gated,
            None => events.keys().cloned().collect(),
        };
        let mut fields = BTreeSet::new();
        for name in &gated {
            let Some(event) = events.get(name) else {
                return;
            };
            // Its schema allows fields it does not name.
            if event.open {
                return;
            }
            fields.extend(event.fields.iter().map(String::as_str));
        }
        let fields: Vec<&str> = fields.into_iter().collect();
        let shown_types = gated.join("`, `");
        for source in cx.expressions() {
            each_path(&source.expr, &mut |expr, path| {
                let Some(field) = path.strip_prefix("event.") else {
                    return;
                };
                // A misspelt root (`ctxt.userId`) is ACS411's finding, not a field's.
                let head = field.split('.').next().unwrap_or(field);
                if field == "type"
                    || declared(&fields, field)
                    || super::roots::misspelt_root(head).is_some()
                {
                    return;
                }
                findings.push(finding(cx, source, expr, field, &fields, &shown_types));
            });
        }
    }
}

/// ACS417: a path into `ctx`, `system` or `db` that `[fields]` does not declare, for each
/// root `[fields]` lists.
fn root_fields(cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
    for source in cx.expressions() {
        each_path(&source.expr, &mut |expr, path| {
            let Some((root, field)) = path.split_once('.') else {
                return;
            };
            let Some(declared_fields) = cx.config.fields.of(root) else {
                return;
            };
            let fields: Vec<&str> = declared_fields.iter().map(String::as_str).collect();
            if declared(&fields, field) {
                return;
            }
            let help = match suggest_name(field, &fields) {
                Some(near) => format!("did you mean `{root}.{near}`?"),
                None => {
                    format!("declare it under [fields] {root} in acs.toml if the host sends it")
                }
            };
            findings.push(
                cx.at(
                    Diagnostic::error(
                        "ACS417",
                        format!("`{root}.{field}` is not a declared field of `{root}`"),
                    )
                    .with_help(help),
                    source,
                    expr.span,
                ),
            );
        });
    }
}

fn finding(
    cx: &RuleContext<'_>,
    source: &SourceExpr,
    expr: &Expr,
    field: &str,
    fields: &[&str],
    types: &str,
) -> Diagnostic {
    let help = match suggest_name(field, fields) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("declare it in the fields of `{types}` in acs.toml if the host sends it"),
    };
    cx.at(
        Diagnostic::error("ACS416", format!("`{field}` is not a field of `{types}`"))
            .with_help(help),
        source,
        expr.span,
    )
}

/// A declared field, a path leading to one (`bid` for `bid.amount`), or a path inside
/// one (its inside is not declared).
fn declared(fields: &[&str], field: &str) -> bool {
    let below = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    fields
        .iter()
        .any(|f| *f == field || below(field, f) || below(f, field))
}

/// Every string compared with `event.type` by `==`, `!=` or `in [...]`, anywhere in the
/// condition.
fn each_type_literal<'a>(expr: &'a Expr, visit: &mut dyn FnMut(&'a Expr, &'a str)) {
    crate::lint::facts::walk(expr, &mut |node| {
        let ExprKind::Binary(op, lhs, rhs) = &node.kind else {
            return;
        };
        let is_type = |e: &Expr| path_of(e).is_some_and(|p| p == "event.type");
        if !matches!(op, BinaryOp::Eq | BinaryOp::Ne | BinaryOp::In) {
            return;
        }
        let other = if is_type(lhs) {
            rhs
        } else if is_type(rhs) && *op != BinaryOp::In {
            lhs
        } else {
            return;
        };
        let items = match &other.kind {
            ExprKind::Array(items) => items.as_slice(),
            _ => std::slice::from_ref(&**other),
        };
        for item in items {
            if let ExprKind::String(name) = &item.kind {
                visit(item, name);
            }
        }
    });
}

/// Every path read, whole (`bid.amount`, not also `bid`), with its canonical form.
fn each_path(expr: &Expr, visit: &mut dyn FnMut(&Expr, &str)) {
    if let Some(path) = path_of(expr) {
        visit(expr, &path);
        return;
    }
    expr.for_each_child(|child| each_path(child, visit));
}
