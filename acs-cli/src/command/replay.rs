//! `acs replay` (being built).

use super::{Io, EXIT_USAGE};

/// Arguments of `acs replay`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run the command; returns the exit code.
pub fn run(_args: &Args, io: &mut Io<'_>) -> u8 {
    let _ = writeln!(io.stderr, "error: `acs replay` is not built yet");
    EXIT_USAGE
}
