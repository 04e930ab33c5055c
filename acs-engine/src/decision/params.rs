//! Action parameters as a caller reads them: a [`ParamTemplate`] (plain data: the
//! parameters as written, with a marker where each `{{...}}` hole goes) and the values
//! this input gave the holes. Assembled into a [`Value`] on first read, or streamed
//! straight into a serializer; rendering a match only computes the hole values.

use std::cell::Cell;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use smallvec::SmallVec;

/// The values of a match's `{{...}}` holes.
pub(crate) type Holes = SmallVec<[Value; 2]>;

/// An action's parameters with the place of each hole marked. Object entries are sorted
/// by key.
// INVARIANT: holes are filled in the template's pre-order with object entries sorted by
// key (the order `serde_json::Map` keeps), and building and serializing take them back
// in that same order; the compiler lays out each rule's hole programs in that order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamTemplate {
    Value(Value),
    /// Takes the next hole value.
    Hole,
    Array(Box<[ParamTemplate]>),
    Object(Box<[(Box<str>, ParamTemplate)]>),
}

impl ParamTemplate {
    /// How many holes the template has.
    pub(crate) fn hole_count(&self) -> usize {
        match self {
            ParamTemplate::Value(_) => 0,
            ParamTemplate::Hole => 1,
            ParamTemplate::Array(items) => items.iter().map(ParamTemplate::hole_count).sum(),
            ParamTemplate::Object(entries) => entries.iter().map(|(_, t)| t.hole_count()).sum(),
        }
    }
}

/// A value as text inside a string: strings raw, null empty, numbers without `.0`,
/// arrays and objects as JSON. The one rendering of a value as text, for interpolated
/// templates and for a rejection's `code` and `message`.
pub(crate) fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The parameters `template` renders to with these hole values.
pub(crate) fn build(template: &ParamTemplate, holes: &[Value]) -> Value {
    build_from(template, holes, &Cell::new(0))
}

fn build_from(template: &ParamTemplate, holes: &[Value], next: &Cell<usize>) -> Value {
    match template {
        ParamTemplate::Value(value) => value.clone(),
        ParamTemplate::Hole => take(holes, next).clone(),
        ParamTemplate::Array(items) => {
            Value::Array(items.iter().map(|t| build_from(t, holes, next)).collect())
        }
        ParamTemplate::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, t)| (String::from(&**key), build_from(t, holes, next)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

fn take<'a>(holes: &'a [Value], next: &Cell<usize>) -> &'a Value {
    let index = next.get();
    next.set(index + 1);
    holes.get(index).unwrap_or(&Value::Null)
}

/// Serializes `template` filled with `holes`, without building the value.
pub(crate) struct Fill<'a> {
    template: &'a ParamTemplate,
    holes: &'a [Value],
    next: Cell<usize>,
}

impl<'a> Fill<'a> {
    pub(crate) fn new(template: &'a ParamTemplate, holes: &'a [Value]) -> Fill<'a> {
        Fill {
            template,
            holes,
            next: Cell::new(0),
        }
    }
}

/// One node of a [`Fill`], sharing its cursor over the holes.
struct FillNode<'a> {
    template: &'a ParamTemplate,
    holes: &'a [Value],
    next: &'a Cell<usize>,
}

impl Serialize for Fill<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.next.set(0);
        FillNode {
            template: self.template,
            holes: self.holes,
            next: &self.next,
        }
        .serialize(serializer)
    }
}

impl Serialize for FillNode<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nested = |template| FillNode {
            template,
            holes: self.holes,
            next: self.next,
        };
        match self.template {
            ParamTemplate::Value(value) => value.serialize(serializer),
            ParamTemplate::Hole => take(self.holes, self.next).serialize(serializer),
            ParamTemplate::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&nested(item))?;
                }
                seq.end()
            }
            ParamTemplate::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, item) in entries.iter() {
                    map.serialize_entry(&**key, &nested(item))?;
                }
                map.end()
            }
        }
    }
}
