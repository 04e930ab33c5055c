//! Template parameters from a template and the values of its holes: assembled into a
//! [`Value`] on first read, or streamed straight into a serializer. Rendering a match only
//! evaluates the holes; the parameter object costs nothing until someone looks at it.

use std::cell::Cell;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use smallvec::SmallVec;

use crate::plan::{HolePlan, TemplatePlan};

/// The values of a match's `{{...}}` holes.
pub(crate) type Holes = SmallVec<[Value; 2]>;

/// Move the plans of `template`'s holes to `holes`, in the order rendering fills them
/// and reading takes them back: pre-order, object entries sorted by key.
pub(crate) fn move_holes(template: &mut TemplatePlan, holes: &mut Vec<HolePlan>) {
    match template {
        TemplatePlan::Value(_) | TemplatePlan::Moved => {}
        TemplatePlan::Hole(_) => {
            if let TemplatePlan::Hole(hole) = std::mem::replace(template, TemplatePlan::Moved) {
                holes.push(hole);
            }
        }
        TemplatePlan::Array(items) => items.iter_mut().for_each(|t| move_holes(t, holes)),
        TemplatePlan::Object(entries) => {
            entries.iter_mut().for_each(|(_, t)| move_holes(t, holes));
        }
    }
}

/// The parameters `template` renders to with these hole values.
pub(crate) fn build(template: &TemplatePlan, holes: &[Value]) -> Value {
    build_from(template, holes, &Cell::new(0))
}

// INVARIANT: holes are consumed in the order the renderer produced them, which is the
// template's pre-order with object entries sorted by key (the order `serde_json::Map`
// keeps), so building and serializing agree.

fn build_from(template: &TemplatePlan, holes: &[Value], next: &Cell<usize>) -> Value {
    match template {
        TemplatePlan::Value(value) => value.clone(),
        TemplatePlan::Hole(_) | TemplatePlan::Moved => take(holes, next).clone(),
        TemplatePlan::Array(items) => {
            Value::Array(items.iter().map(|t| build_from(t, holes, next)).collect())
        }
        TemplatePlan::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, t)| (String::from(&**key), build_from(t, holes, next)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

fn take<'a>(holes: &'a [Value], next: &Cell<usize>) -> &'a Value {
    let index = next.get();
    next.set(index + 1);
    holes.get(index).unwrap_or(&Value::Null)
}

/// Serializes `template` filled with `holes`, without building the value.
pub(crate) struct Fill<'a> {
    template: &'a TemplatePlan,
    holes: &'a [Value],
    next: Cell<usize>,
}

impl<'a> Fill<'a> {
    pub(crate) fn new(template: &'a TemplatePlan, holes: &'a [Value]) -> Fill<'a> {
        Fill {
            template,
            holes,
            next: Cell::new(0),
        }
    }
}

/// One node of a [`Fill`], sharing its cursor over the holes.
struct FillNode<'a> {
    template: &'a TemplatePlan,
    holes: &'a [Value],
    next: &'a Cell<usize>,
}

impl Serialize for Fill<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.next.set(0);
        FillNode {
            template: self.template,
            holes: self.holes,
            next: &self.next,
        }
        .serialize(serializer)
    }
}

impl Serialize for FillNode<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nested = |template| FillNode {
            template,
            holes: self.holes,
            next: self.next,
        };
        match self.template {
            TemplatePlan::Value(value) => value.serialize(serializer),
            TemplatePlan::Hole(_) | TemplatePlan::Moved => {
                take(self.holes, self.next).serialize(serializer)
            }
            TemplatePlan::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&nested(item))?;
                }
                seq.end()
            }
            TemplatePlan::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, item) in entries.iter() {
                    map.serialize_entry(&**key, &nested(item))?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Engine;

    const RULES: &str = r#"
- id: R
  priority: 1
  severity: low
  description: params with holes at every depth, keys out of order
  condition: "event.type == 'a'"
  action:
    - flagWatchlist: { reason: "constant" }
    - emitEvent: { zeta: "{{event.n}}", alpha: ["x", "{{event.s}} y", { k: "{{event.o}}", b: 2 }], mid: 1 }
    - notifyRole: { role: "{{event.s}}" }
  audit: false
"#;

    #[test]
    fn serializing_and_reading_agree() {
        let engine = Engine::builder().load_str("rules.yaml", RULES).unwrap();
        let input = json!({"event": {"type": "a", "n": 7, "s": "hi", "o": {"deep": [1, null]}}});
        let decision = engine.evaluate(&input);
        let expected = json!([
            {"name": "flagWatchlist", "params": {"reason": "constant"}},
            {"name": "emitEvent", "params": {
                "zeta": 7,
                "alpha": ["x", "hi y", {"k": {"deep": [1, null]}, "b": 2}],
                "mid": 1
            }},
            {"name": "notifyRole", "params": {"role": "hi"}}
        ]);
        // Serialized straight from the templates and holes...
        let streamed = serde_json::to_value(&decision.matched[0]).unwrap();
        assert_eq!(streamed["actions"], expected);
        // ...and built on first read, then serialized from the built values.
        let read: Vec<_> = decision.matched[0]
            .actions()
            .map(|a| json!({"name": a.name, "params": a.params}))
            .collect();
        assert_eq!(json!(read), expected);
        assert_eq!(
            serde_json::to_value(&decision.matched[0]).unwrap(),
            streamed
        );
        let copy: crate::RuleMatch = serde_json::from_value(streamed).unwrap();
        assert_eq!(&copy, &decision.matched[0]);
    }
}
