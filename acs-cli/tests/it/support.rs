//! What every `acs` end-to-end test needs: the repository's paths, the binary, temporary
//! directories, and a finished run's exit code and output.
// Test code like the tests that call it: a failed step should stop the test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
pub const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
pub const RULES_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/acs_rules_top25.yaml");
pub const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/examples");
pub const STUBS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/examples/stubs.json");
/// The legacy rules file, read in place (never copied); tests skip it when absent.
pub const LEGACY_BUNDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/acs_rules_top25.yaml"
);

/// The `acs` binary of this build.
pub fn acs() -> Command {
    Command::cargo_bin("acs").unwrap()
}

/// A fresh, empty, uniquely named directory under the system temp dir.
pub fn temp_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "acs-cli-test-{label}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A finished run of `acs`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `command` to completion.
pub fn run(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

// The test modules add their own methods to `Run`: names are shared by the whole crate.
impl Run {
    /// Exit 0; returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "stderr:\n{}", self.stderr);
        &self.stdout
    }

    /// Neither stream shows a Rust panic or a backtrace hint.
    pub fn no_panic(&self) {
        for text in [&self.stdout, &self.stderr] {
            assert!(!text.contains("panicked"), "{text}");
            assert!(!text.contains("RUST_BACKTRACE"), "{text}");
        }
    }
}
