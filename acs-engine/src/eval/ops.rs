//! The operators' semantics (docs/LANGUAGE.md, "Semantics"): equality, ordering,
//! arithmetic, `in`. Pure functions over [`View`]s.

use std::cmp::Ordering;
use std::rc::Rc;

use serde_json::Value;

use super::value::{Val, View};
use crate::syntax::BinaryOp;

/// Deep, type-strict equality; numbers compare numerically (`1 == 1.0`).
pub(crate) fn equal(a: View<'_>, b: View<'_>) -> bool {
    match (a, b) {
        (View::Null, View::Null) => true,
        (View::Bool(x), View::Bool(y)) => x == y,
        (View::Num(x), View::Num(y)) => x == y,
        (View::BigInt(x), View::BigInt(y)) => x == y,
        (View::Str(x), View::Str(y)) => x == y,
        (View::Array(x), View::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| equal(View::of(p), View::of(q)))
        }
        (View::Object(x), View::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equal(View::of(v), View::of(w))))
        }
        _ => false,
    }
}

/// [`equal`] over JSON values.
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
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis() as f64)
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

/// `<`, `<=`, `>`, `>=`: numbers with numbers, strings with strings, a timestamp string
/// with a number; anything else (null, mixed types) is false.
pub(crate) fn ordered(op: BinaryOp, a: View<'_>, b: View<'_>) -> bool {
    let ordering = match (a, b) {
        (View::Num(x), View::Num(y)) => x.partial_cmp(&y),
        (View::BigInt(x), View::BigInt(y)) => Some(x.cmp(&y)),
        (View::BigInt(_), View::Num(_)) | (View::Num(_), View::BigInt(_)) => numeric(a)
            .zip(numeric(b))
            .and_then(|(x, y)| x.partial_cmp(&y)),
        (View::Str(x), View::Str(y)) => Some(x.cmp(y)),
        (View::Num(_), View::Str(_)) | (View::Str(_), View::Num(_)) => {
            match (numeric(a), numeric(b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(ordering) = ordering else {
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
    // An overflow is null, as JSON has no infinity: kept as a number it would be truthy
    // and ordered at run time, but null once folded into a constant or returned.
    if !result.is_finite() {
        return Ok(Val::Null);
    }
    Ok(Val::Num(result))
}

/// `needle in haystack`: element of an array, substring of a string, key of an object;
/// false when the haystack is null.
pub(crate) fn contains(needle: View<'_>, haystack: View<'_>) -> Result<bool, String> {
    match haystack {
        View::Null => Ok(false),
        View::Array(items) => Ok(items.iter().any(|item| equal(needle, View::of(item)))),
        View::Str(text) => Ok(matches!(needle, View::Str(part) if text.contains(part))),
        View::Object(map) => Ok(matches!(needle, View::Str(key) if map.contains_key(key))),
        other => Err(format!(
            "`in` needs an array, string or object on the right, found {}",
            other.type_name()
        )),
    }
}
