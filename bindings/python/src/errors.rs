//! Engine errors as Python exceptions: instances of the package's classes in
//! `acs/_errors.py` (`RulesError`, `RulesNotFound`, `InputError`, `WatchError`,
//! `TestsError`, all `AcsError`s), with the engine's code and, for rules, the place and
//! every diagnostic. Bad argument types are `TypeError`s.

use acs_engine::{InputError, LoadError};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyString};

use crate::convert::{self, Problem};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The class `name` of `acs._errors`.
pub(crate) fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let module = ERRORS.get_or_try_init(py, || {
        PyModule::import(py, "acs._errors").map(Bound::unbind)
    })?;
    module.bind(py).getattr(name)
}

/// An exception of class `name` with `message` and `code`, and the attributes `fill` sets.
fn raise(
    py: Python<'_>,
    name: &str,
    code: &str,
    message: &str,
    fill: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<()>,
) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let error = class(py, name)?.call1((message, code))?;
        fill(&error)?;
        Ok(PyErr::from_value(error))
    })();
    built.unwrap_or_else(|e| e)
}

/// Rules that did not load: `RulesError` (`RulesNotFound` for a missing path) with the
/// first error's place and every diagnostic.
pub(crate) fn rules_error(py: Python<'_>, error: &LoadError) -> PyErr {
    let diagnostics = error.diagnostics();
    let first = diagnostics.iter().find(|d| d.is_error());
    let code = first.map_or(error.code(), |d| d.code.as_str());
    let missing = error.io_kind() == Some(std::io::ErrorKind::NotFound);
    let name = if missing {
        "RulesNotFound"
    } else {
        "RulesError"
    };
    raise(py, name, code, &error.to_string(), |object| {
        object.setattr("kind", error.code())?;
        if let Some(location) = first.and_then(|d| d.location.as_ref()) {
            object.setattr("file", location.file.as_str())?;
            object.setattr("line", location.line)?;
            object.setattr("column", location.column)?;
        }
        if missing {
            // What `FileNotFoundError(errno, strerror, filename)` would carry.
            object.setattr("errno", 2)?;
            object.setattr("strerror", "No such file or directory")?;
        }
        object.setattr("diagnostics", convert::serde_to_py(py, &diagnostics)?)
    })
}

/// An input the engine refused: `InputError` with the engine's code.
pub(crate) fn input_error(py: Python<'_>, error: &InputError) -> PyErr {
    raise(
        py,
        "InputError",
        error.code(),
        &python_limit_names(&error.to_string()),
        |_| Ok(()),
    )
}

/// A Python object that is no document: `InputError` naming the field.
pub(crate) fn problem_error(py: Python<'_>, problem: &Problem) -> PyErr {
    let (code, message) = problem.words();
    raise(py, "InputError", code, &message, |object| {
        match problem.path() {
            Some(path) => object.setattr("path", path),
            None => Ok(()),
        }
    })
}

/// The engine names a limit by its Rust field; a Python caller sets it in `limits=`.
fn python_limit_names(message: &str) -> String {
    message
        .replace("`Limits::max_input_bytes`", "limits[\"max_input_bytes\"]")
        .replace("`Limits::max_input_depth`", "limits[\"max_input_depth\"]")
}

/// The watcher could not start.
pub(crate) fn watch_error(py: Python<'_>, error: &acs_engine::WatchError) -> PyErr {
    raise(py, "WatchError", "watch", &error.to_string(), |_| Ok(()))
}

/// Rule test files or their rules that could not be read: every problem, rendered.
pub(crate) fn tests_error(py: Python<'_>, problems: &[String]) -> PyErr {
    raise(
        py,
        "TestsError",
        "tests",
        &problems.join("\n\n"),
        |object| object.setattr("problems", problems.to_vec()),
    )
}

/// A generic `AcsError` with `code`.
pub(crate) fn acs_error(py: Python<'_>, code: &str, message: &str) -> PyErr {
    raise(py, "AcsError", code, message, |_| Ok(()))
}

/// A `TypeError` naming the argument that has the wrong type.
pub(crate) fn type_error(message: impl Into<String>) -> PyErr {
    PyTypeError::new_err(message.into())
}

/// A misuse of the native halves (an unknown call id, a decision asked too early).
pub(crate) fn misuse(message: impl Into<String>) -> PyErr {
    PyRuntimeError::new_err(message.into())
}

/// `ExcType: message`, as a host function's exception becomes its rule's error.
pub(crate) fn describe(py: Python<'_>, error: &PyErr) -> String {
    let value = error.value(py);
    let kind = value
        .get_type()
        .name()
        .map_or_else(|_| "Exception".to_owned(), |n| n.to_string());
    let text = value
        .str()
        .ok()
        .map(|s: Bound<'_, PyString>| s.to_string())
        .unwrap_or_default();
    if text.is_empty() {
        kind
    } else {
        format!("{kind}: {text}")
    }
}
