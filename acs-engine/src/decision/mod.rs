//! What one evaluation returns: matched rules with rendered actions, the verdict, per-rule
//! errors and the hash of the rules that decided. Plain serde types, the same for every host.
//!
//! A decision is plain data: it holds what a caller reads and nothing of the plan, so a
//! decision kept after a reload keeps neither the old plan's programs nor the host's
//! functions alive. It is built on every request, so it is shaped to cost little: each
//! matched rule holds one shared reference to the rule's plain facts (`RuleFacts`: id,
//! severity, action names and parameter templates) plus the values of its templates'
//! holes, and the ruleset hash is stored inline. Every other `Arc` clone would be one
//! more atomic instruction per match, which on this path costs more than evaluating a
//! condition.

mod matched;
mod params;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub(crate) use matched::RuleFacts;
pub use matched::{Action, Actions, Rejection, RuleMatch};
pub(crate) use params::{display, Holes, ParamTemplate};

use crate::source::{Location, RulesetHash};

/// The outcome of evaluating one input against a rule set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// Allowed, or rejected by the highest-priority matched `rejectRequest`.
    pub verdict: Verdict,
    /// Matched rules, highest priority first (file order on ties).
    pub matched: Vec<RuleMatch>,
    /// Matched `mode: shadow` rules: reported and counted, never part of the verdict.
    pub shadow_matched: Vec<RuleMatch>,
    /// Rules whose evaluation failed (they did not match).
    pub errors: Vec<RuleError>,
    /// How many rules were checked (the others were skipped by their `event.type` gate).
    pub rules_evaluated: u32,
    /// The generation of the plan that decided (it increases with every reload).
    pub generation: u64,
    /// `sha256:<hex>` of the rules files that decided.
    pub ruleset_hash: RulesetHash,
    /// The engine audits decisions like this one and could not record it (the audit
    /// queue was full under `Overflow::MarkUnavailable` or after `Overflow::Block`'s
    /// wait, or the audit writer stopped): a host that must not act unrecorded refuses
    /// the request. Left out of the JSON when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub audit_unavailable: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Decision {
    /// Whether the verdict is a rejection.
    pub fn is_rejected(&self) -> bool {
        matches!(self.verdict, Verdict::Rejected(_))
    }

    /// The rejection, when the verdict is one.
    pub fn rejection(&self) -> Option<&Rejection> {
        match &self.verdict {
            Verdict::Rejected(rejection) => Some(rejection),
            Verdict::Allowed => None,
        }
    }

    /// Ids of the matched rules, in order.
    pub fn matched_ids(&self) -> Vec<&str> {
        self.matched.iter().map(RuleMatch::id).collect()
    }
}

/// The overall verdict. Serialized as `{"outcome": "allowed"}` or
/// `{"outcome": "rejected", "rule_id": ..., "code": ..., "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Verdict {
    /// No matched rule rejects the request.
    Allowed,
    /// The highest-priority matched rule with a `rejectRequest` action rejects it.
    Rejected(Rejection),
}

/// A failure inside one rule: the rule did not match (or rendered incompletely); the
/// others were evaluated normally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleError {
    /// The rule.
    pub rule_id: Arc<str>,
    /// What went wrong, one line.
    pub message: String,
    /// Where in the rules file.
    pub location: Option<Location>,
}
