//! The rule every legacy-fixture test follows when the fixture is absent: fail, unless
//! `ACS_ALLOW_MISSING_LEGACY=1`, then skip with one `SKIPPED` line.

use std::path::Path;

use acs_integration_tests::{legacy_fixture, ALLOW_MISSING_LEGACY};

#[test]
fn a_present_fixture_is_returned() {
    let here = Path::new(file!()).file_name().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(here);
    assert_eq!(legacy_fixture(&path), Some(path.as_path()));
}

#[test]
fn an_absent_fixture_fails_the_test_unless_skipping_is_allowed() {
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no/such/fixture.yaml");
    let outcome = std::panic::catch_unwind(|| legacy_fixture(&missing).is_none());
    if std::env::var(ALLOW_MISSING_LEGACY).is_ok_and(|v| v == "1") {
        assert!(outcome.unwrap(), "skipped: no path");
    } else {
        let message = outcome.unwrap_err();
        let text = message.downcast_ref::<String>().unwrap();
        assert!(text.contains("no/such/fixture.yaml not found"), "{text}");
        assert!(text.contains(ALLOW_MISSING_LEGACY), "{text}");
    }
}
