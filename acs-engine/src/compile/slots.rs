//! Per-rule cache slots for the paths a rule reads more than once, so each is looked up
//! once per evaluation of the rule.

use rustc_hash::FxHashMap;

use crate::input::Root;
use crate::plan::{HolePlan, Node, TextPlan, NO_SLOT, PATH_SLOTS};

/// Give the paths a rule reads more than once (in its condition or its templates) a
/// cache slot, so each is looked up once per evaluation of the rule.
///
/// The paths are counted by reference and the slots decided per occurrence before any is
/// written, so no key list is copied (this ran for every path of every rule at load).
pub(super) fn assign_path_slots(condition: &mut Node, holes: &mut [HolePlan]) {
    let occurrences = paths_read(condition, holes);
    let mut counts: FxHashMap<(Root, &[Box<str>]), usize> = FxHashMap::default();
    for &path in &occurrences {
        *counts.entry(path).or_default() += 1;
    }
    let mut slots: FxHashMap<(Root, &[Box<str>]), u8> = FxHashMap::default();
    let decided: Vec<Option<u8>> = occurrences
        .iter()
        .map(|&path| {
            if counts.get(&path).copied().unwrap_or(0) < 2 {
                return None;
            }
            let next = slots.len();
            if let Some(&existing) = slots.get(&path) {
                Some(existing)
            } else if next < PATH_SLOTS {
                let id = u8::try_from(next).unwrap_or(NO_SLOT);
                slots.insert(path, id);
                Some(id)
            } else {
                None
            }
        })
        .collect();
    if decided.iter().all(Option::is_none) {
        return;
    }
    // INVARIANT: `visit_paths` (with `visit_hole_paths`) visits the same occurrences in
    // the same order as `paths_read`, so the nth decision lands on the nth occurrence.
    let mut next = decided.into_iter();
    let mut assign = |_: Root, _: &[Box<str>], slot: &mut u8| {
        if let Some(Some(id)) = next.next() {
            *slot = id;
        }
    };
    visit_paths(condition, &mut assign);
    for hole in holes.iter_mut() {
        visit_hole_paths(hole, &mut assign);
    }
}

// INVARIANT: the same paths in the same order as `visit_hole_paths_ref`.
fn visit_hole_paths(hole: &mut HolePlan, f: &mut impl FnMut(Root, &[Box<str>], &mut u8)) {
    match hole {
        HolePlan::Expr(node) => visit_paths(node, f),
        HolePlan::Text(parts, _) => {
            for part in parts.iter_mut() {
                if let TextPlan::Expr(node) = part {
                    visit_paths(node, f);
                }
            }
        }
    }
}

// INVARIANT: the same paths in the same order as `visit_paths_ref`: a change to one
// visitor's arms is made to the other (`the_two_visitors_see_the_same_paths_in_order`).
fn visit_paths(node: &mut Node, f: &mut impl FnMut(Root, &[Box<str>], &mut u8)) {
    match node {
        Node::Path { root, keys, slot }
        | Node::PathCompare {
            root, keys, slot, ..
        } => f(*root, keys, slot),
        Node::PathPair { lhs, rhs, .. } => {
            f(lhs.root, &lhs.keys, &mut lhs.slot);
            f(rhs.root, &rhs.keys, &mut rhs.slot);
        }
        Node::Const(_) => {}
        Node::Get { base, .. }
        | Node::Not(base)
        | Node::Neg(base, _)
        | Node::BoolCompare { operand: base, .. } => visit_paths(base, f),
        Node::Index { base, index } => {
            visit_paths(base, f);
            visit_paths(index, f);
        }
        Node::Binary { lhs, rhs, .. } => {
            visit_paths(lhs, f);
            visit_paths(rhs, f);
        }
        Node::Array(items)
        | Node::And(items)
        | Node::Or(items)
        | Node::Call { args: items, .. } => {
            items.iter_mut().for_each(|n| visit_paths(n, f));
        }
    }
}

/// Every path occurrence of a rule, in [`visit_paths`] order.
// INVARIANT: the condition first, then the holes in order, as `assign_path_slots` visits
// them to write the slots.
fn paths_read<'a>(condition: &'a Node, holes: &'a [HolePlan]) -> Vec<(Root, &'a [Box<str>])> {
    let mut occurrences = Vec::new();
    let mut record = |root: Root, keys: &'a [Box<str>]| occurrences.push((root, keys));
    visit_paths_ref(condition, &mut record);
    for hole in holes {
        visit_hole_paths_ref(hole, &mut record);
    }
    occurrences
}

/// [`visit_hole_paths`] for reading: the same paths in the same order.
// INVARIANT: mirrors `visit_hole_paths` arm for arm.
fn visit_hole_paths_ref<'a>(hole: &'a HolePlan, f: &mut impl FnMut(Root, &'a [Box<str>])) {
    match hole {
        HolePlan::Expr(node) => visit_paths_ref(node, f),
        HolePlan::Text(parts, _) => {
            for part in parts.iter() {
                if let TextPlan::Expr(node) = part {
                    visit_paths_ref(node, f);
                }
            }
        }
    }
}

/// [`visit_paths`] for reading: the same paths in the same order.
// INVARIANT: mirrors `visit_paths` arm for arm.
fn visit_paths_ref<'a>(node: &'a Node, f: &mut impl FnMut(Root, &'a [Box<str>])) {
    match node {
        Node::Path { root, keys, .. } | Node::PathCompare { root, keys, .. } => f(*root, keys),
        Node::PathPair { lhs, rhs, .. } => {
            f(lhs.root, &lhs.keys);
            f(rhs.root, &rhs.keys);
        }
        Node::Const(_) => {}
        Node::Get { base, .. }
        | Node::Not(base)
        | Node::Neg(base, _)
        | Node::BoolCompare { operand: base, .. } => visit_paths_ref(base, f),
        Node::Index { base, index } => {
            visit_paths_ref(base, f);
            visit_paths_ref(index, f);
        }
        Node::Binary { lhs, rhs, .. } => {
            visit_paths_ref(lhs, f);
            visit_paths_ref(rhs, f);
        }
        Node::Array(items)
        | Node::And(items)
        | Node::Or(items)
        | Node::Call { args: items, .. } => {
            items.iter().for_each(|n| visit_paths_ref(n, f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;
    use crate::functions::Functions;
    use crate::limits::Limits;
    use crate::ruleset::load_rule_set;
    use crate::source::{SourceFile, SourceMap};

    /// A rule reading paths through every kind of node that holds one: fused comparisons,
    /// path pairs, boolean comparisons, calls, indexing, arrays, negation, arithmetic,
    /// and templates (whole-value and interpolated), with repeats so slots are given.
    const RULE: &str = r#"
- id: MANY_PATHS
  priority: 1
  severity: low
  description: reads many paths
  audit: false
  condition: >-
    event.type == 'bid' && event.a > 1 && event.b.c == event.d
    && (event.e == true || !event.f) && len(event.g) > event.h[event.i]
    && -event.j < event.k * 2 && event.a in [event.l, event.m]
    && event.n.o != null && event.b.c <= event.h.p && event.a >= event.q
  action:
    - tagRequest:
        whole: "{{ event.a }}"
        text: "{{ event.r }} and {{ event.b.c }} of {{ user.s }}"
"#;

    #[test]
    fn the_two_visitors_see_the_same_paths_in_order() {
        let mut sources = SourceMap::default();
        sources.add(SourceFile::new("rules.yaml", RULE));
        let (rule_set, problems) = load_rule_set(sources);
        assert!(problems.is_empty(), "{problems:?}");
        let (mut plan, _) = compile(&rule_set, &Functions::new(), &Limits::default()).unwrap();
        let rule = plan.rules.first_mut().unwrap();
        let read: Vec<(Root, Vec<Box<str>>)> = paths_read(&rule.condition, &rule.holes)
            .into_iter()
            .map(|(root, keys)| (root, keys.to_vec()))
            .collect();
        let mut visited = Vec::new();
        let mut record = |root: Root, keys: &[Box<str>], _: &mut u8| {
            visited.push((root, keys.to_vec()));
        };
        visit_paths(&mut rule.condition, &mut record);
        for hole in rule.holes.iter_mut() {
            visit_hole_paths(hole, &mut record);
        }
        assert!(read.len() >= 20, "{read:?}");
        assert_eq!(read, visited);
    }
}
