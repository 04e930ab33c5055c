//! `acs.Decision`: the engine's `Decision`, kept as the Rust value. Python objects are
//! built only for the attributes read (a caller that looks at `verdict` or `is_rejected`
//! pays for nothing else); `to_dict()` and `to_json()` give the engine's serde shape,
//! the JSON `acs eval` prints.

use pyo3::basic::CompareOp;
use pyo3::prelude::*;

use crate::convert::serde_to_py;

/// The outcome of evaluating one input.
///
/// The engine's decision is boxed, so the Python object holds a pointer (40 bytes of the
/// interpreter's object memory instead of 208): `evaluate_many`'s 100,000 results
/// fault in half the pages they did, and a decision made on a worker is allocated there,
/// not by the thread that builds the results (BENCHMARKS.md, issue #14).
#[pyclass(module = "acs", name = "Decision", frozen)]
pub(crate) struct Decision {
    pub(crate) inner: Box<acs_engine::Decision>,
}

impl Decision {
    /// `decision` as a Python object that the cyclic garbage collector does not track.
    ///
    /// pyo3 makes every class a GC type, so each `Decision` counted toward a collection
    /// and was traversed by it: over `evaluate_many`'s 100,000 results the collector took
    /// about a tenth of the calling thread (perf, BENCHMARKS.md, issue #14). A `Decision`
    /// holds Rust data only, no Python reference, so it can never be part of a cycle and
    /// tracking it finds nothing.
    pub(crate) fn untracked(
        py: Python<'_>,
        decision: impl Into<Box<acs_engine::Decision>>,
    ) -> PyResult<Bound<'_, Decision>> {
        let inner = decision.into();
        let object = Bound::new(py, Decision { inner })?;
        // SAFETY: `object` is a live object of a GC type (pyo3 gives every class
        // Py_TPFLAGS_HAVE_GC), just created and held here, with the GIL held; CPython lets
        // an object be untracked at any time and again by its deallocator (pyo3's calls
        // PyObject_GC_UnTrack too, which does nothing for an untracked object).
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(object.as_ptr().cast()) };
        Ok(object)
    }
}

fn json_error(e: serde_json::Error) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(e.to_string())
}

#[pymethods]
impl Decision {
    /// `{"outcome": "allowed"}` or `{"outcome": "rejected", "rule_id", "code", "message"}`.
    #[getter]
    fn verdict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.verdict)
    }

    /// Matched rules, highest priority first, each a dict (`id`, `priority`, `actions`...).
    #[getter]
    fn matched<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.matched)
    }

    /// Matched `mode: shadow` rules (never part of the verdict).
    #[getter]
    fn shadow_matched<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.shadow_matched)
    }

    /// Rules whose evaluation failed: `rule_id`, `message`, `location`.
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.errors)
    }

    #[getter]
    fn rules_evaluated(&self) -> u32 {
        self.inner.rules_evaluated
    }

    #[getter]
    fn generation(&self) -> u64 {
        self.inner.generation
    }

    #[getter]
    fn ruleset_hash(&self) -> &str {
        self.inner.ruleset_hash.as_str()
    }

    #[getter]
    fn is_rejected(&self) -> bool {
        self.inner.is_rejected()
    }

    #[getter]
    fn matched_ids(&self) -> Vec<&str> {
        self.inner.matched_ids()
    }

    /// The rejection (`rule_id`, `code`, `message`), or None when allowed.
    #[getter]
    fn rejection<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .rejection()
            .map(|r| serde_to_py(py, r))
            .transpose()
    }

    /// The decision as plain dicts and lists: the engine's JSON shape.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner)
    }

    /// The decision as JSON text; `pretty=True` gives exactly what `acs eval` prints
    /// (without its final newline).
    #[pyo3(signature = (pretty = false))]
    fn to_json(&self, pretty: bool) -> PyResult<String> {
        if pretty {
            serde_json::to_string_pretty(&self.inner).map_err(json_error)
        } else {
            serde_json::to_string(&self.inner).map_err(json_error)
        }
    }

    fn __repr__(&self) -> String {
        let verdict = match self.inner.rejection() {
            Some(r) => format!("rejected by {}", r.rule_id()),
            None => "allowed".to_owned(),
        };
        format!(
            "<acs.Decision {verdict}, matched {:?}, {} errors, generation {}>",
            self.inner.matched_ids(),
            self.inner.errors.len(),
            self.inner.generation
        )
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> Py<PyAny> {
        let py = other.py();
        let Ok(other) = other.cast::<Decision>() else {
            return py.NotImplemented();
        };
        let equal = self.inner == other.get().inner;
        match op {
            CompareOp::Eq => equal
                .into_pyobject(py)
                .map_or_else(|_| py.None(), |b| b.to_owned().into_any().unbind()),
            CompareOp::Ne => (!equal)
                .into_pyobject(py)
                .map_or_else(|_| py.None(), |b| b.to_owned().into_any().unbind()),
            _ => py.NotImplemented(),
        }
    }
}
