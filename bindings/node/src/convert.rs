//! JS values in and out. A JS object is read into the engine's JSON document under the
//! engine's limits, with errors that name the offending field; decisions, reports and
//! status go back as plain JS objects through their serde form, so Node sees the JSON
//! shapes the CLI prints.

use napi::bindgen_prelude::{
    BigInt, FromNapiValue, Function, JsObjectValue, KeyCollectionMode, KeyConversion, KeyFilter,
    Object, Unknown,
};
use napi::{Env, JsValue, ValueType};
use serde::Serialize;
use serde_json::{Map, Number, Value};

/// What reading a JS value into a document can fail with. Only [`Problem::Thrown`]
/// carries a JS exception (a getter that threw); the others are worded for the caller.
pub(crate) enum Problem {
    /// A value JSON has no form for (a Symbol, a function, a BigInt beyond 64 bits, NaN).
    NotJson { path: String, found: String },
    /// Nested deeper than the limit (a cyclic object ends here too).
    TooDeep { path: String, limit: usize },
    /// Strings and keys add up to more than the limit.
    TooLarge { limit: usize },
    /// Reading the object ran JS code that threw.
    Thrown(napi::Error),
}

impl From<napi::Error> for Problem {
    fn from(error: napi::Error) -> Self {
        Problem::Thrown(error)
    }
}

/// The limits a conversion keeps to: the engine's `max_input_depth` and
/// `max_input_bytes` (counted over strings and keys, the bulk of any document).
pub(crate) struct Budget {
    pub max_depth: usize,
    pub max_bytes: usize,
    used_bytes: usize,
}

impl Budget {
    pub(crate) fn new(max_depth: usize, max_bytes: usize) -> Self {
        Budget {
            max_depth,
            max_bytes,
            used_bytes: 0,
        }
    }

    fn spend(&mut self, bytes: usize) -> Result<(), Problem> {
        self.used_bytes = self.used_bytes.saturating_add(bytes);
        if self.used_bytes > self.max_bytes {
            return Err(Problem::TooLarge {
                limit: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// A place in the document, kept as a chain of borrowed steps so that nothing is built
/// unless an error needs the path.
#[derive(Clone, Copy)]
pub(crate) enum Step<'a> {
    Root(&'a str),
    Key(&'a Step<'a>, &'a str),
    Index(&'a Step<'a>, u32),
}

impl Step<'_> {
    fn render(&self) -> String {
        match self {
            Step::Root(name) => (*name).to_owned(),
            Step::Key(parent, key) => {
                let mut path = parent.render();
                if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !key.is_empty() {
                    path.push('.');
                    path.push_str(key);
                } else {
                    path.push_str(&format!("[{}]", Value::from(*key)));
                }
                path
            }
            Step::Index(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }
}

/// Read `value` as JSON does (`JSON.stringify`'s rules, without its silent drops):
/// `undefined` object members are left out; a `Date` becomes its ISO-8601 text; numbers
/// that are whole and safe become integers, a `BigInt` within 64 bits an exact integer;
/// a Symbol, a function, NaN or an infinity is an error naming its place.
pub(crate) fn to_document(
    value: &Unknown<'_>,
    at: Step<'_>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, Problem> {
    let not_json = |found: &str| Problem::NotJson {
        path: at.render(),
        found: found.to_owned(),
    };
    Ok(match value.get_type()? {
        ValueType::Null | ValueType::Undefined => Value::Null,
        ValueType::Boolean => Value::Bool(bool::from_unknown(*value)?),
        ValueType::Number => {
            number(f64::from_unknown(*value)?).ok_or_else(|| not_json("NaN or an infinity"))?
        }
        ValueType::String => {
            let text = String::from_unknown(*value)?;
            budget.spend(text.len())?;
            Value::String(text)
        }
        ValueType::BigInt => {
            let big = BigInt::from_unknown(*value)?;
            big_integer(&big).ok_or_else(|| not_json("a BigInt beyond 64 bits"))?
        }
        ValueType::Symbol => return Err(not_json("a Symbol")),
        ValueType::Function => return Err(not_json("a function")),
        ValueType::Object => {
            if depth >= budget.max_depth {
                return Err(Problem::TooDeep {
                    path: at.render(),
                    limit: budget.max_depth,
                });
            }
            let object = Object::from_unknown(*value)?;
            if value.is_array()? {
                let length = object.get_array_length()?;
                let mut items = Vec::with_capacity(length.min(1024) as usize);
                for index in 0..length {
                    let item: Unknown<'_> = object.get_element(index)?;
                    items.push(to_document(
                        &item,
                        Step::Index(&at, index),
                        depth + 1,
                        budget,
                    )?);
                }
                Value::Array(items)
            } else if value.is_date()? {
                let to_iso: Function<'_, (), String> = object.get_named_property("toISOString")?;
                let text = to_iso
                    .apply(object, ())
                    .map_err(|_| not_json("an invalid Date"))?;
                budget.spend(text.len())?;
                Value::String(text)
            } else if value.is_typedarray()? || value.is_arraybuffer()? || value.is_dataview()? {
                return Err(not_json("binary data (a typed array or buffer)"));
            } else {
                let names: Object<'_> = object.get_all_property_names(
                    KeyCollectionMode::OwnOnly,
                    KeyFilter::Enumerable,
                    KeyConversion::NumbersToStrings,
                )?;
                let count = names.get_array_length()?;
                let mut map = Map::new();
                for index in 0..count {
                    let name: Unknown<'_> = names.get_element(index)?;
                    if name.get_type()? != ValueType::String {
                        continue; // a Symbol key: JSON has no such member
                    }
                    let key = String::from_unknown(name)?;
                    let member: Unknown<'_> = object.get_property(name)?;
                    if member.get_type()? == ValueType::Undefined {
                        continue;
                    }
                    budget.spend(key.len())?;
                    let item = to_document(&member, Step::Key(&at, &key), depth + 1, budget)?;
                    map.insert(key, item);
                }
                Value::Object(map)
            }
        }
        _ => return Err(not_json("a value JSON cannot hold")),
    })
}

/// A JS number as JSON: whole numbers JS holds exactly become integers (`1` not `1.0`),
/// others floats; `None` for NaN and the infinities.
fn number(n: f64) -> Option<Value> {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    if n.fract() == 0.0 && n.abs() <= SAFE && !(n == 0.0 && n.is_sign_negative()) {
        // INVARIANT: whole and within ±(2^53 - 1), so the cast is exact.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "checked whole and in range above"
        )]
        return Some(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n).map(Value::Number)
}

/// A BigInt that fits i64 or u64, as an exact integer.
fn big_integer(big: &BigInt) -> Option<Value> {
    if big.sign_bit {
        let (value, lossless) = big.get_i64();
        lossless.then(|| Value::from(value))
    } else {
        let (_, value, lossless) = big.get_u64();
        lossless.then(|| Value::from(value))
    }
}

/// A serde value as a plain JS value (objects, arrays; integers beyond 2^53 as BigInt).
pub(crate) fn to_js<'env, T: Serialize>(env: &Env, value: &T) -> napi::Result<Unknown<'env>> {
    env.to_js_value(value)
}
