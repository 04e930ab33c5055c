//! `acs`: the command-line face of the ACS engine. Arguments, files, terminal and exit
//! codes live here; every semantic decision is the engine's.

mod command;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ACS fraud rules: evaluate inputs against a rules bundle.
#[derive(Debug, Parser)]
#[command(name = "acs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate one input document and print the decision as JSON.
    ///
    /// Example:
    ///   acs eval --rules rules/ --functions rules/examples/stubs.json rules/examples/bid_create_kyc_missing.json
    Eval(command::eval::EvalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let code = match cli.command {
        Command::Eval(args) => command::eval::run(
            &args,
            &mut std::io::stdin().lock(),
            &mut stdout,
            &mut stderr,
        ),
    };
    ExitCode::from(code)
}
