//! Resumable evaluation (`Engine::evaluation`): the host answers host calls, the engine
//! asks for them in rounds. What it asks for and when (concurrently across rules, in
//! order within one, once per call), the decision it reaches against the synchronous
//! `evaluate` with the same answers (examples and a property over generated rules and
//! answers), the instant `now()` reads, and the metrics.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use acs_engine::{
    AnswerError, Decision, Engine, Evaluation, FunctionError, Functions, HostCall, Step,
};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::rule_line;

/// The functions the rules below call, registered so that their calls compile as host
/// calls; the resumable path must never call them (each call is counted).
fn placeholders(names: &[&str], called: &Arc<AtomicUsize>) -> Functions {
    let mut functions = Functions::new();
    for name in names {
        let called = Arc::clone(called);
        functions.register(*name, move |_: &[&Value]| -> Result<Value, FunctionError> {
            called.fetch_add(1, Ordering::Relaxed);
            Err(FunctionError::failed("the Rust function was called"))
        });
    }
    functions
}

fn engine(rules: &str, names: &[&str]) -> (Engine, Arc<AtomicUsize>) {
    let called = Arc::new(AtomicUsize::new(0));
    let engine = Engine::builder()
        .functions(placeholders(names, &called))
        .load_str("rules.yaml", rules)
        .unwrap();
    (engine, called)
}

/// Poll `evaluation` to its decision, answering every call asked with `answer` before
/// polling again; returns the decision and the calls of each round that asked any.
fn drive(
    mut evaluation: Evaluation,
    mut answer: impl FnMut(&HostCall) -> Result<Value, FunctionError>,
) -> (Decision, Vec<Vec<HostCall>>) {
    let mut rounds = Vec::new();
    for _ in 0..1000 {
        match evaluation.poll() {
            Step::Decided(decision) => return (decision, rounds),
            Step::Needs(calls) => {
                assert!(
                    !calls.is_empty(),
                    "a poll after answering everything asks for nothing"
                );
                for call in &calls {
                    evaluation.answer(call.id, answer(call)).unwrap();
                }
                rounds.push(calls);
            }
        }
    }
    panic!("no decision after 1000 rounds");
}

/// `function(args)` as a readable key.
fn key(call: &HostCall) -> String {
    format!("{}({})", call.function, Value::from(call.args.clone()))
}

fn keys(calls: &[HostCall]) -> Vec<String> {
    calls.iter().map(key).collect()
}

fn as_json(decision: &Decision) -> Value {
    serde_json::to_value(decision).unwrap()
}

#[test]
fn calls_of_different_rules_are_asked_for_in_the_first_round() {
    let rules = rule_line("A", 2, "h.a(ctx.x) > 1") + &rule_line("B", 1, "h.b(ctx.y) == 'yes'");
    let (engine, called) = engine(&rules, &["h.a", "h.b"]);
    let input = json!({"ctx": {"x": 5, "y": "Y"}});
    let (decision, rounds) = drive(engine.evaluation(input), |call| {
        Ok(match call.function.as_str() {
            "h.a" => json!(2),
            _ => json!("yes"),
        })
    });
    assert_eq!(rounds.len(), 1);
    assert_eq!(keys(&rounds[0]), ["h.a([5])", "h.b([\"Y\"])"]);
    assert_eq!(decision.matched_ids(), ["A", "B"]);
    assert_eq!(
        called.load(Ordering::Relaxed),
        0,
        "no Rust function is called"
    );
}

#[test]
fn a_later_call_of_a_rule_waits_for_the_earlier_one_and_respects_short_circuits() {
    let rules = rule_line("R", 1, "h.f(ctx.x) > 1 && h.g(ctx.y)");
    let (engine, _) = engine(&rules, &["h.f", "h.g"]);
    let input = json!({"ctx": {"x": 1, "y": 2}});

    // f answers 2: `f > 1` holds, so g is asked for, in a round of its own.
    let (decision, rounds) = drive(engine.evaluation(input.clone()), |call| {
        Ok(if call.function == "h.f" {
            json!(2)
        } else {
            json!(true)
        })
    });
    let asked: Vec<Vec<String>> = rounds.iter().map(|r| keys(r)).collect();
    assert_eq!(asked, [["h.f([1])"], ["h.g([2])"]]);
    assert_eq!(decision.matched_ids(), ["R"]);

    // f answers 1: the condition is false whatever g says, so g is never asked for.
    let (decision, rounds) = drive(engine.evaluation(input.clone()), |_| Ok(json!(1)));
    let asked: Vec<Vec<String>> = rounds.iter().map(|r| keys(r)).collect();
    assert_eq!(asked, [["h.f([1])"]]);
    assert!(decision.matched.is_empty());
    assert!(decision.errors.is_empty());

    // Nor is g asked for while f's answer is unknown, even where a missing value would
    // let the condition go on (`null != 1`).
    let (engine, _) = self::engine(
        &rule_line("R", 1, "h.f(ctx.x) != 1 && h.g(ctx.y)"),
        &["h.f", "h.g"],
    );
    let (decision, rounds) = drive(engine.evaluation(input), |_| Ok(json!(1)));
    let asked: Vec<Vec<String>> = rounds.iter().map(|r| keys(r)).collect();
    assert_eq!(asked, [["h.f([1])"]]);
    assert!(decision.matched.is_empty());
}

#[test]
fn the_same_call_from_two_rules_is_asked_for_once() {
    let rules = rule_line("A", 2, "h.count(ctx.op) >= 10")
        + &rule_line("B", 1, "h.count(ctx.op) < 3 || h.count('other') > 0");
    let (engine, _) = engine(&rules, &["h.count"]);
    let (decision, rounds) = drive(engine.evaluation(json!({"ctx": {"op": "OP-1"}})), |call| {
        Ok(if call.args == [json!("OP-1")] {
            json!(12)
        } else {
            json!(1)
        })
    });
    let asked: Vec<Vec<String>> = rounds.iter().map(|r| keys(r)).collect();
    // Round one: A and B both meet `h.count('OP-1')`, asked for once. Round two: B's
    // `||` goes on to its second call.
    assert_eq!(
        asked,
        [vec!["h.count([\"OP-1\"])"], vec!["h.count([\"other\"])"]]
    );
    assert_eq!(decision.matched_ids(), ["A", "B"]);
}

#[test]
fn a_failing_answer_is_the_rules_error_worded_as_in_evaluate() {
    let rules = rule_line("A", 2, "h.f(ctx.x) > 1") + &rule_line("B", 1, "h.g(1) == 1");
    let answer = |name: &str| -> Result<Value, FunctionError> {
        if name == "h.f" {
            Err(FunctionError::new("timeout", "the database did not answer"))
        } else {
            Ok(json!(1))
        }
    };
    let sync = Engine::builder()
        .function("h.f", move |_: &[&Value]| answer("h.f"))
        .function("h.g", move |_: &[&Value]| answer("h.g"))
        .load_str("rules.yaml", rules.as_str())
        .unwrap();
    let input = json!({"ctx": {"x": 3}});
    let expected = sync.evaluate(&input);
    let (decision, _) = drive(sync.evaluation(input), |call| answer(&call.function));
    assert_eq!(as_json(&decision), as_json(&expected));
    assert_eq!(decision.matched_ids(), ["B"]);
    assert_eq!(decision.errors.len(), 1);
    assert_eq!(&*decision.errors[0].rule_id, "A");
    assert_eq!(
        decision.errors[0].message,
        "`h.f` failed: the database did not answer"
    );
}

#[test]
fn host_calls_in_templates_are_asked_for_by_action_and_rendered_as_in_evaluate() {
    let rules = r#"
- id: T
  priority: 1
  severity: high
  description: d
  audit: true
  condition: "ctx.x > 0"
  action:
    - rejectRequest: { code: "{{h.code(ctx.x)}}", message: "limit {{h.limit(ctx.x) + h.extra(1)}} reached" }
    - emitEvent: { name: fraud.flagged, payload: { count: "{{h.count(ctx.x)}}", tail: "{{h.bad(2)}}" } }
"#;
    let names = ["h.code", "h.limit", "h.extra", "h.count", "h.bad"];
    let answer = |name: &str| -> Result<Value, FunctionError> {
        match name {
            "h.code" => Ok(json!("TOO_MANY")),
            "h.limit" => Ok(json!(10)),
            "h.extra" => Ok(json!(0.5)),
            "h.count" => Ok(json!({"trucks": 12})),
            _ => Err(FunctionError::failed("no such thing")),
        }
    };
    let mut functions = Functions::new();
    for name in names {
        functions.register(name, move |_: &[&Value]| answer(name));
    }
    let engine = Engine::builder()
        .functions(functions)
        .load_str("rules.yaml", rules)
        .unwrap();
    let input = json!({"ctx": {"x": 4}});
    let expected = engine.evaluate(&input);
    let (decision, rounds) = drive(engine.evaluation(input), |call| answer(&call.function));
    assert_eq!(as_json(&decision), as_json(&expected));
    // Each action's first hole in round one; within an action, hole after hole, and
    // within a hole, call after call.
    let asked: Vec<Vec<String>> = rounds.iter().map(|r| keys(r)).collect();
    assert_eq!(
        asked,
        [
            vec!["h.code([4])", "h.count([4])"],
            vec!["h.limit([4])", "h.bad([2])"],
            vec!["h.extra([1])"],
        ]
    );
    assert!(decision.is_rejected());
    assert_eq!(decision.errors.len(), 1, "{:?}", decision.errors);
    assert!(decision.errors[0]
        .message
        .contains("`h.bad` failed: no such thing"));
}

#[test]
fn now_reads_one_instant_in_every_round() {
    let rules = rule_line("A", 2, "h.first(now()) > 0")
        + &rule_line("B", 1, "h.wait(1) > 0 && h.second(now()) > 0");
    let (engine, _) = engine(&rules, &["h.first", "h.wait", "h.second"]);
    let mut instants = Vec::new();
    let (decision, rounds) = drive(engine.evaluation(json!({})), |call| {
        if call.function != "h.wait" {
            instants.push(call.args[0].clone());
        }
        // Rounds apart in time, as a host's awaits are.
        std::thread::sleep(std::time::Duration::from_millis(5));
        Ok(json!(1))
    });
    assert_eq!(rounds.len(), 2, "h.second waits for h.wait");
    assert_eq!(instants.len(), 2);
    assert_eq!(instants[0], instants[1]);
    assert!(instants[0].as_f64().is_some_and(|t| t > 1.7e12));
    assert_eq!(decision.matched_ids(), ["A", "B"]);
}

#[test]
fn a_finished_evaluation_counts_once_in_the_metrics() {
    let rules = rule_line("A", 2, "h.a(1) > 0 && h.b(2) > 0") + &rule_line("B", 1, "ctx.x == 1");
    let (engine, _) = engine(&rules, &["h.a", "h.b"]);
    let counts = |engine: &Engine| {
        let metrics = engine.metrics();
        let rules: Vec<(String, u64, u64)> = metrics
            .rules
            .iter()
            .map(|r| (r.id.clone(), r.evaluations, r.matches))
            .collect();
        (metrics.evaluations, rules)
    };
    let mut evaluation = engine.evaluation(json!({"ctx": {"x": 1}}));
    let mut polls = 0;
    loop {
        polls += 1;
        match evaluation.poll() {
            Step::Needs(calls) => {
                // Rounds that did not decide are not requests served.
                assert_eq!(counts(&engine).0, 0);
                for call in calls {
                    evaluation.answer(call.id, Ok(json!(1))).unwrap();
                }
            }
            Step::Decided(decision) => {
                assert_eq!(decision.matched_ids(), ["A", "B"]);
                break;
            }
        }
    }
    assert_eq!(polls, 3);
    let once = (1, vec![("A".to_owned(), 1, 1), ("B".to_owned(), 1, 1)]);
    assert_eq!(counts(&engine), once);
    // A poll after the decision gives it again, and does not count it again.
    assert!(matches!(evaluation.poll(), Step::Decided(d) if d.matched_ids() == ["A", "B"]));
    assert_eq!(counts(&engine), once);
}

#[test]
fn answers_are_final_and_only_for_calls_asked_for() {
    let (engine, _) = engine(&rule_line("A", 1, "h.a(1) > h.b(2)"), &["h.a", "h.b"]);
    let mut evaluation = engine.evaluation(json!({}));
    assert_eq!(
        evaluation.answer(0, Ok(json!(1))),
        Err(AnswerError::UnknownCall { id: 0 })
    );
    let Step::Needs(calls) = evaluation.poll() else {
        panic!("h.a is asked for");
    };
    assert_eq!(keys(&calls), ["h.a([1])"]);
    // Polling again without an answer runs no round and asks for nothing new.
    assert_eq!(evaluation.poll(), Step::Needs(Vec::new()));
    evaluation.answer(calls[0].id, Ok(json!(5))).unwrap();
    assert_eq!(
        evaluation.answer(calls[0].id, Ok(json!(0))),
        Err(AnswerError::AlreadyAnswered { id: 0 })
    );
    assert_eq!(
        evaluation.answer(7, Ok(json!(0))),
        Err(AnswerError::UnknownCall { id: 7 })
    );
    let Step::Needs(calls) = evaluation.poll() else {
        panic!("h.b is asked for");
    };
    assert_eq!(keys(&calls), ["h.b([2])"]);
    assert_eq!(calls[0].id, 1);
    evaluation.answer(1, Ok(json!(4))).unwrap();
    // The first answer stood: 5 > 4.
    assert!(matches!(evaluation.poll(), Step::Decided(d) if d.matched_ids() == ["A"]));
    assert_eq!(
        evaluation.answer(1, Ok(json!(0))),
        Err(AnswerError::AlreadyAnswered { id: 1 })
    );
}

#[test]
fn built_ins_and_unregistered_names_are_never_asked_for() {
    let rules = rule_line("A", 3, "textContainsPII(ctx.text) && now() > 0")
        + &rule_line("B", 2, "not.registered(1) > 0")
        + &rule_line(
            "C",
            1,
            "matches(ctx.text, '^call') && distance(ctx.p, ctx.p) == 0",
        );
    let (engine, _) = engine(&rules, &[]);
    let input = json!({"ctx": {"text": "call me on 9876543210", "p": {"lat": 1, "lon": 2}}});
    let expected = engine.evaluate(&input);
    let (decision, rounds) = drive(engine.evaluation(input), |call| {
        panic!("{} asked for", key(call))
    });
    assert!(rounds.is_empty());
    assert_eq!(as_json(&decision), as_json(&expected));
    assert_eq!(decision.errors.len(), 1);
    assert_eq!(
        decision.errors[0].message,
        "function `not.registered` is not registered"
    );
}

#[test]
fn the_plan_and_the_kill_switch_are_those_of_the_start() {
    let rules = rule_line("A", 2, "h.a(1) > 0") + &rule_line("B", 1, "ctx.x == 1");
    let (engine, _) = engine(&rules, &["h.a"]);
    let mut evaluation = engine.evaluation(json!({"ctx": {"x": 1}}));
    let Step::Needs(calls) = evaluation.poll() else {
        panic!("h.a is asked for");
    };
    engine.set_rule_enabled("A", false);
    engine.set_rule_enabled("B", false);
    engine.reload().unwrap();
    evaluation.answer(calls[0].id, Ok(json!(1))).unwrap();
    let Step::Decided(decision) = evaluation.poll() else {
        panic!("decided");
    };
    assert_eq!(decision.matched_ids(), ["A", "B"]);
    assert_eq!(decision.generation, 1);
    assert_eq!(evaluation.plan().generation(), 1);
}

#[test]
fn an_evaluation_can_move_between_threads_and_calls_serialise() {
    fn send<T: Send>() {}
    send::<Evaluation>();
    let call = HostCall::clone(&{
        let (engine, _) = engine(&rule_line("A", 1, "h.a(ctx, 'x', 2)"), &["h.a"]);
        let Step::Needs(calls) = engine.evaluation(json!({"ctx": {"k": 1}})).poll() else {
            panic!("h.a is asked for");
        };
        calls[0].clone()
    });
    assert_eq!(
        serde_json::to_value(&call).unwrap(),
        json!({"id": 0, "function": "h.a", "args": [{"k": 1}, "x", 2]})
    );
}

// ---- property: the resumable path decides as `evaluate` does ---------------------------

const HOST: [&str; 3] = ["h.a", "h.b", "h.c"];

/// The calls a host function was called with: function name and arguments.
type Made = Vec<(String, Vec<Value>)>;

/// Expressions over a few input fields, constants, host calls (nested too), built-ins,
/// an unregistered name, and the operators that short-circuit or fail.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => prop::sample::select(&["ctx.x", "ctx.y", "event.n", "ctx.missing"][..])
            .prop_map(str::to_owned),
        2 => (0u8..4).prop_map(|n| n.to_string()),
        1 => prop::sample::select(&["'a'", "'b'", "null", "true", "false", "[1, 'a']"][..])
            .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            4 => (prop::sample::select(&HOST[..]), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(name, args)| format!("{name}({})", args.join(", "))),
            3 => (
                inner.clone(),
                prop::sample::select(&["&&", "||", ">", "<", "==", "!=", "+", "-", "in"][..]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            1 => inner.clone().prop_map(|a| format!("!({a})")),
            1 => inner.clone().prop_map(|a| format!("textContainsPII({a})")),
            1 => inner.clone().prop_map(|a| format!("not.registered({a})")),
            1 => (inner.clone(), inner).prop_map(|(a, b)| format!("[{a}, {b}][0]")),
        ]
    })
}

/// A rule: a condition and, as action parameters, an exact hole and an interpolated one.
fn rule() -> impl Strategy<Value = (String, String, String, bool)> {
    (
        expression(),
        expression(),
        expression(),
        prop::bool::weighted(0.2),
    )
}

fn rules_file(rules: &[(String, String, String, bool)]) -> String {
    let mut text = String::new();
    for (i, (condition, exact, interpolated, shadow)) in rules.iter().enumerate() {
        let condition = Value::from(condition.as_str());
        let exact = Value::from(format!("{{{{{exact}}}}}"));
        let interpolated = Value::from(format!("n={{{{{interpolated}}}}}"));
        let mode = if *shadow { "shadow" } else { "enforce" };
        text += &format!(
            "- id: R{i}\n  priority: {}\n  severity: high\n  description: d\n  audit: true\n  mode: {mode}\n  \
             condition: {condition}\n  action:\n    - rejectRequest: {{ code: R{i}, message: {interpolated} }}\n    \
             - emitEvent: {{ name: e, payload: {{ v: {exact} }} }}\n",
            10 - i
        );
    }
    text
}

/// A deterministic host: the answer to `function(args)` under `seed`, an error one time
/// in five.
fn answer(seed: u64, function: &str, args: &[Value]) -> Result<Value, FunctionError> {
    let mut hasher = DefaultHasher::new();
    (seed, function, Value::from(args.to_vec()).to_string()).hash(&mut hasher);
    let h = hasher.finish();
    match h % 10 {
        0 | 1 => Err(FunctionError::new(
            "timeout",
            format!("no answer ({})", h % 3),
        )),
        2 => Ok(Value::Null),
        3 => Ok(json!(h.is_multiple_of(2))),
        4 => Ok(json!("a")),
        5 => Ok(json!([1, "a"])),
        _ => Ok(json!(h % 4)),
    }
}

fn generated_input() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just(Value::Null),
        (0u8..4).prop_map(Value::from),
        Just(json!("a")),
        Just(json!(true)),
        Just(json!([1, "a"])),
    ];
    (field.clone(), field.clone(), field)
        .prop_map(|(x, y, n)| json!({"event": {"type": "t", "n": n}, "ctx": {"x": x, "y": y}}))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Against `evaluate` with the same answers: the same decision, the same calls (each
    /// asked for once), and no Rust function called; whether the host answers all it is
    /// asked before polling again or only some of it.
    #[test]
    fn the_resumable_path_decides_as_evaluate_does(
        rules in prop::collection::vec(rule(), 1..5),
        input in generated_input(),
        seed in any::<u64>(),
        answer_per_poll in prop_oneof![Just(usize::MAX), 1usize..3],
    ) {
        let made: Arc<Mutex<Made>> = Arc::default();
        let mut functions = Functions::new();
        for name in HOST {
            let made = Arc::clone(&made);
            functions.register(name, move |args: &[&Value]| {
                let args: Vec<Value> = args.iter().map(|a| (*a).clone()).collect();
                made.lock().unwrap().push((name.to_owned(), args.clone()));
                answer(seed, name, &args)
            });
        }
        let text = rules_file(&rules);
        let engine = match Engine::builder().functions(functions).load_str("generated.yaml", text.as_str()) {
            Ok(engine) => engine,
            Err(error) => return Err(TestCaseError::fail(format!("{error}\n{text}"))),
        };

        let expected = engine.evaluate(&input);
        let sync_calls: Made = std::mem::take(&mut *made.lock().unwrap());

        let mut evaluation = engine.evaluation(input);
        let mut asked: Vec<HostCall> = Vec::new();
        let mut outstanding: Vec<HostCall> = Vec::new();
        let mut decision = None;
        for _ in 0..10_000 {
            match evaluation.poll() {
                Step::Decided(d) => {
                    decision = Some(d);
                    break;
                }
                Step::Needs(calls) => {
                    asked.extend(calls.iter().cloned());
                    outstanding.extend(calls);
                    prop_assert!(!outstanding.is_empty(), "waits with nothing to answer");
                    let n = answer_per_poll.min(outstanding.len());
                    // The latest first: the order of answers does not matter.
                    let now = outstanding.split_off(outstanding.len() - n);
                    for call in now.into_iter().rev() {
                        evaluation.answer(call.id, answer(seed, &call.function, &call.args)).unwrap();
                    }
                }
            }
        }
        let Some(decision) = decision else {
            return Err(TestCaseError::fail("no decision"));
        };
        prop_assert_eq!(as_json(&decision), as_json(&expected), "rules:\n{}", text);
        prop_assert!(made.lock().unwrap().is_empty(), "a Rust function was called");

        // Each call asked for once, ids in order.
        let asked_keys: Vec<(String, Vec<Value>)> =
            asked.iter().map(|c| (c.function.clone(), c.args.clone())).collect();
        let distinct: HashSet<String> = asked.iter().map(key).collect();
        prop_assert_eq!(distinct.len(), asked.len(), "a call was asked for twice: {:?}", asked_keys);
        prop_assert!(asked.iter().enumerate().all(|(i, c)| c.id == i));
        // The calls asked for are the calls `evaluate` made.
        let sync_distinct: HashSet<String> = sync_calls
            .iter()
            .map(|(f, a)| format!("{f}({})", Value::from(a.clone())))
            .collect();
        prop_assert_eq!(distinct, sync_distinct, "rules:\n{}", text);
    }
}

#[test]
fn poll_answering_makes_the_rust_calls_and_hands_over_only_the_hosts() {
    let rules =
        rule_line("A", 2, "rust.a(ctx.x) > 1") + &rule_line("B", 1, "host.b(ctx.y) == 'yes'");
    let rust = Functions::new().with(
        "rust.a",
        |args: &[&Value]| -> Result<Value, FunctionError> {
            Ok(json!(
                args.first().and_then(|v| v.as_i64()).unwrap_or(0) * 2
            ))
        },
    );
    let host = Functions::new().with("host.b", |_: &[&Value]| -> Result<Value, FunctionError> {
        Err(FunctionError::failed(
            "the host's own function is not called by the engine",
        ))
    });
    let mut all = rust.clone();
    all.extend(host);
    let engine = Engine::builder()
        .functions(all.clone())
        .load_str("rules.yaml", &rules)
        .unwrap();
    let mut evaluation = engine.evaluation(json!({"ctx": {"x": 5, "y": "Y"}}));
    let for_host = |name: &str| name.starts_with("host.");
    let Step::Needs(calls) = evaluation.poll_answering(&all, &for_host) else {
        panic!("the host's call is needed")
    };
    assert_eq!(keys(&calls), ["host.b([\"Y\"])"]);
    evaluation.answer(calls[0].id, Ok(json!("yes"))).unwrap();
    let Step::Decided(decision) = evaluation.poll_answering(&all, &for_host) else {
        panic!("decided once the host answered")
    };
    assert_eq!(decision.matched_ids(), ["A", "B"]);
    assert_eq!(
        as_json(&decision),
        as_json(
            &Engine::builder()
                .functions(
                    rust.with("host.b", |_: &[&Value]| -> Result<Value, FunctionError> {
                        Ok(json!("yes"))
                    })
                )
                .load_str("rules.yaml", &rules)
                .unwrap()
                .evaluate(&json!({"ctx": {"x": 5, "y": "Y"}}))
        )
    );
}
