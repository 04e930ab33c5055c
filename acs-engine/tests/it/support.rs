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

/// The shipped rules directory, its stub table, and every input shipped beside them: the
/// example requests and each object line of the recorded traffic.
pub fn shipped_rules_and_inputs() -> (
    std::path::PathBuf,
    acs_engine::Functions,
    Vec<serde_json::Value>,
) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("rules");
    let stubs =
        acs_engine::Functions::from_stub_file(&root.join("examples").join("stubs.json")).unwrap();
    let mut inputs: Vec<serde_json::Value> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("stubs.json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    let recorded = std::fs::read_to_string(root.join("examples").join("recorded.jsonl")).unwrap();
    inputs.extend(
        recorded
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(serde_json::Value::is_object),
    );
    assert!(inputs.len() > 20);
    (root, stubs, inputs)
}

/// A scratch directory named `acs-{label}-...`, removed when the guard drops (a test that
/// panics too): keep the guard bound for as long as the test uses the directory.
pub fn scratch(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("acs-{label}-"))
        .tempdir()
        .unwrap()
}

/// A scratch directory and a path inside it that does not exist yet, for an audit log's
/// writer to create.
#[cfg(feature = "audit")]
pub fn scratch_log(label: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let guard = scratch(label);
    let log = guard.path().join("log");
    (guard, log)
}
