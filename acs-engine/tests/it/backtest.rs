//! Backtests over JSON lines: exact counts, line numbers and baseline transitions, whatever
//! the number of threads and the batch size.
use std::io::{self, BufReader, Read};

use acs_engine::backtest::{
    replay, Backtest, BacktestError, BacktestReport, CodeChange, LineMessage, PartError,
    RecordedCalls, RuleChange, MAX_LINE_BYTES,
};
use acs_engine::{Engine, RuleMode, Verdict};
use serde_json::json;

const RULES: &str = r#"
- id: BIG_BID
  priority: 30
  severity: high
  description: Reject big bids
  condition: "event.type == 'bid.create' && bid.amount > 1000"
  action:
    - rejectRequest: { code: BID_TOO_BIG, message: "bid over the limit" }
  audit: false
- id: NO_KYC
  priority: 20
  severity: critical
  description: Reject users without KYC
  condition: "ctx.userKycStatus != 'VERIFIED'"
  action:
    - rejectRequest: { code: KYC_REQUIRED, message: "kyc required" }
  audit: true
- id: WATCH_TRUCKS
  priority: 10
  severity: low
  description: Flag truck creation
  condition: "event.type == 'truck.create'"
  action:
    - flagWatchlist: { reason: "new truck" }
  audit: false
- id: SHADOW_SMALL_BID
  priority: 5
  severity: low
  mode: shadow
  description: Try rejecting tiny bids
  condition: "event.type == 'bid.create' && bid.amount < 10"
  action:
    - rejectRequest: { code: BID_TOO_SMALL, message: "bid too small" }
  audit: false
- id: HOST_LOOKUP
  priority: 1
  severity: low
  description: Calls a host function nobody registered
  condition: "event.type == 'booking.create' && db.lookup(ctx.userId) == true"
  action:
    - flagWatchlist: { reason: "lookup" }
  audit: false
"#;

/// The same rules with `BIG_BID` at 2000 and a new code, `WATCH_TRUCKS` gone and a new
/// `NEW_BOOKINGS` rule: used as a baseline against [`RULES`].
const BASELINE: &str = r#"
- id: BIG_BID
  priority: 30
  severity: high
  description: Reject big bids
  condition: "event.type == 'bid.create' && bid.amount > 2000"
  action:
    - rejectRequest: { code: BID_LIMIT, message: "bid over the limit" }
  audit: false
- id: NO_KYC
  priority: 20
  severity: critical
  description: Reject users without KYC
  condition: "ctx.userKycStatus != 'VERIFIED'"
  action:
    - rejectRequest: { code: KYC_REQUIRED, message: "kyc required" }
  audit: true
- id: OLD_BOOKINGS
  priority: 15
  severity: low
  description: Reject every booking
  condition: "event.type == 'booking.create'"
  action:
    - rejectRequest: { code: NO_BOOKINGS, message: "no bookings" }
  audit: false
"#;

fn engine(rules: &str) -> Engine {
    Engine::builder().load_str("rules.yaml", rules).unwrap()
}

fn bid(amount: i64) -> String {
    json!({"event": {"type": "bid.create", "bid": {"amount": amount}}, "ctx": {"userKycStatus": "VERIFIED"}})
        .to_string()
}

fn truck() -> String {
    json!({"event": {"type": "truck.create"}, "ctx": {"userKycStatus": "VERIFIED"}}).to_string()
}

fn booking() -> String {
    json!({"event": {"type": "booking.create"}, "ctx": {"userId": "U-1", "userKycStatus": "VERIFIED"}})
        .to_string()
}

fn unverified_bid(amount: i64) -> String {
    json!({"event": {"type": "bid.create", "bid": {"amount": amount}}, "ctx": {}}).to_string()
}

/// The small known input: 12 lines.
fn small_input() -> String {
    [
        bid(5000),            // 1: BIG_BID rejects
        bid(500),             // 2: allowed
        String::new(),        // 3: blank
        truck(),              // 4: WATCH_TRUCKS, allowed
        "{not json".into(),   // 5: invalid
        bid(5),               // 6: shadow match, allowed
        unverified_bid(50),   // 7: NO_KYC rejects
        unverified_bid(5000), // 8: BIG_BID and NO_KYC match; BIG_BID rejects
        "   \t".into(),       // 9: blank
        booking(),            // 10: HOST_LOOKUP error, allowed
        "[1, 2".into(),       // 11: invalid
        bid(1500),            // 12: BIG_BID rejects (under the baseline: allowed)
    ]
    .join("\n")
        + "\n"
}

fn run(backtest: &Backtest, input: &str) -> BacktestReport {
    backtest.run(input.as_bytes(), |_| {}).unwrap()
}

fn rule<'a>(report: &'a BacktestReport, id: &str) -> &'a acs_engine::backtest::RuleCount {
    report.rules.iter().find(|r| r.id == id).unwrap()
}

/// The report without the timing, which differs from run to run.
fn counts(report: &BacktestReport) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap();
    let throughput = value["throughput"].as_object_mut().unwrap();
    throughput.remove("elapsed_seconds");
    throughput.remove("inputs_per_second");
    throughput.remove("megabytes_per_second");
    throughput.remove("threads");
    value
}

#[test]
fn backtest_counts_a_small_known_input_exactly() {
    let report = run(&Backtest::new(&engine(RULES)).threads(2), &small_input());
    assert_eq!(report.lines, 12);
    assert_eq!(report.blank_lines, 2);
    assert_eq!(report.invalid.count, 2);
    assert_eq!(report.inputs, 8);
    assert_eq!(report.throughput.bytes, small_input().len() as u64);

    let ids: Vec<&str> = report.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "BIG_BID",
            "NO_KYC",
            "WATCH_TRUCKS",
            "SHADOW_SMALL_BID",
            "HOST_LOOKUP"
        ]
    );
    assert_eq!(rule(&report, "BIG_BID").matches, 3);
    assert_eq!(rule(&report, "BIG_BID").rate, 3.0 / 8.0);
    assert_eq!(rule(&report, "NO_KYC").matches, 2);
    assert_eq!(rule(&report, "WATCH_TRUCKS").matches, 1);
    assert_eq!(rule(&report, "SHADOW_SMALL_BID").matches, 1);
    assert_eq!(rule(&report, "SHADOW_SMALL_BID").mode, RuleMode::Shadow);
    assert_eq!(rule(&report, "BIG_BID").mode, RuleMode::Enforce);
    assert!(report.rules.iter().all(|r| r.enabled));
    let lookup = rule(&report, "HOST_LOOKUP");
    assert_eq!((lookup.matches, lookup.errors), (0, 1));
    let first_error = lookup.first_error.as_ref().unwrap();
    assert_eq!(first_error.line, 10);
    assert!(first_error.message.contains("db.lookup"), "{first_error:?}");
    assert!(report
        .rules
        .iter()
        .filter(|r| r.id != "HOST_LOOKUP")
        .all(|r| r.errors == 0 && r.first_error.is_none()));

    assert_eq!(report.verdicts.allowed, 4);
    assert_eq!(report.verdicts.rejected, 4);
    let rejections: Vec<(&str, Option<&str>, u64)> = report
        .verdicts
        .rejections
        .iter()
        .map(|r| (r.rule_id.as_str(), r.code.as_deref(), r.count))
        .collect();
    assert_eq!(
        rejections,
        [
            ("BIG_BID", Some("BID_TOO_BIG"), 3),
            ("NO_KYC", Some("KYC_REQUIRED"), 1)
        ]
    );
    assert_eq!(report.verdicts.other_rejections, 0);
    assert_eq!(report.inputs_with_errors, 1);
    assert_eq!(report.inputs_with_shadow_matches, 1);
    assert!(report.baseline.is_none());
    assert_eq!(report.ruleset_hash, engine(RULES).status().ruleset_hash);
}

#[test]
fn backtest_reports_invalid_lines_with_line_numbers_and_the_parser_message() {
    let report = run(&Backtest::new(&engine(RULES)), &small_input());
    assert_eq!(report.invalid.count, 2);
    let lines: Vec<u64> = report.invalid.examples.iter().map(|e| e.line).collect();
    assert_eq!(lines, [5, 11]);
    assert!(
        report.invalid.examples[0]
            .message
            .starts_with("invalid JSON at column 2: "),
        "{:?}",
        report.invalid.examples[0]
    );
}

#[test]
fn backtest_skips_blank_lines_crlf_a_byte_order_mark_and_a_missing_final_newline() {
    let input = format!(
        "\u{feff}{}\r\n\r\n  \r\n\n{}\r\n{}",
        bid(5000),
        truck(),
        bid(1)
    );
    let report = run(&Backtest::new(&engine(RULES)), &input);
    assert_eq!(report.lines, 6);
    assert_eq!(report.blank_lines, 3);
    assert_eq!(report.invalid.count, 0, "{:?}", report.invalid);
    assert_eq!(report.inputs, 3);
    assert_eq!(rule(&report, "BIG_BID").matches, 1);
    assert_eq!(rule(&report, "SHADOW_SMALL_BID").matches, 1);
}

#[test]
fn backtest_of_an_empty_input_lists_every_rule_with_zero_counts() {
    let report = run(&Backtest::new(&engine(RULES)), "");
    assert_eq!((report.lines, report.inputs), (0, 0));
    assert_eq!(report.rules.len(), 5);
    assert!(report.rules.iter().all(|r| r.matches == 0 && r.rate == 0.0));
}

/// A few thousand lines mixing every kind of line, deterministic.
fn large_input(lines: usize) -> String {
    let mut out = String::new();
    for i in 0..lines {
        let line = match i % 11 {
            0 => bid((i as i64 * 37) % 3000),
            1 => truck(),
            2 => String::new(),
            3 => unverified_bid((i as i64 * 13) % 2500),
            4 => booking(),
            5 => format!("{{\"broken\": {i}"),
            6 => bid(i as i64 % 12),
            _ => bid(100 + i as i64),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn backtest_counts_are_identical_with_one_and_four_threads_and_any_batch_size() {
    let input = large_input(4000);
    let current = engine(RULES);
    let baseline = engine(BASELINE);
    let one = run(
        &Backtest::new(&current).baseline(&baseline).threads(1),
        &input,
    );
    assert!(one.inputs > 3000);
    for batch in [1, 300, 4096] {
        let four = run(
            &Backtest::new(&current)
                .baseline(&baseline)
                .threads(4)
                .batch_bytes(batch),
            &input,
        );
        assert_eq!(four.throughput.threads, 4);
        assert_eq!(counts(&one), counts(&four), "batch of {batch} bytes");
    }
}

#[test]
fn backtest_examples_have_exact_line_numbers_across_batches_and_threads() {
    let input = large_input(4000);
    let report = run(
        &Backtest::new(&engine(RULES))
            .baseline(&engine(BASELINE))
            .threads(4)
            .batch_bytes(200)
            .examples(3),
        &input,
    );
    let invalid: Vec<u64> = report.invalid.examples.iter().map(|e| e.line).collect();
    // Line n holds element n - 1; element i is broken when i % 11 == 5.
    assert_eq!(invalid, [6, 17, 28]);
    assert_eq!(
        report.invalid.count,
        (0..4000).filter(|i| i % 11 == 5).count() as u64
    );
    let input_lines: Vec<&str> = input.lines().collect();
    let baseline = report.baseline.unwrap();
    for transition in [
        &baseline.transitions.allowed_to_rejected,
        &baseline.transitions.rejected_to_allowed,
        &baseline.transitions.code_changed,
    ] {
        assert_eq!(transition.examples.len(), 3);
        let lines: Vec<u64> = transition.examples.iter().map(|e| e.line).collect();
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
        for example in &transition.examples {
            // Each example's line really is the input it describes.
            let line = input_lines[example.line as usize - 1];
            let decision = engine(RULES).evaluate_json(line.as_bytes()).unwrap();
            assert_eq!(
                example.after.verdict, decision.verdict,
                "line {}",
                example.line
            );
        }
    }
    // The first bookings (element 4, line 5) went from rejected to allowed.
    assert_eq!(baseline.transitions.rejected_to_allowed.examples[0].line, 5);
}

#[test]
fn backtest_against_a_baseline_reports_transitions_and_per_rule_changes() {
    let report = run(
        &Backtest::new(&engine(RULES)).baseline(&engine(BASELINE)),
        &small_input(),
    );
    let baseline = report.baseline.as_ref().unwrap();
    assert_eq!(
        baseline.ruleset_hash,
        engine(BASELINE).status().ruleset_hash
    );
    assert_ne!(baseline.ruleset_hash, report.ruleset_hash);

    let changes: Vec<RuleChange> = baseline.rules.clone();
    let change = |id: &str, before: Option<u64>, after: Option<u64>, change: i64| RuleChange {
        id: id.to_owned(),
        before,
        after,
        change,
    };
    assert_eq!(
        changes,
        [
            change("BIG_BID", Some(2), Some(3), 1),
            change("NO_KYC", Some(2), Some(2), 0),
            change("WATCH_TRUCKS", None, Some(1), 1),
            change("SHADOW_SMALL_BID", None, Some(1), 1),
            change("HOST_LOOKUP", None, Some(0), 0),
            change("OLD_BOOKINGS", Some(1), None, -1),
        ]
    );

    // Line 1 and 8: BID_LIMIT -> BID_TOO_BIG; line 12: allowed -> BID_TOO_BIG;
    // line 10: NO_BOOKINGS -> allowed.
    let t = &baseline.transitions;
    assert_eq!(t.allowed_to_rejected.count, 1);
    assert_eq!(t.allowed_to_rejected.examples[0].line, 12);
    assert_eq!(
        t.allowed_to_rejected.examples[0].before.matched,
        Vec::<String>::new()
    );
    assert_eq!(t.allowed_to_rejected.examples[0].after.matched, ["BIG_BID"]);
    assert_eq!(
        t.allowed_to_rejected.examples[0].before.verdict,
        Verdict::Allowed
    );
    assert_eq!(
        t.allowed_to_rejected.by_code,
        [CodeChange {
            from: None,
            to: Some("BID_TOO_BIG".into()),
            count: 1
        }]
    );
    assert_eq!(t.rejected_to_allowed.count, 1);
    assert_eq!(t.rejected_to_allowed.examples[0].line, 10);
    assert_eq!(
        t.rejected_to_allowed.examples[0].before.matched,
        ["OLD_BOOKINGS"]
    );
    assert_eq!(t.code_changed.count, 2);
    let lines: Vec<u64> = t.code_changed.examples.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 8]);
    assert_eq!(
        t.code_changed.examples[1].before.matched,
        ["BIG_BID", "NO_KYC"]
    );
    assert_eq!(
        t.code_changed.by_code,
        [CodeChange {
            from: Some("BID_LIMIT".into()),
            to: Some("BID_TOO_BIG".into()),
            count: 2
        }]
    );
    assert_eq!(baseline.inputs_with_changed_verdict, 4);
    // Lines 4 (truck watch), 6 (shadow), 10 and 12; lines 1 and 8 match the same rules.
    assert_eq!(baseline.inputs_with_changed_matches, 4);
    assert_eq!(baseline.verdicts.allowed, 4);
    assert_eq!(baseline.verdicts.rejected, 4);
    assert_eq!(baseline.inputs_with_errors, 0);
}

#[test]
fn backtest_against_itself_changes_nothing() {
    let rules = engine(RULES);
    let report = run(&Backtest::new(&rules).baseline(&rules), &large_input(500));
    let baseline = report.baseline.unwrap();
    assert_eq!(baseline.inputs_with_changed_matches, 0);
    assert_eq!(baseline.inputs_with_changed_verdict, 0);
    assert!(baseline
        .rules
        .iter()
        .all(|r| r.change == 0 && r.before == r.after));
    assert_eq!(baseline.verdicts, report.verdicts);
}

#[test]
fn backtest_keeps_no_more_examples_than_asked() {
    let report = run(
        &Backtest::new(&engine(RULES)).examples(0),
        &large_input(200),
    );
    assert!(report.invalid.count > 0);
    assert!(report.invalid.examples.is_empty());
}

#[test]
fn backtest_reports_progress_ending_with_the_totals() {
    let input = large_input(1000);
    let mut calls = Vec::new();
    Backtest::new(&engine(RULES))
        .threads(2)
        .batch_bytes(100)
        .run(input.as_bytes(), |p| calls.push(*p))
        .unwrap();
    let last = calls.last().unwrap();
    assert_eq!(last.bytes, input.len() as u64);
    assert_eq!(last.lines, 1000);
    assert!(calls.windows(2).all(|w| w[0].bytes <= w[1].bytes));
}

/// Yields `good` and then fails.
struct FailingReader {
    good: io::Cursor<Vec<u8>>,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.good.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn backtest_stops_with_an_error_when_the_input_cannot_be_read() {
    let reader = BufReader::new(FailingReader {
        good: io::Cursor::new(format!("{}\n{}\n", bid(1), bid(2)).into_bytes()),
    });
    let error = Backtest::new(&engine(RULES))
        .threads(2)
        .run(reader, |_| {})
        .unwrap_err();
    assert!(
        matches!(error, BacktestError::Read { line: 2, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "cannot read the input after line 2: disk on fire"
    );
}

#[test]
fn backtest_reports_a_line_too_long_to_hold_as_invalid() {
    let long = format!("{{\"pad\": \"{}\"}}", "x".repeat(MAX_LINE_BYTES));
    let input = format!("{}\n{long}\n{}\n", bid(5000), bid(5000));
    // A small reader buffer, so the long line arrives in many pieces.
    let reader = BufReader::with_capacity(4096, input.as_bytes());
    let report = Backtest::new(&engine(RULES)).run(reader, |_| {}).unwrap();
    assert_eq!(report.lines, 3);
    assert_eq!(report.inputs, 2);
    assert_eq!(report.blank_lines, 0);
    assert_eq!(rule(&report, "BIG_BID").matches, 2);
    assert_eq!(
        report.invalid.examples,
        [LineMessage {
            line: 2,
            message: format!("line longer than {MAX_LINE_BYTES} bytes"),
        }]
    );
    assert_eq!(report.invalid.count, 1);
}

#[test]
fn backtest_honours_the_kill_switch_and_reports_rules_disabled() {
    let rules = engine(RULES);
    let backtest = Backtest::new(&rules);
    // The kill switch belongs to the plan, which the backtest shares.
    rules.set_rule_enabled("BIG_BID", false);
    let report = run(&backtest, &bid(5000));
    assert!(!rule(&report, "BIG_BID").enabled);
    assert_eq!(rule(&report, "BIG_BID").matches, 0);
}

#[test]
fn backtest_evaluations_do_not_count_in_the_engine_metrics() {
    let rules = engine(RULES);
    rules.evaluate_json(bid(5000).as_bytes()).unwrap();
    let before = rules.metrics();
    assert_eq!(before.evaluations, 1);
    let report = run(&Backtest::new(&rules).baseline(&rules), &large_input(300));
    assert!(report.inputs > 0);
    assert_eq!(rules.metrics().evaluations, 1);
}

/// A line that is JSON but not an object, or gives a key twice, is no input: counted
/// invalid, with the message, whether one plan reads it from the tape or two need it
/// parsed whole.
#[test]
fn backtest_counts_lines_that_are_not_objects_or_repeat_a_key_as_invalid() {
    let input = [
        bid(5000),
        "42".into(),
        "[1, 2]".into(),
        "null".into(),
        "\"x\"".into(),
        bid(1),
        r#"{"event":{"type":"bid.create"},"ctx":{},"ctx":{}}"#.into(),
    ]
    .join("\n");
    let current = engine(RULES);
    let baseline = engine(BASELINE);
    for backtest in [
        Backtest::new(&current),
        Backtest::new(&current).baseline(&baseline),
    ] {
        let report = run(&backtest, &input);
        assert_eq!(report.inputs, 2);
        assert_eq!(report.invalid.count, 5);
        let examples: Vec<(u64, &str)> = report
            .invalid
            .examples
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            examples[0],
            (
                2,
                "the input must be a JSON object with event, ctx, system and db; found a number"
            )
        );
        assert_eq!(
            examples[4],
            (
                7,
                "duplicate key \"ctx\" in one JSON object, at line 1, column 45"
            )
        );
    }
}

/// `input` cut into pieces of `sizes` lines (cycled), each counted by its own part with
/// line numbers from 1 within the piece, sent through JSON, shifted to its place and
/// merged in reverse order.
fn report_in_parts(backtest: &Backtest, input: &str, sizes: &[usize]) -> BacktestReport {
    let lines: Vec<&str> = input
        .strip_suffix('\n')
        .unwrap_or(input)
        .split('\n')
        .collect();
    let mut pieces = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= lines.len() {
            break;
        }
        let end = (at + size).min(lines.len());
        let mut part = backtest.part();
        for (i, line) in lines[at..end].iter().enumerate() {
            part.add_json(i as u64 + 1, line.as_bytes());
        }
        pieces.push((at as u64, part.to_json()));
        at = end;
    }
    let parts: Vec<_> = pieces
        .into_iter()
        .rev()
        .map(|(offset, json)| {
            let mut part = backtest.part_from_json(json.as_bytes()).unwrap();
            part.shift_lines(offset);
            part
        })
        .collect();
    backtest
        .report(parts, 1, std::time::Duration::from_millis(5))
        .unwrap()
}

#[test]
fn backtest_in_parts_reports_what_one_run_reports() {
    let current = engine(RULES);
    let baseline = engine(BASELINE);
    for input in [small_input(), large_input(3000)] {
        for backtest in [
            Backtest::new(&current),
            Backtest::new(&current).baseline(&baseline),
        ] {
            let whole = run(&backtest.clone().threads(2), &input);
            for sizes in [&[1][..], &[7, 300, 1], &[100_000]] {
                let parts = report_in_parts(&backtest, &input, sizes);
                assert_eq!(counts(&whole), counts(&parts), "pieces of {sizes:?}");
            }
        }
    }
}

#[test]
fn backtest_part_of_other_rules_or_damaged_is_refused() {
    let current = engine(RULES);
    let baseline = engine(BASELINE);
    let mut part = Backtest::new(&current).part();
    part.add_json(1, bid(5000).as_bytes());
    let json = part.to_json();
    let against = Backtest::new(&current).baseline(&baseline);
    let refused = against.part_from_json(json.as_bytes()).unwrap_err();
    assert!(matches!(refused, PartError::OtherRules { .. }), "{refused}");
    assert!(refused.to_string().contains('+'), "{refused}");
    let other = Backtest::new(&baseline).part_from_json(json.as_bytes());
    assert!(matches!(other, Err(PartError::OtherRules { .. })));
    let mut merged = against.part();
    assert!(merged.merge(part).is_err());
    for damaged in [&b"{"[..], b"[]", b"{\"lines\": 1}", b""] {
        let error = Backtest::new(&current).part_from_json(damaged).unwrap_err();
        assert!(matches!(error, PartError::Malformed(_)), "{error}");
    }
    // Counts for fewer rules than the plan has: refused, not read past.
    let mut wire: serde_json::Value = serde_json::from_str(&json).unwrap();
    wire["tally"]["current"]["rules"]
        .as_array_mut()
        .unwrap()
        .pop();
    let short = Backtest::new(&current).part_from_json(wire.to_string().as_bytes());
    assert!(matches!(short, Err(PartError::Malformed(_))), "{short:?}");
}

#[test]
fn backtest_part_counts_documents_and_rows_without_one() {
    let current = engine(RULES);
    let backtest = Backtest::new(&current);
    let mut part = backtest.part();
    let document: serde_json::Value = serde_json::from_str(&bid(5000)).unwrap();
    part.add_document(1, Ok(&document), None, None);
    part.add_document(2, Err("column `event` is not a struct"), None, None);
    part.add_document(3, Ok(&json!([1, 2])), None, None);
    part.add_invalid(4, "calls: not an array");
    assert_eq!((part.lines(), part.inputs()), (4, 1));
    let report = backtest
        .report([part], 1, std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(rule(&report, "BIG_BID").matches, 1);
    assert_eq!(report.invalid.count, 3);
    let messages: Vec<_> = report
        .invalid
        .examples
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(messages[0], (2, "column `event` is not a struct"));
    assert_eq!(messages[1].0, 3);
    assert!(messages[1].1.contains("found an array"), "{messages:?}");
    assert_eq!(messages[2], (4, "calls: not an array"));
}

const HOST_RULES: &str = r#"
- id: MANY_TRUCKS
  priority: 10
  severity: high
  description: Too many trucks
  condition: "event.type == 'truck.create' && db.count.trucks(ctx.operatorId) >= 10"
  action:
    - rejectRequest: { code: TOO_MANY_TRUCKS, message: "{{ctx.operatorId}} has too many" }
  audit: true
- id: LATE
  priority: 5
  severity: low
  description: After the deadline
  condition: "event.type == 'truck.create' && now() > 1000"
  action:
    - flagWatchlist: { reason: "late" }
  audit: false
"#;

#[test]
fn backtest_answers_host_calls_from_the_recording_and_counts_a_missing_one_as_an_error() {
    let recorded = Engine::builder()
        .functions(acs_engine::Functions::new().answered_by_recording())
        .load_str("rules.yaml", HOST_RULES)
        .unwrap();
    assert!(
        recorded.plan().warnings().is_empty(),
        "no ACS401: {:?}",
        recorded.plan().warnings()
    );
    let backtest = Backtest::new(&recorded);
    let truck = json!({"event": {"type": "truck.create"}, "ctx": {"operatorId": "OP-1"}});
    let answered = RecordedCalls::from_value(
        &json!([{"name": "db.count.trucks", "args": ["OP-1"], "result": 12}]),
    )
    .unwrap();
    let failed = RecordedCalls::from_value(&json!([
        {"name": "db.count.trucks", "args": ["OP-1"], "error": {"code": "timeout", "message": "db slow"}}
    ]))
    .unwrap();
    let other_args = RecordedCalls::from_value(
        &json!([{"name": "db.count.trucks", "args": ["OP-2"], "result": 12}]),
    )
    .unwrap();

    let decision = replay(&recorded.plan(), &truck, &answered, Some(5000.0));
    assert_eq!(decision.matched_ids(), ["MANY_TRUCKS", "LATE"]);
    let early = replay(&recorded.plan(), &truck, &answered, Some(10.0));
    assert_eq!(early.matched_ids(), ["MANY_TRUCKS"]);
    let missing = replay(&recorded.plan(), &truck, &other_args, Some(10.0));
    assert!(missing.matched.is_empty());
    assert_eq!(missing.errors.len(), 1);
    assert!(
        missing.errors[0].message.contains("not in the recording"),
        "{:?}",
        missing.errors
    );
    // Called outside a replay, the placeholder fails the same way: never a `null`.
    let direct = recorded.evaluate(&truck);
    assert_eq!(direct.errors.len(), 1);

    let mut part = backtest.part();
    part.add_document(1, Ok(&truck), Some((&answered, Some(5000.0))), None);
    part.add_document(2, Ok(&truck), Some((&failed, Some(5000.0))), None);
    part.add_document(3, Ok(&truck), Some((&other_args, None)), None);
    let report = backtest
        .report([part], 1, std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(rule(&report, "MANY_TRUCKS").matches, 1);
    assert_eq!(rule(&report, "MANY_TRUCKS").errors, 2);
    let first = rule(&report, "MANY_TRUCKS").first_error.clone().unwrap();
    assert_eq!(first.line, 2);
    assert!(first.message.contains("db slow"), "{first:?}");
    assert_eq!(
        rule(&report, "LATE").matches,
        3,
        "now() read the system clock on line 3"
    );
    assert_eq!(report.inputs_with_errors, 2);
}

#[test]
fn recorded_calls_that_are_not_a_recording_are_refused_with_the_reason() {
    for (bad, says) in [
        (json!({"name": "x"}), "expected an array"),
        (json!([{"args": []}]), "no `name`"),
        (
            json!([{"name": "f", "args": 3, "result": 1}]),
            "not an array",
        ),
        (
            json!([{"name": "f", "args": []}]),
            "neither `result` nor `error`",
        ),
    ] {
        let error = RecordedCalls::from_value(&bad).unwrap_err().to_string();
        assert!(error.contains(says), "{bad}: {error}");
    }
    assert!(RecordedCalls::from_value(&serde_json::Value::Null)
        .unwrap()
        .is_empty());
    assert!(RecordedCalls::from_json(b"[{\"name\": \"f\", \"result\": null}]").is_ok());
    assert!(RecordedCalls::from_json(b"not json").is_err());
}
