//! One module per subcommand; each `run` is a plain function over [`Io`], returning the
//! exit code, so tests call it in-process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use acs_engine::{Engine, Functions, Limits, LoadError};

use crate::terminal::Style;

pub mod audit;
pub mod bundle;
pub mod eval;
pub mod lint_rules;
pub mod replay;
mod replay_audit;
pub mod test;
pub mod watch;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The command ran and found problems: lint errors, failing rule tests.
pub const EXIT_FINDINGS: u8 = 1;
/// Usage, I/O or load errors.
pub const EXIT_USAGE: u8 = 2;
/// Stopped by Ctrl-C (128 + SIGINT, as a shell reports a process that SIGINT ended).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The streams a command reads and writes, and how to shape its output.
pub struct Io<'a> {
    /// Standard input.
    pub stdin: &'a mut dyn Read,
    /// Results.
    pub stdout: &'a mut dyn Write,
    /// Diagnostics, progress, summaries.
    pub stderr: &'a mut dyn Write,
    /// Colour and quietness.
    pub style: Style,
    /// Set when the user asks a long command to stop (the binary's Ctrl-C): `acs replay`
    /// then stops reading and reports the lines it has read. `None`: nothing asks.
    pub interrupted: Option<&'a AtomicBool>,
}

/// The exit code once a command has written its results: `code`, the status those results
/// give. A reader that went away (`acs … | head -c1`) ends the command quietly with that
/// same status, as other Unix tools stop; any other write error is an I/O error.
pub(crate) fn after_writing(written: std::io::Result<()>, code: u8, stderr: &mut dyn Write) -> u8 {
    match written {
        Ok(()) => code,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(error) => {
            let _ = writeln!(stderr, "error: cannot write the output: {error}");
            EXIT_USAGE
        }
    }
}

/// The host functions for a command: the stub table at `path` (see `acs eval --help`),
/// or none.
pub(crate) fn load_functions(path: Option<&Path>) -> Result<Functions, String> {
    let Some(path) = path else {
        return Ok(Functions::new());
    };
    Functions::from_stub_file(path).map_err(|e| format!("error: {e}"))
}

/// `--audit-dir` and its keys: `acs eval` and `acs replay` record their decisions in an
/// audit log, as an engine built with `EngineBuilder::audit` does.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuditArgs {
    /// Record decisions in the audit log in DIR (created if missing, continued if not;
    /// check it with `acs audit verify DIR`). Needs --audit-key or --audit-hmac-key.
    #[arg(long, value_name = "DIR")]
    pub audit_dir: Option<PathBuf>,
    /// Ed25519 private key file (`acs bundle keygen`) signing the log's checkpoints.
    #[arg(long, value_name = "KEY_FILE", requires = "audit_dir")]
    pub audit_key: Option<PathBuf>,
    /// HMAC-SHA256 key file (`acs audit keygen --hmac`) signing them instead.
    #[arg(
        long,
        value_name = "KEY_FILE",
        requires = "audit_dir",
        conflicts_with = "audit_key"
    )]
    pub audit_hmac_key: Option<PathBuf>,
    /// Record every decision, not only those where an `audit: true` rule matched.
    #[arg(long, requires = "audit_dir")]
    pub audit_all: bool,
}

impl AuditArgs {
    /// The engine's audit options, or `None` without --audit-dir. Every batch is
    /// synced, and a full queue makes the command wait: a command records every decision.
    fn options(&self) -> Result<Option<acs_engine::AuditOptions>, String> {
        let Some(dir) = &self.audit_dir else {
            return Ok(None);
        };
        let mut config = acs_engine::AuditConfig::default();
        config.dir = dir.clone();
        config.key = self.audit_key.clone();
        config.hmac_key = self.audit_hmac_key.clone();
        config.record_all = self.audit_all;
        config.overflow = Some(acs_engine::OverflowConfig::BlockMillis(3_600_000));
        if config.key.is_none() && config.hmac_key.is_none() {
            return Err(
                "error: --audit-dir needs a key to sign its checkpoints: --audit-key KEY_FILE (acs bundle keygen) or --audit-hmac-key KEY_FILE (acs audit keygen --hmac)"
                    .to_owned(),
            );
        }
        config
            .into_options()
            .map(Some)
            .map_err(|e| format!("error: {e}"))
    }
}

/// An engine over the rules at `rules` (a file or a bundle directory). The CLI keeps no
/// metrics. Load errors come back rendered with file:line:col and a caret.
pub(crate) fn load_engine(
    rules: &Path,
    functions: Functions,
    limits: Limits,
) -> Result<Engine, String> {
    load_engine_audited(rules, functions, limits, &AuditArgs::default())
}

/// [`load_engine`], recording decisions as `audit` says.
pub(crate) fn load_engine_audited(
    rules: &Path,
    functions: Functions,
    limits: Limits,
    audit: &AuditArgs,
) -> Result<Engine, String> {
    let mut builder = Engine::builder()
        .functions(functions)
        .limits(limits)
        .metrics(false);
    if let Some(options) = audit.options()? {
        builder = builder.audit(options);
    }
    builder.load_path(rules).map_err(|e| match e {
        // Diagnostics carry their own `error[ACS…]` headers.
        LoadError::Invalid { .. } => e.to_string(),
        _ => format!("error: {e}"),
    })
}
