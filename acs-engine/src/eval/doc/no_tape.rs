//! The tape form of the input document when the crate is built without the `simd`
//! feature: a type with no values, so the evaluator's tape cases cannot occur and cost
//! nothing.

use serde_json::Value;

use super::Doc;
use crate::eval::value::{Val, View};

/// No value of this type exists: without `simd`, no input is read from a tape.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TapeRef<'a> {
    #[expect(dead_code, reason = "the variant exists only to be impossible")]
    Never(std::convert::Infallible, std::marker::PhantomData<&'a ()>),
}

impl<'a> TapeRef<'a> {
    pub(in crate::eval) fn is_array(self) -> bool {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    pub(in crate::eval) fn entries(self) -> std::iter::Empty<(&'a str, TapeRef<'a>)> {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    pub(in crate::eval) fn elements(self) -> std::iter::Empty<TapeRef<'a>> {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    pub(in crate::eval) fn build(self) -> Value {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }
}

impl<'a> Doc<'a> for TapeRef<'a> {
    const BORROWS: bool = false;

    fn field(self, _: &str) -> Option<Self> {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    fn each_entry(self, _: impl FnMut(&'a str, Self)) {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    fn is_null(self) -> bool {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    fn as_str(self) -> Option<&'a str> {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    fn view(self) -> View<'a> {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    fn val(self) -> Val<'a> {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    fn borrowed(self) -> Option<&'a Value> {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }

    fn to_value(self) -> Value {
        match self {
            TapeRef::Never(never, _) => match never {},
        }
    }
}
