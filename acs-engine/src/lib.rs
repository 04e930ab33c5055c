#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod decision;
pub mod diagnostic;
mod engine;
pub mod eval;
mod expression;
pub mod functions;
pub mod plan;
pub mod ruleset;
pub mod source;
pub mod syntax;

pub use decision::{Decision, RenderedAction, RuleError, RuleMatch, Verdict};
pub use diagnostic::{Diagnostic, Severity};
pub use engine::{
    load_plan, read_sources, Engine, EngineBuilder, InputError, LoadError, RulesSource,
    MAX_RULES_FILE_BYTES,
};
pub use expression::{Expression, ExpressionError};
pub use functions::{FunctionError, Functions, HostFunction};
pub use plan::Plan;
pub use ruleset::RuleSeverity;
pub use source::Location;
