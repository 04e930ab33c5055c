//! Limits as defences: each limit has its documented default, is configurable by the
//! host, applies on load, reload and evaluation, and fails with an error that names it.
use acs_engine::{Engine, InputError, Limits, LoadError};
use serde_json::json;

fn rule(condition: &str, action: &str) -> String {
    format!(
        "- id: R\n  priority: 1\n  severity: low\n  description: d\n  condition: \"{condition}\"\n  action:\n    - {action}\n  audit: false\n"
    )
}

fn plain_rule() -> String {
    rule("event.type == 'a'", "flagWatchlist: { reason: x }")
}

fn engine_with(limits: Limits, rules: &str) -> Result<Engine, LoadError> {
    Engine::builder()
        .limits(limits)
        .load_str("rules.yaml", rules)
}

fn error_text(error: LoadError) -> String {
    error.to_string()
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let limits = Limits::default();
    assert_eq!(limits.max_rules_file_bytes, 32 * 1024 * 1024);
    assert_eq!(limits.max_condition_bytes, 16 * 1024);
    assert_eq!(limits.max_nesting, 32);
    assert_eq!(limits.max_input_bytes, 16 * 1024 * 1024);
    assert_eq!(limits.max_input_depth, 128);
    assert_eq!(limits.max_rendered_bytes, 64 * 1024);
    let engine = Engine::builder()
        .load_str("rules.yaml", plain_rule())
        .unwrap();
    assert_eq!(engine.limits(), &limits);
}

#[test]
fn a_rules_file_over_the_size_limit_is_refused_unread() {
    let limits = Limits {
        max_rules_file_bytes: 100,
        ..Limits::default()
    };
    let text = error_text(engine_with(limits, &plain_rule()).unwrap_err());
    assert!(text.contains("more than the limit of 100"), "{text}");
    assert!(text.contains("max_rules_file_bytes"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, plain_rule()).unwrap();
    let error = Engine::builder()
        .limits(limits)
        .load_path(&path)
        .unwrap_err();
    assert!(matches!(error, LoadError::TooLarge { .. }), "{error}");
    assert!(error.to_string().contains("rules.yaml"), "{error}");
}

#[test]
fn the_limits_hold_across_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, plain_rule()).unwrap();
    let limits = Limits {
        max_rules_file_bytes: 1024,
        ..Limits::default()
    };
    let engine = Engine::builder().limits(limits).load_path(&path).unwrap();
    let big = format!("{}# {}\n", plain_rule(), "x".repeat(2000));
    std::fs::write(&path, big).unwrap();
    let error = engine.reload().unwrap_err();
    assert!(
        error.to_string().contains("more than the limit of 1024"),
        "{error}"
    );
    assert_eq!(engine.status().generation, 1, "the old rules keep serving");
}

#[test]
fn a_condition_over_the_length_limit_names_file_line_and_column() {
    let limits = Limits {
        max_condition_bytes: 20,
        ..Limits::default()
    };
    let rules = rule(
        "event.type == 'a' && x == 1",
        "flagWatchlist: { reason: x }",
    );
    let error = engine_with(limits, &rules).unwrap_err();
    let diagnostics = error.diagnostics();
    assert_eq!(diagnostics[0].code, "ACS101");
    assert!(
        diagnostics[0]
            .message
            .contains("is 27 bytes long, the limit is 20"),
        "{}",
        diagnostics[0].message
    );
    let location = diagnostics[0].location.as_ref().unwrap();
    assert_eq!((location.line, location.column), (5, 15));
    // The default limit accepts it.
    assert!(Engine::builder().load_str("rules.yaml", &rules).is_ok());
}

#[test]
fn bracket_nesting_beyond_the_limit_is_an_error() {
    let limits = Limits {
        max_nesting: 3,
        ..Limits::default()
    };
    let nested = rule("((((x))))", "flagWatchlist: { reason: x }");
    let text = error_text(engine_with(limits, &nested).unwrap_err());
    assert!(text.contains("brackets nested more than 3 deep"), "{text}");
    assert!(engine_with(Limits::default(), &nested).is_ok());
    // The limit also applies inside templates.
    let in_template = rule(
        "event.type == 'a'",
        "flagWatchlist: { reason: \"{{((((x))))}}\" }",
    );
    assert!(engine_with(limits, &in_template).is_err());
    // It cannot be raised past what the parser's recursion allows.
    let raised = Limits {
        max_nesting: 100_000,
        ..Limits::default()
    };
    let deep = rule(
        &format!("{}x{}", "(".repeat(40), ")".repeat(40)),
        "flagWatchlist: { reason: x }",
    );
    let text = error_text(engine_with(raised, &deep).unwrap_err());
    assert!(text.contains("brackets nested more than 32 deep"), "{text}");
}

#[test]
fn an_input_over_the_size_limit_is_refused_before_parsing() {
    let limits = Limits {
        max_input_bytes: 64,
        ..Limits::default()
    };
    let engine = engine_with(limits, &plain_rule()).unwrap();
    let small = br#"{"event":{"type":"a"}}"#;
    assert_eq!(engine.evaluate_json(small).unwrap().matched_ids(), ["R"]);
    let large = format!(r#"{{"event":{{"type":"a","pad":"{}"}}}}"#, "x".repeat(64));
    let error = engine.evaluate_json(large.as_bytes()).unwrap_err();
    assert_eq!(
        error,
        InputError::TooLarge {
            bytes: large.len(),
            limit: 64
        }
    );
    assert!(error.to_string().contains("max_input_bytes"), "{error}");
}

#[test]
fn input_nesting_beyond_the_limit_is_refused() {
    let limits = Limits {
        max_input_depth: 4,
        ..Limits::default()
    };
    let engine = engine_with(limits, &plain_rule()).unwrap();
    // Depth 4: the top object, event, a, b.
    let fine = br#"{"event":{"type":"a","a":{"b":{}}}}"#;
    assert!(engine.evaluate_json(fine).is_ok());
    let deep = br#"{"event":{"type":"a","a":{"b":{"c":[]}}}}"#;
    let error = engine.evaluate_json(deep).unwrap_err();
    assert!(
        matches!(error, InputError::TooDeep { limit: 4, .. }),
        "{error}"
    );
    // Brackets inside strings do not count.
    let quoted = br#"{"event":{"type":"a","s":"[[[[[[[[{{{{{{"}}"#;
    assert!(engine.evaluate_json(quoted).is_ok());
    let escaped = br#"{"event":{"type":"a","s":"\"[[[[[[[["}}"#;
    assert!(engine.evaluate_json(escaped).is_ok());
}

#[test]
fn the_default_input_depth_refuses_a_hundred_thousand_nested_arrays() {
    let engine = engine_with(Limits::default(), &plain_rule()).unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        engine.evaluate_json(deep.as_bytes()),
        Err(InputError::Json { .. })
    ));
}

#[test]
fn a_rendered_text_over_the_limit_is_an_error_of_its_rule() {
    let limits = Limits {
        max_rendered_bytes: 16,
        ..Limits::default()
    };
    let rules = rule(
        "event.type == 'a'",
        "flagWatchlist: { reason: \"{{event.s}}-{{event.s}}\", whole: \"{{event.s}}\" }",
    );
    let engine = engine_with(limits, &rules).unwrap();
    let fits = engine.evaluate(&json!({"event": {"type": "a", "s": "1234567"}}));
    assert!(fits.errors.is_empty(), "{:?}", fits.errors);
    assert_eq!(
        fits.matched[0].actions().next().unwrap().params["reason"],
        "1234567-1234567"
    );

    let decision = engine.evaluate(&json!({"event": {"type": "a", "s": "123456789"}}));
    assert_eq!(decision.errors.len(), 1, "{:?}", decision.errors);
    let error = &decision.errors[0];
    assert_eq!(&*error.rule_id, "R");
    assert!(
        error
            .message
            .contains("19 bytes, more than the limit of 16"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("max_rendered_bytes"),
        "{}",
        error.message
    );
    let location = error.location.as_ref().unwrap();
    assert_eq!(location.line, 7, "the error points into the template");
}

#[test]
fn explanations_read_the_rules_under_the_same_limits() {
    // A condition only a raised limit accepts is still explained, node by node.
    let long = vec!["x == 1"; 3000].join(" || ");
    assert!(long.len() > Limits::default().max_condition_bytes);
    let limits = Limits {
        max_condition_bytes: 64 * 1024,
        ..Limits::default()
    };
    let rules = rule(
        &format!("event.type == 'a' && ({long})"),
        "flagWatchlist: { reason: x }",
    );
    let engine = engine_with(limits, &rules).unwrap();
    let input = json!({"event": {"type": "a", "x": 1}});
    let explanation = engine.explain(&input);
    assert_eq!(
        explanation.matched_ids(),
        engine.evaluate(&input).matched_ids()
    );
    let rendered = explanation.to_string();
    assert!(rendered.contains("x == 1"), "{rendered}");
    // A second explanation reuses the parsed rules and says the same.
    assert_eq!(engine.explain(&input).to_string(), rendered);
}
