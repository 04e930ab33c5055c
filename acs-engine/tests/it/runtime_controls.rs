//! Run-time controls of a live engine: the kill switch, shadow mode, status and metrics.

use acs_engine::{Engine, Functions, RuleSwitch, Verdict};
use serde_json::{json, Value};

use crate::support::rule_line;

const RULES: &str = r#"
- id: BLOCK_BIG_BIDS
  priority: 100
  severity: high
  description: "Reject very large bids."
  condition: "event.type == 'bid.create' && bid.amount > 100000"
  action:
    - rejectRequest: { code: "TOO_BIG", message: "bid too large" }
  audit: true
- id: TRY_NEW_LIMIT
  priority: 200
  severity: medium
  description: "A stricter limit, tried in shadow mode before it is enforced."
  mode: shadow
  condition: "event.type == 'bid.create' && bid.amount > 50000"
  action:
    - rejectRequest: { code: "NEW_LIMIT", message: "bid above the new limit" }
  audit: false
- id: DORMANT
  priority: 50
  severity: low
  description: "Loaded but disabled in the file."
  enabled: false
  condition: "event.type == 'bid.create'"
  action:
    - flagWatchlist: { reason: "dormant" }
  audit: false
- id: LOOKUP
  priority: 10
  severity: low
  description: "Calls a host function that fails for one operator."
  condition: "event.type == 'bid.create' && risk.score(ctx.operatorId) > 5"
  action:
    - flagWatchlist: { reason: "risky" }
  audit: false
"#;

fn engine() -> Engine {
    let functions = Functions::new().with("risk.score", |args: &[&Value]| {
        if *args[0] == json!("OP-BAD") {
            Err(acs_engine::FunctionError::failed("risk service timeout"))
        } else {
            Ok(json!(9))
        }
    });
    Engine::builder()
        .functions(functions)
        .load_str("rules.yaml", RULES)
        .unwrap()
}

fn bid(amount: u64, operator: &str) -> Value {
    json!({"event": {"type": "bid.create", "bid": {"amount": amount}}, "ctx": {"operatorId": operator}})
}

#[test]
fn shadow_rules_are_reported_apart_and_never_decide() {
    let decision = engine().evaluate(&bid(75_000, "OP-1"));
    assert_eq!(decision.verdict, Verdict::Allowed);
    assert_eq!(decision.matched_ids(), ["LOOKUP"]);
    let shadow: Vec<&str> = decision.shadow_matched.iter().map(|m| m.id()).collect();
    assert_eq!(shadow, ["TRY_NEW_LIMIT"]);

    // When both match, the enforced rule decides even though the shadow rule ranks higher.
    let decision = engine().evaluate(&bid(150_000, "OP-1"));
    assert!(matches!(&decision.verdict, Verdict::Rejected(r) if r.rule_id() == "BLOCK_BIG_BIDS"));
}

#[test]
fn the_kill_switch_turns_rules_off_and_on_and_survives_reloads() {
    let engine = engine();
    assert!(engine.evaluate(&bid(150_000, "OP-1")).is_rejected());
    engine.set_rule_enabled("BLOCK_BIG_BIDS", false);
    assert!(!engine.evaluate(&bid(150_000, "OP-1")).is_rejected());
    assert_eq!(engine.plan().rule_enabled("BLOCK_BIG_BIDS"), Some(false));

    engine.reload().unwrap();
    assert!(
        !engine.evaluate(&bid(150_000, "OP-1")).is_rejected(),
        "the override survives a reload"
    );
    assert_eq!(
        engine.status().overrides.get("BLOCK_BIG_BIDS"),
        Some(&false)
    );

    // An override can also switch on a rule the file disables.
    engine.set_rule_enabled("DORMANT", true);
    assert!(engine
        .evaluate(&bid(10, "OP-1"))
        .matched_ids()
        .contains(&"DORMANT"));

    engine.clear_rule_override("BLOCK_BIG_BIDS");
    engine.clear_rule_override("DORMANT");
    let decision = engine.evaluate(&bid(150_000, "OP-1"));
    assert!(decision.is_rejected());
    assert!(!decision.matched_ids().contains(&"DORMANT"));
    assert!(engine.status().overrides.is_empty());
}

#[test]
fn a_rule_disabled_before_it_ships_arrives_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    let without = RULES.replace("BLOCK_BIG_BIDS", "OLD_NAME");
    std::fs::write(&path, &without).unwrap();
    let engine = Engine::builder()
        .function("risk.score", |_: &[&Value]| Ok(json!(9)))
        .load_path(&path)
        .unwrap();
    assert_eq!(
        engine.set_rule_enabled("BLOCK_BIG_BIDS", false),
        RuleSwitch::Pending
    );
    assert_eq!(
        engine.status().overrides.get("BLOCK_BIG_BIDS"),
        Some(&false)
    );
    std::fs::write(&path, RULES).unwrap();
    engine.reload().unwrap();
    assert_eq!(engine.plan().rule_enabled("BLOCK_BIG_BIDS"), Some(false));
    assert!(!engine
        .evaluate(&bid(200_000, "OP-1"))
        .matched_ids()
        .contains(&"BLOCK_BIG_BIDS"));
    assert_eq!(
        engine.set_rule_enabled("BLOCK_BIG_BIDS", true),
        RuleSwitch::Applied
    );
    assert!(engine.evaluate(&bid(200_000, "OP-1")).is_rejected());
}

#[test]
fn metrics_forget_the_rules_a_reload_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, RULES).unwrap();
    let engine = Engine::builder()
        .function("risk.score", |_: &[&Value]| Ok(json!(9)))
        .load_path(&path)
        .unwrap();
    engine.evaluate(&bid(200_000, "OP-1"));
    for round in 0..3 {
        let renamed = RULES.replace("BLOCK_BIG_BIDS", &format!("RENAMED_{round}"));
        std::fs::write(&path, renamed).unwrap();
        engine.reload().unwrap();
        engine.evaluate(&bid(200_000, "OP-1"));
    }
    let metrics = engine.metrics();
    let ids: Vec<&str> = metrics.rules.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&"RENAMED_2"), "{ids:?}");
    assert!(
        !ids.iter()
            .any(|id| *id == "BLOCK_BIG_BIDS" || *id == "RENAMED_0"),
        "{ids:?}"
    );
    // The evaluations themselves stay counted.
    assert_eq!(metrics.evaluations, 4);
}

#[test]
fn enabled_false_in_the_file_disables_a_rule_at_load() {
    let engine = engine();
    assert_eq!(engine.plan().rule_enabled("DORMANT"), Some(false));
    assert!(!engine
        .evaluate(&bid(10, "OP-1"))
        .matched_ids()
        .contains(&"DORMANT"));
}

#[test]
fn status_describes_the_serving_plan() {
    let engine = engine();
    let status = engine.status();
    assert_eq!(status.generation, 1);
    assert_eq!(status.rule_count, 4);
    assert_eq!(status.source, "rules.yaml");
    assert!(status.ruleset_hash.starts_with("sha256:"));
    assert!(status.loaded_at.ends_with('Z'), "{}", status.loaded_at);
    assert!(status.last_error.is_none());
    assert_eq!(engine.reload().unwrap().generation(), 2);
    assert_eq!(engine.evaluate(&bid(1, "OP-1")).generation, 2);
}

#[test]
fn metrics_count_evaluations_matches_and_errors_per_rule_across_reloads() {
    let engine = engine();
    for _ in 0..10 {
        engine.evaluate(&bid(150_000, "OP-1"));
    }
    engine.evaluate(&bid(10, "OP-BAD"));
    engine.reload().unwrap();
    engine.evaluate(&json!({"event": {"type": "other"}}));
    engine.evaluate(&bid(150_000, "OP-1"));

    let metrics = engine.metrics();
    assert_eq!(metrics.generation, 2);
    assert_eq!(metrics.evaluations, 13);
    let rule = |id: &str| metrics.rules.iter().find(|r| r.id == id).unwrap().clone();
    let big = rule("BLOCK_BIG_BIDS");
    assert_eq!((big.evaluations, big.matches, big.errors), (12, 11, 0));
    let shadow = rule("TRY_NEW_LIMIT");
    assert_eq!((shadow.evaluations, shadow.matches), (12, 11));
    let lookup = rule("LOOKUP");
    assert_eq!(
        (lookup.evaluations, lookup.matches, lookup.errors),
        (12, 11, 1)
    );
    assert_eq!(rule("DORMANT").evaluations, 0);
    assert!(
        metrics.latency_count >= 1,
        "at least one evaluation per thread is timed"
    );
}

#[test]
fn metrics_render_in_the_prometheus_text_format() {
    let engine = engine();
    engine.evaluate(&bid(150_000, "OP-1"));
    let text = engine.metrics().to_prometheus();
    for line in [
        "# TYPE acs_evaluations_total counter",
        "acs_evaluations_total 1",
        "acs_rules_generation 1",
        "acs_rule_matches_total{rule=\"BLOCK_BIG_BIDS\"} 1",
        "acs_rule_evaluations_total{rule=\"DORMANT\"} 0",
        "# TYPE acs_evaluation_duration_seconds histogram",
        "acs_evaluation_duration_seconds_bucket{le=\"+Inf\"} 1",
        "acs_evaluation_duration_seconds_count 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[test]
fn counters_are_exact_under_concurrent_evaluation() {
    let engine = engine();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..2_500 {
                    engine.evaluate(&bid(150_000, "OP-1"));
                }
            });
        }
    });
    let metrics = engine.metrics();
    assert_eq!(metrics.evaluations, 10_000);
    assert_eq!(
        metrics
            .rules
            .iter()
            .find(|r| r.id == "BLOCK_BIG_BIDS")
            .unwrap()
            .matches,
        10_000
    );
}

#[test]
fn the_engine_handle_is_cheap_to_clone_and_shares_the_plan() {
    let engine = engine();
    let clone = engine.clone();
    engine.reload().unwrap();
    assert_eq!(clone.status().generation, 2);
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
}

#[test]
fn metrics_can_be_disabled() {
    let engine = Engine::builder()
        .metrics(false)
        .load_str("rules.yaml", RULES)
        .unwrap();
    engine.evaluate(&bid(150_000, "OP-1"));
    engine.reload().unwrap();
    engine.evaluate(&bid(150_000, "OP-1"));
    let metrics = engine.metrics();
    assert_eq!(metrics.evaluations, 0);
    assert_eq!(metrics.latency_count, 0);
    assert!(metrics.rules.iter().all(|r| r.evaluations == 0));
}

/// A host function written as a type, registered as a trait object.
struct RiskService {
    threshold: i64,
}

impl acs_engine::HostFunction for RiskService {
    fn call(&self, args: &[&Value]) -> Result<Value, acs_engine::FunctionError> {
        let amount = args.first().and_then(|v| v.as_i64()).unwrap_or(0);
        Ok(json!(amount > self.threshold))
    }
}

#[test]
fn trait_objects_register_as_host_functions() {
    let boxed: Box<dyn acs_engine::HostFunction> = Box::new(RiskService { threshold: 100 });
    let shared: std::sync::Arc<dyn acs_engine::HostFunction> =
        std::sync::Arc::new(RiskService { threshold: 1_000 });
    let rules = r#"
- id: RISKY
  priority: 1
  severity: low
  description: "two services"
  condition: "risk.boxed(bid.amount) && !risk.shared(bid.amount)"
  action: []
  audit: false
"#;
    let engine = Engine::builder()
        .function("risk.boxed", boxed)
        .function("risk.shared", shared)
        .load_str("rules.yaml", rules)
        .unwrap();
    let decision = engine.evaluate(&json!({"event": {"bid": {"amount": 500}}}));
    assert_eq!(decision.matched_ids(), ["RISKY"]);
    assert!(decision.errors.is_empty());
}

/// Rules are compiled grouped by gate type, not in priority order: counters, the kill
/// switch and the reported order must still follow the rule ids and priorities.
#[test]
fn counters_and_the_kill_switch_follow_each_rule_whatever_the_layout() {
    let text = [
        rule_line("Z_LOW", 1, "event.type == 'z'"),
        rule_line("A_HIGH", 9, "event.type == 'a'"),
        rule_line("ANY_MID", 5, "true"),
        rule_line("Z_HIGH", 8, "event.type in ['z', 'a'] && x == 1"),
        rule_line("A_LOW", 2, "event.type == 'a' && x == 2"),
    ]
    .concat();
    let engine = Engine::builder().load_str("layout.yaml", text).unwrap();
    let plan = engine.plan();
    assert_eq!(
        plan.rule_ids().collect::<Vec<_>>(),
        ["A_HIGH", "Z_HIGH", "ANY_MID", "A_LOW", "Z_LOW"]
    );
    let decision = engine.evaluate(&json!({ "event": { "type": "a", "x": 1 } }));
    assert_eq!(decision.matched_ids(), ["A_HIGH", "Z_HIGH", "ANY_MID"]);
    engine.evaluate(&json!({ "event": { "type": "z", "x": 2 } }));
    engine.set_rule_enabled("Z_HIGH", false);
    let decision = engine.evaluate(&json!({ "event": { "type": "a", "x": 1 } }));
    assert_eq!(decision.matched_ids(), ["A_HIGH", "ANY_MID"]);
    let counts: Vec<(String, u64, u64)> = engine
        .metrics()
        .rules
        .into_iter()
        .map(|r| (r.id, r.evaluations, r.matches))
        .collect();
    let want = [
        ("A_HIGH", 2, 2),
        ("Z_HIGH", 2, 1),
        ("ANY_MID", 3, 3),
        ("A_LOW", 2, 0),
        ("Z_LOW", 1, 1),
    ];
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|&(id, evaluations, matches)| (id.to_owned(), evaluations, matches))
        .collect();
    assert_eq!(counts, want);
}
