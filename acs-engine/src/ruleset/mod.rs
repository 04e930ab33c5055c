//! YAML rules files -> [`RuleSet`]: rules with parsed conditions and templates, each
//! remembering where in which file it was written. Knows nothing of plans or evaluation.

mod counters;
mod load;
mod scalar_map;
mod template;
mod yaml;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use counters::CounterDecl;
#[cfg(feature = "tools")]
pub(crate) use load::list as backticked_list;
pub(crate) use load::suggest as suggest_name;
pub use load::{load_rule_set, load_rule_set_with};
pub use scalar_map::ScalarMap;
pub use template::{Template, TextPart};
pub(crate) use yaml::describe_json;
pub use yaml::yaml_to_json;
#[cfg(feature = "tools")]
pub(crate) use yaml::{parse_document, Node, NodeKind};

use crate::source::{RulesetHash, SourceMap, Span};
use crate::syntax::{Expr, LocalSpan};

/// A parsed, not yet compiled, set of rules from one file or one directory.
#[derive(Debug)]
pub struct RuleSet {
    /// The rules, in file order (files in name order).
    pub rules: Vec<Rule>,
    /// The velocity counters the files declare.
    pub counters: Vec<CounterDecl>,
    /// The files the rules came from.
    pub sources: Arc<SourceMap>,
    /// `sha256:<hex>` of the files' names and contents.
    pub ruleset_hash: RulesetHash,
}

/// How bad a rule's match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSeverity {
    /// `low`
    Low,
    /// `medium`
    Medium,
    /// `high`
    High,
    /// `critical`
    Critical,
}

impl RuleSeverity {
    /// The spelling used in rules files.
    pub const NAMES: [&'static str; 4] = ["low", "medium", "high", "critical"];

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "low" => RuleSeverity::Low,
            "medium" => RuleSeverity::Medium,
            "high" => RuleSeverity::High,
            "critical" => RuleSeverity::Critical,
            _ => return None,
        })
    }
}

/// Whether a rule's matches count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleMode {
    /// Matches are reported and can reject the request (the default).
    #[default]
    Enforce,
    /// Evaluated, counted and reported in `Decision::shadow_matched`, but never affects
    /// the verdict: how analysts try a rule on live traffic before enforcing it.
    Shadow,
}

/// One rule as written.
#[derive(Debug)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// Higher runs and reports first.
    pub priority: i64,
    /// How bad a match is.
    pub severity: RuleSeverity,
    /// What the rule is for.
    pub description: String,
    /// The parsed condition.
    pub condition: SourceExpr,
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// Whether matches of this rule go to the audit trail.
    pub audit: bool,
    /// `enabled: false` loads the rule but never evaluates it.
    pub enabled: bool,
    /// Free labels.
    pub tags: Vec<String>,
    /// `mode: shadow` rules never affect the verdict.
    pub mode: RuleMode,
    /// Lint finding codes accepted for this rule (`lint: { allow: [...], reason }`).
    pub lint_allow: Vec<String>,
    /// The rule's mapping in the file.
    pub span: Span,
    /// The `id` value in the file.
    pub id_span: Span,
}

/// An expression parsed from a YAML scalar, with the map back to file positions.
#[derive(Debug, Clone)]
pub struct SourceExpr {
    /// The text as decoded from YAML.
    pub text: String,
    /// The tree.
    pub expr: Expr,
    /// Decoded offsets -> file offsets.
    pub map: ScalarMap,
}

impl SourceExpr {
    /// The file span of a node of this expression.
    pub fn span(&self, local: LocalSpan) -> Span {
        self.map.span(local)
    }
}

/// One `{name: {params}}` entry of a rule's `action` list.
#[derive(Debug)]
pub struct Action {
    /// The action name, e.g. `rejectRequest`.
    pub name: String,
    /// Where the name is.
    pub name_span: Span,
    /// The parameters, with their templates parsed.
    pub params: Template,
    /// Each parameter's name and where it is written, in file order.
    pub param_spans: Vec<(String, Span)>,
}
