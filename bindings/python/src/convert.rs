//! Values across the boundary. Python objects become the engine's documents
//! (`serde_json::Value`) through [`to_value`], under the engine's input limits and naming
//! the field it refuses; engine values become Python objects through [`to_py`].
//! [`Reads`] lets `Engine.evaluate` convert only the subtrees the serving plan may read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use acs_engine::{Leaf, LeafLayout};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Why a Python object is no input document.
#[derive(Clone)]
pub(crate) enum Problem {
    /// A value JSON cannot hold (`found` says what), at `path`.
    NotJson { path: String, found: String },
    /// Nested deeper than the limit at `path` (a cyclic object ends here too).
    TooDeep { path: String, limit: usize },
    /// More text than the limit.
    TooLarge { limit: usize },
}

impl Problem {
    /// The engine's code and a one-line message.
    pub(crate) fn words(&self) -> (&'static str, String) {
        match self {
            Problem::NotJson { path, found } => (
                "not_json",
                format!("`{path}` is {found}, which JSON cannot hold"),
            ),
            Problem::TooDeep { path, limit } => (
                "too_deep",
                format!("the input nests dicts and lists more than {limit} deep at `{path}` (a cyclic object?) (limits[\"max_input_depth\"])"),
            ),
            Problem::TooLarge { limit } => (
                "too_large",
                format!("the input holds more than {limit} bytes of text (limits[\"max_input_bytes\"])"),
            ),
        }
    }

    pub(crate) fn path(&self) -> Option<&str> {
        match self {
            Problem::NotJson { path, .. } | Problem::TooDeep { path, .. } => Some(path),
            Problem::TooLarge { .. } => None,
        }
    }
}

/// Where a value sits, rendered only when something is refused (`input.event.amount`,
/// `input.items[3]`). Lives on the stack: no allocation per field.
pub(crate) enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root(name) => (*name).to_owned(),
            Path::Key(parent, key) => format!("{}.{key}", parent.render()),
            Path::Index(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }
}

/// The engine's input limits, spent as the conversion goes.
pub(crate) struct Budget {
    max_depth: usize,
    max_bytes: usize,
    bytes: usize,
}

impl Budget {
    pub(crate) fn new(limits: &acs_engine::Limits) -> Budget {
        Budget {
            max_depth: limits.max_input_depth,
            max_bytes: limits.max_input_bytes,
            bytes: 0,
        }
    }

    fn spend(&mut self, bytes: usize) -> Result<(), Problem> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.max_bytes {
            return Err(Problem::TooLarge {
                limit: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// `text` as UTF-8, or `None` when it holds lone surrogates (no UTF-8 exists).
///
/// On CPython 3.10 and later the text is borrowed in place: `PyUnicode_AsUTF8AndSize`
/// returns the string's own UTF-8 (an ASCII string's characters as they lie). pyo3's
/// `to_cow` cannot use it in this abi3-py39 build, since 3.9's stable ABI lacks it, and
/// copies every string through a new `bytes` object instead: about 290 instructions a
/// string, a fifth of reading a dict's leaves (callgrind, BENCHMARKS.md, #14).
pub(crate) fn utf8<'a>(text: &'a Bound<'_, PyString>) -> Option<Cow<'a, str>> {
    #[cfg(unix)]
    if *UTF8_IN_PLACE.get_or_init(|| text.py().version_info() >= (3, 10)) {
        let mut size: pyo3::ffi::Py_ssize_t = 0;
        // SAFETY: `text` is a live str object, and this thread is attached to the
        // interpreter (a `Bound` proves both); the function is in the stable ABI of the
        // running interpreter (3.10+), with the signature declared below.
        let data = unsafe { PyUnicode_AsUTF8AndSize(text.as_ptr(), &mut size) };
        if data.is_null() {
            // Lone surrogates: clear the UnicodeEncodeError, the caller words the refusal.
            drop(PyErr::take(text.py()));
            return None;
        }
        let size = usize::try_from(size).ok()?;
        // SAFETY: on success CPython returns `size` bytes of valid UTF-8, cached in the
        // string object and freed with it; `text` keeps the object alive for `'a`, and a
        // str is immutable.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
        // SAFETY: valid UTF-8, as above (CPython encodes strictly, refusing surrogates).
        return Some(Cow::Borrowed(unsafe {
            std::str::from_utf8_unchecked(bytes)
        }));
    }
    text.to_cow().ok()
}

/// Whether the running interpreter has `PyUnicode_AsUTF8AndSize` in its stable ABI.
#[cfg(unix)]
static UTF8_IN_PLACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

// Exported by every CPython since 3.3, and part of the stable ABI since 3.10: on unix an
// extension's symbols resolve against the interpreter when it is loaded, so declaring it
// costs nothing on 3.9, where `utf8` never calls it. (Windows links abi3 extensions
// against python3.dll, which exports only the stable ABI of its version: `to_cow` there.)
#[cfg(unix)]
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::ffi::c_char;
}

/// `object` as a document: dict (str keys), list, tuple, str, int within 64 bits, finite
/// float, bool, None. Anything else is refused with the path of the field.
pub(crate) fn to_value(
    object: &Bound<'_, PyAny>,
    path: &Path<'_>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, Problem> {
    if let Ok(text) = object.cast::<PyString>() {
        let text = utf8(text).ok_or_else(|| Problem::NotJson {
            path: path.render(),
            found: "a string with lone surrogates".to_owned(),
        })?;
        budget.spend(text.len())?;
        return Ok(Value::String(text.into_owned()));
    }
    if object.is_none() {
        return Ok(Value::Null);
    }
    // `bool` is a subclass of `int`: it is asked first.
    if let Ok(flag) = object.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if object.cast::<PyInt>().is_ok() {
        if let Ok(n) = object.extract::<i64>() {
            return Ok(Value::from(n));
        }
        if let Ok(n) = object.extract::<u64>() {
            return Ok(Value::from(n));
        }
        return Err(Problem::NotJson {
            path: path.render(),
            found: "an integer beyond 64 bits".to_owned(),
        });
    }
    if let Ok(float) = object.cast::<PyFloat>() {
        let x = float.value();
        return Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| Problem::NotJson {
                path: path.render(),
                found: format!("the float {}", python_float(x)),
            });
    }
    let deeper = || within_depth(path, depth, budget);
    if let Ok(dict) = object.cast::<PyDict>() {
        deeper()?;
        let mut map = Map::new();
        for (key, value) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(Problem::NotJson {
                    path: path.render(),
                    found: format!("a dict with a key of type {}", type_name(&key)),
                });
            };
            let key = utf8(key).ok_or_else(|| Problem::NotJson {
                path: path.render(),
                found: "a dict with a key with lone surrogates".to_owned(),
            })?;
            budget.spend(key.len())?;
            let here = Path::Key(path, &key);
            let value = to_value(&value, &here, depth + 1, budget)?;
            map.insert(key.into_owned(), value);
        }
        return Ok(Value::Object(map));
    }
    let sequence = |items: &mut dyn Iterator<Item = Bound<'_, PyAny>>,
                    len: usize,
                    budget: &mut Budget|
     -> Result<Value, Problem> {
        let mut out = Vec::with_capacity(len);
        for (index, item) in items.enumerate() {
            let here = Path::Index(path, index);
            out.push(to_value(&item, &here, depth + 1, budget)?);
        }
        Ok(Value::Array(out))
    };
    if let Ok(list) = object.cast::<PyList>() {
        deeper()?;
        return sequence(&mut list.iter(), list.len(), budget);
    }
    if let Ok(tuple) = object.cast::<PyTuple>() {
        deeper()?;
        return sequence(&mut tuple.iter(), tuple.len(), budget);
    }
    Err(Problem::NotJson {
        path: path.render(),
        found: format!("of type {}", type_name(object)),
    })
}

fn budget_depth(budget: &Budget) -> usize {
    budget.max_depth
}

/// A container at `depth` is refused at the depth limit.
fn within_depth(path: &Path<'_>, depth: usize, budget: &Budget) -> Result<(), Problem> {
    if depth >= budget_depth(budget) {
        Err(Problem::TooDeep {
            path: path.render(),
            limit: budget_depth(budget),
        })
    } else {
        Ok(())
    }
}

/// The members of `dict` on the read paths `keys`, each path's value converted by
/// [`to_value`] and put at its place in `leaves`: what `Engine::evaluate_leaves` reads,
/// without the objects on the way. A member the plan reads nothing of is not looked at;
/// one on the way that is no dict is converted all the same, for its checks.
fn leaves_reading(
    dict: &Bound<'_, PyDict>,
    keys: &[ReadKey],
    path: &Path<'_>,
    depth: usize,
    budget: &mut Budget,
    leaves: &mut [Leaf<'static>],
) -> Result<(), Problem> {
    within_depth(path, depth, budget)?;
    for key in keys {
        let found = match &key.python {
            Some(python) => dict.get_item(python.bind(dict.py())),
            None => dict.get_item(key.name.as_str()),
        };
        let Ok(Some(value)) = found else {
            continue;
        };
        let here = Path::Key(path, &key.name);
        budget.spend(key.name.len())?;
        match (&key.below, value.cast::<PyDict>()) {
            (Reads::Keys(below), Ok(inner)) => {
                leaves_reading(inner, below, &here, depth + 1, budget, leaves)?;
            }
            (Reads::All, _) => {
                let converted = to_value(&value, &here, depth + 1, budget)?;
                let slot = key.leaf.and_then(|index| leaves.get_mut(index as usize));
                if let Some(leaf) = slot {
                    *leaf = Leaf::Value(converted);
                }
            }
            // No object on the way to the paths below: the plan finds nothing there. It
            // is converted all the same, for the checks a document would have made.
            (Reads::Keys(_), Err(_)) => {
                to_value(&value, &here, depth + 1, budget)?;
            }
        }
    }
    Ok(())
}

fn python_float(x: f64) -> &'static str {
    if x.is_nan() {
        "nan"
    } else if x > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// An engine value as Python objects: dict, list, str, int, float, bool, None.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A serde type (a report, a status) as Python objects, through its JSON value.
pub(crate) fn serde_to_py<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    to_py(py, &value)
}

/// The part of an input a plan may read, as a tree of keys: `All` below a read path's
/// end, `Keys` where only some members are read.
pub(crate) enum Reads {
    All,
    Keys(Vec<ReadKey>),
}

/// A member the plan may read, and what it may read below it.
pub(crate) struct ReadKey {
    pub(crate) name: String,
    /// The number of the read path that ends here, in the plan's order
    /// (`Plan::input_reads`, as its `LeafLayout` numbers them).
    pub(crate) leaf: Option<u32>,
    /// The name as an interned Python string, made once per plan: a dict lookup by a
    /// `&str` builds, hashes and frees a Python string every time (a quarter of the
    /// instructions of converting a dict in `evaluate_many`, BENCHMARKS.md issue #14),
    /// while this one keeps its hash. `None` where no interpreter was at hand (Arrow).
    pub(crate) python: Option<Py<PyString>>,
    pub(crate) below: Reads,
}

impl Reads {
    /// The tree of `paths` (each root first, prefix-minimal as `Plan::input_reads` gives),
    /// its names also made Python strings when `py` is given.
    fn of(paths: &[Vec<String>], py: Option<Python<'_>>) -> Reads {
        let mut root = Reads::Keys(Vec::new());
        for (number, path) in paths.iter().enumerate() {
            let mut node = &mut root;
            for (i, name) in path.iter().enumerate() {
                let last = i + 1 == path.len();
                let Reads::Keys(keys) = node else { break };
                let at = match keys.iter().position(|key| key.name == *name) {
                    Some(at) => at,
                    None => {
                        keys.push(ReadKey {
                            name: name.clone(),
                            leaf: None,
                            python: py.map(|py| PyString::intern(py, name).unbind()),
                            below: Reads::Keys(Vec::new()),
                        });
                        keys.len() - 1
                    }
                };
                let Some(key) = keys.get_mut(at) else {
                    break;
                };
                if last {
                    key.below = Reads::All;
                    key.leaf = u32::try_from(number).ok();
                }
                node = &mut key.below;
            }
        }
        root
    }
}

/// What one plan generation may read, per event type.
pub(crate) struct PlanReads {
    pub(crate) generation: u64,
    /// Inputs are converted whole (`Engine::needs_whole_input`: the engine records them).
    whole: bool,
    by_type: HashMap<String, TypeReads>,
    other: TypeReads,
}

/// A dict read as leaves: the layout they follow and the leaves.
pub(crate) type DictLeaves = (Arc<LeafLayout>, Vec<Leaf<'static>>);

/// What the plan reads of one event type: as a tree of members, and, for reading dicts,
/// as the engine's layout of leaves (the same paths, numbered alike).
struct TypeReads {
    reads: Reads,
    layout: Option<Arc<LeafLayout>>,
}

impl TypeReads {
    fn of(plan: &acs_engine::Plan, event_type: Option<&str>, py: Option<Python<'_>>) -> Self {
        TypeReads {
            reads: Reads::of(&plan.input_reads(event_type), py),
            // Arrow reads struct columns through layouts of its own, per chunk.
            layout: py.map(|_| Arc::new(plan.leaf_layout(event_type))),
        }
    }
}

impl PlanReads {
    /// What `plan` reads; with `py`, for reading dicts: its member names are made Python
    /// strings too, and its leaf layouts are made.
    pub(crate) fn of(plan: &acs_engine::Plan, whole: bool, py: Option<Python<'_>>) -> PlanReads {
        PlanReads {
            generation: plan.generation(),
            whole,
            by_type: plan
                .event_types()
                .into_iter()
                .map(|t| (t.to_owned(), TypeReads::of(plan, Some(t), py)))
                .collect(),
            other: TypeReads::of(plan, None, py),
        }
    }

    /// What the plan may read of an input of type `event_type`; `None` when inputs are
    /// taken whole.
    pub(crate) fn for_type(&self, event_type: Option<&str>) -> Option<&Reads> {
        if self.whole {
            return None;
        }
        Some(
            &event_type
                .and_then(|t| self.by_type.get(t))
                .unwrap_or(&self.other)
                .reads,
        )
    }

    /// What the plan reads of `dict`, by its `event.type`.
    fn of_dict(&self, dict: &Bound<'_, PyDict>) -> &TypeReads {
        let py = dict.py();
        let event_type = dict
            .get_item(pyo3::intern!(py, "event"))
            .ok()
            .flatten()
            .and_then(|event| {
                event
                    .cast::<PyDict>()
                    .ok()?
                    .get_item(pyo3::intern!(py, "type"))
                    .ok()
                    .flatten()
            });
        // Kept alive here, so that its text is looked up where it lies.
        let text = event_type
            .as_ref()
            .and_then(|t| t.cast::<PyString>().ok())
            .and_then(utf8);
        text.as_deref()
            .and_then(|t| self.by_type.get(t))
            .unwrap_or(&self.other)
    }

    /// What the plan reads of `input` (a dict) as leaves of its layout, for
    /// `Engine::evaluate_leaves`: the members on the read paths converted as [`to_value`]
    /// converts them, in the same order under the same budget, so an input is refused
    /// for what a document cut to those paths would be refused for. `None` when the
    /// input is no dict (the whole conversion then says why), must be converted whole,
    /// is read whole by the plan, or these reads were made without an interpreter.
    pub(crate) fn leaves(
        &self,
        input: &Bound<'_, PyAny>,
        budget: &mut Budget,
    ) -> Option<Result<DictLeaves, Problem>> {
        if self.whole {
            return None;
        }
        let dict = input.cast::<PyDict>().ok()?;
        let of_type = self.of_dict(dict);
        let (Reads::Keys(keys), Some(layout)) = (&of_type.reads, &of_type.layout) else {
            return None;
        };
        let mut leaves = vec![Leaf::Absent; layout.paths().len()];
        Some(
            leaves_reading(dict, keys, &Path::Root("input"), 0, budget, &mut leaves)
                .map(|()| (Arc::clone(layout), leaves)),
        )
    }
}
