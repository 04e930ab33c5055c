//! One `acs test` run over the paths an analyst names: the test files found, each read
//! under the read policy, each bundle loaded once, and every file run against its rules.
//! The CLI and every binding call [`run_paths`], so they run the same tests alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{find_test_files, run_all, ReadPolicy, Report, TestBundle, TestFile};
use crate::diagnostic::Diagnostic;
use crate::engine::{LoadError, RulesSource};

/// Run the rule test files at `paths` (files, or directories searched for them), each
/// against `rules` when given, else against the bundle the file names. A test file may
/// read outside its bundle's directory only when `allow_outside_reads`.
///
/// Everything is found, parsed and loaded first, so that every problem is reported at
/// once and no test runs against a half-valid setup. Every problem found before any test
/// runs (a file that does not parse, rules that do
/// not load, a file naming no rules) is returned, rendered, in the `Err`.
pub fn run_paths(
    paths: &[PathBuf],
    rules: Option<&Path>,
    allow_outside_reads: bool,
) -> Result<Report, Vec<String>> {
    let found = find_test_files(paths);
    let mut errors: Vec<String> = found.errors.iter().map(|e| format!("error: {e}")).collect();
    let policy = ReadPolicy::default().allowing_outside(allow_outside_reads);
    let mut files = Vec::new();
    for path in &found.files {
        match TestFile::read_with(path, &policy) {
            Ok(file) => files.push(file),
            Err(error) => errors.push(Diagnostic::render_all(&error.diagnostics())),
        }
    }
    let mut bundles: HashMap<PathBuf, Option<TestBundle>> = HashMap::new();
    let mut runs_on = Vec::with_capacity(files.len());
    for file in &files {
        let Some(rules) = rules.map(Path::to_path_buf).or_else(|| file.rules.clone()) else {
            errors.push(format!(
                "error: `{}` names no rules\n = help: add `rules: path/to/rules.yaml` to the file, or pass `--rules`",
                file.name
            ));
            continue;
        };
        if !bundles.contains_key(&rules) {
            let loaded = match TestBundle::load(&RulesSource::Path(rules.clone())) {
                Ok(bundle) => Some(bundle),
                Err(error @ LoadError::Invalid { .. }) => {
                    errors.push(error.to_string());
                    None
                }
                Err(error) => {
                    errors.push(format!("error: {error}"));
                    None
                }
            };
            bundles.insert(rules.clone(), loaded);
        }
        runs_on.push((file, rules));
    }
    let runs: Vec<(&TestFile, &TestBundle)> = runs_on
        .iter()
        .filter_map(|(file, rules)| {
            bundles
                .get(rules)
                .and_then(Option::as_ref)
                .map(|bundle| (*file, bundle))
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    run_all(&runs).map_err(|diagnostics| vec![Diagnostic::render_all(&diagnostics)])
}
