//! Helpers shared by the test modules: rule lines, and the one decision on whether a
//! test may go on without the legacy fixture ([`legacy_bundle`]).

use std::path::Path;

/// The legacy rules file, read in place (outside the repository, never copied).
pub const LEGACY_BUNDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/acs_rules_top25.yaml"
);

/// Set to `1`, the tests that read the legacy fixture skip it when it is absent instead of
/// failing.
pub const ALLOW_MISSING_LEGACY: &str = "ACS_ALLOW_MISSING_LEGACY";

/// The legacy bundle's path, for a test that reads it.
///
/// When the fixture is absent the test fails, unless [`ALLOW_MISSING_LEGACY`] is `1`: then
/// this returns `None` and prints `SKIPPED <test name>: legacy fixture <path> not found`
/// on stderr, once per test, and the test leaves the legacy part out (`scripts/test-all`
/// counts and lists these lines). The same rule as `acs_integration_tests::legacy_bundle`,
/// which this crate cannot depend on (it depends on the engine).
pub fn legacy_bundle() -> Option<&'static Path> {
    use std::io::Write as _;
    thread_local! {
        // libtest runs each test on a thread of its own, named after the test.
        static REPORTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    let path = Path::new(LEGACY_BUNDLE);
    if path.is_file() {
        return Some(path);
    }
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    let allowed = std::env::var(ALLOW_MISSING_LEGACY).is_ok_and(|v| v == "1");
    assert!(
        allowed,
        "{test}: legacy fixture {LEGACY_BUNDLE} not found; provide it, or set {ALLOW_MISSING_LEGACY}=1 to skip the tests that need it"
    );
    if !REPORTED.replace(true) {
        // Written to the stream itself: libtest keeps what `eprintln!` prints from a passing
        // test, and `scripts/test-all` must see the line.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: legacy fixture {LEGACY_BUNDLE} not found"
        );
    }
    None
}

/// One rule, as a line of a rules file: low severity, no actions, not audited. The
/// condition is quoted as a JSON string, which YAML reads back unchanged whatever quotes
/// or backslashes it holds.
pub fn rule_line(id: &str, priority: i64, condition: &str) -> String {
    let condition = serde_json::Value::from(condition);
    format!(
        "- {{ id: {id}, priority: {priority}, severity: low, description: d, audit: false, condition: {condition}, action: [] }}\n"
    )
}
