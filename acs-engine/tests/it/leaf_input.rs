//! What a host hands over to `Engine::evaluate_leaves` for a whole input: shared by the
//! engine's tests (`tests/it/leaves.rs`) and the `evaluate` fuzz target, which includes
//! this file by path, so both check the leaf input form against the same reading.

use acs_engine::{Leaf, LeafLayout};
use serde_json::Value;

/// What a host hands over for `input` under `layout`: each path followed through objects
/// (anything else on the way: absent), scalars as leaves, containers as JSON text.
/// Numbers keep their form: integers exact, fractions as doubles, and whole floats
/// (`3.0`, which a double cannot tell from `3`) as text.
pub fn leaves_of<'a>(
    input: &'a Value,
    layout: &LeafLayout,
    texts: &'a mut Vec<String>,
) -> Vec<Leaf<'a>> {
    let found: Vec<Option<&Value>> = layout
        .paths()
        .iter()
        .map(|path| {
            path.iter()
                .try_fold(input, |at, key| at.as_object().and_then(|o| o.get(key)))
        })
        .collect();
    *texts = found
        .iter()
        .map(|v| match v {
            Some(v @ (Value::Array(_) | Value::Object(_))) => v.to_string(),
            Some(Value::Number(n))
                if n.as_i64().is_none() && n.as_f64().is_some_and(|f| f.fract() == 0.0) =>
            {
                n.to_string()
            }
            _ => String::new(),
        })
        .collect();
    found
        .iter()
        .zip(texts.iter())
        .map(|(v, text)| match v {
            None => Leaf::Absent,
            Some(Value::Null) => Leaf::Null,
            Some(Value::Bool(b)) => Leaf::Bool(*b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Leaf::Integer(i),
                // An integer beyond i64 only as text: a double would round it.
                None if !n.is_f64() => Leaf::Json(text),
                // A whole float stays a float, by either form.
                None if !text.is_empty() && text.len() % 2 == 0 => Leaf::Json(text),
                None if !text.is_empty() => Leaf::Float(n.as_f64().unwrap()),
                None => Leaf::Number(n.as_f64().unwrap()),
            },
            Some(Value::String(s)) if s.len() % 2 == 0 => Leaf::Str(s),
            Some(v @ Value::String(_)) => Leaf::Value((*v).clone()),
            // Containers as JSON text or as built values, by turns.
            Some(v) if text.len() % 2 == 0 => Leaf::Value((*v).clone()),
            Some(_) => Leaf::Json(text),
        })
        .collect()
}
