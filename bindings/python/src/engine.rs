//! `acs.Engine`: loading with options, evaluation (a dict, JSON bytes, many inputs on
//! every core, or resumable for `evaluate_async`), hot reload and operations. Each method
//! converts its arguments, calls `acs_engine` with the GIL released, and converts back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

use acs_engine::{Engine as Core, EngineBuilder, Functions, Leaf, LeafLayout, Limits, RulesSource};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::Value;

use crate::convert::{self, Budget, Path, PlanReads, Problem};
use crate::decision::Decision;
use crate::errors;
use crate::evaluation::Evaluation;
use crate::host::PyFunctions;

/// A loaded rule set serving decisions; see the package README for the whole API.
#[pyclass(module = "acs", name = "Engine", frozen)]
pub(crate) struct Engine {
    core: Core,
    python: Option<Arc<PyFunctions>>,
    /// Every host function, Python or from a stub table, as the engine has them: the
    /// resumable evaluations answer the stub table's calls from here.
    registered: Functions,
    /// What the serving plan reads, per event type (refetched when the plan changes).
    reads: Mutex<Option<Arc<PlanReads>>>,
}

/// JSON text or bytes, held without a copy.
enum Json {
    Bytes(PyBackedBytes),
    Text(PyBackedStr),
}

impl AsRef<[u8]> for Json {
    fn as_ref(&self) -> &[u8] {
        match self {
            Json::Bytes(b) => b.as_ref(),
            Json::Text(t) => t.as_bytes(),
        }
    }
}

fn json_arg(value: &Bound<'_, PyAny>) -> Option<Json> {
    if let Ok(text) = value.cast::<PyString>() {
        return text.extract::<PyBackedStr>().ok().map(Json::Text);
    }
    value.extract::<PyBackedBytes>().ok().map(Json::Bytes)
}

/// Inputs `evaluate_many` reads, decides and turns into results at a time: big enough
/// that a hand-over to a worker costs nothing per input, small enough that the workers
/// start at once and that a chunk's documents and decisions stay in cache.
const CHUNK: usize = 256;

/// One input of `evaluate_many`, as it goes to the workers.
enum Item {
    Json(Json),
    /// A dict read as the values at the serving plan's read paths: flat, no object built
    /// on the way, so a worker on another core reads one array instead of walking a tree
    /// built on this one.
    Leaves(Arc<LeafLayout>, Vec<Leaf<'static>>),
    /// A whole document (an engine that audits keeps it in its record).
    Document(Value),
    Refused(Problem),
}

/// One result of `evaluate_many` before it becomes Python: a decision or an input error.
enum Outcome {
    /// Boxed where it is made (on a worker, in a batch): see [`Decision`].
    Decided(Box<acs_engine::Decision>),
    /// Read for a plan that a reload has replaced since: to be decided again, whole.
    Replaced,
    Input(acs_engine::InputError),
    Refused(Problem),
}

struct Options {
    builder: EngineBuilder,
    python: Option<Arc<PyFunctions>>,
    registered: Functions,
}

fn options(
    functions: Option<&Bound<'_, PyAny>>,
    limits: Option<&Bound<'_, PyAny>>,
    stubs: Option<PathBuf>,
    public_key: Option<PathBuf>,
    audit: Option<&Bound<'_, PyAny>>,
    velocity: Option<&Bound<'_, PyAny>>,
) -> PyResult<Options> {
    let mut builder = Core::builder();
    if let Some(audit) = audit.filter(|a| !a.is_none()) {
        let mut budget = Budget::new(&Limits::default());
        let config = convert::to_value(audit, &Path::Root("audit"), 0, &mut budget)
            .map_err(|p| errors::type_error(format!("audit: {}", p.words().1)))?;
        let config: acs_engine::AuditConfig = serde_json::from_value(config)
            .map_err(|e| errors::type_error(format!("audit: {e}")))?;
        let options = config
            .into_options()
            .map_err(|e| errors::type_error(format!("audit: {e}")))?;
        builder = builder.audit(options);
    }
    let mut registered = match stubs {
        Some(path) => Functions::from_stub_file(&path)
            .map_err(|e| errors::type_error(format!("stubs: {e}")))?,
        None => Functions::new(),
    };
    let mut python = None;
    if let Some(given) = functions.filter(|f| !f.is_none()) {
        let (table, from_python) = PyFunctions::read(given)?;
        registered.extend(from_python);
        python = Some(table);
    }
    builder = builder.functions(registered.clone());
    if let Some(limits) = limits.filter(|l| !l.is_none()) {
        builder = builder.limits(read_limits(limits)?);
    }
    if let Some(path) = public_key {
        let key = acs_engine::bundle::PublicKey::read(&path)
            .map_err(|e| errors::type_error(format!("public_key: {e}")))?;
        builder = builder.bundle_key(key);
    }
    if let Some(velocity) = velocity.filter(|v| !v.is_none()) {
        let mut budget = Budget::new(&Limits::default());
        let config = convert::to_value(velocity, &Path::Root("velocity"), 0, &mut budget)
            .map_err(|p| errors::type_error(format!("velocity: {}", p.words().1)))?;
        let config: acs_engine::velocity::VelocityConfig = serde_json::from_value(config)
            .map_err(|e| errors::type_error(format!("velocity: {e}")))?;
        let store = config
            .into_store()
            .map_err(|e| errors::type_error(format!("velocity: {e}")))?;
        builder = builder.velocity_store(store);
    }
    Ok(Options {
        builder,
        python,
        registered,
    })
}

/// `{"max_input_bytes": ..., ...}` over the engine's defaults.
fn read_limits(given: &Bound<'_, PyAny>) -> PyResult<Limits> {
    let dict = given
        .cast::<PyDict>()
        .map_err(|_| errors::type_error("limits must be a dict"))?;
    let mut limits = Limits::default();
    for (key, value) in dict.iter() {
        let key: String = key
            .extract()
            .map_err(|_| errors::type_error("limits: every key must be a str"))?;
        let n: u64 = value.extract().map_err(|_| {
            errors::type_error(format!("limits[{key:?}] must be an int of at least 0"))
        })?;
        let size = usize::try_from(n).unwrap_or(usize::MAX);
        match key.as_str() {
            "max_rules_file_bytes" => limits.max_rules_file_bytes = n,
            "max_condition_bytes" => limits.max_condition_bytes = size,
            "max_nesting" => limits.max_nesting = size,
            "max_input_bytes" => limits.max_input_bytes = size,
            "max_input_depth" => limits.max_input_depth = size,
            "max_rendered_bytes" => limits.max_rendered_bytes = size,
            _ => {
                return Err(errors::type_error(format!(
                    "limits: unknown limit {key:?} (max_rules_file_bytes, max_condition_bytes, \
                     max_nesting, max_input_bytes, max_input_depth, max_rendered_bytes)"
                )))
            }
        }
    }
    Ok(limits)
}

#[pymethods]
impl Engine {
    /// Load a rules file or a bundle directory.
    #[staticmethod]
    #[pyo3(signature = (path, functions = None, limits = None, stubs = None, public_key = None, audit = None, velocity = None))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn from_path(
        py: Python<'_>,
        path: PathBuf,
        functions: Option<&Bound<'_, PyAny>>,
        limits: Option<&Bound<'_, PyAny>>,
        stubs: Option<PathBuf>,
        public_key: Option<PathBuf>,
        audit: Option<&Bound<'_, PyAny>>,
        velocity: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Engine> {
        let options = options(functions, limits, stubs, public_key, audit, velocity)?;
        Engine::load(py, RulesSource::Path(path), options)
    }

    /// Load rules given as YAML text; `name` names them in diagnostics.
    #[staticmethod]
    #[pyo3(signature = (yaml, name = "<string>".to_owned(), functions = None, limits = None, stubs = None, public_key = None, audit = None, velocity = None))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn from_string(
        py: Python<'_>,
        yaml: String,
        name: String,
        functions: Option<&Bound<'_, PyAny>>,
        limits: Option<&Bound<'_, PyAny>>,
        stubs: Option<PathBuf>,
        public_key: Option<PathBuf>,
        audit: Option<&Bound<'_, PyAny>>,
        velocity: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Engine> {
        let options = options(functions, limits, stubs, public_key, audit, velocity)?;
        Engine::load(py, RulesSource::Text { name, text: yaml }, options)
    }

    /// Write and sync every audit record queued so far, waiting up to `timeout` seconds;
    /// raises when the engine does not audit or its writer stopped.
    #[pyo3(signature = (timeout = 10.0))]
    fn audit_flush(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let wait = std::time::Duration::from_secs_f64(timeout.clamp(0.0, 86_400.0));
        py.detach(|| self.core.audit_flush(wait))
            .map_err(errors::misuse)
    }

    /// Decide on one input dict (`{"event", "ctx", "system", "db"}`).
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Decision>> {
        let reads = self.reads(py);
        let mut budget = Budget::new(self.core.limits());
        if let Some(read) = reads.leaves(input, &mut budget) {
            let (layout, leaves) = read.map_err(|p| errors::problem_error(py, &p))?;
            let decided = py
                .detach(|| self.core.evaluate_leaves(&layout, leaves))
                .map_err(|e| errors::input_error(py, &e))?;
            if let Some(decision) = decided {
                return Decision::untracked(py, decision);
            }
            // The plan changed since its reads were fetched: decide on the whole input.
        }
        let document = self.document(py, input)?;
        // Owned: an engine that audits keeps the document in its record, uncopied.
        Decision::untracked(py, py.detach(|| self.core.evaluate_owned(document)))
    }

    /// Decide every row of an Arrow array, batch, table or stream (see `arrow.rs`); with
    /// `calls` (and `now`), host calls are answered from each row's recorded calls.
    #[pyo3(signature = (data, column=None, threads=None, calls=None, now=None))]
    fn evaluate_arrow(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        column: Option<&str>,
        threads: Option<usize>,
        calls: Option<&str>,
        now: Option<&str>,
    ) -> PyResult<pyo3_arrow::PyRecordBatch> {
        // Python host functions need the GIL for each call: one thread decides, as in
        // `evaluate_many` (see there).
        let threads = if self.python.is_some() {
            Some(1)
        } else {
            threads
        };
        let columns = crate::arrow::Columns {
            column,
            calls,
            now,
            velocity: None,
        };
        crate::arrow::evaluate_arrow(py, &self.core, data, &columns, threads)
    }

    /// Decide on a JSON document given as bytes or str, through the engine's bytes path.
    fn evaluate_json<'py>(
        &self,
        py: Python<'py>,
        json: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Decision>> {
        let json = json_arg(json)
            .ok_or_else(|| errors::type_error("json must be bytes, bytearray or str"))?;
        let decision = py
            .detach(|| self.core.evaluate_json(json.as_ref()))
            .map_err(|e| errors::input_error(py, &e))?;
        Decision::untracked(py, decision)
    }

    /// Decide on many inputs (dicts, JSON bytes or str) on `threads` threads (None: one
    /// per core) with the GIL released. One result per input, in order: a `Decision`, or
    /// an `InputError` instance (not raised) for an input the engine refused.
    #[pyo3(signature = (inputs, threads = None))]
    fn evaluate_many<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        if inputs.cast::<PyDict>().is_ok() || inputs.cast::<PyString>().is_ok() {
            return Err(errors::type_error(
                "inputs must be an iterable of inputs (a list of dicts, say), not one input",
            ));
        }
        let iterator = inputs
            .try_iter()
            .map_err(|_| errors::type_error("inputs must be an iterable"))?;
        let threads = match threads {
            None | Some(0) => std::thread::available_parallelism().map_or(1, usize::from),
            Some(n) => n,
        };
        // Python host functions are called under the GIL, one at a time whatever the
        // threads: measured on 2 cores (BENCHMARKS.md), two workers re-attaching per call
        // ran 7x slower than one, and rounds (workers poll resumable evaluations, the
        // calls made between rounds) 2.8x slower than one thread deciding in turn, which
        // is what runs then. The GIL is still released between calls.
        if threads > 1 && self.python.is_none() {
            return self.evaluate_many_on(py, iterator, threads);
        }
        self.evaluate_many_here(py, iterator)
    }

    /// Start an evaluation whose Python host calls the caller makes (`evaluate_async`
    /// drives it): the engine's resumable evaluation, on the plan serving now.
    fn start_evaluation(&self, py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<Evaluation> {
        let document = match json_arg(input) {
            Some(json) => py
                .detach(|| self.core.parse_input(json.as_ref()))
                .map_err(|e| errors::input_error(py, &e))?,
            None => self.document(py, input)?,
        };
        Ok(Evaluation::new(
            self.core.evaluation(document),
            self.registered.clone(),
            self.python.clone(),
        ))
    }

    /// `await engine.evaluate_async(input)`: host functions may be `async def`; the calls
    /// a round needs are made together (`asyncio.gather`) and the evaluation resumes with
    /// the answers. The loop is `acs._drive`.
    fn evaluate_async<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let evaluation = Bound::new(py, self.start_evaluation(py, input)?)?;
        PyModule::import(py, "acs")?
            .getattr("_drive")?
            .call1((evaluation,))
    }

    /// Why each candidate rule matched or not, node by node.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let document = match json_arg(input) {
            Some(json) => self
                .core
                .parse_input(json.as_ref())
                .map_err(|e| errors::input_error(py, &e))?,
            None => self.document(py, input)?,
        };
        let explanation = py.detach(|| self.core.explain(&document));
        convert::serde_to_py(py, &explanation)
    }

    /// Read the rules again now; raises `RulesError` (and keeps serving) when they fail.
    /// Returns `status()`.
    fn reload<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.detach(|| self.core.reload())
            .map_err(|e| errors::rules_error(py, &e))?;
        self.status(py)
    }

    /// What serves, since when, and the last reload failure (`last_error`).
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let status = py.detach(|| self.core.status());
        convert::serde_to_py(py, &status)
    }

    /// The engine's counters in the Prometheus text format.
    fn metrics(&self, py: Python<'_>) -> String {
        py.detach(|| self.core.metrics().to_prometheus())
    }

    /// The engine's counters as a dict.
    fn metrics_snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = py.detach(|| self.core.metrics());
        convert::serde_to_py(py, &snapshot)
    }

    /// The kill switch: `"applied"`, or `"pending"` for a rule not loaded yet.
    fn set_rule_enabled<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        enabled: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let switched = py.detach(|| self.core.set_rule_enabled(id, enabled));
        convert::serde_to_py(py, &switched)
    }

    /// Forget the kill switch's setting for rule `id`: the rules file decides again.
    fn clear_rule_override(&self, py: Python<'_>, id: &str) {
        py.detach(|| self.core.clear_rule_override(id));
    }

    /// Call `callback(event)` after every reload attempt with its outcome (a dict:
    /// `outcome` is `loaded`, `unchanged` or `failed`). From the watcher's thread it
    /// attaches to the interpreter; an exception in it goes to `sys.unraisablehook`.
    fn on_reload(&self, py: Python<'_>, callback: Bound<'_, PyAny>) -> PyResult<()> {
        if !callback.is_callable() {
            return Err(errors::type_error("callback must be callable"));
        }
        let callback = callback.unbind();
        py.detach(|| {
            self.core.on_reload(move |event| {
                let _ = Python::try_attach(|py| {
                    let callback = callback.bind(py);
                    let called =
                        convert::serde_to_py(py, event).and_then(|event| callback.call1((event,)));
                    if let Err(error) = called {
                        error.write_unraisable(py, Some(callback));
                    }
                });
            });
        });
        Ok(())
    }

    /// Reload whenever the rules path changes; the returned `Watch` is a context manager
    /// (`with engine.watch(): ...`) and has `close()`. Its thread never keeps the
    /// interpreter from exiting.
    fn watch(&self, py: Python<'_>) -> PyResult<Watch> {
        let watcher = py
            .detach(|| self.core.watch())
            .map_err(|e| errors::watch_error(py, &e))?;
        Ok(Watch {
            watcher: Mutex::new(Some(watcher)),
        })
    }

    /// The ids of the loaded rules, in evaluation order.
    #[getter]
    fn rule_ids(&self) -> Vec<String> {
        self.core.plan().rule_ids().map(str::to_owned).collect()
    }

    /// The names of the Python host functions this engine was given.
    #[getter]
    fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .python
            .iter()
            .flat_map(|f| f.names().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    fn __repr__(&self) -> String {
        let plan = self.core.plan();
        format!(
            "<acs.Engine {} rules, generation {}, {}>",
            plan.rule_count(),
            plan.generation(),
            plan.ruleset_hash()
        )
    }
}

impl Engine {
    /// An input of `evaluate_many` again, whole (it was read for a plan since replaced).
    fn whole_again<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.document(py, input) {
            Ok(document) => {
                let decision = py.detach(|| self.core.evaluate_owned(document));
                Ok(Decision::untracked(py, decision)?.into_any())
            }
            Err(error) => Ok(error.into_value(py).into_bound(py).into_any()),
        }
    }

    /// Load `source` with the options of `from_path` / `from_string` (the GIL released
    /// while reading and compiling).
    fn load(py: Python<'_>, source: RulesSource, options: Options) -> PyResult<Engine> {
        let Options {
            builder,
            python,
            registered,
        } = options;
        let core = py
            .detach(|| builder.load(source))
            .map_err(|e| errors::rules_error(py, &e))?;
        Ok(Engine::new(core, python, registered))
    }

    fn new(core: Core, python: Option<Arc<PyFunctions>>, registered: Functions) -> Engine {
        Engine {
            core,
            python,
            registered,
            reads: Mutex::new(None),
        }
    }

    /// The reads of the plan serving now, computed once per generation.
    fn reads(&self, py: Python<'_>) -> Arc<PlanReads> {
        let plan = self.core.plan();
        let mut cached = match self.reads.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match &*cached {
            Some(reads) if reads.generation == plan.generation() => Arc::clone(reads),
            _ => {
                let reads = Arc::new(PlanReads::of(
                    &plan,
                    self.core.needs_whole_input(),
                    Some(py),
                ));
                *cached = Some(Arc::clone(&reads));
                reads
            }
        }
    }

    /// The whole input object as a document, under the engine's limits.
    fn whole(&self, input: &Bound<'_, PyAny>) -> Result<Value, Problem> {
        let mut budget = Budget::new(self.core.limits());
        convert::to_value(input, &Path::Root("input"), 0, &mut budget)
    }

    /// [`Engine::whole`], and a non-dict input is the engine's `not_an_object` error.
    fn document(&self, py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<Value> {
        let document = self
            .whole(input)
            .map_err(|p| errors::problem_error(py, &p))?;
        acs_engine::InputError::check_document(&document)
            .map_err(|e| errors::input_error(py, &e))?;
        Ok(document)
    }

    /// One input of `evaluate_many` as the workers take it: JSON kept as it is, a dict
    /// read into leaves (what the plan reads; refused as `evaluate` would refuse it) or
    /// into a whole document, or the reason it cannot be.
    fn read_item(&self, reads: &PlanReads, input: &Bound<'_, PyAny>) -> Item {
        if let Some(json) = json_arg(input) {
            return Item::Json(json);
        }
        let mut budget = Budget::new(self.core.limits());
        match reads.leaves(input, &mut budget) {
            Some(Ok((layout, leaves))) => Item::Leaves(layout, leaves),
            Some(Err(problem)) => Item::Refused(problem),
            None => match self.whole(input) {
                Ok(document) => Item::Document(document),
                Err(problem) => Item::Refused(problem),
            },
        }
    }

    /// Decide one item; touches no Python, so any thread may run it. An engine that
    /// audits is given the whole document (its record keeps it instead of a deep copy).
    fn decide_item(&self, item: &mut Item) -> Outcome {
        match item {
            Item::Json(json) => match self.core.evaluate_json(json.as_ref()) {
                Ok(decision) => Outcome::Decided(Box::new(decision)),
                Err(error) => Outcome::Input(error),
            },
            Item::Leaves(layout, leaves) => {
                match self.core.evaluate_leaves(layout, std::mem::take(leaves)) {
                    Ok(Some(decision)) => Outcome::Decided(Box::new(decision)),
                    Ok(None) => Outcome::Replaced,
                    Err(error) => Outcome::Input(error),
                }
            }
            Item::Document(document) => match acs_engine::InputError::check_document(document) {
                Ok(()) if self.core.needs_whole_input() => {
                    Outcome::Decided(Box::new(self.core.evaluate_owned(std::mem::take(document))))
                }
                Ok(()) => Outcome::Decided(Box::new(self.core.evaluate(document))),
                Err(error) => Outcome::Input(error),
            },
            Item::Refused(problem) => Outcome::Refused(problem.clone()),
        }
    }

    /// One result of `evaluate_many` as Python sees it: a `Decision`, or an `InputError`
    /// instance. An input read for a plan that a reload has since replaced is decided
    /// again, whole.
    fn result<'py>(
        &self,
        py: Python<'py>,
        outcome: Outcome,
        original: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match outcome {
            Outcome::Decided(decision) => Decision::untracked(py, decision)?.into_any(),
            Outcome::Replaced => self.whole_again(py, original)?,
            Outcome::Input(error) => errors::input_error(py, &error)
                .into_value(py)
                .into_bound(py)
                .into_any(),
            Outcome::Refused(problem) => errors::problem_error(py, &problem)
                .into_value(py)
                .into_bound(py)
                .into_any(),
        })
    }

    /// `evaluate_many` on this thread alone, a chunk at a time: a chunk's inputs are read
    /// under the GIL, decided with it released, and turned into results while their
    /// documents and decisions are still in cache. Reading the whole batch first, then
    /// deciding it, then building every result ran dicts at half the speed of calling
    /// `evaluate` in a loop (BENCHMARKS.md, issue #14).
    fn evaluate_many_here<'py>(
        &self,
        py: Python<'py>,
        mut inputs: Bound<'py, pyo3::types::PyIterator>,
    ) -> PyResult<Bound<'py, PyList>> {
        let reads = self.reads(py);
        let results = PyList::empty(py);
        let mut items = Vec::with_capacity(CHUNK);
        let mut originals = Vec::with_capacity(CHUNK);
        loop {
            for input in inputs.by_ref().take(CHUNK) {
                let input = input?;
                items.push(self.read_item(&reads, &input));
                originals.push(input);
            }
            if items.is_empty() {
                return Ok(results);
            }
            let outcomes: Vec<Outcome> =
                py.detach(|| items.iter_mut().map(|i| self.decide_item(i)).collect());
            for (outcome, original) in outcomes.into_iter().zip(originals.drain(..)) {
                results.append(self.result(py, outcome, &original)?)?;
            }
            // Dropped here, under the GIL, by the thread that made them.
            items.clear();
        }
    }

    /// `evaluate_many` on `threads` workers, pipelined: this thread reads inputs under the
    /// GIL a chunk at a time and hands each chunk to the workers, which decide without the
    /// GIL, and turns decided chunks into Python results (in input order) while the
    /// workers decide the next ones. Reading and building results must hold the GIL, so
    /// they are serial; overlapped with the deciding, they no longer add to the time
    /// (measured in BENCHMARKS.md).
    fn evaluate_many_on<'py>(
        &self,
        py: Python<'py>,
        inputs: Bound<'py, pyo3::types::PyIterator>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        type Decided = (usize, Vec<Item>, Vec<Outcome>);
        let reads = self.reads(py);
        // Bounded, so that a long iterable is not read far ahead of the workers.
        let (work, queue) = mpsc::sync_channel::<(usize, Vec<Item>)>(threads * 2);
        let queue = Mutex::new(queue);
        let (done, decided) = mpsc::channel::<Decided>();
        // Locked only by this thread; the lock lets the receiver cross `py.detach`.
        let decided = Mutex::new(decided);
        let results = PyList::empty(py);
        let mut originals: Vec<Bound<'py, PyAny>> = Vec::new();
        let mut waiting: BTreeMap<usize, (Vec<Item>, Vec<Outcome>)> = BTreeMap::new();
        let mut next = 0;
        let emit = |waiting: &mut BTreeMap<usize, (Vec<Item>, Vec<Outcome>)>,
                    next: &mut usize,
                    originals: &[Bound<'py, PyAny>]|
         -> PyResult<()> {
            // A chunk's items come back with its outcomes, to be dropped on this thread,
            // under the GIL, after its results are built.
            while let Some((_items, outcomes)) = waiting.remove(next) {
                let first = *next * CHUNK;
                for (k, outcome) in outcomes.into_iter().enumerate() {
                    let original = originals
                        .get(first + k)
                        .ok_or_else(|| errors::misuse("an input went missing"))?;
                    results.append(self.result(py, outcome, original)?)?;
                }
                *next += 1;
            }
            Ok(())
        };
        std::thread::scope(|scope| -> PyResult<()> {
            // This thread is one of the `threads`: it reads inputs and builds results
            // under the GIL, and decides a chunk itself whenever the workers are behind,
            // so that `threads` threads share `threads` cores (a worker per thread beside
            // it left the Python side two thirds of a core on two).
            for _ in 1..threads {
                let done = done.clone();
                let queue = &queue;
                scope.spawn(move || loop {
                    let chunk = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => break,
                    };
                    let Ok((index, mut items)) = chunk else { break };
                    let outcomes = items.iter_mut().map(|i| self.decide_item(i)).collect();
                    if done.send((index, items, outcomes)).is_err() {
                        break;
                    }
                });
            }
            drop(done);
            let mut chunks = 0;
            let mut inputs = inputs;
            loop {
                let mut items = Vec::with_capacity(CHUNK);
                for input in inputs.by_ref().take(CHUNK) {
                    let input = input?;
                    items.push(self.read_item(&reads, &input));
                    originals.push(input);
                }
                if items.is_empty() {
                    break;
                }
                let last = items.len() < CHUNK;
                let chunk = (chunks, items);
                chunks += 1;
                // Build what is ready before waiting for room in the queue.
                if let Ok(decided) = decided.lock() {
                    while let Ok((index, items, outcomes)) = decided.try_recv() {
                        waiting.insert(index, (items, outcomes));
                    }
                }
                emit(&mut waiting, &mut next, &originals)?;
                match work.try_send(chunk) {
                    Ok(()) => {}
                    // The workers are behind: decide this chunk here.
                    Err(mpsc::TrySendError::Full((index, mut items))) => {
                        let outcomes =
                            py.detach(|| items.iter_mut().map(|i| self.decide_item(i)).collect());
                        waiting.insert(index, (items, outcomes));
                    }
                    Err(mpsc::TrySendError::Disconnected(_)) => {
                        return Err(errors::misuse("the evaluation workers stopped"));
                    }
                }
                if last {
                    break;
                }
            }
            drop(work);
            while next < chunks {
                // Help with the chunks still queued, then wait for the workers' last.
                let queued = queue
                    .try_lock()
                    .ok()
                    .and_then(|queue| queue.try_recv().ok());
                if let Some((index, mut items)) = queued {
                    let outcomes =
                        py.detach(|| items.iter_mut().map(|i| self.decide_item(i)).collect());
                    waiting.insert(index, (items, outcomes));
                } else if !waiting.contains_key(&next) {
                    let (index, items, outcomes) = py
                        .detach(|| decided.lock().ok().and_then(|d| d.recv().ok()))
                        .ok_or_else(|| errors::misuse("the evaluation workers stopped"))?;
                    waiting.insert(index, (items, outcomes));
                }
                emit(&mut waiting, &mut next, &originals)?;
            }
            Ok(())
        })?;
        Ok(results)
    }
}

/// A running watcher; `close()` stops it (so does leaving its `with` block).
#[pyclass(module = "acs", name = "Watch", frozen)]
pub(crate) struct Watch {
    watcher: Mutex<Option<acs_engine::Watcher>>,
}

#[pymethods]
impl Watch {
    /// Stop watching. Closing twice does nothing.
    fn close(&self, py: Python<'_>) {
        let taken = match self.watcher.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(watcher) = taken {
            py.detach(|| watcher.close());
        }
    }

    /// Whether the watcher still runs.
    #[getter]
    fn active(&self) -> bool {
        self.watcher.lock().map(|w| w.is_some()).unwrap_or(false)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }
}
