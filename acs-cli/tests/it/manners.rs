//! Small courtesies of every command: counts in the singular, a byte-order mark, a word
//! when `acs eval` waits on a terminal.

use crate::support::{acs_lib, temp_dir, write, RULES_DIR};

const ONE_RULE: &str = "- {id: ONLY, priority: 1, severity: low, description: d, condition: \"event.type == 'a'\", action: [], audit: false}\n";

#[test]
fn one_rule_is_one_rule_not_one_rules() {
    let scratch = temp_dir("one-rule");
    let dir = scratch.path();
    let rules = write(dir, "one.yaml", ONE_RULE);
    let rules = rules.to_str().unwrap();
    let replay = acs_lib(&["replay", "--rules", rules, "-"], b"{\"event\": {}}\n");
    assert!(replay.stdout.contains(", 1 rule)"), "{}", replay.stdout);
    let watch = acs_lib(&["watch", "--max-reloads", "0", rules], b"");
    assert!(
        watch.stdout.contains(": 1 rule serving"),
        "{}",
        watch.stdout
    );
    let test = write(
        dir,
        "one.test.yaml",
        &format!("rules: {rules}\ntests:\n  - name: t\n    input: {{event: {{type: b}}}}\n    expect:\n      matched: []\n"),
    );
    let run = acs_lib(&["test", test.to_str().unwrap()], b"");
    assert!(
        run.stderr.contains("1 of 1 rule of ") && run.stderr.contains(" is not expected"),
        "{}",
        run.stderr
    );
}

#[test]
fn eval_accepts_a_utf8_byte_order_mark_before_the_json() {
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice(br#"{"event": {"type": "a"}}"#);
    let run = acs_lib(&["eval", "--quiet", "--rules", RULES_DIR, "-"], &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let scratch = temp_dir("bom");
    let dir = scratch.path();
    std::fs::write(dir.join("bom.json"), &input).unwrap();
    let file = dir.join("bom.json");
    let run = acs_lib(
        &[
            "eval",
            "--quiet",
            "--rules",
            RULES_DIR,
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn eval_on_a_terminal_says_it_reads_standard_input() {
    let run = |style: acs_cli::Style, args: &[&str]| {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut io = acs_cli::Io {
            stdin: &mut &br#"{"event": {}}"#[..],
            stdout: &mut stdout,
            stderr: &mut stderr,
            style,
            interrupted: None,
        };
        let code = acs_cli::run(args.iter().copied(), &mut io);
        assert_eq!(code, 0);
        String::from_utf8(stderr).unwrap()
    };
    let terminal = acs_cli::Style {
        stdin_is_terminal: true,
        ..acs_cli::Style::plain()
    };
    let args = [
        "acs",
        "eval",
        "--rules",
        RULES_DIR,
        "--functions",
        crate::support::STUBS,
    ];
    let said = run(terminal, &args);
    assert!(
        said.contains("reading the input document from standard input"),
        "{said}"
    );
    assert!(!run(acs_cli::Style::plain(), &args).contains("standard input"));
    let quiet = [&args[..], &["--quiet"]].concat();
    assert!(!run(terminal, &quiet).contains("standard input"));
}
