//! The operators' semantics (docs/LANGUAGE.md, "Semantics"): equality, ordering,
//! arithmetic, `in`. Pure functions over [`View`]s.

use std::cmp::Ordering;
use std::rc::Rc;

use serde_json::Value;

use super::doc::Doc;
use super::number;
use super::value::{Val, View};
use crate::syntax::BinaryOp;

/// Deep, type-strict equality; numbers compare numerically (`1 == 1.0`).
pub(crate) fn equal(a: View<'_>, b: View<'_>) -> bool {
    equal_within(a, b, MAX_COMPARE_DEPTH)
}

/// How deep `==` follows nested arrays and objects. A host can hand the engine a
/// `Value` of any depth (only parsed JSON is limited to 128 levels); beyond this depth
/// two containers are equal only when they are the same one (a path read twice), and
/// unequal otherwise, rather than exhaust the stack. A value always equals itself: the
/// linter's "never true" for `a != a` relies on it.
const MAX_COMPARE_DEPTH: usize = 256;

fn equal_within(a: View<'_>, b: View<'_>, depth: usize) -> bool {
    match (a, b) {
        (View::Null, View::Null) => true,
        (View::Bool(x), View::Bool(y)) => x == y,
        (View::Num(x), View::Num(y)) => x == y,
        (View::BigInt(x), View::BigInt(y)) => x == y,
        (View::Str(x), View::Str(y)) => x == y,
        (View::Array(x), View::Array(y)) if depth == 0 => std::ptr::eq(x, y),
        (View::Object(x), View::Object(y)) if depth == 0 => std::ptr::eq(x, y),
        (View::Array(_) | View::Object(_) | View::Tape(_), _) if depth == 0 => false,
        (View::Tape(_), View::Array(_) | View::Object(_) | View::Tape(_))
        | (View::Array(_) | View::Object(_), View::Tape(_)) => equal_built(a, b, depth),
        (View::Array(x), View::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| equal_within(View::of(p), View::of(q), depth - 1))
        }
        (View::Object(x), View::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.get(k)
                        .is_some_and(|w| equal_within(View::of(v), View::of(w), depth - 1))
                })
        }
        _ => false,
    }
}

/// `==` with a container on the tape: compared built, as rare as `==` between containers
/// is. Kept out of line so the recursion's frames stay small.
#[cold]
#[inline(never)]
fn equal_built(a: View<'_>, b: View<'_>, depth: usize) -> bool {
    match (a, b) {
        (View::Tape(x), _) => equal_within(View::of(&x.build()), b, depth),
        (_, View::Tape(y)) => equal_within(a, View::of(&y.build()), depth),
        _ => equal_within(a, b, depth),
    }
}

/// Deep, type-strict equality of two JSON values, numbers compared numerically (`1 == 1.0`): the semantics of `==` in conditions.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    equal(View::of(a), View::of(b))
}

/// An RFC 3339 timestamp as epoch milliseconds.
pub(crate) fn timestamp_millis(text: &str) -> Option<f64> {
    // Cheap shape check first: most strings compared with numbers are not timestamps.
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes.get(4) != Some(&b'-')
        || !bytes.first().is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    // The usual shape (`2026-11-21T10:15:00Z`, `...00.250+05:30`) is read directly; chrono
    // stays the reference for everything else (leap seconds, long fractions, `t`/`z`).
    if let Some(millis) = common_rfc3339_millis(bytes) {
        return Some(millis as f64);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis() as f64)
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` as epoch milliseconds; `None` for any other
/// shape or an invalid date, which then goes to chrono.
fn common_rfc3339_millis(b: &[u8]) -> Option<i64> {
    fn digits(b: &[u8], from: usize, len: usize) -> Option<i64> {
        let mut value = 0i64;
        for &c in b.get(from..from + len)? {
            if !c.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(c - b'0');
        }
        Some(value)
    }
    let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if punctuation.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid_day = usize::try_from(month - 1)
        .ok()
        .and_then(|m| month_days.get(m))
        .is_some_and(|&days| (1..=days).contains(&day));
    if !valid_day || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start || end - start > 9 {
            return None;
        }
        // Milliseconds are the first three fraction digits, truncated like chrono's.
        let kept = (end - start).min(3);
        millis = digits(b, start, kept)? * 10i64.pow(3 - kept as u32);
        at = end;
    }
    let offset_seconds = match b.get(at..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2], 0, 2)?;
            let minutes = digits(&[*m1, *m2], 0, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return None,
    };
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1000 + millis)
}

/// A number, or a timestamp string read as epoch milliseconds.
fn numeric(view: View<'_>) -> Option<f64> {
    match view {
        View::Num(n) => Some(n),
        View::BigInt(i) => Some(i as f64),
        View::Str(s) => timestamp_millis(s),
        _ => None,
    }
}

/// `a op b` for a comparison operator (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`) over
/// operands already read: the one dispatch of every comparison the evaluator makes (a
/// fused path comparison, a path pair, an operand of `&&`/`||`, a binary node). The
/// error is `in`'s, the only comparison that can fail; any other operator is false, as
/// in [`ordered`]. On the hot path: inlined, so each caller's match on `op` is the only
/// branch taken before the operator's own code.
#[inline(always)]
pub(crate) fn compare(op: BinaryOp, a: View<'_>, b: View<'_>) -> Result<bool, NotAContainer> {
    match op {
        BinaryOp::Eq => Ok(equal(a, b)),
        BinaryOp::Ne => Ok(!equal(a, b)),
        BinaryOp::In => contains(a, b),
        _ => Ok(ordered(op, a, b)),
    }
}

/// `<`, `<=`, `>`, `>=`: numbers with numbers, strings with strings, a timestamp string
/// with a number; anything else (null, mixed types) is false.
pub(crate) fn ordered(op: BinaryOp, a: View<'_>, b: View<'_>) -> bool {
    let Some(ordering) = order(a, b) else {
        return false;
    };
    match op {
        BinaryOp::Lt => ordering == Ordering::Less,
        BinaryOp::Le => ordering != Ordering::Greater,
        BinaryOp::Gt => ordering == Ordering::Greater,
        BinaryOp::Ge => ordering != Ordering::Less,
        _ => false,
    }
}

/// The order of two JSON values as `<` and friends see them (numbers exactly, strings,
/// a timestamp string against a number by its epoch milliseconds); `None` when they are
/// not ordered. For tools that reason about comparisons (the linter's bounds).
#[cfg(feature = "tools")]
pub(crate) fn value_order(a: &Value, b: &Value) -> Option<Ordering> {
    order(View::of(a), View::of(b))
}

#[inline]
fn order(a: View<'_>, b: View<'_>) -> Option<Ordering> {
    match (a, b) {
        (View::Num(x), View::Num(y)) => x.partial_cmp(&y),
        (View::Str(x), View::Str(y)) => Some(x.cmp(y)),
        (View::Num(_), View::Str(_)) | (View::Str(_), View::Num(_)) => {
            match (numeric(a), numeric(b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => None,
            }
        }
        (View::BigInt(_), _) | (_, View::BigInt(_)) => big_ordering(a, b),
        _ => None,
    }
}

/// The order of two operands of which one is an integer beyond 2^53: exact, never by
/// the nearest float (`9223372036854775807 < 9223372036854775808`); a timestamp string
/// is its epoch milliseconds, as against any number. Out of line: such integers are ids,
/// rarely ordered.
#[cold]
#[inline(never)]
fn big_ordering<'v>(a: View<'v>, b: View<'v>) -> Option<Ordering> {
    let as_number = |view: View<'v>| match view {
        View::Str(s) => timestamp_millis(s).map(View::Num),
        other => Some(other),
    };
    match (as_number(a)?, as_number(b)?) {
        (View::BigInt(x), View::BigInt(y)) => Some(x.cmp(&y)),
        (View::BigInt(x), View::Num(y)) => number::cmp_int_float(x, y),
        (View::Num(x), View::BigInt(y)) => number::cmp_int_float(y, x).map(Ordering::reverse),
        _ => None,
    }
}

/// `+ - * / %`. A null operand gives null; `string + string` concatenates; a timestamp
/// string meets a number (or another timestamp) as epoch milliseconds.
pub(crate) fn arithmetic<'a>(op: BinaryOp, a: &Val<'a>, b: &Val<'a>) -> Result<Val<'a>, String> {
    let (x, y) = (a.view(), b.view());
    if matches!(x, View::Null) || matches!(y, View::Null) {
        return Ok(Val::Null);
    }
    if let (BinaryOp::Add, View::Str(s), View::Str(t)) = (op, x, y) {
        let both_timestamps = timestamp_millis(s).is_some() && timestamp_millis(t).is_some();
        if !both_timestamps {
            let mut joined = String::with_capacity(s.len() + t.len());
            joined.push_str(s);
            joined.push_str(t);
            return Ok(Val::Owned(Rc::new(Value::String(joined))));
        }
    }
    let (Some(p), Some(q)) = (numeric(x), numeric(y)) else {
        return Err(format!(
            "cannot apply `{}` to {} and {}",
            op.symbol(),
            x.type_name(),
            y.type_name()
        ));
    };
    let result = match op {
        BinaryOp::Add => p + q,
        BinaryOp::Sub => p - q,
        BinaryOp::Mul => p * q,
        BinaryOp::Div | BinaryOp::Rem if q == 0.0 => return Err("division by zero".to_owned()),
        BinaryOp::Div => p / q,
        BinaryOp::Rem => p % q,
        _ => return Err(format!("`{}` is not arithmetic", op.symbol())),
    };
    // A float result is exact below 2^53 in magnitude; beyond it, or with an integer
    // beyond 2^53 as an operand, integers compute exactly where they can.
    if result.abs() >= EXACT_FLOAT_BOUND
        || matches!(x, View::BigInt(_))
        || matches!(y, View::BigInt(_))
    {
        if let Some(exact) = exact_arithmetic(op, x, y) {
            return Ok(exact);
        }
    }
    // An overflow is null, as JSON has no infinity: kept as a number it would be truthy
    // and ordered at run time, but null once folded into a constant or returned.
    if !result.is_finite() {
        return Ok(Val::Null);
    }
    Ok(Val::Num(result))
}

/// 2^53: every integer below it in magnitude is an exact `f64`, and so is every integral
/// result of `+ - * / %` on such integers.
const EXACT_FLOAT_BOUND: f64 = 9_007_199_254_740_992.0;

/// `x op y` on two integers (integral numbers, timestamps as epoch milliseconds) computed
/// in `i128`: an `i64` or `u64` when the exact result fits one, else its nearest float;
/// `None` when an operand is not an integer, the quotient is not whole, or `i128`
/// overflows, which leaves the float result. Out of line: only results beyond 2^53 and
/// integers beyond 2^53 come here.
#[cold]
#[inline(never)]
fn exact_arithmetic<'a>(op: BinaryOp, x: View<'_>, y: View<'_>) -> Option<Val<'a>> {
    let integer = |view: View<'_>| match view {
        View::BigInt(i) => Some(i),
        View::Num(n) => number::exact_integer(n),
        View::Str(s) => timestamp_millis(s).and_then(number::exact_integer),
        _ => None,
    };
    let (p, q) = (integer(x)?, integer(y)?);
    let result = match op {
        BinaryOp::Add => p.checked_add(q),
        BinaryOp::Sub => p.checked_sub(q),
        BinaryOp::Mul => p.checked_mul(q),
        BinaryOp::Div => p
            .checked_rem(q)
            .filter(|&r| r == 0)
            .and_then(|_| p.checked_div(q)),
        BinaryOp::Rem => p.checked_rem(q),
        _ => None,
    }?;
    Some(Val::from_owned(Value::Number(number::from_i128(result))))
}

/// The right side of `in` is not an array, string, object or null: it is of this type.
/// Two words, so a comparison's result comes back in registers; the message is built
/// only when the error is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAContainer(&'static str);

impl NotAContainer {
    pub(crate) fn message(self) -> String {
        format!(
            "`in` needs an array, string or object on the right, found {}",
            self.0
        )
    }
}

/// `needle in haystack`: element of an array, substring of a string, key of an object;
/// false when the haystack is null.
pub(crate) fn contains(needle: View<'_>, haystack: View<'_>) -> Result<bool, NotAContainer> {
    match haystack {
        View::Null => Ok(false),
        View::Array(items) => Ok(match needle {
            // A string among strings, the usual `in` list: no views needed (a string
            // equals nothing else).
            View::Str(part) => items
                .iter()
                .any(|item| matches!(item, Value::String(s) if s == part)),
            _ => items.iter().any(|item| equal(needle, View::of(item))),
        }),
        View::Str(text) => Ok(matches!(needle, View::Str(part) if text.contains(part))),
        View::Object(map) => Ok(matches!(needle, View::Str(key) if map.contains_key(key))),
        View::Tape(tape) if tape.is_array() => {
            Ok(tape.elements().any(|item| equal(needle, item.view())))
        }
        View::Tape(tape) => Ok(match needle {
            View::Str(key) => tape.entries().any(|(k, _)| k == key),
            _ => false,
        }),
        other => Err(NotAContainer(other.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_millis(text: &str) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    #[test]
    fn the_fast_timestamp_path_agrees_with_chrono() {
        let mut checked = 0;
        for year in [1, 1969, 1970, 2000, 2024, 2026, 2100, 9999] {
            for month in 1..=12 {
                for day in [1, 15, 28, 29, 30, 31] {
                    for (time, fraction, offset) in [
                        ("00:00:00", "", "Z"),
                        ("23:59:59", ".999", "+05:30"),
                        ("12:34:56", ".5", "-08:00"),
                        ("06:07:08", ".123456789", "+00:00"),
                        ("18:00:00", ".0001", "-23:59"),
                    ] {
                        let text =
                            format!("{year:04}-{month:02}-{day:02}T{time}{fraction}{offset}");
                        assert_eq!(
                            common_rfc3339_millis(text.as_bytes()),
                            chrono_millis(&text),
                            "{text}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 2000);
    }

    #[test]
    fn unusual_shapes_fall_back_to_chrono() {
        for text in [
            "2026-11-21t10:15:00z",
            "2026-11-21T10:15:60Z",
            "2026-11-21T10:15:00.1234567890Z",
            "2026-02-30T00:00:00Z",
            "2026-11-21T10:15:00+0530",
            "2026-11-21 10:15:00Z",
        ] {
            assert_eq!(common_rfc3339_millis(text.as_bytes()), None, "{text}");
            assert_eq!(
                timestamp_millis(text),
                chrono_millis(text).map(|m| m as f64),
                "{text}"
            );
        }
    }

    #[test]
    fn compare_dispatches_each_comparison_to_its_operator() {
        let (one, two, list) = (
            serde_json::json!(1),
            serde_json::json!(2),
            serde_json::json!([1]),
        );
        let (one, two, list) = (View::of(&one), View::of(&two), View::of(&list));
        let cases = [
            (BinaryOp::Eq, one, one, true),
            (BinaryOp::Eq, one, two, false),
            (BinaryOp::Ne, one, two, true),
            (BinaryOp::Ne, one, one, false),
            (BinaryOp::Lt, one, two, true),
            (BinaryOp::Le, two, two, true),
            (BinaryOp::Gt, one, two, false),
            (BinaryOp::Ge, two, one, true),
            (BinaryOp::In, one, list, true),
            (BinaryOp::In, two, list, false),
            (BinaryOp::Add, one, two, false),
        ];
        for (op, a, b, want) in cases {
            assert_eq!(compare(op, a, b), Ok(want), "{op:?}");
        }
        assert!(compare(BinaryOp::In, one, two)
            .is_err_and(|error| error.message().contains("`in` needs an array")));
    }

    #[test]
    fn equality_of_absurdly_deep_values_stops_instead_of_overflowing() {
        let nest = || {
            let mut deep = serde_json::Value::Null;
            for _ in 0..10_000 {
                deep = serde_json::Value::Array(vec![deep]);
            }
            deep
        };
        let (deep, twin) = (nest(), nest());
        let (itself, other) = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let equal = (values_equal(&deep, &deep), values_equal(&deep, &twin));
                // Dropping a value this deep is recursive in serde_json itself; leak it.
                std::mem::forget(deep);
                std::mem::forget(twin);
                equal
            })
            .unwrap()
            .join()
            .unwrap();
        // Past the comparison depth a value still equals itself; an equal copy does not.
        assert!(itself);
        assert!(!other);
    }
}
