//! Values during evaluation: borrowed from the input or the plan where possible, so a
//! condition over input fields allocates nothing.

use std::rc::Rc;

use serde_json::{Map, Number, Value};

use super::doc::{Doc, TapeRef};
use super::number::{to_f64, to_index, to_json};

/// A value produced while evaluating.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(&'a str),
    /// A borrowed array or object.
    Ref(&'a Value),
    /// A computed string, array or object (function results, concatenations).
    Owned(Rc<Value>),
    /// An array, object or integer beyond 2^53 on the input's tape, read in place.
    #[cfg_attr(
        not(feature = "simd"),
        expect(dead_code, reason = "without `simd` no input is read from a tape")
    )]
    Tape(TapeRef<'a>),
}

/// A borrowed view of any [`Val`], for operators that do not care who owns it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum View<'v> {
    Null,
    Bool(bool),
    Num(f64),
    /// An integer that an `f64` cannot hold exactly (beyond 2^53): ids, not quantities.
    /// Compared and ordered exactly; arithmetic uses its nearest `f64`.
    BigInt(i128),
    Str(&'v str),
    Array(&'v [Value]),
    Object(&'v Map<String, Value>),
    /// An array or object on the input's tape.
    #[cfg_attr(
        not(feature = "simd"),
        expect(dead_code, reason = "without `simd` no input is read from a tape")
    )]
    Tape(TapeRef<'v>),
}

impl<'v> View<'v> {
    #[inline]
    pub fn of(value: &'v Value) -> View<'v> {
        match value {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(n) => number_view(n),
            Value::String(s) => View::Str(s),
            Value::Array(a) => View::Array(a),
            Value::Object(o) => View::Object(o),
        }
    }

    pub fn type_name(self) -> &'static str {
        match self {
            View::Null => "null",
            View::Bool(_) => "boolean",
            View::Num(_) | View::BigInt(_) => "number",
            View::Str(_) => "string",
            View::Array(_) => "array",
            View::Object(_) => "object",
            View::Tape(t) if t.is_array() => "array",
            View::Tape(_) => "object",
        }
    }
}

impl<'a> Val<'a> {
    #[inline]
    pub fn from_ref(value: &'a Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match number_view(n) {
                View::Num(f) => Val::Num(f),
                // Kept borrowed so templates, host calls and equality see every digit.
                _ => Val::Ref(value),
            },
            Value::String(s) => Val::Str(s),
            Value::Array(_) | Value::Object(_) => Val::Ref(value),
        }
    }

    pub fn from_owned(value: Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(b),
            Value::Number(ref n) if matches!(number_view(n), View::Num(_)) => Val::Num(to_f64(n)),
            other => Val::Owned(Rc::new(other)),
        }
    }

    /// A shared computed value (a memoised function result) without copying it.
    pub fn from_rc(value: Rc<Value>) -> Val<'a> {
        match &*value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) if matches!(number_view(n), View::Num(_)) => Val::Num(to_f64(n)),
            _ => Val::Owned(value),
        }
    }

    #[inline]
    pub fn view(&self) -> View<'_> {
        match self {
            Val::Null => View::Null,
            Val::Bool(b) => View::Bool(*b),
            Val::Num(n) => View::Num(*n),
            Val::Str(s) => View::Str(s),
            Val::Ref(v) => View::of(v),
            Val::Owned(v) => View::of(v),
            Val::Tape(t) => t.view(),
        }
    }

    pub fn truthy(&self) -> bool {
        match self.view() {
            View::Null => false,
            View::Bool(b) => b,
            View::Num(n) => n != 0.0 && !n.is_nan(),
            View::BigInt(_) => true,
            View::Str(s) => !s.is_empty(),
            View::Array(_) | View::Object(_) | View::Tape(_) => true,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => to_json(*n),
            Val::Str(s) => Value::String((*s).to_owned()),
            Val::Ref(v) => (*v).clone(),
            Val::Owned(v) => (**v).clone(),
            Val::Tape(t) => t.build(),
        }
    }

    /// `self.key`: a field of an object, null for anything else.
    pub fn member(&self, key: &str) -> Val<'a> {
        match self {
            Val::Ref(v) => field(v, key).map_or(Val::Null, Val::from_ref),
            Val::Owned(v) => v.get(key).cloned().map_or(Val::Null, Val::from_owned),
            Val::Tape(t) => t.field(key).map_or(Val::Null, Doc::val),
            _ => Val::Null,
        }
    }

    /// `self[index]`: an array element by integer index or an object field by string key.
    pub fn index(&self, index: &Val<'_>) -> Val<'a> {
        let element = |value: &Value| -> Option<Value> {
            match (value, index.view()) {
                (Value::Array(items), View::Num(n)) => {
                    to_index(n).and_then(|i| items.get(i)).cloned()
                }
                (Value::Object(map), View::Str(key)) => map.get(key).cloned(),
                _ => None,
            }
        };
        match self {
            Val::Ref(v) => match (v, index.view()) {
                (Value::Array(items), View::Num(n)) => to_index(n)
                    .and_then(|i| items.get(i))
                    .map_or(Val::Null, Val::from_ref),
                (Value::Object(map), View::Str(key)) => {
                    map.get(key).map_or(Val::Null, Val::from_ref)
                }
                _ => Val::Null,
            },
            Val::Owned(v) => element(v).map_or(Val::Null, Val::from_owned),
            Val::Tape(t) => match index.view() {
                View::Num(n) if t.is_array() => to_index(n)
                    .and_then(|i| t.elements().nth(i))
                    .map_or(Val::Null, Doc::val),
                View::Str(key) => t.field(key).map_or(Val::Null, Doc::val),
                _ => Val::Null,
            },
            _ => Val::Null,
        }
    }
}

/// `value.key` for an object, `None` otherwise.
///
/// Input objects are small: scanning them comparing lengths first skips almost every
/// string comparison the map's ordered search would make.
#[inline]
pub(crate) fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) if map.len() <= 12 => {
            map.iter().find(|(k, _)| same_key(k, key)).map(|(_, v)| v)
        }
        Value::Object(map) => map.get(key),
        _ => None,
    }
}

/// `a == b` for object keys. Keys are short and most differ in length; two overlapping
/// word loads compare equal-length keys of up to 16 bytes without a call to `memcmp`,
/// which costs more than the comparison itself at these sizes.
#[inline(always)]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        8..=16 => same_words::<8>(a, b),
        4..=7 => same_words::<4>(a, b),
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

/// The first and the last `N` bytes of two slices of one length from `N` to `2N` are
/// equal: together they cover every byte.
#[inline(always)]
fn same_words<const N: usize>(a: &[u8], b: &[u8]) -> bool {
    a.first_chunk::<N>() == b.first_chunk::<N>() && a.last_chunk::<N>() == b.last_chunk::<N>()
}

/// A JSON number as a view: exact integers beyond 2^53 stay integers.
#[inline]
pub(super) fn number_view(n: &Number) -> View<'static> {
    if n.is_f64() {
        return View::Num(to_f64(n));
    }
    // Every integer up to 2^53 in magnitude is an exact f64: the common, cheap case.
    const EXACT: u64 = 1 << 53;
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= EXACT {
            return View::Num(i as f64);
        }
    } else if let Some(u) = n.as_u64() {
        if u <= EXACT {
            return View::Num(u as f64);
        }
    }
    let exact = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    match exact {
        Some(i) if (i as f64) as i128 == i => View::Num(i as f64),
        Some(i) => View::BigInt(i),
        None => View::Num(to_f64(n)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::same_key;

    #[test]
    fn same_key_tells_apart_keys_differing_in_any_one_byte_at_every_length() {
        for len in 0..40 {
            let key = "k".repeat(len);
            assert!(same_key(&key, &key.clone()));
            assert!(!same_key(&key, &format!("{key}k")));
            for at in 0..len {
                let mut other = key.clone().into_bytes();
                if let Some(byte) = other.get_mut(at) {
                    *byte = b'j';
                }
                let other = String::from_utf8(other).unwrap_or_default();
                assert!(!same_key(&key, &other), "length {len}, byte {at}");
            }
        }
    }

    proptest! {
        #[test]
        fn same_key_is_string_equality(a in "[ab]{0,20}", b in "[ab]{0,20}") {
            prop_assert_eq!(same_key(&a, &b), a == b);
        }
    }
}
