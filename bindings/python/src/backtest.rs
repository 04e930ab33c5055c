//! `BacktestRun`: one backtest's rules, compiled once per process, counting Arrow batches
//! into parts and merging parts into the engine's report. The engine's
//! `acs_engine::backtest::BacktestPart` does the counting; `acs.spark` drives this class
//! from Spark's Python workers (one part per partition) and its driver (the merge).

use std::time::Duration;

use acs_engine::backtest::{Backtest, BacktestPart};
use acs_engine::{Engine, Functions, RulesSource};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::arrow::{self, Columns};
use crate::errors;

/// A backtest's rules (and baseline), ready to count inputs in parts.
#[pyclass(module = "acs._acs", name = "BacktestRun", frozen)]
pub struct BacktestRun {
    current: Engine,
    backtest: Backtest,
}

/// Rule files given as `(name, text)` pairs: one file is loaded from its text, several
/// as the directory holding them would be (`RulesSource::Files`).
fn load(py: Python<'_>, files: Vec<(String, String)>, functions: &Functions) -> PyResult<Engine> {
    let builder = Engine::builder()
        .functions(functions.clone())
        .metrics(false);
    let source = match <[(String, String); 1]>::try_from(files) {
        Ok([(name, text)]) => RulesSource::Text { name, text },
        Err(files) if files.is_empty() => {
            return Err(errors::type_error("rules: no rules files given"))
        }
        Err(files) => RulesSource::Files(files),
    };
    py.detach(|| builder.load(source))
        .map_err(|e| errors::rules_error(py, &e))
}

#[pymethods]
impl BacktestRun {
    /// `rules` and `baseline` as `(name, text)` pairs; `stubs` a stub table as JSON text;
    /// `recorded`: host calls are answered from recorded calls (`calls=` of the count and
    /// decide methods) instead.
    #[new]
    #[pyo3(signature = (rules, baseline = None, stubs = None, recorded = false, examples = 5))]
    fn new(
        py: Python<'_>,
        rules: Vec<(String, String)>,
        baseline: Option<Vec<(String, String)>>,
        stubs: Option<&str>,
        recorded: bool,
        examples: usize,
    ) -> PyResult<BacktestRun> {
        let mut functions = match stubs {
            Some(text) => {
                let table = acs_engine::parse_json(text.as_bytes())
                    .map_err(|e| errors::type_error(format!("stubs: {e}")))?;
                Functions::from_stubs(&table)
                    .map_err(|e| errors::type_error(format!("stubs: {e}")))?
            }
            None => Functions::new(),
        };
        if recorded {
            functions = functions.answered_by_recording();
        }
        let current = load(py, rules, &functions)?;
        let mut backtest = Backtest::new(&current).examples(examples);
        if let Some(files) = baseline {
            let baseline = load(py, files, &functions)?;
            backtest = backtest.baseline(&baseline);
        }
        Ok(BacktestRun { current, backtest })
    }

    /// `sha256:<hex>` of the rules under test.
    #[getter]
    fn ruleset_hash(&self) -> String {
        self.current.plan().ruleset_hash().to_string()
    }

    /// Count every row of `data` (any Arrow array, batch, table or stream, read as
    /// `Engine.evaluate_arrow` reads it), numbered from `first_line`: the number of rows
    /// and the part, as JSON bytes.
    /// With `line`, that int64 column numbers the rows instead. With `velocity`, that
    /// JSON column holds each row's velocity counts (from `counts_arrow`).
    #[pyo3(signature = (data, column = None, calls = None, now = None, line = None, first_line = 1, velocity = None))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn count_arrow<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        column: Option<&str>,
        calls: Option<&str>,
        now: Option<&str>,
        line: Option<&str>,
        first_line: u64,
        velocity: Option<&str>,
    ) -> PyResult<(u64, Bound<'py, PyBytes>)> {
        let mut part = self.backtest.part();
        let columns = Columns {
            column,
            calls,
            now,
            velocity,
        };
        let rows = arrow::count_arrow(
            py,
            &self.current,
            &mut part,
            data,
            &columns,
            line,
            first_line,
        )?;
        Ok((rows, PyBytes::new(py, part.to_json().as_bytes())))
    }

    /// Each row's decision, as `Engine.evaluate_arrow` gives them (one thread); with
    /// `velocity`, each row's counts are read from that JSON column (from `counts_arrow`).
    #[pyo3(signature = (data, column = None, calls = None, now = None, velocity = None))]
    fn decide_arrow(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        column: Option<&str>,
        calls: Option<&str>,
        now: Option<&str>,
        velocity: Option<&str>,
    ) -> PyResult<pyo3_arrow::PyRecordBatch> {
        let columns = Columns {
            column,
            calls,
            now,
            velocity,
        };
        arrow::evaluate_arrow(py, &self.current, data, &columns, Some(1))
    }

    /// Whether the rules (or the baseline) declare velocity counters: a backtest then
    /// computes each row's counts from the whole input first (`events_arrow`, a shuffle
    /// by counter and key, `counts_arrow`).
    #[getter]
    fn counts_velocity(&self) -> bool {
        self.backtest.counts_velocity()
    }

    /// The velocity events of every row of `data` (read as `count_arrow` reads it; the
    /// int64 column `line` numbers the rows): a record batch of `line`, `counter`, `key`,
    /// `at`, `id`, one row per event.
    #[pyo3(signature = (data, line, column = None))]
    fn events_arrow(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        line: &str,
        column: Option<&str>,
    ) -> PyResult<pyo3_arrow::PyRecordBatch> {
        let columns = Columns {
            column,
            ..Columns::default()
        };
        arrow::events_arrow(py, &self.current, &self.backtest, data, &columns, line)
    }

    /// The counts each event of `events` reads (every event of their counters and keys,
    /// as `events_arrow` gives them), in time order per key: a record batch of `line`
    /// and `velocity` (JSON), one row per event.
    fn counts_arrow(
        &self,
        py: Python<'_>,
        events: &Bound<'_, PyAny>,
    ) -> PyResult<pyo3_arrow::PyRecordBatch> {
        arrow::counts_arrow(py, &self.backtest, events)
    }

    /// Merge `parts`, each `(offset, part)`: its line numbers shifted by `offset`, into one
    /// part (JSON bytes).
    fn merge<'py>(
        &self,
        py: Python<'py>,
        parts: Vec<(u64, PyBackedBytes)>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let merged = py.detach(|| -> Result<BacktestPart, String> {
            let mut merged = self.backtest.part();
            for part in self.read(&parts)? {
                merged.merge(part).map_err(|e| e.to_string())?;
            }
            Ok(merged)
        });
        let merged = merged.map_err(|e| errors::acs_error(py, "backtest", &e))?;
        Ok(PyBytes::new(py, merged.to_json().as_bytes()))
    }

    /// The report of `parts` (as for `merge`) as the JSON `acs replay --format json`
    /// prints; `threads` and `elapsed_seconds` are the throughput's.
    fn report(
        &self,
        py: Python<'_>,
        parts: Vec<(u64, PyBackedBytes)>,
        threads: usize,
        elapsed_seconds: f64,
    ) -> PyResult<String> {
        let report = py.detach(|| -> Result<String, String> {
            let parts = self.read(&parts)?;
            let elapsed = Duration::try_from_secs_f64(elapsed_seconds).unwrap_or_default();
            let report = self
                .backtest
                .report(parts, threads, elapsed)
                .map_err(|e| e.to_string())?;
            serde_json::to_string(&report).map_err(|e| e.to_string())
        });
        report.map_err(|e| errors::acs_error(py, "backtest", &e))
    }
}

impl BacktestRun {
    fn read(&self, parts: &[(u64, PyBackedBytes)]) -> Result<Vec<BacktestPart>, String> {
        parts
            .iter()
            .map(|(offset, json)| {
                let mut part = self
                    .backtest
                    .part_from_json(json)
                    .map_err(|e| e.to_string())?;
                part.shift_lines(*offset);
                Ok(part)
            })
            .collect()
    }
}
