//! Inputs the fuzz targets (`fuzz/`) found, fed exactly as found, plus the nesting limits
//! the campaign checked. One test per finding, named after it.

use acs_engine::unstable::syntax::{parse_condition, to_sexpr, to_source};
use acs_engine::Engine;

/// The `condition` target's check: what parses prints to source that parses back to the
/// same tree.
fn assert_round_trips(text: &str) {
    let expr = parse_condition(text).expect("the input parses");
    let printed = to_source(&expr);
    let again = parse_condition(&printed)
        .unwrap_or_else(|e| panic!("printed source `{printed}` does not parse: {e}"));
    assert_eq!(to_sexpr(&again), to_sexpr(&expr), "printed: {printed}");
}

/// `condition`, crash-a71cf077: 127 `!` before a number (depth 128, at the limit) printed
/// as `!(!(...(0)))`, 127 nested brackets, over the bracket limit of 32.
#[test]
fn condition_prefix_chain_prints_without_brackets() {
    assert_round_trips(&format!("{}0", "!".repeat(127)));
}

/// Found while fixing the above: a left-associative chain printed one bracket per
/// operator, so 40 `+` did not read back.
#[test]
fn condition_operator_chain_prints_without_brackets() {
    assert_round_trips(&vec!["a"; 41].join(" + "));
    assert_round_trips(&vec!["a"; 41].join(" in "));
}

// ---- nesting limits (also in properties.rs, for the parser alone) ------------------------

const DEEP: usize = 100_000;

#[test]
fn a_hundred_thousand_nested_parentheses_in_a_condition_are_an_error() {
    let text = format!("{}1{}", "(".repeat(DEEP), ")".repeat(DEEP));
    assert!(parse_condition(&text).is_err());
}

#[test]
fn a_hundred_thousand_nots_in_a_condition_are_an_error() {
    assert!(parse_condition(&format!("{}x", "!".repeat(DEEP))).is_err());
}

#[test]
fn a_hundred_thousand_nested_arrays_in_an_input_are_an_error() {
    let engine = Engine::builder()
        .load_str(
            "rules.yaml",
            "- { id: R, priority: 1, severity: low, description: d, audit: false, condition: 'true', action: [] }\n",
        )
        .unwrap();
    let json = format!("{{\"event\": {}{}}}", "[".repeat(DEEP), "]".repeat(DEEP));
    let error = engine.evaluate_json(json.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("recursion"), "{error}");
}

#[cfg(feature = "tools")]
#[test]
fn a_hundred_thousand_nested_lists_in_a_rule_test_file_are_an_error() {
    use acs_engine::testing::TestFile;

    let text = format!(
        "tests:\n  - name: deep\n    input: {}{}\n",
        "[".repeat(DEEP),
        "]".repeat(DEEP)
    );
    let Err(diagnostics) = TestFile::parse("deep.test.yaml", &text, std::path::Path::new("."))
    else {
        panic!("a deep test file parsed");
    };
    // The YAML parser's own limit, before the loader's.
    let message = &diagnostics[0].message;
    assert!(message.contains("recursion limit"), "{message}");
}

// ---- huge files --------------------------------------------------------------------------

fn one_line_rules(count: usize, extra: &str) -> String {
    let rules: Vec<String> = (0..count)
        .map(|i| {
            format!("{{ id: R{i}, priority: 1, severity: low, description: d, audit: false, condition: 'true', action: []{extra} }}")
        })
        .collect();
    format!("[{}]", rules.join(", "))
}

/// Found timing the `rules_file` target's slow inputs: every YAML event's byte offset was
/// found by walking its line from the start, so a rules file on one line loaded in
/// quadratic time (400 KB took 26 s, 1.6 MB over 5 minutes, in a release build).
#[test]
fn rules_file_on_one_long_line_loads() {
    let engine = Engine::builder()
        .load_str("one_line.yaml", one_line_rules(4000, ""))
        .unwrap();
    assert_eq!(engine.plan().rule_count(), 4000);
}

/// Found with the above: every diagnostic copied its whole source line, so 4000 errors on
/// a 450 KB line rendered to 2.7 GB. Excerpts of long lines are cut around the underline.
#[test]
fn errors_on_one_long_line_render_short_excerpts() {
    let Err(error) =
        Engine::builder().load_str("one_line.yaml", one_line_rules(4000, ", extra: 1"))
    else {
        panic!("unknown keys load");
    };
    let text = error.to_string();
    assert!(text.len() < 4000 * 2000, "{} bytes", text.len());
    let first = text.split("\n\n").next().unwrap();
    // The caret still sits under the key it points at.
    let lines: Vec<&str> = first.lines().collect();
    let source = lines.iter().find(|l| l.starts_with("1 | ")).unwrap();
    let caret = lines.iter().find(|l| l.contains('^')).unwrap();
    let at = caret.find('^').unwrap();
    assert!(source[at..].starts_with("extra"), "{source}\n{caret}");
    assert!(source.ends_with('…'), "{source}");
}

// ---- rendered parameters -----------------------------------------------------------------

/// Found writing the `template` target: a list or mapping used as a mapping key became the
/// key `""`, so two of them in one action streamed as `{"":1,"":2}` while the parameters
/// read as `{"":2}`. Such keys are a load error now.
#[test]
fn template_complex_mapping_keys_are_an_error() {
    let rules = "- id: T\n  priority: 1\n  severity: low\n  description: d\n  condition: 'true'\n  audit: false\n  action:\n    - emitEvent:\n        ? [a]\n        : \"{{event.x}}\"\n        ? [b]\n        : 2\n";
    let Err(error) = Engine::builder().load_str("rules.yaml", rules) else {
        panic!("complex keys load");
    };
    assert!(
        error.to_string().contains("a mapping key must be a scalar"),
        "{error}"
    );
    #[cfg(feature = "tools")]
    {
        let text = "tests:\n  - name: t\n    input: { ? [a] : 1 }\n";
        let parsed =
            acs_engine::testing::TestFile::parse("t.test.yaml", text, std::path::Path::new("."));
        assert!(parsed.is_err());
    }
}

/// `template`, crash-600278c3: the decision for the template `1/446744073709551308` did not
/// read back equal, because serde_json's default number parser can miss the nearest
/// `f64` by one unit in the last place (`2.238418053756088e-18` read as
/// `2.2384180537560883e-18`). serde_json is built with `float_roundtrip` now, which also
/// makes input documents read exactly.
#[test]
fn template_number_reads_back_exactly() {
    let rules = "- id: T\n  priority: 1\n  severity: low\n  description: d\n  audit: false\n  condition: \"event.x == 1/446744073709551308\"\n  action:\n    - emitEvent: { zeta: \"{{1/446744073709551308}}\", text: \"<{{1/446744073709551308}}>\" }\n";
    let engine = Engine::builder().load_str("rules.yaml", rules).unwrap();
    // The input's number is the quotient, written as the shortest text that reads back.
    let decision = engine
        .evaluate_json(br#"{"event": {"x": 2.238418053756088e-18}}"#)
        .unwrap();
    assert_eq!(decision.matched_ids(), ["T"]);
    let streamed = serde_json::to_string(&decision).unwrap();
    let back: acs_engine::Decision = serde_json::from_str(&streamed).unwrap();
    assert_eq!(back, decision);
}
