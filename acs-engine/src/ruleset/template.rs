//! `{{expr}}` templates in action parameters, parsed at load time.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::scalar_map::ScalarMap;
use super::yaml::{Node, NodeKind};
use super::SourceExpr;
use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;
use crate::syntax::{
    outside_strings, parse_condition_with, Expr, LocalSpan, SyntaxError, SyntaxLimits,
};

/// An action parameter tree with its templates parsed.
#[derive(Debug, Clone)]
pub enum Template {
    /// No template inside: used as is.
    Value(Value),
    /// A string that is exactly `{{expr}}`: renders to the value itself, keeping its type.
    Expr(Box<SourceExpr>),
    /// A string with text around templates: renders to a string.
    Text(Vec<TextPart>),
    /// A list with templates somewhere inside.
    Array(Vec<Template>),
    /// A mapping with templates somewhere inside.
    Object(Vec<(String, Template)>),
}

/// A piece of an interpolated string.
#[derive(Debug, Clone)]
pub enum TextPart {
    /// Text copied as is.
    Literal(String),
    /// A value rendered into the text.
    Expr(SourceExpr),
}

impl Template {
    /// Every template expression inside, in order.
    pub fn expressions(&self) -> Vec<&SourceExpr> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a SourceExpr>) {
        match self {
            Template::Value(_) => {}
            Template::Expr(e) => out.push(e),
            Template::Text(parts) => out.extend(parts.iter().filter_map(|p| match p {
                TextPart::Expr(e) => Some(e),
                TextPart::Literal(_) => None,
            })),
            Template::Array(items) => items.iter().for_each(|t| t.collect(out)),
            Template::Object(entries) => entries.iter().for_each(|(_, t)| t.collect(out)),
        }
    }
}

/// The template bodies one load has parsed, by text. A rule set repeats the same few
/// (`{{ctx.userId}}` in rule after rule), and cloning a parsed body costs a small fraction
/// of parsing it again. A parse depends only on the text and the [`SyntaxLimits`], which
/// are the same for the whole load.
#[derive(Debug)]
pub(crate) struct TemplateParses {
    syntax: SyntaxLimits,
    parsed: FxHashMap<String, Result<Expr, SyntaxError>>,
}

impl TemplateParses {
    pub(crate) fn new(syntax: &SyntaxLimits) -> Self {
        TemplateParses {
            syntax: *syntax,
            parsed: FxHashMap::default(),
        }
    }

    fn parse(&mut self, body: &str) -> Result<Expr, SyntaxError> {
        if let Some(parsed) = self.parsed.get(body) {
            return parsed.clone();
        }
        let parsed = parse_condition_with(body, &self.syntax);
        self.parsed.insert(body.to_owned(), parsed.clone());
        parsed
    }
}

/// Parse the templates in a parameter tree; problems go to `problems`.
pub(crate) fn compile_template(
    node: &Node,
    sources: &SourceMap,
    parses: &mut TemplateParses,
    problems: &mut Vec<Diagnostic>,
) -> Template {
    match &node.kind {
        NodeKind::Scalar { value, style } => {
            if !value.contains("{{") {
                return Template::Value(node.to_json());
            }
            let text = sources.file(node.span.file).map_or("", |f| f.text());
            let map = ScalarMap::build(
                node.span.file,
                text,
                node.span.start as usize,
                node.span.end as usize,
                *style,
                value,
            );
            compile_string(value, &map, sources, parses, problems)
        }
        NodeKind::Seq(items) => {
            let items: Vec<Template> = items
                .iter()
                .map(|n| compile_template(n, sources, parses, problems))
                .collect();
            if items.iter().all(|t| matches!(t, Template::Value(_))) {
                Template::Value(node.to_json())
            } else {
                Template::Array(items)
            }
        }
        NodeKind::Map(entries) => {
            let entries: Vec<(String, Template)> = entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.scalar_text().unwrap_or_default().to_owned(),
                        compile_template(v, sources, parses, problems),
                    )
                })
                .collect();
            if entries.iter().all(|(_, t)| matches!(t, Template::Value(_))) {
                Template::Value(node.to_json())
            } else {
                Template::Object(entries)
            }
        }
    }
}

fn compile_string(
    value: &str,
    map: &ScalarMap,
    sources: &SourceMap,
    parses: &mut TemplateParses,
    problems: &mut Vec<Diagnostic>,
) -> Template {
    let mut parts = Vec::new();
    let mut rest_start = 0;
    while let Some(open) = value
        .get(rest_start..)
        .and_then(|r| r.find("{{"))
        .map(|i| i + rest_start)
    {
        if open > rest_start {
            parts.push(TextPart::Literal(
                value.get(rest_start..open).unwrap_or_default().to_owned(),
            ));
        }
        let body_start = open + 2;
        let Some(close) = find_close(value, body_start) else {
            problems.push(
                Diagnostic::error("ACS301", "unclosed `{{` in template")
                    .at(
                        sources,
                        map.span(LocalSpan {
                            start: open,
                            end: open + 2,
                        }),
                    )
                    .with_help("close the template with `}}`"),
            );
            return Template::Value(Value::String(value.to_owned()));
        };
        let body = value.get(body_start..close).unwrap_or_default();
        let body_map = map.shifted(body_start);
        match parses.parse(body) {
            Ok(expr) => parts.push(TextPart::Expr(SourceExpr {
                text: body.to_owned(),
                expr,
                map: body_map,
            })),
            Err(error) => {
                let span = if body.trim().is_empty() {
                    map.span(LocalSpan {
                        start: open,
                        end: close + 2,
                    })
                } else {
                    body_map.span(error.span)
                };
                let message = if body.trim().is_empty() {
                    "empty template `{{}}`".to_owned()
                } else {
                    format!("invalid template expression: {}", error.message)
                };
                let mut diagnostic = Diagnostic::error("ACS102", message).at(sources, span);
                if let Some(help) = error.help {
                    diagnostic = diagnostic.with_help(help);
                }
                problems.push(diagnostic);
            }
        }
        rest_start = close + 2;
    }
    if rest_start < value.len() {
        parts.push(TextPart::Literal(
            value.get(rest_start..).unwrap_or_default().to_owned(),
        ));
    }
    match parts.as_slice() {
        [TextPart::Expr(_)] => match parts.pop() {
            Some(TextPart::Expr(e)) => Template::Expr(Box::new(e)),
            _ => Template::Text(parts),
        },
        _ => Template::Text(parts),
    }
}

/// The offset of the `}}` closing a template body, skipping quoted strings in it.
fn find_close(value: &str, from: usize) -> Option<usize> {
    let body = value.get(from..)?;
    outside_strings(body)
        .find(|&(i, c)| c == '}' && body.get(i + 1..).is_some_and(|rest| rest.starts_with('}')))
        .map(|(i, _)| from + i)
}
