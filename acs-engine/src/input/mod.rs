//! An input document as the evaluator reads it: its four roots, and JSON bytes read
//! either in place from a simd-json tape (`tape.rs`, the fast path) or, for what the tape
//! declines, parsed whole by `serde_json`, which decides and words every error. Knows
//! nothing of rules or plans.

pub(crate) mod leaves;
#[cfg(feature = "simd")]
pub(crate) mod tape;

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

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

    /// The root's name in an input document.
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
    /// An object gives the same key twice (after unescaping), anywhere in the input:
    /// which one counts would be a guess.
    #[error("duplicate key {key:?} in one JSON object, at line {line}, column {column}")]
    DuplicateKey {
        /// The key.
        key: String,
        /// 1-based line of the second one.
        line: usize,
        /// 1-based column where the second one ends.
        column: usize,
    },
    /// The input is valid JSON but not an object: it has no `event`, `ctx`, `system` or
    /// `db` to read.
    #[error("the input must be a JSON object with event, ctx, system and db; found {found}")]
    NotAnObject {
        /// What it is instead: `a number`, `an array`, `a string`, `a boolean`, `null`.
        found: &'static str,
    },
    /// A value a host handed over that JSON has no form for (NaN, an infinity), at `path`
    /// (dotted, root first).
    #[error("`{path}` is {found}, which JSON cannot hold")]
    NotJson {
        /// Where it was.
        path: String,
        /// What it is.
        found: &'static str,
    },
}

impl InputError {
    /// A stable, machine-readable name for the kind of error (`too_large`, `too_deep`,
    /// `json`, `duplicate_key`, `not_an_object`, `not_json`), for bindings that raise it as a typed
    /// error with a `code`.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::TooLarge { .. } => "too_large",
            InputError::TooDeep { .. } => "too_deep",
            InputError::Json { .. } => "json",
            InputError::DuplicateKey { .. } => "duplicate_key",
            InputError::NotAnObject { .. } => "not_an_object",
            InputError::NotJson { .. } => "not_json",
        }
    }

    /// [`InputError::NotAnObject`] unless `document` is an object: a document built by a
    /// host (a binding converting its own objects) is held to what a parsed one is.
    pub fn check_document(document: &Value) -> Result<(), InputError> {
        if document.is_object() {
            Ok(())
        } else {
            Err(InputError::NotAnObject {
                found: describe(document),
            })
        }
    }
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

/// Parse `bytes` as an input document with `serde_json`: a JSON object that gives no key
/// twice in any of its objects, or an error with its position kept apart from its message.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, InputError> {
    let document = parse_json(bytes)?;
    InputError::check_document(&document)?;
    Ok(document)
}

/// Parse one JSON document of any kind as `serde_json` does, except that an object giving
/// the same key twice is refused ([`InputError::DuplicateKey`]) where `serde_json` keeps
/// the last one. Inputs are read this way; so can be any other JSON the host hands over
/// (a stub table), so that a repeated key is never silently dropped.
pub fn parse_json(bytes: &[u8]) -> Result<Value, InputError> {
    let duplicate = Cell::new(None);
    let mut parser = serde_json::Deserializer::from_slice(bytes);
    Strict {
        duplicate: &duplicate,
    }
    .deserialize(&mut parser)
    .and_then(|value| parser.end().map(|()| value))
    .map_err(|e| {
        let (line, column) = (e.line().max(1), e.column().max(1));
        match duplicate.take() {
            Some(key) => InputError::DuplicateKey { key, line, column },
            None => InputError::Json {
                line,
                column,
                message: e
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            },
        }
    })
}

/// Builds a `Value` exactly as `serde_json`'s own `Deserialize` does, but refuses a key
/// an object already holds; the key is left in `duplicate`, for the error.
#[derive(Clone, Copy)]
struct Strict<'d> {
    duplicate: &'d Cell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            if object.contains_key(&key) {
                let error = A::Error::custom(format_args!("duplicate key {key:?}"));
                self.duplicate.set(Some(key));
                return Err(error);
            }
            let value = entries.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// What a JSON value is, in JSON's words, for a message about an input. Rules files and
/// rule test files are YAML and their messages use YAML's words
/// (`crate::ruleset::describe_json`: "a list", "a mapping"); an input is JSON.
pub(crate) fn describe(value: &Value) -> &'static str {
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
