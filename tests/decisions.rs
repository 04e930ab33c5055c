//! Whole decisions over the bundles: several matches and the verdict, the `event.type`
//! gate (known, unknown and missing types), and inputs with missing nested objects.
use acs_engine::{Engine, Rejection, Verdict};
use acs_integration_tests::*;
use serde_json::{json, Value};

/// A `bid.create` that trips all six `bid.create` rules at once.
fn bid_tripping_every_rule() -> Value {
    with(
        clean_bid(),
        &[
            ("/ctx/userKycStatus", Value::Null),                     // RF01
            ("/event/truck/status", json!("EXPIRED_DOCS")),          // RF02
            ("/event/operator/ledgerBalance", json!(0)),             // RF13
            ("/ctx/payload/text", json!("whatsapp me: 9876543210")), // RF16
            ("/event/bid/amount", json!(1000)),                      // RF21
            ("/ctx/operatorId", json!(OPERATOR_IN_MAINTENANCE)),     // RF22
        ],
    )
}

fn rejected_by(engine: &Engine, doc: &Value) -> Option<(String, Option<String>)> {
    match engine.evaluate(doc).verdict {
        Verdict::Allowed => None,
        Verdict::Rejected(rejection) => Some((
            rejection.rule_id().to_owned(),
            rejection.code().map(str::to_owned),
        )),
    }
}

#[test]
fn several_matches_are_reported_in_priority_order_and_the_highest_rejection_decides() {
    for (bundle, engine) in all_engines() {
        let decision = engine.evaluate(&bid_tripping_every_rule());
        assert!(
            decision.errors.is_empty(),
            "{bundle}: {:?}",
            decision.errors
        );
        assert_eq!(
            decision.matched_ids(),
            [
                "RF01_KYC_MANDATORY",
                "RF02_TRUCK_DOCS_EXPIRED",
                "RF13_LEDGER_NEGATIVE_PREVENTION",
                "RF16_PII_LEAK_REDACTION",
                "RF21_PREDATORY_BID_DETECT",
                "RF22_MAINTENANCE_WINDOW_BLOCK",
            ],
            "{bundle}"
        );
        let priorities: Vec<i64> = decision.matched.iter().map(|m| m.priority()).collect();
        assert!(
            priorities.windows(2).all(|w| w[0] > w[1]),
            "{bundle}: {priorities:?}"
        );
        assert_eq!(decision.rules_evaluated, 6, "{bundle}");
        assert_eq!(
            decision.verdict,
            Verdict::Rejected(Rejection::new(
                "RF01_KYC_MANDATORY",
                Some("KYC_REQUIRED"),
                Some("KYC verification required"),
            )),
            "{bundle}"
        );
    }
}

#[test]
fn verdict_falls_to_the_next_rejecting_rule_as_higher_ones_stop_matching() {
    for (bundle, engine) in all_engines() {
        let mut doc = bid_tripping_every_rule();
        let steps: [(&str, Value, &str, &str); 6] = [
            (
                "/ctx/userKycStatus",
                Value::Null,
                "RF01_KYC_MANDATORY",
                "KYC_REQUIRED",
            ),
            (
                "/ctx/userKycStatus",
                json!("VERIFIED"),
                "RF02_TRUCK_DOCS_EXPIRED",
                "TRUCK_DOCS_EXPIRED",
            ),
            (
                "/event/truck/status",
                json!("ACTIVE"),
                "RF13_LEDGER_NEGATIVE_PREVENTION",
                "LEDGER_INSUFFICIENT",
            ),
            // RF16's rejectRequest is its third action, not its first.
            (
                "/event/operator/ledgerBalance",
                json!(9_999),
                "RF16_PII_LEAK_REDACTION",
                "PII_REDACTED",
            ),
            (
                "/ctx/payload/text",
                json!("no contact details here"),
                "RF21_PREDATORY_BID_DETECT",
                "PREDATORY_BID_HOLD",
            ),
            (
                "/event/bid/amount",
                json!(40_000),
                "RF22_MAINTENANCE_WINDOW_BLOCK",
                "MAINTENANCE_WINDOW",
            ),
        ];
        for (pointer, value, rule, code) in steps {
            doc = with(doc, &[(pointer, value)]);
            assert_eq!(
                rejected_by(&engine, &doc),
                Some((rule.to_owned(), Some(code.to_owned()))),
                "{bundle}: after setting {pointer}"
            );
            assert_eq!(
                engine.evaluate(&doc).matched_ids().first(),
                Some(&rule),
                "{bundle}"
            );
        }
        doc = with(doc, &[("/ctx/operatorId", json!("OP-2"))]);
        let decision = engine.evaluate(&doc);
        assert_eq!(decision.verdict, Verdict::Allowed, "{bundle}");
        assert!(
            decision.matched.is_empty(),
            "{bundle}: {:?}",
            decision.matched_ids()
        );
    }
}

#[test]
fn verdict_comes_from_the_highest_matched_rule_that_has_a_reject_action() {
    // RF07 (970) freezes but does not reject; RF08 (965) rejects.
    for (bundle, engine) in all_engines() {
        let doc = event(
            "pod.uploaded",
            json!({
                "shipment": { "id": "SHP-78", "pickupAt": "2025-11-21T06:00:00Z", "dropAt": "2025-11-22T06:00:00Z" },
                "pod": { "fileHash": SEEN_POD_HASH, "metadata": { "timestamp": "2025-11-01T00:00:00Z" } }
            }),
        );
        let decision = engine.evaluate(&doc);
        assert_eq!(
            decision.matched_ids(),
            ["RF07_POD_DUPLICATE_HASH", "RF08_POD_METADATA_MISMATCH"],
            "{bundle}"
        );
        assert_eq!(
            rejected_by(&engine, &doc),
            Some((
                "RF08_POD_METADATA_MISMATCH".to_owned(),
                Some("POD_TIMESTAMP_MISMATCH".to_owned())
            )),
            "{bundle}"
        );
    }
}

#[test]
fn matches_without_a_reject_action_leave_the_request_allowed_with_their_actions() {
    for (bundle, engine) in all_engines() {
        let decision = engine.evaluate(&input(
            "gps.ping",
            json!({
                "shipment": { "id": "SHP-56" },
                "gps": { "deltaDistanceKm": 400, "deltaTimeSec": 60 },
                "telemetry": { "spoofScore": 0.99 }
            }),
            json!({ "deviceId": "DEV-56" }),
        ));
        assert_eq!(
            decision.matched_ids(),
            ["RF05_GPS_JUMP_ANOMALY", "RF06_GPS_SPOOF_SIGNATURE"],
            "{bundle}"
        );
        assert_eq!(decision.verdict, Verdict::Allowed, "{bundle}");
        assert!(!decision.is_rejected(), "{bundle}");
        let actions: Vec<&str> = decision
            .matched
            .iter()
            .flat_map(|m| m.actions().map(|a| a.name))
            .collect();
        assert_eq!(
            actions,
            [
                "freezeShipment",
                "emitEvent",
                "notifyRole",
                "freezeShipment",
                "blockEntity",
                "createTicket"
            ],
            "{bundle}"
        );
    }
}

#[test]
fn each_known_event_type_is_checked_only_against_the_rules_gated_on_it() {
    for (bundle, engine) in all_engines() {
        let plan = engine.plan();
        let types: Vec<&str> = EVENT_TYPES.iter().map(|(t, _)| *t).collect();
        assert_eq!(plan.event_types(), types, "{bundle}");
        for (event_type, count) in EVENT_TYPES {
            let decision = engine.evaluate(&event(event_type, json!({})));
            assert_eq!(decision.rules_evaluated, count, "{bundle}: {event_type}");
            assert_eq!(
                plan.candidate_rules(Some(event_type)).len(),
                count as usize,
                "{bundle}: {event_type}"
            );
        }
        assert_eq!(
            plan.candidate_rules(Some("bid.create")),
            [
                "RF01_KYC_MANDATORY",
                "RF02_TRUCK_DOCS_EXPIRED",
                "RF13_LEDGER_NEGATIVE_PREVENTION",
                "RF16_PII_LEAK_REDACTION",
                "RF21_PREDATORY_BID_DETECT",
                "RF22_MAINTENANCE_WINDOW_BLOCK",
            ],
            "{bundle}"
        );
    }
}

#[test]
fn unknown_missing_or_non_string_event_types_run_no_bundle_rule() {
    // Every rule of both bundles is gated, so nothing at all runs for these.
    let unknown = [
        event("invoice.paid", json!({ "shipment": { "otpValid": false } })),
        event("BID.CREATE", json!({})),
        event("bid.create ", json!({})),
        with(clean_bid(), &[("/event/type", Value::Null)]),
        with(clean_bid(), &[("/event/type", json!(42))]),
        with(clean_bid(), &[("/event/type", json!(["bid.create"]))]),
        json!({ "ctx": { "userRole": "operator" } }),
        json!({}),
        json!(null),
        json!([1, 2, 3]),
        json!("bid.create"),
    ];
    for (bundle, engine) in all_engines() {
        assert!(engine.plan().candidate_rules(None).is_empty(), "{bundle}");
        assert!(
            engine
                .plan()
                .candidate_rules(Some("invoice.paid"))
                .is_empty(),
            "{bundle}"
        );
        for doc in &unknown {
            let decision = engine.evaluate(doc);
            assert_eq!(decision.rules_evaluated, 0, "{bundle}: {doc}");
            assert!(decision.matched.is_empty(), "{bundle}: {doc}");
            assert!(decision.errors.is_empty(), "{bundle}: {doc}");
            assert_eq!(decision.verdict, Verdict::Allowed, "{bundle}: {doc}");
        }
    }
}

#[test]
fn unknown_event_types_still_run_ungated_rules() {
    let rules = r#"
- id: GATED
  priority: 20
  severity: low
  description: Gated on bid.create.
  condition: "event.type == 'bid.create' && ctx.flag == true"
  action:
    - proceed: { outcome: "gated" }
  audit: false
- id: UNGATED
  priority: 10
  severity: low
  description: Not gated (a disjunction of types is not a gate).
  condition: "(event.type == 'bid.create' || event.type == 'invoice.paid') && ctx.flag == true"
  action:
    - proceed: { outcome: "ungated" }
  audit: false
"#;
    let engine = Engine::builder().load_str("ungated.yaml", rules).unwrap();
    assert_eq!(
        engine.plan().candidate_rules(Some("invoice.paid")),
        ["UNGATED"]
    );
    assert_eq!(
        engine.plan().candidate_rules(Some("bid.create")),
        ["GATED", "UNGATED"]
    );

    let paid =
        engine.evaluate(&json!({ "event": { "type": "invoice.paid" }, "ctx": { "flag": true } }));
    assert_eq!(paid.rules_evaluated, 1);
    assert_eq!(paid.matched_ids(), ["UNGATED"]);

    let other =
        engine.evaluate(&json!({ "event": { "type": "something.else" }, "ctx": { "flag": true } }));
    assert_eq!(other.rules_evaluated, 1);
    assert!(other.matched.is_empty());

    let bid =
        engine.evaluate(&json!({ "event": { "type": "bid.create" }, "ctx": { "flag": true } }));
    assert_eq!(bid.rules_evaluated, 2);
    assert_eq!(bid.matched_ids(), ["GATED", "UNGATED"]);
}

#[test]
fn events_with_no_nested_objects_only_fire_the_rules_that_fire_on_missing_by_design() {
    // Only `{"event": {"type": ...}}`: no ctx, no system config, no db indexes, no payload.
    // RF03 (no otpValid), RF09 (no geotag) and RF23 (no provider status) fire by design;
    // everything else quietly does not match, and nothing errors.
    for (bundle, engine) in all_engines() {
        for (event_type, _) in EVENT_TYPES {
            let decision = engine.evaluate(&bare(event_type));
            let expected: &[&str] = match event_type {
                "shipment.complete" => &["RF03_OTP_MANDATORY_COMPLETION"],
                "inspection.uploaded" => &["RF09_INSPECTION_GEO_MISSING"],
                "route.request" => &["RF23_ROUTING_PROVIDER_FALLBACK"],
                _ => &[],
            };
            assert_eq!(decision.matched_ids(), expected, "{bundle}: {event_type}");
            assert!(
                decision.errors.is_empty(),
                "{bundle}: {event_type}: {:?}",
                decision.errors
            );
        }
    }
}

#[test]
fn missing_nested_objects_render_as_null_in_the_actions_of_rules_that_fire() {
    for (bundle, engine) in all_engines() {
        let decision = engine.evaluate(&bare("route.request"));
        let rule = find_match(&decision, "RF23_ROUTING_PROVIDER_FALLBACK").unwrap();
        assert_eq!(
            action_param(rule, "emitEvent", "/payload"),
            Some(&json!({ "bookingId": null, "provider": null })),
            "{bundle}"
        );
        let decision = engine.evaluate(&bare("shipment.complete"));
        let rule = find_match(&decision, "RF03_OTP_MANDATORY_COMPLETION").unwrap();
        assert_eq!(
            action_param(rule, "emitEvent", "/payload"),
            Some(&json!({ "shipmentId": null, "attempts": null })),
            "{bundle}"
        );
    }
}

#[test]
fn events_with_a_partially_missing_subtree_do_not_match_and_do_not_error() {
    let partial = [
        (
            "missing system.config",
            with(clean_bid(), &[("/system", Value::Null)]),
            "bid.create",
        ),
        (
            "missing db",
            with(
                event(
                    "pod.uploaded",
                    json!({ "pod": { "fileHash": SEEN_POD_HASH } }),
                ),
                &[("/db", Value::Null)],
            ),
            "pod.uploaded",
        ),
        (
            "null ctx",
            with(clean_bid(), &[("/ctx", json!(null))]),
            "bid.create",
        ),
        (
            "ctx is a string",
            input("truck.create", json!({}), json!("OP-1")),
            "truck.create",
        ),
        (
            "gps is a number",
            event("gps.ping", json!({ "gps": 5, "telemetry": [] })),
            "gps.ping",
        ),
        (
            "winner is empty",
            event("bid.finalize", json!({ "winner": {} })),
            "bid.finalize",
        ),
        (
            "ingest is null",
            event("kyc.bulk_ingest", json!({ "ingest": null })),
            "kyc.bulk_ingest",
        ),
        (
            "override has no target",
            event("admin.override.request", json!({ "override": {} })),
            "admin.override.request",
        ),
        (
            "collusionGraph is missing",
            event("shipment.completed", json!({ "shipment": { "id": "S" } })),
            "shipment.completed",
        ),
        (
            "doc has no ocr",
            event(
                "doc.uploaded",
                json!({ "doc": { "type": "rc" }, "truck": {} }),
            ),
            "doc.uploaded",
        ),
        (
            "inspection geo present, franchise missing",
            event(
                "inspection.uploaded",
                json!({ "inspection": { "geo": { "lat": 17.0, "lng": 78.0, "accuracy": 3 } } }),
            ),
            "inspection.uploaded",
        ),
    ];
    for (bundle, engine) in all_engines() {
        for (what, doc, event_type) in &partial {
            let decision = engine.evaluate(doc);
            assert!(
                decision.errors.is_empty(),
                "{bundle}: {what}: {:?}",
                decision.errors
            );
            assert!(
                decision.matched.is_empty(),
                "{bundle}: {what}: {:?}",
                decision.matched_ids()
            );
            assert_eq!(
                decision.rules_evaluated as usize,
                engine.plan().candidate_rules(Some(event_type)).len(),
                "{bundle}: {what}"
            );
        }
    }
}

#[test]
fn evaluate_json_gives_the_same_decision_as_evaluate() {
    let engine = project_engine();
    let doc = bid_tripping_every_rule();
    let bytes = serde_json::to_vec(&doc).unwrap();
    assert_eq!(engine.evaluate_json(&bytes).unwrap(), engine.evaluate(&doc));
    assert!(engine.evaluate_json(b"{\"event\": ").is_err());
}

#[test]
fn decisions_serialise_with_the_documented_shape() {
    let engine = project_engine();
    let decision = engine.evaluate(&with(clean_bid(), &[("/ctx/userKycStatus", Value::Null)]));
    let value = serde_json::to_value(&decision).unwrap();
    assert_eq!(value["verdict"]["outcome"], "rejected");
    assert_eq!(value["verdict"]["rule_id"], "RF01_KYC_MANDATORY");
    assert_eq!(value["verdict"]["code"], "KYC_REQUIRED");
    assert_eq!(value["matched"][0]["id"], "RF01_KYC_MANDATORY");
    assert_eq!(value["matched"][0]["priority"], 1000);
    assert_eq!(value["matched"][0]["severity"], "critical");
    assert_eq!(value["matched"][0]["audit"], true);
    assert_eq!(value["matched"][0]["actions"][0]["name"], "rejectRequest");
    assert_eq!(value["errors"], json!([]));
    assert_eq!(value["rules_evaluated"], 6);
    assert_eq!(value["ruleset_hash"], json!(engine.plan().ruleset_hash()));
    // What the bindings and the CLI hand out reads back as the same decision, verdict
    // texts, rendered parameters and hash included.
    let back: acs_engine::Decision = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(back, decision);
    assert_eq!(serde_json::to_value(&back).unwrap(), value);
    assert_eq!(
        back.rejection().and_then(|r| r.code()),
        Some("KYC_REQUIRED")
    );
    assert_eq!(
        back.matched[0]
            .action("emitEvent")
            .map(|a| a.params["payload"]["reason"].clone()),
        Some(json!("KYC_MISSING"))
    );
}

#[test]
fn a_disabled_rule_is_neither_evaluated_nor_matched() {
    let scratch = temp_dir("disabled");
    let dir = scratch.path();
    let text = std::fs::read_to_string(PROJECT_BUNDLE).unwrap();
    let disabled = text.replacen(
        "  priority: 1000\n",
        "  priority: 1000\n  enabled: false\n",
        1,
    );
    assert_ne!(disabled, text);
    let path = dir.join("acs_rules_top25.yaml");
    std::fs::write(&path, disabled).unwrap();
    let engine = engine_at(&path);
    let decision = engine.evaluate(&with(clean_bid(), &[("/ctx/userKycStatus", Value::Null)]));
    assert!(decision.matched.is_empty(), "{:?}", decision.matched_ids());
    assert_eq!(decision.rules_evaluated, 5);
    assert_eq!(decision.verdict, Verdict::Allowed);
}

#[test]
fn one_engine_serves_many_threads_with_the_same_decisions() {
    let engine = project_engine();
    let docs = [
        bid_tripping_every_rule(),
        clean_bid(),
        bare("route.request"),
        input(
            "truck.create",
            json!({}),
            operator_ctx("U", OPERATOR_AT_LIMIT),
        ),
    ];
    let expected: Vec<_> = docs.iter().map(|d| engine.evaluate(d)).collect();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..50 {
                    for (doc, want) in docs.iter().zip(&expected) {
                        assert_eq!(&engine.evaluate(doc), want);
                    }
                }
            });
        }
    });
}

#[test]
fn the_shipped_velocity_rule_works_with_no_host_code() {
    // RF20 reads the `bid.modify` counter the bundle declares: no `rate.limitExceeded`
    // registered, 20 changes a minute allowed, the 21st throttled.
    let engine = Engine::from_path(PROJECT_BUNDLE).unwrap();
    let change = |user: &str| {
        json!({
            "event": {"type": "bid.modify"},
            "ctx": {"userId": user},
            "system": {"config": {"bidModifyRateLimit": 20}},
        })
    };
    for n in 1..=20 {
        let decision = engine.evaluate(&change("U-BUSY"));
        assert!(decision.errors.is_empty(), "{:?}", decision.errors);
        assert!(decision.matched.is_empty(), "change {n}");
    }
    let flood = engine.evaluate(&change("U-BUSY"));
    assert_eq!(flood.matched_ids(), ["RF20_BID_FLOOD_RATE_LIMIT"]);
    assert!(engine.evaluate(&change("U-CALM")).matched.is_empty());
}
