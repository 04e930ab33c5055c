//! The commonest comparisons rewritten into plan nodes evaluated in one step.

use serde_json::Value;

use crate::plan::{FieldPath, Node, PathTest};
use crate::syntax::BinaryOp;

/// Rewrite the commonest comparisons into nodes evaluated in one step: `path op constant`
/// (and `constant ==/!= path`) into [`Node::PathCompare`], `path op path` into
/// [`Node::PathPair`], `expr ==/!= true|false` into [`Node::BoolCompare`].
pub(super) fn specialize(node: Node) -> Node {
    let Node::Binary { op, lhs, rhs, span } = node else {
        return node;
    };
    let comparison = matches!(
        op,
        BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::In
    );
    let symmetric = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
    match (*lhs, *rhs) {
        (Node::Path { root, keys, slot }, Node::Const(constant)) if comparison => {
            Node::PathCompare {
                root,
                keys,
                slot,
                test: PathTest::new(op, constant),
                span,
            }
        }
        (
            Node::Path { root, keys, slot },
            Node::Path {
                root: rroot,
                keys: rkeys,
                slot: rslot,
            },
        ) if comparison && op != BinaryOp::In => Node::PathPair {
            op,
            lhs: FieldPath { root, keys, slot },
            rhs: FieldPath {
                root: rroot,
                keys: rkeys,
                slot: rslot,
            },
        },
        (operand, Node::Const(Value::Bool(want))) if symmetric => Node::BoolCompare {
            operand: Box::new(operand),
            want,
            equal: op == BinaryOp::Eq,
        },
        // `'x' == path` is `path == 'x'`.
        (Node::Const(constant), path @ Node::Path { .. }) if symmetric => {
            specialize(Node::Binary {
                op,
                lhs: Box::new(path),
                rhs: Box::new(Node::Const(constant)),
                span,
            })
        }
        (lhs, rhs) => Node::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        },
    }
}
