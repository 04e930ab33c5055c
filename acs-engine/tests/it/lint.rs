//! The linter's public API, as hosts and bindings call it: config parsing, accepted
//! findings, deny-warnings, and the shipped and legacy bundles.

use acs_engine::lint::{lint_source, LintConfig};
use acs_engine::{RulesSource, Severity};
use serde_json::json;

const BUNDLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/acs_rules_top25.yaml");
const BUNDLE_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/acs.toml");

fn lint_text(yaml: &str, config: &LintConfig) -> Vec<(String, Severity)> {
    let source = RulesSource::Text {
        name: "rules.yaml".to_owned(),
        text: yaml.to_owned(),
    };
    lint_source(&source, config)
        .unwrap()
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.severity))
        .collect()
}

fn rule(condition: &str) -> String {
    format!(
        "- id: R\n  priority: 1\n  severity: low\n  description: r\n  condition: \"{condition}\"\n  action:\n    - flagWatchlist: {{ entityType: user, entityId: u, reason: x }}\n  audit: false\n"
    )
}

#[test]
fn shipped_bundle_is_clean_under_its_config() {
    let config =
        LintConfig::from_toml("acs.toml", &std::fs::read_to_string(BUNDLE_CONFIG).unwrap())
            .unwrap();
    let report = lint_source(&RulesSource::Path(BUNDLE.into()), &config).unwrap();
    assert_eq!(report.rule_count, 25);
    assert!(report.diagnostics.is_empty(), "{:#?}", report.diagnostics);
}

#[test]
fn legacy_bundle_has_warnings_only() {
    let Some(legacy) = crate::support::legacy_bundle() else {
        return;
    };
    let report = lint_source(&RulesSource::Path(legacy.into()), &LintConfig::default()).unwrap();
    assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
    assert!(report.warnings() > 0);
    assert!(!report.fails(false));
    assert!(report.fails(true));
}

#[test]
fn unreadable_source_is_an_error_not_a_finding() {
    let missing = RulesSource::Path("/no/such/rules.yaml".into());
    assert!(lint_source(&missing, &LintConfig::default()).is_err());
}

#[test]
fn guards_silence_the_missing_path_warning() {
    let config = LintConfig::default();
    let unguarded = lint_text(&rule("event.type == 'a' && x.status != 'OK'"), &config);
    assert_eq!(unguarded, [("ACS430".to_owned(), Severity::Warning)]);
    for guarded in [
        "event.type == 'a' && x.status != null && x.status != 'OK'",
        "event.type == 'a' && x.status && x.status != 'OK'",
        "event.type == 'a' && x.status.code == 3 && x.status != 'OK'",
        "event.type == 'a' && (x.status == null || x.status != 'OK')",
        "event.type == 'a' && x.status in ['A', 'B'] && x.status != 'A'",
        "event.type == 'a' && x.status != null",
    ] {
        assert_eq!(lint_text(&rule(guarded), &config), [], "{guarded}");
    }
}

#[test]
fn satisfiable_conditions_are_left_alone() {
    let config = LintConfig::default();
    for fine in [
        "event.type == 'a' && x > 1 && x < 2",
        "event.type == 'a' && x >= 2 && x <= 2",
        "event.type in ['a', 'b'] && event.type != 'a'",
        "event.type == 'a' && (x == 'p' || x == 'q')",
        "event.type == 'a' && ts > 0 && ts == '2024-01-01T00:00:00Z'",
        "event.type == 'a' && x + 1 == 'a1'",
        "event.type == 'a' && pod.at < '2024-01-01T00:00:00Z' + 5",
    ] {
        assert_eq!(lint_text(&rule(fine), &config), [], "{fine}");
    }
    for never in [
        "event.type == 'a' && x > 2 && x < 2",
        "event.type == 'a' && x >= 3 && x == 1",
        "event.type in ['a', 'b'] && event.type != 'a' && event.type != 'b'",
        "event.type == 'a' && x == null && x > 1",
    ] {
        assert_eq!(
            lint_text(&rule(never), &config),
            [("ACS420".to_owned(), Severity::Error)],
            "{never}"
        );
    }
}

#[test]
fn config_declares_functions_actions_and_accepted_findings() {
    let config = LintConfig::from_toml(
        "acs.toml",
        "[functions]\n\"risk.score\" = 2\n[actions]\nknown = [\"quarantine\"]\n[lint.allow]\n\"*\" = [\"ACS440\"]\n",
    )
    .unwrap();
    let yaml = "- id: R\n  priority: 1\n  severity: low\n  description: r\n  condition: \"risk.score(ctx.userId, 1) > 0.5 && other(1)\"\n  action:\n    - quarantine: { reason: x }\n  audit: false\n";
    assert_eq!(
        lint_text(yaml, &config),
        [("ACS401".to_owned(), Severity::Error)],
        "`other` is undeclared; the gate warning is accepted for every rule"
    );
}

#[test]
fn deny_warnings_in_the_config_makes_them_errors() {
    let config = LintConfig::from_toml("acs.toml", "[lint]\ndeny_warnings = true\n").unwrap();
    assert_eq!(
        lint_text(&rule("x == 1"), &config),
        [("ACS440".to_owned(), Severity::Error)]
    );
}

#[test]
fn a_bad_config_names_line_and_column() {
    let error = LintConfig::from_toml("acs.toml", "[lint]\nmax_complexty = 3\n").unwrap_err();
    assert_eq!(error.code, "ACS601");
    let location = error.location.unwrap();
    assert_eq!(
        (location.file.as_str(), location.line, location.column),
        ("acs.toml", 2, 1)
    );
    assert!(error.message.contains("max_complexty"), "{}", error.message);
}

#[test]
fn operations_that_always_fail_are_errors() {
    let config = LintConfig::default();
    for condition in [
        "event.type == 'a' && x / 0 > 1",
        "event.type == 'a' && x % (1 - 1) > 1",
        "event.type == 'a' && true + 1 > x",
        "event.type == 'a' && x * (y == 1) > 0",
    ] {
        assert_eq!(
            lint_text(&rule(condition), &config),
            [("ACS423".to_owned(), Severity::Error)],
            "{condition}"
        );
    }
    for condition in [
        "event.type == 'a' && x / 2 > 1",
        "event.type == 'a' && x % y > 1",
    ] {
        assert_eq!(lint_text(&rule(condition), &config), [], "{condition}");
    }
}

#[test]
fn an_empty_rule_id_is_a_load_error() {
    for id in ["\"\"", "' '"] {
        let yaml = rule("event.type == 'a'").replace("id: R", &format!("id: {id}"));
        let error = acs_engine::Engine::builder()
            .load_str("rules.yaml", yaml.clone())
            .expect_err("a rule without an id must not load")
            .to_string();
        assert!(error.contains("ACS211"), "{error}");
        assert_eq!(
            lint_text(&yaml, &LintConfig::default()),
            [("ACS211".to_owned(), Severity::Error)]
        );
    }
}

#[test]
fn declared_events_catch_misspelt_types_and_fields() {
    let config = LintConfig::from_toml(
        "acs.toml",
        "[events.\"bid.create\"]\nfields = [\"bid.amount\", \"gps\"]\n",
    )
    .unwrap();
    let codes = |condition: &str| -> Vec<String> {
        lint_text(&rule(condition), &config)
            .into_iter()
            .map(|(code, _)| code)
            .collect()
    };
    assert_eq!(
        codes("event.type == 'bid.craete' && bid.amount > 1"),
        ["ACS415"]
    );
    assert_eq!(
        codes("event.type == 'bid.create' && bid.amout > 1"),
        ["ACS416"]
    );
    assert!(
        codes("event.type == 'bid.create' && bid.amount > 1 && bid != null && gps.lat > 1")
            .is_empty()
    );
    // Without [events], nothing is known of them.
    assert!(lint_text(
        &rule("event.type == 'x' && y.z > 1"),
        &LintConfig::default()
    )
    .is_empty());
}

#[test]
fn a_rule_can_accept_a_finding_with_a_reason() {
    let accepted =
        rule("x == 1") + "  lint: { allow: [ACS440], reason: \"on every event on purpose\" }\n";
    assert!(lint_text(&accepted, &LintConfig::default()).is_empty());
    let engine = acs_engine::Engine::builder().load_str("rules.yaml", accepted);
    assert!(engine.is_ok(), "the engine loads a rule with a `lint` key");
    let no_reason = rule("x == 1") + "  lint: { allow: [ACS440] }\n";
    assert_eq!(
        lint_text(&no_reason, &LintConfig::default()),
        [("ACS208".to_owned(), Severity::Error)]
    );
}

#[test]
fn declared_root_fields_catch_misspelt_paths_into_ctx_system_and_db() {
    let config = LintConfig::from_toml(
        "acs.toml",
        "[fields]\nctx = [\"userId\", \"userRole\"]\nsystem = [\"config.limit\"]\n",
    )
    .unwrap();
    let rule = |condition: &str| {
        format!("- {{id: R, priority: 1, severity: low, description: d, condition: \"{condition}\", action: [], audit: false}}\n")
    };
    let codes = |condition: &str| -> Vec<String> {
        lint_text(&rule(condition), &config)
            .into_iter()
            .map(|(code, _)| code)
            .filter(|code| code == "ACS417")
            .collect()
    };
    assert!(
        codes("event.type == 'a' && ctx.userRole == 'x' && system.config.limit > 1").is_empty()
    );
    assert_eq!(codes("event.type == 'a' && ctx.userRol == 'x'"), ["ACS417"]);
    assert_eq!(
        codes("event.type == 'a' && system.config.limt > 1"),
        ["ACS417"]
    );
    // A path leading to a declared field, and `db`, which [fields] leaves out.
    assert!(codes("event.type == 'a' && system.config != null && db.anything == 1").is_empty());
}

#[test]
fn an_event_schema_declares_the_fields_of_its_event() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    let closed = |properties: serde_json::Value| json!({"type": "object", "additionalProperties": false, "properties": properties});
    let mut bid = closed(json!({
        "bid": closed(json!({"amount": {}, "id": {}})),
        "booking": {"$ref": "#/$defs/Booking"},
        "meta": {"type": "object"},
    }));
    bid["$defs"] = json!({"Booking": closed(json!({"origin": {"properties": {"lat": {}}}}))});
    let write = |name: &str, schema: serde_json::Value| {
        std::fs::write(dir.path().join("schemas").join(name), schema.to_string()).unwrap();
    };
    write("bid.create.schema.json", bid);
    write("open.json", json!({"properties": {"a": {}}}));
    let config_path = dir.path().join("acs.toml");
    std::fs::write(
        &config_path,
        "[events.\"bid.create\"]\nschema = \"schemas/bid.create.schema.json\"\n\
         [events.\"gps.ping\"]\nschema = \"schemas/open.json\"\n",
    )
    .unwrap();
    let config = LintConfig::read(&config_path).unwrap();
    let findings = |condition: &str| {
        let source = RulesSource::Text {
            name: "rules.yaml".to_owned(),
            text: rule(condition),
        };
        lint_source(&source, &config).unwrap().diagnostics
    };

    let typo = findings("event.type == 'bid.create' && event.bid.amout > 1");
    assert_eq!(typo.len(), 1, "{typo:#?}");
    assert_eq!(typo[0].code, "ACS416");
    assert_eq!(typo[0].help.as_deref(), Some("did you mean `bid.amount`?"));
    // `booking.origin` is an open object: its inside is not checked; `meta` likewise.
    assert!(findings(
        "event.type == 'bid.create' && bid.amount > 1 && booking.origin.anything == 1 && meta.x == 1"
    )
    .is_empty());
    assert_eq!(
        findings("event.type == 'bid.create' && booking.destination.lat == 1")[0].code,
        "ACS416"
    );
    // An event object that allows any property has its fields unchecked; its type is known.
    assert!(findings("event.type == 'gps.ping' && anything.at.all == 1").is_empty());
    assert_eq!(
        findings("event.type == 'gps.pong' && a == 1")[0].code,
        "ACS415"
    );
}
