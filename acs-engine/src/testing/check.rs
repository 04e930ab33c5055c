//! Decision x [`Expectation`] -> every [`Difference`], so a failing test shows all that
//! differed at once rather than the first mismatch.

use serde_json::Value;

use super::{Difference, Expectation, VerdictKind};
use crate::decision::{Decision, RuleMatch, Verdict};
use crate::eval::values_equal;

pub(super) fn differences(expect: &Expectation, decision: &Decision) -> Vec<Difference> {
    let mut out = Vec::new();
    let matched = ids(&decision.matched);
    let shadow = ids(&decision.shadow_matched);
    if let Some(expected) = &expect.matched {
        if *expected != matched {
            out.push(Difference::Matched {
                missing: absent(expected, &matched),
                unexpected: absent(&matched, expected),
                expected: expected.clone(),
                actual: matched.clone(),
            });
        }
    }
    let missing = absent(&expect.matched_includes, &matched);
    if !missing.is_empty() {
        out.push(Difference::MissingMatches {
            missing,
            actual: matched.clone(),
        });
    }
    let unexpected: Vec<String> = expect
        .not_matched
        .iter()
        .filter(|id| matched.contains(id))
        .cloned()
        .collect();
    if !unexpected.is_empty() {
        out.push(Difference::UnexpectedMatches {
            unexpected,
            actual: matched.clone(),
        });
    }
    let (verdict, rejected_by, code) = match &decision.verdict {
        Verdict::Allowed => (VerdictKind::Allowed, None, None),
        Verdict::Rejected(rejection) => (
            VerdictKind::Rejected,
            Some(rejection.rule_id().to_owned()),
            rejection.code().map(str::to_owned),
        ),
    };
    if let Some(expected) = expect.verdict {
        if expected != verdict {
            out.push(Difference::Verdict {
                expected,
                actual: verdict,
                rejected_by: rejected_by.clone(),
            });
        }
    }
    if let Some(expected) = &expect.code {
        if code.as_ref() != Some(expected) {
            out.push(Difference::Code {
                expected: expected.clone(),
                actual: code,
            });
        }
    }
    if let Some(expected) = &expect.rejected_by {
        if rejected_by.as_ref() != Some(expected) {
            out.push(Difference::RejectedBy {
                expected: expected.clone(),
                actual: rejected_by,
            });
        }
    }
    if let Some(expected) = &expect.shadow_matched {
        if *expected != shadow {
            out.push(Difference::ShadowMatched {
                missing: absent(expected, &shadow),
                unexpected: absent(&shadow, expected),
                expected: expected.clone(),
                actual: shadow,
            });
        }
    }
    let errored: Vec<String> = decision
        .errors
        .iter()
        .map(|e| e.rule_id.to_string())
        .collect();
    let missing = absent(&expect.errors, &errored);
    let unexpected: Vec<_> = decision
        .errors
        .iter()
        .filter(|e| !expect.errors.iter().any(|id| **id == *e.rule_id))
        .cloned()
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        out.push(Difference::Errors {
            expected: expect.errors.clone(),
            missing,
            unexpected,
        });
    }
    if let Some(expected) = expect.rules_evaluated {
        if expected != decision.rules_evaluated {
            out.push(Difference::RulesEvaluated {
                expected,
                actual: decision.rules_evaluated,
            });
        }
    }
    for want in &expect.actions {
        let rule = decision
            .matched
            .iter()
            .chain(&decision.shadow_matched)
            .find(|m| m.id() == want.rule);
        let actual = rule.and_then(|m| m.action(&want.action).map(|a| a.params.clone()));
        if !actual
            .as_ref()
            .is_some_and(|got| contains(got, &want.params))
        {
            out.push(Difference::Action {
                rule: want.rule.clone(),
                action: want.action.clone(),
                expected: want.params.clone(),
                actual,
                rule_matched: rule.is_some(),
            });
        }
    }
    out
}

fn ids(matches: &[RuleMatch]) -> Vec<String> {
    matches.iter().map(|m| m.id().to_owned()).collect()
}

/// The ids of `of` that are not in `among`, in `of`'s order.
fn absent(of: &[String], among: &[String]) -> Vec<String> {
    of.iter()
        .filter(|id| !among.contains(id))
        .cloned()
        .collect()
}

/// Whether `actual` carries `expected`: objects key by key (extra keys allowed), anything
/// else equal as the condition language's `==` sees it.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => expected
            .iter()
            .all(|(key, want)| actual.get(key).is_some_and(|got| contains(got, want))),
        _ => values_equal(actual, expected),
    }
}
