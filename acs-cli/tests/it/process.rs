//! What only the whole process shows and the binary cannot be made to do on demand: a
//! panic on another thread while a command runs over the process's streams. The test
//! runs this test binary again as a child, with the binary's own hook and streams
//! (`acs_cli::install_panic_hook`, `acs_cli::with_process_streams`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const CHILD: &str = "ACS_IT_PANIC_CHILD";
const CHILD_TEST: &str = "process::child_panics_on_a_thread_while_a_command_runs";

#[test]
fn a_panic_on_another_thread_is_reported_in_one_line_and_never_hangs() {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = finished_within_a_minute(child)
        .unwrap_or_else(|| panic!("the process hung after a panic on another thread"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: internal error in acs: ")
            && stderr.contains("a worker panicked on purpose"),
        "{stderr}"
    );
    assert!(stderr.contains("the command went on"), "{stderr}");
}

#[test]
#[ignore = "run as a child process by the test above"]
fn child_panics_on_a_thread_while_a_command_runs() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    acs_cli::install_panic_hook();
    acs_cli::with_process_streams(acs_cli::Style::plain(), None, |io| {
        let _ = writeln!(io.stderr, "a command runs");
        let worker = std::thread::spawn(|| panic!("a worker panicked on purpose"));
        let _ = worker.join();
        let _ = writeln!(io.stderr, "the command went on");
    });
}

/// `acs ARGS` with its standard output a pipe whose reader has already gone, as in
/// `acs … | head -c1` once `head` has exited; returns the exit code and standard error.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_acs"))
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_closed_output_pipe_ends_each_command_quietly_with_its_own_status() {
    let lint_error = format!("{ROOT}/acs-cli/tests/lint_cases/plain/ACS410_unknown_action.yaml");
    let cases: [(&[&str], i32); 7] = [
        (&["lint-rules", &lint_error], 1),
        (&["lint-rules", "--format", "json", &lint_error], 1),
        (&["lint-rules", "rules/"], 0),
        (
            &[
                "eval",
                "--rules",
                "rules/",
                "--functions",
                "rules/examples/stubs.json",
                "rules/examples/bid_create_kyc_missing.json",
            ],
            0,
        ),
        (&["test", "rules/tests/"], 0),
        (
            &[
                "replay",
                "--quiet",
                "--rules",
                "rules/",
                "rules/examples/recorded.jsonl",
            ],
            0,
        ),
        (&["watch", "--max-reloads", "3", "rules/"], 0),
    ];
    for (args, code) in cases {
        let (status, stderr) = with_closed_stdout(args);
        assert_eq!(status, Some(code), "acs {args:?}\nstderr:\n{stderr}");
        for noise in ["error", "Broken pipe", "panicked"] {
            assert!(!stderr.contains(noise), "acs {args:?}\nstderr:\n{stderr}");
        }
    }
}

#[test]
fn ctrl_c_during_replay_prints_the_report_of_the_lines_read_and_exits_130() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_acs"))
        .args(["replay", "--rules", "rules/", "--format", "json", "-"])
        .current_dir(ROOT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let line = b"{\"event\": {\"type\": \"bid.create\"}}\n";
    for _ in 0..100 {
        stdin.write_all(line).unwrap();
    }
    // The rules' warnings come after loading, so the handler is in place by then.
    let mut seen = Vec::new();
    let mut byte = [0];
    while !String::from_utf8_lossy(&seen).contains("warning[") {
        assert_eq!(std::io::Read::read(&mut stderr, &mut byte).unwrap(), 1);
        seen.push(byte[0]);
    }
    let stderr_rest = std::thread::spawn(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        rest
    });
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // A reader blocked on a quiet pipe sees the request with the next line; standard
    // input stays open, so only the interruption can end the run.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("replay went on reading after Ctrl-C");
        }
        let _ = stdin.write_all(line);
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = stderr_rest.join().unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: the report covers the first"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The signal may come before the first line is read: whole lines only, none cut.
    assert_eq!(report["inputs"], report["lines"], "{report}");
    assert_eq!(report["invalid"]["count"], 0, "{report}");
    drop(stdin);
}

/// `acs ARGS` run to its end, or killed after 60 s (then `None`): a command that waits on
/// a pipe nobody writes to must fail the test, not hang it.
fn within_a_minute(args: &[&str]) -> Option<std::process::Output> {
    let child = Command::new(env!("CARGO_BIN_EXE_acs"))
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finished_within_a_minute(child)
}

/// `child`'s output once it ends, or `None` (and the child killed) if it runs for more
/// than a minute: a hang fails the test instead of stalling the run.
fn finished_within_a_minute(mut child: std::process::Child) -> Option<std::process::Output> {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child.wait_with_output().unwrap())
}

/// A FIFO that nobody writes to: opening it for reading waits for a writer. It lives in
/// the scratch directory returned with it, removed when that guard drops.
fn fifo(label: &str) -> (TempDir, String) {
    let scratch = crate::support::temp_dir(label);
    let path = scratch.path().join("fifo");
    let made = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success());
    (scratch, path.display().to_string())
}

#[test]
fn a_fifo_or_a_device_given_as_a_file_is_refused_at_once() {
    let (_fifo_scratch, pipe) = fifo("fifo-input");
    let stubs = "rules/examples/stubs.json";
    let example = "rules/examples/bid_create_clean.json";
    for special in [pipe.as_str(), "/dev/zero"] {
        let cases: [&[&str]; 2] = [
            &["eval", "--rules", "rules/", "--functions", stubs, special],
            &["eval", "--rules", "rules/", "--functions", special, example],
        ];
        for args in cases {
            let output = within_a_minute(args)
                .unwrap_or_else(|| panic!("acs {args:?} did not end within a minute"));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "acs {args:?}: {stderr}");
            assert!(
                stderr.contains(special) && stderr.contains("not a regular file"),
                "acs {args:?}: {stderr}"
            );
        }
    }
}

#[test]
fn a_rule_test_whose_input_file_is_a_fifo_or_a_device_is_an_error() {
    let scratch = crate::support::temp_dir("fifo-test");
    let dir = scratch.path();
    let (_fifo_scratch, pipe) = fifo("fifo-test-input");
    for special in [pipe.as_str(), "/dev/zero"] {
        let test = crate::support::write(
            dir,
            "special.test.yaml",
            &format!(
                "rules: {ROOT}/rules/\ntests:\n  - name: special input\n    input_file: {special}\n    expect:\n      matched: []\n"
            ),
        );
        // Reads outside the test's bundle allowed: the special file itself is refused.
        let args = ["test", "--allow-outside-reads", test.to_str().unwrap()];
        let output = within_a_minute(&args)
            .unwrap_or_else(|| panic!("acs {args:?} did not end within a minute"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
}
