//! What `Engine::evaluate_json` accepts as an input document: one JSON object (its roots
//! `event`, `ctx`, `system`, `db`), on the tape path and on the `serde_json` path alike.

use acs_engine::{Engine, InputError};
use serde_json::json;

const RULES: &str = r#"
- id: ANY
  priority: 1
  severity: low
  description: matches whatever the input
  condition: "event.type == null"
  action: []
  audit: false
"#;

fn engine() -> Engine {
    Engine::builder().load_str("rules.yaml", RULES).unwrap()
}

/// Inputs that are valid JSON but not an object, and how the error names what they are.
pub const NOT_OBJECTS: [(&str, &str); 10] = [
    ("42", "a number"),
    ("-0", "a number"),
    ("1e400", ""),
    ("123456789012345678901234567890", "a number"),
    ("[1,2]", "an array"),
    (" [ ] ", "an array"),
    (r#""x""#, "a string"),
    ("null", "null"),
    ("true", "a boolean"),
    (r#"[{"event":{"type":"x"}}]"#, "an array"),
];

#[test]
fn an_input_that_is_not_an_object_is_refused_naming_what_it_is() {
    let engine = engine();
    for (text, found) in NOT_OBJECTS {
        let error = engine.evaluate_json(text.as_bytes()).unwrap_err();
        if found.is_empty() {
            // Not JSON at all (out of range): a JSON error, as before.
            assert!(matches!(error, InputError::Json { .. }), "{text}: {error}");
            continue;
        }
        assert_eq!(error, InputError::NotAnObject { found }, "{text}");
        assert_eq!(
            error.to_string(),
            format!(
                "the input must be a JSON object with event, ctx, system and db; found {found}"
            )
        );
    }
    for object in ["{}", r#"{"event":{"type":"x"}}"#, " {\"ctx\": null} "] {
        assert!(engine.evaluate_json(object.as_bytes()).is_ok(), "{object}");
    }
}

/// `Engine::evaluate` cannot fail: a document that is not an object has no fields.
#[test]
fn evaluate_reads_no_field_of_a_non_object() {
    let engine = engine();
    for document in [json!(42), json!([1, 2]), json!("x"), json!(null)] {
        let decision = engine.evaluate(&document);
        assert_eq!(decision.matched_ids(), ["ANY"], "{document}");
    }
}

/// A key given twice in one object, anywhere in the input, and where the error places it
/// (the end of the second one).
const DUPLICATES: [(&str, &str, usize, usize); 8] = [
    (
        r#"{"event":{"type":"x"},"event":{"type":"y"}}"#,
        "event",
        1,
        29,
    ),
    (r#"{"event":{"type":"x","a":1,"a":2}}"#, "a", 1, 30),
    (
        r#"{"event":{"type":"x","a":{"b":{"c":1,"c":1}}}}"#,
        "c",
        1,
        40,
    ),
    (
        r#"{"event":{"type":"x","a":[1,{"k":1,"j":2,"k":3}]}}"#,
        "k",
        1,
        44,
    ),
    (r#"{"ctx":[[{}],[{"b":null,"b":null}]]}"#, "b", 1, 27),
    (r#"{"event":{"a":1,"\u0061":2}}"#, "a", 1, 24),
    (
        "{\n  \"event\": {\"type\": \"x\"},\n  \"db\": {},\n  \"db\": []\n}",
        "db",
        4,
        6,
    ),
    (
        r#"{"system":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k3":0}}"#,
        "k3",
        1,
        103,
    ),
];

#[test]
fn a_key_given_twice_in_one_object_is_refused_wherever_it_is() {
    let engine = engine();
    for (text, key, line, column) in DUPLICATES {
        let expected = InputError::DuplicateKey {
            key: key.to_owned(),
            line,
            column,
        };
        assert_eq!(
            engine.evaluate_json(text.as_bytes()),
            Err(expected.clone()),
            "{text}"
        );
        assert_eq!(
            acs_engine::parse_json(text.as_bytes()),
            Err(expected.clone()),
            "{text}"
        );
        assert_eq!(
            expected.to_string(),
            format!("duplicate key \"{key}\" in one JSON object, at line {line}, column {column}")
        );
    }
    // The same key in different objects, or a key equal to a value, is no duplicate.
    for text in [
        r#"{"event":{"type":"x","a":{"a":1}},"ctx":{"a":[{"a":1},{"a":2}]}}"#,
        r#"{"event":{"type":"type","k":"k"}}"#,
        r#"{"event":{"a":1,"A":2,"a ":3,"\u00e9":4,"e\u0301":5}}"#,
    ] {
        assert!(engine.evaluate_json(text.as_bytes()).is_ok(), "{text}");
        assert!(acs_engine::parse_json(text.as_bytes()).is_ok(), "{text}");
    }
}

/// `parse_json` reads any JSON document as `serde_json` does, except for duplicate keys.
#[test]
fn parse_json_reads_what_serde_json_reads() {
    for text in [
        "42",
        "-0",
        "[1,{\"a\":[]}]",
        "\"x\"",
        "null",
        "1.5e3",
        "{\"a\":{\"b\":null}}",
    ] {
        assert_eq!(
            acs_engine::parse_json(text.as_bytes()),
            Ok(serde_json::from_str::<serde_json::Value>(text).unwrap()),
            "{text}"
        );
    }
    assert!(matches!(
        acs_engine::parse_json(b"{\"a\":1"),
        Err(InputError::Json {
            line: 1,
            column: 6,
            ..
        })
    ));
}
