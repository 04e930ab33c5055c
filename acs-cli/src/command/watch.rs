//! `acs watch`: the hot-reloading engine in a terminal. Loads the rules, watches them
//! with the engine's own watcher and prints every reload's outcome as it happens.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use acs_engine::{Engine, ReloadEvent, WatchOptions};

use super::{after_writing, load_functions, Io, EXIT_OK, EXIT_USAGE};

/// Arguments of `acs watch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules file, or directory of `*.yaml` rules files.
    #[arg(value_name = "FILE_OR_DIR")]
    pub rules: PathBuf,
    /// Stub table for host functions, as for `acs eval`.
    #[arg(long, value_name = "STUBS.json")]
    pub functions: Option<PathBuf>,
    /// Milliseconds without changes before a burst of writes is reloaded.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub debounce: u64,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many reload attempts (default: run until interrupted).
    #[arg(long, value_name = "N")]
    pub max_reloads: Option<u64>,
    /// Serve only bundles whose acs-manifest.json is signed with this public key's
    /// private key (see `acs bundle`); anything else is refused and reported.
    #[arg(long, value_name = "KEY_FILE.pub")]
    pub public_key: Option<PathBuf>,
}

/// Run `acs watch`; returns the exit code (only when `--max-reloads` is reached or
/// something fails).
pub fn run(args: &Args, io: &mut Io<'_>) -> u8 {
    match watch(args, io) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(io.stderr, "{message}");
            EXIT_USAGE
        }
    }
}

fn watch(args: &Args, io: &mut Io<'_>) -> Result<u8, String> {
    let functions = load_functions(args.functions.as_deref())?;
    let mut builder = Engine::builder().functions(functions);
    if let Some(key) = &args.public_key {
        let key = acs_engine::bundle::PublicKey::read(key).map_err(|e| format!("error: {e}"))?;
        builder = builder.bundle_key(key);
    }
    let engine = builder.load_path(&args.rules).map_err(|e| {
        format!("{e}\n(acs watch needs rules that load to start; fix them and run it again)")
    })?;
    let (sender, events) = mpsc::channel();
    engine.on_reload(move |event| {
        let _ = sender.send(event.clone());
    });
    let quiet = Duration::from_millis(args.debounce);
    let _watcher = engine
        .watch_with(WatchOptions {
            quiet,
            max_delay: quiet.max(Duration::from_millis(500)),
        })
        .map_err(|e| format!("error: cannot watch `{}`: {e}", args.rules.display()))?;
    let status = engine.status();
    let first = ReloadEvent::Loaded {
        generation: status.generation,
        rule_count: status.rule_count,
        ruleset_hash: status.ruleset_hash,
    };
    if let Err(error) = print_event(args, io, &engine, &first) {
        return Ok(after_writing(Err(error), EXIT_OK, io.stderr));
    }
    if !args.json && !io.style.quiet {
        let _ = writeln!(
            io.stderr,
            "watching {} (Ctrl-C to stop)",
            args.rules.display()
        );
    }
    let mut reloads = 0;
    while args.max_reloads.is_none_or(|max| reloads < max) {
        let Ok(event) = events.recv() else {
            break;
        };
        reloads += 1;
        if let Err(error) = print_event(args, io, &engine, &event) {
            return Ok(after_writing(Err(error), EXIT_OK, io.stderr));
        }
    }
    Ok(EXIT_OK)
}

fn print_event(
    args: &Args,
    io: &mut Io<'_>,
    engine: &Engine,
    event: &ReloadEvent,
) -> std::io::Result<()> {
    if args.json {
        let line = serde_json::to_string(event).map_err(std::io::Error::other)?;
        writeln!(io.stdout, "{line}")?;
        return io.stdout.flush();
    }
    let style = io.style;
    match event {
        ReloadEvent::Loaded {
            generation,
            rule_count,
            ruleset_hash,
        } => {
            writeln!(
                io.stdout,
                "{} generation {generation}: {rule_count} rule{} serving ({ruleset_hash})",
                style.good("loaded"),
                if *rule_count == 1 { "" } else { "s" }
            )?;
            let plan = engine.plan();
            if !style.quiet && plan.generation() == *generation {
                for warning in plan.warnings() {
                    writeln!(io.stdout, "{warning}\n")?;
                }
            }
        }
        ReloadEvent::Unchanged { generation } => {
            writeln!(
                io.stdout,
                "{} generation {generation} keeps serving: the files hold the same rules",
                style.dim("unchanged")
            )?;
        }
        ReloadEvent::Failed(failure) => {
            writeln!(
                io.stdout,
                "{} generation {} keeps serving; the new rules did not load:\n{}",
                style.error("rejected"),
                failure.generation,
                failure.message
            )?;
        }
        // An event this CLI does not know yet: as JSON.
        other => {
            let line = serde_json::to_string(other).map_err(std::io::Error::other)?;
            writeln!(io.stdout, "{line}")?;
        }
    }
    io.stdout.flush()
}
