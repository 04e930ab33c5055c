//! `Plan::input_reads`: a document holding only the subtrees at the plan's reads for its
//! event type decides exactly as the whole document, on every shipped example and line
//! of recorded traffic.

use std::path::Path;

use acs_engine::Engine;
use serde_json::{Map, Value};

/// The input with only the subtrees at `reads`; an array on the way is taken whole.
fn pruned(input: &Value, reads: &[Vec<String>]) -> Value {
    let mut out = Value::Object(Map::new());
    for path in reads {
        let (mut source, mut target) = (input, &mut out);
        for (i, key) in path.iter().enumerate() {
            let Some(value) = source.as_object().and_then(|o| o.get(key)) else {
                break;
            };
            let Some(object) = target.as_object_mut() else {
                break;
            };
            if i + 1 == path.len() || !value.is_object() {
                object.insert(key.clone(), value.clone());
                break;
            }
            target = object
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            source = value;
        }
    }
    out
}

#[test]
fn a_document_of_the_reads_alone_decides_as_the_whole_document() {
    let (root, stubs, inputs) = crate::support::shipped_rules_and_inputs();
    let engine = Engine::builder().functions(stubs).load_path(&root).unwrap();
    let plan = engine.plan();
    for input in &inputs {
        let event_type = input.pointer("/event/type").and_then(Value::as_str);
        let reads = plan.input_reads(event_type);
        assert!(reads.contains(&vec!["event".to_owned(), "type".to_owned()]));
        let small = pruned(input, &reads);
        let (whole, part) = (engine.evaluate(input), engine.evaluate(&small));
        assert_eq!(
            serde_json::to_value(&whole).unwrap(),
            serde_json::to_value(&part).unwrap(),
            "{input}\nreads {reads:?}\npruned {small}"
        );
    }
}

#[test]
fn reads_are_sorted_and_none_is_below_another() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("rules");
    let plan = Engine::from_path(&root).unwrap().plan();
    for event_type in plan
        .event_types()
        .into_iter()
        .map(Some)
        .chain([None, Some("no.such")])
    {
        let reads = plan.input_reads(event_type);
        for pair in reads.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(!pair[1].starts_with(&pair[0]), "{pair:?}");
        }
    }
    let bid = plan.input_reads(Some("bid.create"));
    assert!(
        bid.iter().any(|p| p.first().is_some_and(|r| r == "ctx")),
        "{bid:?}"
    );
    assert!(plan.input_reads(Some("no.such")).len() < bid.len());
}

#[test]
fn a_velocity_counters_key_id_and_instant_are_read_though_no_rule_reads_them() {
    const RULES: &str = r#"
velocity:
  - { name: pays, events: [pay], key: [ctx.userId, ctx.device.id], windows: [1m], time: event.at, id: event.id }
rules:
  - id: BURST
    priority: 1
    severity: low
    description: a third payment within a minute, whoever makes it
    condition: "event.type == 'pay' && rate.limitExceeded(ctx.accountId, 'pays', 2)"
    action: [ { flagWatchlist: { reason: burst } } ]
    audit: false
"#;
    let plan = Engine::builder()
        .load_str("rules.yaml", RULES)
        .unwrap()
        .plan();
    let path = |p: &str| p.split('.').map(str::to_owned).collect::<Vec<_>>();
    for event_type in [Some("pay"), Some("other"), None] {
        let reads = plan.input_reads(event_type);
        for wanted in ["ctx.userId", "ctx.device.id", "event.at", "event.id"] {
            assert!(reads.contains(&path(wanted)), "{wanted} in {reads:?}");
        }
    }
    assert!(plan
        .input_reads(Some("pay"))
        .contains(&path("ctx.accountId")));
}
