//! YAML text -> a small tree of nodes that remember their byte spans and scalar styles.
//!
//! Built iteratively from saphyr's event stream (no recursion, bounded depth); aliases are
//! refused so a small file cannot expand into a huge one.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};
use serde_json::{Number, Value};

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile, SourceMap, Span};

/// Deepest nesting of sequences and mappings accepted in a rules file.
pub const MAX_YAML_DEPTH: usize = 64;

/// A YAML node with its span in the file.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar { value: String, style: ScalarStyle },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The node's type in messages, in the words of [`describe_json`].
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { value, style } => describe_json(&scalar_to_json(value, *style)),
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The node as JSON, typing plain scalars by the YAML 1.2 core schema.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar { value, style } => scalar_to_json(value, *style),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default().to_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether the node is an empty scalar, as the root of a document holding only `---`
    /// or `''` is: rules files and test files both refuse such a document as empty.
    pub fn is_empty_scalar(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, .. } if value.is_empty())
    }
}

/// A JSON value's type as messages name it: "null", "a boolean", "a number", "a string",
/// "a list", "a mapping". The words are YAML's, as the analysts reading the messages
/// write their rules and tests in YAML (a YAML node is described the same way).
pub(crate) fn describe_json(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// YAML 1.2 core schema typing of a scalar; quoted and block scalars are always strings.
pub(crate) fn scalar_to_json(value: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(value.to_owned());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN" => {
            return Value::String(value.to_owned())
        }
        _ => {}
    }
    let looks_numeric = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if looks_numeric {
        if let Ok(i) = value.parse::<i64>() {
            return Value::Number(i.into());
        }
        // Integers up to `u64::MAX` stay exact, as they do in JSON input.
        if let Ok(u) = value.parse::<u64>() {
            return Value::Number(u.into());
        }
        if let Some(hex) = value.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Value::Number(i.into());
            }
        }
        if let Some(oct) = value.strip_prefix("0o") {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Value::Number(i.into());
            }
        }
        if let Some(n) = value.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(value.to_owned())
}

enum Open {
    Seq(Vec<Node>, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize),
}

/// Byte offsets of YAML markers (line, character column). Markers mostly arrive in text
/// order, so each is found by walking on from the previous one on the same line: a long
/// line is walked about once, not once per marker (a 400 KB rules file on one line took
/// 26 s to load when every marker walked from the start of its line).
struct Offsets<'a> {
    file: &'a SourceFile,
    line: usize,
    column: usize,
    byte: usize,
}

impl<'a> Offsets<'a> {
    fn new(file: &'a SourceFile) -> Self {
        Offsets {
            file,
            line: 0,
            column: 0,
            byte: 0,
        }
    }

    fn of(&mut self, marker: &Marker) -> usize {
        let (line, column) = (marker.line(), marker.col());
        if line != self.line || column < self.column {
            self.line = line;
            self.column = 0;
            self.byte = self.file.offset_of(line, 0);
        }
        let rest = self.file.text().get(self.byte..).unwrap_or("");
        self.byte += rest
            .char_indices()
            .nth(column - self.column)
            .map_or(rest.len(), |(i, _)| i);
        self.column = column;
        self.byte
    }
}

/// Parse one file's text into its single document's root node (`None` when empty).
///
/// A syntax error ends the parse (`Err`); duplicate keys are reported in `problems` and the
/// first occurrence is kept, so the caller can go on finding further errors.
pub(crate) fn parse_document(
    sources: &SourceMap,
    file_id: FileId,
    problems: &mut Vec<Diagnostic>,
) -> Result<Option<Node>, Box<Diagnostic>> {
    let Some(file) = sources.file(file_id) else {
        return Ok(None);
    };
    let mut offsets = Offsets::new(file);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    for event in Parser::new_from_str(file.text()) {
        let (event, span) = event.map_err(|error| {
            let at = offsets.of(error.marker());
            Box::new(
                Diagnostic::error("ACS201", format!("invalid YAML: {}", error.info()))
                    .at(sources, Span::new(file_id, at, at + 1)),
            )
        })?;
        let start = offsets.of(&span.start);
        let end = offsets.of(&span.end).max(start);
        let here = Span::new(file_id, start, end);
        let finished = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Box::new(Diagnostic::error("ACS201", "a rules file holds one YAML document")
                        .at(sources, here)
                        .with_help("remove the `---` separator, or put the rules in separate files of a directory")));
                }
                None
            }
            Event::Alias(_) => {
                return Err(Box::new(
                    Diagnostic::error("ACS201", "YAML aliases are not supported in rules files")
                        .at(sources, here)
                        .with_help("write the value out in full"),
                ));
            }
            Event::Scalar(value, style, _, _) => Some(Node {
                kind: NodeKind::Scalar {
                    value: value.into_owned(),
                    style,
                },
                span: here,
            }),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_YAML_DEPTH {
                    return Err(Box::new(
                        Diagnostic::error(
                            "ACS201",
                            format!("YAML nested more than {MAX_YAML_DEPTH} levels deep"),
                        )
                        .at(sources, here),
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(Vec::new(), start)
                } else {
                    Open::Map(Vec::new(), None, start)
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(items, from)) => Some(Node {
                    kind: NodeKind::Seq(items),
                    span: Span::new(file_id, from, end.max(from)),
                }),
                Some(Open::Map(entries, _, from)) => Some(Node {
                    kind: NodeKind::Map(entries),
                    span: Span::new(file_id, from, end.max(from)),
                }),
                None => None,
            },
            _ => None,
        };
        let Some(node) = finished else { continue };
        match stack.last_mut() {
            Some(Open::Seq(items, _)) => items.push(node),
            Some(Open::Map(entries, pending_key, _)) => match pending_key.take() {
                None => {
                    // JSON has no such keys: they once became `""`, and two of them made
                    // rendered parameters stream with a duplicate key.
                    if node.scalar_text().is_none() {
                        problems.push(
                            Diagnostic::error(
                                "ACS201",
                                "a mapping key must be a scalar, not a list or a mapping",
                            )
                            .at(sources, node.span),
                        );
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    let duplicate = key.scalar_text().and_then(|name| {
                        entries
                            .iter()
                            .find(|(k, _)| k.scalar_text() == Some(name))
                            .map(|(first, _)| (name, first.span))
                    });
                    if let Some((name, first)) = duplicate {
                        let line = sources
                            .file(first.file)
                            .map_or(0, |f| f.line_col(first.start as usize).line);
                        problems.push(
                            Diagnostic::error("ACS202", format!("duplicate key `{name}`"))
                                .at(sources, key.span)
                                .with_help(format!("the key is first set on line {line}")),
                        );
                    } else {
                        entries.push((key, node));
                    }
                }
            },
            None => root = Some(node),
        }
    }
    Ok(root)
}

/// Parse a YAML document (rule test files, case files) into JSON, typing plain scalars by
/// the YAML 1.2 core schema. Errors name `name`, the line and the column.
pub fn yaml_to_json(name: &str, text: &str) -> Result<Value, Vec<Diagnostic>> {
    let mut sources = SourceMap::default();
    let file = sources.add(SourceFile::new(name, text));
    let mut problems = Vec::new();
    match parse_document(&sources, file, &mut problems) {
        Ok(root) if problems.is_empty() => Ok(root.map_or(Value::Null, |node| node.to_json())),
        Ok(_) => Err(problems),
        Err(error) => {
            problems.insert(0, *error);
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Option<Node> {
        let mut sources = SourceMap::default();
        let file = sources.add(SourceFile::new("t.yaml", text));
        let mut problems = Vec::new();
        let root = parse_document(&sources, file, &mut problems).ok().flatten();
        assert!(problems.is_empty(), "{problems:?}");
        root
    }

    #[test]
    fn json_values_and_yaml_nodes_are_described_alike() {
        let described = |text: &str| {
            let node = root(text);
            let node = node.as_ref().map_or("nothing", Node::describe);
            let json = yaml_to_json("t.yaml", text).map_or("invalid", |v| describe_json(&v));
            assert_eq!(node, json, "{text:?}");
            node
        };
        let all: Vec<&str> = ["~\n", "true\n", "1.5\n", "'1'\n", "[1]\n", "{a: 1}\n"]
            .into_iter()
            .map(described)
            .collect();
        assert_eq!(
            all,
            [
                "null",
                "a boolean",
                "a number",
                "a string",
                "a list",
                "a mapping"
            ]
        );
    }

    #[test]
    fn an_empty_scalar_is_a_document_with_nothing_in_it() {
        assert!(root("").is_none());
        assert!(root("# a comment\n").is_none());
        for empty in ["---\n", "--- # nothing\n", "''\n"] {
            assert!(
                root(empty).is_some_and(|r| r.is_empty_scalar()),
                "{empty:?}"
            );
        }
        for full in ["~\n", "x\n", "[]\n", "{}\n", "- a\n"] {
            assert!(!root(full).is_some_and(|r| r.is_empty_scalar()), "{full:?}");
        }
    }
}
