//! Bundles served whole or not at all: a manifest of the bundle's files and their hashes,
//! optionally signed (Ed25519), checked by the engine at load and on every reload.

use std::path::Path;

use acs_engine::bundle::{self, BundleError, PrivateKey};
use acs_engine::{Engine, LoadError};
use serde_json::json;

fn rule(id: &str) -> String {
    format!("- {{id: {id}, priority: 1, severity: low, description: d, condition: \"true\", action: [], audit: false}}\n")
}

fn ids(engine: &Engine) -> Vec<String> {
    engine
        .evaluate(&json!({}))
        .matched_ids()
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn bundle_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, id) in files {
        std::fs::write(dir.path().join(name), rule(id)).unwrap();
    }
    dir
}

fn refused_because(error: &LoadError) -> &BundleError {
    match error {
        LoadError::Bundle { source } => source,
        other => panic!("expected a refused bundle, got {other}"),
    }
}

#[test]
fn a_bundle_with_a_manifest_is_served_only_as_listed() {
    let dir = bundle_dir(&[("a.yaml", "A1"), ("b.yaml", "B1")]);
    let manifest = bundle::write_manifest(dir.path()).unwrap();
    assert_eq!(manifest.files.len(), 2);
    let engine = Engine::from_path(dir.path()).unwrap();
    assert_eq!(ids(&engine), ["A1", "B1"]);

    // A deploy half-way: one file new, the manifest not yet written.
    std::fs::write(dir.path().join("a.yaml"), rule("A2")).unwrap();
    let error = engine.reload().unwrap_err();
    assert!(
        matches!(refused_because(&error), BundleError::Mismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("`a.yaml` differs"), "{error}");
    assert_eq!(ids(&engine), ["A1", "B1"], "the old bundle keeps serving");

    // A file the manifest does not list, and one it lists that is gone.
    std::fs::write(dir.path().join("b.yaml"), rule("B2")).unwrap();
    std::fs::write(dir.path().join("c.yaml"), rule("C2")).unwrap();
    let error = engine.reload().unwrap_err();
    assert!(
        error.to_string().contains("differs") || error.to_string().contains("not listed"),
        "{error}"
    );

    // The manifest, written last, completes the deploy.
    bundle::write_manifest(dir.path()).unwrap();
    engine.reload().unwrap();
    assert_eq!(ids(&engine), ["A2", "B2", "C2"]);
    std::fs::remove_file(dir.path().join("c.yaml")).unwrap();
    let error = engine.reload().unwrap_err();
    assert!(
        error.to_string().contains("`c.yaml` is listed but missing"),
        "{error}"
    );
}

#[test]
fn an_engine_with_a_public_key_serves_only_bundles_signed_with_its_key() {
    let key = PrivateKey::generate().unwrap();
    let dir = bundle_dir(&[("a.yaml", "A1")]);
    let load = |dir: &Path| {
        Engine::builder()
            .bundle_key(key.public_key())
            .load_path(dir)
    };

    // No manifest, then a manifest without a signature: refused.
    let error = load(dir.path()).unwrap_err();
    assert!(
        matches!(refused_because(&error), BundleError::Unsigned { .. }),
        "{error}"
    );
    bundle::write_manifest(dir.path()).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert!(
        matches!(refused_because(&error), BundleError::Unsigned { .. }),
        "{error}"
    );

    // Signed: served.
    bundle::sign(dir.path(), &key).unwrap();
    let engine = load(dir.path()).unwrap();
    assert_eq!(ids(&engine), ["A1"]);

    // Whoever can write the directory cannot switch rules off without the key: a new
    // file with a manifest to match, but the old signature.
    std::fs::write(dir.path().join("a.yaml"), "[]\n").unwrap();
    bundle::write_manifest(dir.path()).unwrap();
    let error = engine.reload().unwrap_err();
    assert!(
        matches!(refused_because(&error), BundleError::BadSignature { .. }),
        "{error}"
    );
    let status = engine.status();
    assert!(
        status
            .last_error
            .unwrap()
            .message
            .contains("does not verify"),
        "the refusal is in the status"
    );
    assert_eq!(ids(&engine), ["A1"]);

    // Signed with another key: refused too.
    let other = PrivateKey::generate().unwrap();
    bundle::sign(dir.path(), &other).unwrap();
    assert!(engine.reload().is_err());

    // A single rules file cannot be a signed bundle.
    let file = dir.path().join("a.yaml");
    let error = load(&file).unwrap_err();
    assert!(
        matches!(refused_because(&error), BundleError::NotADirectory { .. }),
        "{error}"
    );
}

#[test]
fn keys_round_trip_through_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate().unwrap();
    std::fs::write(dir.path().join("key"), key.to_hex()).unwrap();
    std::fs::write(dir.path().join("key.pub"), key.public_key().to_hex()).unwrap();
    let read = PrivateKey::read(&dir.path().join("key")).unwrap();
    assert_eq!(read.public_key(), key.public_key());
    let public = bundle::PublicKey::read(&dir.path().join("key.pub")).unwrap();
    assert_eq!(public, key.public_key());
    std::fs::write(dir.path().join("bad.pub"), "not hex").unwrap();
    assert!(bundle::PublicKey::read(&dir.path().join("bad.pub")).is_err());
}
