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
