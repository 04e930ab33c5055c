//! What an engine reports about itself: status, reload events and failures.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::source::RulesetHash;

/// What a reload did, for subscribers (see [`Engine::on_reload`](crate::Engine::on_reload)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ReloadEvent {
    /// A new plan serves.
    Loaded {
        /// Its generation.
        generation: u64,
        /// Its rule count.
        rule_count: usize,
        /// Its ruleset hash.
        ruleset_hash: RulesetHash,
    },
    /// The files loaded but hold the rules already serving (for instance a file restored
    /// after a failed edit): no new generation, and any earlier failure is cleared.
    Unchanged {
        /// The generation still serving.
        generation: u64,
    },
    /// The files did not load; the previous plan keeps serving.
    Failed(ReloadFailure),
}

/// A reload that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReloadFailure {
    /// The generation still serving.
    pub generation: u64,
    /// When it failed (RFC 3339).
    pub failed_at: String,
    /// The rendered error, with file:line:col.
    pub message: String,
    /// The diagnostics behind it.
    pub diagnostics: Vec<Diagnostic>,
}

/// What the engine serves now, for health checks and dashboards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// Generation of the serving plan (1 for the first load, +1 per successful reload).
    pub generation: u64,
    /// `sha256:<hex>` of the serving rules.
    pub ruleset_hash: RulesetHash,
    /// Rules in the serving plan.
    pub rule_count: usize,
    /// When the serving plan was built (RFC 3339).
    pub loaded_at: String,
    /// Where the rules come from.
    pub source: String,
    /// The last reload failure, cleared by the next successful reload.
    pub last_error: Option<ReloadFailure>,
    /// Kill-switch overrides in force: rule id -> enabled (including rules the serving
    /// plan does not have yet: they arrive with the override applied).
    pub overrides: BTreeMap<String, bool>,
    /// Reload subscribers that panicked since the engine started (each panic is caught
    /// and logged; reloads go on).
    pub subscriber_failures: u64,
}

/// What a kill-switch change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RuleSwitch {
    /// The serving plan has the rule: the change applies from the next evaluation.
    Applied,
    /// The serving plan has no such rule: the change is kept and applies when a reload
    /// brings the rule (switch a rule off before it ships).
    Pending,
}

pub(super) fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
