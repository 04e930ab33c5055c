//! What one evaluation returns: matched rules with rendered actions, the verdict, per-rule
//! errors and the hash of the rules that decided. Plain serde types, the same for every host.

mod params;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub(crate) use params::Holes;
pub use params::Params;

use crate::ruleset::RuleSeverity;
use crate::source::Location;

/// The outcome of evaluating one input against a rule set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub ruleset_hash: Arc<str>,
}

impl Decision {
    /// Whether the verdict is a rejection.
    pub fn is_rejected(&self) -> bool {
        matches!(self.verdict, Verdict::Rejected { .. })
    }

    /// Ids of the matched rules, in order.
    pub fn matched_ids(&self) -> Vec<&str> {
        self.matched.iter().map(|m| &*m.id).collect()
    }
}

/// The overall verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Verdict {
    /// No matched rule rejects the request.
    Allowed,
    /// The highest-priority matched rule with a `rejectRequest` action rejects it.
    Rejected {
        /// The rejecting rule.
        rule_id: Arc<str>,
        /// Its `code` parameter, rendered.
        code: Option<Arc<str>>,
        /// Its `message` parameter, rendered.
        message: Option<Arc<str>>,
    },
}

/// One matched rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMatch {
    /// Rule id.
    pub id: Arc<str>,
    /// Rule priority.
    pub priority: i64,
    /// Rule severity.
    pub severity: RuleSeverity,
    /// Whether the match belongs in the audit trail.
    pub audit: bool,
    /// The rule's actions with their templates rendered.
    pub actions: Vec<RenderedAction>,
}

/// An action with its parameters rendered against the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedAction {
    /// The action name, e.g. `rejectRequest`.
    pub name: Arc<str>,
    /// The parameters (an object; reads as a `serde_json::Value`). Shared with the plan
    /// when they hold no template; otherwise only the template's holes were computed.
    pub params: Params,
}

/// A failure inside one rule: the rule did not match (or rendered incompletely); the
/// others were evaluated normally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    /// The rule.
    pub rule_id: Arc<str>,
    /// What went wrong, one line.
    pub message: String,
    /// Where in the rules file.
    pub location: Option<Location>,
}
