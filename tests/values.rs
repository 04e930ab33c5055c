//! How input values flow through the bundle: template rendering (whole-string templates
//! keep their type, partial ones interpolate), numbers, timestamps and host-call arguments.
use std::sync::{Arc, Mutex};

use acs_engine::{Engine, FunctionError, RuleMatch};
use acs_integration_tests::*;
use serde_json::{json, Value};

/// RF25 renders `{{ingest.affected}}` (whole) and `{{ingest.batchId}}` (whole, in a list).
fn rf25_rendering(affected: Value, batch: Value) -> (Value, Value) {
    let doc = event(
        "kyc.bulk_ingest",
        json!({ "ingest": { "partialFailure": true, "affected": affected, "batchId": batch } }),
    );
    let mut out = Vec::new();
    for (bundle, engine) in all_engines() {
        let decision = engine.evaluate(&doc);
        assert!(
            decision.errors.is_empty(),
            "{bundle}: {:?}",
            decision.errors
        );
        let rule = find_match(&decision, "RF25_BATCH_KYC_INGEST_INCONSISTENT").unwrap();
        out.push((
            action_param(rule, "emitEvent", "/payload/affectedRecords").cloned(),
            action_param(rule, "requireManualReview", "/refs").cloned(),
        ));
    }
    assert!(
        out.windows(2).all(|w| w[0] == w[1]),
        "bundles differ: {out:?}"
    );
    let (affected, refs) = out.remove(0);
    (affected.unwrap(), refs.unwrap())
}

#[test]
fn whole_string_templates_keep_the_values_type() {
    let cases = [
        json!({ "nested": { "list": [1, "two", null, true] } }),
        json!([{ "record": 1 }, { "record": 2 }]),
        json!("just text"),
        json!(17),
        json!(-2.5),
        json!(true),
        json!(false),
        json!(null),
        json!("कोलकाता ✓ \"quoted\" {{not a template}}"),
    ];
    for value in cases {
        let (affected, refs) = rf25_rendering(value.clone(), value.clone());
        assert_eq!(affected, value);
        assert_eq!(refs, json!([value]));
    }
}

fn rf05_message(shipment_id: Option<Value>) -> Value {
    let mut fields =
        json!({ "gps": { "deltaDistanceKm": 300, "deltaTimeSec": 10 }, "shipment": {} });
    if let Some(id) = shipment_id {
        fields["shipment"]["id"] = id;
    }
    let decision = project_engine().evaluate(&event("gps.ping", fields));
    let rule: &RuleMatch = find_match(&decision, "RF05_GPS_JUMP_ANOMALY").unwrap();
    action_param(rule, "notifyRole", "/message")
        .cloned()
        .unwrap()
}

#[test]
fn partial_templates_interpolate_values_as_text() {
    let prefix = "GPS anomaly detected for shipment ";
    let cases = [
        (Some(json!("SHP-9")), "SHP-9"),
        (Some(json!(42)), "42"),
        (Some(json!(42.0)), "42"),
        (Some(json!(0.25)), "0.25"),
        (Some(json!(true)), "true"),
        (Some(json!(["A", 1])), r#"["A",1]"#),
        (Some(json!({ "k": "v" })), r#"{"k":"v"}"#),
        (Some(Value::Null), ""),
        (None, ""),
    ];
    for (id, text) in cases {
        assert_eq!(
            rf05_message(id.clone()),
            json!(format!("{prefix}{text}")),
            "{id:?}"
        );
    }
}

#[test]
fn large_integer_ids_render_exactly_in_whole_and_partial_templates() {
    // 2^53 + 1 and a 19-digit id: both exact in JSON, neither exact as an f64.
    for id in [
        json!(9_007_199_254_740_993_u64),
        json!(1_234_567_890_123_456_789_u64),
        json!(-9_007_199_254_740_993_i64),
    ] {
        let doc = event(
            "gps.ping",
            json!({ "gps": { "deltaDistanceKm": 300, "deltaTimeSec": 10 }, "shipment": { "id": id } }),
        );
        for (bundle, engine) in all_engines() {
            let decision = engine.evaluate(&doc);
            let rule = find_match(&decision, "RF05_GPS_JUMP_ANOMALY").unwrap();
            assert_eq!(
                action_param(rule, "freezeShipment", "/shipmentId"),
                Some(&id),
                "{bundle}: whole template"
            );
            assert_eq!(
                action_param(rule, "notifyRole", "/message"),
                Some(&json!(format!("GPS anomaly detected for shipment {id}"))),
                "{bundle}: partial template"
            );
        }
    }
}

#[test]
fn host_functions_receive_large_integer_arguments_exactly() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = Arc::clone(&seen);
    let engine = Engine::builder()
        .functions(host_functions())
        .function(
            "db.count.trucksByOperator",
            move |args: &[&Value]| -> Result<Value, FunctionError> {
                log.lock()
                    .unwrap()
                    .extend(args.iter().map(|v| (*v).clone()));
                Ok(json!(0))
            },
        )
        .load_path(PROJECT_BUNDLE)
        .unwrap();
    let operator = json!(9_007_199_254_740_993_u64);
    engine.evaluate(&input(
        "truck.create",
        json!({}),
        json!({ "operatorId": operator }),
    ));
    assert_eq!(*seen.lock().unwrap(), [operator]);
}

#[test]
fn equality_tells_apart_integers_that_differ_beyond_f64_precision() {
    // The photo is indexed for truck 2^53 and re-used on truck 2^53 + 1: different trucks.
    let doc = event(
        "inspection.uploaded",
        json!({
            "image": { "hash": "sha256:h" },
            "inspection": { "id": "INS", "truckId": 9_007_199_254_740_993_u64, "geo": { "lat": 1, "lng": 1, "accuracy": 1 } }
        }),
    );
    let doc = with(
        doc,
        &[(
            "/db/indexes/inspection_image_hashes",
            json!({ "sha256:h": { "truckId": 9_007_199_254_740_992_u64 } }),
        )],
    );
    for (bundle, engine) in all_engines() {
        assert_eq!(
            engine.evaluate(&doc).matched_ids(),
            ["RF10_INSPECTION_DUPLICATE_PHOTO"],
            "{bundle}"
        );
    }
}

#[test]
fn integers_and_equal_floats_compare_equal_and_render_without_a_fraction() {
    for (bundle, engine) in all_engines() {
        // 12 trucks reach a limit sent as 12.0, and the limit renders as 12.
        let decision = engine.evaluate(&with(
            input(
                "truck.create",
                json!({}),
                operator_ctx("U", OPERATOR_AT_LIMIT),
            ),
            &[("/system/config/maxTrucksPerOperator", json!(12.0))],
        ));
        let rule = find_match(&decision, "RF12_OPERATOR_MAX_TRUCKS_LIMIT")
            .unwrap_or_else(|| panic!("{bundle}: {:?}", decision.matched_ids()));
        assert_eq!(
            action_param(rule, "notifyRole", "/message"),
            Some(&json!("Max trucks allowed: 12")),
            "{bundle}"
        );
        // A limit sent as a string is not a number: no comparison, no match.
        let decision = engine.evaluate(&with(
            input(
                "truck.create",
                json!({}),
                operator_ctx("U", OPERATOR_AT_LIMIT),
            ),
            &[("/system/config/maxTrucksPerOperator", json!("10"))],
        ));
        assert!(decision.matched.is_empty(), "{bundle}");
        assert!(decision.errors.is_empty(), "{bundle}");
    }
}

/// RF08 with pickup 2025-11-21T06:00Z and drop 2025-11-22T06:00Z (window: 1 h before,
/// 24 h after).
fn rf08_fires(timestamp: Value, pickup: Value) -> Vec<(&'static str, bool)> {
    let doc = event(
        "pod.uploaded",
        json!({
            "shipment": { "id": "SHP-8", "pickupAt": pickup, "dropAt": "2025-11-22T06:00:00Z" },
            "pod": { "metadata": { "timestamp": timestamp } }
        }),
    );
    all_engines()
        .into_iter()
        .map(|(bundle, engine)| {
            let decision = engine.evaluate(&doc);
            assert!(
                decision.errors.is_empty(),
                "{bundle}: {:?}",
                decision.errors
            );
            (
                bundle,
                decision
                    .matched_ids()
                    .contains(&"RF08_POD_METADATA_MISMATCH"),
            )
        })
        .collect()
}

#[test]
fn rf08_compares_timestamps_as_instants_across_offsets_and_epoch_numbers() {
    let pickup = json!("2025-11-21T06:00:00Z");
    let cases = [
        // 04:30Z: 90 minutes before pickup.
        (json!("2025-11-21T10:00:00+05:30"), pickup.clone(), true),
        // 05:30Z: 30 minutes before pickup.
        (json!("2025-11-21T11:00:00+05:30"), pickup.clone(), false),
        (json!("2025-11-21T05:30:00.123Z"), pickup.clone(), false),
        (json!("2025-11-21T04:59:59.999Z"), pickup.clone(), true),
        (json!("2025-11-21T05:00:00Z"), pickup.clone(), false),
        // Epoch milliseconds on either side.
        (json!(1_763_699_400_000_i64), pickup.clone(), true),
        (
            json!("2025-11-21T04:30:00Z"),
            json!(1_763_704_800_000_i64),
            true,
        ),
        (
            json!("2025-11-21T05:30:00Z"),
            json!(1_763_704_800_000_i64),
            false,
        ),
    ];
    for (timestamp, pickup, expected) in cases {
        for (bundle, fired) in rf08_fires(timestamp.clone(), pickup.clone()) {
            assert_eq!(
                fired, expected,
                "{bundle}: POD at {timestamp}, pickup at {pickup}"
            );
        }
    }
}
