//! The compiled plan's data: [`Plan`] (rules in priority order, indexed by the
//! `event.type` values that can match them) and the nodes of each compiled condition and
//! template hole. Built once per load by `compile`, read by every request through `eval`.

mod reads;

#[cfg(feature = "tools")]
pub(crate) use reads::each_node;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use regex::Regex;
use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::decision::RuleFacts;
use crate::diagnostic::Diagnostic;
use crate::functions::{Builtin, HostFunction};
use crate::input::Root;
use crate::metrics::PlanCounters;
use crate::source::{RulesetHash, SourceMap, Span};
use crate::syntax::BinaryOp;

/// A compiled expression.
pub(crate) enum Node {
    Const(Value),
    /// `root.k1.k2...`, read straight from the input.
    Path {
        root: Root,
        keys: Box<[Box<str>]>,
        /// A per-rule cache slot when the rule reads this path more than once.
        slot: u8,
    },
    /// `(expr).k1.k2...`
    Get {
        base: Box<Node>,
        keys: Box<[Box<str>]>,
    },
    Index {
        base: Box<Node>,
        index: Box<Node>,
    },
    Array(Box<[Node]>),
    Call {
        callee: Callee,
        args: Box<[Node]>,
        span: Span,
    },
    Not(Box<Node>),
    Neg(Box<Node>, Span),
    Binary {
        op: BinaryOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        span: Span,
    },
    /// `root.k1.k2 op constant` (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`): the commonest
    /// shape of all, evaluated in one step without recursion.
    PathCompare {
        root: Root,
        keys: Box<[Box<str>]>,
        slot: u8,
        test: PathTest,
        span: Span,
    },
    /// `a.x op b.y` (`==`, `!=`, `<`, `<=`, `>`, `>=`): two input fields compared where
    /// they lie, without building values.
    PathPair {
        op: BinaryOp,
        lhs: FieldPath,
        rhs: FieldPath,
    },
    /// `expr == true`, `expr != false`, ...: a boolean equals only a boolean, so this is
    /// `expr` being the boolean `want`, or (`equal` false) not being it.
    BoolCompare {
        operand: Box<Node>,
        want: bool,
        equal: bool,
    },
    And(Box<[Node]>),
    Or(Box<[Node]>),
}

/// What a [`Node::PathCompare`] checks, decided at compile time from its operator and
/// constant: evaluation then branches once, instead of on the operator, the constant's
/// type and the pair of types in turn. Most comparisons in rules are one of the three
/// special cases.
pub(crate) enum PathTest {
    /// `== null` (`equal`) or `!= null`; a missing field is null.
    Null { equal: bool },
    /// `== 'text'` (`equal`) or `!= 'text'`: a string equals only a string.
    Text { text: Box<str>, equal: bool },
    /// `in ['a', 'b', ...]`: only a string is among strings.
    AmongTexts(Box<[Box<str>]>),
    /// Any other `op constant`, by the operators' general rules.
    Other { op: BinaryOp, constant: Value },
}

impl PathTest {
    pub(crate) fn new(op: BinaryOp, constant: Value) -> PathTest {
        let equal = match op {
            BinaryOp::Eq => Some(true),
            BinaryOp::Ne => Some(false),
            _ => None,
        };
        match (equal, constant) {
            (Some(equal), Value::Null) => PathTest::Null { equal },
            (Some(equal), Value::String(text)) => PathTest::Text {
                text: text.into_boxed_str(),
                equal,
            },
            (None, Value::Array(items))
                if op == BinaryOp::In && items.iter().all(Value::is_string) =>
            {
                PathTest::AmongTexts(
                    items
                        .into_iter()
                        .filter_map(|item| match item {
                            Value::String(text) => Some(text.into_boxed_str()),
                            _ => None,
                        })
                        .collect(),
                )
            }
            (_, constant) => PathTest::Other { op, constant },
        }
    }
}

/// `root.k1.k2...` with its cache slot, as in [`Node::Path`].
pub(crate) struct FieldPath {
    pub root: Root,
    pub keys: Box<[Box<str>]>,
    pub slot: u8,
}

/// A path read once per rule: not cached.
pub(crate) const NO_SLOT: u8 = u8::MAX;
/// Paths a rule may cache (the ones it reads more than once).
pub(crate) const PATH_SLOTS: usize = 8;

// The evaluator marks the filled slots in one `u8` (`Evaluator::filled`), a bit per slot.
const _: () = assert!(
    PATH_SLOTS <= 8,
    "a slot's bit must fit the evaluator's u8 mask"
);
// A slot id is a `u8`, and `NO_SLOT` is none of them: the evaluator takes any slot at or
// beyond `PATH_SLOTS` for "not cached".
const _: () = assert!(
    NO_SLOT as usize >= PATH_SLOTS,
    "NO_SLOT must not be a slot id"
);

/// What a call site calls, decided at compile time.
pub(crate) enum Callee {
    Builtin(Builtin),
    /// `matches(text, 'literal')`: the regex compiled at load.
    MatchesLiteral(Regex),
    Host {
        /// Whether calls are remembered for the evaluation (the function has several
        /// call sites in the rule set).
        memoize: bool,
        /// Index for per-evaluation memoisation.
        slot: u32,
        name: Box<str>,
        function: Arc<dyn HostFunction>,
    },
    Unregistered(Box<str>),
    /// `velocity.count('name', key, 'window')`: counter and window resolved at load.
    VelocityCount {
        counter: u32,
        window: u32,
    },
    /// `rate.limitExceeded(key, 'name', limit)` with a counter of that name declared: the
    /// count in its shortest window above the limit.
    RateLimit {
        counter: u32,
    },
}

/// The velocity counters a plan records and reads (none: no `velocity:` declared).
pub(crate) struct VelocityPlan {
    pub counters: Box<[CounterPlan]>,
    /// `event.type` -> the counters that count it.
    pub by_type: FxHashMap<Box<str>, Box<[u32]>>,
    pub store: crate::velocity::SharedStore,
    /// Answers for a counter whose policy is `local` when `store` fails.
    pub local: Arc<crate::velocity::LocalStore>,
}

pub(crate) struct CounterPlan {
    pub counter: crate::velocity::Counter,
    /// The key's parts, compiled.
    pub key: Box<[Node]>,
    /// The event id, compiled.
    pub id: Option<Node>,
    /// The event's instant, compiled.
    pub time: Option<Node>,
}

/// What fills one `{{...}}` hole of an action's parameters.
pub(crate) enum HolePlan {
    /// `"{{expr}}"`: the value, with its type.
    Expr(Node),
    /// An interpolated string, and where its first `{{` expression is (for errors).
    Text(Box<[TextPlan]>, Span),
}

pub(crate) enum TextPlan {
    Literal(Box<str>),
    Expr(Node),
}

pub(crate) struct RulePlan {
    pub id: Arc<str>,
    pub enabled: bool,
    pub shadow: bool,
    pub condition: Node,
    /// Id, priority, severity, audit flag and action templates: what a match reports,
    /// shared with every [`RuleMatch`](crate::RuleMatch) of the rule.
    pub facts: Arc<RuleFacts>,
    /// What fills the holes of the rule's action templates, action after action, each
    /// action's in the order its [`ParamTemplate`](crate::decision::ParamTemplate) takes
    /// them (see `RuleFacts::actions[..].first_hole`).
    pub holes: Box<[HolePlan]>,
    /// `None`: runs on every event; `Some(types)`: only on these `event.type`s.
    pub gate: Option<Box<[Box<str>]>>,
}

/// A compiled, immutable rule set, ready to evaluate inputs.
pub struct Plan {
    /// Sorted by priority (descending), then file order.
    pub(crate) rules: Box<[RulePlan]>,
    /// `event.type` -> indices (ascending) of the rules gated on it.
    pub(crate) by_type: FxHashMap<Box<str>, Box<[u32]>>,
    /// Indices (ascending) of the rules without a gate.
    pub(crate) ungated: Box<[u32]>,
    pub(crate) ruleset_hash: RulesetHash,
    pub(crate) sources: Arc<SourceMap>,
    pub(crate) warnings: Box<[Diagnostic]>,
    /// `Limits::max_rendered_bytes`, for interpolated templates.
    pub(crate) max_rendered_bytes: usize,
    /// The condition limits the plan was loaded with, to parse its sources again alike.
    pub(crate) syntax_limits: crate::syntax::SyntaxLimits,
    /// The rule set as written, parsed again on the first explanation and kept: the
    /// plan itself holds compiled nodes only.
    pub(crate) as_written: std::sync::OnceLock<crate::ruleset::RuleSet>,
    /// Set by the engine when the plan is swapped in.
    pub(crate) generation: u64,
    pub(crate) loaded_at: SystemTime,
    /// Rule ids in plan order, for counters and lookups.
    pub(crate) ids: Box<[Arc<str>]>,
    /// The engine's kill switch, per rule (true: skip the rule).
    pub(crate) disabled: Box<[AtomicBool]>,
    pub(crate) counters: PlanCounters,
    /// Velocity counters, when the rules declare some.
    pub(crate) velocity: Option<Box<VelocityPlan>>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("rules", &self.rules.len())
            .field("event_types", &self.by_type.len())
            .field("ungated", &self.ungated.len())
            .field("ruleset_hash", &self.ruleset_hash)
            .finish()
    }
}

impl Plan {
    /// Number of rules (enabled or not).
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// `sha256:<hex>` of the rules files this plan was compiled from.
    pub fn ruleset_hash(&self) -> RulesetHash {
        self.ruleset_hash
    }

    /// Rule ids in evaluation order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.id)
    }

    /// The generation number the engine gave this plan (0 before it served).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When the plan was built.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// Whether the rule is enabled: in the file (or by the engine's override)
    /// and present. `None` when no rule has this id.
    pub fn rule_enabled(&self, id: &str) -> Option<bool> {
        let index = self.ids.iter().position(|i| &**i == id)?;
        // The flag starts as `!enabled` and the kill switch may override it either way;
        // it is what evaluation reads.
        let off = self
            .disabled
            .get(index)
            .is_none_or(|f| f.load(Ordering::Relaxed));
        Some(!off)
    }

    /// Apply the engine's kill-switch overrides (`id -> enabled`) to this plan.
    pub(crate) fn apply_overrides(&self, overrides: &HashMap<String, bool>) {
        for (index, rule) in self.rules.iter().enumerate() {
            let enabled = overrides.get(&*rule.id).copied().unwrap_or(rule.enabled);
            if let Some(flag) = self.disabled.get(index) {
                flag.store(!enabled, Ordering::Relaxed);
            }
        }
    }

    /// The `event.type` values this plan indexes, sorted.
    pub fn event_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self.by_type.keys().map(|k| &**k).collect();
        types.sort_unstable();
        types
    }

    /// The ids of the rules an event of type `event_type` is checked against, in order.
    pub fn candidate_rules(&self, event_type: Option<&str>) -> Vec<&str> {
        let gated: &[u32] = event_type
            .and_then(|t| self.by_type.get(t))
            .map_or(&[], |v| v);
        merge_sorted(gated, &self.ungated)
            .filter_map(|i| self.rules.get(i as usize).map(|r| &*r.id))
            .collect()
    }

    /// Warnings found while loading (errors stop a load and never reach a plan).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The source files behind the plan.
    pub(crate) fn sources(&self) -> &SourceMap {
        &self.sources
    }
}

/// Merge two ascending index lists into one ascending sequence, without allocating.
pub(crate) fn merge_sorted<'a>(a: &'a [u32], b: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || match (a.get(i), b.get(j)) {
        (Some(&x), Some(&y)) if x <= y => {
            i += 1;
            Some(x)
        }
        (_, Some(&y)) => {
            j += 1;
            Some(y)
        }
        (Some(&x), None) => {
            i += 1;
            Some(x)
        }
        (None, None) => None,
    })
}
