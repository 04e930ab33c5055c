//! The Node binding of ACS: a napi-rs shell over `acs-engine`. Every behaviour lives in
//! the engine; this crate converts JS values and errors (`convert`, `errors`), lends JS
//! functions to the engine as host functions (`host`), and exposes the engine
//! (`engine`) and the linter (`lint`) as JS classes and functions. `index.js` adds
//! the error classes and `evaluateAsync`, which awaits host functions' Promises.

// napi-derive registers the exported functions only outside `cfg(test)`, so the unit-test
// build sees them unused.
#![cfg_attr(
    test,
    allow(dead_code, reason = "exports are registered only outside test builds")
)]

mod convert;
mod engine;
mod errors;
mod evaluation;
mod host;
mod tools;

use napi::bindgen_prelude::{FromNapiValue, Object, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

/// Called once per JS environment by `index.js` with the package's error classes and its
/// host-function dispatcher.
#[napi(
    catch_unwind,
    js_name = "registerRuntime",
    ts_args_type = "classes: Record<string, Function>"
)]
pub fn register_runtime(env: Env, classes: Unknown<'_>) -> napi::Result<()> {
    if classes.get_type()? != ValueType::Object {
        return Err(errors::type_error(&env, "classes must be an object"));
    }
    errors::register(&env, &Object::from_unknown(classes)?)
}
