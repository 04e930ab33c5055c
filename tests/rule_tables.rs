//! One matching and one non-matching input for each of the 25 rules, in each bundle: the
//! project file, the `rules/` directory and the legacy fixture (loaded unchanged).
//!
//! `shared_cases` holds the rows on which both bundles agree. Where the project bundle
//! deliberately changed behaviour (mostly `!= null` guards on missing fields), the inputs
//! and both outcomes are in `divergences`, so the difference is documented, not hidden.
use acs_engine::Engine;
use acs_integration_tests::*;
use serde_json::{json, Value};

fn shared_cases() -> Vec<RuleCase> {
    let shipment_window = json!({ "start": "2025-11-22T06:00:00Z", "end": "2025-11-23T18:00:00Z" });
    let good_geo = json!({ "lat": 17.3851, "lng": 78.4868, "accuracy": 8 });
    let zone = json!({ "allowedGeoCenter": { "lat": 17.385, "lng": 78.4867 } });
    vec![
        case(
            "RF01_KYC_MANDATORY",
            "missing KYC status counts as not verified",
            input("bid.create", json!({}), user("U-1", "operator", None)),
            input(
                "bid.create",
                json!({}),
                user("U-1", "operator", Some("VERIFIED")),
            ),
            vec![
                ("rejectRequest", "/code", json!("KYC_REQUIRED")),
                ("emitEvent", "/name", json!("fraud.flagged")),
                ("emitEvent", "/payload/reason", json!("KYC_MISSING")),
                ("emitEvent", "/payload/userId", json!("U-1")),
            ],
        ),
        case(
            "RF01_KYC_MANDATORY",
            "pending KYC; a role outside the list is not checked",
            input(
                "shipment.start",
                json!({}),
                user("U-D", "driver", Some("PENDING")),
            ),
            input(
                "shipment.start",
                json!({}),
                user("U-A", "admin", Some("PENDING")),
            ),
            vec![("emitEvent", "/payload/userId", json!("U-D"))],
        ),
        case(
            "RF01_KYC_MANDATORY",
            "booking by a shipper; the status comparison is case-sensitive",
            input(
                "booking.create",
                json!({}),
                user("U-S", "shipper", Some("verified")),
            ),
            input(
                "booking.create",
                json!({}),
                user("U-S", "shipper", Some("VERIFIED")),
            ),
            vec![(
                "rejectRequest",
                "/message",
                json!("KYC verification required"),
            )],
        ),
        case(
            "RF02_TRUCK_DOCS_EXPIRED",
            "assigning a truck with expired documents",
            event(
                "shipment.assign",
                json!({ "truck": { "id": "TRK-EXP", "status": "EXPIRED_DOCS" } }),
            ),
            event(
                "shipment.assign",
                json!({ "truck": { "id": "TRK-EXP", "status": "expired_docs" } }),
            ),
            vec![
                ("rejectRequest", "/code", json!("TRUCK_DOCS_EXPIRED")),
                ("blockEntity", "/entityId", json!("TRK-EXP")),
                ("blockEntity", "/entityType", json!("truck")),
                ("createTicket", "/refs", json!(["TRK-EXP"])),
            ],
        ),
        case(
            "RF02_TRUCK_DOCS_EXPIRED",
            "bidding with an expired truck",
            with(
                clean_bid(),
                &[("/event/truck/status", json!("EXPIRED_DOCS"))],
            ),
            clean_bid(),
            vec![("blockEntity", "/entityId", json!("TRK-1"))],
        ),
        case(
            "RF03_OTP_MANDATORY_COMPLETION",
            "completion with a failed OTP",
            event(
                "shipment.complete",
                json!({ "shipment": { "id": "SHP-3", "otpValid": false, "otpAttempts": 2 } }),
            ),
            event(
                "shipment.complete",
                json!({ "shipment": { "id": "SHP-3", "otpValid": true, "otpAttempts": 1 } }),
            ),
            vec![
                ("rejectRequest", "/code", json!("OTP_REQUIRED")),
                ("emitEvent", "/payload/shipmentId", json!("SHP-3")),
                // A whole-string template keeps the number's type.
                ("emitEvent", "/payload/attempts", json!(2)),
            ],
        ),
        case(
            "RF03_OTP_MANDATORY_COMPLETION",
            "a missing otpValid fires by design; only a real `true` passes",
            event(
                "shipment.complete",
                json!({ "shipment": { "id": "SHP-3b" } }),
            ),
            event(
                "shipment.complete",
                json!({ "shipment": { "id": "SHP-3b", "otpValid": true } }),
            ),
            vec![("emitEvent", "/payload/attempts", Value::Null)],
        ),
        case(
            "RF04_OTP_BRUTE_FORCE_PROTECTION",
            "attempts reach the limit of 5",
            event(
                "security.otp_attempt",
                json!({ "shipment": { "id": "SHP-4", "otpAttempts": 5 } }),
            ),
            event(
                "security.otp_attempt",
                json!({ "shipment": { "id": "SHP-4", "otpAttempts": 4 } }),
            ),
            vec![
                ("blockEntity", "/entityId", json!("SHP-4")),
                ("blockEntity", "/reason", json!("OTP_BRUTE_FORCE")),
                ("createTicket", "/refs", json!(["SHP-4"])),
                ("emitEvent", "/payload/shipmentId", json!("SHP-4")),
            ],
        ),
        case(
            "RF05_GPS_JUMP_ANOMALY",
            "250 km in 2 minutes; the same jump over 301 s is not",
            event(
                "gps.ping",
                json!({
                    "shipment": { "id": "SHP-5" },
                    "gps": { "lat": 12.97, "lng": 77.59, "deltaDistanceKm": 250, "deltaTimeSec": 120 }
                }),
            ),
            event(
                "gps.ping",
                json!({
                    "shipment": { "id": "SHP-5" },
                    "gps": { "lat": 12.97, "lng": 77.59, "deltaDistanceKm": 250, "deltaTimeSec": 301 }
                }),
            ),
            vec![
                ("freezeShipment", "/shipmentId", json!("SHP-5")),
                ("freezeShipment", "/reason", json!("GPS_JUMP")),
                // "{{gps}}" alone keeps the whole object.
                (
                    "emitEvent",
                    "/payload/details",
                    json!({ "lat": 12.97, "lng": 77.59, "deltaDistanceKm": 250, "deltaTimeSec": 120 }),
                ),
                (
                    "notifyRole",
                    "/message",
                    json!("GPS anomaly detected for shipment SHP-5"),
                ),
            ],
        ),
        case(
            "RF05_GPS_JUMP_ANOMALY",
            "exactly 200 km in exactly 300 s is at the limit",
            event(
                "gps.ping",
                json!({ "shipment": { "id": "SHP-5b" }, "gps": { "deltaDistanceKm": 200, "deltaTimeSec": 300 } }),
            ),
            event(
                "gps.ping",
                json!({ "shipment": { "id": "SHP-5b" }, "gps": { "deltaDistanceKm": 199.9, "deltaTimeSec": 300 } }),
            ),
            vec![(
                "notifyRole",
                "/message",
                json!("GPS anomaly detected for shipment SHP-5b"),
            )],
        ),
        case(
            "RF06_GPS_SPOOF_SIGNATURE",
            "spoof score above the 0.85 threshold",
            input(
                "gps.ping",
                json!({ "shipment": { "id": "SHP-6" }, "telemetry": { "spoofScore": 0.93 } }),
                json!({ "deviceId": "DEV-6" }),
            ),
            input(
                "gps.ping",
                json!({ "shipment": { "id": "SHP-6" }, "telemetry": { "spoofScore": 0.5 } }),
                json!({ "deviceId": "DEV-6" }),
            ),
            vec![
                ("freezeShipment", "/reason", json!("GPS_SPOOF")),
                ("blockEntity", "/entityType", json!("device")),
                ("blockEntity", "/entityId", json!("DEV-6")),
                ("createTicket", "/refs", json!(["DEV-6", "SHP-6"])),
            ],
        ),
        case(
            "RF07_POD_DUPLICATE_HASH",
            "a POD hash already in the index",
            input(
                "pod.uploaded",
                json!({ "shipment": { "id": "SHP-7" }, "pod": { "fileHash": SEEN_POD_HASH } }),
                json!({ "uploaderId": "U-UP" }),
            ),
            input(
                "pod.uploaded",
                json!({ "shipment": { "id": "SHP-7" }, "pod": { "fileHash": "sha256:fresh" } }),
                json!({ "uploaderId": "U-UP" }),
            ),
            vec![
                ("freezeShipment", "/shipmentId", json!("SHP-7")),
                ("flagWatchlist", "/entityId", json!("U-UP")),
                ("emitEvent", "/payload/podHash", json!(SEEN_POD_HASH)),
            ],
        ),
        case(
            "RF08_POD_METADATA_MISMATCH",
            "POD stamped a day before pickup; 30 minutes before pickup is inside the window",
            event("pod.uploaded", pod_at("2025-11-20T06:00:00Z")),
            event("pod.uploaded", pod_at("2025-11-21T05:30:00Z")),
            vec![
                ("rejectRequest", "/code", json!("POD_TIMESTAMP_MISMATCH")),
                ("createTicket", "/refs", json!(["SHP-8"])),
            ],
        ),
        case(
            "RF08_POD_METADATA_MISMATCH",
            "POD stamped 25 h after drop; 23 h after drop is inside the window",
            event("pod.uploaded", pod_at("2025-11-23T07:00:00Z")),
            event("pod.uploaded", pod_at("2025-11-23T05:00:00Z")),
            vec![("createTicket", "/summary", json!("POD timestamp mismatch"))],
        ),
        case(
            "RF08_POD_METADATA_MISMATCH",
            "a POD without a metadata timestamp does not fire",
            event("pod.uploaded", pod_at("2025-11-20T06:00:00Z")),
            with(
                event("pod.uploaded", pod_at("x")),
                &[("/event/pod/metadata/timestamp", Value::Null)],
            ),
            vec![],
        ),
        case(
            "RF09_INSPECTION_GEO_MISSING",
            "no geotag at all fires by design",
            event(
                "inspection.uploaded",
                json!({ "inspection": { "id": "INS-9" } }),
            ),
            event(
                "inspection.uploaded",
                json!({ "inspection": { "id": "INS-9", "geo": good_geo } }),
            ),
            vec![
                ("rejectRequest", "/code", json!("INVALID_GEO")),
                ("emitEvent", "/payload/inspectionId", json!("INS-9")),
            ],
        ),
        case(
            "RF09_INSPECTION_GEO_MISSING",
            "accuracy 120 m is worse than 50 m; 50 m exactly is fine",
            event(
                "inspection.uploaded",
                json!({ "inspection": { "id": "INS-9b", "geo": { "lat": 17.3, "lng": 78.4, "accuracy": 120 } } }),
            ),
            event(
                "inspection.uploaded",
                json!({ "inspection": { "id": "INS-9b", "geo": { "lat": 17.3, "lng": 78.4, "accuracy": 50 } } }),
            ),
            vec![("emitEvent", "/payload/inspectionId", json!("INS-9b"))],
        ),
        case(
            "RF10_INSPECTION_DUPLICATE_PHOTO",
            "photo indexed for another truck; the same truck's own photo is fine",
            event(
                "inspection.uploaded",
                inspection_photo(SEEN_IMAGE_HASH, Some("TRK-MINE")),
            ),
            event(
                "inspection.uploaded",
                inspection_photo(SEEN_IMAGE_HASH, Some(INDEXED_TRUCK)),
            ),
            vec![
                (
                    "rejectRequest",
                    "/code",
                    json!("INSPECTION_DUPLICATE_PHOTO"),
                ),
                ("flagWatchlist", "/entityId", json!("UF-10")),
                ("createTicket", "/refs", json!(["INS-10"])),
            ],
        ),
        case(
            "RF10_INSPECTION_DUPLICATE_PHOTO",
            "a hash not in the index does not fire",
            event(
                "inspection.uploaded",
                inspection_photo(SEEN_IMAGE_HASH, Some("TRK-MINE")),
            ),
            event(
                "inspection.uploaded",
                inspection_photo("sha256:new-photo", Some("TRK-MINE")),
            ),
            vec![],
        ),
        case(
            "RF11_TRUCK_OWNER_MISMATCH",
            "OCR chassis differs from the registry's",
            event(
                "doc.uploaded",
                rc_upload(Some("MAT448112N3K20931"), Some("MAT448112N3K99999")),
            ),
            event(
                "doc.uploaded",
                rc_upload(Some("MAT448112N3K20931"), Some("MAT448112N3K20931")),
            ),
            vec![
                ("blockEntity", "/entityId", json!("TRK-11")),
                ("blockEntity", "/reason", json!("CHASSIS_MISMATCH")),
                ("createTicket", "/refs", json!(["TRK-11"])),
            ],
        ),
        case(
            "RF11_TRUCK_OWNER_MISMATCH",
            "only RC documents are compared",
            event("doc.uploaded", rc_upload(Some("A"), Some("B"))),
            with(
                event("doc.uploaded", rc_upload(Some("A"), Some("B"))),
                &[("/event/doc/type", json!("insurance"))],
            ),
            vec![],
        ),
        case(
            "RF12_OPERATOR_MAX_TRUCKS_LIMIT",
            "operator with 12 trucks against a limit of 10; 3 trucks is fine",
            input(
                "truck.create",
                json!({ "truck": { "registration": "AP39TV0912" } }),
                operator_ctx("U-OP1", OPERATOR_AT_LIMIT),
            ),
            input(
                "truck.create",
                json!({ "truck": { "registration": "AP39TV0912" } }),
                operator_ctx("U-OP2", "OP-2"),
            ),
            vec![
                ("rejectRequest", "/code", json!("MAX_TRUCKS_EXCEEDED")),
                // Part of a longer string: interpolated.
                ("notifyRole", "/message", json!("Max trucks allowed: 10")),
                ("notifyRole", "/role", json!("operator")),
            ],
        ),
        case(
            "RF12_OPERATOR_MAX_TRUCKS_LIMIT",
            "no operator id: not fired",
            input(
                "truck.create",
                json!({}),
                operator_ctx("U-OP1", OPERATOR_AT_LIMIT),
            ),
            input(
                "truck.create",
                json!({}),
                user("U-OP1", "operator", Some("VERIFIED")),
            ),
            vec![],
        ),
        case(
            "RF13_LEDGER_NEGATIVE_PREVENTION",
            "balance 100 below the 465 fee",
            with(
                clean_bid(),
                &[("/event/operator/ledgerBalance", json!(100))],
            ),
            clean_bid(),
            vec![
                ("rejectRequest", "/code", json!("LEDGER_INSUFFICIENT")),
                ("emitEvent", "/payload/operatorId", json!("U-OP2")),
                ("emitEvent", "/payload/required", json!(465)),
            ],
        ),
        case(
            "RF13_LEDGER_NEGATIVE_PREVENTION",
            "a missing balance is silently not compared (does not fire)",
            with(
                clean_bid(),
                &[("/event/operator/ledgerBalance", json!(464.99))],
            ),
            with(
                clean_bid(),
                &[("/event/operator/ledgerBalance", Value::Null)],
            ),
            vec![],
        ),
        case(
            "RF14_AUTO_FINALIZATION_LEDGER_RACE",
            "winner's balance no longer covers its fee; an equal balance does",
            event(
                "bid.finalize",
                json!({ "booking": { "id": "BKG-14" }, "winner": { "ledgerBalance": 10, "bidFee": 50 } }),
            ),
            event(
                "bid.finalize",
                json!({ "booking": { "id": "BKG-14" }, "winner": { "ledgerBalance": 50, "bidFee": 50 } }),
            ),
            vec![
                ("emitEvent", "/name", json!("bid.finalize.retry")),
                ("emitEvent", "/payload/bookingId", json!("BKG-14")),
                (
                    "emitEvent",
                    "/payload/reason",
                    json!("LEDGER_INVALID_AT_FINALIZE"),
                ),
                ("createTicket", "/team", json!("ops")),
            ],
        ),
        case(
            "RF15_BID_TIE_BREAKER",
            "identical amounts",
            event(
                "bid.evaluate",
                json!({ "booking": { "id": "BKG-15" }, "bids": { "haveIdenticalAmount": true } }),
            ),
            event(
                "bid.evaluate",
                json!({ "booking": { "id": "BKG-15" }, "bids": { "haveIdenticalAmount": false } }),
            ),
            vec![
                ("emitEvent", "/payload/bookingId", json!("BKG-15")),
                (
                    "emitEvent",
                    "/payload/method",
                    json!("timestamp_then_operatorId"),
                ),
                ("proceed", "/outcome", json!("apply_tiebreaker")),
            ],
        ),
        case(
            "RF16_PII_LEAK_REDACTION",
            "a mobile number in a message",
            input(
                "message.send",
                json!({}),
                json!({ "userId": "U-16", "payload": { "text": "call me on 98765 43210 or 9876543210" } }),
            ),
            input(
                "message.send",
                json!({}),
                json!({ "userId": "U-16", "payload": { "text": "see you at the Pune depot at 10" } }),
            ),
            vec![
                ("redactField", "/field", json!("payload.text")),
                ("flagWatchlist", "/entityId", json!("U-16")),
                ("rejectRequest", "/code", json!("PII_REDACTED")),
            ],
        ),
        case(
            "RF16_PII_LEAK_REDACTION",
            "an e-mail address in a bid's text; no text at all does not fire",
            with(
                clean_bid(),
                &[(
                    "/ctx/payload/text",
                    json!("mail ops.desk@example.co.in for the rate"),
                )],
            ),
            with(clean_bid(), &[("/ctx/payload", Value::Null)]),
            vec![("flagWatchlist", "/entityId", json!("U-OP2"))],
        ),
        case(
            "RF17_DEVICE_ACCOUNT_COLLISION",
            "device with 3 accounts and an overlapping accept; a single-account device is fine",
            input(
                "shipment.accept",
                json!({ "shipment": { "id": "SHP-17", "timeWindow": shipment_window } }),
                json!({ "deviceId": SHARED_DEVICE }),
            ),
            input(
                "shipment.accept",
                json!({ "shipment": { "id": "SHP-17", "timeWindow": shipment_window } }),
                json!({ "deviceId": "DEV-SINGLE" }),
            ),
            vec![
                ("rejectRequest", "/code", json!("DEVICE_ACCOUNT_COLLISION")),
                ("flagWatchlist", "/entityId", json!(SHARED_DEVICE)),
                ("createTicket", "/team", json!("fraud")),
            ],
        ),
        case(
            "RF17_DEVICE_ACCOUNT_COLLISION",
            "no time window: no overlap to find",
            input(
                "shipment.accept",
                json!({ "shipment": { "id": "SHP-17", "timeWindow": shipment_window } }),
                json!({ "deviceId": SHARED_DEVICE }),
            ),
            input(
                "shipment.accept",
                json!({ "shipment": { "id": "SHP-17" } }),
                json!({ "deviceId": SHARED_DEVICE }),
            ),
            vec![],
        ),
        case(
            "RF18_ADMIN_OVERRIDE_NO_JUSTIFICATION",
            "critical override without a justification",
            input(
                "admin.override.request",
                override_of("critical", None, true),
                json!({ "userId": "ADM-1" }),
            ),
            input(
                "admin.override.request",
                override_of("critical", Some("customer escalation #4411"), true),
                json!({ "userId": "ADM-1" }),
            ),
            vec![
                (
                    "rejectRequest",
                    "/code",
                    json!("OVERRIDE_REQUIRES_2FA_AND_JUSTIFICATION"),
                ),
                ("emitEvent", "/payload/adminId", json!("ADM-1")),
                (
                    "emitEvent",
                    "/payload/targetRule",
                    json!("RF01_KYC_MANDATORY"),
                ),
            ],
        ),
        case(
            "RF18_ADMIN_OVERRIDE_NO_JUSTIFICATION",
            "critical override without 2FA; a non-critical one needs neither",
            input(
                "admin.override.request",
                override_of("critical", Some("ticket #1"), false),
                json!({ "userId": "ADM-1" }),
            ),
            input(
                "admin.override.request",
                override_of("high", None, false),
                json!({ "userId": "ADM-1" }),
            ),
            vec![],
        ),
        case(
            "RF19_COLLUSION_TRIAD_FREQ",
            "triad seen 8 times (the threshold); 7 is below",
            event(
                "shipment.completed",
                json!({ "shipment": { "id": "SHP-19" }, "operator": { "id": "OP-19" }, "collusionGraph": { "triadFrequency": 8 } }),
            ),
            event(
                "shipment.completed",
                json!({ "shipment": { "id": "SHP-19" }, "operator": { "id": "OP-19" }, "collusionGraph": { "triadFrequency": 7 } }),
            ),
            vec![
                ("freezeShipment", "/shipmentId", json!("SHP-19")),
                ("suspendAccount", "/accountId", json!("OP-19")),
                ("suspendAccount", "/severity", json!("critical")),
                ("createTicket", "/refs", json!(["SHP-19"])),
            ],
        ),
        case(
            "RF20_BID_FLOOD_RATE_LIMIT",
            "user over the modification rate limit",
            input("bid.modify", json!({}), json!({ "userId": FLOODING_USER })),
            input("bid.modify", json!({}), json!({ "userId": "U-CALM" })),
            vec![
                ("throttle", "/policy", json!("exponential_backoff")),
                ("emitEvent", "/payload/userId", json!(FLOODING_USER)),
                ("emitEvent", "/payload/action", json!("bid.modify")),
            ],
        ),
        case(
            "RF21_PREDATORY_BID_DETECT",
            "20000 is below 0.6 x 39900; 30000 is not",
            with(clean_bid(), &[("/event/bid/amount", json!(20_000))]),
            with(clean_bid(), &[("/event/bid/amount", json!(30_000))]),
            vec![
                ("rejectRequest", "/code", json!("PREDATORY_BID_HOLD")),
                ("flagWatchlist", "/entityId", json!("U-OP2")),
                ("createTicket", "/refs", json!(["BID-1"])),
            ],
        ),
        case(
            "RF21_PREDATORY_BID_DETECT",
            "no booking: no estimate, no hold",
            with(clean_bid(), &[("/event/bid/amount", json!(1))]),
            with(
                clean_bid(),
                &[
                    ("/event/bid/amount", json!(1)),
                    ("/event/booking", Value::Null),
                ],
            ),
            vec![],
        ),
        case(
            "RF22_MAINTENANCE_WINDOW_BLOCK",
            "truck creation during the operator's maintenance window",
            input(
                "truck.create",
                json!({}),
                operator_ctx("U-M", OPERATOR_IN_MAINTENANCE),
            ),
            input("truck.create", json!({}), operator_ctx("U-OP2", "OP-2")),
            vec![
                ("rejectRequest", "/code", json!("MAINTENANCE_WINDOW")),
                (
                    "emitEvent",
                    "/payload/operatorId",
                    json!(OPERATOR_IN_MAINTENANCE),
                ),
                ("emitEvent", "/payload/action", json!("truck.create")),
            ],
        ),
        case(
            "RF22_MAINTENANCE_WINDOW_BLOCK",
            "bid creation during the window",
            with(
                clean_bid(),
                &[("/ctx/operatorId", json!(OPERATOR_IN_MAINTENANCE))],
            ),
            clean_bid(),
            vec![("emitEvent", "/payload/action", json!("bid.create"))],
        ),
        case(
            "RF23_ROUTING_PROVIDER_FALLBACK",
            "provider timed out; OK means no fallback",
            event(
                "route.request",
                json!({ "booking": { "id": "BKG-23" }, "routing": { "provider": { "id": "osrm", "status": "TIMEOUT" } } }),
            ),
            event(
                "route.request",
                json!({ "booking": { "id": "BKG-23" }, "routing": { "provider": { "id": "osrm", "status": "OK" } } }),
            ),
            vec![
                ("proceed", "/outcome", json!("use_local_heuristic")),
                ("emitEvent", "/payload/bookingId", json!("BKG-23")),
                ("emitEvent", "/payload/provider", json!("osrm")),
            ],
        ),
        case(
            "RF23_ROUTING_PROVIDER_FALLBACK",
            "no provider status fires by design",
            event("route.request", json!({ "booking": { "id": "BKG-23b" } })),
            event(
                "route.request",
                json!({ "booking": { "id": "BKG-23b" }, "routing": { "provider": { "status": "OK" } } }),
            ),
            vec![("emitEvent", "/payload/provider", Value::Null)],
        ),
        case(
            "RF24_INSPECTION_OUT_OF_ZONE",
            "geotag about 13 km from the zone centre; 11 m away is inside",
            event(
                "inspection.uploaded",
                json!({
                    "inspection": { "id": "INS-24", "unitFranchiseId": "UF-24", "geo": { "lat": 17.5, "lng": 78.5, "accuracy": 5 } },
                    "unitFranchise": zone
                }),
            ),
            event(
                "inspection.uploaded",
                json!({
                    "inspection": { "id": "INS-24", "unitFranchiseId": "UF-24", "geo": good_geo },
                    "unitFranchise": zone
                }),
            ),
            vec![
                ("rejectRequest", "/code", json!("OUT_OF_ZONE_INSPECTION")),
                ("flagWatchlist", "/entityId", json!("UF-24")),
                ("createTicket", "/refs", json!(["INS-24"])),
            ],
        ),
        case(
            "RF24_INSPECTION_OUT_OF_ZONE",
            "no zone centre: nothing to compare against",
            event(
                "inspection.uploaded",
                json!({
                    "inspection": { "id": "INS-24", "geo": { "lat": 17.5, "lng": 78.5, "accuracy": 5 } },
                    "unitFranchise": zone
                }),
            ),
            event(
                "inspection.uploaded",
                json!({
                    "inspection": { "id": "INS-24", "geo": { "lat": 17.5, "lng": 78.5, "accuracy": 5 } },
                    "unitFranchise": {}
                }),
            ),
            vec![],
        ),
        case(
            "RF25_BATCH_KYC_INGEST_INCONSISTENT",
            "partial failure of a bulk ingest",
            event(
                "kyc.bulk_ingest",
                json!({ "ingest": {
                "batchId": "BATCH-25",
                "partialFailure": true,
                "affected": [{ "record": 17, "error": "PAN mismatch" }],
                "affectedOperatorIds": ["OP-7", "OP-9"]
            } }),
            ),
            event(
                "kyc.bulk_ingest",
                json!({ "ingest": { "batchId": "BATCH-25", "partialFailure": false } }),
            ),
            vec![
                ("emitEvent", "/payload/batchId", json!("BATCH-25")),
                (
                    "emitEvent",
                    "/payload/affectedRecords",
                    json!([{ "record": 17, "error": "PAN mismatch" }]),
                ),
                ("requireManualReview", "/refs", json!(["BATCH-25"])),
                // "{{ingest.affectedOperatorIds}}" alone keeps the array.
                ("blockEntity", "/entityId", json!(["OP-7", "OP-9"])),
                ("blockEntity", "/scope", json!("partial")),
            ],
        ),
    ]
}

fn pod_at(timestamp: &str) -> Value {
    json!({
        "shipment": { "id": "SHP-8", "pickupAt": "2025-11-21T06:00:00Z", "dropAt": "2025-11-22T06:00:00Z" },
        "pod": { "fileHash": "sha256:fresh-pod", "metadata": { "timestamp": timestamp } }
    })
}

fn inspection_photo(hash: &str, truck: Option<&str>) -> Value {
    let mut fields = json!({
        "image": { "hash": hash },
        "inspection": {
            "id": "INS-10",
            "unitFranchiseId": "UF-10",
            "geo": { "lat": 17.385, "lng": 78.4867, "accuracy": 5 }
        }
    });
    if let Some(truck) = truck {
        fields["inspection"]["truckId"] = json!(truck);
    }
    fields
}

fn rc_upload(ocr: Option<&str>, registry: Option<&str>) -> Value {
    let mut fields = json!({ "doc": { "type": "rc", "ocr": {} }, "truck": { "id": "TRK-11" } });
    if let Some(ocr) = ocr {
        fields["doc"]["ocr"]["chassisNumber"] = json!(ocr);
    }
    if let Some(registry) = registry {
        fields["truck"]["chassisNumberInRegistry"] = json!(registry);
    }
    fields
}

fn override_of(severity: &str, justification: Option<&str>, two_fa: bool) -> Value {
    let mut fields = json!({
        "override": {
            "target": { "ruleId": "RF01_KYC_MANDATORY", "ruleSeverity": severity },
            "twoFaVerified": two_fa
        }
    });
    if let Some(justification) = justification {
        fields["override"]["justification"] = json!(justification);
    }
    fields
}

/// Inputs on which the bundles deliberately differ: `(rule, what, input, project, legacy)`,
/// the last two saying whether the rule matches.
fn divergences() -> Vec<(&'static str, &'static str, Value, bool, bool)> {
    vec![
        (
            "RF09_INSPECTION_GEO_MISSING",
            "a geo object with accuracy but no coordinates",
            event(
                "inspection.uploaded",
                json!({ "inspection": { "id": "INS-9c", "geo": { "accuracy": 5 } } }),
            ),
            true,
            false,
        ),
        (
            "RF09_INSPECTION_GEO_MISSING",
            "a geo object with `lon` instead of `lng` is usable",
            event(
                "inspection.uploaded",
                json!({ "inspection": { "id": "INS-9d", "geo": { "lat": 17.3, "lon": 78.4, "accuracy": 5 } } }),
            ),
            false,
            false,
        ),
        (
            "RF10_INSPECTION_DUPLICATE_PHOTO",
            "an indexed photo on an inspection without a truck id",
            event(
                "inspection.uploaded",
                inspection_photo(SEEN_IMAGE_HASH, None),
            ),
            false,
            true,
        ),
        (
            "RF11_TRUCK_OWNER_MISMATCH",
            "an RC whose OCR read no chassis number",
            event("doc.uploaded", rc_upload(None, Some("MAT448112N3K20931"))),
            false,
            true,
        ),
        (
            "RF11_TRUCK_OWNER_MISMATCH",
            "a truck without a registry chassis number",
            event("doc.uploaded", rc_upload(Some("MAT448112N3K20931"), None)),
            false,
            true,
        ),
        (
            "RF15_BID_TIE_BREAKER",
            "haveIdenticalAmount sent as 1 rather than true",
            event(
                "bid.evaluate",
                json!({ "booking": { "id": "BKG-15" }, "bids": { "haveIdenticalAmount": 1 } }),
            ),
            false,
            true,
        ),
        (
            "RF18_ADMIN_OVERRIDE_NO_JUSTIFICATION",
            "an empty justification with 2FA",
            input(
                "admin.override.request",
                override_of("critical", Some(""), true),
                json!({ "userId": "ADM-1" }),
            ),
            true,
            false,
        ),
    ]
}

#[test]
fn project_bundle_each_rule_has_a_matching_and_a_non_matching_input() {
    check_table(
        "rules/acs_rules_top25.yaml",
        &project_engine(),
        &shared_cases(),
    );
}

#[test]
fn rules_directory_as_a_bundle_each_rule_has_a_matching_and_a_non_matching_input() {
    check_table("rules/", &rules_dir_engine(), &shared_cases());
}

#[test]
fn legacy_bundle_unchanged_each_rule_has_a_matching_and_a_non_matching_input() {
    let Some(engine) = legacy_engine() else {
        return;
    };
    check_table("legacy acs_rules_top25.yaml", &engine, &shared_cases());
}

fn check_divergences(bundle: &str, engine: &Engine, project: bool) {
    let mut failures = Vec::new();
    for (id, what, doc, in_project, in_legacy) in divergences() {
        let expected = if project { in_project } else { in_legacy };
        let decision = engine.evaluate(&doc);
        if decision.matched_ids().contains(&id) != expected {
            failures.push(format!(
                "{id} ({what}): expected match = {expected}, matched {:?}",
                decision.matched_ids()
            ));
        }
        if !decision.errors.is_empty() {
            failures.push(format!("{id} ({what}): errors {:?}", decision.errors));
        }
    }
    assert!(failures.is_empty(), "{bundle}:\n{}", failures.join("\n"));
}

#[test]
fn project_bundle_guards_missing_fields_where_the_legacy_bundle_fired() {
    check_divergences("project bundle", &project_engine(), true);
}

#[test]
fn legacy_bundle_keeps_its_original_missing_field_behaviour() {
    let Some(engine) = legacy_engine() else {
        return;
    };
    check_divergences("legacy bundle", &engine, false);
}

#[test]
fn bundles_have_the_same_25_rules_in_priority_order() {
    let want: Vec<&str> = RULES.iter().map(|(id, _)| *id).collect();
    for (bundle, engine) in all_engines() {
        let plan = engine.plan();
        assert_eq!(plan.rule_count(), 25, "{bundle}");
        assert_eq!(plan.rule_ids().collect::<Vec<_>>(), want, "{bundle}");
    }
}

#[test]
fn every_match_reports_the_rules_priority_and_audit_flag() {
    for (bundle, engine) in all_engines() {
        for row in shared_cases() {
            let decision = engine.evaluate(&row.hit);
            let rule = find_match(&decision, row.id)
                .unwrap_or_else(|| panic!("{bundle}: {} did not match", row.id));
            let priority = RULES.iter().find(|(id, _)| *id == row.id).map(|(_, p)| *p);
            assert_eq!(Some(rule.priority()), priority, "{bundle}: {}", row.id);
            assert!(rule.audit(), "{bundle}: {}", row.id);
        }
    }
}

#[test]
fn rf16_detects_indian_mobile_numbers_in_their_common_written_forms() {
    // The everyday ways of writing one: bare, +91 (with or without a separator), the trunk
    // prefix 0, and 5+5 grouping after a prefix.
    let texts = [
        "call 9876543210",
        "call +91 9876543210",
        "call +91-9876543210",
        "call 09876543210",
        "call +91 98765 43210",
        "call 0 98765-43210",
    ];
    // Unprefixed 5+5 groups read like price ranges in bid chat, so they are not reported.
    let clean = ["range 75000-80000 per trip", "between 65000 70000 INR"];
    for (bundle, engine) in all_engines() {
        let fires = |text: &str| {
            let doc = input(
                "message.send",
                json!({}),
                json!({ "payload": { "text": text } }),
            );
            engine
                .evaluate(&doc)
                .matched_ids()
                .contains(&"RF16_PII_LEAK_REDACTION")
        };
        let missed: Vec<&str> = texts.iter().copied().filter(|t| !fires(t)).collect();
        assert!(
            missed.is_empty(),
            "{bundle}: RF16 let these through: {missed:?}"
        );
        let flagged: Vec<&str> = clean.iter().copied().filter(|t| fires(t)).collect();
        assert!(
            flagged.is_empty(),
            "{bundle}: RF16 flagged ordinary text: {flagged:?}"
        );
    }
}
