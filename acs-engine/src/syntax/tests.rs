//! Parser tests: conditions printed as S-expressions (`to_sexpr`) and pinned with insta
//! inline snapshots, one table per topic. Semantics live in `tests/cases/*.yaml`.

use super::*;

fn sexpr(text: &str) -> String {
    match parse_condition(text) {
        Ok(expr) => to_sexpr(&expr),
        Err(e) => format!("error at {}..{}: {}", e.span.start, e.span.end, e.message),
    }
}

/// One line per condition: `` `text` -> s-expression ``.
fn table(texts: &[&str]) -> String {
    texts
        .iter()
        .map(|text| format!("`{text}` -> {}", sexpr(text)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The legacy rules file, outside the repository.
const LEGACY_BUNDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/acs_rules_top25.yaml"
);

/// The conditions of the legacy rules file. When the file is absent the test fails,
/// unless `ACS_ALLOW_MISSING_LEGACY=1`: then there are none, and the test says on stderr
/// that it skipped them (`SKIPPED <test>: ...`, counted by `scripts/test-all`). The same
/// rule as the integration tests' `legacy_bundle`, which unit tests cannot reach.
fn fixture_conditions() -> Vec<String> {
    use std::io::Write as _;
    let text = match std::fs::read_to_string(LEGACY_BUNDLE) {
        Ok(text) => text,
        Err(error) => {
            let current = std::thread::current();
            let test = current.name().unwrap_or("<unnamed test>");
            assert!(
                std::env::var("ACS_ALLOW_MISSING_LEGACY").is_ok_and(|v| v == "1"),
                "{test}: legacy fixture {LEGACY_BUNDLE} not found ({error}); provide it, or set ACS_ALLOW_MISSING_LEGACY=1 to skip the tests that need it"
            );
            // Written to the stream itself: libtest keeps what `eprintln!` prints from a passing
            // test, and `scripts/test-all` must see the line.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: legacy fixture {LEGACY_BUNDLE} not found"
            );
            return Vec::new();
        }
    };
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("condition: \""))
        .map(|rest| rest.trim_end_matches('"').to_owned())
        .collect()
}

#[test]
fn fixture_conditions_parse() {
    for cond in fixture_conditions() {
        println!("{}", sexpr(&cond));
        assert!(parse_condition(&cond).is_ok(), "{cond}");
    }
}

/// Loosest to tightest: `||`, `&&`, `in`, `== !=`, `< <= > >=`, `+ -`, `* / %`.
#[test]
fn binary_operators_bind_by_precedence() {
    insta::assert_snapshot!(table(&[
        "a || b && c",
        "a && b || c",
        "x in list && y",
        "x == y in list",
        "a < b == c < d",
        "a + b < c * d",
        "1 + 2 * 3 - 4 / 5 % 6",
    ]), @r#"
    `a || b && c` -> (|| a (&& b c))
    `a && b || c` -> (|| (&& a b) c)
    `x in list && y` -> (&& (in x list) y)
    `x == y in list` -> (in (== x y) list)
    `a < b == c < d` -> (== (< a b) (< c d))
    `a + b < c * d` -> (< (+ a b) (* c d))
    `1 + 2 * 3 - 4 / 5 % 6` -> (- (+ 1 (* 2 3)) (% (/ 4 5) 6))
    "#);
}

/// Left associative; brackets regroup; `&&` and `||` chains are one n-ary node.
#[test]
fn binary_operators_are_left_associative() {
    insta::assert_snapshot!(table(&[
        "a - b - c",
        "a - (b - c)",
        "a / b * c % d",
        "a in b in c",
        "a || b || c || d",
        "a && b && c",
        "(a || b) && c",
        "a && (b && c)",
    ]), @r#"
    `a - b - c` -> (- (- a b) c)
    `a - (b - c)` -> (- a (- b c))
    `a / b * c % d` -> (% (* (/ a b) c) d)
    `a in b in c` -> (in (in a b) c)
    `a || b || c || d` -> (|| a b c d)
    `a && b && c` -> (&& a b c)
    `(a || b) && c` -> (&& (|| a b) c)
    `a && (b && c)` -> (&& a (&& b c))
    "#);
}

#[test]
fn prefix_operators_bind_tighter_than_binary_and_looser_than_postfix() {
    insta::assert_snapshot!(table(&[
        "!a == b",
        "!a && b",
        "-a.b",
        "-a[0]",
        "!!a",
        "- -1",
        "-2 * 3",
        "1 - -1",
        "1--1",
        "!db.count.x(1) > 2",
    ]), @r#"
    `!a == b` -> (== (! a) b)
    `!a && b` -> (&& (! a) b)
    `-a.b` -> (neg a.b)
    `-a[0]` -> (neg ([] a 0))
    `!!a` -> (! (! a))
    `- -1` -> (neg (neg 1))
    `-2 * 3` -> (* (neg 2) 3)
    `1 - -1` -> (- 1 (neg 1))
    `1--1` -> (- 1 (neg 1))
    `!db.count.x(1) > 2` -> (> (! (call db.count.x 1)) 2)
    "#);
}

/// Dotted paths print as one name; calls take the whole dotted name.
#[test]
fn paths_indexes_and_calls() {
    insta::assert_snapshot!(table(&[
        "event.type",
        "truck.status",
        "a.in.null.true",
        "a[0][1]",
        "a['k'].b",
        "(a).b",
        "(a + b).c",
        "(a)[0]",
        "[a][0]",
        "f(x).y",
        "f(x)[0].y",
        "db.count.trucksByOperator(ctx.operatorId) >= 10",
        "now()",
        "f(1, 2,)",
        "true.x",
    ]), @r#"
    `event.type` -> event.type
    `truck.status` -> truck.status
    `a.in.null.true` -> a.in.null.true
    `a[0][1]` -> ([] ([] a 0) 1)
    `a['k'].b` -> ([] a 'k').b
    `(a).b` -> a.b
    `(a + b).c` -> (+ a b).c
    `(a)[0]` -> ([] a 0)
    `[a][0]` -> ([] (array a) 0)
    `f(x).y` -> (call f x).y
    `f(x)[0].y` -> ([] (call f x) 0).y
    `db.count.trucksByOperator(ctx.operatorId) >= 10` -> (>= (call db.count.trucksByOperator ctx.operatorId) 10)
    `now()` -> (call now)
    `f(1, 2,)` -> (call f 1 2)
    `true.x` -> true.x
    "#);
}

/// Numbers print in their shortest form, integers (digits only, up to `u64::MAX`) exactly
/// and floats with a `.` or an exponent; strings single-quoted with escapes.
#[test]
fn literals() {
    insta::assert_snapshot!(table(&[
        "null",
        "12",
        "1.50",
        "1e3",
        "2.5E-3",
        "007",
        "9007199254740993",
        "18446744073709551615",
        "18446744073709551616",
        "9007199254740993.0",
        "[1, 'a', [true, null]]",
        "[]",
        "[1,]",
        r#"'it\'s'"#,
        r#""d\"q""#,
        r#"'\u00e9\n\t'"#,
        r#"'a\/b\\'"#,
        r#""mixed 'quotes'""#,
    ]), @r#"
    `null` -> null
    `12` -> 12
    `1.50` -> 1.5
    `1e3` -> 1000.0
    `2.5E-3` -> 0.0025
    `007` -> 7
    `9007199254740993` -> 9007199254740993
    `18446744073709551615` -> 18446744073709551615
    `18446744073709551616` -> 18446744073709552000.0
    `9007199254740993.0` -> 9007199254740992.0
    `[1, 'a', [true, null]]` -> (array 1 'a' (array true null))
    `[]` -> (array)
    `[1,]` -> (array 1)
    `'it\'s'` -> 'it\'s'
    `"d\"q"` -> 'd"q'
    `'\u00e9\n\t'` -> 'é\n\t'
    `'a\/b\\'` -> 'a/b\\'
    `"mixed 'quotes'"` -> 'mixed \'quotes\''
    "#);
}

#[test]
fn conditions_from_the_language_guide() {
    insta::assert_snapshot!(table(&[
        "event.type == 'bid.create' && operator.ledgerBalance < computedFees.bidFee",
        "event.type in ['shipment.assign', 'bid.create'] && truck.status == 'EXPIRED_DOCS'",
        "distance(inspection.geo, unitFranchise.allowedGeoCenter) > system.config.inspectionGeoRadiusMeters",
        "matches(doc.number, '^[A-Z]{2}[0-9]{2}')",
        "pod.metadata.timestamp < shipment.pickupAt - system.config.podTimeWindowBefore || pod.metadata.timestamp > shipment.dropAt + system.config.podTimeWindowAfter",
    ]), @r#"
    `event.type == 'bid.create' && operator.ledgerBalance < computedFees.bidFee` -> (&& (== event.type 'bid.create') (< operator.ledgerBalance computedFees.bidFee))
    `event.type in ['shipment.assign', 'bid.create'] && truck.status == 'EXPIRED_DOCS'` -> (&& (in event.type (array 'shipment.assign' 'bid.create')) (== truck.status 'EXPIRED_DOCS'))
    `distance(inspection.geo, unitFranchise.allowedGeoCenter) > system.config.inspectionGeoRadiusMeters` -> (> (call distance inspection.geo unitFranchise.allowedGeoCenter) system.config.inspectionGeoRadiusMeters)
    `matches(doc.number, '^[A-Z]{2}[0-9]{2}')` -> (call matches doc.number '^[A-Z]{2}[0-9]{2}')
    `pod.metadata.timestamp < shipment.pickupAt - system.config.podTimeWindowBefore || pod.metadata.timestamp > shipment.dropAt + system.config.podTimeWindowAfter` -> (|| (< pod.metadata.timestamp (- shipment.pickupAt system.config.podTimeWindowBefore)) (> pod.metadata.timestamp (+ shipment.dropAt system.config.podTimeWindowAfter)))
    "#);
}

/// Every syntax error has a position and one lowercase line.
#[test]
fn syntax_errors_name_a_position() {
    insta::assert_snapshot!(table(&[
        "",
        "   ",
        "a +",
        "a b",
        "1 2",
        r#"'\q'"#,
        r#"'\u12'"#,
        r#"'\ud800'"#,
        "'open",
        "a[0](x)",
        "f(x)(y)",
        "'f'(x)",
        "1e400",
        ".5",
        "1.",
        "a..b",
        "in",
        "in.x",
        "x in",
        "a = 1",
        "a & b",
        "a &&& b",
        "a ||",
        "(a",
        "a)",
        "[1,,2]",
        "list[]",
        "a. b",
        "#",
    ]), @r#"
    `` -> error at 0..1: expected an expression, found end of condition
    `   ` -> error at 3..4: expected an expression, found end of condition
    `a +` -> error at 3..4: expected an expression, found end of condition
    `a b` -> error at 2..3: expected end of condition or an operator, found `b`
    `1 2` -> error at 2..3: expected end of condition or an operator, found `2`
    `'\q'` -> error at 1..3: unknown escape `\q`
    `'\u12'` -> error at 1..5: invalid unicode escape `\u12`
    `'\ud800'` -> error at 1..7: invalid unicode escape `\ud800`
    `'open` -> error at 0..1: expected an expression, found `'`
    `a[0](x)` -> error at 4..7: only named functions can be called
    `f(x)(y)` -> error at 4..7: only named functions can be called
    `'f'(x)` -> error at 3..6: only named functions can be called
    `1e400` -> error at 0..5: number `1e400` is out of range
    `.5` -> error at 0..1: expected an expression, found `.`
    `1.` -> error at 2..3: expected a field name, found end of condition
    `a..b` -> error at 2..3: expected a field name, found `.`
    `in` -> error at 0..1: expected an expression, found `i`
    `in.x` -> error at 0..1: expected an expression, found `i`
    `x in` -> error at 4..5: expected an expression, found end of condition
    `a = 1` -> error at 2..3: expected end of condition or an operator, found `=`
    `a & b` -> error at 2..3: expected end of condition or an operator, found `&`
    `a &&& b` -> error at 4..5: expected an expression, found `&`
    `a ||` -> error at 4..5: expected an expression, found end of condition
    `(a` -> error at 2..3: expected an operator, found end of condition
    `a)` -> error at 1..2: expected end of condition or an operator, found `)`
    `[1,,2]` -> error at 3..4: expected an expression, found `,`
    `list[]` -> error at 5..6: expected an expression, found `]`
    `a. b` -> a.b
    `#` -> error at 0..1: expected an expression, found `#`
    "#);
}

#[test]
fn limits_are_syntax_errors() {
    let deep = format!("{}x", "!".repeat(MAX_DEPTH + 1));
    let nested = format!(
        "{}x{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let long = format!("'{}'", "a".repeat(MAX_CONDITION_BYTES));
    let lines: Vec<String> = [deep, nested, long]
        .iter()
        .map(|text| sexpr(text))
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @r"
    error at 1..130: expression is nested more than 128 levels deep
    error at 32..33: brackets nested more than 32 deep
    error at 0..0: condition is 16386 bytes long, the limit is 16384
    ");
    // At the limits themselves, conditions parse.
    let deepest = format!("{}x", "!".repeat(MAX_DEPTH - 1));
    let most_nested = format!("{}x{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
    assert!(parse_condition(&deepest).is_ok());
    assert!(parse_condition(&most_nested).is_ok());
}

/// `to_source` brackets only where the tree needs it, so it reads back to the same tree
/// and never nests deeper than the text it came from (a chain of 127 `!` once printed as
/// 127 nested brackets, over the nesting limit).
#[test]
fn to_source_brackets_only_where_needed() {
    let printed: Vec<String> = [
        "a || b && !c.d[0]",
        "x == y in list",
        "-2 * 3 - -x",
        "!(a + b).c",
        "true.x && (1).y",
        "f(x, [1, 'it\\'s'])[0] >= g()",
        "(a || b) && c",
        "a && (b && c) || (d || e)",
        "a - (b - c) - d",
        "(a in b) in (c in d)",
        "!!-!(x)",
        "(-x).y + (!y)[0]",
        "1e300 * 0.000001",
    ]
    .iter()
    .map(|text| {
        let expr = parse_condition(text).expect("parses");
        let source = to_source(&expr);
        let again = parse_condition(&source).expect("printed source parses");
        assert_eq!(to_sexpr(&again), to_sexpr(&expr), "{text} -> {source}");
        format!("`{text}` -> {source}")
    })
    .collect();
    insta::assert_snapshot!(printed.join("\n"), @r"
    `a || b && !c.d[0]` -> a || b && !c.d[0]
    `x == y in list` -> x == y in list
    `-2 * 3 - -x` -> -2 * 3 - -x
    `!(a + b).c` -> !(a + b).c
    `true.x && (1).y` -> true.x && 1.y
    `f(x, [1, 'it\'s'])[0] >= g()` -> f(x, [1, 'it\'s'])[0] >= g()
    `(a || b) && c` -> (a || b) && c
    `a && (b && c) || (d || e)` -> a && (b && c) || (d || e)
    `a - (b - c) - d` -> a - (b - c) - d
    `(a in b) in (c in d)` -> a in b in (c in d)
    `!!-!(x)` -> !!-!x
    `(-x).y + (!y)[0]` -> (-x).y + (!y)[0]
    `1e300 * 0.000001` -> 1e300 * 0.000001
    ");
}

/// Spans are byte offsets into the condition text, multi-byte characters included.
#[test]
fn spans_are_byte_offsets() {
    let expr = parse_condition("'é' == nai.b").expect("parses");
    let ExprKind::Binary(BinaryOp::Eq, lhs, rhs) = &expr.kind else {
        panic!("not an equality: {}", to_sexpr(&expr));
    };
    assert_eq!(expr.span, LocalSpan { start: 0, end: 13 });
    assert_eq!(lhs.span, LocalSpan { start: 0, end: 4 });
    assert_eq!(rhs.span, LocalSpan { start: 8, end: 13 });

    let expr = parse_condition("db.count.x(a, b) > 1").expect("parses");
    let ExprKind::Binary(_, call, _) = &expr.kind else {
        panic!("not a comparison");
    };
    let ExprKind::Call {
        name_span, args, ..
    } = &call.kind
    else {
        panic!("not a call");
    };
    assert_eq!(*name_span, LocalSpan { start: 0, end: 10 });
    assert_eq!(call.span, LocalSpan { start: 0, end: 16 });
    assert_eq!(args[1].span, LocalSpan { start: 14, end: 15 });
}

/// Every fixture condition prints and parses back to the same tree.
#[test]
fn fixture_conditions_round_trip_through_to_source() {
    for cond in fixture_conditions() {
        let expr = parse_condition(&cond).expect("fixture condition parses");
        let again = parse_condition(&to_source(&expr)).expect("printed source parses");
        assert_eq!(to_sexpr(&again), to_sexpr(&expr), "{cond}");
    }
}

/// The Pratt parser recurses once per precedence level it climbs and once per bracket, so
/// the worst text at the bracket limit opens every bracket on the right of a full
/// operator ladder. It is read to the bottom on a test thread's 2 MiB stack, in debug
/// builds too.
#[test]
fn brackets_at_the_limit_under_every_operator_fit_the_stack() {
    let ladder = "a || b && c in d == e < f + g * !-";
    for open in ["(", "[", "f(", "x[", "!("] {
        let close = if open.ends_with('[') { "]" } else { ")" };
        let text = format!(
            "{}x{}",
            format!("{ladder}{open}").repeat(MAX_NESTING),
            close.repeat(MAX_NESTING)
        );
        // Too deep a tree for the depth limit, which is checked on the way back up.
        let error = parse_condition(&text).expect_err("deeper than MAX_DEPTH");
        assert!(error.message.contains("levels deep"), "{open}: {error}");
    }
}

#[test]
fn outside_strings_skips_literals_with_their_quotes_and_escapes() {
    let kept = |text: &str| -> String { outside_strings(text).map(|(_, c)| c).collect() };
    assert_eq!(kept("a == 'x(y'"), "a == ");
    assert_eq!(kept(r#"f("a\"(", 'b\'[') + c"#), "f(, ) + c");
    assert_eq!(kept(r#"'it"s' + "it's""#), " + ");
    assert_eq!(kept(r"'a\\' + (b)"), " + (b)");
    // An unclosed literal runs to the end of the text.
    assert_eq!(kept("(a == 'open ( ["), "(a == ");
    let offsets: Vec<usize> = outside_strings("'é' (").map(|(i, _)| i).collect();
    assert_eq!(offsets, [4, 5]);
}

/// Whitespace may appear between any two tokens, after a `.` as before it.
#[test]
fn whitespace_around_the_dot_of_a_member() {
    for text in ["a. b", "a .b", "a . b", "a.\n\tb", "event. type"] {
        let compact: String = text.split_whitespace().collect();
        assert_eq!(sexpr(text), sexpr(&compact), "{text:?}");
    }
    assert_eq!(sexpr("f(x). y [0]"), sexpr("f(x).y[0]"));
    assert_eq!(sexpr("x. in"), sexpr("x.in"));
}
