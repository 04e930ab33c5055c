//! Rules-file nodes -> [`Rule`]s, collecting every problem of every file before giving up.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use saphyr_parser::ScalarStyle;
use serde_json::Value;

use super::counters::CounterDecl;
use super::scalar_map::ScalarMap;
use super::template::{compile_template, TemplateParses};
use super::yaml::{parse_document, Node, NodeKind};
use super::{Action, Rule, RuleMode, RuleSet, RuleSeverity, SourceExpr};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, RulesetHash, SourceMap, Span};
use crate::syntax::{parse_condition_with, SyntaxLimits};

/// The keys a rule may have.
pub(crate) const RULE_KEYS: [&str; 11] = [
    "id",
    "priority",
    "severity",
    "description",
    "condition",
    "action",
    "audit",
    "enabled",
    "tags",
    "mode",
    "lint",
];

/// Every key but `enabled`, `tags` and `mode` must be written out: an analyst states the audit flag
/// and the description rather than inheriting a default.
const REQUIRED_KEYS: [&str; 7] = [
    "id",
    "priority",
    "severity",
    "description",
    "condition",
    "action",
    "audit",
];

/// Parse every file of `sources` into one rule set. The rule set holds only the rules that
/// loaded cleanly; any error diagnostic means the set must not be used.
pub fn load_rule_set(sources: SourceMap) -> (RuleSet, Vec<Diagnostic>) {
    load_rule_set_with(sources, &SyntaxLimits::default())
}

/// [`load_rule_set`] with the host's condition limits.
pub fn load_rule_set_with(sources: SourceMap, syntax: &SyntaxLimits) -> (RuleSet, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut counters: Vec<CounterDecl> = Vec::new();
    let mut ids: Vec<(String, Span)> = Vec::new();
    let mut holes = TemplateParses::new(syntax);
    for index in 0..sources.files().len() {
        let file = FileId(u32::try_from(index).unwrap_or(u32::MAX));
        match parse_document(&sources, file, &mut problems) {
            Ok(Some(root)) => {
                let mut ctx = RuleContext {
                    sources: &sources,
                    syntax,
                    holes: &mut holes,
                    problems: &mut problems,
                    rule_id: None,
                };
                let Some(list) = rules_list(&root, &mut ctx, &mut counters) else {
                    continue;
                };
                load_file(
                    list,
                    &sources,
                    syntax,
                    &mut holes,
                    &mut rules,
                    &mut ids,
                    &mut problems,
                );
            }
            // An empty file is what a reader sees mid-way through a truncate-and-write: it
            // must never load as "no rules".
            Ok(None) => problems.push(empty_file(&sources, file)),
            Err(diagnostic) => problems.push(*diagnostic),
        }
    }
    check_unique_ids(&ids, &sources, &mut problems);
    check_unique_counters(&counters, &sources, &mut problems);
    let ruleset_hash = RulesetHash::of_sources(&sources);
    let rule_set = RuleSet {
        rules,
        counters,
        sources: Arc::new(sources),
        ruleset_hash,
    };
    (rule_set, problems)
}

/// The keys of a rules file written as a mapping.
const FILE_KEYS: [&str; 2] = ["rules", "velocity"];

/// The list of rules of a file: the file itself, or the `rules` of a file written as a
/// mapping (whose `velocity` counters go to `counters`). `None` when the file's problems
/// are reported already.
fn rules_list<'n>(
    root: &'n Node,
    ctx: &mut RuleContext<'_>,
    counters: &mut Vec<CounterDecl>,
) -> Option<&'n Node> {
    let NodeKind::Map(entries) = &root.kind else {
        return Some(root);
    };
    // A mapping with neither key is most likely one rule written without its `- `: the
    // list check words that best.
    if !entries
        .iter()
        .any(|(k, _)| matches!(k.scalar_text(), Some("rules" | "velocity")))
    {
        return Some(root);
    }
    let mut list = None;
    for (key, value) in entries {
        match key.scalar_text().unwrap_or_default() {
            "rules" => list = Some(value),
            "velocity" => counters.extend(ctx.counters(value)),
            name => {
                let help = match suggest(name, &FILE_KEYS) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "a rules file is a list of rules, or a mapping with `rules` (the list) and `velocity` (counters)".to_owned(),
                };
                ctx.problems.push(
                    Diagnostic::error("ACS204", format!("unknown key `{name}`"))
                        .at(ctx.sources, key.span)
                        .with_help(help),
                );
            }
        }
    }
    // A mapping of counters only declares no rules, on purpose; `rules:` left empty is
    // reported as an empty list of rules.
    list
}

fn load_file(
    root: &Node,
    sources: &SourceMap,
    syntax: &SyntaxLimits,
    holes: &mut TemplateParses,
    rules: &mut Vec<Rule>,
    ids: &mut Vec<(String, Span)>,
    problems: &mut Vec<Diagnostic>,
) {
    let NodeKind::Seq(items) = &root.kind else {
        if root.is_empty_scalar() {
            problems.push(empty_file(sources, root.span.file));
            return;
        }
        problems.push(
            Diagnostic::error(
                "ACS203",
                format!("a rules file is a list of rules, found {}", root.describe()),
            )
            .at(sources, root.span)
            .with_help("start each rule with `- id: ...`"),
        );
        return;
    };
    for item in items {
        // Ids are collected from broken rules too, so duplicates are reported with the rest.
        if let NodeKind::Map(entries) = &item.kind {
            if let Some((_, id)) = entries.iter().find(|(k, _)| k.scalar_text() == Some("id")) {
                if let Some(text) = id.scalar_text().filter(|t| !t.trim().is_empty()) {
                    ids.push((text.to_owned(), id.span));
                }
            }
        }
        if let Some(rule) = load_rule(item, sources, syntax, holes, problems) {
            rules.push(rule);
        }
    }
}

struct Fields<'a> {
    found: FxHashMap<&'static str, &'a Node>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.found.get(key).copied()
    }
}

fn load_rule(
    item: &Node,
    sources: &SourceMap,
    syntax: &SyntaxLimits,
    holes: &mut TemplateParses,
    problems: &mut Vec<Diagnostic>,
) -> Option<Rule> {
    let NodeKind::Map(entries) = &item.kind else {
        problems.push(
            Diagnostic::error(
                "ACS203",
                format!("a rule is a mapping of keys, found {}", item.describe()),
            )
            .at(sources, item.span),
        );
        return None;
    };
    let id_text = entries
        .iter()
        .find(|(k, _)| k.scalar_text() == Some("id"))
        .and_then(|(_, v)| v.scalar_text())
        .map(str::to_owned);
    let rule_id = id_text.as_deref();
    let before = problems.len();
    let mut fields = Fields {
        found: FxHashMap::default(),
    };
    for (key, value) in entries {
        let name = key.scalar_text().unwrap_or_default();
        match RULE_KEYS.iter().find(|k| **k == name) {
            Some(known) => {
                fields.found.insert(known, value);
            }
            None => {
                let mut diagnostic = Diagnostic::error("ACS204", format!("unknown key `{name}`"))
                    .at(sources, key.span)
                    .for_rule(rule_id);
                diagnostic = match suggest(name, &RULE_KEYS) {
                    Some(near) => diagnostic.with_help(format!("did you mean `{near}`?")),
                    None => {
                        diagnostic.with_help(format!("a rule has the keys {}", list(&RULE_KEYS)))
                    }
                };
                problems.push(diagnostic);
            }
        }
    }
    for key in REQUIRED_KEYS {
        if fields.get(key).is_none() {
            problems.push(
                Diagnostic::error("ACS208", format!("rule is missing `{key}`"))
                    .at(
                        sources,
                        Span {
                            end: item.span.start + 1,
                            ..item.span
                        },
                    )
                    .for_rule(rule_id),
            );
        }
    }
    let mut ctx = RuleContext {
        sources,
        syntax,
        holes,
        problems,
        rule_id,
    };
    let id = fields.get("id").and_then(|n| ctx.id(n));
    let priority = fields
        .get("priority")
        .and_then(|n| ctx.integer(n, "priority"));
    let severity = fields.get("severity").and_then(|n| ctx.severity(n));
    let description = fields
        .get("description")
        .and_then(|n| ctx.string(n, "description"));
    let condition = fields.get("condition").and_then(|n| ctx.condition(n));
    let actions = fields.get("action").and_then(|n| ctx.actions(n));
    let audit = fields
        .get("audit")
        .map_or(Some(false), |n| ctx.boolean(n, "audit"));
    let enabled = fields
        .get("enabled")
        .map_or(Some(true), |n| ctx.boolean(n, "enabled"));
    let tags = fields.get("tags").map_or(Some(Vec::new()), |n| ctx.tags(n));
    let mode = fields
        .get("mode")
        .map_or(Some(RuleMode::Enforce), |n| ctx.mode(n));
    let lint_allow = fields
        .get("lint")
        .map_or(Some(Vec::new()), |n| ctx.lint_allow(n));
    if problems.len() > before {
        return None;
    }
    Some(Rule {
        id: id?,
        priority: priority?,
        severity: severity?,
        description: description?,
        condition: condition?,
        actions: actions?,
        audit: audit?,
        enabled: enabled?,
        tags: tags?,
        mode: mode?,
        lint_allow: lint_allow?,
        span: item.span,
        id_span: fields.get("id").map_or(item.span, |n| n.span),
    })
}

pub(super) struct RuleContext<'a> {
    pub(super) sources: &'a SourceMap,
    pub(super) syntax: &'a SyntaxLimits,
    pub(super) holes: &'a mut TemplateParses,
    pub(super) problems: &'a mut Vec<Diagnostic>,
    pub(super) rule_id: Option<&'a str>,
}

impl RuleContext<'_> {
    pub(super) fn wrong_type(&mut self, node: &Node, key: &str, wanted: &str) {
        self.problems.push(
            Diagnostic::error(
                "ACS205",
                format!("`{key}` must be {wanted}, found {}", node.describe()),
            )
            .at(self.sources, node.span)
            .for_rule(self.rule_id),
        );
    }

    pub(super) fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar { value, style }
                if !(value.is_empty() && *style == ScalarStyle::Plain) =>
            {
                Some(value.clone())
            }
            _ => {
                self.wrong_type(node, key, "a string");
                None
            }
        }
    }

    /// A rule's id. A blank one is refused at load, not left to the linter: the id names
    /// the rule in every decision, audit entry, rule test and accepted finding, so a rule
    /// without one cannot be told apart or referred to by any of them.
    fn id(&mut self, node: &Node) -> Option<String> {
        let id = self.string(node, "id")?;
        if id.trim().is_empty() {
            self.problems.push(
                Diagnostic::error("ACS211", "the rule id is empty")
                    .at(self.sources, node.span)
                    .with_help("give the rule a unique name, e.g. `RF26_SHORT_NAME`"),
            );
            return None;
        }
        Some(id)
    }

    fn integer(&mut self, node: &Node, key: &str) -> Option<i64> {
        let value = node.to_json();
        match (value.as_i64(), &node.kind) {
            (
                Some(i),
                NodeKind::Scalar {
                    style: ScalarStyle::Plain,
                    ..
                },
            ) => Some(i),
            _ => {
                self.wrong_type(node, key, "an integer");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        match (node.to_json(), &node.kind) {
            (
                Value::Bool(b),
                NodeKind::Scalar {
                    style: ScalarStyle::Plain,
                    ..
                },
            ) => Some(b),
            _ => {
                self.wrong_type(node, key, "`true` or `false`");
                None
            }
        }
    }

    fn severity(&mut self, node: &Node) -> Option<RuleSeverity> {
        let text = self.string(node, "severity")?;
        let severity = RuleSeverity::parse(&text);
        if severity.is_none() {
            let mut diagnostic = Diagnostic::error("ACS206", format!("unknown severity `{text}`"))
                .at(self.sources, node.span)
                .for_rule(self.rule_id);
            diagnostic = match suggest(&text, &RuleSeverity::NAMES) {
                Some(near) => diagnostic.with_help(format!("did you mean `{near}`?")),
                None => diagnostic
                    .with_help(format!("severity is one of {}", list(&RuleSeverity::NAMES))),
            };
            self.problems.push(diagnostic);
        }
        severity
    }

    fn mode(&mut self, node: &Node) -> Option<RuleMode> {
        let text = self.string(node, "mode")?;
        let mode = match text.as_str() {
            "enforce" => Some(RuleMode::Enforce),
            "shadow" => Some(RuleMode::Shadow),
            _ => None,
        };
        if mode.is_none() {
            self.problems.push(
                Diagnostic::error("ACS210", format!("unknown mode `{text}`"))
                    .at(self.sources, node.span)
                    .for_rule(self.rule_id)
                    .with_help(match suggest(&text, &["enforce", "shadow"]) {
                        Some(near) => format!(
                            "did you mean `{near}`? (mode is `enforce`, the default, or `shadow`)"
                        ),
                        None => "mode is `enforce` (the default) or `shadow`".to_owned(),
                    }),
            );
        }
        mode
    }

    /// `lint: { allow: [ACS440], reason: "..." }`: findings accepted for this rule. The
    /// reason is required, so an accepted finding always says why in the file itself.
    fn lint_allow(&mut self, node: &Node) -> Option<Vec<String>> {
        const KEYS: [&str; 2] = ["allow", "reason"];
        let NodeKind::Map(entries) = &node.kind else {
            self.wrong_type(
                node,
                "lint",
                "a mapping `{ allow: [CODES], reason: \"...\" }`",
            );
            return None;
        };
        let mut allow = None;
        let mut reason = None;
        for (key, value) in entries {
            match key.scalar_text().unwrap_or_default() {
                "allow" => allow = Some(value),
                "reason" => reason = Some(value),
                name => {
                    let help = match suggest(name, &KEYS) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("`lint` has the keys {}", list(&KEYS)),
                    };
                    self.problems.push(
                        Diagnostic::error("ACS204", format!("unknown key `{name}`"))
                            .at(self.sources, key.span)
                            .for_rule(self.rule_id)
                            .with_help(help),
                    );
                    return None;
                }
            }
        }
        for (key, found) in [("allow", allow), ("reason", reason)] {
            if found.is_none() {
                self.problems.push(
                    Diagnostic::error("ACS208", format!("`lint` is missing `{key}`"))
                        .at(self.sources, node.span)
                        .for_rule(self.rule_id)
                        .with_help(
                            "write `lint: { allow: [ACS440], reason: \"why it is accepted\" }`",
                        ),
                );
            }
        }
        let reason = self.string(reason?, "lint.reason")?;
        if reason.trim().is_empty() {
            self.wrong_type(node, "lint.reason", "a non-empty string");
            return None;
        }
        let allow = allow?;
        let NodeKind::Seq(items) = &allow.kind else {
            self.wrong_type(allow, "lint.allow", "a list of codes");
            return None;
        };
        items
            .iter()
            .map(|item| match item.scalar_text() {
                Some(code) if !code.is_empty() => Some(code.to_owned()),
                _ => {
                    self.wrong_type(item, "lint.allow", "a list of codes");
                    None
                }
            })
            .collect()
    }

    fn tags(&mut self, node: &Node) -> Option<Vec<String>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(node, "tags", "a list of strings");
            return None;
        };
        items
            .iter()
            .map(|item| match item.scalar_text() {
                Some(text) => Some(text.to_owned()),
                None => {
                    self.wrong_type(item, "tags", "a list of strings");
                    None
                }
            })
            .collect()
    }

    pub(super) fn condition(&mut self, node: &Node) -> Option<SourceExpr> {
        let NodeKind::Scalar { value, style } = &node.kind else {
            self.wrong_type(node, "condition", "a string");
            return None;
        };
        let file_text = self.sources.file(node.span.file).map_or("", |f| f.text());
        let map = ScalarMap::build(
            node.span.file,
            file_text,
            node.span.start as usize,
            node.span.end as usize,
            *style,
            value,
        );
        match parse_condition_with(value, self.syntax) {
            Ok(expr) => Some(SourceExpr {
                text: value.clone(),
                expr,
                map,
            }),
            Err(error) => {
                let mut diagnostic =
                    Diagnostic::error("ACS101", format!("invalid condition: {}", error.message))
                        .at(self.sources, map.span(error.span))
                        .for_rule(self.rule_id);
                if let Some(help) = error.help {
                    diagnostic = diagnostic.with_help(help);
                }
                self.problems.push(diagnostic);
                None
            }
        }
    }

    fn actions(&mut self, node: &Node) -> Option<Vec<Action>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(node, "action", "a list of `{name: {params}}` entries");
            return None;
        };
        let mut actions = Vec::new();
        let mut ok = true;
        for item in items {
            match &item.kind {
                NodeKind::Map(entries) if entries.len() == 1 => {
                    let Some((name_node, params)) = entries.first() else {
                        continue;
                    };
                    let Some(name) = name_node.scalar_text().filter(|n| !n.is_empty()) else {
                        self.wrong_type(name_node, "action name", "a string");
                        ok = false;
                        continue;
                    };
                    let params_ok = match &params.kind {
                        NodeKind::Map(_) => true,
                        NodeKind::Scalar { value, style } => {
                            value.is_empty() && *style == ScalarStyle::Plain
                        }
                        NodeKind::Seq(_) => false,
                    };
                    if !params_ok {
                        self.wrong_type(params, "action parameters", "a mapping");
                        ok = false;
                        continue;
                    }
                    let param_spans = match &params.kind {
                        NodeKind::Map(entries) => entries
                            .iter()
                            .map(|(key, _)| {
                                (key.scalar_text().unwrap_or_default().to_owned(), key.span)
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    let params = if matches!(params.kind, NodeKind::Map(_)) {
                        let before = self.problems.len();
                        let template =
                            compile_template(params, self.sources, self.holes, self.problems);
                        for d in self.problems.iter_mut().skip(before) {
                            d.rule_id = self.rule_id.map(str::to_owned);
                        }
                        template
                    } else {
                        super::Template::Value(Value::Object(serde_json::Map::new()))
                    };
                    actions.push(Action {
                        name: name.to_owned(),
                        name_span: name_node.span,
                        params,
                        param_spans,
                    });
                }
                _ => {
                    self.problems.push(
                        Diagnostic::error(
                            "ACS207",
                            "each action is a single-key mapping `{name: {params}}`",
                        )
                        .at(self.sources, item.span)
                        .for_rule(self.rule_id)
                        .with_help(
                            "write e.g. `- rejectRequest: { code: \"X\", message: \"...\" }`",
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(actions)
    }
}

fn empty_file(sources: &SourceMap, file: FileId) -> Diagnostic {
    Diagnostic::error("ACS203", "the rules file holds no rules")
        .at(sources, Span::new(file, 0, 0))
        .with_help("a rules file is a list of rules; an empty file is refused so a half-written file never removes every rule")
}

fn check_unique_counters(
    counters: &[CounterDecl],
    sources: &SourceMap,
    problems: &mut Vec<Diagnostic>,
) {
    for (i, counter) in counters.iter().enumerate() {
        let earlier = counters
            .get(..i)
            .unwrap_or_default()
            .iter()
            .find(|c| c.counter.name == counter.counter.name);
        if let Some(first) = earlier {
            let first_at = sources
                .location(first.name_span)
                .map(|l| l.to_string())
                .unwrap_or_default();
            problems.push(
                Diagnostic::error(
                    "ACS213",
                    format!("duplicate counter name `{}`", counter.counter.name),
                )
                .at(sources, counter.name_span)
                .with_help(format!("first declared at {first_at}")),
            );
        }
    }
}

fn check_unique_ids(ids: &[(String, Span)], sources: &SourceMap, problems: &mut Vec<Diagnostic>) {
    let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
    for (id, span) in ids {
        if let Some(first) = seen.get(id.as_str()) {
            let first_at = sources
                .location(*first)
                .map(|l| l.to_string())
                .unwrap_or_default();
            problems.push(
                Diagnostic::error("ACS209", format!("duplicate rule id `{id}`"))
                    .at(sources, *span)
                    .for_rule(Some(id))
                    .with_help(format!("`{id}` is first defined at {first_at}")),
            );
        } else {
            seen.insert(id, *span);
        }
    }
}

/// The closest known word to a misspelling, if any is close enough.
pub(crate) fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// `a`, `b`, `c`: names for a message.
pub(crate) fn list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
