//! The input document as the evaluator reads it, in two forms: a `serde_json::Value`
//! (inputs handed over parsed) or a position in a simd-json tape (inputs handed over as
//! bytes). The tape is read where it lies: fields are found by walking an object's
//! entries (a nested value is skipped in one step, as every container node knows how
//! many nodes it spans), leaves become evaluator values directly, and a container is
//! built into a `Value` only by an operation that needs it whole. What the tape form
//! reads must be what a full `serde_json` parse of the same bytes would give. Without the
//! `simd` feature the tape form is an empty type, so every tape case in the evaluator
//! compiles to nothing.

mod leaves;
#[cfg(not(feature = "simd"))]
mod no_tape;
#[cfg(feature = "simd")]
mod tape;

use serde_json::Value;

pub(crate) use leaves::LeafDoc;
#[cfg(not(feature = "simd"))]
pub(crate) use no_tape::TapeRef;
#[cfg(feature = "simd")]
pub(crate) use tape::TapeRef;

use super::value::{Val, View};

/// A place in the input document. `Copy` and small: paths are cached per rule as these.
pub(crate) trait Doc<'a>: Copy {
    /// Whether [`Doc::borrowed`] gives every value, so host-function arguments can be
    /// borrowed without evaluating them first.
    const BORROWS: bool;

    /// `self.key` for an object; `None` for a missing key or anything else.
    fn field(self, key: &str) -> Option<Self>;

    /// Every entry of an object, in document order (none for anything else). No key
    /// comes twice: an input that repeats one is refused before evaluation.
    fn each_entry(self, f: impl FnMut(&'a str, Self));

    fn is_null(self) -> bool;

    fn as_str(self) -> Option<&'a str>;

    fn view(self) -> View<'a>;

    fn val(self) -> Val<'a>;

    /// The value itself as a `serde_json::Value`, when it is one already.
    fn borrowed(self) -> Option<&'a Value>;

    /// The value as `serde_json` parses it (for a host-function argument: every digit
    /// and the float-or-integer form of a number kept).
    fn to_value(self) -> Value;
}

impl<'a> Doc<'a> for &'a Value {
    const BORROWS: bool = true;

    #[inline]
    fn field(self, key: &str) -> Option<Self> {
        super::value::field(self, key)
    }

    #[inline]
    fn each_entry(self, mut f: impl FnMut(&'a str, Self)) {
        if let Value::Object(map) = self {
            for (key, value) in map {
                f(key, value);
            }
        }
    }

    #[inline]
    fn is_null(self) -> bool {
        Value::is_null(self)
    }

    #[inline]
    fn as_str(self) -> Option<&'a str> {
        Value::as_str(self)
    }

    #[inline]
    fn view(self) -> View<'a> {
        View::of(self)
    }

    #[inline]
    fn val(self) -> Val<'a> {
        Val::from_ref(self)
    }

    #[inline]
    fn borrowed(self) -> Option<&'a Value> {
        Some(self)
    }

    fn to_value(self) -> Value {
        self.clone()
    }
}
