//! Host functions over the bundles: registered, unregistered, failing, stubbed, memoised
//! within one evaluation, and `now` pinned by the host.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use acs_engine::{Decision, Engine, FunctionError, Functions, Verdict};
use acs_integration_tests::*;
use serde_json::{json, Value};

/// Host calls seen: function name and arguments.
type CallLog = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

/// A `bid.create` by an unverified operator whose bid also calls RF21's and RF22's functions.
fn unverified_bid() -> Value {
    with(clean_bid(), &[("/ctx/userKycStatus", Value::Null)])
}

fn error_for<'a>(decision: &'a Decision, rule: &str) -> &'a acs_engine::RuleError {
    decision
        .errors
        .iter()
        .find(|e| &*e.rule_id == rule)
        .unwrap_or_else(|| panic!("no error for {rule}: {:?}", decision.errors))
}

/// 1-based (line, column) of `needle` on the first `condition:` line of `path` holding it.
fn position_in(path: &std::path::Path, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .find_map(|(i, line)| {
            line.find(needle)
                .filter(|_| line.trim_start().starts_with("condition:"))
                .map(|byte| (i + 1, line[..byte].chars().count() + 1))
        })
        .unwrap_or_else(|| panic!("`{needle}` not in {}", path.display()))
}

fn bundles() -> Vec<(&'static str, std::path::PathBuf)> {
    let mut bundles = vec![("project bundle", PROJECT_BUNDLE.into())];
    if let Some(legacy) = legacy_bundle() {
        bundles.push(("legacy bundle", legacy.to_owned()));
    }
    bundles
}

#[test]
fn unregistered_function_errors_its_rule_by_id_and_name_while_other_rules_still_match() {
    for (bundle, path) in bundles() {
        let engine = Engine::from_path(&path).unwrap();
        let decision = engine.evaluate(&unverified_bid());

        assert_eq!(decision.matched_ids(), ["RF01_KYC_MANDATORY"], "{bundle}");
        assert!(decision.is_rejected(), "{bundle}");
        assert_eq!(decision.rules_evaluated, 6, "{bundle}");
        assert_eq!(
            error_ids(&decision),
            ["RF21_PREDATORY_BID_DETECT", "RF22_MAINTENANCE_WINDOW_BLOCK"],
            "{bundle}"
        );
        for (rule, function) in [
            ("RF21_PREDATORY_BID_DETECT", "priceEstimator.lowerBound"),
            (
                "RF22_MAINTENANCE_WINDOW_BLOCK",
                "operator.maintenanceWindowActive",
            ),
        ] {
            let error = error_for(&decision, rule);
            assert!(
                error.message.contains(&format!("`{function}`")),
                "{bundle}: {rule}: {}",
                error.message
            );
            assert!(
                error.message.contains("not registered"),
                "{bundle}: {}",
                error.message
            );
            let location = error
                .location
                .as_ref()
                .expect("a runtime error has a location");
            assert_eq!(location.file, path.display().to_string(), "{bundle}");
            let (line, column) = position_in(&path, &format!("{function}("));
            assert_eq!(
                (location.line, location.column),
                (line, column),
                "{bundle}: {rule}"
            );
        }
    }
}

#[test]
fn unregistered_functions_are_load_warnings_not_load_errors() {
    for (bundle, path) in bundles() {
        let engine = Engine::from_path(&path).unwrap();
        let plan = engine.plan();
        assert_eq!(plan.rule_count(), 25, "{bundle}");
        for (function, _) in HOST_FUNCTIONS {
            let warned = plan
                .warnings()
                .iter()
                .any(|w| w.code == "ACS401" && w.message.contains(&format!("`{function}`")));
            // The project bundle declares the velocity counter RF20 reads, which makes
            // `rate.limitExceeded` a built-in there; the legacy bundle leaves it to the host.
            let built_in = function == "rate.limitExceeded" && bundle == "project bundle";
            assert_eq!(
                warned,
                !built_in,
                "{bundle}: ACS401 for {function}: {:?}",
                plan.warnings()
            );
        }
        let registered = engine_at(&path);
        assert!(
            !registered
                .plan()
                .warnings()
                .iter()
                .any(|w| w.code == "ACS401"),
            "{bundle}: {:?}",
            registered.plan().warnings()
        );
    }
}

#[test]
fn registered_functions_let_their_rules_match_without_errors() {
    for (bundle, engine) in all_engines() {
        let doc = with(
            unverified_bid(),
            &[
                ("/event/bid/amount", json!(10_000)),
                ("/ctx/operatorId", json!(OPERATOR_IN_MAINTENANCE)),
            ],
        );
        let decision = engine.evaluate(&doc);
        assert!(
            decision.errors.is_empty(),
            "{bundle}: {:?}",
            decision.errors
        );
        assert_eq!(
            decision.matched_ids(),
            [
                "RF01_KYC_MANDATORY",
                "RF21_PREDATORY_BID_DETECT",
                "RF22_MAINTENANCE_WINDOW_BLOCK"
            ],
            "{bundle}"
        );
    }
}

#[test]
fn a_missing_function_breaks_only_the_rules_that_call_it() {
    let engine = Engine::builder()
        .functions(host_functions())
        .function(
            "rate.limitExceeded",
            |_: &[&Value]| -> Result<Value, FunctionError> { Err(FunctionError::not_registered()) },
        )
        .load_path(PROJECT_BUNDLE)
        .unwrap();
    let flood = engine.evaluate(&input(
        "bid.modify",
        json!({}),
        json!({ "userId": FLOODING_USER }),
    ));
    assert!(flood.matched.is_empty());
    assert_eq!(error_ids(&flood), ["RF20_BID_FLOOD_RATE_LIMIT"]);
    assert!(
        flood.errors[0]
            .message
            .contains("`rate.limitExceeded` is not registered for these arguments"),
        "{}",
        flood.errors[0].message
    );
    let truck = engine.evaluate(&input(
        "truck.create",
        json!({}),
        operator_ctx("U", OPERATOR_AT_LIMIT),
    ));
    assert_eq!(truck.matched_ids(), ["RF12_OPERATOR_MAX_TRUCKS_LIMIT"]);
    assert!(truck.errors.is_empty());
}

#[test]
fn a_failing_or_panicking_function_is_an_error_of_its_rule_only() {
    let engine = Engine::builder()
        .functions(host_functions())
        .function(
            "priceEstimator.lowerBound",
            |_: &[&Value]| -> Result<Value, FunctionError> {
                Err(FunctionError::failed("estimator timed out"))
            },
        )
        .function(
            "operator.maintenanceWindowActive",
            |_: &[&Value]| -> Result<Value, FunctionError> {
                panic!("maintenance service exploded")
            },
        )
        .load_path(PROJECT_BUNDLE)
        .unwrap();
    let decision = engine.evaluate(&unverified_bid());
    assert_eq!(decision.matched_ids(), ["RF01_KYC_MANDATORY"]);
    let estimator = error_for(&decision, "RF21_PREDATORY_BID_DETECT");
    assert!(
        estimator.message.contains("`priceEstimator.lowerBound`"),
        "{}",
        estimator.message
    );
    assert!(
        estimator.message.contains("estimator timed out"),
        "{}",
        estimator.message
    );
    let maintenance = error_for(&decision, "RF22_MAINTENANCE_WINDOW_BLOCK");
    assert!(
        maintenance
            .message
            .contains("`operator.maintenanceWindowActive`"),
        "{}",
        maintenance.message
    );
    assert_eq!(decision.errors.len(), 2);
}

#[test]
fn a_function_called_by_two_rules_with_equal_args_runs_once_per_evaluation() {
    let rules = r#"
- id: MANY_TRUCKS
  priority: 20
  severity: medium
  description: The operator has many trucks.
  condition: "event.type == 'truck.create' && db.count.trucksByOperator(ctx.operatorId) >= 10"
  action:
    - notifyRole: { role: "operator", message: "{{ctx.operatorId}} has many trucks" }
  audit: false
- id: ANY_TRUCKS
  priority: 10
  severity: low
  description: The operator has trucks; asks the same question with the same argument.
  condition: "event.type in ['truck.create', 'bid.create'] && db.count.trucksByOperator(ctx.operatorId) > 0"
  action:
    - proceed: { outcome: "has trucks" }
  audit: false
- id: OTHER_OPERATOR
  priority: 5
  severity: low
  description: Asks about another operator; a different argument is a different call.
  condition: "event.type == 'truck.create' && db.count.trucksByOperator(ctx.parentOperatorId) > 100"
  action:
    - proceed: { outcome: "big parent" }
  audit: false
"#;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let engine = Engine::builder()
        .function("db.count.trucksByOperator", move |args: &[&Value]| {
            counter.fetch_add(1, Ordering::SeqCst);
            trucks_by_operator(args)
        })
        .load_str("memo.yaml", rules)
        .unwrap();

    let doc = input(
        "truck.create",
        json!({}),
        operator_ctx("U", OPERATOR_AT_LIMIT),
    );
    let decision = engine.evaluate(&doc);
    assert_eq!(decision.matched_ids(), ["MANY_TRUCKS", "ANY_TRUCKS"]);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "OP-1 once, the missing parent once"
    );

    // The memo lives for one evaluation only.
    engine.evaluate(&doc);
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    let mut with_parent = doc.clone();
    with_parent["ctx"]["parentOperatorId"] = json!(OPERATOR_AT_LIMIT);
    calls.store(0, Ordering::SeqCst);
    engine.evaluate(&with_parent);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "all three calls have equal args"
    );
}

#[test]
fn each_bundle_function_runs_once_when_every_bid_rule_needs_it() {
    for (bundle, path) in bundles() {
        let calls: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut functions = Functions::new();
        for (name, function) in HOST_FUNCTIONS
            .into_iter()
            .chain([("now", pinned_now as HostFn)])
        {
            let log = Arc::clone(&calls);
            functions.register(name, move |args: &[&Value]| {
                log.lock().unwrap().push(name.to_owned());
                function(args)
            });
        }
        let engine = Engine::builder()
            .functions(functions)
            .load_path(&path)
            .unwrap();
        let doc = with(
            clean_bid(),
            &[
                ("/event/bid/amount", json!(1000)),
                ("/ctx/operatorId", json!(OPERATOR_IN_MAINTENANCE)),
            ],
        );
        let decision = engine.evaluate(&doc);
        assert_eq!(
            decision.matched_ids(),
            ["RF21_PREDATORY_BID_DETECT", "RF22_MAINTENANCE_WINDOW_BLOCK"],
            "{bundle}"
        );
        let mut log = calls.lock().unwrap().clone();
        log.sort();
        assert_eq!(
            log,
            [
                "now",
                "operator.maintenanceWindowActive",
                "priceEstimator.lowerBound"
            ],
            "{bundle}: only the bid.create rules' functions, once each"
        );
    }
}

#[test]
fn a_host_now_overrides_the_builtin_clock() {
    let rules = r#"
- id: PINNED_CLOCK
  priority: 1
  severity: low
  description: Matches only at the pinned instant.
  condition: "event.type == 'tick' && now() == 1763726400000 && now() + 1000 > event.at"
  action:
    - emitEvent: { name: "tick", payload: { at: "{{now()}}" } }
  audit: false
"#;
    let tick = json!({ "event": { "type": "tick", "at": "2025-11-21T12:00:00Z" } });
    let pinned = Engine::builder()
        .function("now", pinned_now)
        .load_str("clock.yaml", rules)
        .unwrap();
    let decision = pinned.evaluate(&tick);
    assert_eq!(decision.matched_ids(), ["PINNED_CLOCK"]);
    let rule = find_match(&decision, "PINNED_CLOCK").unwrap();
    assert_eq!(
        action_param(rule, "emitEvent", "/payload/at"),
        Some(&json!(NOW_MS))
    );

    let system_clock = Engine::builder().load_str("clock.yaml", rules).unwrap();
    let decision = system_clock.evaluate(&tick);
    assert!(decision.matched.is_empty());
    assert!(decision.errors.is_empty());
}

#[test]
fn rf22_passes_the_host_clock_to_the_maintenance_check() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = Arc::clone(&seen);
    let builder = |now: Option<i64>| {
        let log = Arc::clone(&log);
        let mut builder = Engine::builder().function(
            "operator.maintenanceWindowActive",
            move |args: &[&Value]| -> Result<Value, FunctionError> {
                log.lock()
                    .unwrap()
                    .push(args.get(1).map_or(Value::Null, |v| (*v).clone()));
                maintenance_window_active(args)
            },
        );
        if let Some(now) = now {
            builder = builder
                .function("now", move |_: &[&Value]| -> Result<Value, FunctionError> {
                    Ok(json!(now))
                });
        }
        builder.load_path(PROJECT_BUNDLE).unwrap()
    };
    let doc = input(
        "truck.create",
        json!({}),
        operator_ctx("U", OPERATOR_IN_MAINTENANCE),
    );

    let pinned = builder(Some(NOW_MS)).evaluate(&doc);
    assert!(pinned
        .matched_ids()
        .contains(&"RF22_MAINTENANCE_WINDOW_BLOCK"));

    let later = builder(Some(NOW_MS + 1)).evaluate(&doc);
    assert!(!later
        .matched_ids()
        .contains(&"RF22_MAINTENANCE_WINDOW_BLOCK"));

    let system = builder(None).evaluate(&doc);
    assert!(!system
        .matched_ids()
        .contains(&"RF22_MAINTENANCE_WINDOW_BLOCK"));

    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], json!(NOW_MS));
    assert_eq!(seen[1], json!(NOW_MS + 1));
    let system_now = seen[2].as_f64().expect("the built-in clock gives a number");
    assert!(system_now > 1.7e12, "built-in now() = {system_now}");
}

#[test]
fn project_bundle_never_asks_the_host_about_missing_values_but_the_legacy_bundle_does() {
    let calls: CallLog = Arc::default();
    let mut strict = Functions::new();
    for (name, _) in HOST_FUNCTIONS {
        let log = Arc::clone(&calls);
        strict.register(
            name,
            move |args: &[&Value]| -> Result<Value, FunctionError> {
                log.lock().unwrap().push((
                    name.to_owned(),
                    args.iter().map(|v| (*v).clone()).collect::<Vec<Value>>(),
                ));
                if args.iter().any(|v| v.is_null()) {
                    Err(FunctionError::failed("called with null"))
                } else {
                    Ok(json!(false))
                }
            },
        );
    }
    for (bundle, path) in bundles() {
        calls.lock().unwrap().clear();
        let engine = Engine::builder()
            .functions(strict.clone())
            .function("now", pinned_now)
            .load_path(&path)
            .unwrap();
        let mut errored: Vec<String> = Vec::new();
        for (event_type, _) in EVENT_TYPES {
            let decision = engine.evaluate(&bare(event_type));
            errored.extend(decision.errors.iter().map(|e| e.rule_id.to_string()));
            for error in &decision.errors {
                assert!(
                    error.message.contains("called with null"),
                    "{}",
                    error.message
                );
            }
        }
        errored.sort();
        errored.dedup();
        if bundle == "project bundle" {
            assert!(errored.is_empty(), "{bundle}: {errored:?}");
            assert!(
                calls.lock().unwrap().is_empty(),
                "{bundle}: {:?}",
                calls.lock().unwrap()
            );
        } else {
            // Unguarded calls in the legacy conditions reach the host with nulls.
            assert_eq!(
                errored,
                [
                    "RF12_OPERATOR_MAX_TRUCKS_LIMIT",
                    "RF17_DEVICE_ACCOUNT_COLLISION",
                    "RF20_BID_FLOOD_RATE_LIMIT",
                    "RF21_PREDATORY_BID_DETECT",
                    "RF22_MAINTENANCE_WINDOW_BLOCK",
                ],
                "{bundle}"
            );
        }
    }
}

#[test]
fn shipped_stubs_reproduce_the_readme_example_outcomes() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/examples");
    let stubs: Value =
        serde_json::from_slice(&std::fs::read(format!("{examples}/stubs.json")).unwrap()).unwrap();
    for path in [PROJECT_BUNDLE, RULES_DIR] {
        let engine = Engine::builder()
            .functions(Functions::from_stubs(&stubs).unwrap())
            .load_path(path)
            .unwrap();
        for (file, ids, code) in EXAMPLE_OUTCOMES {
            let bytes = std::fs::read(format!("{examples}/{file}")).unwrap();
            let decision = engine.evaluate_json(&bytes).unwrap();
            assert_eq!(decision.matched_ids(), ids, "{path}: {file}");
            assert!(
                decision.errors.is_empty(),
                "{path}: {file}: {:?}",
                decision.errors
            );
            let got = match &decision.verdict {
                Verdict::Allowed => None,
                Verdict::Rejected(rejection) => rejection.code(),
            };
            assert_eq!(got, code, "{path}: {file}");
        }
    }
}

#[test]
fn a_stub_with_no_entry_for_the_arguments_is_an_error_of_that_rule() {
    let stubs = json!({
        "now": [[[], NOW_MS]],
        "db.count.trucksByOperator": [[["OP-1"], 12]],
        "operator.maintenanceWindowActive": [[["OP-1", NOW_MS], false]]
    });
    let engine = Engine::builder()
        .functions(Functions::from_stubs(&stubs).unwrap())
        .load_path(PROJECT_BUNDLE)
        .unwrap();
    let decision = engine.evaluate(&input(
        "truck.create",
        json!({}),
        operator_ctx("U", "OP-NEW"),
    ));
    assert!(decision.matched.is_empty());
    assert_eq!(
        error_ids(&decision),
        [
            "RF12_OPERATOR_MAX_TRUCKS_LIMIT",
            "RF22_MAINTENANCE_WINDOW_BLOCK"
        ]
    );
    assert!(decision.errors[0]
        .message
        .contains("`db.count.trucksByOperator` is not registered for these arguments"));
    let known = engine.evaluate(&input("truck.create", json!({}), operator_ctx("U", "OP-1")));
    assert_eq!(known.matched_ids(), ["RF12_OPERATOR_MAX_TRUCKS_LIMIT"]);
    assert!(known.errors.is_empty());
}
