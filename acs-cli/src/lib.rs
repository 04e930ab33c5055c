//! The `acs` command as a library: its arguments ([`Cli`]), its commands as plain
//! functions over streams ([`Io`]), its terminal styles and exit codes. Every semantic
//! decision, down to which files a command reads, is the engine's.
//!
//! The binary (`src/main.rs`) parses the process's arguments and calls [`execute`];
//! tests and other hosts call [`run`] with an argument list and in-memory streams, or a
//! command's own `run` (for example [`eval::run`]) with its arguments built in code:
//!
//! ```
//! use acs_cli::{Io, Style, EXIT_USAGE};
//!
//! let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
//! let mut io = Io {
//!     stdin: &mut std::io::empty(),
//!     stdout: &mut stdout,
//!     stderr: &mut stderr,
//!     style: Style::plain(),
//!     interrupted: None,
//! };
//! let code = acs_cli::run(["acs", "eval", "--rules", "no/such/rules/"], &mut io);
//! assert_eq!(code, EXIT_USAGE);
//! assert!(String::from_utf8_lossy(&stderr).contains("no/such/rules"));
//! ```

pub mod command;
pub mod terminal;

use std::ffi::OsString;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};

pub use command::{audit, bundle, eval, lint_rules, replay, test, watch};
pub use command::{Io, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};
pub use terminal::{ColorChoice, Style};

/// ACS fraud rules: lint, evaluate, test and backtest rules bundles.
///
/// The analyst's loop: `acs lint-rules` a rule, `acs test` it, `acs replay` it over
/// recorded events (with `--baseline` against the rules in production), ship it.
#[derive(Debug, Parser)]
#[command(name = "acs", version, about, long_about)]
pub struct Cli {
    /// The subcommand and its arguments.
    #[command(subcommand)]
    pub command: Command,
    /// Print only results and errors: no warnings, summaries or progress.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// When to colour the output (`NO_COLOR` set means never, under `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Make a bundle deployable whole: its manifest, its signature, a check, a key pair.
    ///
    /// Example:
    ///   acs bundle keygen deploy.key
    ///   acs bundle manifest rules/ && acs bundle sign rules/ --key deploy.key
    ///   acs bundle verify rules/ --public-key deploy.key.pub
    Bundle(command::bundle::Args),
    /// Write, inspect and verify an audit log; prove one record to an auditor.
    ///
    /// Exit status: 0 sound, 1 tampered (or a proof that does not hold), 2 usage or I/O
    /// errors.
    ///
    /// Example:
    ///   acs audit keygen --hmac audit.key
    ///   acs audit append log/ --hmac-key audit.key < records.jsonl
    ///   acs audit checkpoint log/ > saved.txt
    ///   acs audit verify log/ --hmac-key audit.key --checkpoint saved.txt
    ///   acs audit prove log/ 17 > proof.json && acs audit verify-proof proof.json --hmac-key audit.key
    Audit(command::audit::Args),
}

/// Run `acs` with the argument list `args` (the program name first, as in
/// `std::env::args_os()`) over the streams of `io`; returns the exit code
/// ([`EXIT_OK`], [`EXIT_FINDINGS`], [`EXIT_USAGE`] or [`EXIT_INTERRUPTED`]).
///
/// `io.style` is the output shape of the environment, as `--color auto` without
/// `--quiet` would give it (`Style::plain()` for pipes and buffers); `--color` and
/// `--quiet` among `args` are applied to it. Help and `--version` go to `io.stdout` with
/// exit 0, usage errors to `io.stderr` with exit 2, as clap words them.
pub fn run<I, T>(args: I, io: &mut Io<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let text = error.render().to_string();
            let stream = if error.use_stderr() {
                &mut *io.stderr
            } else {
                &mut *io.stdout
            };
            let _ = write!(stream, "{text}");
            return u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE);
        }
    };
    io.style = io.style.with_flags(cli.color, cli.quiet);
    execute(&cli, io)
}

/// What the binary does before anything else: should a panic ever happen (the commands
/// never panic by design), on any thread, say so in one line rather than print a Rust
/// panic message and backtrace at an analyst.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        // Not `eprintln!`: a hook that panics because standard error is closed aborts.
        let _ = writeln!(std::io::stderr(), "error: internal error in acs: {info}");
    }));
}

/// For the binary: a flag the first Ctrl-C sets, for a command that stops and reports
/// what it has (`acs replay`); a second Ctrl-C ends the process at once with
/// [`EXIT_INTERRUPTED`]. `None` when no handler could be installed: Ctrl-C then ends the
/// process as usual. Only the commands that read the flag should ask for it, since the
/// others would no longer stop on the first Ctrl-C.
pub fn catch_ctrl_c() -> Option<&'static AtomicBool> {
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
    .ok()?;
    Some(&INTERRUPTED)
}

/// Call `command` with the process's standard streams as an [`Io`] shaped by `style`,
/// and `interrupted` as its [`Io::interrupted`].
///
/// Standard error stays unlocked between writes: the panic hook of any thread writes to
/// it, and would wait for ever on a lock this thread held for the whole command (for
/// example while it waits for that thread to finish).
pub fn with_process_streams<R>(
    style: Style,
    interrupted: Option<&AtomicBool>,
    command: impl FnOnce(&mut Io<'_>) -> R,
) -> R {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let mut io = Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        style,
        interrupted,
    };
    command(&mut io)
}

/// Run the parsed command line `cli` over `io`, whose style already reflects `--color`
/// and `--quiet`; returns the exit code.
pub fn execute(cli: &Cli, io: &mut Io<'_>) -> u8 {
    match &cli.command {
        Command::LintRules(args) => lint_rules::run(args, io),
        Command::Eval(args) => eval::run(args, io),
        Command::Test(args) => test::run(args, io),
        Command::Replay(args) => replay::run(args, io),
        Command::Watch(args) => watch::run(args, io),
        Command::Bundle(args) => bundle::run(args, io),
        Command::Audit(args) => audit::run(args, io),
    }
}
