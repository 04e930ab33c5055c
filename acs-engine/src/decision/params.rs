//! [`Params`]: a rendered action's parameters. Rendering only evaluates the template's
//! holes; the parameter object is assembled when it is serialized or first read, so a
//! match costs a few values, not a freshly built JSON tree.

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use smallvec::SmallVec;

use crate::plan::TemplatePlan;

/// The rendered parameters of an action: reads as a [`Value`] (it derefs to one) and
/// serializes as that value.
#[derive(Clone)]
pub struct Params(Repr);

#[derive(Clone)]
enum Repr {
    /// Parameters without templates, shared with the plan.
    Shared(Arc<Value>),
    /// A template and the values of its holes, in template order.
    Filled {
        template: Arc<TemplatePlan>,
        holes: Holes,
        built: OnceLock<Value>,
    },
}

/// The values of a template's `{{...}}` holes.
pub(crate) type Holes = SmallVec<[Value; 2]>;

impl Params {
    pub(crate) fn shared(value: Arc<Value>) -> Self {
        Params(Repr::Shared(value))
    }

    pub(crate) fn filled(template: Arc<TemplatePlan>, holes: Holes) -> Self {
        Params(Repr::Filled {
            template,
            holes,
            built: OnceLock::new(),
        })
    }

    /// The parameters as an owned JSON value.
    pub fn to_value(&self) -> Value {
        (**self).clone()
    }
}

impl Deref for Params {
    type Target = Value;

    fn deref(&self) -> &Value {
        match &self.0 {
            Repr::Shared(value) => value,
            Repr::Filled {
                template,
                holes,
                built,
            } => built.get_or_init(|| build(template, holes, &Cell::new(0))),
        }
    }
}

impl From<Value> for Params {
    fn from(value: Value) -> Self {
        Params::shared(Arc::new(value))
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for Params {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Shared(value) => value.serialize(serializer),
            Repr::Filled { built, .. } if built.get().is_some() => (**self).serialize(serializer),
            Repr::Filled {
                template, holes, ..
            } => Fill {
                template,
                holes,
                next: &Cell::new(0),
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Params::from)
    }
}

// INVARIANT: holes are consumed in the order the renderer produced them, which is the
// template's pre-order with object entries sorted by key (the order `serde_json::Map`
// keeps), so building and serializing agree.

fn build(template: &TemplatePlan, holes: &[Value], next: &Cell<usize>) -> Value {
    match template {
        TemplatePlan::Value(value) => (**value).clone(),
        TemplatePlan::Expr(_) | TemplatePlan::Text(..) => take(holes, next).clone(),
        TemplatePlan::Array(items) => {
            Value::Array(items.iter().map(|t| build(t, holes, next)).collect())
        }
        TemplatePlan::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, t)| (String::from(&**key), build(t, holes, next)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

fn take<'a>(holes: &'a [Value], next: &Cell<usize>) -> &'a Value {
    let index = next.get();
    next.set(index + 1);
    holes.get(index).unwrap_or(&Value::Null)
}

struct Fill<'a> {
    template: &'a TemplatePlan,
    holes: &'a [Value],
    next: &'a Cell<usize>,
}

impl Serialize for Fill<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nested = |template| Fill {
            template,
            holes: self.holes,
            next: self.next,
        };
        match self.template {
            TemplatePlan::Value(value) => value.serialize(serializer),
            TemplatePlan::Expr(_) | TemplatePlan::Text(..) => {
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
    - emitEvent: { zeta: "{{event.n}}", alpha: ["x", "{{event.s}} y", { k: "{{event.o}}", b: 2 }], mid: 1 }
  audit: false
"#;

    #[test]
    fn serializing_and_reading_agree() {
        let engine = Engine::builder().load_str("rules.yaml", RULES).unwrap();
        let input = json!({"event": {"type": "a", "n": 7, "s": "hi", "o": {"deep": [1, null]}}});
        let decision = engine.evaluate(&input);
        let params = &decision.matched[0].actions[0].params;
        let expected = json!({
            "zeta": 7,
            "alpha": ["x", "hi y", {"k": {"deep": [1, null]}, "b": 2}],
            "mid": 1
        });
        // Serialized straight from the template and holes...
        let streamed = serde_json::to_string(params).unwrap();
        assert_eq!(streamed, serde_json::to_string(&expected).unwrap());
        // ...and built on first read, then serialized from the built value.
        assert_eq!(**params, expected);
        assert_eq!(serde_json::to_string(params).unwrap(), streamed);
        let copy: super::Params = serde_json::from_str(&streamed).unwrap();
        assert_eq!(&copy, params);
    }
}
