//! `acs watch` end to end: a real process watching a real file, reporting a load, a
//! rejected edit (with file:line:col), a restored file and a new generation; in-process
//! through the library, how it starts and how it refuses rules that do not load.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use acs_integration_tests::legacy_bundle;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::acs_lib;

fn rule(id: &str) -> String {
    format!(
        "- id: {id}\n  priority: 1\n  severity: low\n  description: d\n  condition: \"event.type == 'a'\"\n  action:\n    - flagWatchlist: {{ reason: x }}\n  audit: false\n"
    )
}

/// `dir/rules.yaml` holding `text`, in a scratch directory removed when the guard
/// returned with it drops (a test that panics too).
fn temp_rules(label: &str, text: &str) -> (TempDir, PathBuf) {
    let scratch = tempfile::Builder::new()
        .prefix(&format!("acs-watch-{label}-"))
        .tempdir()
        .unwrap();
    let path = scratch.path().join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    (scratch, path)
}

/// Lines of a child's stdout, read on a thread so the test can wait with a deadline.
struct Lines {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Lines {
    fn spawn(args: &[&str]) -> Lines {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("acs"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if sender.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Lines { child, lines }
    }

    /// The next event. The deadline is generous: it only turns a hang into a failure.
    fn next_json(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("acs watch printed nothing");
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn reports_each_reload_as_it_happens() {
    let (_scratch, path) = temp_rules("events", &rule("A"));
    let mut watch = Lines::spawn(&[
        "watch",
        "--json",
        "--debounce",
        "10",
        "--max-reloads",
        "3",
        path.to_str().unwrap(),
    ]);
    let first = watch.next_json();
    assert_eq!(first["outcome"], "loaded");
    assert_eq!(first["generation"], 1);
    assert_eq!(first["rule_count"], 1);

    write(
        &path,
        &rule("A").replace("severity: low", "severity: lowest"),
    );
    let failed = watch.next_json();
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["generation"], 1);
    let diagnostic = &failed["diagnostics"][0];
    assert_eq!(diagnostic["code"], "ACS206");
    assert_eq!(diagnostic["location"]["line"], 3);
    assert_eq!(diagnostic["location"]["column"], 13);

    write(&path, &rule("A"));
    let unchanged = watch.next_json();
    assert_eq!(unchanged["outcome"], "unchanged");
    assert_eq!(unchanged["generation"], 1);

    write(&path, &format!("{}{}", rule("A"), rule("B")));
    let loaded = watch.next_json();
    assert_eq!(loaded["outcome"], "loaded");
    assert_eq!(loaded["generation"], 2);
    assert_eq!(loaded["rule_count"], 2);

    let status = watch.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stops after --max-reloads");
}

#[test]
fn human_output_names_the_failing_line() {
    let (_scratch, path) = temp_rules("human", &rule("A"));
    let watch = Lines::spawn(&["watch", "--debounce", "10", path.to_str().unwrap()]);
    let first = watch.lines.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(
        first.starts_with("loaded generation 1: 1 rule serving (sha256:"),
        "{first}"
    );
    write(&path, "- id: A\n  priority: [\n");
    let mut text = String::new();
    while !text.contains("could not load rules") {
        text.push_str(&watch.lines.recv_timeout(Duration::from_secs(30)).unwrap());
        text.push('\n');
    }
    assert!(
        text.contains("rejected generation 1 keeps serving"),
        "{text}"
    );
    assert!(text.contains("rules.yaml:"), "{text}");
}

#[test]
fn rules_that_do_not_load_stop_it_with_exit_2() {
    let (_scratch, path) = temp_rules("broken", "- id: A\n  priority: x\n");
    let run = acs_lib(&["watch", path.to_str().unwrap()], b"");
    assert_eq!(run.code, 2);
    let stderr = run.stderr;
    assert!(stderr.contains("rules.yaml:2:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn starts_on_the_shipped_and_the_legacy_bundles() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut bundles = vec![format!("{root}/rules")];
    bundles.extend(legacy_bundle().map(|p| p.display().to_string()));
    for bundle in bundles {
        let run = acs_lib(&["watch", "--quiet", "--max-reloads", "0", &bundle], b"");
        assert_eq!(run.code, 0, "{bundle}: {}", run.stderr);
        let stdout = run.stdout;
        assert!(
            stdout.starts_with("loaded generation 1: 25 rules serving (sha256:"),
            "{stdout}"
        );
    }
}
