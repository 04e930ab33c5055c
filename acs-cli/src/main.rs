//! `acs`: the command-line face of the ACS engine. The binary parses the arguments with
//! clap and hands the process's streams to the library (`acs_cli`), where the commands
//! live as plain functions.

use std::process::ExitCode;

use clap::Parser;

use acs_cli::{Cli, Io, Style};

fn main() -> ExitCode {
    // The commands never panic by design; should one ever, say so in one line rather than
    // print a Rust panic message and backtrace at an analyst.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error in acs: {info}");
    }));
    // Clap prints help, the version and usage errors itself (in colour on a terminal) and
    // exits 0 or 2.
    let cli = Cli::parse();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut io = Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        style: Style::detect(cli.color, cli.quiet),
    };
    ExitCode::from(acs_cli::execute(&cli, &mut io))
}
