//! The Python binding of ACS: a pyo3 shell over `acs-engine`, built by maturin into the
//! `acs` package (`acs._acs` is this module; `python/acs/` holds the Python side). Every
//! behaviour lives in the engine; this crate converts values and errors.

use pyo3::prelude::*;

mod arrow;

/// A loaded rule set serving decisions.
#[pyclass(module = "acs", frozen)]
struct Engine {
    core: acs_engine::Engine,
}

#[pymethods]
impl Engine {
    /// Load a rules file or a bundle directory.
    #[staticmethod]
    fn from_path(path: std::path::PathBuf) -> PyResult<Engine> {
        let core = acs_engine::Engine::from_path(path)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok(Engine { core })
    }

    /// The decision on a JSON document, as the JSON text the CLI prints.
    fn evaluate_json_text(&self, py: Python<'_>, json: &[u8]) -> PyResult<String> {
        let decision = py
            .detach(|| self.core.evaluate_json(json))
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        serde_json::to_string(&decision)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// Decide every row of an Arrow array, batch, table or stream (see `arrow.rs`).
    #[pyo3(signature = (data, column=None, threads=None))]
    fn evaluate_arrow(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        column: Option<&str>,
        threads: Option<usize>,
    ) -> PyResult<pyo3_arrow::PyRecordBatch> {
        arrow::evaluate_arrow(py, &self.core, data, column, threads)
    }
}

#[pymodule]
fn _acs(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Engine>()?;
    Ok(())
}
