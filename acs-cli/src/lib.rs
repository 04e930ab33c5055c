//! `acs`: the command-line face of the ACS engine. Arguments, files, terminal and exit
//! codes live here; every semantic decision is the engine's.

mod command;
mod terminal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use command::Io;
use terminal::{ColorChoice, Style};

/// ACS fraud rules: lint, evaluate, test and backtest rules bundles.
///
/// The analyst's loop: `acs lint-rules` a rule, `acs test` it, `acs replay` it over
/// recorded events (with `--baseline` against the rules in production), ship it.
#[derive(Debug, Parser)]
#[command(name = "acs", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print only results and errors: no warnings, summaries or progress.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// When to colour the output (`NO_COLOR` set means never, under `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check rules files before they ship: every finding with a code, file:line:col and
    /// a caret under the exact character.
    ///
    /// Exit status: 0 clean (warnings allowed), 1 errors (or warnings with
    /// --deny-warnings), 2 usage or I/O errors.
    ///
    /// Example:
    ///   acs lint-rules rules/acs_rules_top25.yaml
    ///   acs lint-rules --format sarif rules/ > lint.sarif
    #[command(name = "lint-rules")]
    LintRules(command::lint_rules::Args),
    /// Evaluate one input document and print the decision as JSON.
    ///
    /// Example:
    ///   acs eval --rules rules/ --functions rules/examples/stubs.json rules/examples/bid_create_kyc_missing.json
    Eval(command::eval::EvalArgs),
    /// Run rule test files: inputs, stubs and the expected matches and verdict.
    ///
    /// Example:
    ///   acs test rules/tests/
    Test(command::test::Args),
    /// Backtest rules on recorded inputs (JSON lines), optionally against a baseline.
    ///
    /// Example:
    ///   acs replay --rules rules/ --baseline old_rules.yaml events.jsonl
    Replay(command::replay::Args),
    /// Run the hot-reloading engine on a rules file and print each reload's result.
    ///
    /// Example:
    ///   acs watch rules/
    Watch(command::watch::Args),
}

fn main() -> ExitCode {
    // The commands never panic by design; should one ever, say so in one line rather than
    // print a Rust panic message and backtrace at an analyst.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error in acs: {info}");
    }));
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
    let code = match &cli.command {
        Command::LintRules(args) => command::lint_rules::run(args, &mut io),
        Command::Eval(args) => command::eval::run(args, &mut io),
        Command::Test(args) => command::test::run(args, &mut io),
        Command::Replay(args) => command::replay::run(args, &mut io),
        Command::Watch(args) => command::watch::run(args, &mut io),
    };
    ExitCode::from(code)
}
