//! The `Engine` class: loading with options, evaluation in its three forms, hot reload
//! and operations. Each method converts its arguments, calls one `acs_engine` method and
//! converts the result.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Mutex;

use acs_engine::{Engine as Core, EngineBuilder, Functions, Limits, RulesSource};
use napi::bindgen_prelude::{
    Either, FromNapiValue, Function, JsObjectValue, Object, ObjectFinalize, Uint8Array, Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use serde_json::Value;

use crate::convert::{self, Budget, Step};
use crate::errors;
use crate::evaluation::{Batch, Evaluation};
use crate::host::{JsFunctions, Running};

/// A loaded rule set serving decisions; see the package README for the whole API.
#[napi(custom_finalize)]
pub struct Engine {
    /// What this engine told V8 it holds outside the JS heap (see [`Engine::external`]).
    external: i64,
    core: Core,
    functions: Option<Rc<JsFunctions>>,
    /// Every host function, JS or from a stub table, as the engine has them: the
    /// resumable evaluations answer the stub table's calls from here.
    registered: Functions,
}

/// What `Engine.fromPath` and `Engine.fromString` read from their options object.
struct Options {
    builder: EngineBuilder,
    functions: Option<Rc<JsFunctions>>,
    registered: Functions,
}

fn options(env: &Env, options: Option<Unknown<'_>>) -> napi::Result<Options> {
    let mut builder = Core::builder();
    let mut functions = None;
    let Some(options) = options else {
        return Ok(Options {
            builder,
            functions,
            registered: Functions::new(),
        });
    };
    match options.get_type()? {
        ValueType::Undefined | ValueType::Null => {
            return Ok(Options {
                builder,
                functions,
                registered: Functions::new(),
            })
        }
        ValueType::Object => {}
        _ => return Err(errors::type_error(env, "options must be an object")),
    }
    let options = Object::from_unknown(options)?;
    let mut registered = Functions::new();
    let stubs: Unknown<'_> = options.get_named_property("stubs")?;
    match stubs.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::String => {
            let path = String::from_unknown(stubs)?;
            registered = Functions::from_stub_file(std::path::Path::new(&path))
                .map_err(|e| errors::type_error(env, &format!("options.stubs: {e}")))?;
        }
        _ => {
            return Err(errors::type_error(
                env,
                "options.stubs must be the path of a stub table",
            ))
        }
    }
    let given: Unknown<'_> = options.get_named_property("functions")?;
    match given.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::Object => {
            let (table, from_js) = JsFunctions::read(env, &Object::from_unknown(given)?)?;
            registered.extend(from_js);
            functions = Some(table);
        }
        _ => {
            return Err(errors::type_error(
                env,
                "options.functions must be an object of functions",
            ))
        }
    }
    builder = builder.functions(registered.clone());
    let limits: Unknown<'_> = options.get_named_property("limits")?;
    match limits.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::Object => {
            builder = builder.limits(read_limits(env, &Object::from_unknown(limits)?)?)
        }
        _ => return Err(errors::type_error(env, "options.limits must be an object")),
    }
    let audit: Unknown<'_> = options.get_named_property("audit")?;
    match audit.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::Object => {
            let mut budget = Budget::new(64, 1 << 20);
            let config = convert::to_document(&audit, Step::Root("options.audit"), 0, &mut budget)
                .map_err(|problem| errors::conversion_error(env, problem))?;
            let config: acs_engine::AuditConfig = serde_json::from_value(config)
                .map_err(|e| errors::type_error(env, &format!("options.audit: {e}")))?;
            let audit = config
                .into_options()
                .map_err(|e| errors::type_error(env, &format!("options.audit: {e}")))?;
            builder = builder.audit(audit);
        }
        _ => return Err(errors::type_error(env, "options.audit must be an object")),
    }
    let velocity: Unknown<'_> = options.get_named_property("velocity")?;
    match velocity.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::Object => {
            let mut budget = Budget::new(8, 1 << 16);
            let config =
                convert::to_document(&velocity, Step::Root("options.velocity"), 0, &mut budget)
                    .map_err(|problem| errors::conversion_error(env, problem))?;
            let config: acs_engine::velocity::VelocityConfig = serde_json::from_value(config)
                .map_err(|e| errors::type_error(env, &format!("options.velocity: {e}")))?;
            let store = config
                .into_store()
                .map_err(|e| errors::type_error(env, &format!("options.velocity: {e}")))?;
            builder = builder.velocity_store(store);
        }
        _ => {
            return Err(errors::type_error(
                env,
                "options.velocity must be an object",
            ))
        }
    }
    let key: Unknown<'_> = options.get_named_property("publicKey")?;
    match key.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::String => {
            let path = String::from_unknown(key)?;
            let key = acs_engine::bundle::PublicKey::read(std::path::Path::new(&path))
                .map_err(|e| errors::type_error(env, &format!("options.publicKey: {e}")))?;
            builder = builder.bundle_key(key);
        }
        _ => {
            return Err(errors::type_error(
                env,
                "options.publicKey must be the path of a key file",
            ))
        }
    }
    Ok(Options {
        builder,
        functions,
        registered,
    })
}

/// `{ maxInputBytes, ... }` over the engine's defaults; each a non-negative whole number.
fn read_limits(env: &Env, given: &Object<'_>) -> napi::Result<Limits> {
    let mut limits = Limits::default();
    let read = |name: &str, slot: &mut dyn FnMut(u64)| -> napi::Result<()> {
        let value: Unknown<'_> = given.get_named_property(name)?;
        match value.get_type()? {
            ValueType::Undefined => Ok(()),
            ValueType::Number => {
                let n = f64::from_unknown(value)?;
                if n.fract() != 0.0 || !(0.0..=9.0e15).contains(&n) {
                    return Err(errors::type_error(
                        env,
                        &format!("limits.{name} must be a whole number of at least 0"),
                    ));
                }
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "checked whole and in range"
                )]
                slot(n as u64);
                Ok(())
            }
            _ => Err(errors::type_error(
                env,
                &format!("limits.{name} must be a number"),
            )),
        }
    };
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    read("maxRulesFileBytes", &mut |n| {
        limits.max_rules_file_bytes = n
    })?;
    read("maxConditionBytes", &mut |n| {
        limits.max_condition_bytes = to_usize(n)
    })?;
    read("maxNesting", &mut |n| limits.max_nesting = to_usize(n))?;
    read("maxInputBytes", &mut |n| {
        limits.max_input_bytes = to_usize(n)
    })?;
    read("maxInputDepth", &mut |n| {
        limits.max_input_depth = to_usize(n)
    })?;
    read("maxRenderedBytes", &mut |n| {
        limits.max_rendered_bytes = to_usize(n)
    })?;
    Ok(limits)
}

#[napi]
impl Engine {
    /// Load a rules file or a directory bundle.
    #[napi(
        factory,
        catch_unwind,
        ts_args_type = "path: string, options?: EngineOptions"
    )]
    pub fn from_path(
        env: Env,
        path: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<Engine> {
        let path = PathBuf::from(string_argument(&env, path, "path")?);
        Engine::load(&env, RulesSource::Path(path), options)
    }

    /// Load rules given as YAML text; `options.name` names them in diagnostics.
    #[napi(
        catch_unwind,
        factory,
        ts_args_type = "yaml: string, options?: EngineOptions & { name?: string }"
    )]
    pub fn from_string(
        env: Env,
        yaml: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<Engine> {
        let text = string_argument(&env, yaml, "yaml")?;
        let mut name = "<string>".to_owned();
        if let Some(given) = options.filter(|o| o.get_type().ok() == Some(ValueType::Object)) {
            let named: Unknown<'_> = Object::from_unknown(given)?.get_named_property("name")?;
            if named.get_type()? == ValueType::String {
                name = String::from_unknown(named)?;
            }
        }
        Engine::load(&env, RulesSource::Text { name, text }, options)
    }

    /// Decide on one input object (`{ event, ctx, system, db }`).
    #[napi(
        catch_unwind,
        ts_args_type = "input: Input",
        ts_return_type = "Decision"
    )]
    pub fn evaluate<'env>(
        &self,
        env: &'env Env,
        input: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let document = self.document(env, &input)?;
        let _running = self.functions.as_ref().map(|f| Running::enter(*env, f));
        // Owned: an engine that audits keeps the document in its record, uncopied.
        let decision = self.core.evaluate_owned(document);
        convert::to_js(env, &decision)
    }

    /// Decide on a JSON document held as text or bytes, read through the engine's bytes
    /// path (no JS object is built).
    #[napi(
        catch_unwind,
        ts_args_type = "json: string | Uint8Array",
        ts_return_type = "Decision"
    )]
    pub fn evaluate_json<'env>(
        &self,
        env: &'env Env,
        json: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let decision = self.decide_bytes(env, json)?;
        convert::to_js(env, &decision)
    }

    /// `evaluateJson` with the decision as JSON text: one string crosses instead of an
    /// object built property by property (`index.js` parses it with `JSON.parse`).
    #[napi(catch_unwind, ts_args_type = "json: string | Uint8Array")]
    pub fn evaluate_json_text(&self, env: Env, json: Unknown<'_>) -> napi::Result<String> {
        let decision = self.decide_bytes(&env, json)?;
        serde_json::to_string(&decision).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    /// The decision in the form `index.js` reads fastest, for a caller that already holds
    /// the ruleset hash of plan `generation`: the number of rules evaluated when the
    /// decision is the plain "allowed, nothing matched, no errors" one of that plan
    /// (`index.js` builds that object itself), otherwise the decision's JSON text, whose
    /// `ruleset_hash` is `0` when `generation` decided (the caller writes the hash it
    /// holds in its place) and the hash itself when another plan did.
    #[napi(
        catch_unwind,
        ts_args_type = "json: string | Uint8Array, generation: number"
    )]
    pub fn decide_compact(
        &self,
        env: Env,
        json: Unknown<'_>,
        generation: f64,
    ) -> napi::Result<Either<u32, String>> {
        let decision = self.decide_bytes(&env, json)?;
        let known = decision.generation as f64 == generation;
        if known
            && decision.matched.is_empty()
            && decision.shadow_matched.is_empty()
            && decision.errors.is_empty()
            && !decision.audit_unavailable
            && !decision.is_rejected()
        {
            return Ok(Either::A(decision.rules_evaluated));
        }
        let text = if known {
            serde_json::to_string(&WithoutHash::of(&decision))
        } else {
            serde_json::to_string(&decision)
        };
        text.map(Either::B)
            .map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    /// What the plan serving now may read of an input, per event type: `{ generation,
    /// types: { [type]: paths }, other: paths, whole }`, each path root first. `index.js`
    /// copies only these subtrees of an input object before it crosses (the decision is
    /// the same: the evaluator reads nothing else), unless `whole` (the engine records
    /// inputs: `Engine::needs_whole_input`), and refetches when a decision's generation
    /// shows the plan changed.
    #[napi(
        catch_unwind,
        ts_return_type = "{ generation: number; rulesetHash: string; types: Record<string, string[][]>; other: string[][]; whole: boolean }"
    )]
    pub fn input_reads<'env>(&self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        let plan = self.core.plan();
        let types: serde_json::Map<String, Value> = plan
            .event_types()
            .into_iter()
            .map(|t| (t.to_owned(), serde_json::json!(plan.input_reads(Some(t)))))
            .collect();
        convert::to_js(
            env,
            &serde_json::json!({
                "generation": plan.generation(),
                "rulesetHash": plan.ruleset_hash(),
                "types": types,
                "other": plan.input_reads(None),
                "whole": self.core.needs_whole_input(),
            }),
        )
    }

    /// Why each rule matched or not, node by node.
    #[napi(
        catch_unwind,
        ts_args_type = "input: Input",
        ts_return_type = "Explanation"
    )]
    pub fn explain<'env>(&self, env: &'env Env, input: Unknown<'_>) -> napi::Result<Unknown<'env>> {
        let document = self.document(env, &input)?;
        let _running = self.functions.as_ref().map(|f| Running::enter(*env, f));
        convert::to_js(env, &self.core.explain(&document))
    }

    /// Read the rules again now; throws `RulesError` (and keeps serving) when they fail.
    #[napi(catch_unwind, ts_return_type = "Status")]
    pub fn reload<'env>(&self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        self.core
            .reload()
            .map_err(|e| errors::rules_error(env, &e))?;
        convert::to_js(env, &self.core.status())
    }

    /// What serves, since when, and the last reload failure.
    #[napi(catch_unwind, ts_return_type = "Status")]
    pub fn status<'env>(&self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        convert::to_js(env, &self.core.status())
    }

    /// The engine's counters in the Prometheus text format.
    #[napi(catch_unwind)]
    pub fn metrics(&self) -> String {
        self.core.metrics().to_prometheus()
    }

    /// The engine's counters as an object.
    #[napi(catch_unwind, ts_return_type = "MetricsSnapshot")]
    pub fn metrics_snapshot<'env>(&self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        convert::to_js(env, &self.core.metrics())
    }

    /// The kill switch: turn rule `id` off or on, now and across reloads. Returns what
    /// happened (`'applied'`, `'pending'` for a rule not loaded yet, ...).
    #[napi(catch_unwind, ts_return_type = "RuleSwitch")]
    pub fn set_rule_enabled<'env>(
        &self,
        env: &'env Env,
        id: String,
        enabled: bool,
    ) -> napi::Result<Unknown<'env>> {
        convert::to_js(env, &self.core.set_rule_enabled(&id, enabled))
    }

    /// Forget the kill switch's setting for rule `id`: the rules file decides again.
    #[napi(catch_unwind)]
    pub fn clear_rule_override(&self, id: String) {
        self.core.clear_rule_override(&id);
    }

    /// Call `callback` with every reload's outcome. The callback runs on the JS thread and
    /// never keeps the process alive on its own.
    #[napi(catch_unwind, ts_args_type = "callback: (event: ReloadEvent) => void")]
    pub fn on_reload(&self, callback: Function<'_, Value, ()>) -> napi::Result<()> {
        let tsfn: ThreadsafeFunction<Value, (), Value, napi::Status, false, true> = callback
            .build_threadsafe_function()
            .weak::<true>()
            .build()?;
        let tsfn = Mutex::new(tsfn);
        self.core.on_reload(move |event| {
            if let (Ok(event), Ok(tsfn)) = (serde_json::to_value(event), tsfn.lock()) {
                tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
            }
        });
        Ok(())
    }

    /// Reload whenever the rules path changes; the returned handle's `close()` stops it.
    /// The watcher never keeps the process alive on its own.
    #[napi(catch_unwind)]
    pub fn watch(&self, env: Env) -> napi::Result<Watch> {
        let watcher = self
            .core
            .watch()
            .map_err(|e| errors::watch_error(&env, &e))?;
        Ok(Watch {
            watcher: Some(watcher),
        })
    }

    /// Start an evaluation whose host calls the caller makes (`evaluateAsync` in
    /// `index.js` drives it): the engine's resumable evaluation, on the plan serving now.
    #[napi(catch_unwind, ts_args_type = "input: Input | string | Uint8Array")]
    pub fn start_evaluation(&self, env: Env, input: Unknown<'_>) -> napi::Result<Evaluation> {
        let document = match input.get_type()? {
            ValueType::String => self.parse(&env, input)?,
            ValueType::Object if input.is_typedarray()? => self.parse(&env, input)?,
            _ => self.document(&env, &input)?,
        };
        Ok(Evaluation::new(
            self.core.evaluation(document),
            self.registered.clone(),
            self.functions.clone(),
        ))
    }

    /// Start a batch over `inputs` (objects, JSON strings or bytes); `evaluateBatch` in
    /// `index.js` drives it. An input that cannot be read is that input's error.
    #[napi(
        catch_unwind,
        ts_args_type = "inputs: Array<Input | string | Uint8Array>"
    )]
    pub fn start_batch(&self, env: Env, inputs: Unknown<'_>) -> napi::Result<Batch> {
        if !inputs.is_array()? {
            return Err(errors::type_error(&env, "inputs must be an array"));
        }
        let inputs = Vec::<Unknown<'_>>::from_unknown(inputs)?;
        let limits = self.core.limits();
        let read = |input: &Unknown<'_>| {
            let mut budget = Budget::new(limits.max_input_depth, limits.max_input_bytes);
            let document = convert::to_document(input, Step::Root("input"), 0, &mut budget)
                .map_err(errors::problem_words)?;
            acs_engine::InputError::check_document(&document)
                .map_err(|e| (e.code().to_owned(), e.to_string()))?;
            Ok(document)
        };
        Batch::new(
            &self.core,
            self.registered.clone(),
            self.functions.clone(),
            inputs,
            read,
        )
    }

    /// Write and sync every audit record queued so far, waiting up to `timeoutMs`
    /// (default 10 s); throws when the engine does not audit or its writer stopped.
    #[napi(catch_unwind)]
    pub fn audit_flush(&self, env: Env, timeout_ms: Option<u32>) -> napi::Result<()> {
        let wait = std::time::Duration::from_millis(u64::from(timeout_ms.unwrap_or(10_000)));
        self.core
            .audit_flush(wait)
            .map_err(|message| errors::audit_error(&env, &message))
    }

    /// The ids of the loaded rules, in evaluation order.
    #[napi(getter, catch_unwind)]
    pub fn rule_ids(&self) -> Vec<String> {
        self.core.plan().rule_ids().map(str::to_owned).collect()
    }

    /// The names of the JS host functions this engine was given.
    #[napi(getter, catch_unwind)]
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .functions
            .iter()
            .flat_map(|f| f.names().map(str::to_owned))
            .collect();
        names.sort();
        names
    }
}

impl Engine {
    /// Load `source` with the options object of `fromPath` / `fromString`.
    fn load(env: &Env, source: RulesSource, options: Option<Unknown<'_>>) -> napi::Result<Engine> {
        let Options {
            builder,
            functions,
            registered,
        } = self::options(env, options)?;
        let core = builder
            .load(source)
            .map_err(|e| errors::rules_error(env, &e))?;
        Engine::new(env, core, functions, registered)
    }

    fn new(
        env: &Env,
        core: Core,
        functions: Option<Rc<JsFunctions>>,
        registered: Functions,
    ) -> napi::Result<Engine> {
        let external = Engine::external(&core);
        env.adjust_external_memory(external)?;
        Ok(Engine {
            external,
            core,
            functions,
            registered,
        })
    }

    /// About what a plan holds outside the JS heap (BENCHMARKS.md measures 6 KiB per rule
    /// for large plans). V8 cannot see native memory; told of it, it collects dropped
    /// engines as soon as their weight calls for it rather than when the JS heap fills.
    fn external(core: &Core) -> i64 {
        let rules = i64::try_from(core.plan().rule_count()).unwrap_or(i64::MAX / 2);
        (64 * 1024_i64).saturating_add(rules.saturating_mul(8 * 1024))
    }
}

/// A decision as JSON with `0` in place of its ruleset hash (see
/// [`Engine::decide_compact`]); the fields in the order of [`acs_engine::Decision`]'s own
/// JSON, which a test compares text for text.
#[derive(serde::Serialize)]
struct WithoutHash<'a> {
    verdict: &'a acs_engine::Verdict,
    matched: &'a [acs_engine::RuleMatch],
    shadow_matched: &'a [acs_engine::RuleMatch],
    errors: &'a [acs_engine::RuleError],
    rules_evaluated: u32,
    generation: u64,
    ruleset_hash: u8,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    audit_unavailable: bool,
}

impl<'a> WithoutHash<'a> {
    fn of(decision: &'a acs_engine::Decision) -> Self {
        WithoutHash {
            verdict: &decision.verdict,
            matched: &decision.matched,
            shadow_matched: &decision.shadow_matched,
            errors: &decision.errors,
            rules_evaluated: decision.rules_evaluated,
            generation: decision.generation,
            ruleset_hash: 0,
            audit_unavailable: decision.audit_unavailable,
        }
    }
}

impl Engine {
    /// JSON text or bytes, decided through the engine's bytes path.
    fn decide_bytes(&self, env: &Env, json: Unknown<'_>) -> napi::Result<acs_engine::Decision> {
        let bytes = json_bytes(env, json)?;
        let _running = self.functions.as_ref().map(|f| Running::enter(*env, f));
        match bytes {
            // A string was copied out of V8 already: the engine keeps that copy when it
            // records the decision rather than making another.
            JsonBytes::Text(text) => self.core.evaluate_json_owned(text.into_bytes()),
            JsonBytes::Bytes(bytes) => self.core.evaluate_json(&bytes),
        }
        .map_err(|e| errors::input_error(env, &e))
    }

    /// JSON text or bytes as an input document, as `evaluateJson` reads them.
    fn parse(&self, env: &Env, json: Unknown<'_>) -> napi::Result<Value> {
        let bytes = json_bytes(env, json)?;
        self.core
            .parse_input(bytes.as_ref())
            .map_err(|e| errors::input_error(env, &e))
    }

    /// The input object as a document, under the engine's limits; a non-object input is
    /// the engine's own `not_an_object` error.
    fn document(&self, env: &Env, input: &Unknown<'_>) -> napi::Result<Value> {
        let limits = self.core.limits();
        let mut budget = Budget::new(limits.max_input_depth, limits.max_input_bytes);
        let document = convert::to_document(input, Step::Root("input"), 0, &mut budget)
            .map_err(|problem| errors::conversion_error(env, problem))?;
        acs_engine::InputError::check_document(&document)
            .map_err(|e| errors::input_error(env, &e))?;
        Ok(document)
    }
}

impl ObjectFinalize for Engine {
    fn finalize(self, env: Env) -> napi::Result<()> {
        env.adjust_external_memory(-self.external)?;
        Ok(())
    }
}

/// A string argument, or a `TypeError` naming it.
fn string_argument(env: &Env, value: Unknown<'_>, name: &str) -> napi::Result<String> {
    if value.get_type()? != ValueType::String {
        return Err(errors::type_error(env, &format!("{name} must be a string")));
    }
    String::from_unknown(value)
}

/// The bytes of a JSON argument: a string's UTF-8, or a `Buffer`'s / `Uint8Array`'s
/// bytes as they are.
pub(crate) enum JsonBytes {
    Text(String),
    Bytes(Uint8Array),
}

impl AsRef<[u8]> for JsonBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            JsonBytes::Text(text) => text.as_bytes(),
            JsonBytes::Bytes(bytes) => bytes,
        }
    }
}

pub(crate) fn json_bytes(env: &Env, json: Unknown<'_>) -> napi::Result<JsonBytes> {
    let wrong = || errors::type_error(env, "json must be a string, a Buffer or a Uint8Array");
    match json.get_type()? {
        ValueType::String => Ok(JsonBytes::Text(String::from_unknown(json)?)),
        ValueType::Object if json.is_typedarray()? => Ok(JsonBytes::Bytes(
            Uint8Array::from_unknown(json).map_err(|_| wrong())?,
        )),
        _ => Err(wrong()),
    }
}

/// A running watcher; `close()` stops it (so does dropping the engine).
#[napi]
pub struct Watch {
    watcher: Option<acs_engine::Watcher>,
}

#[napi]
impl Watch {
    /// Stop watching. Closing twice does nothing.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.close();
        }
    }

    /// Whether the watcher still runs.
    #[napi(getter, catch_unwind)]
    pub fn active(&self) -> bool {
        self.watcher.is_some()
    }
}
