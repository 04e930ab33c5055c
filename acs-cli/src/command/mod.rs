//! One module per subcommand; each `run` is a plain function over readers and writers,
//! returning the exit code, so tests call it in-process.

pub mod eval;

/// Success.
pub const EXIT_OK: u8 = 0;
/// Usage, I/O or load errors.
pub const EXIT_USAGE: u8 = 2;
