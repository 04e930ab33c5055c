//! The request path allocates nothing per rule: evaluating an event whose candidate rules
//! do not match performs no heap allocation at all (dhat counts every block).
// Not a module of `tests/it`: dhat counts the whole process's allocations, other tests' too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    reason = "tests fail by panicking"
)]

use acs_engine::Engine;
use serde_json::json;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const RULES: &str = r#"
- id: LEDGER
  priority: 940
  severity: high
  description: "ledger"
  condition: "event.type == 'bid.create' && operator.ledgerBalance < computedFees.bidFee"
  action: [ { rejectRequest: { code: "LEDGER", message: "{{operator.id}}" } } ]
  audit: true
- id: KYC
  priority: 1000
  severity: critical
  description: "kyc"
  condition: "ctx.userRole in ['shipper','operator','driver'] && ctx.userKycStatus != 'VERIFIED' && event.type in ['booking.create','bid.create']"
  action: [ { rejectRequest: { code: "KYC", message: "kyc" } } ]
  audit: true
- id: WINDOW
  priority: 965
  severity: high
  description: "timestamps and arithmetic"
  condition: "event.type == 'bid.create' && (pod.metadata.timestamp < shipment.pickupAt - 3600000 || bid.amount * 2 > 1e9 || textContainsPII(ctx.note) || distance(a.geo, b.geo) > 10)"
  action: []
  audit: false
- id: UNGATED
  priority: 1
  severity: low
  description: "runs on every event"
  condition: "db.indexes.hashes[image.hash].truckId != null && image.hash in db.indexes.hashes"
  action: []
  audit: false
"#;

#[test]
fn evaluating_non_matching_rules_allocates_nothing() {
    let engine = Engine::builder().load_str("rules.yaml", RULES).unwrap();
    let input = json!({
        "event": {
            "type": "bid.create",
            "operator": {"ledgerBalance": 500},
            "computedFees": {"bidFee": 100},
            "bid": {"amount": 41000},
            "pod": {"metadata": {"timestamp": "2026-11-21T10:00:00Z"}},
            "shipment": {"pickupAt": "2026-11-21T09:00:00Z"},
            "image": {"hash": "h1"}
        },
        "ctx": {"userRole": "operator", "userKycStatus": "VERIFIED", "note": "deliver by 5pm"},
        "db": {"indexes": {"hashes": {"h2": {"truckId": "T-1"}}}}
    });
    // Warm up lazily initialised statics (the PII regexes) outside the measured window.
    let warm = engine.evaluate(&input);
    assert!(
        warm.matched.is_empty() && warm.errors.is_empty(),
        "{warm:?}"
    );

    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get();
    for _ in 0..100 {
        let decision = engine.evaluate(&input);
        assert_eq!(decision.rules_evaluated, 4);
    }
    let after = dhat::HeapStats::get();
    assert_eq!(
        after.total_blocks - before.total_blocks,
        0,
        "allocations on the request path"
    );
}
