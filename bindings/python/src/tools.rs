//! The analysts' tools as module functions: `lint` (the engine's lint run),
//! `explain_code`, `run_tests` (rule test files, as `acs test` runs them) and
//! `_backtest` (the engine's `Backtest`, as `acs replay` runs it; `acs.backtest` in
//! `__init__.py` wraps its report).

use std::io::BufReader;
use std::path::PathBuf;

use acs_engine::backtest::Backtest;
use acs_engine::lint::{lint_paths, LintRunError};
use acs_engine::{Engine, Functions, Limits};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyString};

use crate::host::PyFunctions;
use crate::{convert, errors};

/// A path, or a list of paths.
fn path_list(paths: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(one) = paths.extract::<PathBuf>() {
        return Ok(vec![one]);
    }
    if paths.cast::<PyString>().is_err() {
        if let Ok(many) = paths.extract::<Vec<PathBuf>>() {
            return Ok(many);
        }
    }
    Err(errors::type_error(
        "paths must be a path or a list of paths",
    ))
}

/// Lint rules files or bundle directories as `acs lint-rules` does: the run (config used,
/// totals, reports) with every finding flat in `findings` and `failed`.
#[pyfunction]
#[pyo3(signature = (paths, config = None, deny_warnings = false))]
pub(crate) fn lint<'py>(
    py: Python<'py>,
    paths: &Bound<'py, PyAny>,
    config: Option<PathBuf>,
    deny_warnings: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let paths = path_list(paths)?;
    let run = py
        .detach(|| lint_paths(&paths, config.as_deref(), deny_warnings))
        .map_err(|error| match error {
            LintRunError::Load(load) => errors::rules_error(py, &load),
            other => errors::acs_error(py, "lint", &other.to_string()),
        })?;
    let result = convert::serde_to_py(py, &run)?;
    let dict = result.cast::<PyDict>()?;
    dict.set_item("findings", convert::serde_to_py(py, &run.findings())?)?;
    dict.set_item("failed", run.fails(deny_warnings))?;
    Ok(result)
}

/// What a finding code means (`"ACS411"`), as `acs lint-rules --explain` prints it.
#[pyfunction]
pub(crate) fn explain_code(code: &str) -> Option<String> {
    acs_engine::lint::codes::explain(&code.trim().to_ascii_uppercase()).map(|t| t.to_string())
}

/// Run rule test files (or directories of them) as `acs test` does; the report. Files
/// that cannot be read raise `TestsError` listing every problem.
#[pyfunction]
#[pyo3(signature = (paths, rules = None, allow_outside_reads = false))]
pub(crate) fn run_tests<'py>(
    py: Python<'py>,
    paths: &Bound<'py, PyAny>,
    rules: Option<PathBuf>,
    allow_outside_reads: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let paths = path_list(paths)?;
    let report = py
        .detach(|| acs_engine::testing::run_paths(&paths, rules.as_deref(), allow_outside_reads))
        .map_err(|problems| errors::tests_error(py, &problems))?;
    convert::serde_to_py(py, &report)
}

/// Backtest `rules` on recorded inputs, JSON lines from a file (`source` a path) or
/// given as bytes; the report as the JSON `acs replay --format json` prints.
#[pyfunction]
#[pyo3(signature = (source, rules, baseline = None, functions = None, stubs = None, threads = 0, examples = 5))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
pub(crate) fn _backtest(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    rules: PathBuf,
    baseline: Option<PathBuf>,
    functions: Option<&Bound<'_, PyAny>>,
    stubs: Option<PathBuf>,
    threads: usize,
    examples: usize,
) -> PyResult<String> {
    let mut registered = match stubs {
        Some(path) => Functions::from_stub_file(&path)
            .map_err(|e| errors::type_error(format!("stubs: {e}")))?,
        None => Functions::new(),
    };
    if let Some(given) = functions.filter(|f| !f.is_none()) {
        registered.extend(PyFunctions::read(given)?.1);
    }
    // As `acs replay` loads them: no metrics kept.
    let load = |path: PathBuf| {
        let functions = registered.clone();
        py.detach(move || {
            Engine::builder()
                .functions(functions)
                .limits(Limits::default())
                .metrics(false)
                .load_path(path)
        })
        .map_err(|e| errors::rules_error(py, &e))
    };
    let engine = load(rules)?;
    let baseline = baseline.map(load).transpose()?;
    let mut backtest = Backtest::new(&engine).threads(threads).examples(examples);
    if let Some(baseline) = &baseline {
        backtest = backtest.baseline(baseline);
    }
    let report = if let Ok(bytes) = source.extract::<PyBackedBytes>() {
        py.detach(|| backtest.run(bytes.as_ref(), |_| {}))
    } else {
        let path: PathBuf = source
            .extract()
            .map_err(|_| errors::type_error("source must be a path or JSON lines as bytes"))?;
        let file = std::fs::File::open(&path)?;
        py.detach(|| backtest.run(BufReader::with_capacity(1 << 18, file), |_| {}))
    }
    .map_err(|e| errors::acs_error(py, "backtest", &e.to_string()))?;
    serde_json::to_string(&report).map_err(|e| errors::acs_error(py, "backtest", &e.to_string()))
}

/// One recorded decision of an audit log as `acs.spark.read_audit` makes it a row:
/// `(seq, ruleset_hash, input JSON, calls JSON, now, verdict outcome)`; when the record
/// holds velocity counts, the calls JSON is `{"calls": [...], "velocity": [...]}`, which
/// `calls=` columns read as both.
type AuditRow = (u64, String, String, String, Option<f64>, String);

/// The decisions recorded in the audit log `dir`, in sequence order (the log is checked
/// as it is read).
#[pyfunction]
pub(crate) fn audit_decisions(py: Python<'_>, dir: PathBuf) -> PyResult<Vec<AuditRow>> {
    let mut rows = Vec::new();
    py.detach(|| {
        acs_engine::backtest::recorded_decisions(&dir, &mut |decision| {
            let calls = if decision.velocity.is_null() {
                decision.calls.to_string()
            } else {
                serde_json::json!({"calls": decision.calls, "velocity": decision.velocity})
                    .to_string()
            };
            rows.push((
                decision.seq,
                decision.ruleset_hash,
                decision.input.to_string(),
                calls,
                decision.now,
                decision
                    .verdict
                    .get("outcome")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ));
        })
    })
    .map_err(|e| errors::acs_error(py, "audit", &format!("`{}`: {e}", dir.display())))?;
    Ok(rows)
}
