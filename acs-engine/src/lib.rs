#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// pest without its `std` feature (see the workspace Cargo.toml) generates parsers that
// name `alloc` from the crate root.
extern crate alloc;

pub mod backtest;
pub mod decision;
pub mod diagnostic;
mod engine;
pub mod eval;
pub mod explain;
mod expression;
pub mod functions;
mod input;
mod limits;
pub mod lint;
pub mod metrics;
pub mod plan;
pub mod ruleset;
pub mod source;
pub mod syntax;
pub mod testing;
pub mod watch;

pub use decision::{Action, Decision, Rejection, RuleError, RuleMatch, Verdict};
pub use diagnostic::{Diagnostic, Severity};
pub use engine::{
    load_plan, load_plan_with, read_sources, read_sources_with, Engine, EngineBuilder,
    LoadError, ReloadEvent, ReloadFailure, RulesSource, Status, UnknownRule, MAX_RULES_FILE_BYTES,
};
pub use expression::{Expression, ExpressionError};
pub use functions::{FunctionError, Functions, HostFunction};
pub use input::InputError;
pub use limits::{Limits, MAX_INPUT_DEPTH};
pub use metrics::MetricsSnapshot;
pub use plan::Plan;
pub use ruleset::{RuleMode, RuleSeverity};
pub use source::{Location, RulesetHash};
pub use watch::{WatchError, WatchOptions, Watcher};
