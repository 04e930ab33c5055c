//! What every `acs` end-to-end test needs: the repository's paths, `acs` run in-process
//! through the library ([`acs_lib`]) or as the built binary ([`acs`]), temporary
//! directories, and a finished run's exit code and output.

use std::path::{Component, Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
pub const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
pub const RULES_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/acs_rules_top25.yaml");
pub const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/examples");
pub const STUBS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/examples/stubs.json");

/// The `acs` binary of this build: for what only the process shows (argument parsing as
/// the shell passes it, exit statuses, `NO_COLOR`, a long-running `acs watch`).
pub fn acs() -> Command {
    Command::cargo_bin("acs").unwrap()
}

/// `acs ARGS` run in-process through `acs_cli::run`, with `stdin` as standard input and
/// the plain style of a pipe (flags such as `--color always` still apply).
pub fn acs_lib(args: &[&str], stdin: &[u8]) -> Run {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut input = stdin;
    let mut io = acs_cli::Io {
        stdin: &mut input,
        stdout: &mut stdout,
        stderr: &mut stderr,
        style: acs_cli::Style::plain(),
        interrupted: None,
    };
    let code = acs_cli::run(std::iter::once("acs").chain(args.iter().copied()), &mut io);
    Run {
        code: i32::from(code),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// A fresh, empty, uniquely named directory under the system temp dir, removed when the
/// guard drops (a test that panics too): keep it bound for as long as the test uses it.
pub fn temp_dir(label: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("acs-cli-test-{label}-"))
        .tempdir()
        .unwrap()
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `dir/name` as a string, for an argument list.
pub fn in_dir(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
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

    /// The output as a run from `dir` would show it: paths under `dir` (given as
    /// [`in_dir`] builds them, or found and shown relative to the test's working
    /// directory) lose the `dir/` in front. In-process runs share one working directory,
    /// so they name files by full path and this gives the short names back.
    pub fn seen_from(self, dir: &Path) -> Run {
        let mut prefixes = vec![format!("{}/", dir.display())];
        let relative = std::env::current_dir()
            .ok()
            .and_then(|cwd| dir.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .filter(|r| r.components().all(|c| matches!(c, Component::Normal(_))));
        if let Some(relative) = relative.filter(|r| !r.as_os_str().is_empty()) {
            prefixes.push(format!("{}/", relative.display()));
        }
        let strip = |text: String| {
            prefixes
                .iter()
                .fold(text, |text, prefix| text.replace(prefix, ""))
        };
        Run {
            code: self.code,
            stdout: strip(self.stdout),
            stderr: strip(self.stderr),
        }
    }
}
