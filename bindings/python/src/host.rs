//! Python callables as the engine's host functions. The engine calls a host function from
//! inside an evaluation, with the GIL released; the registered closure re-attaches to the
//! interpreter for the length of its own call only (so other Python threads run while
//! the engine works, and a host function may itself call an engine). An exception is the
//! call's error: code `raised`, message `ExcType: message`, or the code an
//! `acs.FunctionError` carries; the rule errs and the other rules run.

use std::collections::HashMap;
use std::sync::Arc;

use acs_engine::{FunctionError, Functions, Limits};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use serde_json::Value;

use crate::convert::{self, Budget, Path};
use crate::errors;

/// The code of a host function that raised.
pub(crate) const RAISED: &str = "raised";
/// The code of a host function that returned a coroutine to a synchronous evaluation.
pub(crate) const RETURNED_COROUTINE: &str = "returned_coroutine";
/// The code of a host function called while the interpreter shuts down.
const NO_INTERPRETER: &str = "no_interpreter";

/// The Python functions one engine was given, by dotted name.
pub(crate) struct PyFunctions {
    by_name: HashMap<String, Py<PyAny>>,
}

impl PyFunctions {
    /// Read `{"db.count.trucksByOperator": fn, ...}`; a key that is no str or a value that
    /// is not callable is a `TypeError` naming it. Returns the table and the engine's
    /// `Functions`, each calling its Python function.
    pub(crate) fn read(given: &Bound<'_, PyAny>) -> PyResult<(Arc<PyFunctions>, Functions)> {
        let dict = given
            .cast::<PyDict>()
            .map_err(|_| errors::type_error("functions must be a dict of callables"))?;
        let mut by_name = HashMap::new();
        let mut functions = Functions::new();
        for (name, function) in dict.iter() {
            let name: String = name
                .cast::<PyString>()
                .map_err(|_| errors::type_error("functions: every key must be a str"))?
                .to_cow()?
                .into_owned();
            if !function.is_callable() {
                return Err(errors::type_error(format!(
                    "functions[{name:?}] must be callable"
                )));
            }
            let function = function.unbind();
            by_name.insert(name.clone(), function.clone_ref(given.py()));
            functions.register(name, move |args: &[&Value]| call_sync(&function, args));
        }
        Ok((Arc::new(PyFunctions { by_name }), functions))
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Call `name` with `args`: its return value as is (a coroutine included).
    pub(crate) fn call<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        args: &[Value],
    ) -> PyResult<Bound<'py, PyAny>> {
        let function = self
            .by_name
            .get(name)
            .ok_or_else(|| errors::misuse(format!("no Python function {name:?}")))?;
        let args = args
            .iter()
            .map(|a| convert::to_py(py, a))
            .collect::<PyResult<Vec<_>>>()?;
        function.bind(py).call1(PyTuple::new(py, args)?)
    }
}

/// A synchronous call from inside the engine: attach, call, read the answer.
fn call_sync(function: &Py<PyAny>, args: &[&Value]) -> Result<Value, FunctionError> {
    Python::try_attach(|py| {
        let args = args
            .iter()
            .map(|a| convert::to_py(py, a))
            .collect::<PyResult<Vec<_>>>()
            .and_then(|args| PyTuple::new(py, args))
            .map_err(|e| failure(py, &e))?;
        let result = function.bind(py).call1(args).map_err(|e| failure(py, &e))?;
        answer(py, &result)
    })
    .unwrap_or_else(|| {
        Err(FunctionError::new(
            NO_INTERPRETER,
            "the Python interpreter is shutting down",
        ))
    })
}

/// What a call raised, as its rule's error.
pub(crate) fn failure(py: Python<'_>, error: &PyErr) -> FunctionError {
    let value = error.value(py);
    let own = errors::class(py, "FunctionError")
        .ok()
        .filter(|class| value.is_instance(class).unwrap_or(false));
    if own.is_some() {
        let code = value
            .getattr("code")
            .and_then(|c| c.extract::<String>())
            .unwrap_or_else(|_| FunctionError::FAILED.to_owned());
        let message = value.str().map(|s| s.to_string()).unwrap_or_default();
        return FunctionError::new(code, message);
    }
    FunctionError::new(RAISED, errors::describe(py, error))
}

/// A function's return value as the engine takes it. A coroutine (an `async def`
/// called outside `evaluate_async`) is closed and refused.
pub(crate) fn answer(py: Python<'_>, value: &Bound<'_, PyAny>) -> Result<Value, FunctionError> {
    let mut budget = Budget::new(&Limits::default());
    match convert::to_value(value, &Path::Root("return value"), 0, &mut budget) {
        Ok(value) => Ok(value),
        Err(problem) => {
            if value.hasattr("__await__").unwrap_or(false) {
                if let Ok(close) = value.getattr("close") {
                    let _ = close.call0();
                }
                return Err(FunctionError::new(
                    RETURNED_COROUTINE,
                    "the function returned an awaitable: call it through `evaluate_async`",
                ));
            }
            let _ = py;
            Err(FunctionError::new("not_json", problem.words().1))
        }
    }
}
