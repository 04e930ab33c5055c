//! A single condition-language expression, compiled and evaluated on its own: for tools
//! (`acs eval --explain`), the semantic test suite, and hosts that want ad-hoc checks.

use std::sync::Arc;

use serde_json::Value;

use crate::compile::compile_expression;
use crate::diagnostic::Diagnostic;
use crate::eval::evaluate_node;
use crate::functions::Functions;
use crate::plan::Node;
use crate::ruleset::{ScalarMap, SourceExpr};
use crate::source::{FileId, Location, SourceFile, SourceMap};
use crate::syntax::parse_condition;

/// A compiled expression.
pub struct Expression {
    node: Node,
    sources: Arc<SourceMap>,
    warnings: Vec<Diagnostic>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.sources.files().first().map_or("", |file| file.text());
        f.debug_tuple("Expression").field(&text).finish()
    }
}

/// An expression that failed to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ExpressionError {
    /// What went wrong.
    pub message: String,
    /// Where in the expression (file `<expression>`, line 1).
    pub location: Option<Location>,
}

impl Expression {
    /// Parse and compile `text`; diagnostics name the file `<expression>`.
    pub fn compile(text: &str, functions: &Functions) -> Result<Expression, Vec<Diagnostic>> {
        let mut sources = SourceMap::default();
        let file = sources.add(SourceFile::new("<expression>", text));
        let map = ScalarMap::build(
            FileId(file.0),
            text,
            0,
            text.len(),
            saphyr_parser::ScalarStyle::Plain,
            text,
        );
        let expr = parse_condition(text).map_err(|error| {
            let mut diagnostic =
                Diagnostic::error("ACS101", format!("invalid condition: {}", error.message))
                    .at(&sources, map.span(error.span));
            diagnostic.help = error.help;
            vec![diagnostic]
        })?;
        let source = SourceExpr {
            text: text.to_owned(),
            expr,
            map,
        };
        let (node, warnings) = compile_expression(&source, &sources, functions)?;
        Ok(Expression {
            node,
            sources: Arc::new(sources),
            warnings,
        })
    }

    /// Warnings from compilation (unregistered functions).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Evaluate against an input document.
    pub fn evaluate(&self, input: &Value) -> Result<Value, ExpressionError> {
        evaluate_node(&self.node, input).map_err(|error| ExpressionError {
            message: error.message,
            location: self.sources.location(error.span),
        })
    }
}
