//! Explanations: for one input and each candidate rule, the value of every
//! sub-expression of its condition, so a person sees why it matched or not. Built from the
//! engine's own parser, compiler and evaluator, so it cannot disagree with a decision.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ruleset::RuleSeverity;
use crate::source::Location;

mod build;
mod render;

pub use build::explain;

/// How the candidate rules of a plan fare on one input, node by node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Explanation {
    /// The input's `event.type` when it is a string: it picks the gated rules.
    pub event_type: Option<String>,
    /// Every rule the plan checks for this event type, in evaluation order (priority,
    /// then file order), including disabled rules.
    pub rules: Vec<RuleExplanation>,
}

/// One candidate rule: its outcome and its condition as a tree of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleExplanation {
    /// Rule id.
    pub id: String,
    /// Rule priority.
    pub priority: i64,
    /// Rule severity.
    pub severity: RuleSeverity,
    /// `mode: shadow`: a match goes to `Decision::shadow_matched`, never to the verdict.
    pub shadow: bool,
    /// Whether the rule matched.
    pub outcome: RuleOutcome,
    /// Where the condition starts in the rules file.
    pub location: Option<Location>,
    /// The condition, with the value of each sub-expression.
    pub condition: ExplainedNode,
}

/// What became of one candidate rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleOutcome {
    /// The condition was truthy.
    Matched,
    /// The condition was falsy.
    NotMatched,
    /// The condition raised an error, so the rule did not match.
    Error,
    /// Disabled (`enabled: false` or the engine's kill switch): not evaluated.
    Disabled,
}

/// One sub-expression of a condition. Literals are not listed as nodes of their own, and
/// a path such as `operator.kycStatus` is one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExplainedNode {
    /// The sub-expression as written (YAML quoting removed).
    pub text: String,
    /// Where it is in the rules file.
    pub location: Option<Location>,
    /// Its value, or why there is none.
    #[serde(flatten)]
    pub outcome: NodeOutcome,
    /// Its operands, in evaluation order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ExplainedNode>,
}

/// The value of a sub-expression, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeOutcome {
    /// Evaluated to `value`.
    Value {
        /// The value.
        value: Value,
        /// The sub-expression is a path that is absent from the input (so `value` is null).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        missing: bool,
    },
    /// Never reached: an earlier operand of `&&` / `||` decided, an earlier operand
    /// failed, or the function called is not registered.
    NotEvaluated,
    /// Evaluating it failed.
    Error {
        /// What went wrong, one line.
        message: String,
    },
}

impl Explanation {
    /// Ids of the matched enforced rules, in order: `Decision::matched_ids` for the input.
    pub fn matched_ids(&self) -> Vec<&str> {
        self.ids_where(|r| r.outcome == RuleOutcome::Matched && !r.shadow)
    }

    /// Ids of the matched `mode: shadow` rules, in order.
    pub fn shadow_matched_ids(&self) -> Vec<&str> {
        self.ids_where(|r| r.outcome == RuleOutcome::Matched && r.shadow)
    }

    /// Ids of the rules whose condition failed, in order.
    pub fn error_ids(&self) -> Vec<&str> {
        self.ids_where(|r| r.outcome == RuleOutcome::Error)
    }

    fn ids_where(&self, keep: impl Fn(&RuleExplanation) -> bool) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.id.as_str())
            .collect()
    }
}
