//! The `velocity:` section of a rules file: counter declarations, read with the same
//! care as rules (every problem reported with its position, nothing half-loaded).
//!
//! ```yaml
//! velocity:
//!   - name: bid.modify
//!     events: [bid.modify]
//!     key: ctx.userId            # or a list: [ctx.userId, ctx.deviceId]
//!     windows: [1m, 1h]
//!     id: event.id               # optional: an event is counted once per id
//!     time: event.occurredAt     # optional: the event's instant (else `now()`)
//!     on_failure: open           # open (default), closed or local
//! rules:
//!   - id: ...
//! ```

use super::load::{list, suggest, RuleContext};
use super::yaml::{Node, NodeKind};
use super::SourceExpr;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::velocity::{Counter, FailurePolicy, Window};

/// The keys a counter declaration may have.
const COUNTER_KEYS: [&str; 7] = [
    "name",
    "events",
    "key",
    "windows",
    "id",
    "time",
    "on_failure",
];
const REQUIRED: [&str; 4] = ["name", "events", "key", "windows"];

/// A declared counter, with its key and id as expressions of the condition language and
/// the positions diagnostics point at.
#[derive(Debug, Clone)]
pub struct CounterDecl {
    /// The counter, as declared.
    pub counter: Counter,
    /// Its key's parts, each an expression (a path, usually).
    pub key: Vec<SourceExpr>,
    /// The event id's expression, when declared.
    pub id: Option<SourceExpr>,
    /// The event's instant (epoch ms or RFC 3339), when declared.
    pub time: Option<SourceExpr>,
    /// The whole declaration.
    pub span: Span,
    /// Its name.
    pub name_span: Span,
}

impl RuleContext<'_> {
    /// Every declaration of a `velocity:` list; problems go to the context.
    pub(super) fn counters(&mut self, node: &Node) -> Vec<CounterDecl> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(node, "velocity", "a list of counters");
            return Vec::new();
        };
        items.iter().filter_map(|item| self.counter(item)).collect()
    }

    fn counter(&mut self, item: &Node) -> Option<CounterDecl> {
        let NodeKind::Map(entries) = &item.kind else {
            self.wrong_type(item, "a counter", "a mapping of keys");
            return None;
        };
        let before = self.problems.len();
        let mut found: Vec<(&'static str, &Node)> = Vec::new();
        for (key, value) in entries {
            let name = key.scalar_text().unwrap_or_default();
            match COUNTER_KEYS.iter().find(|k| **k == name) {
                Some(known) => found.push((known, value)),
                None => {
                    let help = match suggest(name, &COUNTER_KEYS) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("a counter has the keys {}", list(&COUNTER_KEYS)),
                    };
                    self.problems.push(
                        Diagnostic::error("ACS204", format!("unknown key `{name}`"))
                            .at(self.sources, key.span)
                            .with_help(help),
                    );
                }
            }
        }
        let get = |key: &str| found.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        for key in REQUIRED {
            if get(key).is_none() {
                self.problems.push(
                    Diagnostic::error("ACS208", format!("counter is missing `{key}`"))
                        .at(
                            self.sources,
                            Span {
                                end: item.span.start + 1,
                                ..item.span
                            },
                        )
                        .with_help(
                            "a counter declares `name`, `events`, `key` and `windows` (docs/VELOCITY.md)",
                        ),
                );
            }
        }
        let name_node = get("name");
        let name = name_node.and_then(|n| self.string(n, "name"));
        if let (Some(name), Some(node)) = (&name, name_node) {
            if name.trim().is_empty() {
                self.invalid(node, "the counter's name is empty");
            }
        }
        let events = get("events").and_then(|n| self.strings(n, "events"));
        if let (Some(events), Some(node)) = (&events, get("events")) {
            if events.is_empty() {
                self.invalid(node, "a counter counts at least one event type");
            }
        }
        let key = get("key").and_then(|node| {
            let parts: Vec<&Node> = match &node.kind {
                NodeKind::Seq(items) if !items.is_empty() => items.iter().collect(),
                NodeKind::Seq(_) => {
                    self.invalid(node, "a counter's key has at least one part");
                    return None;
                }
                _ => vec![node],
            };
            let parsed: Vec<Option<SourceExpr>> = parts
                .into_iter()
                .map(|part| self.expression(part, "key"))
                .collect();
            parsed.into_iter().collect::<Option<Vec<_>>>()
        });
        let windows = get("windows").and_then(|node| {
            let texts = self.strings(node, "windows")?;
            let NodeKind::Seq(items) = &node.kind else {
                return None;
            };
            let mut windows = Vec::new();
            for (text, item) in texts.iter().zip(items) {
                match Window::parse(text) {
                    Some(window) => windows.push(window),
                    None => {
                        self.invalid(
                            item,
                            &format!("`{text}` is not a window: write a whole number and s, m, h or d (`30s`, `1m`, `24h`, `7d`), from 1s to 366d"),
                        );
                        return None;
                    }
                }
            }
            if windows.is_empty() {
                self.invalid(node, "a counter has at least one window");
                return None;
            }
            windows.sort_unstable();
            windows.dedup();
            Some(windows)
        });
        let id = match get("id") {
            Some(node) => self.expression(node, "id").map(Some),
            None => Some(None),
        };
        let time = match get("time") {
            Some(node) => self.expression(node, "time").map(Some),
            None => Some(None),
        };
        let on_failure = match get("on_failure") {
            None => Some(FailurePolicy::default()),
            Some(node) => {
                let text = self.string(node, "on_failure")?;
                let policy = match text.as_str() {
                    "open" => Some(FailurePolicy::Open),
                    "closed" => Some(FailurePolicy::Closed),
                    "local" => Some(FailurePolicy::Local),
                    _ => None,
                };
                if policy.is_none() {
                    self.invalid(
                        node,
                        &format!("unknown failure policy `{text}`: open, closed or local"),
                    );
                }
                policy
            }
        };
        if self.problems.len() > before {
            return None;
        }
        let key = key?;
        Some(CounterDecl {
            counter: Counter {
                name: name?,
                events: events?,
                key: key.iter().map(|k| k.text.clone()).collect(),
                windows: windows?,
                id: id.as_ref()?.as_ref().map(|e| e.text.clone()),
                time: time.as_ref()?.as_ref().map(|e| e.text.clone()),
                on_failure: on_failure?,
            },
            key,
            id: id?,
            time: time?,
            span: item.span,
            name_span: name_node.map_or(item.span, |n| n.span),
        })
    }

    fn invalid(&mut self, node: &Node, message: &str) {
        self.problems.push(
            Diagnostic::error("ACS212", message.to_owned())
                .at(self.sources, node.span)
                .with_help("see docs/VELOCITY.md for how to declare a counter"),
        );
    }

    fn strings(&mut self, node: &Node, key: &str) -> Option<Vec<String>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(node, key, "a list of strings");
            return None;
        };
        items
            .iter()
            .map(|item| match item.scalar_text() {
                Some(text) if !text.trim().is_empty() => Some(text.to_owned()),
                _ => {
                    self.wrong_type(item, key, "a list of strings");
                    None
                }
            })
            .collect()
    }

    fn expression(&mut self, node: &Node, key: &str) -> Option<SourceExpr> {
        match &node.kind {
            NodeKind::Scalar { value, .. } if !value.trim().is_empty() => self.condition(node),
            _ => {
                self.wrong_type(node, key, "a path such as `ctx.userId`");
                None
            }
        }
    }
}
