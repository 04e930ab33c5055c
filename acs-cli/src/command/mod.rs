//! One module per subcommand; each `run` is a plain function over [`Io`], returning the
//! exit code, so tests call it in-process.

use std::io::{Read, Write};
use std::path::Path;

use acs_engine::{Engine, Functions, InputError, LoadError};

use crate::terminal::Style;

pub mod eval;
pub mod lint_rules;
pub mod replay;
pub mod test;
pub mod watch;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The command ran and found problems: lint errors, failing rule tests.
pub const EXIT_FINDINGS: u8 = 1;
/// Usage, I/O or load errors.
pub const EXIT_USAGE: u8 = 2;

/// The streams a command reads and writes, and how to shape its output.
pub struct Io<'a> {
    /// Standard input.
    pub stdin: &'a mut dyn Read,
    /// Results.
    pub stdout: &'a mut dyn Write,
    /// Diagnostics, progress, summaries.
    pub stderr: &'a mut dyn Write,
    /// Colour and quietness.
    pub style: Style,
}

/// The host functions for a command: the stub table at `path` (see `acs eval --help`),
/// or none.
pub(crate) fn load_functions(path: Option<&Path>) -> Result<Functions, String> {
    let Some(path) = path else {
        return Ok(Functions::new());
    };
    let text =
        std::fs::read(path).map_err(|e| format!("error: cannot read `{}`: {e}", path.display()))?;
    // Strict, so that a function stubbed twice is an error rather than the last table.
    let table = acs_engine::parse_json(&text).map_err(|e| match e {
        InputError::Json {
            line,
            column,
            message,
            ..
        } => format!(
            "error: `{}` is not valid JSON: {message} at line {line} column {column}",
            path.display()
        ),
        other => format!("error: `{}`: {other}", path.display()),
    })?;
    Functions::from_stubs(&table).map_err(|e| format!("error: `{}`: {e}", path.display()))
}

/// An engine over the rules at `rules` (a file or a bundle directory). The CLI keeps no
/// metrics. Load errors come back rendered with file:line:col and a caret.
pub(crate) fn load_engine(rules: &Path, functions: Functions) -> Result<Engine, String> {
    Engine::builder()
        .functions(functions)
        .metrics(false)
        .load_path(rules)
        .map_err(|e| match e {
            // Diagnostics carry their own `error[ACS…]` headers.
            LoadError::Invalid { .. } => e.to_string(),
            _ => format!("error: {e}"),
        })
}
