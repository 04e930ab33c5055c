//! One lint run over the paths an analyst names: the project config found (or given),
//! each bundle linted once, and the totals. `acs lint-rules` and every binding's `lint`
//! call this, so they find the same config and report the same findings.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{find_config, lint_source, LintConfig, LintReport};
use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{LoadError, RulesSource};

/// What [`lint_paths`] found over all its paths; serialized, the JSON `acs lint-rules
/// --format json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LintRun {
    /// The `acs.toml` used, if any.
    pub config: Option<PathBuf>,
    /// Errors over all reports.
    pub errors: usize,
    /// Warnings over all reports.
    pub warnings: usize,
    /// One report per bundle, in the order the paths were given.
    pub reports: Vec<LintReport>,
}

/// One finding, flat, for an editor or a CI annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// The code, e.g. `ACS411`.
    pub code: String,
    /// Error or warning.
    pub severity: Severity,
    /// One line.
    pub message: String,
    /// The file, when the finding has a place.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column, in characters.
    pub column: Option<usize>,
    /// The rule, when known.
    pub rule_id: Option<String>,
    /// How to fix it, when there is a hint.
    pub help: Option<String>,
}

impl From<&Diagnostic> for Finding {
    fn from(diagnostic: &Diagnostic) -> Self {
        let location = diagnostic.location.as_ref();
        Finding {
            code: diagnostic.code.clone(),
            severity: diagnostic.severity,
            message: diagnostic.message.clone(),
            file: location.map(|l| l.file.clone()),
            line: location.map(|l| l.line),
            column: location.map(|l| l.column),
            rule_id: diagnostic.rule_id.clone(),
            help: diagnostic.help.clone(),
        }
    }
}

impl LintRun {
    /// Every finding of every report, flat, in report order.
    pub fn findings(&self) -> Vec<Finding> {
        self.reports
            .iter()
            .flat_map(|report| report.diagnostics.iter().map(Finding::from))
            .collect()
    }

    /// Whether the run fails the gate (any error; warnings too when the config or the
    /// caller denied them).
    pub fn fails(&self, deny_warnings: bool) -> bool {
        self.reports.iter().any(|r| r.fails(deny_warnings))
    }
}

/// Why a lint run could not report on its paths.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LintRunError {
    /// The `acs.toml` could not be read or parsed (an ACS601 diagnostic with its place).
    #[error("{0}")]
    Config(Box<Diagnostic>),
    /// A rules path could not be read.
    #[error("{0}")]
    Load(#[from] LoadError),
}

/// Lint each of `paths` (a rules file, or a directory of them forming one bundle) with
/// the config at `config`, or else the first `acs.toml` found at or above the first path
/// ([`find_config`]), or else the defaults. A path named twice (`rules/ ./rules`) is linted
/// once. `deny_warnings` adds to the config's own setting.
pub fn lint_paths(
    paths: &[PathBuf],
    config: Option<&Path>,
    deny_warnings: bool,
) -> Result<LintRun, LintRunError> {
    let config_path = match config {
        Some(path) => Some(path.to_path_buf()),
        None => paths
            .first()
            .and_then(|first| find_config(first))
            .map(|found| relative_to_cwd(&found)),
    };
    let mut config = match &config_path {
        Some(path) => LintConfig::read(path).map_err(LintRunError::Config)?,
        None => LintConfig::default(),
    };
    config.lint.deny_warnings |= deny_warnings;
    let mut seen = HashSet::new();
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        if !seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())) {
            continue;
        }
        reports.push(lint_source(&RulesSource::Path(path.clone()), &config)?);
    }
    Ok(LintRun {
        config: config_path,
        errors: reports.iter().map(LintReport::errors).sum(),
        warnings: reports.iter().map(LintReport::warnings).sum(),
        reports,
    })
}

/// `path` relative to the working directory when it is below it, for shorter messages.
fn relative_to_cwd(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
