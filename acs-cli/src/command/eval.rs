//! `acs eval`: one input document in, the decision as JSON out.

use std::io::{Read, Write};
use std::path::PathBuf;

use acs_engine::{Engine, Functions};

use super::{Io, EXIT_OK, EXIT_USAGE};

/// Arguments of `acs eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Rules file, or directory of `*.yaml` rules files.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub rules: PathBuf,
    /// Stub table for host functions: {"name": [[[args...], result], ...]}.
    #[arg(long, value_name = "STUBS.json")]
    pub functions: Option<PathBuf>,
    /// Input document (JSON); `-` or nothing reads standard input.
    #[arg(value_name = "INPUT.json")]
    pub input: Option<PathBuf>,
}

/// Run `acs eval`; returns the exit code.
pub fn run(args: &EvalArgs, io: &mut Io<'_>) -> u8 {
    let quiet = io.style.quiet;
    match evaluate(args, quiet, io.stdin, io.stderr) {
        Ok(json) => {
            if writeln!(io.stdout, "{json}").is_err() {
                return EXIT_USAGE;
            }
            EXIT_OK
        }
        Err(message) => {
            let _ = writeln!(io.stderr, "{message}");
            EXIT_USAGE
        }
    }
}

fn evaluate(
    args: &EvalArgs,
    quiet: bool,
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<String, String> {
    let functions = match &args.functions {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| format!("error: cannot read `{}`: {e}", path.display()))?;
            let table: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|e| format!("error: `{}` is not valid JSON: {e}", path.display()))?;
            Functions::from_stubs(&table)
                .map_err(|e| format!("error: `{}`: {e}", path.display()))?
        }
        None => Functions::new(),
    };
    let engine = Engine::builder()
        .functions(functions)
        .load_path(&args.rules)
        .map_err(|e| match e {
            acs_engine::LoadError::Io { .. } => format!("error: {e}"),
            acs_engine::LoadError::Invalid { .. } => e.to_string(),
        })?;
    if !quiet {
        for warning in engine.plan().warnings() {
            let _ = writeln!(stderr, "{warning}\n");
        }
    }
    let input_name;
    let input = match args.input.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            input_name = path.display().to_string();
            std::fs::read(path).map_err(|e| format!("error: cannot read `{input_name}`: {e}"))?
        }
        _ => {
            input_name = "<stdin>".to_owned();
            let mut bytes = Vec::new();
            stdin
                .read_to_end(&mut bytes)
                .map_err(|e| format!("error: cannot read standard input: {e}"))?;
            bytes
        }
    };
    let decision = engine
        .evaluate_json(&input)
        .map_err(|e| format!("error: {input_name}: {e}"))?;
    serde_json::to_string_pretty(&decision).map_err(|e| format!("error: {e}"))
}
