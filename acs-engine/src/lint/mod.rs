//! Static analysis of a rules bundle: everything `acs lint-rules` reports. Loading and
//! compiling supply the errors that stop a load; the checks in `checks/` add what a
//! load accepts but an analyst should hear about (one file per check, one small trait).

pub mod actions;
mod checks;
pub mod codes;
mod config;
mod facts;
mod run;
mod sarif;
mod schema;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use config::{
    find_config, ActionsConfig, EventConfig, LintConfig, LintSettings, RootFields,
    CONFIG_FILE_NAME, DEFAULT_MAX_COMPLEXITY, KNOWN_ACTIONS, MAX_CONFIG_BYTES,
};
pub use run::{lint_paths, Finding, LintRun, LintRunError};
pub use schema::MAX_SCHEMA_BYTES;

use crate::compile::compile;
use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{read_sources, LoadError, RulesSource};
use crate::functions::{FunctionError, Functions};
use crate::limits::Limits;
use crate::ruleset::load_rule_set;
use crate::source::SourceMap;

/// What linting one bundle found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LintReport {
    /// The files linted.
    pub files: Vec<String>,
    /// Rules found (including ones with errors).
    pub rule_count: usize,
    /// Every finding, in file and position order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LintReport {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    /// Whether the bundle fails the gate: any error, or any warning when `deny_warnings`.
    pub fn fails(&self, deny_warnings: bool) -> bool {
        self.errors() > 0 || (deny_warnings && self.warnings() > 0)
    }

    /// The report as a SARIF 2.1.0 log, for code-scanning views in CI.
    pub fn to_sarif(reports: &[LintReport]) -> Value {
        sarif::to_sarif(reports)
    }
}

/// Read and lint a rules file or bundle directory. Only reading fails; every problem of
/// the rules themselves is a finding in the report.
pub fn lint_source(source: &RulesSource, config: &LintConfig) -> Result<LintReport, LoadError> {
    Ok(lint_sources(read_sources(source)?, config))
}

/// Lint rules already read into a source map.
pub(crate) fn lint_sources(sources: SourceMap, config: &LintConfig) -> LintReport {
    let files = sources
        .files()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    let (rule_set, mut diagnostics) = load_rule_set(sources);
    let functions = declared_functions(config);
    match compile(&rule_set, &functions, &Limits::default()) {
        Ok((_, warnings)) => diagnostics.extend(warnings),
        Err(errors) => diagnostics.extend(errors),
    }
    if config.functions.is_some() {
        for diagnostic in diagnostics.iter_mut().filter(|d| d.code == "ACS401") {
            diagnostic.severity = Severity::Error;
            diagnostic.help = Some(
                "it is not declared under [functions] in acs.toml; declare it there once the host registers it"
                    .to_owned(),
            );
        }
    }
    checks::run(&rule_set, config, &mut diagnostics);
    let inline: std::collections::HashMap<&str, &[String]> = rule_set
        .rules
        .iter()
        .map(|rule| (rule.id.as_str(), rule.lint_allow.as_slice()))
        .collect();
    diagnostics.retain(|d| {
        let accepted_inline = d
            .rule_id
            .as_deref()
            .and_then(|id| inline.get(id))
            .is_some_and(|codes| codes.contains(&d.code));
        !accepted_inline && !config.allows(d.rule_id.as_deref(), &d.code)
    });
    if config.lint.deny_warnings {
        for diagnostic in &mut diagnostics {
            diagnostic.severity = Severity::Error;
        }
    }
    diagnostics.sort_by_key(Diagnostic::file_order);
    diagnostics.dedup();
    LintReport {
        files,
        rule_count: rule_set.rules.len(),
        diagnostics,
    }
}

/// The functions a linted bundle may call: the built-ins plus the host's, as declared
/// in the config. Linting never evaluates, so the declared ones are placeholders.
fn declared_functions(config: &LintConfig) -> Functions {
    let mut functions = Functions::new();
    for name in config.functions.iter().flat_map(|f| f.keys()) {
        functions.register(
            name.clone(),
            |_: &[&Value]| -> Result<Value, FunctionError> {
                Err(FunctionError::failed("declared for linting only"))
            },
        );
    }
    functions
}
