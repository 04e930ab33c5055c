//! The engine handle: builds a plan off to the side and swaps it in atomically;
//! evaluation takes one `ArcSwap::load` and no lock. `load` reads the files, `status`
//! holds what reloads report.

#[cfg(feature = "audit")]
mod audit;
pub mod bundle;
mod load;
mod status;
#[cfg(feature = "watch")]
mod watch;

pub use crate::metrics::AuditStatus;
#[cfg(feature = "audit")]
pub use audit::{
    AuditConfig, AuditOptions, Fsync, FsyncConfig, Overflow, OverflowConfig, RedactConfig,
    AUDIT_DURABLE_WAIT,
};
pub use load::{
    load_plan, load_plan_with, read_sources, read_sources_with, LoadError, RulesSource,
    MAX_RULES_FILE_BYTES,
};
use status::rfc3339;
use status::WatchHealth;
pub use status::{ReloadEvent, ReloadFailure, RuleSwitch, Status, WatchStatus};
#[cfg(feature = "watch")]
pub use watch::{WatchError, WatchOptions, Watcher};

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use arc_swap::{ArcSwap, ArcSwapOption};
use serde_json::Value;

use crate::decision::Decision;
use crate::eval::{self, Evaluation};
use crate::functions::{Functions, HostFunction};
use crate::input::leaves::{Leaf, LeafLayout};
use crate::input::{self, InputError};
use crate::limits::Limits;
use crate::metrics::{MetricsSnapshot, PlanCounters, Totals};
use crate::plan::Plan;

/// A loaded rule set, ready to evaluate inputs from any number of threads.
///
/// ```
/// use acs_engine::{Engine, FunctionError};
/// use serde_json::json;
///
/// let rules = r#"
/// - id: MAX_TRUCKS
///   priority: 100
///   severity: medium
///   description: Operators may not exceed their truck limit
///   condition: "event.type == 'truck.create' && db.count.trucksByOperator(ctx.operatorId) >= 10"
///   action:
///     - rejectRequest: { code: MAX_TRUCKS, message: "limit is {{system.config.limit}}" }
///   audit: true
/// "#;
/// let engine = Engine::builder()
///     .function("db.count.trucksByOperator", |args: &[&serde_json::Value]| {
///         Ok(json!(if *args[0] == "OP-1" { 12 } else { 3 }))
///     })
///     .load_str("rules.yaml", rules)?;
///
/// let decision = engine.evaluate(&json!({
///     "event": {"type": "truck.create"},
///     "ctx": {"operatorId": "OP-1"},
///     "system": {"config": {"limit": 10}}
/// }));
/// assert!(decision.is_rejected());
/// assert_eq!(decision.matched_ids(), ["MAX_TRUCKS"]);
/// # Ok::<(), acs_engine::LoadError>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    plan: ArcSwap<Plan>,
    source: RulesSource,
    /// What the rules path was at the first load (`a file`, `a directory`): a reload
    /// never serves another kind of source from the same path.
    loaded_kind: Option<&'static str>,
    /// When set, only bundles signed with this key are served.
    bundle_key: Option<bundle::PublicKey>,
    functions: Functions,
    limits: Limits,
    last_error: ArcSwapOption<ReloadFailure>,
    reload_failures: AtomicU64,
    metrics: bool,
    /// Serialises reloads, so generations follow the order of the swaps. Held while the
    /// rules are read and compiled; nothing else waits for it.
    reloading: Mutex<()>,
    /// The kill switch, subscribers and retired plans. Held only for short, bounded work
    /// (a swap, a lookup, a copy): `status`, `metrics` and the kill switch never wait for a
    /// reload's reading or compiling. `evaluate` never takes it.
    control: Mutex<Control>,
    subscriber_failures: AtomicU64,
    /// What the watch thread reports about itself; `None` until a watch starts.
    watch_health: Mutex<Option<WatchHealth>>,
    /// The audit log's queue and writer thread, when decisions are recorded. Dropped
    /// with the last handle to the engine: the writer writes what was queued and stops.
    #[cfg(feature = "audit")]
    audit: Option<audit::AuditSink>,
}

#[derive(Default)]
struct Control {
    /// Kill switch: rule id -> enabled, surviving reloads.
    overrides: HashMap<String, bool>,
    /// Plans replaced by a reload that may still be evaluating somewhere.
    retired: Vec<Arc<Plan>>,
    /// Counters of retired plans nobody uses any more.
    retired_totals: Totals,
    subscribers: Vec<Arc<ReloadCallback>>,
}

type ReloadCallback = dyn Fn(&ReloadEvent) + Send + Sync;

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("source", &self.shared.source)
            .field("plan", &*self.shared.plan.load())
            .field("functions", &self.shared.functions)
            .finish()
    }
}

/// Configures an [`Engine`]: host functions first, then the rules.
#[derive(Debug)]
pub struct EngineBuilder {
    functions: Functions,
    metrics: bool,
    limits: Limits,
    bundle_key: Option<bundle::PublicKey>,
    #[cfg(feature = "audit")]
    audit: Option<AuditOptions>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            functions: Functions::default(),
            metrics: true,
            limits: Limits::default(),
            bundle_key: None,
            #[cfg(feature = "audit")]
            audit: None,
        }
    }
}

impl EngineBuilder {
    /// Register a host function under its dotted name.
    #[must_use]
    pub fn function(
        mut self,
        name: impl Into<String>,
        function: impl HostFunction + 'static,
    ) -> Self {
        self.functions.register(name, function);
        self
    }

    /// Add a set of host functions (later ones win on equal names).
    #[must_use]
    pub fn functions(mut self, functions: Functions) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Keep per-rule counters and the latency histogram (on by default). Off, the request
    /// path skips them entirely and [`Engine::metrics`] reports zeros.
    #[must_use]
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self
    }

    /// Set the limits on rules files, conditions, inputs and rendered templates (the
    /// defaults are documented on [`Limits`]). They apply to reloads too.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Serve only bundles signed with the private key of `key`: the rules must be a
    /// directory with an `acs-manifest.json` signed by `acs bundle sign` (see
    /// [`bundle`]). An unsigned or wrongly signed bundle is refused at load and on every
    /// reload, and the refusal is in [`Engine::status`].
    #[must_use]
    pub fn bundle_key(mut self, key: bundle::PublicKey) -> Self {
        self.bundle_key = Some(key);
        self
    }

    /// Record decisions in a tamper-evident audit log (see [`crate::audit`] and
    /// docs/AUDIT.md): by default those where an `audit: true` rule matched, shadow rules
    /// included; every decision with [`AuditOptions::record_all`]. The engine owns one
    /// writer thread fed by a bounded queue: `evaluate` and `evaluate_json` build the
    /// record (input redacted) and queue it; writing, fsync and checkpoints are the
    /// thread's. Opening the log happens at load ([`LoadError::Audit`] if it fails).
    #[cfg(feature = "audit")]
    #[must_use]
    pub fn audit(mut self, options: AuditOptions) -> Self {
        self.audit = Some(options);
        self
    }

    /// Load a rules file or a directory of rules files.
    pub fn load_path(self, path: impl Into<PathBuf>) -> Result<Engine, LoadError> {
        self.load(RulesSource::Path(path.into()))
    }

    /// Load rules from text; `name` stands for the file name in diagnostics.
    pub fn load_str(
        self,
        name: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Engine, LoadError> {
        self.load(RulesSource::Text {
            name: name.into(),
            text: text.into(),
        })
    }

    /// Keep velocity counts in `store` (shared by replicas: Redis, say) instead of this
    /// process. Every plan the engine loads, reloads included, uses it.
    #[must_use]
    pub fn velocity_store(mut self, store: crate::velocity::SharedStore) -> Self {
        self.functions = std::mem::take(&mut self.functions).velocity_store(store);
        self
    }

    /// Load rules from `source`.
    pub fn load(mut self, source: RulesSource) -> Result<Engine, LoadError> {
        // One store for the engine's life: counts survive reloads.
        let _ = self.functions.velocity_stores();
        let sources = load::read_bundle(
            &source,
            self.limits.max_rules_file_bytes,
            self.bundle_key.as_ref(),
        )?;
        let mut plan = load::plan_from_sources(sources, &self.functions, &self.limits)?;
        plan.generation = 1;
        if !self.metrics {
            plan.counters = PlanCounters::disabled();
        }
        tracing::info!(generation = 1, rules = plan.rule_count(), hash = %plan.ruleset_hash(), "acs rules loaded");
        let loaded_kind = match &source {
            RulesSource::Path(path) => std::fs::metadata(path)
                .ok()
                .map(|m| crate::limits::kind_of(&m)),
            RulesSource::Text { .. } | RulesSource::Files(_) => None,
        };
        #[cfg(feature = "audit")]
        let audit = match self.audit {
            Some(options) => {
                let sink = audit::AuditSink::start(options).map_err(LoadError::Audit)?;
                sink.ruleset(&plan);
                Some(sink)
            }
            None => None,
        };
        Ok(Engine {
            shared: Arc::new(Shared {
                plan: ArcSwap::from_pointee(plan),
                source,
                loaded_kind,
                functions: self.functions,
                limits: self.limits,
                bundle_key: self.bundle_key,
                last_error: ArcSwapOption::empty(),
                reload_failures: AtomicU64::new(0),
                metrics: self.metrics,
                reloading: Mutex::new(()),
                control: Mutex::new(Control::default()),
                subscriber_failures: AtomicU64::new(0),
                watch_health: Mutex::new(None),
                #[cfg(feature = "audit")]
                audit,
            }),
        })
    }
}

impl Engine {
    /// Start configuring an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Load a rules file or directory with no host functions.
    pub fn from_path(path: impl Into<PathBuf>) -> Result<Engine, LoadError> {
        Engine::builder().load_path(path)
    }

    /// Evaluate one input document (`{"event": ..., "ctx": ..., "system": ..., "db": ...}`).
    /// A non-object input has no fields: every path in it is null.
    pub fn evaluate(&self, input: &Value) -> Decision {
        self.evaluate_document(Cow::Borrowed(input))
    }

    /// [`Engine::evaluate`] of a document the caller gives up: the same decision, and
    /// when the engine audits, a recorded decision keeps the document itself instead of
    /// a copy (a deep copy of a `Value` costs more than most evaluations). For a host that
    /// builds a document per request anyway (a binding converting its own objects).
    pub fn evaluate_owned(&self, input: Value) -> Decision {
        self.evaluate_document(Cow::Owned(input))
    }

    /// [`Engine::evaluate`] and [`Engine::evaluate_owned`]: a recorded decision keeps an
    /// owned document and copies a borrowed one.
    #[inline(always)]
    fn evaluate_document(&self, input: Cow<'_, Value>) -> Decision {
        #[cfg(feature = "audit")]
        if let Some(sink) = &self.shared.audit {
            return audited(sink, &self.shared.plan.load(), input, true, None);
        }
        eval::evaluate(&self.shared.plan.load(), &input)
    }

    /// Decide on an input given as the values a host read at the paths of `layout` (one
    /// leaf per path, in order; missing ones absent; see [`Plan::leaf_layout`]), read in
    /// place: for a host whose inputs cost more to build into a document than to read at
    /// a few paths (the Python binding's Arrow struct columns). The decision is the one
    /// the whole input gets: the plan reads nothing else. `None` when the serving plan is
    /// no longer the layout's (a reload since): take the new plan's layout and read the
    /// input again. An engine that audits records the document these leaves make, so a
    /// host that audits hands over whole inputs instead ([`Engine::needs_whole_input`]).
    pub fn evaluate_leaves(
        &self,
        layout: &LeafLayout,
        leaves: Vec<Leaf<'_>>,
    ) -> Result<Option<Decision>, InputError> {
        let plan = self.shared.plan.load();
        if plan.generation() != layout.generation() {
            return Ok(None);
        }
        let doc = eval::LeafDoc::new(layout, leaves, &self.shared.limits)?;
        #[cfg(feature = "audit")]
        if let Some(sink) = &self.shared.audit {
            return Ok(Some(audited(
                sink,
                &plan,
                Cow::Owned(doc.to_value()),
                true,
                None,
            )));
        }
        Ok(Some(eval::evaluate_leaves(&plan, &doc)))
    }

    /// Write and sync every audit record queued so far, waiting up to `wait`: for a
    /// host (or a test) that wants the log complete now. An error when the engine does
    /// not audit, or the writer stopped (its error).
    #[cfg(feature = "audit")]
    pub fn audit_flush(&self, wait: std::time::Duration) -> Result<(), String> {
        match &self.shared.audit {
            Some(sink) => sink.flush(wait),
            None => Err("this engine does not audit".to_owned()),
        }
    }

    /// Start evaluating `input` with host calls answered by the host rather than made by
    /// the engine, for host functions that are asynchronous (see [`Evaluation`]). The
    /// evaluation keeps the plan serving now, whatever reloads come before it decides.
    /// With auditing on, its decision is recorded as `evaluate`'s is, by the poll that
    /// decides (which, under [`Fsync::EveryBatch`], waits for the record's group commit
    /// as `evaluate` does).
    pub fn evaluation(&self, input: Value) -> Evaluation {
        let evaluation = self.plan().evaluation(input);
        #[cfg(feature = "audit")]
        if self.shared.audit.is_some() {
            let engine = self.clone();
            return evaluation.audited_by(Box::new(move |plan, decision, recording, input| {
                if let Some(sink) = &engine.shared.audit {
                    sink.record(plan, decision, recording, || {
                        audit::RecordedInput::Document(input)
                    });
                }
            }));
        }
        evaluation
    }

    /// Parse JSON bytes and evaluate them. Inputs beyond `Limits::max_input_bytes` or
    /// `Limits::max_input_depth` are refused before parsing.
    pub fn evaluate_json(&self, json: &[u8]) -> Result<Decision, InputError> {
        input::check_limits(json, &self.shared.limits)?;
        #[cfg(feature = "audit")]
        if let Some(sink) = &self.shared.audit {
            return audited_json(sink, &self.shared.plan.load(), Cow::Borrowed(json), true);
        }
        eval::evaluate_json(&self.shared.plan.load(), json, true)
    }

    /// [`Engine::evaluate_json`] of bytes the caller gives up: the same decision, and
    /// when the engine audits, a recorded decision keeps the bytes themselves instead of
    /// a copy. For a host that owns the request's bytes anyway (a line it read, a body
    /// buffer, a string a binding copied in).
    pub fn evaluate_json_owned(&self, json: Vec<u8>) -> Result<Decision, InputError> {
        input::check_limits(&json, &self.shared.limits)?;
        #[cfg(feature = "audit")]
        if let Some(sink) = &self.shared.audit {
            return audited_json(sink, &self.shared.plan.load(), Cow::Owned(json), true);
        }
        eval::evaluate_json(&self.shared.plan.load(), &json, true)
    }

    /// Read JSON bytes into an input document as [`Engine::evaluate_json`] reads them: the
    /// limits checked before parsing, duplicate keys refused, a non-object refused. For a
    /// host that holds the document for later (a batch, an evaluation that waits on
    /// asynchronous host functions).
    pub fn parse_input(&self, json: &[u8]) -> Result<Value, InputError> {
        input::check_limits(json, &self.shared.limits)?;
        input::parse(json)
    }

    /// The limits this engine enforces.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Why the serving plan decides `input` as it does: every candidate rule with the
    /// value of each part of its condition (see [`crate::explain`]).
    pub fn explain(&self, input: &Value) -> crate::explain::Explanation {
        crate::explain::explain(&self.shared.plan.load(), &self.shared.functions, input)
    }

    /// The plan serving now.
    pub fn plan(&self) -> Arc<Plan> {
        self.shared.plan.load_full()
    }

    /// Whether a host must hand over the whole input rather than what
    /// [`Plan::input_reads`] names (all that evaluation reads): true when the engine
    /// records decisions with their input (auditing on), since a record's input must
    /// serve replays against other rules, which may read any field. A binding that copies
    /// its own objects into documents copies them whole then.
    pub fn needs_whole_input(&self) -> bool {
        #[cfg(feature = "audit")]
        return self.shared.audit.is_some();
        #[cfg(not(feature = "audit"))]
        false
    }

    #[cfg_attr(
        not(feature = "tools"),
        allow(dead_code, reason = "backtests are a tool")
    )]
    /// The plan served now, or, when it declares velocity counters, the same rules
    /// compiled again over a new in-process store: a backtest counts its own events and
    /// never touches the counts requests see. The kill switch carries over.
    pub(crate) fn plan_with_own_counts(&self) -> Arc<Plan> {
        let plan = self.plan();
        if plan.velocity.is_none() {
            return plan;
        }
        let mut sources = crate::source::SourceMap::default();
        for file in plan.sources.files() {
            sources.add(crate::source::SourceFile::new(file.name(), file.text()));
        }
        let functions = self
            .shared
            .functions
            .clone()
            .velocity_store(Arc::new(crate::velocity::LocalStore::default()));
        match load::plan_from_sources(sources, &functions, &self.shared.limits) {
            Ok(mut own) => {
                own.generation = plan.generation;
                own.counters = PlanCounters::disabled();
                for (mine, theirs) in own.disabled.iter().zip(plan.disabled.iter()) {
                    mine.store(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
                }
                Arc::new(own)
            }
            // The same sources compiled once already: not reached.
            Err(_) => plan,
        }
    }

    /// Where the rules come from.
    pub fn source(&self) -> &RulesSource {
        &self.shared.source
    }

    /// Read and compile the rules again, even if unchanged; on success swap the new plan in
    /// (with the next generation) and return it, on failure keep serving the old one.
    pub fn reload(&self) -> Result<Arc<Plan>, LoadError> {
        match self.shared.reload(true) {
            Ok(Some(plan)) => Ok(plan),
            Ok(None) => Ok(self.plan()),
            Err(error) => Err(error),
        }
    }

    /// Call `callback` after every reload attempt, successful or not (from the thread that
    /// reloaded: keep it short and do not reload from inside it).
    pub fn on_reload(&self, callback: impl Fn(&ReloadEvent) + Send + Sync + 'static) {
        self.shared.lock().subscribers.push(Arc::new(callback));
    }

    /// What the engine serves now.
    pub fn status(&self) -> Status {
        let plan = self.plan();
        let overrides = self
            .shared
            .lock()
            .overrides
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        Status {
            generation: plan.generation,
            ruleset_hash: plan.ruleset_hash(),
            rule_count: plan.rule_count(),
            loaded_at: rfc3339(plan.loaded_at),
            source: self.shared.source.describe(),
            last_error: self.shared.last_error.load_full().map(|e| (*e).clone()),
            overrides,
            subscriber_failures: self.shared.subscriber_failures.load(Ordering::Relaxed),
            watch: self.shared.watch_health().map(|h| h.to_status()),
            audit: self.audit_status(),
        }
    }

    fn audit_status(&self) -> Option<AuditStatus> {
        #[cfg(feature = "audit")]
        if let Some(sink) = &self.shared.audit {
            return Some(sink.status());
        }
        None
    }

    /// Kill switch: enable or disable a rule at run time, without editing the file. The
    /// setting survives reloads until changed or cleared, and wins over `enabled:` in the
    /// file. A rule the serving plan does not have yet keeps the setting for when a reload
    /// brings it ([`RuleSwitch::Pending`]): a rule can be disabled before it ships.
    pub fn set_rule_enabled(&self, id: &str, enabled: bool) -> RuleSwitch {
        let mut control = self.shared.lock();
        control.overrides.insert(id.to_owned(), enabled);
        // Under the lock a reload swaps under, so the plan read here is the one serving.
        let plan = self.plan();
        plan.apply_overrides(&control.overrides);
        let switch = if plan.ids.iter().any(|i| &**i == id) {
            RuleSwitch::Applied
        } else {
            RuleSwitch::Pending
        };
        tracing::info!(rule = id, enabled, ?switch, "acs rule switched");
        switch
    }

    /// Drop the kill-switch override of a rule: the file's `enabled:` applies again.
    pub fn clear_rule_override(&self, id: &str) {
        let mut control = self.shared.lock();
        control.overrides.remove(id);
        self.plan().apply_overrides(&control.overrides);
    }

    /// Counters since the engine started, summed over every plan it served.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut control = self.shared.lock();
        control.fold_retired();
        let mut totals = control.retired_totals.clone();
        for plan in &control.retired {
            plan.counters.add_to(&plan.ids, &mut totals);
        }
        let plan = self.plan();
        plan.counters.add_to(&plan.ids, &mut totals);
        let failures = self.shared.reload_failures.load(Ordering::Relaxed);
        let mut snapshot =
            MetricsSnapshot::from_totals(plan.generation, &plan.ids, &totals, failures);
        snapshot.subscriber_failures = self.shared.subscriber_failures.load(Ordering::Relaxed);
        snapshot.audit = self.audit_status();
        snapshot.velocity = plan
            .velocity
            .as_deref()
            .and_then(|velocity| velocity.store.metrics());
        if let Some(health) = self.shared.watch_health() {
            snapshot.watch_alive = Some(health.alive);
            snapshot.watch_last_event_seconds = health.last_event_seconds();
        }
        snapshot
    }

    /// Watch the rules path and reload when it changes (see [`WatchOptions`]). Watching
    /// stops when the returned handle is dropped or closed, or when the engine is dropped.
    #[cfg(feature = "watch")]
    pub fn watch(&self) -> Result<Watcher, WatchError> {
        self.watch_with(WatchOptions::default())
    }

    /// [`Engine::watch`] with explicit options.
    #[cfg(feature = "watch")]
    pub fn watch_with(&self, options: WatchOptions) -> Result<Watcher, WatchError> {
        watch::start(Arc::downgrade(&self.shared), options)
    }
}

/// A backtest's decisions, recorded in an engine's audit log as it decides them: each
/// input evaluated once, by the backtest's plan, counted in no metrics.
#[cfg(all(feature = "audit", feature = "tools"))]
pub(crate) struct BacktestRecorder {
    engine: Engine,
}

#[cfg(all(feature = "audit", feature = "tools"))]
impl BacktestRecorder {
    /// Recording into `engine`'s audit log, if it has one.
    pub(crate) fn of(engine: &Engine) -> Option<BacktestRecorder> {
        engine.shared.audit.as_ref().map(|_| BacktestRecorder {
            engine: engine.clone(),
        })
    }

    /// `plan`'s decision on the JSON line `json`, recorded when it is audited.
    pub(crate) fn decide_json(
        &self,
        plan: &Arc<Plan>,
        json: &[u8],
    ) -> Result<Decision, InputError> {
        match &self.engine.shared.audit {
            Some(sink) => audited_json(sink, plan, Cow::Borrowed(json), false),
            None => eval::evaluate_json(plan, json, false),
        }
    }

    /// `plan`'s decision on the document `input`, recorded when it is audited.
    pub(crate) fn decide(&self, plan: &Arc<Plan>, input: &Value) -> Decision {
        match &self.engine.shared.audit {
            Some(sink) => audited(sink, plan, Cow::Borrowed(input), false, None),
            None => eval::evaluate_uncounted(plan, input),
        }
    }

    /// [`BacktestRecorder::decide`] with velocity counts read from `store` (the
    /// backtest's timeline).
    pub(crate) fn decide_over_store(
        &self,
        plan: &Arc<Plan>,
        input: &Value,
        store: crate::velocity::SharedStore,
    ) -> Decision {
        match &self.engine.shared.audit {
            Some(sink) => audited(sink, plan, Cow::Borrowed(input), false, Some(store)),
            None => eval::evaluate_over_store(plan, input, store),
        }
    }
}

#[cfg(all(feature = "audit", feature = "tools"))]
impl std::fmt::Debug for BacktestRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BacktestRecorder")
    }
}

/// `plan`'s decision on `input`, recorded through `sink` when it is audited (a borrowed
/// document is copied for its record then; one given up goes as it is). Out of line, so
/// that `Engine::evaluate` without auditing compiles to what it was.
#[cfg(feature = "audit")]
#[inline(never)]
fn audited(
    sink: &audit::AuditSink,
    plan: &Arc<Plan>,
    input: Cow<'_, Value>,
    counted: bool,
    store: Option<crate::velocity::SharedStore>,
) -> Decision {
    let mut recording = eval::Recording::lean();
    let mut decision = eval::evaluate_recorded(plan, &*input, &mut recording, counted, store);
    sink.record(plan, &mut decision, recording, || {
        audit::RecordedInput::Document(input.into_owned())
    });
    decision
}

/// `plan`'s decision on the JSON document `json`, read in place as without auditing, and
/// recorded through `sink` with a copy of the bytes when it is audited.
#[cfg(feature = "audit")]
#[inline(never)]
fn audited_json(
    sink: &audit::AuditSink,
    plan: &Arc<Plan>,
    json: Cow<'_, [u8]>,
    counted: bool,
) -> Result<Decision, InputError> {
    let mut recording = eval::Recording::lean();
    let mut decision = eval::evaluate_json_recorded(plan, &json, &mut recording, counted)?;
    sink.record(plan, &mut decision, recording, || {
        audit::RecordedInput::Json(json.into_owned())
    });
    Ok(decision)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Control> {
        // A panicking subscriber must not disable reloads: the data stays consistent.
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuse to reload a rules file that became a directory, or the other way round.
    fn same_kind(&self) -> Result<(), LoadError> {
        let (RulesSource::Path(path), Some(was)) = (&self.source, self.loaded_kind) else {
            return Ok(());
        };
        // A missing path is the reading's to report.
        let Ok(metadata) = std::fs::metadata(path) else {
            return Ok(());
        };
        let now = crate::limits::kind_of(&metadata);
        if now == was {
            return Ok(());
        }
        Err(LoadError::KindChanged {
            path: path.clone(),
            was,
            now,
        })
    }

    fn watch_health(&self) -> Option<WatchHealth> {
        self.watch_health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    #[cfg(feature = "watch")]
    pub(crate) fn set_watch_health(&self, health: WatchHealth) {
        *self
            .watch_health
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(health);
    }

    #[cfg(feature = "watch")]
    pub(crate) fn update_watch_health(&self, update: impl FnOnce(&mut WatchHealth)) {
        let mut health = self
            .watch_health
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        update(health.get_or_insert_with(WatchHealth::default));
    }

    #[cfg(feature = "watch")]
    pub(crate) fn source(&self) -> &RulesSource {
        &self.source
    }

    /// Rebuild the plan; swap it in unless `force` is off and the content is unchanged.
    pub(crate) fn reload(&self, force: bool) -> Result<Option<Arc<Plan>>, LoadError> {
        let _reloading = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let read = self.read_sources();
        self.swap_in(force, read)
    }

    /// [`Shared::reload`] of files a writer may still be writing: the files are read
    /// until two reads `settle` apart agree (the same bytes in every file), and only
    /// then compiled and served, so a write that pauses half-way for less than `settle`
    /// is not served half-written. Files still changing after a few rounds are not
    /// loaded at all (`Ok(None)`): the writer's next change brings the watcher back.
    #[cfg(feature = "watch")]
    pub(crate) fn reload_settled(
        &self,
        settle: std::time::Duration,
    ) -> Result<Option<Arc<Plan>>, LoadError> {
        let _reloading = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match read_until_settled(|| self.read_sources(), || std::thread::sleep(settle)) {
            Some(read) => self.swap_in(false, read),
            None => {
                tracing::info!("acs rules still changing while read; waiting for the writer");
                Ok(None)
            }
        }
    }

    /// The rules files as they are now (`same_kind` first).
    fn read_sources(&self) -> Result<crate::source::SourceMap, LoadError> {
        self.same_kind()?;
        load::read_bundle(
            &self.source,
            self.limits.max_rules_file_bytes,
            self.bundle_key.as_ref(),
        )
    }

    /// Compile `read` and swap the plan in (unless unchanged and not `force`d), telling
    /// status and subscribers either way. The caller holds `reloading`.
    fn swap_in(
        &self,
        force: bool,
        read: Result<crate::source::SourceMap, LoadError>,
    ) -> Result<Option<Arc<Plan>>, LoadError> {
        // Built aside, without the control lock: compiling a large bundle never stalls
        // `status`, `metrics` or the kill switch.
        let built = read
            .and_then(|sources| load::plan_from_sources(sources, &self.functions, &self.limits));
        let mut control = self.lock();
        let current = self.plan.load_full();
        let (event, result) = match built {
            Ok(plan) if !force && plan.ruleset_hash == current.ruleset_hash => {
                self.last_error.store(None);
                tracing::debug!(generation = current.generation, "acs rules unchanged");
                let event = ReloadEvent::Unchanged {
                    generation: current.generation,
                };
                (event, Ok(None))
            }
            Ok(mut plan) => {
                plan.generation = current.generation + 1;
                if !self.metrics {
                    plan.counters = PlanCounters::disabled();
                }
                plan.apply_overrides(&control.overrides);
                let plan = Arc::new(plan);
                // Its rules' text is in the log before any decision of it.
                #[cfg(feature = "audit")]
                if let Some(sink) = &self.audit {
                    sink.ruleset(&plan);
                }
                self.plan.store(Arc::clone(&plan));
                self.last_error.store(None);
                control.retired.push(current);
                control.fold_retired();
                // Counters of rules the new plan no longer has are dropped: a long-lived
                // engine does not keep every rule id it ever loaded.
                control
                    .retired_totals
                    .rules
                    .retain(|id, _| plan.ids.contains(id));
                tracing::info!(generation = plan.generation, rules = plan.rule_count(), hash = %plan.ruleset_hash(), "acs rules reloaded");
                let event = ReloadEvent::Loaded {
                    generation: plan.generation,
                    rule_count: plan.rule_count(),
                    ruleset_hash: plan.ruleset_hash(),
                };
                (event, Ok(Some(plan)))
            }
            Err(error) => {
                self.reload_failures.fetch_add(1, Ordering::Relaxed);
                let failure = ReloadFailure {
                    generation: current.generation,
                    failed_at: rfc3339(SystemTime::now()),
                    message: error.to_string(),
                    diagnostics: error.diagnostics(),
                };
                tracing::error!(generation = current.generation, error = %failure.message, "acs rules reload failed; previous rules keep serving");
                self.last_error.store(Some(Arc::new(failure.clone())));
                (ReloadEvent::Failed(failure), Err(error))
            }
        };
        let subscribers = control.subscribers.clone();
        drop(control);
        for subscriber in subscribers {
            // A subscriber is the host's code: its panic must not end the watch thread
            // that called it, nor stop the other subscribers.
            let call =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| subscriber(&event)));
            if call.is_err() {
                self.subscriber_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!("acs reload subscriber panicked; reloads go on");
            }
        }
        result
    }
}

/// Reads compared before giving up on a writer that does not stop.
#[cfg(feature = "watch")]
const SETTLE_ROUNDS: usize = 5;

/// `read` until two reads with a `pause` between them agree; `None` when they still
/// differ after [`SETTLE_ROUNDS`] pauses.
#[cfg(feature = "watch")]
fn read_until_settled(
    mut read: impl FnMut() -> Result<crate::source::SourceMap, LoadError>,
    mut pause: impl FnMut(),
) -> Option<Result<crate::source::SourceMap, LoadError>> {
    let mut last = read();
    for _ in 0..SETTLE_ROUNDS {
        pause();
        let again = read();
        let settled = match (&last, &again) {
            (Ok(a), Ok(b)) => {
                a.files().len() == b.files().len()
                    && a.files()
                        .iter()
                        .zip(b.files())
                        .all(|(x, y)| x.name() == y.name() && x.text() == y.text())
            }
            // The same failure twice is settled too: a broken file stays broken.
            (Err(a), Err(b)) => a.to_string() == b.to_string(),
            _ => false,
        };
        last = again;
        if settled {
            return Some(last);
        }
    }
    None
}

impl Control {
    /// Fold the counters of retired plans no evaluation holds any more, and drop them.
    fn fold_retired(&mut self) {
        let retired = std::mem::take(&mut self.retired);
        for plan in retired {
            // `ArcSwap::store` pays outstanding read guards into the strong count, so 1 means
            // only this list holds the plan.
            if Arc::strong_count(&plan) == 1 {
                plan.counters.add_to(&plan.ids, &mut self.retired_totals);
            } else {
                self.retired.push(plan);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    const RULES: &str = "- {id: A, priority: 1, severity: low, description: d, condition: \"event.type == 'a'\", action: [], audit: false}\n";

    fn engine_on_file() -> (tempfile::TempDir, PathBuf, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yaml");
        std::fs::write(&path, RULES).unwrap();
        let engine = Engine::from_path(&path).unwrap();
        (dir, path, engine)
    }

    /// `f` on another thread, with a generous deadline: `None` when it did not return,
    /// i.e. it waited for something the test holds.
    fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(f());
        });
        receiver.recv_timeout(Duration::from_secs(10)).ok()
    }

    #[test]
    fn status_metrics_and_the_kill_switch_do_not_wait_for_a_reload_in_progress() {
        let (_dir, _path, engine) = engine_on_file();
        // A reload stands between reading and swapping: it holds `reloading`, as a reload
        // reading a slow file or compiling a large bundle does.
        let reloading = engine.shared.reloading.lock().unwrap();
        let probe = engine.clone();
        let answered = within_deadline(move || {
            let status = probe.status();
            let metrics = probe.metrics();
            let switch = probe.set_rule_enabled("A", false);
            (status.generation, metrics.generation, switch)
        });
        drop(reloading);
        assert_eq!(answered, Some((1, 1, RuleSwitch::Applied)));
    }

    #[test]
    fn retired_counters_keep_only_the_serving_rules() {
        let (_dir, path, engine) = engine_on_file();
        for round in 0..5 {
            std::fs::write(&path, RULES.replace("id: A", &format!("id: R{round}"))).unwrap();
            engine.reload().unwrap();
            engine.evaluate(&serde_json::json!({"event": {"type": "a"}}));
            let _ = engine.metrics();
        }
        let control = engine.shared.lock();
        let kept: Vec<&str> = control.retired_totals.rules.keys().map(|k| &**k).collect();
        assert!(kept.iter().all(|id| *id == "R4" || *id == "R3"), "{kept:?}");
    }

    #[cfg(feature = "watch")]
    #[test]
    fn files_are_served_only_once_two_reads_agree() {
        use crate::source::{SourceFile, SourceMap};
        let map = |text: &str| {
            let mut sources = SourceMap::default();
            sources.add(SourceFile::new("rules.yaml", text));
            sources
        };
        // A writer that paused half-way: half, then whole, then whole again.
        let mut reads = vec![map("whole"), map("whole"), map("half")];
        let settled = read_until_settled(|| Ok(reads.pop().unwrap()), || {});
        let text = settled.unwrap().unwrap().files()[0].text().to_owned();
        assert_eq!(text, "whole");
        // A writer that never stops: nothing is served.
        let mut n = 0;
        let settled = read_until_settled(
            || {
                n += 1;
                Ok(map(&n.to_string()))
            },
            || {},
        );
        assert!(settled.is_none());
        assert_eq!(n, SETTLE_ROUNDS + 1);
    }

    #[test]
    fn a_panicking_subscriber_is_counted_and_the_others_still_hear() {
        let (_dir, path, engine) = engine_on_file();
        engine.on_reload(|_| panic!("a host bug"));
        let (sender, receiver) = mpsc::channel();
        let sender = std::sync::Mutex::new(sender);
        engine.on_reload(move |event| {
            let _ = sender.lock().unwrap().send(event.clone());
        });
        for round in 0..2 {
            std::fs::write(&path, RULES.replace("id: A", &format!("id: R{round}"))).unwrap();
            engine.reload().unwrap();
            let heard = receiver.recv_timeout(Duration::from_secs(10)).unwrap();
            assert!(
                matches!(heard, ReloadEvent::Loaded { generation, .. } if generation == round + 2)
            );
        }
        assert_eq!(engine.status().subscriber_failures, 2);
    }
}
