//! ACS423: arithmetic that can never give a value — `1/0`, `x % 0`, `true + 1`, `-'a'`.
//! Whether it fails is the evaluator's call, not the linter's: each operand is compiled
//! (so constant sub-expressions fold exactly as they will in the plan), and the operation
//! is evaluated over the operand's constant value, or else over one sample value of
//! every type the operand can have. When every outcome is an error (or the `null` a
//! missing operand gives), the expression fails whenever a value reaches it.

use serde_json::Value;

use super::{Check, RuleContext};
use crate::compile::compile_expression;
use crate::diagnostic::Diagnostic;
use crate::eval::evaluate_node;
use crate::functions::Functions;
use crate::lint::facts::{types_of, walk, Types};
use crate::plan::Node;
use crate::ruleset::SourceExpr;
use crate::source::SourceMap;
use crate::syntax::{to_source, BinaryOp, Expr, ExprKind, UnaryOp};

pub(crate) struct FailingOperations;

impl Check for FailingOperations {
    fn check(&self, cx: &RuleContext<'_>, findings: &mut Vec<Diagnostic>) {
        // Built-ins only: host calls never fold, so the host's table changes nothing here.
        let functions = Functions::new();
        for source in cx.expressions() {
            walk(&source.expr, &mut |expr| {
                let Some(error) = always_fails(source, expr, cx.sources, &functions) else {
                    return;
                };
                let written = to_source(expr);
                let message = match error.null_when_missing {
                    false => format!(
                        "`{written}` fails whenever it is evaluated: {}",
                        error.message
                    ),
                    true => format!(
                        "`{written}` fails whenever its operands are not null: {}",
                        error.message
                    ),
                };
                findings.push(cx.at(
                    Diagnostic::error("ACS423", message).with_help(
                        "at run time this is an error of the rule, listed under `errors` in the decision",
                    ),
                    source,
                    expr.span,
                ));
            });
        }
    }
}

struct Failure {
    message: String,
    null_when_missing: bool,
}

/// `Some` when the arithmetic at `expr` has no outcome but an error or `null`, and at
/// least one error.
fn always_fails(
    source: &SourceExpr,
    expr: &Expr,
    sources: &SourceMap,
    functions: &Functions,
) -> Option<Failure> {
    let span = source.span(expr.span);
    let outcomes: Vec<Result<Value, String>> = match &expr.kind {
        ExprKind::Binary(
            op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem),
            lhs,
            rhs,
        ) => {
            let (left, right) = (
                candidates(source, lhs, sources, functions),
                candidates(source, rhs, sources, functions),
            );
            left.iter()
                .flat_map(|a| right.iter().map(move |b| (a, b)))
                .map(|(a, b)| {
                    evaluate(&Node::Binary {
                        op: *op,
                        lhs: Box::new(Node::Const(a.clone())),
                        rhs: Box::new(Node::Const(b.clone())),
                        span,
                    })
                })
                .collect()
        }
        ExprKind::Unary(UnaryOp::Neg, operand) => candidates(source, operand, sources, functions)
            .into_iter()
            .map(|a| evaluate(&Node::Neg(Box::new(Node::Const(a)), span)))
            .collect(),
        _ => return None,
    };
    let mut message = None;
    let mut null_when_missing = false;
    for outcome in outcomes {
        match outcome {
            Ok(Value::Null) => null_when_missing = true,
            Ok(_) => return None,
            Err(error) => {
                message.get_or_insert(error);
            }
        }
    }
    message.map(|message| Failure {
        message,
        null_when_missing,
    })
}

fn evaluate(node: &Node) -> Result<Value, String> {
    evaluate_node(node, &Value::Null).map_err(|error| error.message)
}

/// The values an operand can take, as far as the arithmetic is concerned: its value when
/// the compiler folds it to a constant, else one sample of each type it can have.
fn candidates(
    source: &SourceExpr,
    operand: &Expr,
    sources: &SourceMap,
    functions: &Functions,
) -> Vec<Value> {
    let alone = SourceExpr {
        text: source.text.clone(),
        expr: operand.clone(),
        map: source.map.clone(),
    };
    if let Ok((Node::Const(value), _)) = compile_expression(&alone, sources, functions) {
        return vec![value];
    }
    let types = types_of(operand);
    // Numbers first: the first error is the one reported, and the one a number meets is
    // the one the analyst meant to avoid.
    let samples: [(Types, Value); 7] = [
        (Types::NULL, Value::Null),
        (Types::NUM, Value::from(1)),
        // A timestamp string takes part in arithmetic as epoch milliseconds.
        (Types::STR, Value::from("2025-01-01T00:00:00Z")),
        (Types::STR, Value::from("a")),
        (Types::BOOL, Value::Bool(true)),
        (Types::ARR, Value::Array(Vec::new())),
        (Types::OBJ, Value::Object(serde_json::Map::new())),
    ];
    samples
        .into_iter()
        .filter(|(t, _)| types.meets(*t))
        .map(|(_, v)| v)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(text: &str) -> Option<String> {
        let expr = crate::syntax::parse_condition(text).unwrap();
        let mut sources = SourceMap::default();
        let file = sources.add(crate::source::SourceFile::new("t", text));
        let source = SourceExpr {
            text: text.to_owned(),
            expr: expr.clone(),
            map: crate::ruleset::ScalarMap::build(
                file,
                text,
                0,
                text.len(),
                saphyr_parser::ScalarStyle::Plain,
                text,
            ),
        };
        let mut found = None;
        walk(&source.expr, &mut |e| {
            if found.is_none() {
                found = always_fails(&source, e, &sources, &Functions::new()).map(|f| f.message);
            }
        });
        found
    }

    #[test]
    fn constant_errors_are_the_evaluators() {
        assert_eq!(fails("1 / 0").as_deref(), Some("division by zero"));
        assert_eq!(fails("x % (2 - 2)").as_deref(), Some("division by zero"));
        assert!(fails("true + 1").is_some_and(|m| m.contains("cannot apply `+`")));
        assert!(fails("x + (a == b)").is_some());
        assert!(fails("-'a'").is_some());
    }

    #[test]
    fn operations_that_can_give_a_value_are_left_alone() {
        for text in [
            "x / 2",
            "x / y",
            "x + 'a'",
            "'a' + 'b'",
            "ts - 1",
            "-x",
            "1 / 2",
            "null + 1",
            "x % 3",
        ] {
            assert_eq!(fails(text), None, "{text}");
        }
    }
}
