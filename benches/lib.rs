//! Benchmark support: the shipped 25-rule bundle, cheap host functions for the calls it
//! makes, and representative input documents with the rule ids each one must match.
//!
//! The benches (`benches/evaluate.rs`) time these inputs; the tests at the bottom check,
//! without timing anything, that every input still matches what it says, so a change to
//! the bundle that makes an input unrepresentative fails `cargo test`.

pub mod floor;
pub mod synth;

use acs_engine::{Decision, Engine, FunctionError, Functions, LoadError, Verdict};
use serde_json::{json, Value};

/// The rules bundle ACS ships (`rules/acs_rules_top25.yaml`).
pub const BUNDLE_YAML: &str = include_str!("../rules/acs_rules_top25.yaml");

/// The name the bundle is loaded under, for diagnostics.
pub const BUNDLE_NAME: &str = "rules/acs_rules_top25.yaml";

fn first_str<'a>(args: &[&'a Value]) -> Option<&'a str> {
    args.first().copied().and_then(Value::as_str)
}

/// The host functions the bundle calls (its header lists them), as cheap closures with
/// fixed answers: what a host with an in-process cache would cost, not a database.
///
/// - `db.count.trucksByOperator`: 12 for `OP-1` (over the limit of 10), 3 for anyone else;
/// - `db.count.driverAccountsByDevice`: 1;
/// - `overlappingAcceptExists`: false;
/// - `rate.limitExceeded`: false;
/// - `priceEstimator.lowerBound(booking)`: 70 per `booking.distanceKm`, null without it;
/// - `operator.maintenanceWindowActive`: false.
///
/// `now` is left to the built-in (the system clock), as in production.
pub fn host_functions() -> Functions {
    Functions::new()
        .with("db.count.trucksByOperator", |args: &[&Value]| {
            Ok(json!(if first_str(args) == Some("OP-1") {
                12
            } else {
                3
            }))
        })
        .with("db.count.driverAccountsByDevice", |_: &[&Value]| {
            Ok(json!(1))
        })
        .with("overlappingAcceptExists", |_: &[&Value]| {
            Ok(Value::Bool(false))
        })
        .with("rate.limitExceeded", |_: &[&Value]| Ok(Value::Bool(false)))
        .with("priceEstimator.lowerBound", |args: &[&Value]| {
            let km = args
                .first()
                .and_then(|booking| booking.get("distanceKm"))
                .and_then(Value::as_f64);
            Ok(km.map_or(Value::Null, |km| json!(km * 70.0)))
        })
        .with(
            "operator.maintenanceWindowActive",
            |args: &[&Value]| -> Result<Value, FunctionError> {
                match first_str(args) {
                    Some(_) => Ok(Value::Bool(false)),
                    None => Err(FunctionError::failed("operatorId must be a string")),
                }
            },
        )
}

/// An engine over the bundle with [`host_functions`].
pub fn bundle_engine() -> Result<Engine, LoadError> {
    Engine::builder()
        .functions(host_functions())
        .load_str(BUNDLE_NAME, BUNDLE_YAML)
}

/// One representative input and what it must produce.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name, used as the bench id (`evaluate/preparsed/<name>`).
    pub name: &'static str,
    /// The input document.
    pub input: Value,
    /// The ids of the rules it must match, in decision order.
    pub matched: &'static [&'static str],
    /// The rejection code it must get, or `None` for allowed.
    pub rejected_code: Option<&'static str>,
    /// How many rules the `event.type` gate lets through.
    pub rules_evaluated: u32,
}

impl Case {
    /// The input as compact JSON bytes, as a host would receive it.
    pub fn json_bytes(&self) -> Vec<u8> {
        // Serialising a `Value` cannot fail (its map keys are strings).
        serde_json::to_vec(&self.input).unwrap_or_default()
    }

    /// Check a decision against the expectations; the error says what differs.
    pub fn check(&self, decision: &Decision) -> Result<(), String> {
        let name = self.name;
        let ids = decision.matched_ids();
        if ids != self.matched {
            return Err(format!(
                "{name}: matched {ids:?}, expected {:?}",
                self.matched
            ));
        }
        if !decision.errors.is_empty() {
            return Err(format!("{name}: rule errors {:?}", decision.errors));
        }
        let code = match &decision.verdict {
            Verdict::Allowed => None,
            Verdict::Rejected(rejection) => Some(rejection.code().unwrap_or_default()),
        };
        if code != self.rejected_code {
            return Err(format!(
                "{name}: rejection code {code:?}, expected {:?}",
                self.rejected_code
            ));
        }
        if decision.rules_evaluated != self.rules_evaluated {
            return Err(format!(
                "{name}: {} rules evaluated, expected {}",
                decision.rules_evaluated, self.rules_evaluated
            ));
        }
        Ok(())
    }
}

/// Check every case against `engine`, both pre-parsed and from JSON bytes.
pub fn check_all(engine: &Engine, cases: &[Case]) -> Result<(), String> {
    for case in cases {
        case.check(&engine.evaluate(&case.input))?;
        let decision = engine
            .evaluate_json(&case.json_bytes())
            .map_err(|e| format!("{}: {e}", case.name))?;
        case.check(&decision)?;
    }
    Ok(())
}

/// All representative cases, in bench order.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "bid_create_clean",
            input: bid_create_clean(),
            matched: &[],
            rejected_code: None,
            rules_evaluated: 6,
        },
        Case {
            name: "bid_create_kyc_missing",
            input: bid_create_kyc_missing(),
            matched: &["RF01_KYC_MANDATORY"],
            rejected_code: Some("KYC_REQUIRED"),
            rules_evaluated: 6,
        },
        Case {
            name: "truck_create_over_limit",
            input: truck_create_over_limit(),
            matched: &["RF12_OPERATOR_MAX_TRUCKS_LIMIT"],
            rejected_code: Some("MAX_TRUCKS_EXCEEDED"),
            rules_evaluated: 2,
        },
        Case {
            name: "gps_ping",
            input: gps_ping(),
            matched: &[],
            rejected_code: None,
            rules_evaluated: 2,
        },
        Case {
            name: "pod_uploaded",
            input: pod_uploaded(),
            matched: &[],
            rejected_code: None,
            rules_evaluated: 2,
        },
        Case {
            name: "inspection_uploaded",
            input: inspection_uploaded(),
            matched: &["RF24_INSPECTION_OUT_OF_ZONE"],
            rejected_code: Some("OUT_OF_ZONE_INSPECTION"),
            rules_evaluated: 3,
        },
        Case {
            name: "message_send_pii",
            input: message_send_pii(),
            matched: &["RF16_PII_LEAK_REDACTION"],
            rejected_code: Some("PII_REDACTED"),
            rules_evaluated: 1,
        },
        Case {
            name: "unknown_event",
            input: unknown_event(),
            matched: &[],
            rejected_code: None,
            rules_evaluated: 0,
        },
    ]
}

/// A verified operator bids on a booking: every `bid.create` rule runs (two host calls,
/// a PII scan of the bid text), none matches.
pub fn bid_create_clean() -> Value {
    json!({
        "event": {
            "type": "bid.create",
            "bid": { "id": "BID-20251121-0042", "amount": 46500, "currency": "INR" },
            "booking": { "id": "BKG-7781", "distanceKm": 570, "vehicleType": "32FT_MXL" },
            "truck": { "id": "TRK-TS09UB4521", "status": "ACTIVE" },
            "operator": { "id": "OP-2", "ledgerBalance": 12000 },
            "computedFees": { "bidFee": 465 }
        },
        "ctx": {
            "userId": "U-OP2-ADMIN",
            "userRole": "operator",
            "userKycStatus": "VERIFIED",
            "operatorId": "OP-2",
            "deviceId": "DEV-A17F22",
            "payload": { "text": "Can load tomorrow morning. Covered 32 ft container, 8 years on this lane." }
        },
        "system": { "config": { "predatoryBidFactor": 0.6, "maxTrucksPerOperator": 10 } }
    })
}

/// An operator with no KYC status bids: RF01 matches and rejects (its templates render);
/// the other `bid.create` rules still run.
pub fn bid_create_kyc_missing() -> Value {
    json!({
        "event": {
            "type": "bid.create",
            "bid": { "id": "BID-20251121-0057", "amount": 31000, "currency": "INR" },
            "booking": { "id": "BKG-7790", "distanceKm": 715, "vehicleType": "20FT_SXL" },
            "truck": { "id": "TRK-MH12QK7781", "status": "ACTIVE" },
            "operator": { "id": "OP-3", "ledgerBalance": 5000 },
            "computedFees": { "bidFee": 310 }
        },
        "ctx": {
            "userId": "U-OP3-OWNER",
            "userRole": "operator",
            "operatorId": "OP-3",
            "deviceId": "DEV-C04B91",
            "payload": { "text": "Truck available at Pune depot today." }
        },
        "system": { "config": { "predatoryBidFactor": 0.6, "maxTrucksPerOperator": 10 } }
    })
}

/// Operator `OP-1` already has 12 trucks against a limit of 10: RF12 calls the host and
/// rejects; RF22 calls the host and `now()` and does not match.
pub fn truck_create_over_limit() -> Value {
    json!({
        "event": {
            "type": "truck.create",
            "truck": {
                "registration": "AP39TV0912",
                "chassisNumber": "MAT448112N3K20931",
                "vehicleType": "32FT_MXL",
                "capacityTonnes": 15
            }
        },
        "ctx": {
            "userId": "U-OP1-FLEET",
            "userRole": "operator",
            "userKycStatus": "VERIFIED",
            "operatorId": "OP-1",
            "deviceId": "DEV-77E0A3"
        },
        "system": {
            "config": { "maxTrucksPerOperator": 10, "spoofThreshold": 0.85, "otpRetryLimit": 5 }
        }
    })
}

/// An ordinary GPS ping: 1.2 km in 60 s, a low spoof score. RF05 and RF06 run, neither
/// matches.
pub fn gps_ping() -> Value {
    json!({
        "event": {
            "type": "gps.ping",
            "shipment": { "id": "SHP-55120", "bookingId": "BKG-7781" },
            "gps": {
                "lat": 17.4012,
                "lng": 78.4721,
                "accuracy": 8.5,
                "speedKmh": 72,
                "deltaDistanceKm": 1.2,
                "deltaTimeSec": 60,
                "recordedAt": "2025-11-21T12:01:00Z"
            },
            "telemetry": { "spoofScore": 0.07, "provider": "fused" }
        },
        "ctx": { "userId": "U-DRV-3391", "userRole": "driver", "deviceId": "DEV-9B21F0" },
        "system": { "config": { "spoofThreshold": 0.85, "maxGeoAccuracyMeters": 50 } }
    })
}

/// A POD upload whose hash is new and whose metadata timestamp falls inside the window:
/// RF07 scans the hash index, RF08 parses three RFC 3339 timestamps and does both
/// window comparisons. Nothing matches.
pub fn pod_uploaded() -> Value {
    json!({
        "event": {
            "type": "pod.uploaded",
            "shipment": {
                "id": "SHP-55120",
                "pickupAt": "2025-11-22T06:30:00Z",
                "dropAt": "2025-11-23T17:10:00Z"
            },
            "pod": {
                "fileHash": "sha256:4d7e1f0a9b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2",
                "metadata": { "timestamp": "2025-11-23T16:55:12Z", "device": "DEV-9B21F0" }
            }
        },
        "ctx": { "userId": "U-DRV-3391", "userRole": "driver", "uploaderId": "U-DRV-3391" },
        "system": {
            "config": { "podTimeWindowBefore": 3600000, "podTimeWindowAfter": 86400000 }
        },
        "db": {
            "indexes": {
                "pod_hashes": [
                    "sha256:9f2c4e1b7a0d3c5e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6",
                    "sha256:0b1c2d3e4f5a69f2c4e1b7a0d3c5e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a"
                ]
            }
        }
    })
}

/// An inspection photo geotagged about 5 km from its franchise's centre: RF09 finds the
/// geotag usable, RF10 looks the photo hash up (unknown), RF24 computes the distance and
/// rejects.
pub fn inspection_uploaded() -> Value {
    json!({
        "event": {
            "type": "inspection.uploaded",
            "inspection": {
                "id": "INSP-22019",
                "truckId": "TRK-TS09UB4521",
                "unitFranchiseId": "UF-HYD-04",
                "geo": { "lat": 17.4399, "lng": 78.4983, "accuracy": 12 }
            },
            "image": {
                "hash": "sha256:77aa1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
            },
            "unitFranchise": {
                "id": "UF-HYD-04",
                "allowedGeoCenter": { "lat": 17.385, "lng": 78.4867 }
            }
        },
        "ctx": { "userId": "U-INSP-118", "userRole": "inspector" },
        "system": {
            "config": { "maxGeoAccuracyMeters": 50, "inspectionGeoRadiusMeters": 2000 }
        },
        "db": {
            "indexes": {
                "inspection_image_hashes": {
                    "sha256:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809": {
                        "truckId": "TRK-KA01AB1234"
                    }
                }
            }
        }
    })
}

/// A chat message carrying a mobile number: RF16 runs the PII scan, matches and rejects.
pub fn message_send_pii() -> Value {
    json!({
        "event": {
            "type": "message.send",
            "message": {
                "id": "MSG-880127",
                "threadId": "THR-BKG-7781",
                "channel": "booking_chat",
                "sentAt": "2025-11-21T12:04:31Z"
            }
        },
        "ctx": {
            "userId": "U-OP2-ADMIN",
            "userRole": "operator",
            "operatorId": "OP-2",
            "deviceId": "DEV-A17F22",
            "payload": {
                "text": "Rate is fine but let's settle outside the app, call me on +91 98480 22338 or 9848022338 after 6pm."
            }
        },
        "system": { "config": { "maxTrucksPerOperator": 10 } }
    })
}

/// An event type no rule is gated on: the engine finds no candidate rule.
pub fn unknown_event() -> Value {
    json!({
        "event": {
            "type": "user.login",
            "login": {
                "method": "otp",
                "appVersion": "4.12.1",
                "platform": "android",
                "ip": "203.0.113.24",
                "at": "2025-11-21T12:05:09Z"
            }
        },
        "ctx": {
            "userId": "U-OP2-ADMIN",
            "userRole": "operator",
            "userKycStatus": "VERIFIED",
            "operatorId": "OP-2",
            "deviceId": "DEV-A17F22"
        },
        "system": { "config": { "otpRetryLimit": 5 } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_matches_what_it_says() -> Result<(), String> {
        let engine = bundle_engine().map_err(|e| e.to_string())?;
        check_all(&engine, &cases())
    }

    #[test]
    fn cases_are_representative_sizes() -> Result<(), String> {
        for case in cases() {
            let size = case.json_bytes().len();
            if !(250..=700).contains(&size) {
                return Err(format!("{}: {size} bytes of JSON", case.name));
            }
        }
        Ok(())
    }

    #[test]
    fn bundle_loads_without_warnings() -> Result<(), String> {
        let engine = bundle_engine().map_err(|e| e.to_string())?;
        let plan = engine.plan();
        if plan.rule_count() != 25 {
            return Err(format!("{} rules", plan.rule_count()));
        }
        if !plan.warnings().is_empty() {
            return Err(format!("warnings: {:?}", plan.warnings()));
        }
        Ok(())
    }
}
