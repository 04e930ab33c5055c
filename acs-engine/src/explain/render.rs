//! Rendering an explanation as text: a summary line, then each rule's header and its
//! condition as a tree with a column of values.

use std::fmt;

use crate::ruleset::RuleSeverity;

use super::{ExplainedNode, Explanation, NodeOutcome, RuleExplanation, RuleOutcome};

/// Longest sub-expression text shown on one line of the rendering.
const MAX_TEXT_CHARS: usize = 72;
/// Longest value shown.
const MAX_VALUE_CHARS: usize = 48;
/// Longest error message shown.
const MAX_ERROR_CHARS: usize = 100;

impl Explanation {
    /// The first line of the rendering: how many rules the event's type selects.
    pub fn summary(&self) -> String {
        let count = self.rules.len();
        let plural = if count == 1 { "" } else { "s" };
        match &self.event_type {
            Some(event_type) => {
                format!("{count} candidate rule{plural} for event type `{event_type}`")
            }
            None => {
                format!("{count} candidate rule{plural} (the input has no string `event.type`)")
            }
        }
    }
}

impl fmt::Display for Explanation {
    /// The [summary](Explanation::summary), then each rule as [`RuleExplanation`] renders
    /// it, a blank line before each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        for rule in &self.rules {
            writeln!(f)?;
            write!(f, "{rule}")?;
        }
        Ok(())
    }
}

impl RuleExplanation {
    /// The first line of the rendering: id, priority, severity and outcome.
    pub fn header(&self) -> String {
        let outcome = match self.outcome {
            RuleOutcome::Matched => "MATCHED",
            RuleOutcome::NotMatched => "not matched",
            RuleOutcome::Error => "ERROR",
            RuleOutcome::Disabled => "disabled",
        };
        let shadow = if self.shadow { " (shadow)" } else { "" };
        format!(
            "{}  priority {}  {}  {outcome}{shadow}",
            self.id,
            self.priority,
            severity_name(self.severity)
        )
    }
}

impl fmt::Display for RuleExplanation {
    /// The header, the condition's location, then the condition as a tree with each
    /// node's value in a column: long texts and values are shortened, nodes never reached
    /// say `(not evaluated)`, failed ones `error: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.header())?;
        if let Some(location) = &self.location {
            writeln!(f, "  {location}")?;
        }
        let mut rows = Vec::new();
        tree_rows(&self.condition, "", "", &mut rows);
        let width = rows
            .iter()
            .map(|(left, _)| left.chars().count())
            .max()
            .unwrap_or(0);
        for (left, value) in rows {
            let pad = width - left.chars().count();
            writeln!(f, "  {left}{:pad$}  {value}", "")?;
        }
        Ok(())
    }
}

/// One `(tree and text, value)` row per node, depth first.
fn tree_rows(node: &ExplainedNode, lead: &str, rest: &str, rows: &mut Vec<(String, String)>) {
    let text = shorten(&collapse_whitespace(&node.text), MAX_TEXT_CHARS);
    rows.push((format!("{lead}{text}"), value_text(&node.outcome)));
    let count = node.children.len();
    for (i, child) in node.children.iter().enumerate() {
        let last = i + 1 == count;
        let (branch, under) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        tree_rows(
            child,
            &format!("{rest}{branch}"),
            &format!("{rest}{under}"),
            rows,
        );
    }
}

fn value_text(outcome: &NodeOutcome) -> String {
    match outcome {
        NodeOutcome::Value { value, missing } => {
            let text = shorten(&value.to_string(), MAX_VALUE_CHARS);
            if *missing {
                format!("{text} (missing)")
            } else {
                text
            }
        }
        NodeOutcome::NotEvaluated => "(not evaluated)".to_owned(),
        NodeOutcome::Error { message } => {
            format!("error: {}", shorten(message, MAX_ERROR_CHARS))
        }
    }
}

/// A condition written over several YAML lines reads as one line.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

fn severity_name(severity: RuleSeverity) -> &'static str {
    match severity {
        RuleSeverity::Low => "low",
        RuleSeverity::Medium => "medium",
        RuleSeverity::High => "high",
        RuleSeverity::Critical => "critical",
    }
}
