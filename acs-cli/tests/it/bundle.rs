//! `acs bundle`: the deploy pipeline's side of whole, signed bundles.

use crate::support::{acs_lib, in_dir, temp_dir, write};

const RULE: &str = "- {id: A, priority: 1, severity: low, description: d, condition: \"true\", action: [], audit: false}\n";

#[test]
fn keygen_manifest_sign_and_verify_then_a_tampered_file_is_refused() {
    let scratch = temp_dir("bundle");
    let dir = scratch.path();
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).unwrap();
    write(&rules, "a.yaml", RULE);
    let key = in_dir(dir, "deploy.key");
    let public = format!("{key}.pub");
    let rules_arg = rules.display().to_string();

    assert!(acs_lib(&["bundle", "keygen", &key], b"")
        .ok()
        .contains("deploy.key.pub"));
    // A key is never overwritten.
    let again = acs_lib(&["bundle", "keygen", &key], b"");
    assert_eq!(again.code, 2, "{}", again.stderr);

    let manifest = acs_lib(&["bundle", "manifest", &rules_arg], b"");
    assert!(
        manifest.ok().contains("acs-manifest.json: 1 rules file"),
        "{}",
        manifest.stdout
    );
    assert!(acs_lib(&["bundle", "sign", &rules_arg, "--key", &key], b"")
        .ok()
        .contains("acs-manifest.json.sig"));
    let verified = acs_lib(
        &["bundle", "verify", &rules_arg, "--public-key", &public],
        b"",
    );
    assert!(
        verified.ok().contains("signature verified"),
        "{}",
        verified.stdout
    );

    write(&rules, "a.yaml", &RULE.replace("id: A", "id: B"));
    let refused = acs_lib(
        &["bundle", "verify", &rules_arg, "--public-key", &public],
        b"",
    );
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("`a.yaml` differs"),
        "{}",
        refused.stderr
    );
    refused.no_panic();
}

#[test]
fn watch_with_a_public_key_refuses_an_unsigned_bundle_at_start() {
    let scratch = temp_dir("bundle-watch");
    let dir = scratch.path();
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).unwrap();
    write(&rules, "a.yaml", RULE);
    let key = in_dir(dir, "deploy.key");
    acs_lib(&["bundle", "keygen", &key], b"").ok();
    let public = format!("{key}.pub");
    let rules_arg = rules.display().to_string();
    let run = acs_lib(
        &[
            "watch",
            "--public-key",
            &public,
            "--max-reloads",
            "1",
            &rules_arg,
        ],
        b"",
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("is not signed"), "{}", run.stderr);
}
