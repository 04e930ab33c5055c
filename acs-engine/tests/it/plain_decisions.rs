//! A decision is plain data: kept after a reload, or after the engine is gone, it holds
//! nothing of the plan that made it, and in particular none of the host's functions
//! (which, in the bindings, hold Python callables and JS functions).

use std::sync::{Arc, Weak};

use acs_engine::{Engine, FunctionError, RuleMatch};
use serde_json::{json, Value};

const RULES: &str = r#"
- id: MANY_TRUCKS
  priority: 10
  severity: high
  description: "More trucks than allowed, with templated parameters."
  condition: "event.type == 'truck.create' && db.count.trucksByOperator(ctx.operatorId) > 3"
  action:
    - rejectRequest: { code: "TOO_MANY", message: "{{ctx.operatorId}} has {{db.count.trucksByOperator(ctx.operatorId)}} trucks" }
    - emitEvent: { name: "fleet.limit", payload: { operator: "{{ctx.operatorId}}" } }
  audit: true
"#;

/// An engine whose one host function holds `token`; returns the engine and a weak
/// reference that dies with the last holder of the function.
fn engine_holding_a_token() -> (Engine, Weak<String>) {
    let token = Arc::new(String::from("host state"));
    let weak = Arc::downgrade(&token);
    let engine = Engine::builder()
        .function(
            "db.count.trucksByOperator",
            move |_: &[&Value]| -> Result<Value, FunctionError> { Ok(json!(token.len())) },
        )
        .load_str("rules.yaml", RULES)
        .unwrap();
    (engine, weak)
}

fn input() -> Value {
    json!({"event": {"type": "truck.create"}, "ctx": {"operatorId": "OP-7"}})
}

#[test]
fn a_decision_kept_after_the_engine_is_gone_holds_no_host_function() {
    let (engine, weak) = engine_holding_a_token();
    let decision = engine.evaluate(&input());
    assert_eq!(decision.matched_ids(), ["MANY_TRUCKS"]);
    let before = serde_json::to_value(&decision).unwrap();
    drop(engine);
    assert!(
        weak.upgrade().is_none(),
        "the host function outlived the engine: the decision keeps it alive"
    );
    // Everything a caller reads is still there, rendered as before.
    assert_eq!(serde_json::to_value(&decision).unwrap(), before);
    let rejection = decision.rejection().unwrap();
    assert_eq!(rejection.code(), Some("TOO_MANY"));
    assert_eq!(rejection.message(), Some("OP-7 has 10 trucks"));
    let emit = decision.matched[0].action("emitEvent").unwrap();
    assert_eq!(
        emit.params,
        &json!({"name": "fleet.limit", "payload": {"operator": "OP-7"}})
    );
}

#[test]
fn a_decision_kept_after_a_reload_holds_nothing_of_the_old_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, RULES).unwrap();
    let engine = Engine::builder()
        .function("db.count.trucksByOperator", |_: &[&Value]| Ok(json!(12)))
        .load_path(&path)
        .unwrap();
    let decision = engine.evaluate(&input());
    let old_plan = Arc::downgrade(&engine.plan());
    std::fs::write(&path, RULES.replace("> 3", "> 30")).unwrap();
    engine.reload().unwrap();
    assert!(
        old_plan.upgrade().is_none(),
        "the replaced plan outlived the reload: the decision keeps it alive"
    );
    assert!(engine.evaluate(&input()).matched.is_empty());
    assert_eq!(decision.matched_ids(), ["MANY_TRUCKS"]);
    assert_eq!(
        decision.rejection().unwrap().message(),
        Some("OP-7 has 12 trucks")
    );
}

const TEMPLATED: &str = r#"
- id: R
  priority: 1
  severity: low
  description: params with holes at every depth, keys out of order
  condition: "event.type == 'a'"
  action:
    - flagWatchlist: { reason: "constant" }
    - emitEvent: { zeta: "{{event.n}}", alpha: ["x", "{{event.s}} y", { k: "{{event.o}}", b: 2 }], mid: 1 }
    - notifyRole: { role: "{{event.s}}" }
  audit: false
"#;

#[test]
fn parameters_serialized_from_the_template_and_read_back_agree() {
    let engine = Engine::builder().load_str("rules.yaml", TEMPLATED).unwrap();
    let input = json!({"event": {"type": "a", "n": 7, "s": "hi", "o": {"deep": [1, null]}}});
    let decision = engine.evaluate(&input);
    let expected = json!([
        {"name": "flagWatchlist", "params": {"reason": "constant"}},
        {"name": "emitEvent", "params": {
            "zeta": 7,
            "alpha": ["x", "hi y", {"k": {"deep": [1, null]}, "b": 2}],
            "mid": 1
        }},
        {"name": "notifyRole", "params": {"role": "hi"}}
    ]);
    // Serialized straight from the templates and holes...
    let streamed = serde_json::to_value(&decision.matched[0]).unwrap();
    assert_eq!(streamed["actions"], expected);
    // ...and built on first read, then serialized from the built values.
    let read: Vec<_> = decision.matched[0]
        .actions()
        .map(|a| json!({"name": a.name, "params": a.params}))
        .collect();
    assert_eq!(json!(read), expected);
    assert_eq!(
        serde_json::to_value(&decision.matched[0]).unwrap(),
        streamed
    );
    let copy: RuleMatch = serde_json::from_value(streamed).unwrap();
    assert_eq!(&copy, &decision.matched[0]);
}
