//! Engine errors as JS errors: instances of the package's own `Error` subclasses
//! (`RulesError`, `InputError`, `WatchError`, all `AcsError`s) with a `code` and, for
//! rules, the place and every diagnostic. The classes are defined in `index.js` and
//! handed over once per JS environment (each worker thread has its own).

use acs_engine::{InputError, LoadError, WatchError};
use napi::bindgen_prelude::{FromNapiValue, Function, FunctionRef, JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, Status};

use crate::convert::{self, Problem};

/// What `index.js` hands over once per JS environment: the error classes, and the
/// dispatcher host functions are called through (`host.rs`).
pub(crate) struct Runtime {
    classes: Vec<(String, FunctionRef<String, ()>)>,
    dispatch: Option<FunctionRef<(), ()>>,
}

/// `registerRuntime({ RulesError, InputError, ..., dispatch })`, called by `index.js`.
pub(crate) fn register(env: &Env, runtime: &Object<'_>) -> napi::Result<()> {
    let mut classes = Vec::new();
    for name in ["AcsError", "RulesError", "InputError", "WatchError"] {
        let class: Function<'_, String, ()> = runtime.get_named_property(name)?;
        classes.push((name.to_owned(), class.create_ref()?));
    }
    let dispatch: Option<Function<'_, (), ()>> = runtime.get_named_property("dispatch")?;
    let dispatch = dispatch.map(|d| d.create_ref()).transpose()?;
    env.set_instance_data(Runtime { classes, dispatch }, 0u8, |_| {})
}

/// `(fn, argsJson) => fn(...JSON.parse(argsJson))`, when `index.js` registered it.
pub(crate) fn dispatcher<'env>(env: &'env Env) -> Option<Function<'env, (), ()>> {
    env.get_instance_data::<Runtime>()
        .ok()
        .flatten()
        .and_then(|runtime| runtime.dispatch.as_ref())
        .and_then(|d| d.borrow_back(env).ok())
}

/// A JS error of class `class` (a plain `Error` when the classes were never
/// registered: the native module loaded on its own) with `code` and `message`, and the
/// extra properties `fill` sets.
fn raise(
    env: &Env,
    class: &str,
    code: &str,
    message: &str,
    fill: impl FnOnce(&Env, &mut Object<'_>) -> napi::Result<()>,
) -> napi::Error {
    let built = (|| -> napi::Result<napi::Error> {
        let registered = env.get_instance_data::<Runtime>()?.and_then(|data| {
            data.classes
                .iter()
                .find(|(name, _)| name == class)
                .and_then(|(_, class)| class.borrow_back(env).ok())
        });
        let mut error: Object<'_> = match registered {
            Some(class) => {
                let instance = class.new_instance(message.to_owned())?;
                Object::from_unknown(instance)?
            }
            None => env.create_error(napi::Error::new(Status::GenericFailure, message))?,
        };
        error.set_named_property("code", code)?;
        fill(env, &mut error)?;
        Ok(napi::Error::from(error.to_unknown()))
    })();
    built.unwrap_or_else(|e| e)
}

/// Rules that did not load: `RulesError` with the first error's place (or the path) and
/// every diagnostic.
pub(crate) fn rules_error(env: &Env, error: &LoadError) -> napi::Error {
    let diagnostics = error.diagnostics();
    let first = diagnostics.iter().find(|d| d.is_error());
    let code = first.map_or(error.code(), |d| d.code.as_str());
    raise(
        env,
        "RulesError",
        code,
        &error.to_string(),
        |env, object| {
            object.set_named_property("kind", error.code())?;
            if let Some(location) = first.and_then(|d| d.location.as_ref()) {
                object.set_named_property("file", location.file.as_str())?;
                object.set_named_property("line", location.line as f64)?;
                object.set_named_property("column", location.column as f64)?;
            }
            let diagnostics: Unknown<'_> = convert::to_js(env, &diagnostics)?;
            object.set_named_property("diagnostics", diagnostics)
        },
    )
}

/// An input the engine refused: `InputError` with the engine's code.
pub(crate) fn input_error(env: &Env, error: &InputError) -> napi::Error {
    raise(
        env,
        "InputError",
        error.code(),
        &js_limit_names(&error.to_string()),
        |_, _| Ok(()),
    )
}

/// The engine names a limit by its Rust field; a Node caller sets it in `options.limits`.
fn js_limit_names(message: &str) -> String {
    message
        .replace("`Limits::max_input_bytes`", "limits.maxInputBytes")
        .replace("`Limits::max_input_depth`", "limits.maxInputDepth")
}

/// A problem reading an input object as a batch result's `(code, message)`.
pub(crate) fn problem_words(problem: Problem) -> (String, String) {
    match problem {
        Problem::NotJson { path, found } => (
            "not_json".to_owned(),
            format!("`{path}` is {found}, which JSON cannot hold"),
        ),
        Problem::TooDeep { path, limit } => (
            "too_deep".to_owned(),
            format!("the input nests objects and arrays more than {limit} deep at `{path}` (a cyclic object?) (limits.maxInputDepth)"),
        ),
        Problem::TooLarge { limit } => (
            "too_large".to_owned(),
            format!("the input holds more than {limit} bytes of text (limits.maxInputBytes)"),
        ),
        Problem::Thrown(error) => ("threw".to_owned(), error.reason.clone()),
    }
}

/// A JS value that is no JSON document: `InputError` naming the field, or the JS
/// exception a getter threw, as it was thrown.
pub(crate) fn conversion_error(env: &Env, problem: Problem) -> napi::Error {
    let path = match &problem {
        Problem::Thrown(_) => return problem_words_error(problem),
        Problem::NotJson { path, .. } | Problem::TooDeep { path, .. } => Some(path.clone()),
        Problem::TooLarge { .. } => None,
    };
    let (code, message) = problem_words(problem);
    raise(
        env,
        "InputError",
        &code,
        &message,
        |_, object| match &path {
            Some(path) => object.set_named_property("path", path.as_str()),
            None => Ok(()),
        },
    )
}

/// The exception a getter threw, as it was thrown.
fn problem_words_error(problem: Problem) -> napi::Error {
    match problem {
        Problem::Thrown(error) => error,
        other => napi::Error::from_reason(problem_words(other).1),
    }
}

/// The audit log could not take the records (`auditFlush`).
pub(crate) fn audit_error(env: &Env, message: &str) -> napi::Error {
    raise(env, "AcsError", "audit", message, |_, _| Ok(()))
}

/// The watcher could not start.
pub(crate) fn watch_error(env: &Env, error: &WatchError) -> napi::Error {
    raise(
        env,
        "WatchError",
        "watch",
        &error.to_string(),
        |_, _| Ok(()),
    )
}

/// Rule test files or their rules that could not be read: every problem, rendered.
pub(crate) fn tests_error(env: &Env, problems: &[String]) -> napi::Error {
    raise(
        env,
        "AcsError",
        "tests",
        &problems.join("\n\n"),
        |_, object| {
            let list: Vec<&str> = problems.iter().map(String::as_str).collect();
            object.set_named_property("problems", list)
        },
    )
}

/// A JS `TypeError` naming the argument that has the wrong type.
pub(crate) fn type_error(env: &Env, message: &str) -> napi::Error {
    let built = (|| -> napi::Result<napi::Error> {
        let class: Function<'_, String, ()> = env.get_global()?.get_named_property("TypeError")?;
        let mut error = Object::from_unknown(class.new_instance(message.to_owned())?)?;
        error.set_named_property("code", "ERR_INVALID_ARG_TYPE")?;
        Ok(napi::Error::from(error.to_unknown()))
    })();
    built.unwrap_or_else(|e| e)
}
