//! Integers that fit `i64` or `u64` are exact (docs/LANGUAGE.md, "Numbers"): read from the
//! input, written as literals, returned by host functions or read by index, they compare,
//! order and compute exactly, whichever way the engine reads the input (`Expression`,
//! `Engine::evaluate`, `Engine::evaluate_json` on the tape) and whichever plan node
//! compares them (a path against a constant, two paths, any two operands).

use acs_engine::{Engine, Expression, Functions};
use proptest::prelude::*;
use serde_json::{json, Value};

/// `id(x)` is `x`: a host function's result.
fn functions() -> Functions {
    Functions::new().with("id", |args: &[&Value]| {
        Ok(args.first().map_or(Value::Null, |v| (*v).clone()))
    })
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// What `condition` evaluates to on the JSON document `input`, after checking that every
/// route agrees: `Expression`, and a rule whose condition it is and whose exact
/// `"{{...}}"` parameter renders it, over `Engine::evaluate` and `Engine::evaluate_json`.
/// `None` for an evaluation error.
pub fn value_of(condition: &str, input: &str) -> Option<Value> {
    let document: Value = serde_json::from_str(input).unwrap();
    let expression = Expression::compile(condition, &functions())
        .unwrap_or_else(|e| panic!("`{condition}` does not compile: {e:?}"));
    let value = expression.evaluate(&document).ok();
    let quoted = Value::from(condition);
    let template = Value::from(format!("{{{{{condition}}}}}"));
    let rules = format!(
        "- {{ id: C, priority: 2, severity: low, description: d, audit: false, condition: {quoted}, action: [] }}\n\
         - {{ id: T, priority: 1, severity: low, description: d, audit: false, condition: 'true', action: [ {{ emit: {{ value: {template} }} }} ] }}\n"
    );
    let engine = Engine::builder()
        .functions(functions())
        .load_str("numbers.yaml", &rules)
        .unwrap_or_else(|e| panic!("`{condition}` does not load: {e}"));
    for (route, decision) in [
        ("evaluate", engine.evaluate(&document)),
        (
            "evaluate_json",
            engine.evaluate_json(input.as_bytes()).unwrap(),
        ),
    ] {
        let matched = decision.matched_ids().contains(&"C");
        let rendered = decision
            .matched
            .iter()
            .find(|m| m.id() == "T")
            .and_then(|m| m.actions().next())
            .map(|a| a.params.clone());
        match &value {
            Some(value) => {
                assert_eq!(
                    matched,
                    truthy(value),
                    "`{condition}` on {input} by {route}: matched, but Expression gives {value}"
                );
                assert_eq!(
                    rendered,
                    Some(json!({ "value": value })),
                    "`{condition}` on {input} by {route}: rendered"
                );
                assert!(decision.errors.is_empty(), "`{condition}` by {route}");
            }
            None => {
                assert!(!matched, "`{condition}` on {input} by {route}");
                assert_eq!(decision.errors.len(), 2, "`{condition}` by {route}");
            }
        }
    }
    value
}

/// `condition` on `input` is the boolean `want` by every route.
#[track_caller]
fn check(condition: &str, input: &str, want: bool) {
    assert_eq!(
        value_of(condition, input),
        Some(Value::Bool(want)),
        "`{condition}` on {input}"
    );
}

/// Numbers at every boundary, as JSON text, with their exact values in halves (every one
/// of them is a multiple of 0.5). The float spellings are the floats they parse to:
/// `9007199254740993.0` is 2^53, `9223372036854775807.0` is 2^63.
const BOUNDARIES: [(&str, i128); 17] = [
    ("0", 0),
    ("1.5", 3),
    ("9007199254740991", 2 * 9_007_199_254_740_991),
    ("9007199254740992", 2 * 9_007_199_254_740_992),
    ("9007199254740993", 2 * 9_007_199_254_740_993),
    ("9007199254740993.0", 2 * 9_007_199_254_740_992),
    ("-9007199254740993", -2 * 9_007_199_254_740_993),
    ("9223372036854775807", 2 * i64::MAX as i128),
    ("9223372036854775806", 2 * (i64::MAX as i128 - 1)),
    ("9223372036854775808", 2 * (i64::MAX as i128 + 1)),
    ("9223372036854775807.0", 2 * (i64::MAX as i128 + 1)),
    ("18446744073709551615", 2 * u64::MAX as i128),
    ("18446744073709551614", 2 * (u64::MAX as i128 - 1)),
    ("-9223372036854775808", 2 * i64::MIN as i128),
    ("-9223372036854775807", 2 * (i64::MIN as i128 + 1)),
    ("1e19", 2 * 10_000_000_000_000_000_000),
    ("-1e19", -2 * 10_000_000_000_000_000_000),
];

/// An ordering operator and what it means on exact values.
type Ordering = (&'static str, fn(&i128, &i128) -> bool);

const ORDERINGS: [Ordering; 4] = [
    ("<", i128::lt),
    ("<=", i128::le),
    (">", i128::gt),
    (">=", i128::ge),
];

#[test]
fn integers_order_exactly_against_integers_and_floats_read_from_the_input() {
    for (a, x) in BOUNDARIES {
        for (b, y) in BOUNDARIES {
            let input = format!(r#"{{"event": {{"a": {a}, "b": {b}, "list": [{a}, {b}]}}}}"#);
            for (op, holds) in ORDERINGS {
                let want = holds(&x, &y);
                check(&format!("a {op} b"), &input, want);
                check(&format!("id(a) {op} id(b)"), &input, want);
                check(&format!("list[0] {op} list[1]"), &input, want);
                check(&format!("a {op} {b}"), &input, want);
                check(&format!("{a} {op} b"), &input, want);
            }
            check("a == b", &input, x == y);
            check("id(a) != list[1]", &input, x != y);
            check("a in [b]", &input, x == y);
            check(&format!("a == {b}"), &input, x == y);
            check(&format!("{a} != b"), &input, x != y);
            check(&format!("a in [{b}]"), &input, x == y);
        }
    }
}

/// Timestamps with their epoch milliseconds.
const TIMESTAMPS: [(&str, i128); 4] = [
    ("1970-01-01T00:00:00Z", 0),
    ("0001-01-01T00:00:00Z", -62_135_596_800_000),
    ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
    ("2026-11-21T15:45:00.250+05:30", 1_795_262_100_250),
];

#[test]
fn big_integers_order_against_timestamps_as_epoch_milliseconds() {
    let integers = [
        ("9007199254740993", 9_007_199_254_740_993),
        ("-9007199254740993", -9_007_199_254_740_993),
        ("9223372036854775807", i128::from(i64::MAX)),
        ("18446744073709551615", i128::from(u64::MAX)),
        ("-9223372036854775807", i128::from(i64::MIN) + 1),
    ];
    for (n, x) in integers {
        for (t, y) in TIMESTAMPS {
            let input = format!(r#"{{"event": {{"n": {n}, "t": "{t}", "list": [{n}, "{t}"]}}}}"#);
            for (op, holds) in ORDERINGS {
                for (condition, want) in [
                    (format!("n {op} '{t}'"), holds(&x, &y)),
                    (format!("'{t}' {op} n"), holds(&y, &x)),
                    (format!("n {op} t"), holds(&x, &y)),
                    (format!("t {op} n"), holds(&y, &x)),
                    (format!("id(n) {op} id(t)"), holds(&x, &y)),
                    (format!("id(t) {op} n"), holds(&y, &x)),
                    (format!("list[0] {op} list[1]"), holds(&x, &y)),
                    (format!("list[1] {op} list[0]"), holds(&y, &x)),
                ] {
                    check(&condition, &input, want);
                }
            }
        }
    }
}

#[test]
fn integer_literals_beyond_2_53_keep_every_digit() {
    let n = |text: &str| format!(r#"{{"event": {{"n": {text}}}}}"#);
    check("n in [9007199254740993]", &n("9007199254740993"), true);
    check("n in [9007199254740993]", &n("9007199254740992"), false);
    check("n == 9007199254740993", &n("9007199254740993"), true);
    check("n != 9007199254740992", &n("9007199254740993"), true);
    check(
        "n == 18446744073709551615",
        &n("18446744073709551615"),
        true,
    );
    check(
        "n == 18446744073709551614",
        &n("18446744073709551615"),
        false,
    );
    check(
        "n == -9223372036854775808",
        &n("-9223372036854775808"),
        true,
    );
    check(
        "n == -9223372036854775807",
        &n("-9223372036854775808"),
        false,
    );
    check("9223372036854775807 < 9223372036854775808", "{}", true);
    check("9007199254740993 > 9007199254740993.0", "{}", true);
    check("9007199254740993 == 9007199254740992", "{}", false);
    for (literal, want) in [
        ("9007199254740993", json!(9_007_199_254_740_993_u64)),
        ("-9007199254740993", json!(-9_007_199_254_740_993_i64)),
        ("9223372036854775807", json!(i64::MAX)),
        ("9223372036854775808", json!(9_223_372_036_854_775_808_u64)),
        ("-9223372036854775808", json!(i64::MIN)),
        ("18446744073709551615", json!(u64::MAX)),
        ("1e19", json!(10_000_000_000_000_000_000_u64)),
    ] {
        assert_eq!(value_of(literal, "{}"), Some(want), "{literal}");
    }
}

#[test]
fn text_templates_write_every_digit() {
    let rules = r#"
- id: T
  priority: 1
  severity: low
  description: d
  audit: false
  condition: "true"
  action:
    - emit: { text: "{{n}} {{9007199254740993}} {{-9223372036854775808}} {{n + 1}} {{n - 1}} {{2 * 4611686018427387904}}" }
"#;
    let engine = Engine::builder().load_str("t.yaml", rules).unwrap();
    let input = r#"{"event": {"n": 9007199254740993}}"#;
    let want = json!({ "text": "9007199254740993 9007199254740993 -9223372036854775808 9007199254740994 9007199254740992 9223372036854775808" });
    let by_value = engine.evaluate(&serde_json::from_str(input).unwrap());
    let by_bytes = engine.evaluate_json(input.as_bytes()).unwrap();
    for decision in [by_value, by_bytes] {
        let params = decision.matched[0]
            .actions()
            .next()
            .map(|a| a.params.clone());
        assert_eq!(params, Some(want.clone()));
    }
}

/// Integers at and around every boundary, and anywhere in `i64` or `u64`.
fn integer() -> impl Strategy<Value = i128> {
    let boundaries = vec![
        0,
        1 << 53,
        -(1 << 53),
        i128::from(i64::MAX),
        i128::from(i64::MIN),
        i128::from(u64::MAX),
        1 << 32,
    ];
    prop_oneof![
        (prop::sample::select(boundaries), -3i128..=3).prop_map(|(b, d)| b + d),
        any::<i64>().prop_map(i128::from),
        any::<u64>().prop_map(i128::from),
        -1000i128..1000,
    ]
    .prop_map(|i| i.clamp(i128::from(i64::MIN), i128::from(u64::MAX)))
}

/// `i` as the engine writes an integer.
fn json_integer(i: i128) -> Value {
    match (i64::try_from(i), u64::try_from(i)) {
        (Ok(i), _) => json!(i),
        (_, Ok(u)) => json!(u),
        _ => panic!("{i} fits neither i64 nor u64"),
    }
}

fn in_range(i: i128) -> bool {
    i64::try_from(i).is_ok() || u64::try_from(i).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Comparisons and arithmetic on integers, from the input and as literals, against
    /// exact `i128` arithmetic: a result that fits `i64` or `u64` is exact; one beyond is
    /// a number (the nearest float).
    #[test]
    fn integers_compute_as_exact_integer_arithmetic(x in integer(), y in integer()) {
        let input = format!(r#"{{"event": {{"a": {x}, "b": {y}}}}}"#);
        for (a, b) in [("a", "b".to_owned()), ("a", format!("({y})")), ("id(a)", "b".to_owned())] {
            for (op, holds) in ORDERINGS {
                prop_assert_eq!(
                    value_of(&format!("{a} {op} {b}"), &input),
                    Some(Value::Bool(holds(&x, &y)))
                );
            }
            prop_assert_eq!(value_of(&format!("{a} == {b}"), &input), Some(Value::Bool(x == y)));
            prop_assert_eq!(value_of(&format!("{a} in [{b}]"), &input), Some(Value::Bool(x == y)));
            let exact = [
                ("+", x.checked_add(y)),
                ("-", x.checked_sub(y)),
                ("*", x.checked_mul(y)),
                ("/", (y != 0 && x % y == 0).then(|| x / y)),
                ("%", (y != 0).then(|| x % y)),
            ];
            for (op, exact) in exact {
                let got = value_of(&format!("{a} {op} {b}"), &input);
                match exact {
                    Some(r) if in_range(r) => prop_assert_eq!(got, Some(json_integer(r)), "{} {} {}", x, op, y),
                    // Beyond 64 bits: the nearest float to the exact result.
                    Some(r) => prop_assert_eq!(got.and_then(|v| v.as_f64()), Some(r as f64), "{} {} {}", x, op, y),
                    None if y == 0 => prop_assert_eq!(got, None),
                    None => prop_assert!(matches!(got, Some(Value::Number(_))), "{} {} {}: {:?}", x, op, y, got),
                }
            }
            let negated = value_of(&format!("-{a}"), &input);
            if in_range(-x) {
                prop_assert_eq!(negated, Some(json_integer(-x)));
            } else {
                prop_assert_eq!(negated.and_then(|v| v.as_f64()), Some(-(x as f64)));
            }
        }
    }
}
