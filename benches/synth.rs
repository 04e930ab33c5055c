//! Synthetic rule bundles and events of any size, for the scale benches: seeded and
//! deterministic, in the shapes of `rules/acs_rules_top25.yaml` (type gates, comparisons,
//! `in` lists, nested paths, `!= null` guards, host calls, built-ins, templated actions).
//!
//! Rule `i` depends only on the seed, `i` and its event type (`i / rules_per_type`), and
//! an event only on the seed, its type and its own number: with 25 rules per type (the
//! benches' shape, [`event_types_for`]) the first 25 rules of a 10 000-rule bundle are the
//! whole 25-rule bundle, so an event of the first type does exactly the same work against
//! both and only the size of the plan differs.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

/// How many rules each event type gates in the benches' bundles (issue #5: at most 25).
pub const RULES_PER_TYPE: usize = 25;

/// The number of event types for an `n`-rule bundle with [`RULES_PER_TYPE`] per type.
pub fn event_types_for(rules: usize) -> usize {
    rules.div_ceil(RULES_PER_TYPE).max(1)
}

/// splitmix64: tiny, fast, and good enough to pick shapes and thresholds.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64, index: u64) -> Self {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.0 ^= rng.next().wrapping_add(index);
        let _ = rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len()))
            .copied()
            .unwrap_or_default()
    }

    /// Uniform in `0.0..1.0`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const STREAM_TYPE: u64 = 1;
const STREAM_RULE: u64 = 2;
const STREAM_EVENT: u64 = 3;

const NOUNS: &[&str] = &[
    "bid",
    "booking",
    "truck",
    "shipment",
    "operator",
    "pod",
    "gps",
    "inspection",
    "driver",
    "doc",
    "payment",
    "route",
    "message",
    "device",
    "ledger",
    "franchise",
];
const VERBS: &[&str] = &[
    "create", "update", "assign", "complete", "upload", "accept", "cancel", "verify",
];
const STATUSES: &[&str] = &["ACTIVE", "PENDING", "VERIFIED", "EXPIRED_DOCS", "BLOCKED"];
const SUSPECT_STATUSES: &[&str] = &["PENDING", "EXPIRED_DOCS", "BLOCKED"];
const KINDS: &[&str] = &[
    "standard",
    "express",
    "bulk",
    "reefer",
    "hazmat",
    "container",
];
const ROLES: &[&str] = &["shipper", "operator", "driver", "inspector", "admin"];
const TEXTS: &[&str] = &[
    "Can load tomorrow morning, covered container.",
    "Truck available at the depot today after 4pm.",
    "Price includes tolls and loading charges.",
    "Driver reached the gate, waiting for the seal.",
    "Call me on +91 98480 22338 to settle outside the app.",
];
const HASHES: usize = 12;

/// The name of event type `t` (`"truck.assign.17"`) and its alias (`"truck.assign.17.v2"`),
/// which a quarter of that type's rules also gate on.
pub fn event_type_name(seed: u64, t: usize) -> String {
    let mut rng = Rng::new(seed, STREAM_TYPE, t as u64);
    format!("{}.{}.{t}", rng.pick(NOUNS), rng.pick(VERBS))
}

/// The three entities (keys under `event`) events of type `t` carry and its rules read.
fn entities(seed: u64, t: usize) -> [&'static str; 3] {
    let mut rng = Rng::new(seed, STREAM_TYPE, t as u64);
    let _type_name = (rng.pick(NOUNS), rng.pick(VERBS));
    let first = rng.below(NOUNS.len());
    let second = (first + 1 + rng.below(NOUNS.len() - 1)) % NOUNS.len();
    let mut third = (second + 1 + rng.below(NOUNS.len() - 1)) % NOUNS.len();
    if third == first {
        third = (third + 1) % NOUNS.len();
        if third == second {
            third = (third + 1) % NOUNS.len();
        }
    }
    [first, second, third].map(|i| NOUNS.get(i).copied().unwrap_or("bid"))
}

/// A YAML bundle of `rules` rules over `event_types` event types (⌈rules / event_types⌉
/// consecutive rules per type; [`event_types_for`] gives the benches' 25 per type), seeded
/// by `seed`. Every rule is gated on its type (a quarter on `type in [type, type.v2]`) and
/// calls only [`crate::host_functions`] and the built-ins.
pub fn synthetic_bundle(rules: usize, event_types: usize, seed: u64) -> String {
    let per_type = rules.div_ceil(event_types.max(1)).max(1);
    let mut yaml = String::with_capacity(rules * 640 + 64);
    yaml.push_str("# Synthetic bundle (benches/synth.rs): generated, do not edit.\n");
    for i in 0..rules {
        write_rule(&mut yaml, seed, i, i / per_type);
    }
    yaml
}

fn write_rule(yaml: &mut String, seed: u64, i: usize, t: usize) {
    let mut rng = Rng::new(seed, STREAM_RULE, i as u64);
    let type_name = event_type_name(seed, t);
    let [e1, e2, e3] = entities(seed, t);
    let gate = if rng.chance(25) {
        format!("event.type in ['{type_name}', '{type_name}.v2']")
    } else {
        format!("event.type == '{type_name}'")
    };
    let mut conjuncts = vec![gate];
    // Two plain checks, then (often) one costlier check, like the real bundle.
    for _ in 0..2 {
        conjuncts.push(plain_check(&mut rng, [e1, e2, e3]));
    }
    if rng.chance(60) {
        conjuncts.push(costly_check(&mut rng, [e1, e2, e3], &type_name));
    }
    let condition = conjuncts.join(" && ");
    let severity = rng.pick(&["low", "medium", "high", "critical"]);
    let priority = 100 + rng.below(900);
    let id = format!("SYN{i:06}");
    let _ = writeln!(yaml, "- id: {id}");
    let _ = writeln!(yaml, "  priority: {priority}");
    let _ = writeln!(yaml, "  severity: {severity}");
    let _ = writeln!(
        yaml,
        "  description: \"Synthetic rule {i} on {type_name}: {} checks.\"",
        conjuncts.len() - 1
    );
    let _ = writeln!(yaml, "  tags: [synthetic, {e1}]");
    let _ = writeln!(yaml, "  condition: \"{condition}\"");
    yaml.push_str("  action:\n");
    if rng.chance(40) {
        let _ = writeln!(
            yaml,
            "    - rejectRequest: {{ code: \"{}_{i}\", message: \"Rejected by synthetic rule {i}\" }}",
            e1.to_uppercase()
        );
    }
    let _ = writeln!(
        yaml,
        "    - emitEvent: {{ name: \"fraud.flagged\", payload: {{ rule: \"{id}\", userId: \"{{{{ctx.userId}}}}\", ref: \"{{{{{e1}.id}}}}\" }} }}"
    );
    if rng.chance(50) {
        let _ = writeln!(
            yaml,
            "    - createTicket: {{ team: \"fraud\", summary: \"{e2} {{{{{e2}.id}}}} flagged by {id}\", refs: [\"{{{{{e1}.id}}}}\"] }}"
        );
    }
    let _ = writeln!(yaml, "  audit: {}", rng.chance(70));
}

/// A cheap check: a comparison, an `in` list, a nested path or a `!= null` guard.
fn plain_check(rng: &mut Rng, [e1, e2, e3]: [&str; 3]) -> String {
    let e = rng.pick(&[e1, e2, e3]);
    match rng.below(8) {
        0 => format!("{e}.status == '{}'", rng.pick(SUSPECT_STATUSES)),
        1 => format!("{e}.status != null && {e}.status != 'ACTIVE'"),
        2 => {
            // Thresholds near the ends of the range: a check that is rarely true.
            let threshold = 1_000 * (1 + rng.below(15));
            match rng.below(4) {
                0 => format!("{e}.amount < {threshold}"),
                1 => format!("{e}.amount <= {threshold}"),
                2 => format!("{e}.amount > {}", 100_000 - threshold),
                _ => format!("{e}.amount >= {}", 100_000 - threshold),
            }
        }
        3 => format!("{e}.count >= system.config.maxCount"),
        4 => format!(
            "ctx.userRole in ['{}', '{}']",
            rng.pick(ROLES),
            rng.pick(ROLES)
        ),
        5 => format!("{e}.kind in ['{}', '{}']", rng.pick(KINDS), rng.pick(KINDS)),
        6 => format!("{e}.geo != null && {e}.geo.accuracy > system.config.maxGeoAccuracyMeters"),
        _ => format!("({e}.flags.manual == true || {e}.score >= system.config.spoofThreshold)"),
    }
}

/// A costlier check: a host call, a built-in, an index lookup or timestamp arithmetic.
fn costly_check(rng: &mut Rng, [e1, e2, e3]: [&str; 3], type_name: &str) -> String {
    match rng.below(8) {
        0 => "ctx.operatorId != null && db.count.trucksByOperator(ctx.operatorId) >= system.config.maxCount".to_owned(),
        1 => format!("ctx.userId != null && rate.limitExceeded(ctx.userId, '{type_name}', system.config.rateLimit) == true"),
        2 => format!("{e1}.amount != null && {e2} != null && {e1}.amount < priceEstimator.lowerBound({e2}) * system.config.factor"),
        3 => "ctx.operatorId != null && operator.maintenanceWindowActive(ctx.operatorId, now()) == true".to_owned(),
        4 => "ctx.payload.text != null && textContainsPII(ctx.payload.text) == true".to_owned(),
        5 => format!("{e1}.geo != null && {e3}.geo != null && distance({e1}.geo, {e3}.geo) > system.config.radiusMeters"),
        6 => format!("{e2}.hash != null && {e2}.hash in db.indexes.hashes && db.indexes.byHash[{e2}.hash].ownerId != {e1}.id"),
        _ => format!("{e1}.createdAt != null && ({e1}.createdAt < {e3}.createdAt - system.config.windowMs || {e1}.createdAt > {e3}.createdAt + system.config.windowMs)"),
    }
}

/// `count` events spread over `event_types` types (one in eight on a type's `.v2` alias),
/// seeded by `seed`.
pub fn synthetic_events(event_types: usize, count: usize, seed: u64) -> Vec<Value> {
    let types = event_types.max(1);
    (0..count)
        .map(|j| {
            let mut rng = Rng::new(seed, STREAM_EVENT ^ 0xABCD, j as u64);
            synthetic_event(seed, rng.below(types), j)
        })
        .collect()
}

/// Event number `j` of type `t`: the type's three entities with every field the rules
/// read (about one field in ten missing), a context, the config and the indexes.
pub fn synthetic_event(seed: u64, t: usize, j: usize) -> Value {
    let mut rng = Rng::new(seed, STREAM_EVENT, ((t as u64) << 32) ^ j as u64);
    let mut type_name = event_type_name(seed, t);
    if rng.chance(12) {
        type_name.push_str(".v2");
    }
    let mut event = Map::new();
    event.insert("type".to_owned(), Value::String(type_name));
    for (k, e) in entities(seed, t).into_iter().enumerate() {
        event.insert(e.to_owned(), entity(&mut rng, e, k));
    }
    let operator = format!("OP-{}", 1 + rng.below(9));
    let mut ctx = json!({
        "userId": format!("U-{:05}", rng.below(100_000)),
        "userRole": rng.pick(ROLES),
        "operatorId": operator,
        "deviceId": format!("DEV-{:06X}", rng.below(1 << 24)),
        "payload": { "text": rng.pick(TEXTS) }
    });
    if rng.chance(90) {
        if let Some(ctx) = ctx.as_object_mut() {
            ctx.insert("userKycStatus".to_owned(), json!("VERIFIED"));
        }
    }
    json!({
        "event": event,
        "ctx": ctx,
        "system": { "config": {
            "maxCount": 10, "otpRetryLimit": 5, "maxGeoAccuracyMeters": 50,
            "spoofThreshold": 0.85, "rateLimit": 20, "factor": 0.6,
            "radiusMeters": 2_000_000, "windowMs": 864_000_000
        } },
        "db": { "indexes": {
            "hashes": (0..4).map(hash).collect::<Vec<_>>(),
            "byHash": { hash(1): { "ownerId": "TRUCK-00001" }, hash(2): { "ownerId": "BID-00002" } }
        } }
    })
}

fn hash(n: usize) -> String {
    format!(
        "sha256:{:064x}",
        (n as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
    )
}

fn entity(rng: &mut Rng, name: &str, k: usize) -> Value {
    let prefix = name.to_uppercase();
    let mut fields = Map::new();
    let id = json!(format!("{prefix}-{:05}", rng.below(100_000)));
    fields.insert("id".to_owned(), id);
    let mut put = |rng: &mut Rng, key: &str, value: Value| {
        if rng.chance(92) {
            fields.insert(key.to_owned(), value);
        }
    };
    let amount = json!(rng.below(100_000));
    put(rng, "amount", amount);
    let count = json!(rng.below(14));
    put(rng, "count", count);
    let score = json!((rng.unit() * 100.0).round() / 100.0);
    put(rng, "score", score);
    let status = json!(if rng.chance(70) {
        "ACTIVE"
    } else {
        rng.pick(STATUSES)
    });
    put(rng, "status", status);
    let kind = json!(rng.pick(KINDS));
    put(rng, "kind", kind);
    let distance = json!(50 + rng.below(1500));
    put(rng, "distanceKm", distance);
    let created = json!(format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}Z",
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60)
    ));
    put(rng, "createdAt", created);
    let geo = json!({
        "lat": 8.0 + rng.unit() * 28.0,
        "lng": 68.0 + rng.unit() * 29.0,
        "accuracy": 3 + rng.below(60)
    });
    put(rng, "geo", geo);
    let flags = json!({ "verified": rng.chance(80), "manual": rng.chance(10) });
    put(rng, "flags", flags);
    // The second entity carries a hash that is sometimes in the index.
    if k == 1 {
        let h = json!(hash(rng.below(HASHES)));
        put(rng, "hash", h);
    }
    Value::Object(fields)
}

/// Limits for synthetic bundles: the 100 000-rule YAML (58 MiB) is over the default
/// 32 MiB rules-file limit, which is a defence for production, not a bench constraint.
pub fn bundle_limits() -> acs_engine::Limits {
    acs_engine::Limits {
        max_rules_file_bytes: 1 << 30,
        ..acs_engine::Limits::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_functions;
    use acs_engine::Engine;

    fn engine(rules: usize, seed: u64) -> Result<Engine, String> {
        Engine::builder()
            .functions(host_functions())
            .load_str(
                "synthetic.yaml",
                synthetic_bundle(rules, event_types_for(rules), seed),
            )
            .map_err(|e| e.to_string())
    }

    #[test]
    fn bundles_are_deterministic_and_prefix_stable() {
        assert_eq!(synthetic_bundle(50, 2, 7), synthetic_bundle(50, 2, 7));
        assert_ne!(synthetic_bundle(50, 2, 7), synthetic_bundle(50, 2, 8));
        // The 25-rule bundle is the first type of any larger one with 25 per type.
        let small = synthetic_bundle(25, 1, 7);
        assert!(synthetic_bundle(200, 8, 7).starts_with(&small));
        assert_eq!(synthetic_events(8, 20, 7), synthetic_events(8, 20, 7));
        assert_eq!(synthetic_event(7, 0, 3), synthetic_event(7, 0, 3));
    }

    #[test]
    fn bundles_load_clean_and_gate_at_most_25_rules_per_type() -> Result<(), String> {
        for rules in [25, 130, 1000] {
            let engine = engine(rules, 42)?;
            let plan = engine.plan();
            assert_eq!(plan.rule_count(), rules);
            assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
            let types = plan.event_types();
            assert!(
                types.len() > event_types_for(rules),
                "{} types",
                types.len()
            );
            for t in types {
                let candidates = plan.candidate_rules(Some(t)).len();
                assert!(
                    (1..=RULES_PER_TYPE).contains(&candidates),
                    "{t}: {candidates}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn events_run_their_types_rules_without_errors_and_sometimes_match() -> Result<(), String> {
        let engine = engine(1000, 42)?;
        let events = synthetic_events(event_types_for(1000), 400, 42);
        let (mut evaluated, mut matched, mut rejected) = (0, 0, 0);
        for event in &events {
            let decision = engine.evaluate(event);
            assert!(decision.errors.is_empty(), "{:?}", decision.errors);
            assert!(decision.rules_evaluated > 0, "{event}");
            evaluated += decision.rules_evaluated;
            matched += decision.matched.len();
            rejected += usize::from(decision.is_rejected());
        }
        // Fraud is rare: most events match nothing, some match a rule or two.
        let per_event = matched as f64 / events.len() as f64;
        eprintln!(
            "{per_event} matches per event, {rejected} of {} rejected",
            events.len()
        );
        assert!(
            (0.1..1.5).contains(&per_event),
            "{per_event} matches per event"
        );
        assert!(
            rejected > 0 && rejected < events.len() / 2,
            "{rejected} rejected"
        );
        assert!(
            evaluated as usize > events.len() * 15,
            "{evaluated} rules evaluated"
        );
        Ok(())
    }
}
