//! Properties over generated input (proptest): printed trees parse back to themselves,
//! and no text or document makes the parser, the loader or the evaluator panic or
//! overflow the stack.

use std::path::Path;
use std::sync::OnceLock;

use acs_engine::unstable::syntax::{
    parse_condition, to_sexpr, to_source, BinaryOp, Expr, ExprKind, LocalSpan, UnaryOp,
    MAX_CONDITION_BYTES,
};
use acs_engine::{Engine, Expression, FunctionError, Functions};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use crate::support::{legacy_bundle, rule_line};

// ---- strategies -------------------------------------------------------------------------

/// Heads of paths: the four roots and names that resolve under `event`.
const NAMES: [&str; 9] = [
    "event", "ctx", "system", "db", "truck", "a", "_x", "$y", "b1",
];
/// Field names, keywords included (fine after a dot).
const FIELDS: [&str; 10] = [
    "type", "status", "id", "in", "null", "true", "x", "$z", "_", "lat",
];
/// Call names: built-ins, registered host functions and one unregistered name.
const CALLEES: [&str; 8] = [
    "f",
    "db.count.trucks",
    "now",
    "textContainsPII",
    "distance",
    "matches",
    "a.in",
    "not.registered",
];
const BINARY_OPS: [BinaryOp; 12] = [
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Rem,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::In,
];

fn node(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: LocalSpan::default(),
    }
}

/// Non-negative number literals (a literal is never negative: `-1` is `Neg(1)`): integers,
/// up to `u64::MAX`, and finite floats.
fn number() -> impl Strategy<Value = serde_json::Number> {
    prop_oneof![
        4 => (0u32..1000).prop_map(serde_json::Number::from),
        1 => any::<u64>().prop_map(serde_json::Number::from),
        2 => (0.0f64..1e6).prop_filter_map("finite", serde_json::Number::from_f64),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f.abs())),
    ]
}

/// Strings with quotes, backslashes, control characters and non-ASCII text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z '\"\\\\]{0,6}",
        "[\\n\\t\\r\\x00\\x7f\\u{85}é₹😀漢/{}]{0,4}",
        prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
        Just("2026-01-01T00:00:00Z".to_owned()),
        Just("9876543210".to_owned()),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(ExprKind::Null),
        any::<bool>().prop_map(ExprKind::Bool),
        number().prop_map(ExprKind::Number),
        text().prop_map(ExprKind::String),
        prop::sample::select(&NAMES[..]).prop_map(|n| ExprKind::Name(n.to_owned())),
    ]
    .prop_map(node)
}

/// Condition trees of bounded depth, any node kind anywhere.
fn tree() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| node(ExprKind::Array(items))),
            (inner.clone(), prop::sample::select(&FIELDS[..]))
                .prop_map(|(base, field)| node(ExprKind::Member(Box::new(base), field.to_owned()))),
            (inner.clone(), inner.clone())
                .prop_map(|(base, index)| node(ExprKind::Index(Box::new(base), Box::new(index)))),
            (
                prop::sample::select(&CALLEES[..]),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(name, args)| node(ExprKind::Call {
                    name: name.to_owned(),
                    name_span: LocalSpan::default(),
                    args,
                })),
            (
                prop_oneof![Just(UnaryOp::Not), Just(UnaryOp::Neg)],
                inner.clone()
            )
                .prop_map(|(op, operand)| node(ExprKind::Unary(op, Box::new(operand)))),
            (
                prop::sample::select(&BINARY_OPS[..]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, lhs, rhs)| node(ExprKind::Binary(
                    op,
                    Box::new(lhs),
                    Box::new(rhs)
                ))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|items| node(ExprKind::And(items))),
            prop::collection::vec(inner, 2..4).prop_map(|items| node(ExprKind::Or(items))),
        ]
    })
}

/// JSON documents with nesting; keys and strings chosen so that paths often hit.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => prop::sample::select(&FIELDS[..]).prop_map(str::to_owned),
        2 => prop::sample::select(&NAMES[..]).prop_map(str::to_owned),
        1 => ".{0,4}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-3i32..20).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
        prop::sample::select(&FIELDS[..]).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Whole inputs: usually the four roots, sometimes any JSON value at all.
fn input() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (json_value(), json_value(), json_value(), json_value(), prop::sample::select(&FIELDS[..]))
            .prop_map(|(mut event, ctx, system, db, kind)| {
                if let Value::Object(map) = &mut event {
                    map.insert("type".to_owned(), json!(kind));
                }
                json!({ "event": event, "ctx": ctx, "system": system, "db": db })
            }),
        1 => json_value(),
    ]
}

/// Two decisions agree on everything but the generation (their serialised forms).
fn same_decision(a: &acs_engine::Decision, b: &acs_engine::Decision) -> bool {
    let (Ok(a), Ok(b)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return false;
    };
    if a != b {
        eprintln!("from bytes: {a}\nparsed:     {b}");
    }
    a == b
}

/// Host functions for generated calls: `f` echoes its arguments, `db.count.trucks` fails
/// on anything but one string, `a.in` panics.
// A host function that panics is part of what is tested.
fn functions() -> Functions {
    Functions::new()
        .with("f", |args: &[&Value]| {
            Ok(Value::Array(
                args.iter().map(|v| (*v).clone()).collect::<Vec<Value>>(),
            ))
        })
        .with("db.count.trucks", |args: &[&Value]| match args {
            [Value::String(s)] => Ok(json!(s.len())),
            _ => Err(FunctionError::failed("wants one string")),
        })
        .with("a.in", |_: &[&Value]| -> Result<Value, FunctionError> {
            panic!("a host function that panics")
        })
}

/// A tree with its spans zeroed, to compare trees parsed from different texts.
fn without_spans(expr: &Expr) -> Expr {
    let all = |items: &[Expr]| items.iter().map(without_spans).collect::<Vec<_>>();
    let boxed = |e: &Expr| Box::new(without_spans(e));
    node(match &expr.kind {
        ExprKind::Array(items) => ExprKind::Array(all(items)),
        ExprKind::And(items) => ExprKind::And(all(items)),
        ExprKind::Or(items) => ExprKind::Or(all(items)),
        ExprKind::Member(base, field) => ExprKind::Member(boxed(base), field.clone()),
        ExprKind::Index(base, index) => ExprKind::Index(boxed(base), boxed(index)),
        ExprKind::Call { name, args, .. } => ExprKind::Call {
            name: name.clone(),
            name_span: LocalSpan::default(),
            args: all(args),
        },
        ExprKind::Unary(op, operand) => ExprKind::Unary(*op, boxed(operand)),
        ExprKind::Binary(op, lhs, rhs) => ExprKind::Binary(*op, boxed(lhs), boxed(rhs)),
        leaf => leaf.clone(),
    })
}

// ---- fixtures ---------------------------------------------------------------------------

/// Conditions from docs/LANGUAGE.md and the legacy fixture, plus a few that touch every
/// operator and built-in.
fn fixture_conditions() -> Vec<String> {
    let mut conditions: Vec<String> = [
        "event.type == 'bid.create' && operator.ledgerBalance < computedFees.bidFee",
        "event.type in ['shipment.assign', 'bid.create'] && truck.status == 'EXPIRED_DOCS'",
        "event.type == 'pod.uploaded' && (pod.metadata.timestamp < shipment.pickupAt - system.config.podTimeWindowBefore || pod.metadata.timestamp > shipment.dropAt + system.config.podTimeWindowAfter)",
        "event.type == 'inspection.uploaded' && distance(inspection.geo, unitFranchise.allowedGeoCenter) > system.config.inspectionGeoRadiusMeters",
        "event.type == 'truck.create' && db.count.trucks(ctx.operatorId) >= system.config.maxTrucksPerOperator",
        "event.type == 'message.send' && textContainsPII(ctx.payload.text)",
        "event.type == 'doc.uploaded' && matches(doc.number, '^[A-Z]{2}[0-9]{2}')",
        "db.indexes.inspection_image_hashes[image.hash].truckId != truck.id",
        "type in status || id in x || -x * 2 % 3 / lat > now() - 1 && !(a[0] == b['k'])",
        "matches(x, ctx.pattern) || f(event, ctx, system, db) == [x, 1, 'a', null]",
        "x + y - '2026-01-01T00:00:00Z' >= 0 && 'a' + x != y",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Some(text) = legacy_bundle().map(|path| std::fs::read_to_string(path).unwrap()) {
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("condition: \"") {
                conditions.push(rest.trim_end_matches('"').to_owned());
            }
        }
    }
    conditions
}

fn fixture_expressions() -> &'static [Expression] {
    static COMPILED: OnceLock<Vec<Expression>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        fixture_conditions()
            .iter()
            .map(|c| Expression::compile(c, &functions()).expect("fixture condition compiles"))
            .collect()
    })
}

/// The shipped bundle with its example stubs, and the legacy fixture, as engines.
fn fixture_engines() -> &'static [Engine] {
    static ENGINES: OnceLock<Vec<Engine>> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut engines = Vec::new();
        let stubs = std::fs::read_to_string(root.join("rules/examples/stubs.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|table| Functions::from_stubs(&table).ok())
            .unwrap_or_default();
        let shipped = root.join("rules");
        if shipped.is_dir() {
            engines.push(
                Engine::builder()
                    .functions(stubs)
                    .load_path(shipped)
                    .expect("the shipped bundle loads"),
            );
        }
        if let Some(fixture) = legacy_bundle() {
            engines.push(Engine::from_path(fixture).expect("the legacy fixture loads"));
        }
        engines
    })
}

/// A valid rules file to mutate.
const SEED_RULES: &str = r#"
- id: RF01_KYC_MANDATORY
  priority: 1000
  severity: critical
  description: "Block transactions without KYC."
  condition: "ctx.userRole in ['shipper','operator'] && ctx.userKycStatus != 'VERIFIED'"
  action:
    - rejectRequest: { code: "KYC_REQUIRED", message: "KYC for {{ctx.userId}}" }
    - emitEvent: { name: "fraud.flagged", payload: { userId: "{{ctx.userId}}", n: 2 } }
  audit: true
  tags: [kyc]
- id: RF02
  priority: 5
  severity: low
  description: >
    folded text
  condition: |
    event.type == 'x' && matches(a, '^b')
  action: []
  audit: false
  enabled: false
"#;

const SNIPPETS: [&str; 26] = [
    "{{", "}}", "'", "\"", ":", "- ", "\n", "  ", "[", "]", "{", "}", "&", "*", "!!", "---", "\t",
    "#", "|", ">", "\\", "%", "@", "`", "? ", "é",
];

/// A rules file from generated trees: one as the condition, one as a template.
fn rules_from(condition: &Expr, template: &Expr) -> String {
    let condition = Value::String(to_source(condition)).to_string();
    let exact = Value::String(format!("{{{{{}}}}}", to_source(template))).to_string();
    let text = Value::String(format!("at {{{{{}}}}}!", to_source(template))).to_string();
    format!(
        "- id: GENERATED\n  priority: 1\n  severity: high\n  description: generated\n  audit: true\n  \
         condition: {condition}\n  action:\n    - rejectRequest: {{ code: {exact}, message: {text} }}\n"
    )
}

/// `path op constant`, which the compiler evaluates in one step (`PathTest`), beside
/// `[path][0] op constant`, the same comparison by the general operators.
fn comparison_rules(path: &str, op: &str, constant: &str) -> String {
    rule_line("ONE_STEP", 1, &format!("{path} {op} {constant}"))
        + &rule_line("GENERAL", 1, &format!("[{path}][0] {op} {constant}"))
}

/// Short texts that often equal, contain or prefix one another.
fn comparison_text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        prop::sample::select(&FIELDS[..]).prop_map(str::to_owned),
        Just(String::new()),
        Just("2026-11-21T10:15:00Z".to_owned()),
        "[ab]{0,3}",
    ]
}

/// Constants of every kind a one-step comparison is specialised on, and some it is not.
fn comparison_constant() -> impl Strategy<Value = String> {
    let text = comparison_text();
    prop_oneof![
        1 => Just("null".to_owned()),
        1 => Just("true".to_owned()),
        1 => (-3i32..20).prop_map(|n| n.to_string()),
        3 => text.clone().prop_map(|t| Value::String(t).to_string()),
        3 => prop::collection::vec(text.clone(), 0..4).prop_map(|items| Value::from(items).to_string()),
        1 => (text, -3i32..3).prop_map(|(t, n)| json!([t, n, null]).to_string()),
    ]
}

/// What a compared field holds, when the test puts it there.
fn compared_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => (-3i32..20).prop_map(Value::from),
        6 => comparison_text().prop_map(Value::String),
        1 => prop::collection::vec(comparison_text(), 0..3).prop_map(Value::from),
    ]
}

/// Put `value` at `head.field` of `input` (under `event` for a head that is not a root).
fn plant(input: &mut Value, head: &str, field: &str, value: Value) {
    let roots = ["event", "ctx", "system", "db"];
    let Some(map) = input.as_object_mut() else {
        return;
    };
    let object = if roots.contains(&head) {
        map.entry(head).or_insert_with(|| json!({}))
    } else {
        match map.entry("event").or_insert_with(|| json!({})) {
            Value::Object(event) => event.entry(head).or_insert_with(|| json!({})),
            _ => return,
        }
    };
    if let Value::Object(object) = object {
        object.insert(field.to_owned(), value);
    }
}

// ---- properties -------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (1) `to_source` prints text that parses back to the same tree.
    #[test]
    fn printed_trees_parse_back_to_the_same_tree(tree in tree()) {
        let source = to_source(&tree);
        prop_assume!(source.len() <= MAX_CONDITION_BYTES);
        let parsed = parse_condition(&source)
            .map_err(|e| TestCaseError::fail(format!("`{source}` does not parse: {e}")))?;
        prop_assert_eq!(to_sexpr(&parsed), to_sexpr(&tree), "source: {}", source);
        prop_assert_eq!(without_spans(&parsed), without_spans(&tree), "source: {}", source);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (2) Fixture-like conditions evaluate against any document without panicking.
    #[test]
    fn fixture_conditions_evaluate_against_any_document(input in input()) {
        for expression in fixture_expressions() {
            let _ = expression.evaluate(&input);
        }
        for engine in fixture_engines() {
            let decision = engine.evaluate(&input);
            prop_assert!(decision.rules_evaluated as usize <= engine.plan().rule_count());
            // Every rule that matched or failed was evaluated.
            let touched: std::collections::HashSet<&str> = decision
                .matched
                .iter()
                .map(|m| m.id())
                .chain(decision.errors.iter().map(|e| &*e.rule_id))
                .collect();
            prop_assert!(touched.len() <= decision.rules_evaluated as usize);
            // The explanation decides as the engine does.
            let explanation = engine.explain(&input);
            prop_assert_eq!(explanation.matched_ids(), decision.matched_ids());
            // From bytes, the engine parses only what its rules read: same decision.
            let bytes = serde_json::to_vec(&input).expect("serialises");
            // A document that is not an object is refused from bytes.
            match engine.evaluate_json(&bytes) {
                Ok(from_bytes) => prop_assert!(same_decision(&from_bytes, &decision)),
                Err(error) => prop_assert!(!input.is_object(), "{}", error),
            }
        }
    }

    /// (2) Generated expressions evaluate against any document without panicking, and a
    /// compiled expression gives the same answer twice.
    #[test]
    fn generated_expressions_evaluate_against_any_document(tree in tree(), input in input()) {
        let source = to_source(&tree);
        prop_assume!(source.len() <= MAX_CONDITION_BYTES);
        if let Ok(expression) = Expression::compile(&source, &functions()) {
            let first = expression.evaluate(&input);
            if !source.contains("now(") {
                prop_assert_eq!(first, expression.evaluate(&input), "source: {}", source);
            }
        }
    }

    /// (2) and (3) Generated conditions and templates, loaded as rules and evaluated.
    #[test]
    fn generated_rules_load_and_evaluate(condition in tree(), template in tree(), input in input()) {
        let rules = rules_from(&condition, &template);
        if let Ok(engine) = Engine::builder().functions(functions()).load_str("generated.yaml", rules) {
            let decision = engine.evaluate(&input);
            prop_assert!(decision.rules_evaluated <= 1);
            prop_assert!(decision.matched.len() <= 1);
            if !to_source(&condition).contains("now(") && !to_source(&template).contains("now(") {
                let bytes = serde_json::to_vec(&input).expect("serialises");
                // A document that is not an object is refused from bytes.
                match engine.evaluate_json(&bytes) {
                    Ok(from_bytes) => prop_assert!(same_decision(&from_bytes, &decision)),
                    Err(error) => prop_assert!(!input.is_object(), "{}", error),
                }
            }
            // The explanation decides as the engine does (`now()` aside: it reads the clock
            // again).
            let explanation = engine.explain(&input);
            if !to_source(&condition).contains("now(") {
                prop_assert_eq!(explanation.matched_ids(), decision.matched_ids());
                let failed = decision.errors.iter().any(|e| decision.matched.is_empty() && &*e.rule_id == "GENERATED");
                prop_assert_eq!(!explanation.error_ids().is_empty(), failed);
            }
        }
    }

    /// (3) Any text loads or fails to load; it never panics.
    #[test]
    fn arbitrary_text_loads_or_fails(text in any::<String>()) {
        let _ = Engine::builder().load_str("any.yaml", text);
    }

    /// (3) A valid rules file with random edits loads or fails to load, and evaluates if it
    /// loads.
    #[test]
    fn edited_rules_files_load_or_fail(
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(&SNIPPETS[..]), any::<bool>()),
            1..6,
        ),
        input in input(),
    ) {
        let mut text = SEED_RULES.to_owned();
        for (at, snippet, insert) in edits {
            let boundaries: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            let start = boundaries[at.index(boundaries.len())];
            if insert {
                text.insert_str(start, snippet);
            } else {
                let end = boundaries.iter().copied().find(|&i| i >= start + snippet.len()).unwrap_or(text.len());
                text.replace_range(start..end, "");
            }
        }
        if let Ok(engine) = Engine::builder().load_str("edited.yaml", text) {
            let _ = engine.evaluate(&input);
        }
    }

    /// (4) Any text parses or fails to parse; it never panics.
    #[test]
    fn arbitrary_text_parses_or_fails(text in any::<String>()) {
        let _ = parse_condition(&text);
    }

    /// (4) Token soup parses or fails; when it parses, it prints back to the same tree.
    #[test]
    fn token_soup_parses_or_fails(tokens in prop::collection::vec(prop::sample::select(&[
        "a", "ctx", "x.y", ".", "(", ")", "[", "]", ",", "'s'", "\"d\"", "'", "\"", "\\", "1",
        "2.5", "1e3", "true", "null", "in", "!", "-", "+", "*", "/", "%", "<", "<=", "==", "!=",
        ">", ">=", "&&", "||", "f(", "now()", " ", "\n", "é", "'\\u00e9'", "'\\q'",
    ][..]), 0..24)) {
        let text: String = tokens.concat();
        if let Ok(expr) = parse_condition(&text) {
            let source = to_source(&expr);
            let again = parse_condition(&source)
                .map_err(|e| TestCaseError::fail(format!("`{text}` printed as `{source}`: {e}")))?;
            prop_assert_eq!(to_sexpr(&again), to_sexpr(&expr), "text: {}", text);
        }
    }

    /// (4) Operands and operators in turn, with stray brackets: mostly near-valid text, so
    /// the parser's error paths and the printer both get exercised.
    #[test]
    fn operator_soup_parses_or_fails(parts in prop::collection::vec((
        prop::sample::select(&["", "", "", "", "", "!", "-", "(", "- -"][..]),
        prop::sample::select(&["a", "ctx.b", "1", "0.5", "'s'", "\"q\\\"\"", "true", "null", "[]", "[1, x]", "f(x)", "now()", "x[0]", "x.in"][..]),
        prop::sample::select(&["", "", "", "", "", "", ".y", "[1]", ")", "(2)"][..]),
        prop::sample::select(&["&&", "||", "in", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", " "][..]),
    ), 1..8)) {
        let mut text = String::new();
        for (prefix, operand, suffix, op) in &parts {
            text.push_str(&format!("{prefix}{operand}{suffix} {op} "));
        }
        let text = text.trim_end().trim_end_matches(|c: char| !c.is_alphanumeric() && !")]'\"".contains(c)).to_owned();
        if let Ok(expr) = parse_condition(&text) {
            let source = to_source(&expr);
            let again = parse_condition(&source)
                .map_err(|e| TestCaseError::fail(format!("`{text}` printed as `{source}`: {e}")))?;
            prop_assert_eq!(to_sexpr(&again), to_sexpr(&expr), "text: {}", text);
            prop_assert_eq!(without_spans(&again), without_spans(&expr), "text: {}", text);
        }
    }
}

// ---- deep nesting -----------------------------------------------------------------------

const DEEP: usize = 100_000;

/// Deep text must be refused everywhere a condition can appear: parser, `Expression`, a
/// rule's condition, a template.
fn assert_refused(text: &str) {
    assert!(parse_condition(text).is_err());
    assert!(Expression::compile(text, &Functions::new()).is_err());
    let quoted = Value::String(text.to_owned()).to_string();
    let template = Value::String(format!("{{{{{text}}}}}")).to_string();
    let as_condition = format!(
        "- {{ id: R, priority: 1, severity: low, description: d, audit: false, condition: {quoted}, action: [] }}\n"
    );
    assert!(Engine::builder()
        .load_str("deep.yaml", as_condition)
        .is_err());
    let as_template = format!(
        "- {{ id: R, priority: 1, severity: low, description: d, audit: false, condition: 'true', action: [{{ note: {{ t: {template} }} }}] }}\n"
    );
    assert!(Engine::builder()
        .load_str("deep.yaml", as_template)
        .is_err());
}

#[test]
fn a_hundred_thousand_nested_brackets_are_an_error() {
    assert_refused(&format!("{}1{}", "(".repeat(DEEP), ")".repeat(DEEP)));
    assert_refused(&format!("{}1{}", "[".repeat(DEEP), "]".repeat(DEEP)));
    assert_refused(&"(".repeat(DEEP));
}

#[test]
fn a_hundred_thousand_prefix_operators_are_an_error() {
    assert_refused(&format!("{}x", "!".repeat(DEEP)));
    assert_refused(&format!("{}x", "-".repeat(DEEP)));
    assert_refused(&format!("{}x", "!-".repeat(DEEP / 2)));
}

/// Under the length limit, the bracket and depth limits do the refusing.
#[test]
fn deep_conditions_under_the_length_limit_are_an_error() {
    let n = MAX_CONDITION_BYTES / 2 - 2;
    assert_refused(&format!("{}1{}", "(".repeat(n), ")".repeat(n)));
    assert_refused(&format!("{}x", "!".repeat(n)));
    assert_refused(&format!("{}x", "- ".repeat(n)));
    assert_refused(&format!("x{}", ".y".repeat(n)));
    assert_refused(&format!("x{}", "[0]".repeat(n / 2)));
    assert_refused(&format!("x{}", " + x".repeat(n / 3)));
    assert_refused(&format!("{}x{}", "f(".repeat(n / 2), ")".repeat(n / 2)));
    assert_refused(&format!("{}x{}", "!(".repeat(n / 2), ")".repeat(n / 2)));
    assert_refused(&format!("x{}", "()".repeat(n)));
}

/// Long `&&` / `||` chains are flat, so they are fine at any length under the limit.
#[test]
fn long_flat_chains_load_and_evaluate() {
    let chain = vec!["x == 1"; 1500].join(" && ");
    let expression = Expression::compile(&chain, &Functions::new()).expect("a flat chain compiles");
    assert_eq!(
        expression
            .evaluate(&json!({ "event": { "x": 1 } }))
            .expect("evaluates"),
        json!(true)
    );
    let chain = vec!["x == 1"; 1500].join(" || ");
    let expression = Expression::compile(&chain, &Functions::new()).expect("a flat chain compiles");
    assert_eq!(
        expression
            .evaluate(&json!({ "event": { "x": 2 } }))
            .expect("evaluates"),
        json!(false)
    );
}

#[test]
fn deeply_nested_yaml_and_json_are_an_error() {
    let yaml = format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP));
    assert!(Engine::builder().load_str("deep.yaml", yaml).is_err());
    let yaml = "- a:\n".to_owned()
        + &(1..2000)
            .map(|i| format!("{}- a:\n", "  ".repeat(i)))
            .collect::<String>();
    assert!(Engine::builder().load_str("deep.yaml", yaml).is_err());

    let engine = Engine::builder()
        .load_str(
            "rules.yaml",
            "- { id: R, priority: 1, severity: low, description: d, audit: false, condition: 'event == event', action: [] }\n",
        )
        .expect("rules load");
    let json = format!("{{\"event\": {}{}}}", "[".repeat(DEEP), "]".repeat(DEEP));
    assert!(engine.evaluate_json(json.as_bytes()).is_err());
    // As deep as JSON parsing allows, deep equality is fine.
    let json = format!("{{\"event\": {}{}}}", "[".repeat(120), "]".repeat(120));
    let decision = engine
        .evaluate_json(json.as_bytes())
        .expect("120 levels parse");
    assert_eq!(decision.matched_ids(), ["R"]);
}

/// Brackets nested to the limit parse, compile and evaluate on a 1 MiB thread, debug build
/// included (the parser once recursed a dozen frames per bracket and needed 4 MiB).
#[test]
fn brackets_at_the_limit_fit_in_a_small_stack() {
    let depth = acs_engine::unstable::syntax::MAX_NESTING;
    let text = format!("{}x + 1{}", "(".repeat(depth), ")".repeat(depth));
    let outcome = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let expression =
                Expression::compile(&text, &Functions::new()).map_err(|d| format!("{d:?}"))?;
            expression
                .evaluate(&json!({ "event": { "x": 1 } }))
                .map_err(|e| e.message)
        })
        .expect("thread starts")
        .join()
        .expect("no panic");
    assert_eq!(outcome, Ok(json!(2)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// A comparison of a path with a constant decides as the general operators do, on a
    /// parsed document and on the tape alike.
    #[test]
    fn one_step_comparisons_agree_with_the_general_operators(
        head in prop::sample::select(&NAMES[..]),
        field in prop::sample::select(&FIELDS[..]),
        op in prop::sample::select(&["==", "!=", "in", "<", ">="][..]),
        constant in comparison_constant(),
        planted in prop::option::weighted(0.7, compared_value()),
        input in input(),
    ) {
        let mut input = input;
        if let Some(value) = planted {
            plant(&mut input, head, field, value);
        }
        let rules = comparison_rules(&format!("{head}.{field}"), op, &constant);
        let engine = Engine::builder()
            .functions(functions())
            .load_str("comparisons.yaml", rules)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let decision = engine.evaluate(&input);
        let matched = decision.matched_ids();
        prop_assert_eq!(
            matched.contains(&"ONE_STEP"),
            matched.contains(&"GENERAL"),
            "{}.{} {} {} on {}", head, field, op, constant, input
        );
        let failed: Vec<&str> = decision.errors.iter().map(|e| &*e.rule_id).collect();
        prop_assert_eq!(failed.contains(&"ONE_STEP"), failed.contains(&"GENERAL"));
        let bytes = serde_json::to_vec(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // A document that is not an object is refused from bytes.
        match engine.evaluate_json(&bytes) {
            Ok(from_bytes) => prop_assert!(same_decision(&from_bytes, &decision)),
            Err(error) => prop_assert!(!input.is_object(), "{}", error),
        }
    }
}
