//! One module per subcommand; each `run` is a plain function over [`Io`], returning the
//! exit code, so tests call it in-process.

use std::io::{Read, Write};

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
