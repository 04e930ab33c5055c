//! Every decision names the rules that made it: the content hash of the rules files.
use std::path::Path;

use acs_engine::Engine;
use acs_integration_tests::*;
use serde_json::json;

fn is_sha256(hash: &str) -> bool {
    hash.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn copy_project_bundle_to(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("acs_rules_top25.yaml");
    std::fs::copy(PROJECT_BUNDLE, &path).unwrap();
    path
}

#[test]
fn every_decision_carries_the_plans_ruleset_hash() {
    for (bundle, engine) in all_engines() {
        let hash = engine.plan().ruleset_hash().to_owned();
        assert!(is_sha256(&hash), "{bundle}: {hash}");
        let docs = [
            clean_bid(),
            with(clean_bid(), &[("/ctx/userKycStatus", json!("PENDING"))]),
            bare("route.request"),
            bare("no.such.type"),
            json!(null),
        ];
        for doc in &docs {
            assert_eq!(engine.evaluate(doc).ruleset_hash, hash, "{bundle}: {doc}");
        }
        let from_bytes = engine
            .evaluate_json(b"{\"event\":{\"type\":\"bid.create\"}}")
            .unwrap();
        assert_eq!(from_bytes.ruleset_hash, hash, "{bundle}");
    }
}

#[test]
fn the_same_files_give_the_same_hash() {
    let first = project_engine().plan().ruleset_hash().to_owned();
    assert_eq!(
        project_engine().plan().ruleset_hash(),
        first,
        "a second load"
    );
    assert_eq!(
        Engine::from_path(PROJECT_BUNDLE)
            .unwrap()
            .plan()
            .ruleset_hash(),
        first,
        "host functions are not part of the hash"
    );
    // The directory holds exactly that one rules file.
    assert_eq!(
        rules_dir_engine().plan().ruleset_hash(),
        first,
        "rules/ as a directory"
    );
    // Same file name and bytes elsewhere on disk.
    let scratch = temp_dir("same-hash");
    let dir = scratch.path();
    let copy = copy_project_bundle_to(dir);
    assert_eq!(
        engine_at(&copy).plan().ruleset_hash(),
        first,
        "a copy in another directory"
    );
    assert_eq!(
        engine_at(dir).plan().ruleset_hash(),
        first,
        "that directory"
    );

    if let Some(legacy) = legacy_bundle() {
        let a = engine_at(legacy).plan().ruleset_hash().to_owned();
        let b = engine_at(legacy).plan().ruleset_hash().to_owned();
        assert_eq!(a, b);
        assert_ne!(a, first, "the legacy and project bundles differ");
    }
}

#[test]
fn a_changed_file_gives_a_different_hash() {
    let original = project_engine().plan().ruleset_hash().to_owned();
    let scratch = temp_dir("changed-hash");
    let dir = scratch.path();
    let copy = copy_project_bundle_to(dir);
    let text = std::fs::read_to_string(&copy).unwrap();

    // A comment changes no rule but does change the file.
    std::fs::write(&copy, format!("{text}\n# reviewed\n")).unwrap();
    let commented = engine_at(&copy).plan().ruleset_hash().to_owned();
    assert_ne!(commented, original);

    // A changed threshold changes the hash and the decisions made under it.
    std::fs::write(
        &copy,
        text.replace("deltaDistanceKm >= 200", "deltaDistanceKm >= 100"),
    )
    .unwrap();
    let engine = engine_at(&copy);
    let changed = engine.plan().ruleset_hash().to_owned();
    assert_ne!(changed, original);
    assert_ne!(changed, commented);
    let ping = event(
        "gps.ping",
        json!({ "gps": { "deltaDistanceKm": 150, "deltaTimeSec": 60 } }),
    );
    let decision = engine.evaluate(&ping);
    assert_eq!(decision.matched_ids(), ["RF05_GPS_JUMP_ANOMALY"]);
    assert_eq!(decision.ruleset_hash, changed);
    assert!(project_engine().evaluate(&ping).matched.is_empty());

    // Restoring the bytes restores the hash.
    std::fs::write(&copy, &text).unwrap();
    assert_eq!(engine_at(&copy).plan().ruleset_hash(), original);

    // The file name is part of what is hashed.
    let renamed = dir.join("renamed.yaml");
    std::fs::rename(&copy, &renamed).unwrap();
    assert_ne!(engine_at(&renamed).plan().ruleset_hash(), original);

    // A second file in a directory bundle changes the directory's hash.
    std::fs::rename(&renamed, &copy).unwrap();
    std::fs::write(
        dir.join("zz_extra.yaml"),
        "- id: EXTRA\n  priority: 1\n  severity: low\n  description: Extra.\n  condition: \"event.type == 'x'\"\n  action:\n    - proceed: {}\n  audit: false\n",
    )
    .unwrap();
    let two_files = engine_at(dir);
    assert_eq!(two_files.plan().rule_count(), 26);
    assert_ne!(two_files.plan().ruleset_hash(), original);
}

#[test]
fn reload_picks_up_a_changed_file_and_new_decisions_carry_the_new_hash() {
    let scratch = temp_dir("reload-hash");
    let dir = scratch.path();
    let copy = copy_project_bundle_to(dir);
    let engine = engine_at(&copy);
    let before = engine.plan().ruleset_hash().to_owned();
    let ping = event(
        "gps.ping",
        json!({ "gps": { "deltaDistanceKm": 150, "deltaTimeSec": 60 } }),
    );
    assert!(engine.evaluate(&ping).matched.is_empty());

    let text = std::fs::read_to_string(&copy).unwrap();
    std::fs::write(
        &copy,
        text.replace("deltaDistanceKm >= 200", "deltaDistanceKm >= 100"),
    )
    .unwrap();
    let plan = engine.reload().unwrap();
    assert_ne!(plan.ruleset_hash(), before);
    let decision = engine.evaluate(&ping);
    assert_eq!(decision.matched_ids(), ["RF05_GPS_JUMP_ANOMALY"]);
    assert_eq!(decision.ruleset_hash, plan.ruleset_hash());

    // A broken file fails the reload and keeps the last good plan serving.
    std::fs::write(&copy, "- id: [unclosed\n").unwrap();
    assert!(engine.reload().is_err());
    assert_eq!(engine.evaluate(&ping).ruleset_hash, plan.ruleset_hash());
}
