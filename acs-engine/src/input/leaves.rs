//! An input given as the values at a plan's read paths ([`crate::Plan::input_reads`]),
//! for a host whose inputs are not JSON nor `Value`s (Arrow struct columns): the host
//! reads those few paths where its data lies and hands the values over flat, in the
//! order of a [`LeafLayout`]. No JSON text is written, parsed or built into a `Value`
//! for a scalar: the evaluator reads the leaves in place (`eval/doc/leaves.rs`), and the
//! decision is the one the whole input would get, since the plan reads nothing else.

use std::ops::Range;

use serde_json::Number;

/// The value a host found at one read path.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Leaf<'a> {
    /// Nothing there: the field is missing (or `undefined`), or what is on the way to it
    /// is not an object.
    Absent,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A double, read as its JSON text (what `JSON.stringify` writes) reads: whole
    /// numbers below 10^21 in magnitude are integers (−0 is 0), others floats. NaN and
    /// the infinities are refused ([`crate::InputError::NotJson`]).
    Number(f64),
    /// An exact integer (a 64-bit column, a Python `int`).
    Integer(i64),
    /// A float, kept a float (`3.0` stays `3.0` where a record or a host call shows
    /// it). NaN and the infinities are refused ([`crate::InputError::NotJson`]).
    Float(f64),
    /// A string.
    Str(&'a str),
    /// Any value as JSON text: an object or an array, or a number in a form of its own.
    Json(&'a str),
    /// Any value the host has built already (a container it converted).
    Value(serde_json::Value),
}

/// The read paths of one event type in one plan, as a tree: what [`crate::Engine::
/// evaluate_leaves`] places a host's leaves into. Made once per plan and event type
/// ([`crate::Plan::leaf_layout`]) and kept by the host for as long as that plan serves.
#[derive(Debug, Clone)]
pub struct LeafLayout {
    pub(crate) generation: u64,
    paths: Vec<Vec<String>>,
    /// Node 0 is the document; an object's children are contiguous.
    pub(crate) nodes: Vec<LayoutNode>,
}

#[derive(Debug, Clone)]
pub(crate) struct LayoutNode {
    pub key: Box<str>,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    /// An object on the way to a path: its children's node numbers.
    Object(Range<u32>),
    /// The end of path number `.0`.
    Leaf(u32),
}

impl LeafLayout {
    /// The layout of `paths` (as [`crate::Plan::input_reads`] gives them: no path below
    /// another) for the plan of `generation`.
    pub(crate) fn new(generation: u64, paths: Vec<Vec<String>>) -> LeafLayout {
        // A trie in path order, then laid out breadth-first so that each object's
        // children sit together.
        #[derive(Default)]
        struct Trie {
            children: Vec<(String, Trie)>,
            leaf: Option<u32>,
        }
        let mut root = Trie::default();
        for (index, path) in paths.iter().enumerate() {
            let mut node = &mut root;
            for key in path {
                if !node.children.iter().any(|(k, _)| k == key) {
                    node.children.push((key.clone(), Trie::default()));
                }
                let Some((_, next)) = node.children.iter_mut().find(|(k, _)| k == key) else {
                    break;
                };
                node = next;
            }
            node.leaf = u32::try_from(index).ok();
        }
        let mut nodes = vec![LayoutNode {
            key: "".into(),
            kind: NodeKind::Object(0..0),
        }];
        let mut queue = std::collections::VecDeque::from([(0usize, root)]);
        while let Some((at, trie)) = queue.pop_front() {
            let first = nodes.len();
            for (key, child) in trie.children {
                let kind = match child.leaf {
                    Some(index) if child.children.is_empty() => NodeKind::Leaf(index),
                    _ => NodeKind::Object(0..0),
                };
                queue.push_back((nodes.len(), child));
                nodes.push(LayoutNode {
                    key: key.into(),
                    kind,
                });
            }
            let end = as_u32(nodes.len());
            if let Some(node) = nodes.get_mut(at) {
                if let NodeKind::Object(children) = &mut node.kind {
                    *children = as_u32(first)..end;
                }
            }
        }
        LeafLayout {
            generation,
            paths,
            nodes,
        }
    }

    /// The paths, in the order a host hands over their leaves.
    pub fn paths(&self) -> &[Vec<String>] {
        &self.paths
    }

    /// The generation of the plan this layout is of.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

fn as_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The number the shortest JSON text of `n` reads as: `JSON.stringify` writes a whole
/// number below 10^21 in magnitude with every digit and no exponent (−0 as `0`), which a
/// JSON parser reads as an integer when 64 bits hold it; `None` for NaN and the
/// infinities, which JSON cannot write.
pub(crate) fn json_number(n: f64) -> Option<Number> {
    const I64_MIN: f64 = -9_223_372_036_854_775_808.0;
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    if n.fract() == 0.0 && n.abs() < 1e21 {
        // INVARIANT: whole and inside each cast's range, so the casts are exact.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked whole and in range"
        )]
        if (I64_MIN..I64_END).contains(&n) {
            return Some(Number::from(n as i64));
        } else if (0.0..U64_END).contains(&n) {
            return Some(Number::from(n as u64));
        }
    }
    Number::from_f64(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<Vec<String>> {
        list.iter()
            .map(|p| p.split('.').map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn each_object_holds_its_children_together_and_each_path_ends_in_its_leaf() {
        let layout = LeafLayout::new(
            7,
            paths(&[
                "ctx.userId",
                "event.bid.amount",
                "event.bid.id",
                "event.type",
                "system.x",
            ]),
        );
        let children = |n: usize| match &layout.nodes[n].kind {
            NodeKind::Object(range) => range
                .clone()
                .map(|c| layout.nodes[c as usize].key.to_string())
                .collect::<Vec<_>>(),
            NodeKind::Leaf(_) => panic!("a leaf"),
        };
        assert_eq!(children(0), ["ctx", "event", "system"]);
        let find = |name: &str| layout.nodes.iter().position(|n| &*n.key == name).unwrap();
        assert_eq!(children(find("event")), ["bid", "type"]);
        assert_eq!(children(find("bid")), ["amount", "id"]);
        assert!(matches!(layout.nodes[find("id")].kind, NodeKind::Leaf(2)));
        assert!(matches!(layout.nodes[find("type")].kind, NodeKind::Leaf(3)));
        assert_eq!(layout.generation(), 7);
        assert_eq!(layout.paths().len(), 5);
    }

    #[test]
    fn numbers_read_as_their_json_text_reads() {
        // What a JSON parser makes of the text JavaScript writes for each double.
        for n in [
            3.0,
            -0.0,
            0.5,
            -7.25,
            1e20,
            1e21,
            -1e21,
            2f64.powi(53),
            2f64.powi(63),
            2f64.powi(64),
            -(2f64.powi(63)),
            -(2f64.powi(64)),
            1.7976931348623157e308,
            5e-324,
            12000.0,
        ] {
            let text = if n == 0.0 {
                "0".to_owned() // `JSON.stringify(-0)`
            } else if n.fract() == 0.0 && n.abs() < 1e21 {
                format!("{n:.0}")
            } else {
                format!("{n:e}")
            };
            let read: Number = serde_json::from_str(&text).unwrap();
            assert_eq!(json_number(n), Some(read), "{n} ({text})");
        }
        assert_eq!(json_number(f64::NAN), None);
        assert_eq!(json_number(f64::INFINITY), None);
    }
}
