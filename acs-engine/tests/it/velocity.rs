//! Velocity counters: declared in a rules file, recorded once per evaluation whatever the
//! conditions do, read by `velocity.count` and `rate.limitExceeded`, idempotent per event
//! id, shared across reloads, refused at load when a call names what is not declared.

use std::sync::Arc;

use acs_engine::velocity::{LocalStore, VelocityStore, Window};
use acs_engine::{Engine, Functions, Step};
use serde_json::{json, Value};

const RULES: &str = r#"
velocity:
  - name: bid.modify
    events: [bid.modify]
    key: ctx.userId
    windows: [1m, 1h]
  - name: logins
    events: [user.login, user.login.sso]
    key: ctx.deviceId
    windows: [24h]
    id: event.id
  - name: device_users
    events: [user.login]
    key: [ctx.deviceId, ctx.userId]
    windows: [24h]
rules:
  - id: BID_FLOOD
    priority: 10
    severity: high
    description: more than 3 bid changes by one user in a minute
    condition: "event.type == 'bid.modify' && rate.limitExceeded(ctx.userId, 'bid.modify', 3) == true"
    action:
      - rejectRequest: { code: BID_FLOOD, message: "{{velocity.count('bid.modify', ctx.userId, '1h')}} this hour" }
    audit: false
  - id: NEVER_READS
    priority: 5
    severity: low
    description: "a rule that is never true: the event is counted all the same"
    condition: "event.type == 'nothing'"
    action:
      - flagWatchlist: { reason: never }
    audit: false
  - id: THIRD_LOGIN
    priority: 1
    severity: low
    description: a device logging in a third time today
    condition: "event.type in ['user.login', 'user.login.sso'] && velocity.count('logins', ctx.deviceId, '24h') >= 3 && velocity.count('logins', 'D-never', '24h') == 0"
    action:
      - flagWatchlist: { reason: "logins" }
    audit: false
"#;

fn bid_modify(user: &str) -> Value {
    json!({"event": {"type": "bid.modify"}, "ctx": {"userId": user}})
}

fn engine() -> Engine {
    Engine::builder().load_str("rules.yaml", RULES).unwrap()
}

#[test]
fn the_shipped_velocity_rule_counts_bid_changes_and_rejects_the_fourth() {
    let engine = engine();
    for n in 1..=3 {
        let decision = engine.evaluate(&bid_modify("U-1"));
        assert!(decision.errors.is_empty(), "{:?}", decision.errors);
        assert!(
            decision.matched.is_empty(),
            "change {n} is within the limit"
        );
    }
    let fourth = engine.evaluate(&bid_modify("U-1"));
    assert_eq!(fourth.matched_ids(), ["BID_FLOOD"]);
    let message = serde_json::to_value(&fourth).unwrap()["verdict"]["message"].clone();
    assert_eq!(
        message, "4 this hour",
        "the count includes the event itself"
    );
    // Another user has a count of their own.
    assert!(engine.evaluate(&bid_modify("U-2")).matched.is_empty());
}

#[test]
fn an_event_is_counted_once_per_id_and_whatever_the_conditions_read() {
    let store = Arc::new(LocalStore::default());
    let engine = Engine::builder()
        .velocity_store(store.clone())
        .load_str("rules.yaml", RULES)
        .unwrap();
    let login = |id: &str| json!({"event": {"type": "user.login", "id": id}, "ctx": {"deviceId": "D-1", "userId": "U-1"}});
    let mut third = Vec::new();
    for id in ["e1", "e2", "e2", "e3"] {
        let decision = engine.evaluate(&login(id));
        assert!(decision.errors.is_empty(), "{:?}", decision.errors);
        third.push(!decision.matched.is_empty());
    }
    assert_eq!(
        third,
        [false, false, false, true],
        "the retried e2 counted once"
    );
    // No rule reads `device_users`: its events are counted all the same, once each.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    let day = [Window::parse("24h").unwrap()];
    let key = acs_engine::velocity::join_key(&["D-1", "U-1"]);
    assert_eq!(store.read("device_users", &key, &day, now).unwrap(), [4]);
    // An event without the key's fields is not counted under any key.
    // (A rule reading the count of that missing key reports it.)
    let keyless = json!({"event": {"type": "user.login", "id": "e4"}, "ctx": {}});
    let errors = engine.evaluate(&keyless).errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .message
            .contains("a counter's key is a string or an integer, found null"),
        "{errors:?}"
    );
    assert_eq!(store.keys(), 2);
}

#[test]
fn a_store_of_the_hosts_choosing_is_shared_across_reloads_and_engines() {
    let store = Arc::new(LocalStore::default());
    let scratch = crate::support::scratch("velocity");
    let file = scratch.path().join("rules.yaml");
    std::fs::write(&file, RULES).unwrap();
    let first = Engine::builder()
        .velocity_store(store.clone())
        .load_path(&file)
        .unwrap();
    let second = Engine::builder()
        .velocity_store(store.clone())
        .load_path(&file)
        .unwrap();
    first.evaluate(&bid_modify("U-7"));
    second.evaluate(&bid_modify("U-7"));
    std::fs::write(&file, RULES.replace("more than 3", "more than three")).unwrap();
    first.reload().unwrap();
    first.evaluate(&bid_modify("U-7"));
    let windows = [Window::parse("1m").unwrap(), Window::parse("1h").unwrap()];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    assert_eq!(
        store.read("bid.modify", "U-7", &windows, now).unwrap(),
        [3, 3]
    );
    assert_eq!(
        second.evaluate(&bid_modify("U-7")).matched_ids(),
        ["BID_FLOOD"]
    );
}

#[test]
fn a_host_function_of_the_same_name_takes_precedence() {
    let engine = Engine::builder()
        .functions(Functions::new().with("rate.limitExceeded", |_: &[&Value]| Ok(json!(true))))
        .load_str("rules.yaml", RULES)
        .unwrap();
    assert_eq!(
        engine.evaluate(&bid_modify("U-1")).matched_ids(),
        ["BID_FLOOD"]
    );
}

#[test]
fn a_resumable_evaluation_records_once_over_its_rounds() {
    const ASYNC: &str = r#"
velocity:
  - name: pay
    events: [pay]
    key: ctx.userId
    windows: [1h]
rules:
  - id: RISKY_AND_FAST
    priority: 1
    severity: high
    description: a host call first, then the count
    condition: "event.type == 'pay' && db.risk(ctx.userId) > 1 && velocity.count('pay', ctx.userId, '1h') > 1"
    action:
      - rejectRequest: { code: FAST, message: "fast" }
    audit: false
"#;
    let engine = Engine::builder()
        .function("db.risk", |_: &[&Value]| Ok(json!(5)))
        .load_str("rules.yaml", ASYNC)
        .unwrap();
    let pay = json!({"event": {"type": "pay"}, "ctx": {"userId": "U-1"}});
    for expected in [false, true] {
        let mut evaluation = engine.evaluation(pay.clone());
        let mut rounds = 0;
        let decision = loop {
            rounds += 1;
            match evaluation.poll() {
                Step::Decided(decision) => break decision,
                Step::Needs(calls) => {
                    for call in calls {
                        evaluation.answer(call.id, Ok(json!(5))).unwrap();
                    }
                }
            }
        };
        assert!(rounds >= 2, "the host call needed a round");
        assert_eq!(!decision.matched.is_empty(), expected, "{decision:?}");
    }
}

#[test]
fn calls_naming_what_is_not_declared_are_refused_at_load_with_the_position() {
    for (condition, says) in [
        (
            "velocity.count('bid.modfy', ctx.userId, '1m') > 1",
            "unknown velocity counter `bid.modfy`",
        ),
        (
            "velocity.count('bid.modify', ctx.userId, '5m') > 1",
            "the window `5m` is not declared",
        ),
        (
            "velocity.count('bid.modify', ctx.userId) > 1",
            "takes 3 arguments",
        ),
        (
            "velocity.count('bid.modify', 1.5, '1m') > 1",
            "a counter's key is a string or an integer",
        ),
        (
            "velocity.count(ctx.name, ctx.userId, '1m') > 1",
            "a counter is named by a string literal",
        ),
    ] {
        let rules = RULES.replace(
            "rate.limitExceeded(ctx.userId, 'bid.modify', 3) == true",
            condition,
        );
        let error = Engine::builder()
            .load_str("rules.yaml", &rules)
            .unwrap_err();
        let diagnostics = error.diagnostics();
        let found = diagnostics
            .iter()
            .find(|d| d.code == "ACS304" && d.message.contains(says));
        assert!(found.is_some(), "{condition}: {diagnostics:?}");
        let location = found.unwrap().location.clone().unwrap();
        assert_eq!((location.file.as_str(), location.line), ("rules.yaml", 21));
    }
    // Without any counter declared, `rate.limitExceeded` is the host's function (the
    // legacy bundle's case): an unregistered call, not a load error.
    let plain = format!("\n{}", RULES.split("rules:\n").nth(1).unwrap()).replace("\n  ", "\n");
    let legacy = plain
        .replace("velocity.count('bid.modify', ctx.userId, '1h')", "1")
        .replace(
            "velocity.count('logins', ctx.deviceId, '24h') >= 3 && velocity.count('logins', 'D-never', '24h') == 0",
            "true",
        );
    let engine = Engine::builder().load_str("legacy.yaml", &legacy).unwrap();
    let decision = engine.evaluate(&bid_modify("U-1"));
    assert!(
        decision.errors[0].message.contains("not registered"),
        "{:?}",
        decision.errors
    );
}

#[test]
fn bad_declarations_are_reported_with_file_line_and_column() {
    for (declaration, says) in [
        ("  - name: a\n    events: [x]\n    key: ctx.userId\n    windows: [5w]\n", "is not a window"),
        ("  - name: a\n    events: []\n    key: ctx.userId\n    windows: [1m]\n", "at least one event type"),
        ("  - name: a\n    events: [x]\n    windows: [1m]\n", "counter is missing `key`"),
        ("  - name: a\n    events: [x]\n    key: ctx.userId\n    windows: [1m]\n    on_failure: maybe\n", "unknown failure policy"),
        ("  - name: a\n    events: [x]\n    key: ctx.userId\n    windows: [1m]\n    window: [1h]\n", "unknown key `window`"),
        ("  - name: a\n    events: [x]\n    key: \"ctx.userId &&\"\n    windows: [1m]\n", "invalid condition"),
        ("  - name: a\n    events: [x]\n    key: ctx.a\n    windows: [1m]\n  - name: a\n    events: [y]\n    key: ctx.b\n    windows: [1m]\n", "duplicate counter name `a`"),
    ] {
        let text = format!("velocity:\n{declaration}rules:\n  - id: R\n    priority: 1\n    severity: low\n    description: d\n    condition: \"true\"\n    action: []\n    audit: false\n");
        let error = Engine::builder().load_str("bundle.yaml", &text).unwrap_err();
        let diagnostics = error.diagnostics();
        let found = diagnostics.iter().find(|d| d.message.contains(says));
        let Some(found) = found else {
            panic!("{says}: {diagnostics:?}");
        };
        let location = found.location.as_ref().unwrap();
        assert_eq!(location.file, "bundle.yaml");
        assert!(location.line >= 2, "{location:?}");
    }
    let error = Engine::builder()
        .load_str("bundle.yaml", "velocity: []\nrulez: []\n")
        .unwrap_err();
    assert!(format!("{:?}", error.diagnostics()).contains("did you mean `rules`?"));
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
}

#[test]
fn an_explanation_reads_the_counts_and_records_nothing() {
    let store = Arc::new(LocalStore::default());
    let engine = Engine::builder()
        .velocity_store(store.clone())
        .load_str("rules.yaml", RULES)
        .unwrap();
    for _ in 0..4 {
        engine.evaluate(&bid_modify("U-1"));
    }
    let explanation = engine.explain(&bid_modify("U-1"));
    let flood = explanation
        .rules
        .iter()
        .find(|r| r.id == "BID_FLOOD")
        .unwrap();
    assert_eq!(
        serde_json::to_value(flood.outcome).unwrap(),
        json!("matched"),
        "{flood:?}"
    );
    let windows = [Window::parse("1m").unwrap(), Window::parse("1h").unwrap()];
    assert_eq!(
        store.read("bid.modify", "U-1", &windows, now_ms()).unwrap(),
        [4, 4]
    );
}

#[cfg(feature = "tools")]
#[test]
fn a_backtest_counts_in_a_store_of_its_own_in_input_order_on_every_thread() {
    use acs_engine::backtest::Backtest;
    let store = Arc::new(LocalStore::default());
    let engine = Engine::builder()
        .velocity_store(store.clone())
        .load_str("rules.yaml", RULES)
        .unwrap();
    let lines: String = (0..10)
        .map(|_| format!("{}\n", bid_modify("U-5")))
        .collect();
    let report = Backtest::new(&engine)
        .threads(4)
        .run(lines.as_bytes(), |_| {})
        .unwrap();
    let flood = report.rules.iter().find(|r| r.id == "BID_FLOOD").unwrap();
    assert_eq!(flood.matches, 7, "changes 4 to 10 of one user");
    assert_eq!(
        report.throughput.threads, 4,
        "counts need no order of evaluation"
    );
    let windows = [Window::parse("1m").unwrap(), Window::parse("1h").unwrap()];
    assert_eq!(
        store.read("bid.modify", "U-5", &windows, now_ms()).unwrap(),
        [0, 0],
        "the engine's counts are untouched"
    );
    assert!(engine.evaluate(&bid_modify("U-5")).matched.is_empty());
}

#[cfg(feature = "tools")]
#[test]
fn a_backtest_counts_recorded_events_at_their_own_instants() {
    use acs_engine::backtest::Backtest;
    const TIMED: &str = r#"
velocity:
  - name: pays
    events: [pay]
    key: ctx.userId
    windows: [1m]
    time: event.occurredAt
rules:
  - id: BURST
    priority: 1
    severity: low
    description: a fourth payment within a minute
    condition: "event.type == 'pay' && velocity.count('pays', ctx.userId, '1m') > 3"
    action: [ { flagWatchlist: { reason: burst } } ]
    audit: false
"#;
    let engine = Engine::builder().load_str("rules.yaml", TIMED).unwrap();
    // A day ago: 3 payments 20 s apart (never 4 in a minute), then a burst of 5 within
    // 10 s, an hour later; instants as epoch ms and as RFC 3339 text.
    let start = 1_764_800_000_000_i64;
    let mut instants: Vec<Value> = (0..3).map(|i| json!(start + i * 20_000)).collect();
    for i in 0..5 {
        let at = start + 3_600_000 + i * 2_000;
        let text = chrono::DateTime::from_timestamp_millis(at)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        instants.push(json!(text));
    }
    let lines: String = instants
        .iter()
        .map(|at| {
            format!(
                "{}\n",
                json!({"event": {"type": "pay", "occurredAt": at}, "ctx": {"userId": "U-T"}})
            )
        })
        .collect();
    let report = Backtest::new(&engine)
        .run(lines.as_bytes(), |_| {})
        .unwrap();
    assert_eq!(
        report.rules[0].matches, 2,
        "the 4th and 5th of the burst only"
    );
    assert_eq!(report.rules[0].errors, 0);
}

#[cfg(feature = "tools")]
const PAYS: &str = r#"
velocity:
  - name: pays
    events: [pay]
    key: ctx.userId
    windows: [1m, 1h]
    time: event.occurredAt
    id: event.id
rules:
  - id: BURST
    priority: 2
    severity: low
    description: a fourth payment within a minute
    condition: "event.type == 'pay' && velocity.count('pays', ctx.userId, '1m') > 3"
    action: [ { flagWatchlist: { reason: "{{velocity.count('pays', ctx.userId, '1h')}}" } } ]
    audit: false
  - id: QUIET_FRIEND
    priority: 1
    severity: low
    description: the user's friend paid nothing in the last hour
    condition: "event.type == 'pay' && velocity.count('pays', ctx.friendId, '1h') == 0"
    action: [ { flagWatchlist: { reason: quiet } } ]
    audit: false
"#;

/// Payments of three users over two hours, in time order: bursts, spread payments, a
/// retried request (same id), and users who are each other's friends.
#[cfg(feature = "tools")]
fn payments() -> Vec<Value> {
    let start = 1_764_800_000_000_i64;
    let mut events = Vec::new();
    let mut id = 0;
    let mut pay = |user: &str, friend: &str, at: i64, retry: bool| {
        if !retry {
            id += 1;
        }
        events.push(json!({
            "event": {"type": "pay", "occurredAt": at, "id": format!("E{id}")},
            "ctx": {"userId": user, "friendId": friend},
        }));
    };
    for i in 0..6 {
        pay("U-1", "U-2", start + i * 5_000, false); // a burst: the 4th to 6th fire
    }
    pay("U-1", "U-2", start + 26_000, true); // a retry of the 6th: not counted again
    for i in 0..5 {
        pay("U-2", "U-3", start + 600_000 + i * 40_000, false); // never 3 in a minute
    }
    for i in 0..4 {
        pay("U-3", "U-1", start + 5_400_000 + i * 1_000, false); // a late burst
    }
    events
}

#[cfg(feature = "tools")]
fn lines(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

#[cfg(feature = "tools")]
#[test]
fn a_backtest_reads_the_counts_of_time_order_whatever_the_input_order() {
    use acs_engine::backtest::Backtest;
    let engine = Engine::builder().load_str("rules.yaml", PAYS).unwrap();
    let in_order = payments();
    // What production sees: the events in time order through a live store.
    let live = Engine::builder()
        .velocity_store(Arc::new(LocalStore::default()))
        .load_str("rules.yaml", PAYS)
        .unwrap();
    let decisions: Vec<_> = in_order.iter().map(|e| live.evaluate(e)).collect();
    let fired = |id: &str| {
        decisions
            .iter()
            .filter(|d| d.matched.iter().any(|m| m.id() == id))
            .count() as u64
    };
    assert_eq!(
        fired("BURST"),
        3 + 1 + 1,
        "U-1's 4th to 6th and its retry, none of U-2's, U-3's 4th"
    );
    assert_eq!(
        fired("QUIET_FRIEND"),
        7 + 5 + 4,
        "no friend paid within the hour before"
    );
    // The same events backwards, and interleaved, on several threads.
    let mut backwards = in_order.clone();
    backwards.reverse();
    let mut interleaved: Vec<Value> = in_order.iter().step_by(2).cloned().collect();
    interleaved.extend(in_order.iter().skip(1).step_by(2).cloned());
    for (name, events) in [
        ("in order", &in_order),
        ("backwards", &backwards),
        ("interleaved", &interleaved),
    ] {
        let report = Backtest::new(&engine)
            .threads(3)
            .batch_bytes(200)
            .run(lines(events).as_bytes(), |_| {})
            .unwrap();
        let rule = |id: &str| report.rules.iter().find(|r| r.id == id).unwrap();
        assert_eq!(rule("BURST").matches, fired("BURST"), "{name}");
        assert_eq!(
            rule("QUIET_FRIEND").matches,
            fired("QUIET_FRIEND"),
            "{name}"
        );
        assert_eq!(
            rule("BURST").errors + rule("QUIET_FRIEND").errors,
            0,
            "{name}"
        );
        assert_eq!(report.inputs, in_order.len() as u64, "{name}");
    }
}

#[cfg(feature = "tools")]
#[test]
fn a_backtest_of_velocity_rules_reports_blank_invalid_lines_and_a_baseline() {
    use acs_engine::backtest::Backtest;
    let engine = Engine::builder().load_str("rules.yaml", PAYS).unwrap();
    // The baseline fires at the third payment in a minute instead.
    let baseline = Engine::builder()
        .load_str("rules.yaml", PAYS.replace("> 3", "> 2"))
        .unwrap();
    let mut events = payments();
    events.reverse();
    let mut input = lines(&events);
    input.insert_str(0, "\nnot json\r\n");
    let report = Backtest::new(&engine)
        .baseline(&baseline)
        .run(input.as_bytes(), |_| {})
        .unwrap();
    assert_eq!(report.invalid.count, 1);
    assert_eq!(report.invalid.examples[0].line, 2);
    assert_eq!(report.lines, events.len() as u64 + 2);
    let comparison = report.baseline.as_ref().unwrap();
    let burst = comparison.rules.iter().find(|r| r.id == "BURST").unwrap();
    assert_eq!(
        (burst.before, burst.after),
        (Some(7), Some(5)),
        "U-1's 3rd to 6th and its retry, U-3's 3rd and 4th; then one fewer each"
    );
}

#[test]
fn counters_of_one_event_count_each_at_its_own_instant() {
    const THREE: &str = r#"
velocity:
  - { name: a, events: [pay], key: ctx.userId, windows: [1m], time: event.t1 }
  - { name: b, events: [pay], key: ctx.userId, windows: [1m], time: event.t2 }
  - { name: c, events: [pay], key: ctx.userId, windows: [1m] }
rules:
  - id: R
    priority: 1
    severity: low
    description: reads nothing
    condition: "event.type == 'nothing'"
    action: [ { flagWatchlist: { reason: r } } ]
    audit: false
"#;
    let store = Arc::new(LocalStore::default());
    let engine = Engine::builder()
        .velocity_store(store.clone())
        .load_str("rules.yaml", THREE)
        .unwrap();
    let (t1, t2) = (1_000_000_000_000.0, 1_500_000_000_000.0);
    let event = json!({"event": {"type": "pay", "t1": t1, "t2": t2}, "ctx": {"userId": "U"}});
    assert!(engine.evaluate(&event).errors.is_empty());
    let minute = [Window::parse("1m").unwrap()];
    assert_eq!(store.read("a", "U", &minute, t1).unwrap(), [1]);
    assert_eq!(store.read("b", "U", &minute, t2).unwrap(), [1]);
    assert_eq!(
        store.read("c", "U", &minute, now_ms()).unwrap(),
        [1],
        "c at now()"
    );
}
