//! The host's defences against hostile or accidental input: how large a rules file, a
//! condition, an input document and a rendered text may be, and how deep they may nest.
//! Each limit has a documented default and an error that names it.

use serde::{Deserialize, Serialize};

use crate::syntax::{SyntaxLimits, MAX_CONDITION_BYTES, MAX_NESTING};

/// Deepest JSON input `serde_json` parses (its fixed recursion limit).
pub const MAX_INPUT_DEPTH: usize = 128;

/// Limits on what an engine accepts. `Limits::default()` holds the documented defaults;
/// set them with [`EngineBuilder::limits`](crate::EngineBuilder::limits).
///
/// ```
/// use acs_engine::{Engine, Limits};
/// let engine = Engine::builder()
///     .limits(Limits { max_input_bytes: 64 * 1024, ..Limits::default() })
///     .load_str("rules.yaml", "- {id: A, priority: 1, severity: low, description: d, condition: \"event.type == 'a'\", action: [], audit: false}")?;
/// assert!(engine.evaluate_json(&vec![b' '; 65 * 1024]).is_err());
/// # Ok::<(), acs_engine::LoadError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest rules file, in bytes (default 32 MiB). Larger files are refused unread.
    pub max_rules_file_bytes: u64,
    /// Longest condition or `{{...}}` expression, in bytes (default 16 KiB).
    pub max_condition_bytes: usize,
    /// Most brackets open at once in a condition (default and maximum 32). Expression
    /// trees are also capped at 128 levels, whatever the brackets.
    pub max_nesting: usize,
    /// Largest input document accepted by [`Engine::evaluate_json`](crate::Engine::evaluate_json),
    /// in bytes (default 16 MiB).
    pub max_input_bytes: usize,
    /// Deepest nesting of arrays and objects in a JSON input (default and maximum 128).
    pub max_input_depth: usize,
    /// Longest string an interpolated action template may render, in bytes (default
    /// 64 KiB). A longer one is an error of that rule.
    pub max_rendered_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rules_file_bytes: 32 * 1024 * 1024,
            max_condition_bytes: MAX_CONDITION_BYTES,
            max_nesting: MAX_NESTING,
            max_input_bytes: 16 * 1024 * 1024,
            max_input_depth: MAX_INPUT_DEPTH,
            max_rendered_bytes: 64 * 1024,
        }
    }
}

impl Limits {
    /// The part the condition parser applies.
    pub(crate) fn syntax(&self) -> SyntaxLimits {
        SyntaxLimits {
            max_condition_bytes: self.max_condition_bytes,
            max_nesting: self.max_nesting,
        }
    }
}
