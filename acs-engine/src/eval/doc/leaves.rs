//! The input as a host's leaves at a plan's read paths (`input/leaves.rs`), read in
//! place: an object on the way to a path is a node of the layout, found by key among its
//! children; a scalar leaf is read where it lies (strings borrowed from the host's
//! buffer); only a container leaf (an object or array read whole) is parsed into a
//! `Value`. An object node is built into a `Value` only if an operation asks for it
//! whole, which the plan's own reads never do (a path read whole is a leaf), and then
//! once per evaluation.

use std::cell::OnceCell;

use serde_json::{Map, Value};

use super::Doc;
use crate::eval::value::{self, Val, View};
use crate::input::leaves::{json_number, Leaf, LeafLayout, NodeKind};
use crate::input::{check_limits, parse_json, InputError};
use crate::limits::Limits;

static NULL: Value = Value::Null;

/// One evaluation's leaves, checked and in place.
pub(crate) struct LeafDoc<'a> {
    layout: &'a LeafLayout,
    slots: Vec<Slot<'a>>,
    /// Object nodes built whole, on demand (see the module's note): never, for the
    /// plan's own reads, so not even allocated until then.
    built: OnceCell<Box<[OnceCell<Value>]>>,
}

enum Slot<'a> {
    Absent,
    Null,
    Bool(bool),
    /// A number whose evaluator value is this double; `.1` is its JSON form.
    Num(f64, serde_json::Number),
    Str(&'a str),
    /// A string the host built.
    String(String),
    /// A container, or an integer a double cannot hold.
    Value(Value),
}

impl<'a> LeafDoc<'a> {
    /// `leaves` (one per path of `layout`, in its order; missing ones absent) under
    /// `limits`: the strings and JSON texts together within `max_input_bytes`, each
    /// container within `max_input_depth` counted from the document's top.
    pub(crate) fn new(
        layout: &'a LeafLayout,
        leaves: Vec<Leaf<'a>>,
        limits: &Limits,
    ) -> Result<LeafDoc<'a>, InputError> {
        let mut bytes = 0usize;
        let mut spend = |more: usize| {
            bytes = bytes.saturating_add(more);
            if bytes > limits.max_input_bytes {
                return Err(InputError::TooLarge {
                    bytes,
                    limit: limits.max_input_bytes,
                });
            }
            Ok(())
        };
        let paths = layout.paths();
        let mut slots = Vec::with_capacity(paths.len());
        let mut leaves = leaves.into_iter();
        for path in paths {
            let leaf = leaves.next().unwrap_or(Leaf::Absent);
            slots.push(match leaf {
                Leaf::Absent => Slot::Absent,
                Leaf::Null => Slot::Null,
                Leaf::Bool(b) => Slot::Bool(b),
                Leaf::Number(n) => number(json_number(n).ok_or_else(|| InputError::NotJson {
                    path: path.join("."),
                    found: "NaN or an infinity",
                })?),
                Leaf::Integer(i) => number(serde_json::Number::from(i)),
                Leaf::Float(f) => {
                    number(
                        serde_json::Number::from_f64(f).ok_or_else(|| InputError::NotJson {
                            path: path.join("."),
                            found: "NaN or an infinity",
                        })?,
                    )
                }
                Leaf::Value(value) => match value {
                    Value::Null => Slot::Null,
                    Value::Bool(b) => Slot::Bool(b),
                    Value::Number(n) => number(n),
                    Value::String(s) => Slot::String(s),
                    container => Slot::Value(container),
                },
                Leaf::Str(text) => {
                    spend(text.len())?;
                    Slot::Str(text)
                }
                Leaf::Json(text) => {
                    spend(text.len())?;
                    let inside = Limits {
                        max_input_depth: limits.max_input_depth.saturating_sub(path.len()),
                        ..*limits
                    };
                    check_limits(text.as_bytes(), &inside).map_err(|e| match e {
                        InputError::TooDeep { offset, .. } => InputError::TooDeep {
                            limit: limits.max_input_depth,
                            offset,
                        },
                        other => other,
                    })?;
                    Slot::Value(parse_json(text.as_bytes())?)
                }
            });
        }
        Ok(LeafDoc {
            layout,
            slots,
            built: OnceCell::new(),
        })
    }

    /// The document's top.
    pub(crate) fn root(&'a self) -> LeafRef<'a> {
        LeafRef::Node(self, 0)
    }

    /// The document as a `Value`: what an audit record holds.
    #[cfg(feature = "audit")]
    pub(crate) fn to_value(&self) -> Value {
        self.build(0)
    }

    fn kind(&self, node: u32) -> Option<&'a NodeKind> {
        self.layout.nodes.get(node as usize).map(|n| &n.kind)
    }

    fn slot(&self, node: u32) -> Option<&Slot<'a>> {
        match self.kind(node)? {
            NodeKind::Leaf(index) => self.slots.get(*index as usize),
            NodeKind::Object(_) => None,
        }
    }

    fn build(&self, node: u32) -> Value {
        match self.kind(node) {
            Some(NodeKind::Object(children)) => {
                let mut map = Map::new();
                for child in children.clone() {
                    if matches!(self.slot(child), Some(Slot::Absent)) {
                        continue;
                    }
                    if let Some(entry) = self.layout.nodes.get(child as usize) {
                        map.insert(entry.key.to_string(), self.build(child));
                    }
                }
                Value::Object(map)
            }
            _ => match self.slot(node) {
                Some(Slot::Null) | Some(Slot::Absent) | None => Value::Null,
                Some(Slot::Bool(b)) => Value::Bool(*b),
                Some(Slot::Num(_, json)) => Value::Number(json.clone()),
                Some(Slot::Str(s)) => Value::String((*s).to_owned()),
                Some(Slot::String(s)) => Value::String(s.clone()),
                Some(Slot::Value(v)) => v.clone(),
            },
        }
    }
}

/// A number leaf as the evaluator reads the same number in a document: a double when
/// one holds it exactly, else kept whole (an integer beyond 2^53).
fn number<'a>(json: serde_json::Number) -> Slot<'a> {
    match value::number_view(&json) {
        View::Num(n) => Slot::Num(n, json),
        _ => Slot::Value(Value::Number(json)),
    }
}

/// A place in a [`LeafDoc`]: a node of its layout, or inside a container leaf.
#[derive(Clone, Copy)]
pub(crate) enum LeafRef<'a> {
    Node(&'a LeafDoc<'a>, u32),
    Value(&'a Value),
}

impl std::fmt::Debug for LeafRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeafRef::Node(_, node) => write!(f, "LeafRef::Node({node})"),
            LeafRef::Value(v) => write!(f, "LeafRef::Value({v})"),
        }
    }
}

impl<'a> LeafRef<'a> {
    /// `node` of `doc` as a place: `None` for an absent leaf, the `Value` itself for a
    /// container.
    fn at(doc: &'a LeafDoc<'a>, node: u32) -> Option<LeafRef<'a>> {
        match doc.slot(node) {
            Some(Slot::Absent) => None,
            Some(Slot::Value(v)) => Some(LeafRef::Value(v)),
            _ => Some(LeafRef::Node(doc, node)),
        }
    }

    /// An object node built whole, once per evaluation.
    fn built(doc: &'a LeafDoc<'a>, node: u32) -> &'a Value {
        let built = doc.built.get_or_init(|| {
            (0..doc.layout.nodes.len())
                .map(|_| OnceCell::new())
                .collect()
        });
        match built.get(node as usize) {
            Some(cell) => cell.get_or_init(|| doc.build(node)),
            None => &NULL,
        }
    }
}

impl<'a> Doc<'a> for LeafRef<'a> {
    const BORROWS: bool = false;

    #[inline]
    fn field(self, key: &str) -> Option<Self> {
        match self {
            LeafRef::Node(doc, node) => {
                let Some(NodeKind::Object(children)) = doc.kind(node) else {
                    return None;
                };
                let child = children.clone().find(|&c| {
                    doc.layout
                        .nodes
                        .get(c as usize)
                        .is_some_and(|n| value::same_key(&n.key, key))
                })?;
                LeafRef::at(doc, child)
            }
            LeafRef::Value(v) => value::field(v, key).map(LeafRef::Value),
        }
    }

    fn each_entry(self, mut f: impl FnMut(&'a str, Self)) {
        match self {
            LeafRef::Node(doc, node) => {
                if let Some(NodeKind::Object(children)) = doc.kind(node) {
                    for child in children.clone() {
                        if let (Some(entry), Some(place)) = (
                            doc.layout.nodes.get(child as usize),
                            LeafRef::at(doc, child),
                        ) {
                            f(&entry.key, place);
                        }
                    }
                }
            }
            LeafRef::Value(Value::Object(map)) => {
                for (key, value) in map {
                    f(key, LeafRef::Value(value));
                }
            }
            LeafRef::Value(_) => {}
        }
    }

    #[inline]
    fn is_null(self) -> bool {
        match self {
            LeafRef::Node(doc, node) => matches!(doc.slot(node), Some(Slot::Null)),
            LeafRef::Value(v) => v.is_null(),
        }
    }

    #[inline]
    fn as_str(self) -> Option<&'a str> {
        match self {
            LeafRef::Node(doc, node) => match doc.slot(node) {
                Some(Slot::Str(s)) => Some(s),
                Some(Slot::String(s)) => Some(s),
                _ => None,
            },
            LeafRef::Value(v) => v.as_str(),
        }
    }

    #[inline]
    fn view(self) -> View<'a> {
        match self {
            LeafRef::Node(doc, node) => match doc.slot(node) {
                Some(Slot::Null | Slot::Absent) => View::Null,
                Some(Slot::Bool(b)) => View::Bool(*b),
                Some(Slot::Num(n, _)) => View::Num(*n),
                Some(Slot::Str(s)) => View::Str(s),
                Some(Slot::String(s)) => View::Str(s),
                Some(Slot::Value(v)) => View::of(v),
                None => View::of(LeafRef::built(doc, node)),
            },
            LeafRef::Value(v) => View::of(v),
        }
    }

    #[inline]
    fn val(self) -> Val<'a> {
        match self {
            LeafRef::Node(doc, node) => match doc.slot(node) {
                Some(Slot::Null | Slot::Absent) => Val::Null,
                Some(Slot::Bool(b)) => Val::Bool(*b),
                Some(Slot::Num(n, _)) => Val::Num(*n),
                Some(Slot::Str(s)) => Val::Str(s),
                Some(Slot::String(s)) => Val::Str(s),
                Some(Slot::Value(v)) => Val::from_ref(v),
                None => Val::from_ref(LeafRef::built(doc, node)),
            },
            LeafRef::Value(v) => Val::from_ref(v),
        }
    }

    #[inline]
    fn borrowed(self) -> Option<&'a Value> {
        match self {
            LeafRef::Value(v) => Some(v),
            LeafRef::Node(..) => None,
        }
    }

    fn to_value(self) -> Value {
        match self {
            LeafRef::Node(doc, node) => doc.build(node),
            LeafRef::Value(v) => v.clone(),
        }
    }
}
