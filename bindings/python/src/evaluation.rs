//! `acs.Evaluation`: the engine's resumable evaluation, the native half of
//! `Engine.evaluate_async`. `poll()` runs the evaluation until it decides or needs calls
//! of Python functions (calls of functions registered in Rust, a stub table's, are
//! answered on the spot); `acs._drive` (in `acs/__init__.py`) makes those calls, awaits
//! the coroutines together and answers by id, then polls again.

use std::collections::HashMap;
use std::sync::Arc;

use acs_engine::{Evaluation as Core, FunctionError, Functions, HostCall, Step};
use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use serde_json::Value;

use crate::decision::Decision;
use crate::errors;
use crate::host::{self, PyFunctions};

/// One evaluation in progress for `evaluate_async`.
#[pyclass(module = "acs", name = "Evaluation")]
pub(crate) struct Evaluation {
    core: Core,
    registered: Functions,
    python: Option<Arc<PyFunctions>>,
    waiting: HashMap<usize, HostCall>,
}

impl Evaluation {
    pub(crate) fn new(core: Core, registered: Functions, python: Option<Arc<PyFunctions>>) -> Self {
        Evaluation {
            core,
            registered,
            python,
            waiting: HashMap::new(),
        }
    }

    fn settle(&mut self, id: usize, result: Result<Value, FunctionError>) -> PyResult<()> {
        let call = self
            .waiting
            .remove(&id)
            .ok_or_else(|| errors::misuse(format!("no host call {id} is waiting")))?;
        self.core
            .answer(call.id, result)
            .map_err(|e| errors::misuse(e.to_string()))
    }
}

/// Poll until decided (`None`) or calls of Python functions are needed; the engine
/// makes the calls of functions registered in Rust (a stub table) itself.
fn advance(
    evaluation: &mut Core,
    registered: &Functions,
    python: Option<&PyFunctions>,
) -> Option<Vec<HostCall>> {
    let is_python = |name: &str| python.is_some_and(|p| p.has(name));
    match evaluation.poll_answering(registered, &is_python) {
        Step::Needs(calls) => Some(calls),
        Step::Decided(_) => None,
    }
}

#[pymethods]
impl Evaluation {
    /// The ids of the Python host calls needed next, or None once decided.
    fn poll(&mut self, py: Python<'_>) -> Option<Vec<usize>> {
        let (core, registered, python) = (&mut self.core, &self.registered, self.python.as_deref());
        let calls = py.detach(|| advance(core, registered, python))?;
        let ids = calls.iter().map(|c| c.id).collect();
        for call in calls {
            self.waiting.insert(call.id, call);
        }
        Some(ids)
    }

    /// Make call `id`: the Python function's return value, a coroutine included.
    fn call<'py>(&self, py: Python<'py>, id: usize) -> PyResult<Bound<'py, PyAny>> {
        let call = self
            .waiting
            .get(&id)
            .ok_or_else(|| errors::misuse(format!("no host call {id} is waiting")))?;
        match &self.python {
            Some(python) => python.call(py, &call.function, &call.args),
            None => Err(errors::misuse("no Python functions")),
        }
    }

    /// The (awaited) answer of call `id`.
    fn answer(&mut self, py: Python<'_>, id: usize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let result = host::answer(py, value);
        self.settle(id, result)
    }

    /// Call `id` raised `error` (or its coroutine did).
    fn fail(
        &mut self,
        py: Python<'_>,
        id: usize,
        error: Bound<'_, PyBaseException>,
    ) -> PyResult<()> {
        let failure = host::failure(py, &PyErr::from_value(error.into_any()));
        self.settle(id, Err(failure))
    }

    /// The decision, once `poll()` gave None.
    fn decision<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, Decision>> {
        match self.core.poll() {
            Step::Decided(decision) => Decision::untracked(py, decision),
            Step::Needs(_) => Err(errors::misuse("the evaluation has not decided yet")),
        }
    }
}
