//! The tape form of the input document (see the parent module): a position in a
//! simd-json tape, read in place.

use serde_json::{Number, Value};
use simd_json::{Node, StaticNode, Tape};

use super::Doc;
use crate::eval::value::{number_view, Val, View};
use crate::input::tape;

/// A value on a simd-json tape: the node at `at` and, for a container, the nodes it spans.
#[derive(Clone, Copy)]
pub(crate) struct TapeRef<'a> {
    tape: &'a Tape<'a>,
    at: usize,
}

impl std::fmt::Debug for TapeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TapeRef({})", self.at)
    }
}

impl<'a> TapeRef<'a> {
    /// The document a whole tape holds.
    pub(crate) fn root(tape: &'a Tape<'a>) -> TapeRef<'a> {
        TapeRef { tape, at: 0 }
    }

    #[inline]
    fn node(self) -> Option<Node<'a>> {
        self.tape.0.get(self.at).copied()
    }

    /// The position just past this value.
    #[inline]
    fn end(self) -> usize {
        match self.node() {
            Some(Node::Object { count, .. } | Node::Array { count, .. }) => {
                self.at.saturating_add(1).saturating_add(count)
            }
            _ => self.at.saturating_add(1),
        }
    }

    pub(in crate::eval) fn is_array(self) -> bool {
        matches!(self.node(), Some(Node::Array { .. }))
    }

    /// The entries of an object, in document order (nothing for anything else).
    pub(in crate::eval) fn entries(self) -> Entries<'a> {
        let left = match self.node() {
            Some(Node::Object { len, .. }) => len,
            _ => 0,
        };
        Entries {
            tape: self.tape,
            at: self.at.saturating_add(1),
            left,
        }
    }

    /// The elements of an array, in order (nothing for anything else).
    pub(in crate::eval) fn elements(self) -> Elements<'a> {
        let left = match self.node() {
            Some(Node::Array { len, .. }) => len,
            _ => 0,
        };
        Elements {
            tape: self.tape,
            at: self.at.saturating_add(1),
            left,
        }
    }

    /// This value built as `serde_json` would have built it.
    pub(in crate::eval) fn build(self) -> Value {
        tape::build(&self.tape.0, self.at).unwrap_or(Value::Null)
    }
}

/// A scalar node as the same view the `Value` form gives the same JSON.
#[inline]
fn scalar_view(node: StaticNode) -> View<'static> {
    match node {
        StaticNode::Null => View::Null,
        StaticNode::Bool(b) => View::Bool(b),
        StaticNode::F64(f) => View::Num(f),
        // Only `-0` gives a signed zero on the tape; serde_json reads it as the float -0.0.
        StaticNode::I64(0) => View::Num(-0.0),
        StaticNode::I64(i) => number_view(&Number::from(i)),
        StaticNode::U64(u) => number_view(&Number::from(u)),
    }
}

pub(in crate::eval) struct Entries<'a> {
    tape: &'a Tape<'a>,
    at: usize,
    left: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a str, TapeRef<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let Some(Node::String(key)) = self.tape.0.get(self.at).copied() else {
            self.left = 0;
            return None;
        };
        let value = TapeRef {
            tape: self.tape,
            at: self.at.saturating_add(1),
        };
        self.at = value.end();
        Some((key, value))
    }
}

pub(in crate::eval) struct Elements<'a> {
    tape: &'a Tape<'a>,
    at: usize,
    left: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = TapeRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let value = TapeRef {
            tape: self.tape,
            at: self.at,
        };
        self.at = value.end();
        Some(value)
    }
}

impl<'a> Doc<'a> for TapeRef<'a> {
    const BORROWS: bool = false;

    #[inline]
    fn field(self, key: &str) -> Option<Self> {
        // Like serde_json, the last of duplicate keys wins: read to the end.
        let mut found = None;
        for (k, value) in self.entries() {
            if crate::eval::value::same_key(k, key) {
                found = Some(value);
            }
        }
        found
    }

    #[inline]
    fn each_entry(self, mut f: impl FnMut(&'a str, Self)) {
        for (key, value) in self.entries() {
            f(key, value);
        }
    }

    #[inline]
    fn is_null(self) -> bool {
        matches!(self.node(), Some(Node::Static(StaticNode::Null)) | None)
    }

    #[inline]
    fn as_str(self) -> Option<&'a str> {
        match self.node() {
            Some(Node::String(s)) => Some(s),
            _ => None,
        }
    }

    #[inline]
    fn view(self) -> View<'a> {
        match self.node() {
            Some(Node::String(s)) => View::Str(s),
            Some(Node::Static(node)) => scalar_view(node),
            Some(Node::Object { .. } | Node::Array { .. }) => View::Tape(self),
            None => View::Null,
        }
    }

    #[inline]
    fn val(self) -> Val<'a> {
        match self.node() {
            Some(Node::String(s)) => Val::Str(s),
            Some(Node::Static(node)) => match scalar_view(node) {
                View::Null => Val::Null,
                View::Bool(b) => Val::Bool(b),
                View::Num(n) => Val::Num(n),
                // An integer beyond 2^53 stays on the tape, so every digit is kept.
                _ => Val::Tape(self),
            },
            Some(Node::Object { .. } | Node::Array { .. }) => Val::Tape(self),
            None => Val::Null,
        }
    }

    #[inline]
    fn borrowed(self) -> Option<&'a Value> {
        None
    }

    fn to_value(self) -> Value {
        self.build()
    }
}
