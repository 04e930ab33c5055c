//! A record's body on disk: its canonical JSON (RFC 8785, JCS), so that the bytes hashed
//! into the tree can be rebuilt from the record by any JCS implementation; and redaction,
//! which takes fields out of a record (or replaces them by a keyed hash) before it is
//! canonicalized and written.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::AuditError;

/// The canonical JSON (RFC 8785) of `value`: object members sorted by the UTF-16 code
/// units of their names, numbers as ECMAScript prints doubles, no whitespace. Integers
/// beyond ±2^53 lose precision, as RFC 8785 prescribes (I-JSON numbers are doubles): a
/// host that needs them exact records them as strings.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, AuditError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| AuditError::Record {
        message: format!("cannot write canonical JSON: {e}"),
    })
}

/// What [`Redactor`] does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Treatment {
    Remove,
    Hash,
}

/// Fields taken out of records before they are written: removed, or replaced by
/// `hmac-sha256:<hex>`, the HMAC-SHA256 under the redaction key of the field's canonical
/// JSON (the same value always gives the same hash, so records can still be matched on
/// it, and without the key it cannot be guessed from a list of likely values).
///
/// A field is named by a JSON pointer (RFC 6901: `/card/number`, `/items/0/sku`, with
/// `~1` for `/` and `~0` for `~` in a name) or a dotted path (`card.number`,
/// `items.0.sku`). A number names an array element where the value is an array. A field
/// a record does not have is left alone.
#[derive(Clone)]
pub struct Redactor {
    key: Vec<u8>,
    fields: Vec<(Vec<String>, Treatment)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor hashing under `key` (any length; 32 random bytes are right), with no
    /// fields yet.
    pub fn new(key: impl Into<Vec<u8>>) -> Redactor {
        Redactor {
            key: key.into(),
            fields: Vec::new(),
        }
    }

    /// Remove the field at `path` from every record.
    pub fn remove(mut self, path: &str) -> Result<Redactor, AuditError> {
        self.fields.push((parse_path(path)?, Treatment::Remove));
        Ok(self)
    }

    /// Replace the field at `path` by its keyed hash in every record.
    pub fn hash(mut self, path: &str) -> Result<Redactor, AuditError> {
        self.fields.push((parse_path(path)?, Treatment::Hash));
        Ok(self)
    }

    /// Redact `record` in place.
    pub fn apply(&self, record: &mut Value) -> Result<(), AuditError> {
        self.apply_collecting(record).map(drop)
    }

    /// [`Redactor::apply`], returning each value taken out with what stands for it now:
    /// its keyed hash, or `null` for a removed one. A caller scrubs copies of those
    /// values found elsewhere with [`scrub`] (the engine: host-call arguments and
    /// results taken from redacted fields).
    pub fn apply_collecting(&self, record: &mut Value) -> Result<Vec<(Value, Value)>, AuditError> {
        let mut taken = Vec::new();
        for (path, treatment) in &self.fields {
            let Some((last, parents)) = path.split_last() else {
                continue;
            };
            let Some(at) = descend(record, parents) else {
                continue;
            };
            match treatment {
                Treatment::Remove => {
                    if let Some(value) = child(at, last) {
                        taken.push((value.clone(), Value::Null));
                    }
                    remove_child(at, last);
                }
                Treatment::Hash => {
                    if let Some(value) = child(at, last) {
                        let hashed = Value::String(self.keyed_hash(value)?);
                        taken.push((std::mem::replace(value, hashed.clone()), hashed));
                    }
                }
            }
        }
        Ok(taken)
    }

    /// `hmac-sha256:<hex>` of `value`'s canonical JSON.
    pub fn keyed_hash(&self, value: &Value) -> Result<String, AuditError> {
        let canonical = canonical_json(value)?;
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).map_err(|e| AuditError::Record {
                message: format!("unusable redaction key: {e}"),
            })?;
        mac.update(&canonical);
        Ok(format!(
            "hmac-sha256:{}",
            super::hex(&mac.finalize().into_bytes())
        ))
    }
}

/// Replace every part of `value` (itself, or an element or member at any depth) equal
/// to a taken value by what stands for it, as [`Redactor::apply_collecting`] reports.
/// Null, booleans and empty containers are left alone: they give nothing away.
pub fn scrub(value: &mut Value, taken: &[(Value, Value)]) {
    let trivial = |v: &Value| match v {
        Value::Null | Value::Bool(_) => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::String(_) | Value::Number(_) => false,
    };
    if let Some((_, instead)) = taken
        .iter()
        .find(|(clear, _)| !trivial(clear) && clear == value)
    {
        *value = instead.clone();
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| scrub(item, taken)),
        Value::Object(map) => map.values_mut().for_each(|item| scrub(item, taken)),
        _ => {}
    }
}

/// Replace, inside every string of `value` (at any depth), each occurrence of a taken
/// value's text by its stand-in's: for text a template rendered a redacted field into
/// (`"card {{ctx.card}} refused"`), or a message that quotes it. A taken string counts by
/// its characters, a taken number by its JSON text; a removed value's stand-in is
/// `[redacted]`. Every occurrence goes, however short the value (a three-digit card code
/// is a secret): a record may lose some legible text, never keep a redacted value. Run
/// [`scrub`] first, so that whole values keep their type.
pub fn scrub_text(value: &mut Value, taken: &[(Value, Value)]) {
    let texts: Vec<(String, String)> = taken
        .iter()
        .filter_map(|(clear, instead)| {
            let clear = match clear {
                Value::String(text) if !text.is_empty() => text.clone(),
                Value::Number(number) => number.to_string(),
                _ => return None,
            };
            let instead = match instead {
                Value::String(text) => text.clone(),
                _ => "[redacted]".to_owned(),
            };
            Some((clear, instead))
        })
        .collect();
    if !texts.is_empty() {
        replace_texts(value, &texts);
    }
}

fn replace_texts(value: &mut Value, texts: &[(String, String)]) {
    match value {
        Value::String(text) => {
            for (clear, instead) in texts {
                if text.contains(clear.as_str()) {
                    *text = text.replace(clear.as_str(), instead);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| replace_texts(item, texts)),
        Value::Object(map) => map.values_mut().for_each(|item| replace_texts(item, texts)),
        _ => {}
    }
}

fn descend<'a>(mut at: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    for segment in path {
        at = child(at, segment)?;
    }
    Some(at)
}

fn child<'a>(value: &'a mut Value, segment: &str) -> Option<&'a mut Value> {
    match value {
        Value::Object(map) => map.get_mut(segment),
        Value::Array(items) => items.get_mut(segment.parse::<usize>().ok()?),
        _ => None,
    }
}

fn remove_child(value: &mut Value, segment: &str) {
    match value {
        Value::Object(map) => {
            map.remove(segment);
        }
        Value::Array(items) => {
            if let Ok(index) = segment.parse::<usize>() {
                if index < items.len() {
                    items.remove(index);
                }
            }
        }
        _ => {}
    }
}

/// The segments of a JSON pointer or a dotted path.
fn parse_path(path: &str) -> Result<Vec<String>, AuditError> {
    let invalid = |why: &str| AuditError::Record {
        message: format!("redaction path `{path}`: {why}"),
    };
    let segments: Vec<String> = if let Some(pointer) = path.strip_prefix('/') {
        pointer
            .split('/')
            .map(|s| {
                if s.replace("~0", "").replace("~1", "").contains('~') {
                    Err(invalid("`~` is escaped as `~0` (and `/` as `~1`)"))
                } else {
                    Ok(s.replace("~1", "/").replace("~0", "~"))
                }
            })
            .collect::<Result<_, _>>()?
    } else {
        path.split('.').map(str::to_owned).collect()
    };
    if path.is_empty() || (!path.starts_with('/') && segments.iter().any(String::is_empty)) {
        return Err(invalid("names no field (a record itself is not redacted)"));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn canonical(value: &Value) -> String {
        String::from_utf8(canonical_json(value).unwrap()).unwrap()
    }

    #[test]
    fn canonical_json_is_rfc_8785() {
        // RFC 8785 §3.2.2 and §3.2.3's examples.
        let input: Value = serde_json::from_str(
            r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals": [null, true, false]}"#,
        )
        .unwrap();
        assert_eq!(
            canonical(&input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        // Sorting by UTF-16 code units: U+1F600 (a surrogate pair, D83D…) sorts before
        // U+FB33, which UTF-8 or code point order would put after it.
        let sorted: Value = serde_json::from_str(
            r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        assert_eq!(
            canonical(&sorted),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
             \"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        assert_eq!(
            canonical(&json!({"a": 1.0, "b": -0.0, "c": 1e21, "d": 1e-7})),
            r#"{"a":1,"b":0,"c":1e+21,"d":1e-7}"#
        );
    }

    #[test]
    fn redaction_removes_or_hashes_by_pointer_or_path() {
        let redactor = Redactor::new(b"k".to_vec())
            .remove("/card/cvv")
            .unwrap()
            .hash("card.number")
            .unwrap()
            .hash("/a~1b")
            .unwrap()
            .remove("items.1")
            .unwrap()
            .remove("/missing/field")
            .unwrap();
        let mut record = json!({
            "card": {"number": "4111", "cvv": "123"},
            "a/b": {"y": 1, "x": 2},
            "items": [1, 2, 3]
        });
        redactor.apply(&mut record).unwrap();
        let number = record["card"]["number"].as_str().unwrap();
        assert!(number.starts_with("hmac-sha256:") && number.len() == 12 + 64);
        assert_eq!(record["card"].get("cvv"), None);
        assert_eq!(record["items"], json!([1, 3]));
        // The hash is of the canonical value: member order does not change it.
        assert_eq!(
            record["a/b"].as_str().unwrap(),
            redactor.keyed_hash(&json!({"x": 2, "y": 1})).unwrap()
        );
        // Another key, another hash.
        assert_ne!(
            Redactor::new(b"other".to_vec())
                .keyed_hash(&json!("4111"))
                .unwrap(),
            number
        );
        assert!(Redactor::new(Vec::new()).remove("").is_err());
        assert!(Redactor::new(Vec::new()).remove("a..b").is_err());
        assert!(Redactor::new(Vec::new()).remove("/a~2").is_err());
    }
}
