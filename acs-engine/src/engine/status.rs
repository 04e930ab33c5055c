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
    /// The file watcher's health: `None` when the engine was never watched.
    pub watch: Option<WatchStatus>,
    /// The audit writer's health, when the engine records decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<crate::metrics::AuditStatus>,
}

/// The file watcher's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WatchStatus {
    /// Whether the watch thread runs. When it does not, changes to the files are loaded
    /// only by [`Engine::reload`](crate::Engine::reload).
    pub alive: bool,
    /// When it last saw a file-system event, relevant to the rules or not (RFC 3339).
    pub last_event_at: Option<String>,
    /// Why it stopped, when it stopped on its own (none when closed by its handle or
    /// running).
    pub stopped_because: Option<String>,
}

/// What the watch thread reports about itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchHealth {
    pub alive: bool,
    pub last_event_at: Option<SystemTime>,
    pub stopped_because: Option<String>,
}

impl WatchHealth {
    #[cfg(feature = "watch")]
    pub(crate) fn running() -> WatchHealth {
        WatchHealth {
            alive: true,
            ..WatchHealth::default()
        }
    }

    /// The thread ended: on its own with a reason, or closed (`None`).
    #[cfg(feature = "watch")]
    pub(crate) fn stop(&mut self, because: Option<String>) {
        self.alive = false;
        self.stopped_because = because;
    }

    pub(crate) fn to_status(&self) -> WatchStatus {
        WatchStatus {
            alive: self.alive,
            last_event_at: self.last_event_at.map(rfc3339),
            stopped_because: self.stopped_because.clone(),
        }
    }

    /// Seconds since the Unix epoch of the last event.
    pub(crate) fn last_event_seconds(&self) -> Option<f64> {
        self.last_event_at
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
    }
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
