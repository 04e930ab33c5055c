//! Stub tables (`{"name": [[[args...], result], ...]}`): host functions answered from
//! data, the test doubles of rule tests, the CLI and backtests. Arguments are matched with
//! the evaluator's own `==`, so a stub answers exactly the calls the language deems equal.

use serde_json::Value;

use crate::eval::values_equal;
use crate::functions::{FunctionError, Functions};
use crate::ruleset::describe_json;

/// Largest stub table file a tool reads, in bytes (16 MiB, as an input document): a table
/// is test data written by hand or exported, and a larger file is a mistake, not a table.
pub const MAX_STUB_TABLE_BYTES: u64 = 16 * 1024 * 1024;

/// A stub table that is not of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StubError {
    /// The table is not a JSON object.
    #[error("a stub table is an object of function names, found {0}")]
    NotAnObject(&'static str),
    /// A function's entry is malformed.
    #[error("stubs of `{function}`: entry {index} must be `[[args...], result]`")]
    BadEntry {
        /// The function name.
        function: String,
        /// 0-based index of the entry.
        index: usize,
    },
    /// A function's stubs are not a list.
    #[error("stubs of `{0}` must be a list of `[[args...], result]` entries")]
    NotAList(String),
}

impl Functions {
    /// Functions answering from the stub table in the file at `path` (a regular file of
    /// at most [`MAX_STUB_TABLE_BYTES`], strict JSON: a function stubbed twice is an
    /// error rather than the last entry). Errors are one line naming the file.
    pub fn from_stub_file(path: &std::path::Path) -> Result<Functions, String> {
        let text = crate::limits::read_file(path, MAX_STUB_TABLE_BYTES).map_err(|e| match e {
            crate::limits::ReadError::TooLarge { limit } => format!(
                "`{}` is more than {limit} bytes, the limit of a stub table (`acs_engine::MAX_STUB_TABLE_BYTES`)",
                path.display()
            ),
            other => format!("cannot read `{}`: {other}", path.display()),
        })?;
        let table = crate::input::parse_json(&text).map_err(|e| match e {
            crate::input::InputError::Json {
                line,
                column,
                message,
                ..
            } => format!(
                "`{}` is not valid JSON: {message} at line {line} column {column}",
                path.display()
            ),
            other => format!("`{}`: {other}", path.display()),
        })?;
        Functions::from_stubs(&table).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    /// Functions answering from a stub table: `{"name": [[[args...], result], ...]}`.
    ///
    /// A call whose arguments are in the table returns that result; any other call of a
    /// stubbed name is unregistered. A stub named like a built-in (`now`) replaces it.
    /// Arguments are matched with the condition language's `==`.
    pub fn from_stubs(table: &Value) -> Result<Functions, StubError> {
        from_stubs(table)
    }
}

fn from_stubs(table: &Value) -> Result<Functions, StubError> {
    let Value::Object(entries) = table else {
        return Err(StubError::NotAnObject(describe_json(table)));
    };
    let mut functions = Functions::new();
    for (name, cases) in entries {
        let Value::Array(cases) = cases else {
            return Err(StubError::NotAList(name.clone()));
        };
        let mut table: Vec<(Vec<Value>, Value)> = Vec::with_capacity(cases.len());
        for (index, case) in cases.iter().enumerate() {
            match case.as_array().map(Vec::as_slice) {
                Some([Value::Array(args), result]) => table.push((args.clone(), result.clone())),
                _ => {
                    return Err(StubError::BadEntry {
                        function: name.clone(),
                        index,
                    })
                }
            }
        }
        functions.register(name.clone(), move |args: &[&Value]| {
            table
                .iter()
                .find(|(want, _)| {
                    want.len() == args.len()
                        && want.iter().zip(args).all(|(a, b)| values_equal(a, b))
                })
                .map(|(_, result)| result.clone())
                .ok_or_else(FunctionError::not_registered)
        });
    }
    Ok(functions)
}
