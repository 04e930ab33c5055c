//! `Engine::evaluate_leaves`: an input given as a host's values at the plan's read paths
//! (as the Python binding reads Arrow struct columns) decides exactly as the whole document, on every shipped example and line of recorded
//! traffic and on generated inputs read by rules that compare, index, render and pass
//! what they read; a layout of a replaced plan is refused, and bad leaves are input
//! errors.

use acs_engine::{Engine, InputError, Leaf};

use crate::leaf_input::leaves_of;
use proptest::prelude::*;
use serde_json::Value;

fn decided_by_leaves(engine: &Engine, input: &Value) -> Value {
    let plan = engine.plan();
    let event_type = input.pointer("/event/type").and_then(Value::as_str);
    let layout = plan.leaf_layout(event_type);
    let mut texts = Vec::new();
    let leaves = leaves_of(input, &layout, &mut texts);
    let decision = engine.evaluate_leaves(&layout, leaves).unwrap().unwrap();
    serde_json::to_value(decision).unwrap()
}

#[test]
fn leaves_decide_as_the_whole_document_on_the_shipped_rules() {
    let (root, stubs, inputs) = crate::support::shipped_rules_and_inputs();
    // One engine per path: velocity counts must see the same sequence.
    let by_document = Engine::builder()
        .functions(stubs.clone())
        .load_path(&root)
        .unwrap();
    let by_leaves = Engine::builder().functions(stubs).load_path(&root).unwrap();
    let mut matched = 0;
    for input in &inputs {
        let whole = serde_json::to_value(by_document.evaluate(input)).unwrap();
        matched += usize::from(whole["matched"].as_array().is_some_and(|m| !m.is_empty()));
        assert_eq!(whole, decided_by_leaves(&by_leaves, input), "{input}");
    }
    assert!(matched > 10, "{matched}");
}

/// Rules that reach into objects (so the layout has objects on the way to its leaves),
/// read a container whole, index it, render and pass what they read.
const NESTED: &str = r#"
- id: DEEP
  priority: 10
  severity: low
  description: reads below objects
  condition: "event.a.b != 'never' || ctx.b.x.y == null"
  action:
    - emitEvent:
        ab: "{{event.a.b}}"
        xy: "{{ctx.b.x.y}}"
        n: "{{event.n}}"
        s: "{{event.s}} and {{system.k}}"
        whole: "{{ctx.a}}"
        index: "{{ctx.a[event.k]}}"
        call: "{{f(event.n, ctx.a, event.a.b)}}"
  audit: false
- id: NUMBERS
  priority: 9
  severity: low
  description: numbers compared
  condition: "event.n > 3 || event.n == 9007199254740993 || event.n == -0"
  action:
    - rejectRequest: { code: NUM, message: "n is {{event.n}}" }
  audit: false
- id: SAME
  priority: 9
  severity: low
  description: two paths compared
  condition: "event.a.b == ctx.b.x.y && event.s != null"
  action: []
  audit: false
- id: MEMBERS
  priority: 8
  severity: low
  description: membership in what is read whole
  condition: "event.k in ctx.a || event.s in ctx.a"
  action: []
  audit: false
"#;

fn engines(rules: &'static str) -> (Engine, Engine) {
    let load = || {
        Engine::builder()
            .functions(crate::tape_eval::functions())
            .load_str("leaves.yaml", rules)
            .unwrap()
    };
    (load(), load())
}

fn agrees(engines: &(Engine, Engine), text: &str) -> Result<(), TestCaseError> {
    let Ok(input) = serde_json::from_str::<Value>(text) else {
        return Ok(());
    };
    if !input.is_object() {
        return Ok(());
    }
    let whole = serde_json::to_value(engines.0.evaluate(&input)).unwrap();
    prop_assert_eq!(whole, decided_by_leaves(&engines.1, &input), "{}", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn leaves_decide_as_the_whole_document(text in crate::tape_eval::input_text()) {
        static NESTED_ENGINES: std::sync::OnceLock<(Engine, Engine)> = std::sync::OnceLock::new();
        static WHOLE_ENGINES: std::sync::OnceLock<(Engine, Engine)> = std::sync::OnceLock::new();
        agrees(NESTED_ENGINES.get_or_init(|| engines(NESTED)), &text)?;
        agrees(WHOLE_ENGINES.get_or_init(|| engines(crate::tape_eval::RULES)), &text)?;
    }
}

/// Every number form at a leaf, below objects and beside containers and strings.
#[test]
fn numbers_strings_and_containers_at_leaves_decide_as_in_the_document() {
    let engines = engines(NESTED);
    let numbers = [
        "3",
        "4",
        "2.5",
        "3.0",
        "-0",
        "-0.0",
        "-1",
        "9007199254740993",
        "18446744073709551615",
        "-9223372036854775808",
        "1e300",
        "0.1",
        "null",
        "true",
        "\"3\"",
    ];
    for n in numbers {
        for a in [
            r#"{"b": 3}"#,
            r#"{"b": "x"}"#,
            r#""not an object""#,
            r#"{"b": {"c": [1]}}"#,
        ] {
            let text = format!(
                r#"{{"event": {{"type": "x", "n": {n}, "a": {a}, "k": "k", "s": "é😀"}},
                    "ctx": {{"a": {{"k": [{n}]}}, "b": {{"x": {{"y": 3}}}}}}, "system": {{"k": {n}}}}}"#
            );
            agrees(&engines, &text).unwrap();
        }
    }
}

#[test]
fn a_layout_of_a_replaced_plan_is_refused_and_bad_leaves_are_input_errors() {
    let engine = Engine::builder()
        .functions(crate::tape_eval::functions())
        .load_str("leaves.yaml", NESTED)
        .unwrap();
    let plan = engine.plan();
    let layout = plan.leaf_layout(Some("x"));
    let paths: Vec<String> = layout.paths().iter().map(|p| p.join(".")).collect();
    assert!(paths.contains(&"event.a.b".to_owned()), "{paths:?}");
    let at = |name: &str| paths.iter().position(|p| p == name).unwrap();
    let mut leaves = vec![Leaf::Absent; paths.len()];
    leaves[at("event.type")] = Leaf::Str("x");

    leaves[at("event.n")] = Leaf::Number(f64::NAN);
    let error = engine.evaluate_leaves(&layout, leaves.clone()).unwrap_err();
    assert_eq!(error.code(), "not_json");
    assert!(error.to_string().contains("`event.n` is NaN"), "{error}");

    leaves[at("event.n")] = Leaf::Number(4.0);
    leaves[at("ctx.a")] = Leaf::Json("{");
    assert!(matches!(
        engine.evaluate_leaves(&layout, leaves.clone()),
        Err(InputError::Json { .. })
    ));
    leaves[at("ctx.a")] = Leaf::Json(r#"{"a":1,"a":2}"#);
    assert!(matches!(
        engine.evaluate_leaves(&layout, leaves.clone()),
        Err(InputError::DuplicateKey { .. })
    ));

    leaves[at("ctx.a")] = Leaf::Json(r#"{"k":[1]}"#);
    let decision = engine
        .evaluate_leaves(&layout, leaves.clone())
        .unwrap()
        .unwrap();
    assert_eq!(decision.rejection().and_then(|r| r.code()), Some("NUM"));

    // Too few leaves: the rest are absent.
    let decision = engine
        .evaluate_leaves(&layout, leaves[..1].to_vec())
        .unwrap()
        .unwrap();
    assert_eq!(decision.generation, plan.generation());

    engine.reload().unwrap();
    assert_eq!(
        engine.evaluate_leaves(&layout, leaves.clone()).unwrap(),
        None
    );
    let fresh = engine.plan().leaf_layout(Some("x"));
    assert!(engine
        .evaluate_leaves(&fresh, leaves.clone())
        .unwrap()
        .is_some());
}

#[test]
fn leaves_are_held_to_the_engines_limits() {
    let engine = Engine::builder()
        .limits(acs_engine::Limits {
            max_input_bytes: 12,
            max_input_depth: 4,
            ..acs_engine::Limits::default()
        })
        .functions(crate::tape_eval::functions())
        .load_str("leaves.yaml", NESTED)
        .unwrap();
    let layout = engine.plan().leaf_layout(Some("x"));
    let paths: Vec<String> = layout.paths().iter().map(|p| p.join(".")).collect();
    let at = |name: &str| paths.iter().position(|p| p == name).unwrap();
    let mut leaves = vec![Leaf::Absent; paths.len()];
    leaves[at("event.type")] = Leaf::Str("x");
    leaves[at("event.s")] = Leaf::Str("123456789012");
    assert!(matches!(
        engine.evaluate_leaves(&layout, leaves.clone()),
        Err(InputError::TooLarge {
            bytes: 13,
            limit: 12
        })
    ));
    leaves[at("event.s")] = Leaf::Absent;
    // The top, `ctx`, `a` and the array inside make 4; one more is too deep.
    leaves[at("ctx.a")] = Leaf::Json("[[]]");
    assert!(engine.evaluate_leaves(&layout, leaves.clone()).is_ok());
    leaves[at("ctx.a")] = Leaf::Json("[[[]]]");
    assert!(matches!(
        engine.evaluate_leaves(&layout, leaves.clone()),
        Err(InputError::TooDeep { limit: 4, .. })
    ));
}
