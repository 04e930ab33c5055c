//! `[events."TYPE"] schema`: an event type's fields read from a JSON Schema of its
//! `event` object, as the dotted paths `[events."TYPE"] fields` lists (`booking.origin.lat`),
//! so that ACS416 matches them the one way it matches declared fields.
//!
//! What is read: `properties`, local `$ref`s (`#`, `#/$defs/X`, `#/definitions/X`, any JSON
//! pointer into the same file), `allOf`, `anyOf`, `oneOf` and `if`/`then`/`else`, whose
//! properties are united. Other keywords are ignored, and arrays are not looked into.
//!
//! Open and closed. An object is *closed* when its schema allows no property beyond the
//! ones it names: `"additionalProperties": false` or `"unevaluatedProperties": false` on
//! it, on its `$ref` or on one of its `allOf` branches, or on every branch of its `anyOf`,
//! of its `oneOf`, or of its `then` and `else`. A property is declared as a field, whose
//! inside is not checked, unless its schema is a closed object that names properties and
//! has no `patternProperties` (nor a `$ref` back into itself): then its own properties are
//! declared instead, one level down. An event object that is not closed may carry any
//! field, so its type's fields are not checked at all ([`EventFields::open`]).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::source::{SourceFile, SourceMap, Span};

/// The largest event schema read, in bytes: an event's schema is a few kilobytes.
pub const MAX_SCHEMA_BYTES: u64 = 4 * 1024 * 1024;

/// How deep the walk goes (properties, branches and references each count a level).
/// Parsing stops at 128 levels of JSON already; references can go on for ever.
const MAX_DEPTH: usize = 64;

/// How many subschemas one schema may take to walk. References used in several places are
/// walked in each, so a few kilobytes of `$defs` that refer to each other twice per level
/// could otherwise take years.
const MAX_STEPS: usize = 100_000;

/// Why a parsed schema cannot be read as fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SchemaError {
    /// A remote or relative `$ref`, or a plain-name fragment (`#foo`).
    #[error("`$ref` `{reference}` at `{at}` is not followed: only JSON pointers into the same file are (`#/$defs/X`)")]
    Unsupported { reference: String, at: String },
    /// A local `$ref` whose pointer names nothing.
    #[error("`$ref` `{reference}` at `{at}` does not resolve")]
    Unresolved { reference: String, at: String },
    /// A keyword of the wrong JSON type.
    #[error("`{at}` is not {expected}")]
    Malformed { at: String, expected: &'static str },
    #[error("nested more than {MAX_DEPTH} levels deep at `{at}`")]
    TooDeep { at: String },
    #[error("more than {MAX_STEPS} subschemas to walk (references that multiply?)")]
    TooLarge,
}

/// What an event schema declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventFields {
    /// The declared fields, in name order.
    pub(crate) fields: Vec<String>,
    /// The event object is not closed: it may carry fields the schema does not name.
    pub(crate) open: bool,
}

/// Read the JSON Schema file at `path` (at most [`MAX_SCHEMA_BYTES`], a regular file) and
/// the fields it declares. Errors are ACS601 diagnostics naming the file, with line and
/// column for invalid JSON.
pub(crate) fn read(path: &Path) -> Result<EventFields, Box<Diagnostic>> {
    let name = path.display().to_string();
    let unreadable = |why: String| {
        Box::new(Diagnostic::error("ACS601", format!("cannot read `{name}`: {why}")).in_file(&name))
    };
    let bytes =
        crate::limits::read_file(path, MAX_SCHEMA_BYTES).map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| unreadable(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))?;
    let schema: Value = serde_json::from_str(&text).map_err(|e| invalid_json(&name, &text, &e))?;
    event_fields(&schema).map_err(|e| {
        Box::new(Diagnostic::error("ACS601", format!("invalid schema: {e}")).in_file(&name))
    })
}

fn invalid_json(name: &str, text: &str, error: &serde_json::Error) -> Box<Diagnostic> {
    let (line, column) = (error.line(), error.column());
    let whole = error.to_string();
    let message = whole
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&whole);
    let diagnostic = Diagnostic::error("ACS601", format!("invalid schema: {message}"));
    let mut sources = SourceMap::default();
    let file = sources.add(SourceFile::new(name, text));
    let Some(line_start) = sources.file(file).map(|f| f.offset_of(line, 0)) else {
        return Box::new(diagnostic.in_file(name));
    };
    if line == 0 {
        return Box::new(diagnostic.in_file(name));
    }
    // serde_json counts columns in bytes from 1, at the last byte it read.
    let start = line_start.saturating_add(column.saturating_sub(1));
    Box::new(diagnostic.at(&sources, Span::new(file, start, start.saturating_add(1))))
}

/// The fields `schema` (the `event` object's) declares.
pub(crate) fn event_fields(schema: &Value) -> Result<EventFields, SchemaError> {
    let mut walk = Walk {
        root: schema,
        expanding: vec![""],
        steps: 0,
    };
    let shape = walk.shape(schema, "#", 0)?;
    if shape.is_leaf() {
        return Ok(EventFields {
            fields: Vec::new(),
            open: true,
        });
    }
    let mut fields = Vec::new();
    shape.leaves("", &mut fields);
    Ok(EventFields {
        fields,
        open: false,
    })
}

/// What a schema says of an object's properties.
#[derive(Debug, Default)]
struct Shape {
    /// No property beyond `props` is allowed.
    closed: bool,
    /// Properties no name lists are allowed all the same (`patternProperties`), or the
    /// schema refers back into itself: the inside is not checked, closed or not.
    opaque: bool,
    /// The named properties and what is known of each.
    props: BTreeMap<String, Shape>,
}

impl Shape {
    /// Whether a property of this shape is declared whole, its inside unchecked.
    fn is_leaf(&self) -> bool {
        !self.closed || self.opaque || self.props.is_empty()
    }

    /// The shape of a value that must satisfy both (`all`) or at least one of the two.
    fn join(mut self, other: Shape, all: bool) -> Shape {
        self.closed = if all {
            self.closed || other.closed
        } else {
            self.closed && other.closed
        };
        self.opaque |= other.opaque;
        for (name, theirs) in other.props {
            match self.props.entry(name) {
                Entry::Vacant(entry) => {
                    entry.insert(theirs);
                }
                Entry::Occupied(mut entry) => {
                    let ours = std::mem::take(entry.get_mut());
                    *entry.get_mut() = ours.join(theirs, all);
                }
            }
        }
        self
    }

    fn leaves(&self, prefix: &str, out: &mut Vec<String>) {
        for (name, shape) in &self.props {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if shape.is_leaf() {
                out.push(path);
            } else {
                shape.leaves(&path, out);
            }
        }
    }
}

struct Walk<'a> {
    root: &'a Value,
    /// The JSON pointers of the references being walked, outermost first (`""`, the root,
    /// is always there): meeting one again is a cycle.
    expanding: Vec<&'a str>,
    steps: usize,
}

impl<'a> Walk<'a> {
    /// The shape of `schema`, found at pointer `at` (`#/properties/bid`), `depth` levels down.
    fn shape(&mut self, schema: &'a Value, at: &str, depth: usize) -> Result<Shape, SchemaError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(SchemaError::TooLarge);
        }
        if depth >= MAX_DEPTH {
            return Err(SchemaError::TooDeep { at: at.to_owned() });
        }
        let depth = depth + 1;
        let object = match schema {
            Value::Bool(true) => return Ok(Shape::default()),
            // Nothing is valid; as a property's schema the property is left out.
            Value::Bool(false) => {
                return Ok(Shape {
                    closed: true,
                    ..Shape::default()
                })
            }
            Value::Object(object) => object,
            _ => return Err(malformed(at, "a schema (an object or a boolean)")),
        };
        let is_false = |key: &str| object.get(key) == Some(&Value::Bool(false));
        let mut shape = Shape {
            closed: is_false("additionalProperties") || is_false("unevaluatedProperties"),
            opaque: object
                .get("patternProperties")
                .is_some_and(|p| p.as_object().is_none_or(|p| !p.is_empty())),
            props: BTreeMap::new(),
        };
        if let Some(properties) = object.get("properties") {
            let at = format!("{at}/properties");
            let properties = properties
                .as_object()
                .ok_or_else(|| malformed(&at, "an object of schemas"))?;
            for (name, property) in properties {
                if *property == Value::Bool(false) {
                    continue;
                }
                let property = self.shape(property, &format!("{at}/{}", escape(name)), depth)?;
                shape.props.insert(name.clone(), property);
            }
        }
        if let Some(reference) = object.get("$ref") {
            shape = shape.join(self.reference(reference, at, depth)?, true);
        }
        for branch in self.branches(object, "allOf", at, depth)? {
            shape = shape.join(branch, true);
        }
        for keyword in ["anyOf", "oneOf"] {
            let either = self.branches(object, keyword, at, depth)?;
            if let Some(either) = either.into_iter().reduce(|a, b| a.join(b, false)) {
                shape = shape.join(either, true);
            }
        }
        if let Some(condition) = object.get("if") {
            // The condition's properties are the object's, but it allows or forbids nothing.
            let mut tested = self.shape(condition, &format!("{at}/if"), depth)?;
            tested.closed = false;
            tested.opaque = false;
            let mut outcome = |key: &str| match object.get(key) {
                Some(schema) => self.shape(schema, &format!("{at}/{key}"), depth),
                None => Ok(Shape::default()),
            };
            let then = outcome("then")?;
            let otherwise = outcome("else")?;
            shape = shape
                .join(tested, true)
                .join(then.join(otherwise, false), true);
        }
        Ok(shape)
    }

    /// The shapes of the schemas listed under `keyword`.
    fn branches(
        &mut self,
        object: &'a Map<String, Value>,
        keyword: &str,
        at: &str,
        depth: usize,
    ) -> Result<Vec<Shape>, SchemaError> {
        let Some(branches) = object.get(keyword) else {
            return Ok(Vec::new());
        };
        let at = format!("{at}/{keyword}");
        let branches = branches
            .as_array()
            .ok_or_else(|| malformed(&at, "an array of schemas"))?;
        branches
            .iter()
            .enumerate()
            .map(|(i, branch)| self.shape(branch, &format!("{at}/{i}"), depth))
            .collect()
    }

    /// The shape `$ref` (found in the schema at `at`) refers to.
    fn reference(
        &mut self,
        reference: &'a Value,
        at: &str,
        depth: usize,
    ) -> Result<Shape, SchemaError> {
        let Some(text) = reference.as_str() else {
            return Err(malformed(&format!("{at}/$ref"), "a string"));
        };
        let Some(pointer) = text
            .strip_prefix('#')
            .filter(|p| p.is_empty() || p.starts_with('/'))
        else {
            return Err(SchemaError::Unsupported {
                reference: text.to_owned(),
                at: at.to_owned(),
            });
        };
        if self.expanding.contains(&pointer) {
            // Recursive (a tree of nodes): its inside is not checked.
            return Ok(Shape {
                opaque: true,
                ..Shape::default()
            });
        }
        let Some(target) = self.root.pointer(pointer) else {
            return Err(SchemaError::Unresolved {
                reference: text.to_owned(),
                at: at.to_owned(),
            });
        };
        self.expanding.push(pointer);
        let shape = self.shape(target, text, depth);
        self.expanding.pop();
        shape
    }
}

fn malformed(at: &str, expected: &'static str) -> SchemaError {
    SchemaError::Malformed {
        at: at.to_owned(),
        expected,
    }
}

/// A property name as a JSON pointer segment.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(schema: Value) -> Vec<String> {
        let declared = event_fields(&schema).unwrap();
        assert!(!declared.open, "{schema}");
        declared.fields
    }

    fn closed(properties: Value) -> Value {
        json!({"type": "object", "properties": properties, "additionalProperties": false})
    }

    #[test]
    fn nested_closed_objects_give_dotted_paths() {
        let schema = closed(json!({
            "bid": closed(json!({"amount": {"type": "number"}, "id": {"type": "string"}})),
            "booking": closed(json!({
                "origin": closed(json!({"lat": {}, "lng": {}})),
                "id": {"type": "string"},
            })),
        }));
        assert_eq!(
            fields(schema),
            [
                "bid.amount",
                "bid.id",
                "booking.id",
                "booking.origin.lat",
                "booking.origin.lng"
            ]
        );
    }

    #[test]
    fn an_open_object_is_declared_whole() {
        let schema = closed(json!({
            "loose": {"type": "object", "properties": {"a": {}}},
            "mapped": {"type": "object", "additionalProperties": {"type": "string"}},
            "patterned": {
                "properties": {"a": {}},
                "patternProperties": {"^x-": {}},
                "additionalProperties": false,
            },
            "empty": {"type": "object"},
            "list": {"type": "array", "items": closed(json!({"a": {}}))},
            "gone": false,
        }));
        assert_eq!(
            fields(schema),
            ["empty", "list", "loose", "mapped", "patterned"]
        );
    }

    #[test]
    fn an_open_event_object_leaves_its_fields_unchecked() {
        for schema in [
            json!({"properties": {"bid": closed(json!({"amount": {}}))}}),
            json!({"type": "object"}),
            json!(true),
        ] {
            let declared = event_fields(&schema).unwrap();
            assert!(declared.open, "{schema}");
        }
    }

    #[test]
    fn local_references_are_followed() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "origin": {"$ref": "#/$defs/Point"},
                "dest": {"$ref": "#/definitions/a~1b~0c"},
            },
            "$defs": {"Point": closed(json!({"lat": {}, "lng": {}}))},
            "definitions": {"a/b~c": closed(json!({"city": {}}))},
        });
        assert_eq!(fields(schema), ["dest.city", "origin.lat", "origin.lng"]);
    }

    #[test]
    fn all_of_unites_and_closes_when_one_branch_closes() {
        let schema = json!({
            "allOf": [
                {"$ref": "#/$defs/Base"},
                {"properties": {"extra": {}}},
                {"required": ["id"]},
            ],
            "$defs": {"Base": closed(json!({"id": {}}))},
        });
        assert_eq!(fields(schema), ["extra", "id"]);
    }

    #[test]
    fn one_of_closes_only_when_every_branch_does() {
        let branches = |second: Value| json!({"oneOf": [closed(json!({"card": closed(json!({"last4": {}}))})), second]});
        assert_eq!(
            fields(branches(closed(
                json!({"upi": {}, "card": closed(json!({"bin": {}}))})
            ))),
            ["card.bin", "card.last4", "upi"]
        );
        assert!(
            event_fields(&branches(json!({"properties": {"upi": {}}})))
                .unwrap()
                .open
        );
        // A property open in one branch is open.
        assert_eq!(
            fields(branches(closed(json!({"card": {"type": "object"}})))),
            ["card"]
        );
    }

    #[test]
    fn if_then_else_unite_their_properties() {
        let schema = json!({
            "type": "object",
            "properties": {"kind": {}},
            "unevaluatedProperties": false,
            "if": {"properties": {"kind": {"const": "card"}}},
            "then": {"properties": {"card": closed(json!({"last4": {}}))}},
            "else": {"properties": {"upi": {}}},
        });
        assert_eq!(fields(schema), ["card.last4", "kind", "upi"]);
    }

    #[test]
    fn a_reference_cycle_is_declared_whole() {
        let schema = json!({
            "$ref": "#/$defs/Node",
            "$defs": {
                "Node": closed(json!({"value": {}, "next": {"$ref": "#/$defs/Node"}})),
                "Loop": {"$ref": "#/$defs/Loop"},
            },
        });
        assert_eq!(fields(schema.clone()), ["next", "value"]);
        let mut looped = schema;
        looped["$ref"] = json!("#/$defs/Loop");
        assert!(event_fields(&looped).unwrap().open);
        let parent = closed(json!({"id": {}, "parent": {"$ref": "#"}}));
        assert_eq!(fields(parent), ["id", "parent"]);
    }

    #[test]
    fn the_walk_is_bounded() {
        let nest =
            |levels: usize| (0..levels).fold(json!({}), |inner, _| json!({"allOf": [inner]}));
        assert!(event_fields(&nest(MAX_DEPTH - 1)).is_ok());
        assert_eq!(
            event_fields(&nest(MAX_DEPTH)),
            Err(SchemaError::TooDeep {
                at: format!("#{}", "/allOf/0".repeat(MAX_DEPTH))
            })
        );
        // Shallow JSON, deep through references.
        let mut defs = serde_json::Map::new();
        for i in 0..=MAX_DEPTH {
            defs.insert(
                format!("D{i}"),
                json!({"$ref": format!("#/$defs/D{}", i + 1)}),
            );
        }
        let chain = json!({"$ref": "#/$defs/D0", "$defs": defs});
        assert!(matches!(
            event_fields(&chain),
            Err(SchemaError::TooDeep { .. })
        ));
        // Each level refers to the next twice: 2^30 paths.
        let mut defs = serde_json::Map::new();
        for i in 0..30 {
            let next = json!({"$ref": format!("#/$defs/L{}", i + 1)});
            defs.insert(
                format!("L{i}"),
                closed(json!({"a": next.clone(), "b": next})),
            );
        }
        defs.insert("L30".to_owned(), json!({}));
        let wide = json!({"$ref": "#/$defs/L0", "$defs": defs});
        assert_eq!(event_fields(&wide), Err(SchemaError::TooLarge));
    }

    #[test]
    fn bad_references_and_keywords_are_errors() {
        let with_ref = |reference: &str| json!({"properties": {"a": {"$ref": reference}}});
        for reference in ["http://example.com/s.json", "other.json#/a", "#anchor"] {
            assert_eq!(
                event_fields(&with_ref(reference)),
                Err(SchemaError::Unsupported {
                    reference: reference.to_owned(),
                    at: "#/properties/a".to_owned(),
                })
            );
        }
        let error = event_fields(&with_ref("#/$defs/Missing")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`$ref` `#/$defs/Missing` at `#/properties/a` does not resolve"
        );
        let error = event_fields(&json!({"properties": {"a/b": {"allOf": {}}}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`#/properties/a~1b/allOf` is not an array of schemas"
        );
        assert!(event_fields(&json!({"properties": []})).is_err());
        assert!(event_fields(&json!({"properties": {"a": 5}})).is_err());
        assert!(event_fields(&json!({"$ref": 5})).is_err());
        assert!(event_fields(&json!("object")).is_err());
    }

    #[test]
    fn reading_reports_the_file_and_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bid.schema.json");
        std::fs::write(
            &path,
            "{\n  \"properties\": {\n    \"a\": {}\n    \"b\": {}\n  }\n}\n",
        )
        .unwrap();
        let error = read(&path).unwrap_err();
        assert_eq!(error.code, "ACS601");
        assert!(
            error.message.starts_with("invalid schema: expected"),
            "{}",
            error.message
        );
        let location = error.location.unwrap();
        assert_eq!(location.file, path.display().to_string());
        assert_eq!((location.line, location.column), (4, 5));

        let missing = read(&dir.path().join("missing.json")).unwrap_err();
        assert!(
            missing.message.starts_with("cannot read `"),
            "{}",
            missing.message
        );

        std::fs::write(&path, "{\"$ref\": \"#/nowhere\"}").unwrap();
        let error = read(&path).unwrap_err();
        assert_eq!(
            error.message,
            "invalid schema: `$ref` `#/nowhere` at `#` does not resolve"
        );

        let nested = "[".repeat(200) + &"]".repeat(200);
        std::fs::write(&path, nested).unwrap();
        let error = read(&path).unwrap_err();
        assert!(
            error.message.contains("recursion limit"),
            "{}",
            error.message
        );
    }
}
