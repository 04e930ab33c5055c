//! Test-file YAML -> [`TestFile`], on the rules loader's span-keeping node tree, so every
//! problem (of every test, not just the first) is reported at its file:line:col.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    read_text, ActionExpectation, Expectation, ReadPolicy, TestCase, TestFile, VerdictKind,
};
use crate::diagnostic::Diagnostic;
use crate::functions::Functions;
use crate::input::{parse_json, InputError};
use crate::limits::Limits;
use crate::ruleset::backticked_list;
use crate::ruleset::{describe_json, parse_document, suggest_name, Node, NodeKind};
use crate::source::{SourceFile, SourceMap, Span};

/// The keys of a test file.
pub const TEST_FILE_KEYS: [&str; 4] = ["rules", "functions", "input_defaults", "tests"];

/// The keys of one test.
pub const TEST_KEYS: [&str; 5] = ["name", "input", "input_file", "functions", "expect"];

/// The keys of a test's `expect`.
pub const EXPECT_KEYS: [&str; 10] = [
    "matched",
    "matched_includes",
    "not_matched",
    "verdict",
    "code",
    "rejected_by",
    "shadow_matched",
    "errors",
    "rules_evaluated",
    "actions",
];

pub(super) fn parse(
    name: &str,
    text: &str,
    base_dir: &Path,
    policy: &ReadPolicy,
) -> Result<TestFile, Vec<Diagnostic>> {
    let mut sources = SourceMap::default();
    let file = sources.add(SourceFile::new(name, text));
    let mut problems = Vec::new();
    let root = match parse_document(&sources, file, &mut problems) {
        Ok(root) => root,
        Err(error) => {
            problems.insert(0, *error);
            return Err(problems);
        }
    };
    let mut reader = Reader {
        sources: &sources,
        base_dir,
        bundle: (!policy.allow_outside).then(|| bundle_dir(base_dir)),
        problems,
        rule_refs: Vec::new(),
    };
    let (rules, tests) = match &root {
        Some(root) if !root.is_empty_scalar() => reader.file(root),
        _ => {
            let span = Span::new(file, 0, text.len().min(1));
            reader.error(
                "ACS504",
                "the test file is empty",
                span,
                Some("a test file is a mapping with a `tests:` list"),
            );
            (None, Vec::new())
        }
    };
    if !reader.problems.is_empty() {
        return Err(reader.problems);
    }
    let rule_refs = reader.rule_refs;
    Ok(TestFile {
        name: name.to_owned(),
        rules,
        tests,
        sources: Arc::new(sources),
        rule_refs,
    })
}

struct Reader<'a> {
    sources: &'a SourceMap,
    base_dir: &'a Path,
    /// The directory `rules:` and `input_file`s must lie in, resolved (`None`: anywhere;
    /// `Some(None)`: it does not exist, so nothing that exists lies in it).
    bundle: Option<Option<PathBuf>>,
    problems: Vec<Diagnostic>,
    rule_refs: Vec<(String, Span)>,
}

impl Reader<'_> {
    fn error(&mut self, code: &str, message: impl Into<String>, span: Span, help: Option<&str>) {
        let mut diagnostic = Diagnostic::error(code, message).at(self.sources, span);
        if let Some(help) = help {
            diagnostic = diagnostic.with_help(help);
        }
        self.problems.push(diagnostic);
    }

    /// The entries of a mapping whose keys are all in `known`; unknown keys are
    /// reported (with the nearest known key) and left out.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&'static str],
    ) -> Option<Vec<(&'static str, &'n Node)>> {
        let NodeKind::Map(entries) = &node.kind else {
            self.error(
                "ACS501",
                format!("{what} is a mapping, found {}", node.describe()),
                node.span,
                Some(&format!("{what} has the keys {}", backticked_list(known))),
            );
            return None;
        };
        let mut fields = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let name = key.scalar_text().unwrap_or_default();
            match known.iter().find(|k| **k == name) {
                Some(known) => fields.push((*known, value)),
                None => {
                    let help = match suggest_name(name, known) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("{what} has the keys {}", backticked_list(known)),
                    };
                    self.error(
                        "ACS502",
                        format!("unknown key `{name}` in {what}"),
                        key.span,
                        Some(&help),
                    );
                }
            }
        }
        Some(fields)
    }

    fn wrong_type(&mut self, key: &str, wanted: &str, node: &Node) {
        self.error(
            "ACS503",
            format!("`{key}` must be {wanted}, found {}", node.describe()),
            node.span,
            None,
        );
    }

    fn string(&mut self, key: &str, node: &Node) -> Option<String> {
        match (&node.kind, node.to_json()) {
            (NodeKind::Scalar { value, .. }, Value::String(_)) => Some(value.clone()),
            _ => {
                self.wrong_type(key, "a string", node);
                None
            }
        }
    }

    /// A list of rule ids, each remembered with its position for the unknown-id check.
    fn ids(&mut self, key: &str, node: &Node) -> Option<Vec<String>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(key, "a list of rule ids", node);
            return None;
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let id = self.string(key, item)?;
            self.rule_refs.push((id.clone(), item.span));
            ids.push(id);
        }
        Some(ids)
    }

    fn rule_id(&mut self, key: &str, node: &Node) -> Option<String> {
        let id = self.string(key, node)?;
        self.rule_refs.push((id.clone(), node.span));
        Some(id)
    }

    /// A stub table, checked function by function so an error points at its entry.
    fn stubs(&mut self, node: &Node) -> Option<Map<String, Value>> {
        let NodeKind::Map(entries) = &node.kind else {
            self.error(
                "ACS506",
                format!(
                    "`functions` is a mapping of function names to stubs, found {}",
                    node.describe()
                ),
                node.span,
                Some("write `functions: { name: [[[args...], result], ...] }`"),
            );
            return None;
        };
        let mut table = Map::new();
        let mut ok = true;
        for (key, value) in entries {
            let name = key.scalar_text().unwrap_or_default().to_owned();
            let one = Value::Object(Map::from_iter([(name.clone(), value.to_json())]));
            if let Err(error) = Functions::from_stubs(&one) {
                ok = false;
                self.error(
                    "ACS506",
                    error.to_string(),
                    value.span,
                    Some("each entry is `[[args...], result]`, e.g. `[[\"OP-1\"], 12]`"),
                );
                continue;
            }
            if let Value::Object(one) = one {
                table.extend(one);
            }
        }
        ok.then_some(table)
    }

    fn file(&mut self, root: &Node) -> (Option<PathBuf>, Vec<TestCase>) {
        let Some(fields) = self.fields(root, "a test file", &TEST_FILE_KEYS) else {
            return (None, Vec::new());
        };
        let mut rules = None;
        let mut functions = Map::new();
        let mut defaults = Value::Null;
        let mut tests_node = None;
        for (key, value) in &fields {
            match *key {
                "rules" => {
                    rules = self
                        .string(key, value)
                        .map(|path| normalize(&self.base_dir.join(path)))
                        .filter(|path| self.may_read(path, "rules", true, value.span));
                }
                "functions" => functions = self.stubs(value).unwrap_or_default(),
                "input_defaults" => {
                    if matches!(value.kind, NodeKind::Map(_)) {
                        defaults = value.to_json();
                    } else {
                        self.wrong_type(key, "a mapping", value);
                    }
                }
                _ => tests_node = Some(*value),
            }
        }
        let Some(tests_node) = tests_node else {
            self.error(
                "ACS504",
                "the test file has no `tests`",
                Span {
                    end: root.span.start + 1,
                    ..root.span
                },
                Some("add `tests:` with a list of tests"),
            );
            return (rules, Vec::new());
        };
        let NodeKind::Seq(items) = &tests_node.kind else {
            self.wrong_type("tests", "a list of tests", tests_node);
            return (rules, Vec::new());
        };
        if items.is_empty() {
            self.error(
                "ACS504",
                "`tests` is empty",
                tests_node.span,
                Some("a test file holds at least one test"),
            );
        }
        let tests = items
            .iter()
            .filter_map(|item| self.test(item, &functions, &defaults))
            .collect();
        (rules, tests)
    }

    fn test(
        &mut self,
        node: &Node,
        file_functions: &Map<String, Value>,
        defaults: &Value,
    ) -> Option<TestCase> {
        let before = self.problems.len();
        let fields = self.fields(node, "a test", &TEST_KEYS)?;
        let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let start = Span {
            end: node.span.start + 1,
            ..node.span
        };
        let name = match get("name") {
            Some(value) => self.string("name", value),
            None => {
                self.error(
                    "ACS504",
                    "a test is missing `name`",
                    start,
                    Some("say what the test shows: `name: a bid without KYC is rejected`"),
                );
                None
            }
        };
        let mut input = defaults.clone();
        let mut has_input = false;
        if let Some(value) = get("input_file") {
            has_input = true;
            if let Some(loaded) = self.input_file(value) {
                merge(&mut input, loaded);
            }
        }
        if let Some(value) = get("input") {
            has_input = true;
            if matches!(value.kind, NodeKind::Map(_)) {
                merge(&mut input, value.to_json());
            } else {
                self.wrong_type("input", "a mapping (the input document)", value);
            }
        }
        if !has_input {
            self.error(
                "ACS504",
                "a test is missing `input` or `input_file`",
                start,
                Some("give the input document inline (`input: { event: {...} }`) or as a JSON file (`input_file: x.json`)"),
            );
        }
        let mut functions = file_functions.clone();
        if let Some(value) = get("functions") {
            // A test's table for a function replaces the file's: the test can then make a
            // function answer nothing at all (`name: []`).
            functions.extend(self.stubs(value).unwrap_or_default());
        }
        let expect = match get("expect") {
            Some(value) => self.expect(value),
            None => {
                self.error(
                    "ACS504",
                    "a test is missing `expect`",
                    start,
                    Some("say what the decision must show, e.g. `expect: { matched: [], verdict: allowed }`"),
                );
                None
            }
        };
        if self.problems.len() > before {
            return None;
        }
        Some(TestCase {
            name: name?,
            location: self.sources.location(start)?,
            input,
            functions: Value::Object(functions),
            expect: expect?,
        })
    }

    fn input_file(&mut self, node: &Node) -> Option<Value> {
        let written = self.string("input_file", node)?;
        let path = normalize(&self.base_dir.join(&written));
        if !self.may_read(&path, "input file", false, node.span) {
            return None;
        }
        let limit = u64::try_from(Limits::default().max_input_bytes).unwrap_or(u64::MAX);
        let text = match read_text(&path, limit) {
            Ok(text) => text,
            Err(message) => {
                self.error(
                    "ACS505",
                    format!("cannot read input file `{}`: {message}", path.display()),
                    node.span,
                    Some("`input_file` is relative to the test file's directory"),
                );
                return None;
            }
        };
        match parse_json(text.as_bytes()) {
            Ok(value @ Value::Object(_)) => Some(value),
            Ok(other) => {
                let kind = describe_json(&other);
                self.error(
                    "ACS505",
                    format!(
                        "input file `{}` holds {kind}, not an object",
                        path.display()
                    ),
                    node.span,
                    None,
                );
                None
            }
            Err(InputError::Json { line, column, .. }) => {
                self.error(
                    "ACS505",
                    format!(
                        "input file `{}` is not valid JSON (line {line}, column {column})",
                        path.display(),
                    ),
                    node.span,
                    None,
                );
                None
            }
            Err(error) => {
                let what = match error {
                    InputError::DuplicateKey { .. } => " gives a key twice",
                    _ => "",
                };
                self.error(
                    "ACS505",
                    format!("input file `{}`{what}: {error}", path.display()),
                    node.span,
                    None,
                );
                None
            }
        }
    }

    /// Whether `path` (named by `what` at `span`) may be read: within the bundle unless
    /// the policy allows anywhere, and (when it exists) a regular file, or a directory if
    /// `directory_ok`. A path that does not exist is left to the read, which says so.
    fn may_read(&mut self, path: &Path, what: &str, directory_ok: bool, span: Span) -> bool {
        let Ok(real) = path.canonicalize() else {
            return true;
        };
        if let Some(bundle) = &self.bundle {
            if !bundle
                .as_ref()
                .is_some_and(|bundle| real.starts_with(bundle))
            {
                let bundle = bundle.as_ref().map_or_else(
                    || bundle_dir_name(self.base_dir),
                    |b| b.display().to_string(),
                );
                self.error(
                    "ACS508",
                    format!(
                        "{what} `{}` is outside the test file's bundle `{bundle}`",
                        real.display()
                    ),
                    span,
                    Some("a test file reads only under its bundle (its directory, or the parent of a `tests` directory); `acs test --allow-outside-reads` (`ReadPolicy::allow_outside`) lifts this"),
                );
                return false;
            }
        }
        match std::fs::metadata(&real) {
            Ok(metadata) if metadata.is_file() || (directory_ok && metadata.is_dir()) => true,
            Ok(metadata) => {
                self.error(
                    "ACS508",
                    format!(
                        "{what} `{}` is not a regular file ({})",
                        path.display(),
                        crate::limits::kind_of(&metadata)
                    ),
                    span,
                    None,
                );
                false
            }
            // Gone since it was resolved: the read reports it.
            Err(_) => true,
        }
    }

    fn expect(&mut self, node: &Node) -> Option<Expectation> {
        let before = self.problems.len();
        let fields = self.fields(node, "`expect`", &EXPECT_KEYS)?;
        if fields.is_empty() && self.problems.len() == before {
            self.error(
                "ACS504",
                "`expect` is empty",
                node.span,
                Some(&format!(
                    "state at least one of {}",
                    backticked_list(&EXPECT_KEYS)
                )),
            );
        }
        let mut expect = Expectation::default();
        for (key, value) in fields {
            match key {
                "matched" => expect.matched = self.ids(key, value),
                "matched_includes" => {
                    expect.matched_includes = self.ids(key, value).unwrap_or_default()
                }
                "not_matched" => expect.not_matched = self.ids(key, value).unwrap_or_default(),
                "shadow_matched" => expect.shadow_matched = self.ids(key, value),
                "errors" => expect.errors = self.ids(key, value).unwrap_or_default(),
                "verdict" => {
                    expect.verdict = match value.scalar_text() {
                        Some("allowed") => Some(VerdictKind::Allowed),
                        Some("rejected") => Some(VerdictKind::Rejected),
                        _ => {
                            self.error(
                                "ACS503",
                                format!(
                                    "`verdict` must be `allowed` or `rejected`, found `{}`",
                                    value.scalar_text().unwrap_or(value.describe())
                                ),
                                value.span,
                                None,
                            );
                            None
                        }
                    }
                }
                "code" => expect.code = self.string(key, value),
                "rejected_by" => expect.rejected_by = self.rule_id(key, value),
                "rules_evaluated" => {
                    expect.rules_evaluated =
                        match value.to_json().as_u64().and_then(|n| u32::try_from(n).ok()) {
                            Some(n) => Some(n),
                            None => {
                                self.wrong_type(key, "a count (0 or more)", value);
                                None
                            }
                        }
                }
                _ => expect.actions = self.actions(value),
            }
        }
        (self.problems.len() == before).then_some(expect)
    }

    /// `actions: { RULE: { actionName: { params } } }`.
    fn actions(&mut self, node: &Node) -> Vec<ActionExpectation> {
        let mut out = Vec::new();
        let NodeKind::Map(rules) = &node.kind else {
            self.wrong_type("actions", "a mapping of rule ids to actions", node);
            return out;
        };
        for (rule, actions) in rules {
            let Some(rule_id) = self.rule_id("actions", rule) else {
                continue;
            };
            let NodeKind::Map(actions) = &actions.kind else {
                self.wrong_type(
                    &format!("actions.{rule_id}"),
                    "a mapping of action names to parameters",
                    actions,
                );
                continue;
            };
            for (action, params) in actions {
                let Some(action) = self.string("action name", action) else {
                    continue;
                };
                out.push(ActionExpectation {
                    rule: rule_id.clone(),
                    action,
                    params: params.to_json(),
                });
            }
        }
        out
    }
}

/// Merge `over` into `base`: objects key by key (recursively), anything else replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// `a/b/../c` -> `a/c`, without touching the filesystem, so paths read well in messages.
/// The bundle of a test file in `dir`, resolved: `dir`, or its parent when `dir` is called
/// `tests`. `None` when it does not exist.
fn bundle_dir(dir: &Path) -> Option<PathBuf> {
    let dir = dir.canonicalize().ok()?;
    match (dir.file_name(), dir.parent()) {
        (Some(name), Some(parent)) if name == "tests" => Some(parent.to_owned()),
        _ => Some(dir),
    }
}

/// The bundle of a test file in `dir`, as written, for a message when it does not exist.
fn bundle_dir_name(dir: &Path) -> String {
    match (dir.file_name(), dir.parent()) {
        (Some(name), Some(parent)) if name == "tests" => parent.display().to_string(),
        _ => dir.display().to_string(),
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
