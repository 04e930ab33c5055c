//! Shared helpers for the integration tests: paths to the bundles, the one decision on
//! whether a test may go on without the legacy fixture ([`legacy_bundle`]), and input
//! builders.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    reason = "a test-support library: a failed step stops the test that called it"
)]

use std::collections::BTreeSet;
use std::path::Path;

use acs_engine::{Decision, Engine, FunctionError, Functions, RuleMatch};
use serde_json::{json, Map, Value};

/// The bundle the project ships.
pub const PROJECT_BUNDLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/acs_rules_top25.yaml");

/// The project's rules directory, loaded as one bundle.
pub const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");

/// The legacy Rodistaa bundle, used unchanged and never copied into the repository. Tests
/// reach it through [`legacy_bundle`].
pub const LEGACY_BUNDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/acs_rules_top25.yaml"
);

/// What `now()` returns under [`host_functions`]: 2025-11-21T12:00:00Z.
pub const NOW_MS: i64 = 1_763_726_400_000;

/// A POD file hash present in `db.indexes.pod_hashes`.
pub const SEEN_POD_HASH: &str = "sha256:pod-seen-on-SHP-OLD";

/// An inspection image hash indexed for truck [`INDEXED_TRUCK`].
pub const SEEN_IMAGE_HASH: &str = "sha256:img-seen-on-TRK-OTHER";

/// The truck [`SEEN_IMAGE_HASH`] belongs to.
pub const INDEXED_TRUCK: &str = "TRK-OTHER";

/// Operator with 12 trucks (the limit is 10); every other operator has 3.
pub const OPERATOR_AT_LIMIT: &str = "OP-1";

/// Operator whose maintenance window is active at [`NOW_MS`].
pub const OPERATOR_IN_MAINTENANCE: &str = "OP-MAINT";

/// Device bound to 3 driver accounts, with an overlapping acceptance; others have 1.
pub const SHARED_DEVICE: &str = "DEV-SHARED";

/// User over the bid-modification rate limit.
pub const FLOODING_USER: &str = "U-FLOODER";

/// Rupees per km below which a booking's price is implausible (`priceEstimator.lowerBound`).
pub const LOWER_BOUND_PER_KM: f64 = 70.0;

/// The 25 rule ids, highest priority first, with their priorities (both bundles).
pub const RULES: [(&str, i64); 25] = [
    ("RF01_KYC_MANDATORY", 1000),
    ("RF02_TRUCK_DOCS_EXPIRED", 995),
    ("RF03_OTP_MANDATORY_COMPLETION", 990),
    ("RF04_OTP_BRUTE_FORCE_PROTECTION", 989),
    ("RF05_GPS_JUMP_ANOMALY", 980),
    ("RF06_GPS_SPOOF_SIGNATURE", 975),
    ("RF07_POD_DUPLICATE_HASH", 970),
    ("RF08_POD_METADATA_MISMATCH", 965),
    ("RF09_INSPECTION_GEO_MISSING", 960),
    ("RF10_INSPECTION_DUPLICATE_PHOTO", 955),
    ("RF11_TRUCK_OWNER_MISMATCH", 950),
    ("RF12_OPERATOR_MAX_TRUCKS_LIMIT", 945),
    ("RF13_LEDGER_NEGATIVE_PREVENTION", 940),
    ("RF14_AUTO_FINALIZATION_LEDGER_RACE", 935),
    ("RF15_BID_TIE_BREAKER", 930),
    ("RF16_PII_LEAK_REDACTION", 925),
    ("RF17_DEVICE_ACCOUNT_COLLISION", 920),
    ("RF18_ADMIN_OVERRIDE_NO_JUSTIFICATION", 915),
    ("RF19_COLLUSION_TRIAD_FREQ", 910),
    ("RF20_BID_FLOOD_RATE_LIMIT", 905),
    ("RF21_PREDATORY_BID_DETECT", 900),
    ("RF22_MAINTENANCE_WINDOW_BLOCK", 895),
    ("RF23_ROUTING_PROVIDER_FALLBACK", 890),
    ("RF24_INSPECTION_OUT_OF_ZONE", 885),
    ("RF25_BATCH_KYC_INGEST_INCONSISTENT", 880),
];

/// Every `event.type` the bundles gate on, with how many rules each one is checked against.
pub const EVENT_TYPES: [(&str, u32); 20] = [
    ("admin.override.request", 1),
    ("bid.create", 6),
    ("bid.evaluate", 1),
    ("bid.finalize", 1),
    ("bid.modify", 1),
    ("booking.create", 1),
    ("doc.uploaded", 1),
    ("gps.ping", 2),
    ("inspection.uploaded", 3),
    ("kyc.bulk_ingest", 1),
    ("message.send", 1),
    ("pod.uploaded", 2),
    ("route.request", 1),
    ("security.otp_attempt", 1),
    ("shipment.accept", 1),
    ("shipment.assign", 1),
    ("shipment.complete", 1),
    ("shipment.completed", 1),
    ("shipment.start", 1),
    ("truck.create", 2),
];

// ---------------------------------------------------------------------------------------
// Bundles and engines
// ---------------------------------------------------------------------------------------

/// Set to `1`, the tests that read the legacy fixture skip it when it is absent instead of
/// failing.
pub const ALLOW_MISSING_LEGACY: &str = "ACS_ALLOW_MISSING_LEGACY";

/// The legacy bundle's path, for a test that reads it.
///
/// When the fixture is absent the test fails, unless [`ALLOW_MISSING_LEGACY`] is `1`: then
/// this returns `None` and prints `SKIPPED <test name>: legacy fixture <path> not found`
/// on stderr, once per test, and the test leaves the legacy part out (`scripts/test-all`
/// counts and lists these lines). A test never passes silently without the fixture.
pub fn legacy_bundle() -> Option<&'static Path> {
    legacy_fixture(Path::new(LEGACY_BUNDLE))
}

/// [`legacy_bundle`]'s rule for the fixture at `path`.
pub fn legacy_fixture(path: &Path) -> Option<&Path> {
    use std::io::Write as _;
    thread_local! {
        // libtest runs each test on a thread of its own, named after the test.
        static REPORTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if path.is_file() {
        return Some(path);
    }
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    let allowed = std::env::var(ALLOW_MISSING_LEGACY).is_ok_and(|v| v == "1");
    assert!(
        allowed,
        "{test}: legacy fixture {} not found; provide it, or set {ALLOW_MISSING_LEGACY}=1 to skip the tests that need it",
        path.display()
    );
    if !REPORTED.replace(true) {
        // Written to the stream itself: libtest keeps what `eprintln!` prints from a passing
        // test, and `scripts/test-all` must see the line.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: legacy fixture {} not found",
            path.display()
        );
    }
    None
}

/// An engine over `path` with [`host_functions`] registered.
pub fn engine_at(path: impl AsRef<Path>) -> Engine {
    let path = path.as_ref();
    Engine::builder()
        .functions(host_functions())
        .load_path(path)
        .unwrap_or_else(|e| panic!("`{}` must load:\n{e}", path.display()))
}

/// The project bundle file with every host function registered.
pub fn project_engine() -> Engine {
    engine_at(PROJECT_BUNDLE)
}

/// The `rules/` directory, loaded as a bundle, with every host function registered.
pub fn rules_dir_engine() -> Engine {
    engine_at(RULES_DIR)
}

/// The legacy bundle with every host function registered, or `None` when it is absent.
pub fn legacy_engine() -> Option<Engine> {
    legacy_bundle().map(engine_at)
}

/// A named engine per bundle present: project file, rules directory, legacy file.
pub fn all_engines() -> Vec<(&'static str, Engine)> {
    let mut engines = vec![
        ("project bundle", project_engine()),
        ("rules directory", rules_dir_engine()),
    ];
    if let Some(legacy) = legacy_engine() {
        engines.push(("legacy bundle", legacy));
    }
    engines
}

/// A fresh, empty, uniquely named directory under the system temp dir, removed when the
/// guard drops (a test that panics too): keep it bound for as long as the test uses it.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("acs-it-{label}-"))
        .tempdir()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Host functions
// ---------------------------------------------------------------------------------------

fn arg_str<'a>(args: &[&'a Value], i: usize) -> Option<&'a str> {
    args.get(i).copied().and_then(Value::as_str)
}

/// `db.count.trucksByOperator(operatorId)`: 12 for [`OPERATOR_AT_LIMIT`], 3 for any other
/// operator, 0 for a missing one.
pub fn trucks_by_operator(args: &[&Value]) -> Result<Value, FunctionError> {
    Ok(json!(match arg_str(args, 0) {
        Some(OPERATOR_AT_LIMIT) => 12,
        Some(_) => 3,
        None => 0,
    }))
}

/// `db.count.driverAccountsByDevice(deviceId)`: 3 for [`SHARED_DEVICE`], else 1.
pub fn driver_accounts_by_device(args: &[&Value]) -> Result<Value, FunctionError> {
    Ok(json!(if arg_str(args, 0) == Some(SHARED_DEVICE) {
        3
    } else {
        1
    }))
}

/// `overlappingAcceptExists(deviceId, timeWindow)`: true for [`SHARED_DEVICE`] with a window.
pub fn overlapping_accept_exists(args: &[&Value]) -> Result<Value, FunctionError> {
    let window = args.get(1).copied().is_some_and(Value::is_object);
    Ok(json!(arg_str(args, 0) == Some(SHARED_DEVICE) && window))
}

/// `rate.limitExceeded(userId, action, limit)`: true for [`FLOODING_USER`] on a numeric limit.
pub fn rate_limit_exceeded(args: &[&Value]) -> Result<Value, FunctionError> {
    let limited = args.get(2).copied().is_some_and(Value::is_number);
    Ok(json!(
        arg_str(args, 0) == Some(FLOODING_USER)
            && arg_str(args, 1) == Some("bid.modify")
            && limited
    ))
}

/// `priceEstimator.lowerBound(booking)`: `distanceKm * 70`, or null without a distance.
pub fn price_lower_bound(args: &[&Value]) -> Result<Value, FunctionError> {
    Ok(args
        .first()
        .and_then(|b| b.get("distanceKm"))
        .and_then(Value::as_f64)
        .map_or(Value::Null, |km| json!(km * LOWER_BOUND_PER_KM)))
}

/// `operator.maintenanceWindowActive(operatorId, nowMillis)`: true for
/// [`OPERATOR_IN_MAINTENANCE`] at exactly [`NOW_MS`].
pub fn maintenance_window_active(args: &[&Value]) -> Result<Value, FunctionError> {
    let at_now = args.get(1).copied().and_then(Value::as_i64) == Some(NOW_MS);
    Ok(json!(
        arg_str(args, 0) == Some(OPERATOR_IN_MAINTENANCE) && at_now
    ))
}

/// The pinned clock.
pub fn pinned_now(_: &[&Value]) -> Result<Value, FunctionError> {
    Ok(json!(NOW_MS))
}

/// The signature of the host functions above.
pub type HostFn = fn(&[&Value]) -> Result<Value, FunctionError>;

/// The host functions the bundles call, by dotted name (without `now`).
pub const HOST_FUNCTIONS: [(&str, HostFn); 6] = [
    ("db.count.trucksByOperator", trucks_by_operator),
    ("db.count.driverAccountsByDevice", driver_accounts_by_device),
    ("overlappingAcceptExists", overlapping_accept_exists),
    ("rate.limitExceeded", rate_limit_exceeded),
    ("priceEstimator.lowerBound", price_lower_bound),
    (
        "operator.maintenanceWindowActive",
        maintenance_window_active,
    ),
];

/// Every host function the bundles call, plus `now` pinned to [`NOW_MS`].
pub fn host_functions() -> Functions {
    let mut functions = Functions::new();
    for (name, function) in HOST_FUNCTIONS {
        functions.register(name, function);
    }
    functions.with("now", pinned_now as HostFn)
}

// ---------------------------------------------------------------------------------------
// Input builders
// ---------------------------------------------------------------------------------------

/// `system.config` as the examples have it.
pub fn config() -> Value {
    json!({
        "otpRetryLimit": 5,
        "spoofThreshold": 0.85,
        "podTimeWindowBefore": 3_600_000,
        "podTimeWindowAfter": 86_400_000,
        "maxGeoAccuracyMeters": 50,
        "maxTrucksPerOperator": 10,
        "triadFrequencyThreshold": 8,
        "bidModifyRateLimit": 20,
        "predatoryBidFactor": 0.6,
        "inspectionGeoRadiusMeters": 2000
    })
}

/// `db.indexes`: one seen POD hash, one seen image hash (on [`INDEXED_TRUCK`]).
pub fn indexes() -> Value {
    json!({
        "pod_hashes": [SEEN_POD_HASH],
        "inspection_image_hashes": { SEEN_IMAGE_HASH: { "truckId": INDEXED_TRUCK } }
    })
}

/// A full input document: `event` is `fields` plus `type`, with `ctx`, the standard
/// `system.config` and `db.indexes`.
pub fn input(event_type: &str, fields: Value, ctx: Value) -> Value {
    let mut event = match fields {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("event fields must be an object, found {other}"),
    };
    event.insert("type".to_owned(), json!(event_type));
    json!({
        "event": event,
        "ctx": ctx,
        "system": { "config": config() },
        "db": { "indexes": indexes() }
    })
}

/// An input with the given event fields and no `ctx`.
pub fn event(event_type: &str, fields: Value) -> Value {
    input(event_type, fields, json!({}))
}

/// Only `{"event": {"type": ...}}`: no ctx, no system, no db, no nested objects at all.
pub fn bare(event_type: &str) -> Value {
    json!({ "event": { "type": event_type } })
}

/// A `ctx` for a user with the given role and KYC status (`None`: the status is absent).
pub fn user(user_id: &str, role: &str, kyc: Option<&str>) -> Value {
    let mut ctx = json!({ "userId": user_id, "userRole": role });
    if let Some(kyc) = kyc {
        ctx["userKycStatus"] = json!(kyc);
    }
    ctx
}

/// A `ctx` for a KYC-verified operator user acting for `operator_id`.
pub fn operator_ctx(user_id: &str, operator_id: &str) -> Value {
    let mut ctx = user(user_id, "operator", Some("VERIFIED"));
    ctx["operatorId"] = json!(operator_id);
    ctx
}

/// A `bid.create` input that matches no rule: verified operator `OP-2`, a fair amount,
/// enough ledger balance, clean text. Adjust it with [`with`].
pub fn clean_bid() -> Value {
    let mut ctx = operator_ctx("U-OP2", "OP-2");
    ctx["payload"] = json!({ "text": "Covered 32 ft container available tomorrow." });
    input(
        "bid.create",
        json!({
            "bid": { "id": "BID-1", "amount": 46_500 },
            "booking": { "id": "BKG-1", "distanceKm": 570 },
            "truck": { "id": "TRK-1", "status": "ACTIVE" },
            "operator": { "id": "OP-2", "ledgerBalance": 12_000 },
            "computedFees": { "bidFee": 465 }
        }),
        ctx,
    )
}

/// `doc` with the value at each JSON pointer replaced (created when absent, parents must
/// exist); a `Value::Null` replacement removes the key instead.
pub fn with(mut doc: Value, edits: &[(&str, Value)]) -> Value {
    for (pointer, value) in edits {
        let (parent, key) = pointer
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("`{pointer}` is not a JSON pointer"));
        let target = doc
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("`{parent}` is not an object"));
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.to_owned(), value.clone());
        }
    }
    doc
}

// ---------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------

/// The match of rule `id` in `decision`.
pub fn find_match<'a>(decision: &'a Decision, id: &str) -> Option<&'a RuleMatch> {
    decision.matched.iter().find(|m| m.id() == id)
}

/// The rendered value at `pointer` in the params of the first `action` of a match.
pub fn action_param<'a>(rule: &'a RuleMatch, action: &str, pointer: &str) -> Option<&'a Value> {
    rule.actions()
        .find(|a| a.name == action)
        .and_then(|a| a.params.pointer(pointer))
}

/// The ids of the rules that errored, in order.
pub fn error_ids(decision: &Decision) -> Vec<&str> {
    decision.errors.iter().map(|e| &*e.rule_id).collect()
}

/// One row of a per-rule table: an input that makes rule `id` match, one that doesn't, and
/// rendered parameters the match must carry.
#[derive(Debug, Clone)]
pub struct RuleCase {
    /// The rule under test.
    pub id: &'static str,
    /// What the row shows, for failure messages.
    pub what: &'static str,
    /// An input the rule must match.
    pub hit: Value,
    /// A similar input the rule must not match.
    pub miss: Value,
    /// `(action, JSON pointer into its params, expected value)` for the match.
    pub expect: Vec<(&'static str, &'static str, Value)>,
}

/// A [`RuleCase`].
pub fn case(
    id: &'static str,
    what: &'static str,
    hit: Value,
    miss: Value,
    expect: Vec<(&'static str, &'static str, Value)>,
) -> RuleCase {
    RuleCase {
        id,
        what,
        hit,
        miss,
        expect,
    }
}

/// Run a table against `engine`: each `hit` matches its rule with the expected params and
/// no errors, each `miss` doesn't match it and has no errors, and the table names every
/// rule of the bundle. Panics with every failure at once.
pub fn check_table(bundle: &str, engine: &Engine, cases: &[RuleCase]) {
    let mut failures = Vec::new();
    let plan = engine.plan();
    let in_plan: BTreeSet<&str> = plan.rule_ids().collect();
    let in_table: BTreeSet<&str> = cases.iter().map(|c| c.id).collect();
    if in_plan != in_table {
        failures.push(format!(
            "table and bundle differ: only in bundle {:?}, only in table {:?}",
            in_plan.difference(&in_table).collect::<Vec<_>>(),
            in_table.difference(&in_plan).collect::<Vec<_>>()
        ));
    }
    for case in cases {
        let label = format!("{} ({})", case.id, case.what);
        let hit = engine.evaluate(&case.hit);
        match find_match(&hit, case.id) {
            None => failures.push(format!(
                "{label}: matching input did not match; matched {:?}, errors {:?}",
                hit.matched_ids(),
                hit.errors
            )),
            Some(rule) => {
                if !rule.audit() {
                    failures.push(format!("{label}: match is not marked for audit"));
                }
                for (action, pointer, want) in &case.expect {
                    let got = action_param(rule, action, pointer);
                    if got != Some(want) {
                        failures.push(format!(
                            "{label}: {action}{pointer} rendered {got:?}, expected {want}"
                        ));
                    }
                }
            }
        }
        if !hit.errors.is_empty() {
            failures.push(format!(
                "{label}: matching input had errors {:?}",
                hit.errors
            ));
        }
        failures.extend(
            explanation_disagreement(engine, &case.hit).map(|d| format!("{label}: hit: {d}")),
        );
        let miss = engine.evaluate(&case.miss);
        failures.extend(
            explanation_disagreement(engine, &case.miss).map(|d| format!("{label}: miss: {d}")),
        );
        if miss.matched_ids().contains(&case.id) {
            failures.push(format!("{label}: non-matching input matched"));
        }
        if !miss.errors.is_empty() {
            failures.push(format!(
                "{label}: non-matching input had errors {:?}",
                miss.errors
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{bundle}: {} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// How `engine.explain(input)` disagrees with `engine.evaluate(input)` on the matched,
/// shadow-matched or failed rules or the number of rules evaluated, if it does.
pub fn explanation_disagreement(engine: &Engine, input: &Value) -> Option<String> {
    let decision = engine.evaluate(input);
    let explanation = engine.explain(input);
    let matched = decision.matched_ids();
    let shadow: Vec<&str> = decision.shadow_matched.iter().map(|m| m.id()).collect();
    // A matched rule whose action failed to render is in `errors` too; the explanation
    // is about conditions only.
    let failed: Vec<&str> = error_ids(&decision)
        .into_iter()
        .filter(|id| !matched.contains(id) && !shadow.contains(id))
        .collect();
    let evaluated = explanation
        .rules
        .iter()
        .filter(|r| r.outcome != acs_engine::explain::RuleOutcome::Disabled)
        .count();
    let sides = [
        ("matched", explanation.matched_ids(), matched),
        ("shadow-matched", explanation.shadow_matched_ids(), shadow),
        ("failed", explanation.error_ids(), failed),
    ];
    let mut problems: Vec<String> = sides
        .into_iter()
        .filter(|(_, explained, decided)| explained != decided)
        .map(|(what, explained, decided)| {
            format!("explanation {what} {explained:?}, decision {what} {decided:?}")
        })
        .collect();
    if evaluated != decision.rules_evaluated as usize {
        problems.push(format!(
            "explanation evaluated {evaluated} rules, decision {}",
            decision.rules_evaluated
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Each shipped example in `rules/examples/`, the rule ids it must match with
/// `rules/examples/stubs.json`, and its rejection code: the outcomes the rules README
/// promises. The engine tests and the CLI tests both check them.
pub const EXAMPLE_OUTCOMES: [(&str, &[&str], Option<&str>); 4] = [
    (
        "bid_create_kyc_missing.json",
        &["RF01_KYC_MANDATORY"],
        Some("KYC_REQUIRED"),
    ),
    ("bid_create_clean.json", &[], None),
    (
        "truck_create_over_limit.json",
        &["RF12_OPERATOR_MAX_TRUCKS_LIMIT"],
        Some("MAX_TRUCKS_EXCEEDED"),
    ),
    (
        "shipment_accept_device_collision.json",
        &["RF17_DEVICE_ACCOUNT_COLLISION"],
        Some("DEVICE_ACCOUNT_COLLISION"),
    ),
];
