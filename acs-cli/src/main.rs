//! `acs`: the command-line face of the ACS engine. The binary parses the arguments with
//! clap and hands the process's streams to the library (`acs_cli`), where the commands
//! live as plain functions.

use std::process::ExitCode;

use clap::Parser;

use acs_cli::{Cli, Command, Style};

fn main() -> ExitCode {
    acs_cli::install_panic_hook();
    // Clap prints help, the version and usage errors itself (in colour on a terminal) and
    // exits 0 or 2.
    let cli = Cli::parse();
    let style = Style::detect(cli.color, cli.quiet);
    let interrupted = match cli.command {
        Command::Replay(_) => acs_cli::catch_ctrl_c(),
        _ => None,
    };
    ExitCode::from(acs_cli::with_process_streams(style, interrupted, |io| {
        acs_cli::execute(&cli, io)
    }))
}
