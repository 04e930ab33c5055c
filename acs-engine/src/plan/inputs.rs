//! Which parts of an input document a plan reads, and a JSON parser that builds only
//! those: everything else is validated and skipped without allocating. Parsing the few
//! dozen fields the rules read costs less than building the whole document, and the
//! evaluation cannot tell the difference (a path the plan never reads is never looked at).
//! The bytes are first scanned with SIMD into a tape (`inputs/tape.rs`), which requests
//! evaluate from directly; the `serde_json` parser here is the reference it must agree
//! with, and the one that decides (and words the error) whenever the tape declines an
//! input.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Root;

pub(crate) mod tape;

/// A trie of the paths a plan reads, from the input's top level down.
#[derive(Debug, Default)]
pub(crate) struct InputPaths {
    /// The value here is read as a whole (compared, passed to a function, rendered, or
    /// navigated by a computed index): keep all of it.
    whole: bool,
    children: Vec<(Box<str>, InputPaths)>,
}

impl InputPaths {
    /// Record that `root.keys...` is read.
    pub(crate) fn insert(&mut self, root: Root, keys: &[Box<str>]) {
        self.insert_path(std::iter::once(root.name()).chain(keys.iter().map(|k| &**k)));
    }

    fn insert_path<'k>(&mut self, mut keys: impl Iterator<Item = &'k str>) {
        let Some(key) = keys.next() else {
            self.whole = true;
            return;
        };
        match self.children.iter_mut().find(|(k, _)| &**k == key) {
            Some((_, child)) => child.insert_path(keys),
            None => {
                let mut child = InputPaths::default();
                child.insert_path(keys);
                self.children.push((key.into(), child));
            }
        }
    }

    fn child(&self, key: &str) -> Option<&InputPaths> {
        self.children
            .iter()
            .find(|(k, _)| k.len() == key.len() && &**k == key)
            .map(|(_, child)| child)
    }

    /// Parse `bytes` as JSON with `serde_json`, keeping only what the plan reads: the path
    /// for what the tape refuses, and the one that words errors. Errors are exactly those
    /// of a full parse: the skipped parts are still validated.
    pub(crate) fn parse(&self, bytes: &[u8]) -> Result<Value, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let value = Pruned(self).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }
}

/// Deserialize a value, keeping only the paths of the trie node.
struct Pruned<'t>(&'t InputPaths);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.0.whole {
            Value::deserialize(deserializer)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

/// An object key, borrowed from the input when it holds no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

// Inside an object the plan only reads some keys of, any value other than an object is
// read as nothing: every read goes through a key of it, and a key of a non-object is null.
impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.0.child(key.as_str()) {
                Some(child) => {
                    let value = map.next_value_seed(Pruned(child))?;
                    kept.insert(key.as_str().to_owned(), value);
                }
                None => map.next_value_seed(Skip)?,
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Validate and drop a value without allocating. Unlike `serde::de::IgnoredAny` (which
/// `serde_json` skips without counting depth), it goes through `deserialize_any`, so the
/// skipped parts meet the same 128-level depth limit as a full parse.
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}
