//! `Engine::evaluate_json` reads the bytes in place from a simd-json tape; it must decide
//! exactly as `Engine::evaluate` does on `serde_json`'s parse of the same bytes, for JSON
//! text in every form (escapes, every number shape, deep nesting) and for
//! every way a rule reads the input (paths, `==` and `in` between containers, indexing,
//! host-function arguments, templates). Bytes serde_json refuses are refused, and so are
//! JSON that is not an object and a key given twice in one object (which serde_json alone
//! would take, keeping the last).

use acs_engine::{Engine, Functions, InputError};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Every rule matches (or fails) on its own, and renders what it reads, so the decision
/// shows every value the evaluator saw.
pub(crate) const RULES: &str = r#"
- id: SEES
  priority: 10
  severity: low
  description: renders what it reads
  condition: "event.type != 'never'"
  action:
    - emitEvent:
        whole: "{{event}}"
        a: "{{event.a}}"
        b: "{{event.b}}"
        n: "{{event.n}}"
        ctx: "{{ctx}}"
        text: "a={{event.a}} n={{event.n}} ctx={{ctx}} deep={{event.a.b.a}}"
        neg: "{{-event.n}}"
        sum: "{{event.n + 1}}"
        eq: "{{event.a == ctx.a}}"
        eq_b: "{{event.b == ctx.b}}"
        into: "{{event.a in ctx.b}}"
        key_in: "{{event.k in ctx}}"
        index: "{{ctx[event.k]}}"
        element: "{{ctx.b[0]}}"
        member: "{{ctx[event.k].a}}"
        echo: "{{f(event.a, ctx.b, event.n)}}"
        echo_mixed: "{{f(event.a, ctx.b + 1)}}"
        size: "{{len(ctx)}}"
  audit: true
- id: EQ
  priority: 9
  severity: low
  description: equality of what may be containers
  condition: "event.a == ctx.a || event.b == ctx.b"
  action: []
  audit: false
- id: IN
  priority: 8
  severity: low
  description: membership
  condition: "event.a in ctx.b || event.k in event.a || 'a' in event.b"
  action: []
  audit: false
- id: NUM
  priority: 7
  severity: low
  description: numbers
  condition: "event.n > 3 || event.n == 9007199254740993 || event.n == -0 || event.n == 18446744073709551615"
  action:
    - rejectRequest: { code: NUM, message: "n is {{event.n}}" }
  audit: false
- id: BIG
  priority: 7
  severity: low
  description: an integer beyond 2^53, compared exactly
  condition: "event.n != null && event.n == ctx.n"
  action: []
  audit: false
- id: NULLS
  priority: 6
  severity: low
  description: missing and null
  condition: "event.missing == null && event.a != null && ctx.b.x.y == null"
  action:
    - emitEvent: { s: "{{event.s}}", missing: "{{event.missing}}" }
  audit: false
- id: MEMO
  priority: 5
  severity: low
  description: a memoised host call with container arguments
  condition: "f(ctx.b) == f(ctx.b) && size(event) >= 0"
  action: []
  audit: false
"#;

pub(crate) fn functions() -> Functions {
    Functions::new()
        .with("f", |args: &[&Value]| {
            Ok(Value::Array(args.iter().map(|v| (*v).clone()).collect()))
        })
        .with("len", |args: &[&Value]| {
            Ok(json!(match args.first() {
                Some(Value::Object(map)) => map.len(),
                Some(Value::Array(items)) => items.len(),
                _ => 0,
            }))
        })
        .with("size", |args: &[&Value]| {
            Ok(json!(args.first().map_or(0, |v| v.to_string().len())))
        })
}

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::builder()
            .functions(functions())
            .load_str("tape.yaml", RULES)
            .unwrap()
    })
}

/// Bytes decide as their full `serde_json` parse does, or both refuse them; a document
/// that is not an object, or that gives a key twice in one object, is refused.
fn agrees(engine: &Engine, bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes);
    match serde_json::from_slice::<Value>(bytes) {
        Ok(document) if keys(&document) != colons(bytes) => prop_assert!(
            matches!(
                engine.evaluate_json(bytes),
                Err(InputError::DuplicateKey { .. })
            ),
            "accepted {:?}",
            text
        ),
        Ok(document) if !document.is_object() => prop_assert!(
            matches!(
                engine.evaluate_json(bytes),
                Err(InputError::NotAnObject { .. })
            ),
            "accepted {:?}",
            text
        ),
        Ok(document) => {
            let from_bytes = engine
                .evaluate_json(bytes)
                .map_err(|e| TestCaseError::fail(format!("refused {text:?}: {e}")))?;
            let parsed = engine.evaluate(&document);
            prop_assert_eq!(
                serde_json::to_value(&from_bytes).unwrap(),
                serde_json::to_value(&parsed).unwrap(),
                "input {:?}",
                text
            );
        }
        Err(_) => prop_assert!(engine.evaluate_json(bytes).is_err(), "accepted {:?}", text),
    }
    Ok(())
}

/// The keys of every object in `value`: as many as the text has colons outside strings
/// unless a key was given twice (the parse kept only one).
fn keys(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.len() + map.values().map(keys).sum::<usize>(),
        Value::Array(items) => items.iter().map(keys).sum(),
        _ => 0,
    }
}

/// The colons of JSON text outside strings: one per key given.
fn colons(bytes: &[u8]) -> usize {
    let (mut count, mut in_string, mut escaped) = (0, false, false);
    for &byte in bytes {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b':' if !in_string => count += 1,
            _ => {}
        }
    }
    count
}

fn check(engine: &Engine, text: &str) {
    agrees(engine, text.as_bytes()).unwrap();
}

#[test]
fn duplicate_keys_are_refused() {
    let engine = engine();
    for text in [
        r#"{"event":{"type":"x","a":1,"a":2},"ctx":{"a":2}}"#,
        r#"{"event":{"type":"x","a":{"b":1},"a":[1]},"ctx":{"a":[1],"b":[[1]]}}"#,
        r#"{"event":{"type":"x"},"event":{"type":"y","a":"z"},"ctx":{"b":"z"}}"#,
        r#"{"event":{"type":"x","n":9},"event":{"type":"y"}}"#,
        r#"{"event":{"type":"x","k":"q"},"ctx":{"q":{"a":1},"q":{"a":2}}}"#,
        r#"{"event":{"type":"x","a":[{"b":1,"\u0062":2}]}}"#,
        r#"{"db":{"x":{"y":{"z":{"": 1, "": 2}}}}}"#,
    ] {
        check(engine, text);
        assert!(
            matches!(
                engine.evaluate_json(text.as_bytes()),
                Err(InputError::DuplicateKey { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn numbers_read_as_serde_json_reads_them() {
    let engine = engine();
    for n in [
        "0",
        "-0",
        "-0.0",
        "0.0",
        "1",
        "4",
        "-1",
        "1.5",
        "1e2",
        "-1e-2",
        "9007199254740992",
        "9007199254740993",
        "-9007199254740993",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "123456789012345678901234567890",
        "0.30000000000000004",
        "1.7976931348623157e308",
        "5e-324",
    ] {
        check(
            engine,
            &format!(
                r#"{{"event":{{"type":"x","n":{n},"a":[{n}]}},"ctx":{{"a":[{n}],"b":[{n},{n}]}}}}"#
            ),
        );
        check(
            engine,
            &format!(r#"{{"event":{{"type":"x","a":{n}}},"ctx":{{"a":{n},"b":{{"a":{n}}}}}}}"#),
        );
    }
    let big = engine
        .evaluate_json(
            br#"{"event":{"type":"x","n":9007199254740993},"ctx":{"n":9007199254740993}}"#,
        )
        .unwrap();
    assert!(big.matched_ids().contains(&"BIG"));
    let near = engine
        .evaluate_json(
            br#"{"event":{"type":"x","n":9007199254740992},"ctx":{"n":9007199254740993}}"#,
        )
        .unwrap();
    assert!(!near.matched_ids().contains(&"BIG"));
}

#[test]
fn escapes_missing_and_null_fields() {
    let engine = engine();
    for text in [
        r#"{"event":{"type":"x","a":"caf\u00e9 \ud83d\ude00 \" \\ \/ \n","s":"\t"},"ctx":{"a":"café 😀 \" \\ / \n"}}"#,
        r#"{"\u0065vent":{"typ\u0065":"x","\u0061":"a"},"ctx":{"a":"a"}}"#,
        r#"{"event":{"type":"x","k":"\u0062"},"ctx":{"b":[1,2]}}"#,
        r#"{"event":{"type":"x","a":null,"missing":null},"ctx":null}"#,
        r#"{"event":{"type":"x"}}"#,
        r#"{"event":{"type":null}}"#,
        r#"{"event":null}"#,
        r#"{"event":[1,2]}"#,
        r#"{}"#,
        r#"[]"#,
        r#"null"#,
        r#""event""#,
        r#"12"#,
    ] {
        check(engine, text);
    }
}

#[test]
fn containers_compared_passed_and_rendered() {
    let engine = engine();
    for text in [
        r#"{"event":{"type":"x","a":{"x":1,"y":[1,2]}},"ctx":{"a":{"y":[1,2.0],"x":1.0}}}"#,
        r#"{"event":{"type":"x","a":{"x":1}},"ctx":{"a":{"x":1,"z":null}}}"#,
        r#"{"event":{"type":"x","a":[1,{"b":2}],"b":[1]},"ctx":{"b":[[1,{"b":2}],3],"a":[1,{"b":2}]}}"#,
        r#"{"event":{"type":"x","a":"y","k":"b"},"ctx":{"b":["x","y"]}}"#,
        r#"{"event":{"type":"x","a":{"y":1},"k":"y","b":{"a":1}},"ctx":{"b":{"y":1}}}"#,
        r#"{"event":{"type":"x","a":[{"b":{"a":7}}],"k":"a"},"ctx":{"a":{"a":{"b":1}},"b":{}}}"#,
        r#"{"event":{"type":"x","a":{"b":{"a":[1,2]}},"b":"abc"},"ctx":{"b":[]}}"#,
    ] {
        check(engine, text);
    }
    let decision = engine
        .evaluate_json(br#"{"event":{"type":"x","a":{"x":2}},"ctx":{"a":{"x":2.0}}}"#)
        .unwrap();
    assert!(decision.matched_ids().contains(&"EQ"));
}

#[test]
fn deep_inputs_and_inputs_the_tape_refuses() {
    let engine = engine();
    for depth in [1, 10, 120, 125, 126, 127, 128, 200] {
        let deep = format!(
            r#"{{"event":{{"type":"x","a":{}1{}}},"ctx":{{"a":{}1{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth),
            "[".repeat(depth),
            "]".repeat(depth)
        );
        check(engine, &deep);
        let objects = format!(
            r#"{{"event":{{"type":"x","a":{}1{}}}}}"#,
            r#"{"b":"#.repeat(depth),
            "}".repeat(depth)
        );
        check(engine, &objects);
    }
    for text in [
        r#"{"event":{"type":"x","n":1e400}}"#,
        r#"{"event":{"type":"x","n":-1e400}}"#,
        r#"{"event":{"type":"x","a":"\ud800"}}"#,
        r#"{"event":{"type":"x",}}"#,
        r#"{"event":{"type":"x"}} x"#,
        r#"{"event":{"type":"x","n":01}}"#,
        "",
    ] {
        check(engine, text);
    }
    // The fallback words the error as serde_json does.
    let error = engine.evaluate_json(br#"{"event": 1e400}"#).unwrap_err();
    assert!(error.to_string().contains("number out of range"), "{error}");
}

/// JSON text in the forms both parsers must agree on, with the keys the rules read.
pub(crate) fn json_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        "-?(0|[1-9][0-9]{0,22})(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?",
        any::<f64>().prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        prop::sample::select(&["-0", "-0.0", "9007199254740993", "3", "4"][..])
            .prop_map(str::to_owned),
    ];
    let key = prop_oneof![
        4 => prop::sample::select(&["a", "b", "k", "n", "s", "x", "type", "\\u0061"][..]),
        1 => prop::sample::select(&["", "y", "missing", "\\n"][..]),
    ]
    .prop_map(|k| format!("\"{k}\""));
    let string = prop_oneof![
        prop::sample::select(&["a", "b", "k", "x", "y", "n", ""][..]).prop_map(str::to_owned),
        r#"([a-zé😀 ]|\\[nt\\"/]|\\u00[6-7][0-9a-f]|\\ud83d\\ude00)*"#,
    ]
    .prop_map(|s| format!("\"{s}\""));
    let leaf = prop_oneof![
        number,
        string,
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
    ];
    leaf.prop_recursive(4, 40, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            (
                prop::collection::vec((key.clone(), inner), 0..5),
                prop::bool::weighted(0.2)
            )
                .prop_map(|(entries, keep_duplicates)| {
                    let mut seen = std::collections::HashSet::new();
                    let entries: Vec<String> = entries
                        .into_iter()
                        .filter(|(k, _)| keep_duplicates || seen.insert(k.clone()))
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect();
                    format!("{{{}}}", entries.join(", "))
                }),
        ]
    })
}

/// A whole input: the roots, sometimes given twice, around generated values.
pub(crate) fn input_text() -> impl Strategy<Value = String> {
    (
        json_text(),
        json_text(),
        json_text(),
        prop::option::weighted(0.1, json_text()),
    )
        .prop_map(|(event, ctx, system, again)| {
            let event = match event.strip_prefix('{') {
                Some(rest) if rest.trim_start().starts_with('}') => r#"{"type":"x"}"#.to_owned(),
                Some(rest) => format!(r#"{{"type":"x",{rest}"#),
                None => event,
            };
            let mut text = format!(r#"{{"event":{event},"ctx":{ctx},"system":{system}"#);
            if let Some(again) = again {
                text.push_str(&format!(r#","ctx":{again}"#));
            }
            text.push('}');
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bytes_decide_as_their_parse_does(text in input_text()) {
        agrees(engine(), text.as_bytes())?;
    }

    #[test]
    fn damaged_bytes_are_refused_or_decide_as_their_parse_does(
        text in input_text(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b'"'), Just(b','), Just(b'}'), Just(b']'), Just(b'\\'), any::<u8>()],
    ) {
        let mut bytes = text.into_bytes();
        let at = at.index(bytes.len());
        bytes.insert(at, byte);
        agrees(engine(), &bytes)?;
    }
}
