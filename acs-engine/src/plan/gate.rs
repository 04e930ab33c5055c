//! The `event.type` gate of a rule: the types named by its top-level
//! `event.type == 'x'` / `event.type in [...]` conjuncts.

use serde_json::Value;

use super::{Node, Root};
use crate::syntax::BinaryOp;

/// `None` when the condition has no gate; `Some(types)` (possibly empty: the rule can never
/// match) when it has one or more.
pub(crate) fn event_type_gate(condition: &Node) -> Option<Vec<Box<str>>> {
    let conjuncts: &[Node] = match condition {
        Node::And(items) => items,
        single => std::slice::from_ref(single),
    };
    let mut gate: Option<Vec<Box<str>>> = None;
    for conjunct in conjuncts {
        let Some(types) = gate_of(conjunct) else {
            continue;
        };
        gate = Some(match gate {
            None => types,
            Some(previous) => previous.into_iter().filter(|t| types.contains(t)).collect(),
        });
    }
    gate.map(|mut types| {
        types.sort_unstable();
        types.dedup();
        types
    })
}

fn is_event_type(root: Root, keys: &[Box<str>]) -> bool {
    root == Root::Event && keys.len() == 1 && keys.first().is_some_and(|k| &**k == "type")
}

fn gate_of(node: &Node) -> Option<Vec<Box<str>>> {
    let Node::PathCompare {
        root,
        keys,
        op,
        constant,
        ..
    } = node
    else {
        return None;
    };
    if !is_event_type(*root, keys) {
        return None;
    }
    match (op, constant) {
        (BinaryOp::Eq, Value::String(t)) => Some(vec![t.as_str().into()]),
        // Only all-string lists gate: the index is keyed by string types, and a list with
        // other values could match an event whose `type` is not a string.
        (BinaryOp::In, Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(Into::into))
            .collect(),
        _ => None,
    }
}

/// The condition without its gate conjuncts: once the index has picked a rule for an
/// event, the event's type is known to pass every gate, so checking again is waste.
pub(crate) fn without_gate(condition: Node) -> Node {
    match condition {
        Node::And(items) => {
            let mut rest: Vec<Node> = items
                .into_vec()
                .into_iter()
                .filter(|n| gate_of(n).is_none())
                .collect();
            match rest.len() {
                0 => Node::Const(Value::Bool(true)),
                1 => rest.pop().unwrap_or(Node::Const(Value::Bool(true))),
                _ => Node::And(rest.into_boxed_slice()),
            }
        }
        single if gate_of(&single).is_some() => Node::Const(Value::Bool(true)),
        other => other,
    }
}
