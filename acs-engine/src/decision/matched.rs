//! A matched rule ([`RuleMatch`]), its rendered actions ([`Action`]) and a rejection
//! ([`Rejection`]): one shared [`RuleFacts`] (plain data: what a decision says about the
//! rule) plus the hole values this input gave its templates.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::params::{build, display, Fill, Holes, ParamTemplate};
use crate::ruleset::RuleSeverity;

/// What a decision says about a rule: built once per plan and shared by every match of the
/// rule. Plain data: a decision kept after a reload keeps this alive, and nothing of the
/// plan (no compiled programs, no host functions).
#[derive(Debug)]
pub(crate) struct RuleFacts {
    pub id: Arc<str>,
    pub priority: i64,
    pub severity: RuleSeverity,
    pub audit: bool,
    pub actions: Box<[ActionFacts]>,
    /// The first `rejectRequest` action, if any.
    pub reject: Option<RejectFacts>,
}

#[derive(Debug)]
pub(crate) struct ActionFacts {
    pub name: Box<str>,
    /// The parameters, with the place of each hole marked.
    pub template: ParamTemplate,
    /// Where this action's hole values start among the match's.
    pub first_hole: usize,
    /// How many holes `template` has.
    pub hole_count: usize,
}

#[derive(Debug)]
pub(crate) struct RejectFacts {
    /// Index of the `rejectRequest` action.
    pub action: usize,
    /// `code` and `message` when the action's parameters hold no template: rendered once
    /// for every verdict. `None` when they must be read from each match.
    pub constant: Option<RejectTexts>,
}

/// The `code` and `message` of a `rejectRequest`, as verdict text.
#[derive(Debug, Clone)]
pub(crate) struct RejectTexts {
    code: Option<Box<str>>,
    message: Option<Box<str>>,
}

impl RejectTexts {
    fn of(params: &Value) -> RejectTexts {
        RejectTexts {
            code: text_param(params, "code"),
            message: text_param(params, "message"),
        }
    }
}

impl RuleFacts {
    /// Lay out the holes of `actions` one after another.
    pub(crate) fn new(
        id: Arc<str>,
        priority: i64,
        severity: RuleSeverity,
        audit: bool,
        actions: Vec<(Box<str>, ParamTemplate)>,
    ) -> RuleFacts {
        let mut first_hole = 0;
        let actions: Box<[ActionFacts]> = actions
            .into_iter()
            .map(|(name, template)| {
                let hole_count = template.hole_count();
                let action = ActionFacts {
                    name,
                    template,
                    first_hole,
                    hole_count,
                };
                first_hole += hole_count;
                action
            })
            .collect();
        let reject = actions
            .iter()
            .position(|a| &*a.name == "rejectRequest")
            .map(|index| RejectFacts {
                action: index,
                constant: actions
                    .get(index)
                    .and_then(|a| match &a.template {
                        ParamTemplate::Value(params) => Some(params),
                        _ => None,
                    })
                    .map(RejectTexts::of),
            });
        RuleFacts {
            id,
            priority,
            severity,
            audit,
            actions,
            reject,
        }
    }

    /// Facts read back from a serialized decision: the parameters as they were rendered.
    fn from_record(record: RuleMatchRecord) -> RuleFacts {
        RuleFacts::new(
            record.id.into(),
            record.priority,
            record.severity,
            record.audit,
            record
                .actions
                .into_iter()
                .map(|a| (a.name.into_boxed_str(), ParamTemplate::Value(a.params)))
                .collect(),
        )
    }
}

/// A parameter as verdict text: strings raw, other values as JSON.
fn text_param(params: &Value, key: &str) -> Option<Box<str>> {
    params.get(key).map(|v| display(v).into_boxed_str())
}

static NULL: Value = Value::Null;

/// One matched rule and its rendered actions.
#[derive(Clone)]
pub struct RuleMatch {
    rule: Arc<RuleFacts>,
    /// The values of every action's `{{...}}` holes, action after action.
    holes: Holes,
    /// Actions whose template failed to render (the error is in the decision's
    /// `errors`): their parameters read as null.
    failed: Vec<usize>,
    /// The parameters of the templated actions, assembled on first read.
    built: OnceLock<Box<[Value]>>,
}

impl RuleMatch {
    pub(crate) fn new(rule: Arc<RuleFacts>, holes: Holes, failed: Vec<usize>) -> RuleMatch {
        RuleMatch {
            rule,
            holes,
            failed,
            built: OnceLock::new(),
        }
    }

    /// Rule id.
    pub fn id(&self) -> &str {
        &self.rule.id
    }

    /// Rule priority.
    pub fn priority(&self) -> i64 {
        self.rule.priority
    }

    /// Rule severity.
    pub fn severity(&self) -> RuleSeverity {
        self.rule.severity
    }

    /// Whether the match belongs in the audit trail.
    pub fn audit(&self) -> bool {
        self.rule.audit
    }

    /// The rule's actions with their templates rendered, in the order written.
    pub fn actions(&self) -> Actions<'_> {
        Actions {
            matched: self,
            next: 0,
        }
    }

    /// The first action called `name`.
    pub fn action(&self, name: &str) -> Option<Action<'_>> {
        self.actions().find(|a| a.name == name)
    }

    fn params(&self, index: usize) -> &Value {
        let Some(action) = self.rule.actions.get(index) else {
            return &NULL;
        };
        if self.failed.contains(&index) {
            return &NULL;
        }
        match &action.template {
            ParamTemplate::Value(constant) => constant,
            _ => self
                .built
                .get_or_init(|| self.build_all())
                .get(index)
                .unwrap_or(&NULL),
        }
    }

    fn build_all(&self) -> Box<[Value]> {
        self.rule
            .actions
            .iter()
            .map(|action| match &action.template {
                ParamTemplate::Value(_) => Value::Null,
                template => build(template, self.action_holes(action)),
            })
            .collect()
    }

    fn action_holes(&self, action: &ActionFacts) -> &[Value] {
        self.holes
            .get(action.first_hole..action.first_hole + action.hole_count)
            .unwrap_or_default()
    }
}

/// The actions of a [`RuleMatch`].
pub struct Actions<'m> {
    matched: &'m RuleMatch,
    next: usize,
}

impl<'m> Iterator for Actions<'m> {
    type Item = Action<'m>;

    fn next(&mut self) -> Option<Action<'m>> {
        let action = self.matched.rule.actions.get(self.next)?;
        let params = self.matched.params(self.next);
        self.next += 1;
        Some(Action {
            name: &action.name,
            params,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.matched.rule.actions.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Actions<'_> {}

/// An action with its parameters rendered against the input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Action<'m> {
    /// The action name, e.g. `rejectRequest`.
    pub name: &'m str,
    /// The parameters (an object).
    pub params: &'m Value,
}

impl PartialEq for RuleMatch {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
            && self.priority() == other.priority()
            && self.severity() == other.severity()
            && self.audit() == other.audit()
            && self.actions().eq(other.actions())
    }
}

impl fmt::Debug for RuleMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleMatch")
            .field("id", &self.id())
            .field("priority", &self.priority())
            .field("severity", &self.severity())
            .field("audit", &self.audit())
            .field("actions", &self.actions().collect::<Vec<_>>())
            .finish()
    }
}

/// Streams the actions without assembling their parameters first.
struct StreamedActions<'m>(&'m RuleMatch);

struct StreamedAction<'m> {
    matched: &'m RuleMatch,
    index: usize,
    action: &'m ActionFacts,
}

impl Serialize for StreamedActions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let actions = &self.0.rule.actions;
        let mut seq = serializer.serialize_seq(Some(actions.len()))?;
        for (index, action) in actions.iter().enumerate() {
            seq.serialize_element(&StreamedAction {
                matched: self.0,
                index,
                action,
            })?;
        }
        seq.end()
    }
}

impl Serialize for StreamedAction<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Action", 2)?;
        out.serialize_field("name", &*self.action.name)?;
        // Constant parameters, ones already built and failed ones are values as they
        // are; the rest stream from the template and its holes.
        let template = &self.action.template;
        let ready = matches!(template, ParamTemplate::Value(_))
            || self.matched.built.get().is_some()
            || self.matched.failed.contains(&self.index);
        if ready {
            out.serialize_field("params", self.matched.params(self.index))?;
        } else {
            let holes = self.matched.action_holes(self.action);
            out.serialize_field("params", &Fill::new(template, holes))?;
        }
        out.end()
    }
}

impl Serialize for RuleMatch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("RuleMatch", 5)?;
        out.serialize_field("id", self.id())?;
        out.serialize_field("priority", &self.priority())?;
        out.serialize_field("severity", &self.severity())?;
        out.serialize_field("audit", &self.audit())?;
        out.serialize_field("actions", &StreamedActions(self))?;
        out.end()
    }
}

#[derive(Deserialize)]
#[serde(rename = "RuleMatch")]
struct RuleMatchRecord {
    id: String,
    priority: i64,
    severity: RuleSeverity,
    audit: bool,
    actions: Vec<ActionRecord>,
}

#[derive(Deserialize)]
struct ActionRecord {
    name: String,
    params: Value,
}

impl<'de> Deserialize<'de> for RuleMatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let record = RuleMatchRecord::deserialize(deserializer)?;
        Ok(RuleMatch::new(
            Arc::new(RuleFacts::from_record(record)),
            Holes::new(),
            Vec::new(),
        ))
    }
}

/// Why a request was rejected: the rule and its `rejectRequest`'s `code` and `message`.
#[derive(Clone)]
pub struct Rejection {
    rule: Arc<RuleFacts>,
    /// `code` and `message` rendered for this input, when the rule's are templates.
    rendered: Option<Box<RejectTexts>>,
}

impl Rejection {
    /// A rejection by `matched`, which has a `rejectRequest` action.
    pub(crate) fn by(matched: &RuleMatch) -> Option<Rejection> {
        let reject = matched.rule.reject.as_ref()?;
        let rendered = match &reject.constant {
            Some(_) => None,
            None => Some(Box::new(RejectTexts::of(matched.params(reject.action)))),
        };
        Some(Rejection {
            rule: Arc::clone(&matched.rule),
            rendered,
        })
    }

    /// A rejection by rule `rule_id` with these texts (for hosts and tests that build one;
    /// evaluation builds its own).
    pub fn new(rule_id: &str, code: Option<&str>, message: Option<&str>) -> Rejection {
        let rule = RuleFacts::new(rule_id.into(), 0, RuleSeverity::Low, false, Vec::new());
        Rejection {
            rule: Arc::new(rule),
            rendered: Some(Box::new(RejectTexts {
                code: code.map(Box::from),
                message: message.map(Box::from),
            })),
        }
    }

    /// The rejecting rule's id.
    pub fn rule_id(&self) -> &str {
        &self.rule.id
    }

    /// The `code` parameter, rendered.
    pub fn code(&self) -> Option<&str> {
        self.texts()?.code.as_deref()
    }

    /// The `message` parameter, rendered.
    pub fn message(&self) -> Option<&str> {
        self.texts()?.message.as_deref()
    }

    fn texts(&self) -> Option<&RejectTexts> {
        match &self.rendered {
            Some(rendered) => Some(rendered),
            None => self.rule.reject.as_ref()?.constant.as_ref(),
        }
    }
}

impl PartialEq for Rejection {
    fn eq(&self, other: &Self) -> bool {
        self.rule_id() == other.rule_id()
            && self.code() == other.code()
            && self.message() == other.message()
    }
}

impl Eq for Rejection {}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("rule_id", &self.rule_id())
            .field("code", &self.code())
            .field("message", &self.message())
            .finish()
    }
}

impl Serialize for Rejection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Rejection", 3)?;
        out.serialize_field("rule_id", self.rule_id())?;
        out.serialize_field("code", &self.code())?;
        out.serialize_field("message", &self.message())?;
        out.end()
    }
}

#[derive(Deserialize)]
#[serde(rename = "Rejection")]
struct RejectionRecord {
    rule_id: String,
    code: Option<String>,
    message: Option<String>,
}

impl<'de> Deserialize<'de> for Rejection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let record = RejectionRecord::deserialize(deserializer)?;
        Ok(Rejection::new(
            &record.rule_id,
            record.code.as_deref(),
            record.message.as_deref(),
        ))
    }
}
