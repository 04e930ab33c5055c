#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// pest without its `std` feature (see the workspace Cargo.toml) generates parsers that
// name `alloc` from the crate root.
extern crate alloc;

// The order in which these may use each other is in ARCHITECTURE.md ("Layers"), and
// `tests/it/layering.rs` holds every module to it.
#[cfg(feature = "audit")]
pub mod audit;
mod compile;
mod decision;
mod diagnostic;
mod engine;
mod eval;
pub mod explain;
mod expression;
mod functions;
mod input;
mod limits;
mod metrics;
mod plan;
mod ruleset;
mod source;
mod stubs;
mod syntax;
pub mod velocity;
// Tools beside the request path, over the engine.
#[cfg(feature = "tools")]
pub mod backtest;
#[cfg(feature = "tools")]
pub mod lint;
#[cfg(feature = "tools")]
pub mod testing;

pub use decision::{Action, Actions, Decision, Rejection, RuleError, RuleMatch, Verdict};
pub use diagnostic::{Diagnostic, Severity};
pub use engine::bundle;
pub use engine::AuditStatus;
#[cfg(feature = "audit")]
pub use engine::{
    AuditConfig, AuditOptions, Fsync, FsyncConfig, Overflow, OverflowConfig, RedactConfig,
    AUDIT_DURABLE_WAIT,
};
pub use engine::{
    Engine, EngineBuilder, LoadError, ReloadEvent, ReloadFailure, RuleSwitch, RulesSource, Status,
    WatchStatus,
};
#[cfg(feature = "watch")]
pub use engine::{WatchError, WatchOptions, Watcher};
pub use eval::{AnswerError, Evaluation, HostCall, Step};
pub use expression::{Expression, ExpressionError};
pub use functions::{FunctionError, Functions, HostFunction};
pub use input::leaves::{Leaf, LeafLayout};
pub use input::{parse_json, InputError};
pub use limits::{read_bounded, read_file, Limits, ReadError};
pub use metrics::{LatencyBucket, MetricsSnapshot, RuleCounters};
pub use plan::Plan;
pub use ruleset::{RuleMode, RuleSeverity};
pub use source::{Location, RulesetHash};
pub use stubs::{StubError, MAX_STUB_TABLE_BYTES};

/// Internals for the fuzz targets, benchmarks and tests of this workspace: the parser,
/// the loader and the compiler stage by stage. **Not a stable API**: anything here may
/// change or go in any release; an embedding host uses the crate root.
#[doc(hidden)]
pub mod unstable {
    pub use crate::compile::compile;
    pub use crate::engine::{
        load_plan, load_plan_with, read_sources, read_sources_with, MAX_RULES_FILE_BYTES,
    };
    pub use crate::eval::values_equal;
    pub use crate::functions::text_contains_pii;
    pub use crate::limits::MAX_INPUT_DEPTH;
    #[cfg(feature = "tools")]
    pub use crate::lint::codes::CODES;
    pub use crate::ruleset::{load_rule_set, yaml_to_json, RuleSet};
    pub use crate::source::{FileId, SourceFile, SourceMap, Span};

    /// The condition language's parser and printers.
    pub mod syntax {
        pub use crate::syntax::*;
    }
}
