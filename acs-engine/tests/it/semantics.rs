//! The condition language's semantics as data: one runner for every `tests/cases/*.yaml`
//! file (one file per section of docs/LANGUAGE.md), plus the few checks that need Rust
//! (counting host calls, a panicking host function).
//!
//! # Case files
//!
//! A case file is a non-empty YAML list of cases. Every case has a `note` saying what it
//! shows, and is one of two kinds.
//!
//! **Expression cases** evaluate one condition:
//!
//! ```yaml
//! - note: a missing field is null
//!   condition: "truck.status == null"
//!   input: { event: {} }             # optional, default {}
//!   functions: { f: [[[1], 2]] }     # optional stub table: {name: [[[args...], result], ...]}
//!   want: true                       # the value it evaluates to (JSON, compared exactly)
//! ```
//!
//! with exactly one of
//! - `want`: the value (`want: null` expects null; integral numbers are integers);
//! - `want_error`: a substring of the evaluation error's message;
//! - `want_compile_error`: a substring of one of the compile diagnostics' messages.
//!
//! and optionally `want_warning`: a substring of a compile warning's message or help.
//!
//! Each expression case runs three ways that must agree: through `Expression`, as the
//! condition of a rule (which matches when `want` is truthy, and reports an error for
//! `want_error`; `want_compile_error` must fail the load), and as an exact `"{{...}}"`
//! action parameter (which renders to `want`, or to null params plus a rule error).
//!
//! **Rule cases** load a rules file and evaluate one input:
//!
//! ```yaml
//! - note: the highest-priority rejecting rule decides
//!   rules: |
//!     - id: A
//!       ...
//!   input: { event: { type: x } }    # optional, default {}
//!   functions: { ... }               # optional stub table
//!   want_matched: [A, B]             # ids of the matched rules, in order
//!   want_verdict: allowed            # optional: `allowed` or {rule_id, code, message}
//!   want_errors: [C]                 # optional, default []: ids of the rules that failed
//!   want_error: "not registered"     # optional: a substring of some rule error's message
//!   want_actions: { A: [{ rejectRequest: { code: X } }] }  # optional: rendered actions
//!   want_rules_evaluated: 2          # optional: how many rules passed their gate
//! ```
//!
//! or, instead of the `want_*` keys above, `want_load_error`: a substring of one of the
//! load diagnostics' messages.
//!
//! The runner reports every failing case (file, line, number and note), not just the
//! first. An empty file, a case that is not a mapping, an unknown key, a key of the other
//! kind of case, or a file in tests/cases that is not `*.yaml` is a failure, so a typo
//! cannot quietly disable a case.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use acs_engine::unstable::yaml_to_json;
use acs_engine::{
    Action, Decision, Engine, Expression, FunctionError, Functions, LoadError, Verdict,
};
use serde_json::{json, Map, Value};

/// The section files that must exist (docs/LANGUAGE.md's sections).
const SECTIONS: [&str; 13] = [
    "literals",
    "paths",
    "equality",
    "ordering",
    "arithmetic",
    "timestamps",
    "in",
    "index",
    "logic",
    "functions",
    "precedence",
    "templates",
    "rules",
];

const COMMON_KEYS: [&str; 3] = ["note", "input", "functions"];
const EXPRESSION_KEYS: [&str; 5] = [
    "condition",
    "want",
    "want_error",
    "want_compile_error",
    "want_warning",
];
const RULE_KEYS: [&str; 8] = [
    "rules",
    "want_matched",
    "want_verdict",
    "want_errors",
    "want_error",
    "want_actions",
    "want_rules_evaluated",
    "want_load_error",
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Every file in tests/cases, sorted.
fn all_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases is readable")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files
}

fn case_files() -> Vec<PathBuf> {
    all_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect()
}

#[test]
fn every_section_has_a_case_file_and_nothing_else_is_there() {
    let names: Vec<String> = case_files()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    for section in SECTIONS {
        assert!(
            names.iter().any(|n| n == section),
            "tests/cases/{section}.yaml is missing"
        );
    }
    // A `.yml` or misspelt file would otherwise be skipped without a word.
    let strays: Vec<PathBuf> = all_files()
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "yaml"))
        .collect();
    assert!(strays.is_empty(), "not `*.yaml` case files: {strays:?}");
}

#[test]
fn semantic_cases() {
    let mut failures: Vec<String> = Vec::new();
    let mut summary = String::new();
    let mut total = 0;
    for path in case_files() {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let text = std::fs::read_to_string(&path).expect("case file is readable");
        let cases = match yaml_to_json(&name, &text) {
            Ok(Value::Array(cases)) if !cases.is_empty() => cases,
            Ok(_) => {
                failures.push(format!("{name}: a case file is a non-empty list of cases"));
                continue;
            }
            Err(diagnostics) => {
                let messages: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
                failures.push(format!("{name}: invalid YAML: {}", messages.join("; ")));
                continue;
            }
        };
        let _ = writeln!(summary, "{name}: {} cases", cases.len());
        total += cases.len();
        // Cases start at column 0 with `- `; their lines locate failures.
        let starts: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| line.starts_with("- "))
            .map(|(i, _)| i + 1)
            .collect();
        for (index, case) in cases.iter().enumerate() {
            let note = case
                .get("note")
                .and_then(Value::as_str)
                .unwrap_or("(no note)");
            if let Err(problem) = run_case(case) {
                let line = starts
                    .get(index)
                    .map_or_else(String::new, |l| format!(":{l}"));
                failures.push(format!(
                    "{name}{line} case {} ({note}):\n    {}",
                    index + 1,
                    problem.replace('\n', "\n    ")
                ));
            }
        }
    }
    println!("{summary}total: {total} cases");
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

type Outcome = Result<(), String>;

fn run_case(case: &Value) -> Outcome {
    let Value::Object(case) = case else {
        return Err("a case is a mapping".to_owned());
    };
    if !case.get("note").is_some_and(Value::is_string) {
        return Err("a case needs a `note` string".to_owned());
    }
    let is_rules = case.contains_key("rules");
    let allowed: &[&str] = if is_rules {
        &RULE_KEYS
    } else {
        &EXPRESSION_KEYS
    };
    for key in case.keys() {
        if !COMMON_KEYS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            return Err(format!(
                "unknown key `{key}` in a{} case",
                if is_rules { " rules" } else { "n expression" }
            ));
        }
    }
    let functions = match case.get("functions") {
        None => Functions::new(),
        Some(table) => Functions::from_stubs(table).map_err(|e| format!("bad `functions`: {e}"))?,
    };
    let input = case.get("input").cloned().unwrap_or_else(|| json!({}));
    if is_rules {
        run_rules_case(case, functions, &input)
    } else {
        run_expression_case(case, &functions, &input)
    }
}

fn string_key<'a>(case: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match case.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{key}` must be a string, found {other}")),
    }
}

/// What an expression case expects.
enum Want<'a> {
    Value(&'a Value),
    Error(&'a str),
    CompileError(&'a str),
}

fn run_expression_case(case: &Map<String, Value>, functions: &Functions, input: &Value) -> Outcome {
    let condition = string_key(case, "condition")?.ok_or("a case needs `condition` or `rules`")?;
    let mut wants = Vec::new();
    if let Some(value) = case.get("want") {
        wants.push(Want::Value(value));
    }
    if let Some(message) = string_key(case, "want_error")? {
        wants.push(Want::Error(message));
    }
    if let Some(message) = string_key(case, "want_compile_error")? {
        wants.push(Want::CompileError(message));
    }
    let [want] = <[Want; 1]>::try_from(wants).map_err(|_| {
        "an expression case needs exactly one of `want`, `want_error`, `want_compile_error`"
    })?;
    let want_warning = string_key(case, "want_warning")?;

    match (Expression::compile(condition, functions), &want) {
        (Err(diagnostics), Want::CompileError(part)) => {
            if !diagnostics.iter().any(|d| d.message.contains(part)) {
                return Err(format!(
                    "compile error does not mention `{part}`: {}",
                    messages(&diagnostics)
                ));
            }
        }
        (Err(diagnostics), _) => {
            return Err(format!("does not compile: {}", messages(&diagnostics)));
        }
        (Ok(_), Want::CompileError(part)) => {
            return Err(format!(
                "compiled, but a compile error with `{part}` was expected"
            ));
        }
        (Ok(expression), _) => {
            if let Some(part) = want_warning {
                let mentions = |d: &acs_engine::Diagnostic| {
                    d.message.contains(part) || d.help.as_deref().is_some_and(|h| h.contains(part))
                };
                if !expression.warnings().iter().any(mentions) {
                    return Err(format!(
                        "no warning mentions `{part}`: {}",
                        messages(expression.warnings())
                    ));
                }
            }
            match (expression.evaluate(input), &want) {
                (Ok(got), Want::Value(expected)) if got == **expected => {}
                (Ok(got), Want::Value(expected)) => {
                    return Err(format!("evaluated to {got}, want {expected}"));
                }
                (Err(error), Want::Error(part)) if error.message.contains(part) => {}
                (Err(error), Want::Error(part)) => {
                    return Err(format!(
                        "error `{}` does not mention `{part}`",
                        error.message
                    ));
                }
                (Ok(got), _) => return Err(format!("evaluated to {got}, want an error")),
                (Err(error), _) => return Err(format!("failed: {}", error.message)),
            }
        }
    }
    as_rule_and_template(condition, functions, input, &want)
}

/// The same expression as a rule condition and as an exact template must agree with
/// `Expression`.
fn as_rule_and_template(
    condition: &str,
    functions: &Functions,
    input: &Value,
    want: &Want<'_>,
) -> Outcome {
    // A JSON string is a valid YAML double-quoted scalar.
    let quoted = Value::String(condition.to_owned()).to_string();
    let template = Value::String(format!("{{{{{condition}}}}}")).to_string();
    let rules = format!(
        "- id: CONDITION\n  priority: 2\n  severity: low\n  description: the case's condition\n  \
         audit: false\n  condition: {quoted}\n  action: []\n\
         - id: TEMPLATE\n  priority: 1\n  severity: low\n  description: the case's condition as a template\n  \
         audit: false\n  condition: 'true'\n  action:\n    - emit: {{ value: {template} }}\n"
    );
    let loaded = Engine::builder()
        .functions(functions.clone())
        .load_str("case.yaml", rules);
    let engine = match (loaded, want) {
        (Err(error), Want::CompileError(part)) => {
            let diagnostics = error.diagnostics();
            return if diagnostics.iter().any(|d| d.message.contains(part)) {
                Ok(())
            } else {
                Err(format!(
                    "as a rule: load error does not mention `{part}`: {}",
                    messages(&diagnostics)
                ))
            };
        }
        (Ok(_), Want::CompileError(part)) => {
            return Err(format!(
                "as a rule: loaded, but a load error with `{part}` was expected"
            ));
        }
        (Err(error), _) => return Err(format!("as a rule: does not load: {error}")),
        (Ok(engine), _) => engine,
    };
    let decision = engine.evaluate(input);
    let condition_matched = decision.matched_ids().contains(&"CONDITION");
    let errors: Vec<&str> = decision.errors.iter().map(|e| &*e.rule_id).collect();
    let rendered = decision
        .matched
        .iter()
        .find(|m| m.id() == "TEMPLATE")
        .and_then(|m| m.actions().next())
        .map(|a| a.params.clone());
    match want {
        Want::Value(expected) => {
            if condition_matched != truthy(expected) {
                return Err(format!(
                    "as a rule: matched is {condition_matched}, but {expected} is {}",
                    if truthy(expected) { "truthy" } else { "falsy" }
                ));
            }
            if !errors.is_empty() {
                return Err(format!(
                    "as a rule: unexpected errors {:?}",
                    decision.errors
                ));
            }
            let want_params = json!({ "value": expected });
            if rendered.as_ref() != Some(&want_params) {
                return Err(format!(
                    "as a template: rendered {rendered:?}, want {want_params}"
                ));
            }
        }
        Want::Error(part) => {
            if condition_matched || errors != ["CONDITION", "TEMPLATE"] {
                return Err(format!(
                    "as a rule: want errors of CONDITION and TEMPLATE, got matched {:?}, errors {:?}",
                    decision.matched_ids(),
                    decision.errors
                ));
            }
            if let Some(e) = decision.errors.iter().find(|e| !e.message.contains(part)) {
                return Err(format!(
                    "as a rule: error `{}` does not mention `{part}`",
                    e.message
                ));
            }
            if rendered != Some(Value::Null) {
                return Err(format!("as a template: params {rendered:?}, want null"));
            }
        }
        Want::CompileError(_) => {}
    }
    Ok(())
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn messages(diagnostics: &[acs_engine::Diagnostic]) -> String {
    let all: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("[{}] {}", d.code, d.message))
        .collect();
    if all.is_empty() {
        "(none)".to_owned()
    } else {
        all.join("; ")
    }
}

fn run_rules_case(case: &Map<String, Value>, functions: Functions, input: &Value) -> Outcome {
    let rules = string_key(case, "rules")?.ok_or("`rules` must be a string")?;
    let loaded = Engine::builder()
        .functions(functions)
        .load_str("rules.yaml", rules);
    if let Some(part) = string_key(case, "want_load_error")? {
        if let Some(key) = case
            .keys()
            .find(|k| k.starts_with("want_") && *k != "want_load_error")
        {
            return Err(format!("`{key}` cannot go with `want_load_error`"));
        }
        return match loaded {
            Ok(_) => Err(format!(
                "loaded, but a load error with `{part}` was expected"
            )),
            Err(error) if load_error_mentions(&error, part) => Ok(()),
            Err(error) => Err(format!("load error does not mention `{part}`:\n{error}")),
        };
    }
    let engine = loaded.map_err(|e| format!("does not load:\n{e}"))?;
    let decision = engine.evaluate(input);
    check_decision(case, &decision)
}

fn load_error_mentions(error: &LoadError, part: &str) -> bool {
    error.diagnostics().iter().any(|d| d.message.contains(part))
}

fn check_decision(case: &Map<String, Value>, decision: &Decision) -> Outcome {
    let want_matched = case
        .get("want_matched")
        .ok_or("a rules case needs `want_matched` or `want_load_error`")?;
    let matched = json!(decision.matched_ids());
    if matched != *want_matched {
        return Err(format!(
            "matched {matched}, want {want_matched} (errors: {:?})",
            decision.errors
        ));
    }
    let want_errors = case
        .get("want_errors")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let errors = json!(decision
        .errors
        .iter()
        .map(|e| &*e.rule_id)
        .collect::<Vec<_>>());
    if errors != want_errors {
        return Err(format!(
            "errors of {errors}, want {want_errors}: {:?}",
            decision.errors
        ));
    }
    if let Some(part) = string_key(case, "want_error")? {
        if !decision.errors.iter().any(|e| e.message.contains(part)) {
            return Err(format!(
                "no rule error mentions `{part}`: {:?}",
                decision.errors
            ));
        }
    }
    if let Some(want) = case.get("want_verdict") {
        let expected = match want {
            Value::String(s) if s == "allowed" => json!({ "outcome": "allowed" }),
            Value::Object(fields) => {
                let mut fields = fields.clone();
                fields.insert("outcome".to_owned(), json!("rejected"));
                for key in ["code", "message"] {
                    fields.entry(key).or_insert(Value::Null);
                }
                Value::Object(fields)
            }
            other => {
                return Err(format!(
                    "`want_verdict` is `allowed` or {{rule_id, code, message}}, found {other}"
                ))
            }
        };
        let got = serde_json::to_value(&decision.verdict).map_err(|e| e.to_string())?;
        if got != expected {
            return Err(format!("verdict {got}, want {expected}"));
        }
    }
    if let Some(want) = case.get("want_actions") {
        let Value::Object(want) = want else {
            return Err("`want_actions` maps rule ids to lists of actions".to_owned());
        };
        for (id, want_actions) in want {
            let Some(rule) = decision.matched.iter().find(|m| m.id() == id) else {
                return Err(format!("`want_actions` names {id}, which did not match"));
            };
            let got = Value::Array(rule.actions().map(action_json).collect());
            if got != *want_actions {
                return Err(format!("actions of {id}: {got}, want {want_actions}"));
            }
        }
    }
    if let Some(want) = case.get("want_rules_evaluated") {
        if json!(decision.rules_evaluated) != *want {
            return Err(format!(
                "rules_evaluated {}, want {want}",
                decision.rules_evaluated
            ));
        }
    }
    Ok(())
}

fn action_json(action: Action<'_>) -> Value {
    json!({ action.name.to_string(): action.params })
}

// ---- Checks that need Rust --------------------------------------------------------------

const TWO_RULES_ONE_LOOKUP: &str = r#"
- id: FIRST
  priority: 2
  severity: low
  description: d
  audit: false
  condition: "db.count.trucks(ctx.operatorId) > 5"
  action: []
- id: SECOND
  priority: 1
  severity: low
  description: d
  audit: false
  condition: "db.count.trucks(ctx.operatorId) > 1 && db.count.trucks(ctx.operatorId) < 100"
  action: []
- id: OTHER_ARGUMENT
  priority: 0
  severity: low
  description: d
  audit: false
  condition: "db.count.trucks('someone else') == 3"
  action: []
"#;

#[test]
fn a_host_function_runs_once_per_evaluation_for_the_same_arguments() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let engine = Engine::builder()
        .function("db.count.trucks", move |args: &[&Value]| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(json!(if args.first().copied() == Some(&json!("OP-1")) {
                7
            } else {
                3
            }))
        })
        .load_str("rules.yaml", TWO_RULES_ONE_LOOKUP)
        .expect("rules load");
    let input = json!({ "ctx": { "operatorId": "OP-1" } });

    let decision = engine.evaluate(&input);
    assert_eq!(
        decision.matched_ids(),
        ["FIRST", "SECOND", "OTHER_ARGUMENT"]
    );
    // Three calls with `OP-1` share one run; the call with another argument runs apart.
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // The memo lasts one evaluation only.
    engine.evaluate(&input);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn a_failing_host_call_is_also_made_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let engine = Engine::builder()
        .function("db.count.trucks", move |_: &[&Value]| {
            counter.fetch_add(1, Ordering::SeqCst);
            Err(FunctionError::failed("database is down"))
        })
        .load_str("rules.yaml", TWO_RULES_ONE_LOOKUP)
        .expect("rules load");
    let decision = engine.evaluate(&json!({ "ctx": { "operatorId": "OP-1" } }));
    assert!(decision.matched.is_empty());
    let failed: Vec<&str> = decision.errors.iter().map(|e| &*e.rule_id).collect();
    assert_eq!(failed, ["FIRST", "SECOND", "OTHER_ARGUMENT"]);
    assert!(decision.errors[0].message.contains("database is down"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_panicking_host_function_fails_only_its_rule() {
    let rules = r#"
- id: PANICS
  priority: 2
  severity: high
  description: d
  audit: false
  condition: "risk.score(event.id) > 0"
  action: [{ rejectRequest: { code: RISK } }]
- id: FINE
  priority: 1
  severity: low
  description: d
  audit: false
  condition: "event.id == 'E-1'"
  action: [{ rejectRequest: { code: FINE } }]
"#;
    let engine = Engine::builder()
        .function(
            "risk.score",
            |_: &[&Value]| -> Result<Value, FunctionError> { panic!("host bug") },
        )
        .load_str("rules.yaml", rules)
        .expect("rules load");
    let decision = engine.evaluate(&json!({ "event": { "id": "E-1" } }));
    assert_eq!(decision.matched_ids(), ["FINE"]);
    assert_eq!(decision.errors.len(), 1);
    assert_eq!(&*decision.errors[0].rule_id, "PANICS");
    assert!(decision.errors[0].message.contains("panicked"));
    let location = decision.errors[0]
        .location
        .as_ref()
        .expect("error has a location");
    assert_eq!(location.line, 7);
    assert!(matches!(
        &decision.verdict,
        Verdict::Rejected(r) if r.rule_id() == "FINE" && r.code() == Some("FINE")
    ));
}

#[test]
fn now_is_the_clock_unless_the_host_registers_now() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as f64;
    let clock = Expression::compile("now()", &Functions::new())
        .expect("compiles")
        .evaluate(&json!({}))
        .expect("evaluates")
        .as_f64()
        .expect("a number");
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as f64;
    assert!(
        before <= clock && clock <= after,
        "{before} <= {clock} <= {after}"
    );

    let pinned = Functions::new().with("now", |_: &[&Value]| Ok(json!(1_767_225_600_000_i64)));
    let value = Expression::compile("now() - '2026-01-01T00:00:00Z'", &pinned)
        .expect("compiles")
        .evaluate(&json!({}))
        .expect("evaluates");
    assert_eq!(value, json!(0));
}

#[test]
fn an_evaluation_error_names_its_place_in_the_expression() {
    let expression =
        Expression::compile("a == 1 && b / 0 > 1", &Functions::new()).expect("compiles");
    let error = expression
        .evaluate(&json!({ "event": { "a": 1, "b": 4 } }))
        .expect_err("division by zero");
    assert!(error.message.contains("division by zero"));
    let location = error.location.expect("a location");
    assert_eq!((location.line, location.column), (1, 11));
}
