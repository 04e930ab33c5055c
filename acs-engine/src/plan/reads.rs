//! The places in an input document that a plan may read for one event type: the paths
//! of the candidate rules' conditions and action templates, and `event.type`. A host
//! that must copy its own objects into a document (a binding) copies these subtrees and
//! nothing else; the decision is the same, since the evaluator reads nothing more.

use super::{HolePlan, Node, Plan, TextPlan};
use crate::input::leaves::LeafLayout;
use crate::input::Root;

impl Plan {
    /// The paths (root first: `["event", "bid", "amount"]`) an input of type
    /// `event_type` may be read at, each standing for the whole value there: the rules'
    /// and the velocity counters' (key, id, instant). Sorted, and no path is below another
    /// in the list (the shorter one covers it).
    pub fn input_reads(&self, event_type: Option<&str>) -> Vec<Vec<String>> {
        let mut paths: Vec<Vec<String>> = vec![vec!["event".to_owned(), "type".to_owned()]];
        self.each_rule_expression(event_type, &mut |node| collect(node, &mut paths));
        // Velocity counters read their key, event id and instant from the input, whatever
        // the rules read: when the event is counted, and when a rule reads a count.
        if let Some(velocity) = self.velocity.as_deref() {
            for counter in velocity.counters.iter() {
                let nodes = counter.key.iter().chain(&counter.id).chain(&counter.time);
                for node in nodes {
                    collect(node, &mut paths);
                }
            }
        }
        paths.sort();
        paths.dedup();
        // Sorted, a path's prefixes come before it: keep a path only when the last one
        // kept is not a prefix of it.
        let mut minimal: Vec<Vec<String>> = Vec::with_capacity(paths.len());
        for path in paths {
            if minimal.last().is_some_and(|kept| path.starts_with(kept)) {
                continue;
            }
            minimal.push(path);
        }
        minimal
    }

    /// [`Plan::input_reads`] of `event_type` as a layout a host fills with the values at
    /// those paths, for [`crate::Engine::evaluate_leaves`].
    pub fn leaf_layout(&self, event_type: Option<&str>) -> LeafLayout {
        LeafLayout::new(self.generation, self.input_reads(event_type))
    }

    /// Every expression of the rules an input of type `event_type` runs (gated on it, and
    /// ungated): conditions and action templates' holes.
    pub(crate) fn each_rule_expression<'p>(
        &'p self,
        event_type: Option<&str>,
        visit: &mut dyn FnMut(&'p Node),
    ) {
        let gated: &[u32] = event_type
            .and_then(|t| self.by_type.get(t))
            .map_or(&[], |v| v);
        for index in super::merge_sorted(gated, &self.ungated) {
            let Some(rule) = self.rules.get(index as usize) else {
                continue;
            };
            visit(&rule.condition);
            for hole in rule.holes.iter() {
                match hole {
                    HolePlan::Expr(node) => visit(node),
                    HolePlan::Text(parts, _) => {
                        for part in parts.iter() {
                            if let TextPlan::Expr(node) = part {
                                visit(node);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `node` and every node below it, parents first.
pub(crate) fn each_node<'p>(node: &'p Node, visit: &mut dyn FnMut(&'p Node)) {
    visit(node);
    match node {
        Node::Const(_) | Node::Path { .. } | Node::PathCompare { .. } | Node::PathPair { .. } => {}
        Node::Get { base, .. } => each_node(base, visit),
        Node::Index { base, index } => {
            each_node(base, visit);
            each_node(index, visit);
        }
        Node::Array(items) | Node::And(items) | Node::Or(items) => {
            for item in items.iter() {
                each_node(item, visit);
            }
        }
        Node::Call { args, .. } => {
            for arg in args.iter() {
                each_node(arg, visit);
            }
        }
        Node::Not(inner) | Node::Neg(inner, _) => each_node(inner, visit),
        Node::Binary { lhs, rhs, .. } => {
            each_node(lhs, visit);
            each_node(rhs, visit);
        }
        Node::BoolCompare { operand, .. } => each_node(operand, visit),
    }
}

fn path(root: Root, keys: &[Box<str>]) -> Vec<String> {
    std::iter::once(root.name().to_owned())
        .chain(keys.iter().map(|k| k.to_string()))
        .collect()
}

fn collect(node: &Node, paths: &mut Vec<Vec<String>>) {
    each_node(node, &mut |node| match node {
        Node::Path { root, keys, .. } | Node::PathCompare { root, keys, .. } => {
            paths.push(path(*root, keys));
        }
        Node::PathPair { lhs, rhs, .. } => {
            paths.push(path(lhs.root, &lhs.keys));
            paths.push(path(rhs.root, &rhs.keys));
        }
        _ => {}
    });
}
