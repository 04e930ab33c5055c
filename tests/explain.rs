//! `Engine::explain` agrees with `Engine::evaluate` over the bundles: the shipped examples
//! and the inputs the helpers build, on the project file, the rules directory and the
//! legacy fixture (the per-rule tables check every hit and miss through `check_table`).
use acs_engine::explain::RuleOutcome;
use acs_engine::{Engine, Functions};
use acs_integration_tests::*;
use serde_json::{json, Value};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/examples");

fn example(name: &str) -> Value {
    let path = format!("{EXAMPLES}/{name}");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("`{path}`: {e}"))
}

/// Every `*.json` input in `rules/examples/` (not the stub table), by file name.
fn example_inputs() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(EXAMPLES)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && name != "stubs.json")
        .collect();
    names.sort();
    assert!(names.len() >= EXAMPLE_OUTCOMES.len(), "examples: {names:?}");
    names
        .into_iter()
        .map(|name| {
            let input = example(&name);
            (name, input)
        })
        .collect()
}

/// The inputs the helpers of `tests/lib.rs` build: for every gated event type (and one
/// unknown type) a bare event, an event with the standard config and indexes, and one
/// with a user whose KYC status is missing; plus the clean bid.
fn helper_inputs() -> Vec<(String, Value)> {
    let mut inputs = vec![("clean_bid".to_owned(), clean_bid())];
    let types = EVENT_TYPES.iter().map(|(t, _)| *t).chain(["no.such.type"]);
    for t in types {
        inputs.push((format!("bare({t})"), bare(t)));
        inputs.push((format!("event({t})"), event(t, json!({}))));
        inputs.push((
            format!("input({t}, user without KYC)"),
            input(t, json!({}), user("U-1", "operator", None)),
        ));
    }
    inputs
}

fn stub_functions() -> Functions {
    Functions::from_stubs(&example("stubs.json")).unwrap()
}

/// The engines to check: each bundle with the test host functions, and the project file
/// and legacy fixture with the examples' stub table (as `acs eval` runs them).
fn engines() -> Vec<(String, Engine)> {
    let mut engines: Vec<(String, Engine)> = all_engines()
        .into_iter()
        .map(|(name, engine)| (name.to_owned(), engine))
        .collect();
    let mut stubbed = vec![PROJECT_BUNDLE];
    if legacy_bundle().is_some() {
        stubbed.push(LEGACY_BUNDLE);
    }
    for path in stubbed {
        let engine = Engine::builder()
            .functions(stub_functions())
            .load_path(path)
            .unwrap();
        engines.push((format!("{path} with stubs.json"), engine));
    }
    engines
}

#[test]
fn explanations_match_decisions_on_every_example_and_helper_input_of_every_bundle() {
    let mut failures = Vec::new();
    let inputs: Vec<(String, Value)> = example_inputs()
        .into_iter()
        .chain(helper_inputs())
        .collect();
    for (bundle, engine) in engines() {
        for (name, input) in &inputs {
            if let Some(problem) = explanation_disagreement(&engine, input) {
                failures.push(format!("{bundle}: {name}: {problem}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_shipped_examples_explain_the_outcomes_the_readme_promises() {
    let engine = Engine::builder()
        .functions(stub_functions())
        .load_path(PROJECT_BUNDLE)
        .unwrap();
    for (file, ids, _code) in EXAMPLE_OUTCOMES {
        let explanation = engine.explain(&example(file));
        assert_eq!(explanation.matched_ids(), ids, "{file}");
        assert!(explanation.error_ids().is_empty(), "{file}");
        // Every candidate rule is shown with the `event.type` gate the plan left out.
        for rule in &explanation.rules {
            assert!(
                rule.condition.text.starts_with("event.type"),
                "{file}: {}",
                rule.id
            );
        }
    }
}

#[test]
fn each_event_type_explains_exactly_the_rules_gated_on_it() {
    for (bundle, engine) in all_engines() {
        for (event_type, count) in EVENT_TYPES {
            let explanation = engine.explain(&bare(event_type));
            assert_eq!(
                explanation.rules.len(),
                count as usize,
                "{bundle}: {event_type}"
            );
            assert_eq!(
                explanation
                    .rules
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>(),
                engine.plan().candidate_rules(Some(event_type)),
                "{bundle}: {event_type}"
            );
            assert!(explanation
                .rules
                .iter()
                .all(|r| r.outcome != RuleOutcome::Disabled));
        }
    }
}

#[test]
fn a_rule_disabled_by_the_kill_switch_is_explained_as_such() {
    let engine = project_engine();
    engine.set_rule_enabled("RF01_KYC_MANDATORY", false);
    let input = example("bid_create_kyc_missing.json");
    let explanation = engine.explain(&input);
    assert_eq!(explanation.rules[0].id, "RF01_KYC_MANDATORY");
    assert_eq!(explanation.rules[0].outcome, RuleOutcome::Disabled);
    assert_eq!(explanation_disagreement(&engine, &input), None);
}
