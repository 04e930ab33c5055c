//! `Engine::explain`: candidate rules in evaluation order, each condition as a tree of
//! values with short-circuits, errors, missing fields and locations, its serde shape and
//! its human rendering; and that it always agrees with `Engine::evaluate`.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use acs_engine::explain::{ExplainedNode, Explanation, NodeOutcome, RuleOutcome};
use acs_engine::{Engine, FunctionError, Functions};
use serde_json::{json, Value};

fn engine(yaml: &str) -> Engine {
    engine_with(yaml, Functions::new())
}

fn engine_with(yaml: &str, functions: Functions) -> Engine {
    Engine::builder()
        .functions(functions)
        .load_str("rules.yaml", yaml)
        .unwrap_or_else(|e| panic!("rules must load:\n{e}"))
}

fn rule(id: &str, priority: i64, condition: &str) -> String {
    format!(
        "- id: {id}\n  priority: {priority}\n  severity: high\n  description: d\n  condition: \"{condition}\"\n  action:\n    - flag: {{}}\n  audit: false\n"
    )
}

/// `(text, outcome)` of every node, depth first, for compact assertions.
fn flatten(node: &ExplainedNode) -> Vec<(String, NodeOutcome)> {
    let mut out = vec![(node.text.clone(), node.outcome.clone())];
    for child in &node.children {
        out.extend(flatten(child));
    }
    out
}

fn value(value: Value) -> NodeOutcome {
    NodeOutcome::Value {
        value,
        missing: false,
    }
}

fn missing() -> NodeOutcome {
    NodeOutcome::Value {
        value: Value::Null,
        missing: true,
    }
}

/// The explanation's matched, shadow-matched and errored rules are the decision's.
fn assert_agrees(engine: &Engine, input: &Value) {
    let decision = engine.evaluate(input);
    let explanation = engine.explain(input);
    assert_eq!(
        explanation.matched_ids(),
        decision.matched_ids(),
        "input {input}"
    );
    let shadow: Vec<&str> = decision.shadow_matched.iter().map(|m| m.id()).collect();
    assert_eq!(explanation.shadow_matched_ids(), shadow, "input {input}");
    let errored: Vec<&str> = decision
        .errors
        .iter()
        .map(|e| &*e.rule_id)
        .filter(|id| !decision.matched_ids().contains(id))
        .collect();
    assert_eq!(explanation.error_ids(), errored, "input {input}");
    let evaluated = explanation
        .rules
        .iter()
        .filter(|r| r.outcome != RuleOutcome::Disabled)
        .count();
    assert_eq!(
        evaluated, decision.rules_evaluated as usize,
        "input {input}"
    );
}

#[test]
fn candidate_rules_come_in_evaluation_order_with_their_outcome() {
    let yaml = [
        rule("LOW", 1, "event.type == 'a' && x == 1"),
        rule("HIGH", 9, "event.type in ['a', 'b'] && x == 2"),
        rule("UNGATED", 5, "y == true"),
        rule("OTHER_TYPE", 7, "event.type == 'b'"),
    ]
    .concat();
    let engine = engine(&yaml);
    let explanation = engine.explain(&json!({"event": {"type": "a", "x": 2, "y": true}}));
    assert_eq!(explanation.event_type.as_deref(), Some("a"));
    let outcomes: Vec<(&str, RuleOutcome)> = explanation
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("HIGH", RuleOutcome::Matched),
            ("UNGATED", RuleOutcome::Matched),
            ("LOW", RuleOutcome::NotMatched),
        ]
    );
    assert_eq!(
        engine.plan().candidate_rules(Some("a")),
        ["HIGH", "UNGATED", "LOW"]
    );
}

#[test]
fn and_stops_at_the_first_falsy_operand_and_the_rest_is_not_evaluated() {
    let engine = engine(&rule(
        "R",
        1,
        "event.type == 'a' && operator.kycStatus == 'VERIFIED' && bid.amount > 10",
    ));
    let explanation = engine.explain(&json!({"event": {"type": "a", "bid": {"amount": 50}}}));
    let rule = &explanation.rules[0];
    assert_eq!(rule.outcome, RuleOutcome::NotMatched);
    assert_eq!(
        flatten(&rule.condition),
        [
            (
                "event.type == 'a' && operator.kycStatus == 'VERIFIED' && bid.amount > 10".into(),
                value(json!(false))
            ),
            ("event.type == 'a'".into(), value(json!(true))),
            ("event.type".into(), value(json!("a"))),
            (
                "operator.kycStatus == 'VERIFIED'".into(),
                value(json!(false))
            ),
            ("operator.kycStatus".into(), missing()),
            ("bid.amount > 10".into(), NodeOutcome::NotEvaluated),
            ("bid.amount".into(), NodeOutcome::NotEvaluated),
        ]
    );
}

#[test]
fn or_stops_at_the_first_truthy_operand() {
    let engine = engine(&rule("R", 1, "a == 1 || b == 2 || c"));
    let explanation = engine.explain(&json!({"event": {"a": 0, "b": 2, "c": null}}));
    let rule = &explanation.rules[0];
    assert_eq!(rule.outcome, RuleOutcome::Matched);
    assert_eq!(
        flatten(&rule.condition),
        [
            ("a == 1 || b == 2 || c".into(), value(json!(true))),
            ("a == 1".into(), value(json!(false))),
            ("a".into(), value(json!(0))),
            ("b == 2".into(), value(json!(true))),
            ("b".into(), value(json!(2))),
            ("c".into(), NodeOutcome::NotEvaluated),
        ]
    );
}

#[test]
fn a_present_null_is_not_missing() {
    let engine = engine(&rule("R", 1, "c == null"));
    let explanation = engine.explain(&json!({"event": {"c": null}}));
    assert_eq!(
        flatten(&explanation.rules[0].condition)[1],
        ("c".into(), value(Value::Null))
    );
}

#[test]
fn an_unregistered_function_is_an_error_and_its_arguments_are_not_evaluated() {
    let engine = engine(&rule("R", 1, "x > 1 && db.count.things(ctx.userId) > 3"));
    let explanation = engine.explain(&json!({"event": {"x": 2}, "ctx": {"userId": "U-1"}}));
    let rule = &explanation.rules[0];
    assert_eq!(rule.outcome, RuleOutcome::Error);
    let message = "function `db.count.things` is not registered".to_owned();
    let error = NodeOutcome::Error {
        message: message.clone(),
    };
    assert_eq!(
        flatten(&rule.condition),
        [
            (
                "x > 1 && db.count.things(ctx.userId) > 3".into(),
                error.clone()
            ),
            ("x > 1".into(), value(json!(true))),
            ("x".into(), value(json!(2))),
            ("db.count.things(ctx.userId) > 3".into(), error.clone()),
            ("db.count.things(ctx.userId)".into(), error),
            ("ctx.userId".into(), NodeOutcome::NotEvaluated),
        ]
    );
    let decision = engine.evaluate(&json!({"event": {"x": 2}, "ctx": {"userId": "U-1"}}));
    assert_eq!(decision.errors[0].message, message);
}

#[test]
fn an_error_in_an_operand_stops_the_operands_after_it() {
    let engine = engine(&rule("R", 1, "(a * 2) + b.c > 0"));
    let explanation = engine.explain(&json!({"event": {"a": "text", "b": {"c": 1}}}));
    let nodes = flatten(&explanation.rules[0].condition);
    let texts: Vec<&str> = nodes.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        ["(a * 2) + b.c > 0", "(a * 2) + b.c", "a * 2", "a", "b.c"]
    );
    assert!(matches!(&nodes[2].1, NodeOutcome::Error { .. }));
    assert_eq!(nodes[3].1, value(json!("text")));
    assert_eq!(nodes[4].1, NodeOutcome::NotEvaluated);
    assert!(matches!(&nodes[0].1, NodeOutcome::Error { .. }));
    assert_eq!(explanation.rules[0].outcome, RuleOutcome::Error);
}

#[test]
fn a_failing_host_function_is_an_error_with_its_message() {
    let functions = Functions::new().with("risk.score", |_: &[&Value]| {
        Err::<Value, _>(FunctionError::failed("database down"))
    });
    let engine = engine_with(&rule("R", 1, "risk.score(ctx.userId) > 0.5"), functions);
    let explanation = engine.explain(&json!({"ctx": {"userId": "U-1"}}));
    let nodes = flatten(&explanation.rules[0].condition);
    assert_eq!(
        nodes[1],
        (
            "risk.score(ctx.userId)".into(),
            NodeOutcome::Error {
                message: "`risk.score` failed: database down".into()
            }
        )
    );
    assert_eq!(nodes[2], ("ctx.userId".into(), value(json!("U-1"))));
}

#[test]
fn a_host_function_is_called_once_per_distinct_arguments() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let functions = Functions::new().with("f", move |args: &[&Value]| {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok::<Value, FunctionError>(json!(args.len()))
    });
    let engine = engine_with(
        &[
            rule("A", 2, "f(x) > 0 && f(x) < 5"),
            rule("B", 1, "f(x) == 1"),
        ]
        .concat(),
        functions,
    );
    let explanation = engine.explain(&json!({"event": {"x": 1}}));
    assert_eq!(explanation.matched_ids(), ["A", "B"]);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[test]
fn literals_are_not_nodes_of_their_own_and_nested_expressions_are() {
    let engine = engine(&rule(
        "R",
        1,
        "!(a in ['x', 'y']) && distance(p, q) < -(0 - 5) && [a, 1][0] == 'z'",
    ));
    let input = json!({"event": {"a": "z", "p": {"lat": 1, "lng": 2}, "q": {"lat": 1, "lng": 2}}});
    let explanation = engine.explain(&input);
    let texts: Vec<String> = flatten(&explanation.rules[0].condition)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        texts,
        [
            "!(a in ['x', 'y']) && distance(p, q) < -(0 - 5) && [a, 1][0] == 'z'",
            "!(a in ['x', 'y'])",
            "a in ['x', 'y']",
            "a",
            "distance(p, q) < -(0 - 5)",
            "distance(p, q)",
            "p",
            "q",
            "[a, 1][0] == 'z'",
            "[a, 1][0]",
            "[a, 1]",
            "a",
        ]
    );
    assert_eq!(explanation.rules[0].outcome, RuleOutcome::Matched);
    assert_agrees(&engine, &input);
}

#[test]
fn disabled_rules_are_listed_and_not_evaluated() {
    let yaml = format!(
        "{}{}  enabled: false\n",
        rule("ON", 2, "x == 1"),
        rule("OFF", 1, "x == 1")
    );
    let engine = engine(&yaml);
    let input = json!({"event": {"x": 1}});
    let explanation = engine.explain(&input);
    assert_eq!(explanation.rules[1].id, "OFF");
    assert_eq!(explanation.rules[1].outcome, RuleOutcome::Disabled);
    assert!(flatten(&explanation.rules[1].condition)
        .iter()
        .all(|(_, o)| *o == NodeOutcome::NotEvaluated));
    assert_agrees(&engine, &input);

    engine.set_rule_enabled("ON", false);
    engine.set_rule_enabled("OFF", true);
    let explanation = engine.explain(&input);
    assert_eq!(explanation.rules[0].outcome, RuleOutcome::Disabled);
    assert_eq!(explanation.rules[1].outcome, RuleOutcome::Matched);
    assert_agrees(&engine, &input);
}

#[test]
fn shadow_rules_say_so_and_match_into_the_shadow_list() {
    let yaml = format!("{}  mode: shadow\n", rule("TRY", 1, "x == 1"));
    let engine = engine(&yaml);
    let input = json!({"event": {"x": 1}});
    let explanation = engine.explain(&input);
    assert!(explanation.rules[0].shadow);
    assert_eq!(explanation.shadow_matched_ids(), ["TRY"]);
    assert!(explanation.matched_ids().is_empty());
    assert_agrees(&engine, &input);
}

#[test]
fn nodes_carry_their_location_in_the_rules_file() {
    let engine = engine(&[rule("A", 2, "x == 1"), rule("B", 1, "y && x == 1")].concat());
    let explanation = engine.explain(&json!({"event": {"x": 1, "y": true}}));
    let b = &explanation.rules[1];
    // `condition: "` is 14 characters; B's condition is on line 13.
    assert_eq!(b.location.as_ref().unwrap().to_string(), "rules.yaml:13:15");
    let x = &b.condition.children[1];
    assert_eq!(x.text, "x == 1");
    assert_eq!(x.location.as_ref().unwrap().to_string(), "rules.yaml:13:20");
}

#[test]
fn non_string_or_missing_event_types_explain_only_ungated_rules() {
    let yaml = [
        rule("GATED", 2, "event.type == 'a'"),
        rule("ANY", 1, "true"),
    ]
    .concat();
    let engine = engine(&yaml);
    for input in [
        json!({}),
        json!({"event": {"type": 3}}),
        json!([1, 2]),
        json!(null),
    ] {
        let explanation = engine.explain(&input);
        assert_eq!(explanation.event_type, None);
        let ids: Vec<&str> = explanation.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["ANY"], "input {input}");
        assert_agrees(&engine, &input);
    }
}

#[test]
fn the_explanation_serialises_with_the_documented_shape_and_reads_back() {
    let engine = engine(&rule("R", 1, "x == 1 && y.z"));
    let explanation = engine.explain(&json!({"event": {"x": 1}}));
    let json = serde_json::to_value(&explanation).unwrap();
    assert_eq!(
        json,
        json!({
            "event_type": null,
            "rules": [{
                "id": "R",
                "priority": 1,
                "severity": "high",
                "shadow": false,
                "outcome": "not_matched",
                "location": {"file": "rules.yaml", "line": 5, "column": 15},
                "condition": {
                    "text": "x == 1 && y.z",
                    "location": {"file": "rules.yaml", "line": 5, "column": 15},
                    "status": "value",
                    "value": false,
                    "children": [
                        {
                            "text": "x == 1",
                            "location": {"file": "rules.yaml", "line": 5, "column": 15},
                            "status": "value",
                            "value": true,
                            "children": [{
                                "text": "x",
                                "location": {"file": "rules.yaml", "line": 5, "column": 15},
                                "status": "value",
                                "value": 1
                            }]
                        },
                        {
                            "text": "y.z",
                            "location": {"file": "rules.yaml", "line": 5, "column": 25},
                            "status": "value",
                            "value": null,
                            "missing": true
                        }
                    ]
                }
            }]
        })
    );
    let back: Explanation = serde_json::from_value(json).unwrap();
    assert_eq!(back, explanation);
}

#[test]
fn rendering_shortens_long_values_and_marks_skipped_and_failed_nodes() {
    let yaml = [
        rule("LONG", 3, "x == 'short'"),
        rule("FAILS", 2, "nope(x) || x"),
        rule("SKIPS", 1, "x == 1 && y"),
    ]
    .concat();
    let engine = engine(&yaml);
    let long = "a".repeat(100);
    let text = engine.explain(&json!({"event": {"x": long}})).to_string();
    assert!(text.starts_with("3 candidate rules (the input has no string `event.type`)\n"));
    assert!(text.contains(&format!("\"{}…", "a".repeat(46))), "{text}");
    assert!(!text.contains(&long), "{text}");
    assert!(
        text.contains("error: function `nope` is not registered"),
        "{text}"
    );
    assert!(text.contains("(not evaluated)"), "{text}");
    assert!(
        text.contains("SKIPS  priority 1  high  not matched\n"),
        "{text}"
    );
    assert!(text.contains("FAILS  priority 2  high  ERROR\n"), "{text}");
}

#[test]
fn rendering_of_every_outcome() {
    let functions = Functions::new().with("risk.score", |args: &[&Value]| {
        Ok::<Value, FunctionError>(json!(args.len()))
    });
    let yaml = format!(
        "{}{}{}{}{}  mode: shadow\n{}  enabled: false\n",
        rule(
            "KYC",
            90,
            "event.type in ['bid.create'] && operator.kycStatus != 'VERIFIED'"
        ),
        rule(
            "LIMIT",
            80,
            "bid.amount > 100000 || risk.score(bid) >= 0.5 && bid.note"
        ),
        rule(
            "BROKEN",
            70,
            "event.type == 'bid.create' && lookup.thing(bid.id) > 1"
        ),
        rule("TEXT", 60, "bid.note == ''"),
        rule("TRYOUT", 50, "(bid.amount * 2) > 1000"),
        rule("OFF", 40, "bid.amount > 0")
    );
    let engine = engine_with(&yaml, functions);
    let input = json!({"event": {"type": "bid.create", "bid": {
        "id": "BID-1", "amount": 41000, "note": "x".repeat(80)
    }}});
    assert_agrees(&engine, &input);
    insta::assert_snapshot!(engine.explain(&input).to_string());
}
