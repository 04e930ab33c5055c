//! `acs eval`: one input document in, the decision as JSON out; with `--explain`, the
//! engine's explanation of every candidate rule first.

use std::io::{Read, Write};
use std::path::PathBuf;

use acs_engine::explain::{Explanation, RuleExplanation, RuleOutcome};
use acs_engine::velocity::{RedisOptions, RedisStore};
use acs_engine::{Decision, Limits, ReadError};

use super::{after_writing, load_functions, Io, EXIT_OK, EXIT_USAGE};
use crate::terminal::Style;

/// Arguments of `acs eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Explain why each rule matched or not (the value of every part of each condition):
  acs eval --rules rules/ --functions rules/examples/stubs.json --explain rules/examples/bid_create_kyc_missing.json
  acs eval --rules rules/ --explain --format json rules/examples/bid_create_clean.json")]
pub struct EvalArgs {
    /// Rules file, or directory of `*.yaml` rules files.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub rules: PathBuf,
    /// Stub table for host functions: {"name": [[[args...], result], ...]}.
    #[arg(long, value_name = "STUBS.json")]
    pub functions: Option<PathBuf>,
    /// Before the decision, show every rule checked for the event's type with the value of
    /// each part of its condition: why it matched or not.
    #[arg(long)]
    pub explain: bool,
    /// How `--explain` prints: `human` (a tree per rule, then the decision as JSON) or
    /// `json` (one object: {"decision": ..., "explanation": ...}).
    #[arg(long, value_enum, default_value_t = Format::Human, requires = "explain")]
    pub format: Format,
    /// Largest input document read, in bytes (the engine's `Limits::max_input_bytes`).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_input_bytes)]
    pub max_input_bytes: usize,
    /// Input document (JSON); `-` or nothing reads standard input.
    #[arg(value_name = "INPUT.json")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub audit: super::AuditArgs,
    /// Keep velocity counts in Redis (`redis://HOST:PORT`), shared with every other
    /// process pointed there; by default they live in this process (docs/VELOCITY.md).
    #[arg(long, value_name = "redis://HOST:PORT")]
    pub velocity: Option<String>,
    /// The longest an evaluation waits for Redis, in milliseconds, before its counters'
    /// failure policies answer instead.
    #[arg(long, value_name = "MS", default_value_t = 5, requires = "velocity")]
    pub velocity_budget_ms: u64,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The explanation as text, then the decision as JSON.
    #[default]
    Human,
    /// `{"decision": ..., "explanation": ...}`.
    Json,
}

/// Run `acs eval`; returns the exit code.
pub fn run(args: &EvalArgs, io: &mut Io<'_>) -> u8 {
    let result = evaluate(args, io.style, io.stdin, io.stderr)
        .and_then(|outcome| render(args, &outcome, io.style));
    match result {
        Ok(text) => {
            let written = writeln!(io.stdout, "{text}").and_then(|()| io.stdout.flush());
            after_writing(written, EXIT_OK, io.stderr)
        }
        Err(message) => {
            let _ = writeln!(io.stderr, "{message}");
            EXIT_USAGE
        }
    }
}

/// What one run computed.
struct Outcome {
    decision: Decision,
    explanation: Option<Explanation>,
}

fn render(args: &EvalArgs, outcome: &Outcome, style: Style) -> Result<String, String> {
    let json_error = |e: serde_json::Error| format!("error: {e}");
    let decision = serde_json::to_string_pretty(&outcome.decision).map_err(json_error)?;
    let Some(explanation) = &outcome.explanation else {
        return Ok(decision);
    };
    match args.format {
        Format::Json => {
            let mut both = serde_json::Map::new();
            let decision = serde_json::to_value(&outcome.decision).map_err(json_error)?;
            both.insert("decision".to_owned(), decision);
            let explanation = serde_json::to_value(explanation).map_err(json_error)?;
            both.insert("explanation".to_owned(), explanation);
            serde_json::to_string_pretty(&both).map_err(json_error)
        }
        Format::Human => {
            let mut text = explanation.summary();
            text.push('\n');
            for rule in &explanation.rules {
                text.push('\n');
                text.push_str(&paint(rule, style));
            }
            text.push('\n');
            text.push_str(&decision);
            Ok(text)
        }
    }
}

/// A rule's explanation, coloured by outcome when colouring: the header of a match green,
/// a failure's red, and rules that did not match (or did not run) dimmed.
fn paint(rule: &RuleExplanation, style: Style) -> String {
    let text = rule.to_string();
    let (header, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let (header, rest) = match rule.outcome {
        RuleOutcome::Matched => (style.good(header), rest.to_owned()),
        RuleOutcome::Error => (style.error(header), rest.to_owned()),
        _ => (
            style.dim(header),
            style.dim(rest.trim_end_matches('\n')) + "\n",
        ),
    };
    format!("{header}\n{rest}")
}

fn evaluate(
    args: &EvalArgs,
    style: Style,
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<Outcome, String> {
    let mut functions = load_functions(args.functions.as_deref())?;
    if let Some(url) = &args.velocity {
        let mut options = RedisOptions::new(url.as_str());
        options.budget = std::time::Duration::from_millis(args.velocity_budget_ms);
        let store = RedisStore::open(options).map_err(|e| format!("error: --velocity: {e}"))?;
        functions = functions.velocity_store(std::sync::Arc::new(store));
    }
    let limits = Limits {
        max_input_bytes: args.max_input_bytes,
        ..Limits::default()
    };
    let engine = super::load_engine_audited(&args.rules, functions, limits, &args.audit)?;
    if !style.quiet {
        for warning in engine.plan().warnings() {
            let _ = writeln!(stderr, "{warning}\n");
        }
    }
    let limit = u64::try_from(args.max_input_bytes).unwrap_or(u64::MAX);
    let too_large = |what: &str| {
        format!("error: {what} is more than {limit} bytes, the limit of an input; raise it with --max-input-bytes")
    };
    let input_name;
    let input = match args.input.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            input_name = path.display().to_string();
            acs_engine::read_file(path, limit).map_err(|e| match e {
                ReadError::TooLarge { .. } => too_large(&format!("`{input_name}`")),
                ReadError::NotAFile { .. } => format!(
                    "error: cannot read `{input_name}`: {e}; give `-` to read standard input"
                ),
                other => format!("error: cannot read `{input_name}`: {other}"),
            })?
        }
        _ => {
            input_name = "<stdin>".to_owned();
            if style.stdin_is_terminal && !style.quiet {
                let _ = writeln!(
                    stderr,
                    "reading the input document from standard input (end it with Ctrl-D; give a file to read it instead)"
                );
            }
            acs_engine::read_bounded(stdin, limit).map_err(|e| match e {
                ReadError::TooLarge { .. } => too_large("standard input"),
                other => format!("error: cannot read standard input: {other}"),
            })?
        }
    };
    // Editors on some systems start UTF-8 files with a byte-order mark; JSON forbids it,
    // but it carries no meaning, so it is dropped rather than refused.
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&input);
    let decision = engine
        .evaluate_json(input)
        .map_err(|e| format!("error: {input_name}: {e}"))?;
    if args.audit.audit_dir.is_some() {
        engine
            .audit_flush(std::time::Duration::from_secs(60))
            .map_err(|e| format!("error: audit log: {e}"))?;
    }
    let explanation = if args.explain {
        // `evaluate_json` has just parsed the same bytes, so this cannot fail.
        let value: serde_json::Value =
            serde_json::from_slice(input).map_err(|e| format!("error: {input_name}: {e}"))?;
        Some(engine.explain(&value))
    } else {
        None
    };
    Ok(Outcome {
        decision,
        explanation,
    })
}
