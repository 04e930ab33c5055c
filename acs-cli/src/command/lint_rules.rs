//! `acs lint-rules`: the gate before a rule ships. Reads the files and `acs.toml`, asks
//! the engine's linter, prints the findings as text, JSON or SARIF, picks the exit code.

use std::path::PathBuf;

use acs_engine::lint::{lint_paths, LintReport, LintRunError};
use acs_engine::{Diagnostic, Severity};

use super::{after_writing, Io, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::terminal::Style;

/// Arguments of `acs lint-rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules files, or directories of `*.yaml` rules files (each one bundle).
    #[arg(value_name = "FILE", required_unless_present = "explain")]
    pub files: Vec<PathBuf>,
    /// Print what a finding code means (e.g. ACS411) and exit.
    #[arg(long, value_name = "CODE", conflicts_with = "files")]
    pub explain: Option<String>,
    /// Project config declaring the host's functions and actions; by default the first
    /// `acs.toml` found in the first FILE's directory (FILE itself when a directory) or
    /// above it.
    #[arg(long, value_name = "acs.toml")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Compiler-style text with source excerpts.
    Human,
    /// The reports as JSON.
    Json,
    /// SARIF 2.1.0, for code-scanning views in CI.
    Sarif,
}

/// Run `acs lint-rules`; returns the exit code.
pub fn run(args: &Args, io: &mut Io<'_>) -> u8 {
    if let Some(code) = &args.explain {
        return explain(code, io);
    }
    let run = match lint_paths(&args.files, args.config.as_deref(), args.deny_warnings) {
        Ok(run) => run,
        Err(LintRunError::Config(diagnostic)) => {
            let _ = writeln!(io.stderr, "{diagnostic}");
            return EXIT_USAGE;
        }
        Err(error) => {
            let _ = writeln!(io.stderr, "error: {error}");
            return EXIT_USAGE;
        }
    };
    if let (Some(path), false, Format::Human) = (&run.config, io.style.quiet, args.format) {
        let _ = writeln!(io.stderr, "note: using {}", path.display());
    }
    let reports = &run.reports;
    let written = match args.format {
        Format::Human => write_human(reports, io),
        Format::Json => match serde_json::to_value(&run) {
            Ok(json) => write_json(io, &json),
            Err(error) => Err(std::io::Error::other(error)),
        },
        Format::Sarif => write_json(io, &LintReport::to_sarif(reports)),
    };
    let code = if run.fails(false) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    };
    after_writing(written.and_then(|()| io.stdout.flush()), code, io.stderr)
}

/// `--explain CODE`: the code's entry of docs/LINT.md, as built into the engine.
fn explain(code: &str, io: &mut Io<'_>) -> u8 {
    match acs_engine::lint::codes::explain(&code.trim().to_ascii_uppercase()) {
        Some(text) => match write!(io.stdout, "{text}") {
            Ok(()) => EXIT_OK,
            Err(_) => EXIT_USAGE,
        },
        None => {
            let _ = writeln!(
                io.stderr,
                "error: `{code}` is not an ACS diagnostic code (they are listed in docs/LINT.md)"
            );
            EXIT_USAGE
        }
    }
}

fn write_json(io: &mut Io<'_>, json: &serde_json::Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(json).map_err(std::io::Error::other)?;
    writeln!(io.stdout, "{text}")
}

fn write_human(reports: &[LintReport], io: &mut Io<'_>) -> std::io::Result<()> {
    let style = io.style;
    for report in reports {
        for diagnostic in &report.diagnostics {
            if style.quiet && !diagnostic.is_error() {
                continue;
            }
            writeln!(io.stdout, "{}\n", paint(&style, diagnostic))?;
        }
        if style.quiet {
            continue;
        }
        let (errors, warnings) = (report.errors(), report.warnings());
        let files = report.files.join(", ");
        let verdict = match (errors, warnings) {
            (0, 0) => style.good("ok"),
            (0, _) => style.warning("ok with warnings"),
            _ => style.error("failed"),
        };
        writeln!(
            io.stdout,
            "{verdict}: {files}: {} rule{}, {errors} error{}, {warnings} warning{}",
            report.rule_count,
            plural(report.rule_count),
            plural(errors),
            plural(warnings),
        )?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The diagnostic as the engine renders it, with the `error`/`warning` label coloured.
fn paint(style: &Style, diagnostic: &Diagnostic) -> String {
    let text = diagnostic.to_string();
    if !style.color {
        return text;
    }
    let label = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    match text.strip_prefix(label) {
        Some(rest) => {
            let painted = match diagnostic.severity {
                Severity::Error => style.error(label),
                Severity::Warning => style.warning(label),
            };
            format!("{painted}{rest}")
        }
        None => text,
    }
}
