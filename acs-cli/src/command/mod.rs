//! One module per subcommand; each `run` is a plain function over [`Io`], returning the
//! exit code, so tests call it in-process.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use acs_engine::{Engine, Functions, Limits, LoadError};

use crate::terminal::Style;

pub mod audit;
pub mod bundle;
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
/// Stopped by Ctrl-C (128 + SIGINT, as a shell reports a process that SIGINT ended).
pub const EXIT_INTERRUPTED: u8 = 130;

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
    /// Set when the user asks a long command to stop (the binary's Ctrl-C): `acs replay`
    /// then stops reading and reports the lines it has read. `None`: nothing asks.
    pub interrupted: Option<&'a AtomicBool>,
}

/// The exit code once a command has written its results: `code`, the status those results
/// give. A reader that went away (`acs … | head -c1`) ends the command quietly with that
/// same status, as other Unix tools stop; any other write error is an I/O error.
pub(crate) fn after_writing(written: std::io::Result<()>, code: u8, stderr: &mut dyn Write) -> u8 {
    match written {
        Ok(()) => code,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(error) => {
            let _ = writeln!(stderr, "error: cannot write the output: {error}");
            EXIT_USAGE
        }
    }
}

/// The host functions for a command: the stub table at `path` (see `acs eval --help`),
/// or none.
pub(crate) fn load_functions(path: Option<&Path>) -> Result<Functions, String> {
    let Some(path) = path else {
        return Ok(Functions::new());
    };
    Functions::from_stub_file(path).map_err(|e| format!("error: {e}"))
}

/// An engine over the rules at `rules` (a file or a bundle directory). The CLI keeps no
/// metrics. Load errors come back rendered with file:line:col and a caret.
pub(crate) fn load_engine(
    rules: &Path,
    functions: Functions,
    limits: Limits,
) -> Result<Engine, String> {
    Engine::builder()
        .functions(functions)
        .limits(limits)
        .metrics(false)
        .load_path(rules)
        .map_err(|e| match e {
            // Diagnostics carry their own `error[ACS…]` headers.
            LoadError::Invalid { .. } => e.to_string(),
            _ => format!("error: {e}"),
        })
}
