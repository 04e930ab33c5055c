//! The analysts' tools: `lint` (the engine's lint run, for editors and CI), `explainCode`
//! and `runTests` (rule test files, as `acs test` runs them).

use std::path::PathBuf;

use acs_engine::lint::{lint_paths, LintRunError};
use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;

use crate::{convert, errors};

/// Lint rules files or bundle directories as `acs lint-rules` does; returns the run
/// (config used, totals, reports) with every finding flat in `findings`.
#[napi(
    catch_unwind,
    ts_args_type = "paths: string | string[], options?: { config?: string; denyWarnings?: boolean }",
    ts_return_type = "LintResult"
)]
pub fn lint<'env>(
    env: &'env Env,
    paths: Unknown<'_>,
    options: Option<Unknown<'_>>,
) -> napi::Result<Unknown<'env>> {
    let paths = path_list(env, paths)?;
    let (mut config, mut deny_warnings) = (None, false);
    if let Some(options) = options.filter(|o| o.get_type().ok() == Some(ValueType::Object)) {
        let options = Object::from_unknown(options)?;
        let given: Unknown<'_> = options.get_named_property("config")?;
        match given.get_type()? {
            ValueType::Undefined | ValueType::Null => {}
            ValueType::String => config = Some(PathBuf::from(String::from_unknown(given)?)),
            _ => {
                return Err(errors::type_error(
                    env,
                    "options.config must be the path of an acs.toml",
                ))
            }
        }
        let deny: Unknown<'_> = options.get_named_property("denyWarnings")?;
        if deny.get_type()? == ValueType::Boolean {
            deny_warnings = bool::from_unknown(deny)?;
        }
    }
    let run =
        lint_paths(&paths, config.as_deref(), deny_warnings).map_err(|error| match error {
            LintRunError::Load(load) => errors::rules_error(env, &load),
            other => errors::type_error(env, &other.to_string()),
        })?;
    let findings = run.findings();
    let failed = run.fails(deny_warnings);
    let mut result = Object::from_unknown(convert::to_js(env, &run)?)?;
    result.set_named_property("findings", convert::to_js(env, &findings)?)?;
    result.set_named_property("failed", failed)?;
    Ok(result.to_unknown())
}

/// What a finding code means (`'ACS411'`), as `acs lint-rules --explain` prints it.
#[napi(catch_unwind)]
pub fn explain_code(code: String) -> Option<String> {
    acs_engine::lint::codes::explain(&code.trim().to_ascii_uppercase()).map(|text| text.to_string())
}

/// Run rule test files (or directories of them) as `acs test` does; returns the report
/// (`files[].tests[]` with `passed` and the differences). Test files or rules that cannot
/// be read throw an `AcsError` with code `tests` listing every problem.
#[napi(
    catch_unwind,
    ts_args_type = "paths: string | string[], options?: { rules?: string; allowOutsideReads?: boolean }",
    ts_return_type = "TestReport"
)]
pub fn run_tests<'env>(
    env: &'env Env,
    paths: Unknown<'_>,
    options: Option<Unknown<'_>>,
) -> napi::Result<Unknown<'env>> {
    let paths = path_list(env, paths)?;
    let (mut rules, mut allow_outside_reads) = (None, false);
    if let Some(options) = options.filter(|o| o.get_type().ok() == Some(ValueType::Object)) {
        let options = Object::from_unknown(options)?;
        let given: Unknown<'_> = options.get_named_property("rules")?;
        match given.get_type()? {
            ValueType::Undefined | ValueType::Null => {}
            ValueType::String => rules = Some(PathBuf::from(String::from_unknown(given)?)),
            _ => return Err(errors::type_error(env, "options.rules must be a path")),
        }
        let allow: Unknown<'_> = options.get_named_property("allowOutsideReads")?;
        if allow.get_type()? == ValueType::Boolean {
            allow_outside_reads = bool::from_unknown(allow)?;
        }
    }
    let report = acs_engine::testing::run_paths(&paths, rules.as_deref(), allow_outside_reads)
        .map_err(|problems| errors::tests_error(env, &problems))?;
    convert::to_js(env, &report)
}

fn path_list(env: &Env, paths: Unknown<'_>) -> napi::Result<Vec<PathBuf>> {
    match paths.get_type()? {
        ValueType::String => Ok(vec![PathBuf::from(String::from_unknown(paths)?)]),
        ValueType::Object if paths.is_array()? => Ok(Vec::<String>::from_unknown(paths)
            .map_err(|_| errors::type_error(env, "paths must be a string or an array of strings"))?
            .into_iter()
            .map(PathBuf::from)
            .collect()),
        _ => Err(errors::type_error(
            env,
            "paths must be a string or an array of strings",
        )),
    }
}
