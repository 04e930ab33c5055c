//! The README's analyst walk-through runs as written: every `sh` block of the section,
//! in order, in one shell, from the repository root, against the `acs` built for this
//! test run.

use std::path::Path;
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const BUILD_LINE: &str = r#"cargo build -q -p acs-cli && export PATH="$PWD/target/debug:$PATH""#;

fn walkthrough_script() -> String {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme
        .find("## The analyst's workflow")
        .expect("walk-through section");
    let end = start + readme[start..].find("\n## ").expect("the section after it");
    let mut script = String::new();
    let mut in_sh = false;
    for line in readme[start..end].lines() {
        match line {
            "```sh" => in_sh = true,
            "```" if in_sh => in_sh = false,
            _ if in_sh => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    script
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let script = walkthrough_script();
    assert!(
        script.starts_with(BUILD_LINE),
        "the walk-through starts by building acs:\n{script}"
    );
    // The test already has the binary: put it first on PATH instead of building again.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_acs")).parent().unwrap();
    let script = script.replacen(
        BUILD_LINE,
        &format!("export PATH=\"{}:$PATH\"", bin_dir.display()),
        1,
    ) + "rm -rf \"$W\"\n";
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(ROOT)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("note: using ") && stderr.contains("/rules/acs.toml"),
        "{stderr}"
    );
    for expected in [
        "error[ACS411]: `ctxt` is not a root",
        "= help: did you mean `ctx`?",
        "error[ACS410]: unknown action `requireManualReveiw`",
        "26 rules, 2 errors, 0 warnings\nexit status 1",
        "26 rules, 0 errors, 0 warnings",
        "a bid above 90 per km of the lane is held for review",
        "passed, 0 failed",
        "RF26_BID_ABOVE_LANE_RATE  priority 850  medium  not matched",
        "│  └─ booking.distanceKm * 90",
        "baseline  rules/ (sha256:",
        "input     rules/examples/recorded.jsonl: 300 lines, 298 inputs, 1 blank, 1 invalid",
        "RF26_BID_ABOVE_LANE_RATE                   -     10     +10",
        "allowed -> BID_ABOVE_LANE_RATE: 9",
        "e.g. line 37: allowed [] -> rejected BID_ABOVE_LANE_RATE",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
}
