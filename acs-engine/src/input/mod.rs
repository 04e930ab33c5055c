//! An input document as the evaluator reads it: its four roots, and JSON bytes read
//! either in place from a simd-json tape (`tape.rs`, the fast path) or, for what the tape
//! declines, parsed whole by `serde_json`, which decides and words every error. Knows
//! nothing of rules or plans.

#[cfg(feature = "simd")]
pub(crate) mod tape;

use serde_json::Value;

use crate::limits::{Limits, MAX_INPUT_DEPTH};

/// The top-level documents of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Root {
    Event = 0,
    Ctx = 1,
    System = 2,
    Db = 3,
}

impl Root {
    #[cfg(test)]
    pub const ALL: [Root; 4] = [Root::Event, Root::Ctx, Root::System, Root::Db];

    #[cfg(test)]
    pub fn name(self) -> &'static str {
        match self {
            Root::Event => "event",
            Root::Ctx => "ctx",
            Root::System => "system",
            Root::Db => "db",
        }
    }

    /// The root called `name`. Every input's top-level keys go through here, so the four
    /// names, whose lengths differ, are told apart by length and one fixed-size compare.
    #[inline]
    pub fn by_name(name: &str) -> Option<Root> {
        let name = name.as_bytes();
        match name.len() {
            5 => (name == b"event").then_some(Root::Event),
            3 => (name == b"ctx").then_some(Root::Ctx),
            6 => (name == b"system").then_some(Root::System),
            2 => (name == b"db").then_some(Root::Db),
            _ => None,
        }
    }
}

/// An input that is not valid JSON, not a JSON object, or beyond the engine's [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input is larger than `Limits::max_input_bytes`.
    #[error(
        "the input is {bytes} bytes, more than the limit of {limit} (`Limits::max_input_bytes`)"
    )]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Arrays and objects nest deeper than `Limits::max_input_depth`.
    #[error("the input nests arrays and objects more than {limit} deep, at byte {offset} (`Limits::max_input_depth`)")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where the limit was crossed.
        offset: usize,
    },
    /// The bytes do not parse as JSON (or nest deeper than 128 levels).
    #[error("invalid JSON input at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The input is valid JSON but not an object: it has no `event`, `ctx`, `system` or
    /// `db` to read.
    #[error("the input must be a JSON object with event, ctx, system and db; found {found}")]
    NotAnObject {
        /// What it is instead: `a number`, `an array`, `a string`, `a boolean`, `null`.
        found: &'static str,
    },
}

/// Refuse `bytes` beyond `limits` before any parsing: larger than
/// `Limits::max_input_bytes`, or nesting deeper than `Limits::max_input_depth`.
pub(crate) fn check_limits(bytes: &[u8], limits: &Limits) -> Result<(), InputError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(InputError::TooLarge {
            bytes: bytes.len(),
            limit: limits.max_input_bytes,
        });
    }
    // serde_json and the tape enforce a depth of 128 themselves; only a lower limit needs
    // the scan.
    if limits.max_input_depth < MAX_INPUT_DEPTH {
        if let Some(offset) = json_depth_exceeds(bytes, limits.max_input_depth) {
            return Err(InputError::TooDeep {
                limit: limits.max_input_depth,
                offset,
            });
        }
    }
    Ok(())
}

/// Parse `bytes` as an input document with `serde_json`: a JSON object, or an error with
/// its position kept apart from its message.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, InputError> {
    let document = parse_any(bytes)?;
    if !document.is_object() {
        return Err(InputError::NotAnObject {
            found: describe(&document),
        });
    }
    Ok(document)
}

/// Parse `bytes` as one JSON document of any kind.
fn parse_any(bytes: &[u8]) -> Result<Value, InputError> {
    serde_json::from_slice(bytes).map_err(|e| InputError::Json {
        line: e.line().max(1),
        column: e.column().max(1),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// What a JSON value is, in words, for a message.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The deepest array/object nesting of JSON text, if it exceeds `limit`: a byte scan
/// that skips strings, run before parsing so a limit below `serde_json`'s is enforced.
pub(crate) fn json_depth_exceeds(bytes: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(offset);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Root;

    #[test]
    fn roots_are_found_by_their_exact_names_only() {
        for root in Root::ALL {
            assert_eq!(Root::by_name(root.name()), Some(root));
        }
        for other in [
            "", "Event", "evenT", "ctxx", "cts", "systen", "DB", "d", "events",
        ] {
            assert_eq!(Root::by_name(other), None, "{other}");
        }
    }
}
