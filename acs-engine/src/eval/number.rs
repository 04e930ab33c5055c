//! Conversions between the evaluator's numbers (`f64`), JSON numbers and integers: the one
//! place that decides when a float is an exact integer, how a float becomes JSON and what
//! JSON cannot hold.

use serde_json::{Number, Value};

/// 2^63: every integral float below it in magnitude converts to `i64` exactly.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

/// `n` as an `i64` when it is integral and below 2^63 in magnitude, which such a float
/// converts to exactly (`-0.0` is `0`); `None` for fractions, NaN, infinities and
/// anything larger.
#[inline]
#[expect(clippy::cast_possible_truncation, reason = "integral and below 2^63")]
pub(crate) fn exact_i64(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() < I64_BOUND).then_some(n as i64)
}

/// 2^64: every non-negative integral float below it converts to `u64` exactly.
const U64_BOUND: f64 = 18_446_744_073_709_551_616.0;

/// A JSON number for `n`: integral values within `i64` or `u64` as integers (`12`, not
/// `12.0`; `1e19` as `10000000000000000000`), others as floats; `None` for NaN and
/// infinities, which JSON cannot hold.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "integral and in range"
)]
pub(crate) fn to_number(n: f64) -> Option<Number> {
    if n.fract() == 0.0 && (-I64_BOUND..U64_BOUND).contains(&n) {
        return Some(if n < 0.0 {
            Number::from(n as i64)
        } else {
            Number::from(n as u64)
        });
    }
    Number::from_f64(n)
}

/// A number literal as a constant: integers as written, floats as [`to_json`] writes them.
pub(crate) fn literal(n: &Number) -> Value {
    match n.as_f64() {
        Some(f) if n.is_f64() => to_json(f),
        _ => Value::Number(n.clone()),
    }
}

/// [`to_number`] as a JSON value: NaN and infinities are null.
pub(crate) fn to_json(n: f64) -> Value {
    to_number(n).map_or(Value::Null, Value::Number)
}

/// A JSON number for an integer: an `i64` or `u64` when it fits one, else the nearest
/// float.
pub(crate) fn from_i128(i: i128) -> Number {
    if let Ok(i) = i64::try_from(i) {
        return Number::from(i);
    }
    if let Ok(u) = u64::try_from(i) {
        return Number::from(u);
    }
    // An i128 always rounds to a finite float, which JSON holds.
    Number::from_f64(i as f64).unwrap_or_else(|| Number::from(0))
}

/// An operand as an exact integer, for arithmetic beyond 2^53: an integer, an integral
/// float below 2^64 in magnitude, or a timestamp's epoch milliseconds.
#[expect(clippy::cast_possible_truncation, reason = "integral and in range")]
pub(crate) fn exact_integer(n: f64) -> Option<i128> {
    (n.fract() == 0.0 && n.abs() < U64_BOUND).then_some(n as i128)
}

/// A JSON number as the evaluator's `f64` (the nearest float for integers beyond 2^53).
#[inline]
pub(crate) fn to_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// `n` as an array index: a non-negative integral value that fits a `usize`.
#[inline]
#[expect(clippy::cast_possible_truncation, reason = "integral and in range")]
pub(crate) fn to_index(n: f64) -> Option<usize> {
    (n >= 0.0 && n.fract() == 0.0 && n < usize::MAX as f64).then_some(n as usize)
}

/// `i` against `f`, exactly: `None` when `f` is NaN. Every integer the evaluator holds is
/// below 2^64 in magnitude, so a float beyond 2^127 orders by its sign alone.
pub(crate) fn cmp_int_float(i: i128, f: f64) -> Option<std::cmp::Ordering> {
    const I128_BOUND: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f.is_nan() {
        return None;
    }
    if f >= I128_BOUND {
        return Some(std::cmp::Ordering::Less);
    }
    if f < -I128_BOUND {
        return Some(std::cmp::Ordering::Greater);
    }
    // Integral and below 2^127 in magnitude: converts to `i128` exactly.
    #[expect(clippy::cast_possible_truncation, reason = "integral and in range")]
    let whole = f.trunc() as i128;
    // Equal whole parts: `f`'s fraction decides (it is `-0.0` for a negative whole `f`).
    let fraction = f.fract();
    let by_fraction = if fraction > 0.0 {
        std::cmp::Ordering::Less
    } else if fraction < 0.0 {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    };
    Some(i.cmp(&whole).then(by_fraction))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_53: f64 = 9_007_199_254_740_992.0;

    #[test]
    fn exact_i64_takes_integral_floats_below_2_63() {
        assert_eq!(exact_i64(12.0), Some(12));
        assert_eq!(exact_i64(-0.0), Some(0));
        assert_eq!(exact_i64(-TWO_53 * 4.0), Some(-(1 << 55)));
        assert_eq!(exact_i64(-I64_BOUND), None);
        assert_eq!(exact_i64(I64_BOUND), None);
        assert_eq!(exact_i64(1.5), None);
        assert_eq!(exact_i64(f64::NAN), None);
        assert_eq!(exact_i64(f64::INFINITY), None);
    }

    #[test]
    fn to_number_and_to_json_keep_integers_integral_and_refuse_what_json_cannot_hold() {
        assert_eq!(to_number(5.0).map(|n| n.to_string()), Some("5".into()));
        assert_eq!(to_number(0.5).map(|n| n.to_string()), Some("0.5".into()));
        assert_eq!(
            to_number(1e17).map(|n| n.to_string()),
            Some("100000000000000000".into())
        );
        assert_eq!(
            to_number(1e300).map(|n| n.to_string()),
            Some("1e+300".into())
        );
        assert_eq!(to_number(f64::NAN), None);
        assert_eq!(to_json(f64::NEG_INFINITY), Value::Null);
        assert_eq!(to_json(-3.0), Value::from(-3));
    }

    #[test]
    fn from_i128_is_an_integer_when_it_fits_i64_or_u64_else_the_nearest_float() {
        assert_eq!(from_i128(-42), Number::from(-42));
        assert_eq!(from_i128(i128::from(i64::MIN)), Number::from(i64::MIN));
        let beyond = i128::from(i64::MAX) + 1;
        assert_eq!(from_i128(beyond), Number::from(1u64 << 63));
        assert_eq!(from_i128(i128::from(u64::MAX)), Number::from(u64::MAX));
        let beyond = i128::from(u64::MAX) + 1;
        assert!(from_i128(beyond).is_f64());
        assert_eq!(from_i128(beyond).as_f64(), Some(U64_BOUND));
    }

    #[test]
    fn to_f64_reads_every_json_number() {
        assert_eq!(to_f64(&Number::from(7)), 7.0);
        assert_eq!(to_f64(&Number::from(u64::MAX)), u64::MAX as f64);
        assert_eq!(Number::from_f64(0.25).map(|n| to_f64(&n)), Some(0.25));
    }

    #[test]
    fn cmp_int_float_is_exact_at_every_boundary() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let two_63 = I64_BOUND;
        assert_eq!(cmp_int_float(i128::from(i64::MAX), two_63), Some(Less));
        assert_eq!(cmp_int_float(1 << 63, two_63), Some(Equal));
        assert_eq!(cmp_int_float((1 << 53) + 1, TWO_53), Some(Greater));
        assert_eq!(cmp_int_float(-(1 << 53) - 1, -TWO_53), Some(Less));
        assert_eq!(cmp_int_float(-5, -5.0), Some(Equal));
        assert_eq!(cmp_int_float(-5, -4.5), Some(Less));
        assert_eq!(cmp_int_float(-5, -5.5), Some(Greater));
        assert_eq!(cmp_int_float(4, 4.5), Some(Less));
        assert_eq!(cmp_int_float(i128::from(u64::MAX), 1e19), Some(Greater));
        assert_eq!(
            cmp_int_float(i128::from(u64::MAX), f64::INFINITY),
            Some(Less)
        );
        assert_eq!(
            cmp_int_float(i128::from(i64::MIN), f64::NEG_INFINITY),
            Some(Greater)
        );
        assert_eq!(cmp_int_float(0, 1e300), Some(Less));
        assert_eq!(cmp_int_float(0, f64::NAN), None);
    }

    #[test]
    fn to_index_takes_non_negative_integral_values() {
        assert_eq!(to_index(0.0), Some(0));
        assert_eq!(to_index(3.0), Some(3));
        assert_eq!(to_index(-1.0), None);
        assert_eq!(to_index(1.5), None);
        assert_eq!(to_index(f64::NAN), None);
        assert_eq!(to_index(f64::INFINITY), None);
    }
}
