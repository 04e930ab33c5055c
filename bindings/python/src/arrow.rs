//! `Engine.evaluate_arrow`: a batch of inputs in any Arrow form, decided row by row, the
//! decisions back as one Arrow record batch. This module owns the whole Arrow side of the
//! binding: which inputs are accepted (through the Arrow PyCapsule interface, so neither
//! pyarrow nor any other Arrow library is needed to import `acs`), how a row becomes an
//! input document, how rows are split across threads, and the shape of the output. The
//! Engine pyclass only delegates to [`evaluate_arrow`].
//!
//! # Input
//! Anything with `__arrow_c_array__` or `__arrow_c_stream__`: a pyarrow Array,
//! ChunkedArray, RecordBatch, Table or RecordBatchReader, a polars DataFrame, a DuckDB
//! result, an arro3 or nanoarrow object. A stream is read chunk by chunk.
//!
//! The rows are taken from, in this order:
//! - the column named by `column` (a JSON column);
//! - the array itself, when the input is a bare array (a JSON column);
//! - the only column of a one-column table, when it is a JSON column;
//! - the columns named `event`, `ctx`, `system` and `db` (struct columns, each the root of
//!   that name; other columns are ignored, a missing root is absent from every document).
//!
//! A JSON column holds one JSON document per row as `utf8`, `large_utf8`, `utf8_view`,
//! `binary`, `large_binary` or `binary_view` (or is all-null, type `null`). Its bytes are
//! read in place from the Arrow buffer and decided by `acs_engine::Engine::evaluate_json`,
//! exactly as `evaluate_json_text` decides them.
//!
//! Root columns are read where they lie, at the paths the serving plan may read for the
//! row's `event.type` (`Plan::leaf_layout`): strings borrowed from the Arrow buffers,
//! numbers as they are, and the engine decides on these leaves without a document being
//! built (`Engine::evaluate_leaves`). A path through a map (whose keys differ per row),
//! an engine that audits (its records keep whole inputs), and recorded calls or counts
//! convert the row into a document instead. Either way, values read as JSON values:
//!
//! | Arrow | JSON |
//! |---|---|
//! | struct | object; a null field is absent |
//! | map with string keys | object (a repeated key: the last one wins) |
//! | list, large list, fixed-size list | array; a null element is `null` |
//! | bool | `true` / `false` |
//! | int8..int64, uint8..uint64 | integer |
//! | float32, float64 | number; NaN and infinities are `null` (JSON has neither) |
//! | utf8, large utf8, utf8 view | string |
//! | null | `null` |
//!
//! Any other type (dates, timestamps, decimals, binary, dictionaries...) is refused before
//! any row is decided, with a `TypeError` naming the field's path and type: cast it to one
//! of the above first. A null root is absent from the document; a null row of a struct
//! array given as the input is an error row.
//!
//! # Output
//! One row per input row, in input order: `verdict` (`allowed`, `rejected` or `error`),
//! `code` and `rule_id` (of the rejection, else null), `matched_ids` and
//! `shadow_matched_ids` (`list<utf8>`), `errors` (`list<utf8>`: `RULE_ID: message` per rule
//! error; for an `error` row, the one message saying why the row could not be decided: a
//! null row, invalid JSON, an input beyond the engine's limits) and `ruleset_hash` (of the
//! rules that decided; for an `error` row, of the rules serving when its chunk was read).
//!
//! # Threads and host functions
//! Rows are decided with the GIL released, split into contiguous ranges over `threads`
//! scoped threads (default: every core), and put back in order. Host functions are called
//! on those threads, off the GIL: only functions registered in Rust are answered. A
//! function implemented by a Python callable would have to re-attach to the interpreter
//! for every call (`Python::attach`), which serialises the threads on the GIL; whoever
//! adds Python host functions to the Engine decides whether this method does that or
//! refuses such engines.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::convert::{PlanReads, Reads};
use acs_engine::backtest::{self, BacktestPart, RecordedCalls};
use acs_engine::velocity::{CountedEvent, SharedStore};
use acs_engine::{Decision, Engine, RulesetHash, Verdict};
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, LargeStringArray,
    OffsetSizeTrait, RecordBatch, StringArray, StringViewArray, StructArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Schema, SchemaRef};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::PyRecordBatch;
use serde_json::{Map, Number, Value};

/// The document roots a struct-column table may have, in the engine's order.
const ROOTS: [&str; 4] = ["event", "ctx", "system", "db"];

/// Below this many rows per thread, starting a thread costs more than it saves.
const MIN_ROWS_PER_THREAD: usize = 256;

/// Decide every row of `data` (see the module doc) on `threads` threads (default: every
/// core) and return the decisions as a record batch, in row order.
pub fn evaluate_arrow(
    py: Python<'_>,
    engine: &Engine,
    data: &Bound<'_, PyAny>,
    columns: &Columns<'_>,
    threads: Option<usize>,
) -> PyResult<PyRecordBatch> {
    let threads = match threads {
        Some(0) => return Err(PyValueError::new_err("threads must be at least 1")),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let reader = arrow_input(py, data)?.into_reader()?;
    let layout = Layout::of(&reader.field(), columns, engine.limits().max_input_depth)?;
    let schema = output_schema();
    let mut parts = Vec::new();
    // The stream is pulled with the GIL held: its producer may be Python code.
    for chunk in reader {
        let chunk = chunk.map_err(|e| PyValueError::new_err(format!("reading the input: {e}")))?;
        if chunk.is_empty() {
            continue;
        }
        let hash = engine.plan().ruleset_hash();
        let decided = py.detach(|| decide_chunk(engine, &layout, &chunk, hash, threads));
        parts.extend(decided?);
    }
    let batch = arrow_select::concat::concat_batches(&schema, &parts)
        .map_err(|e| PyRuntimeError::new_err(format!("assembling the decisions: {e}")))?;
    Ok(PyRecordBatch::new(batch))
}

/// Anything with an Arrow PyCapsule interface, or a `TypeError` saying what is expected.
fn arrow_input(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<AnyArray> {
    if !data.hasattr(intern!(py, "__arrow_c_array__"))?
        && !data.hasattr(intern!(py, "__arrow_c_stream__"))?
    {
        return Err(PyTypeError::new_err(format!(
            "expected an Arrow array, record batch, table or stream (an object with __arrow_c_array__ or __arrow_c_stream__), got {}",
            data.get_type().name()?
        )));
    }
    data.extract()
}

/// The columns a caller names: the JSON documents (`column`), and for replays of recorded
/// requests the host calls' recorded answers (`calls`, JSON arrays as an audit record
/// holds them) and the instant `now()` read (`now`, epoch milliseconds).
/// A backtest on Spark adds each row's velocity counts (`velocity`, JSON arrays as
/// `acs_engine::backtest::recorded_counts` reads them), computed from the whole input.
#[derive(Default, Clone, Copy)]
pub struct Columns<'a> {
    pub column: Option<&'a str>,
    pub calls: Option<&'a str>,
    pub now: Option<&'a str>,
    pub velocity: Option<&'a str>,
}

/// Where a chunk's rows come from.
struct Layout {
    inputs: Inputs,
    /// The recorded answers' column, and the recorded instants' column, in a table.
    calls: Option<(usize, Option<usize>)>,
    /// The velocity counts' column, in a table.
    velocity: Option<usize>,
}

enum Inputs {
    /// A JSON column: the chunk itself (`None`), or the column at this index of a table.
    Json(Option<usize>),
    /// Struct columns: the index of each root's column in a table, in [`ROOTS`] order.
    Roots([Option<usize>; 4]),
}

impl Layout {
    /// Choose the rows' source from the input's type, checking every type it will read.
    fn of(field: &Field, columns: &Columns<'_>, max_depth: usize) -> PyResult<Layout> {
        let calls = match (field.data_type(), columns.calls, columns.now) {
            (_, None, Some(_)) => {
                return Err(PyValueError::new_err(
                    "now=... names the recorded instants of recorded calls: give calls=... too",
                ))
            }
            (_, None, None) => None,
            (DataType::Struct(fields), Some(calls), now) => {
                let find = |name: &str| {
                    fields.find(name).ok_or_else(|| {
                        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                        PyValueError::new_err(format!(
                            "no column {name:?}; the input's columns are {names:?}"
                        ))
                    })
                };
                let (calls_index, calls_field) = find(calls)?;
                check_json_column(&format!("column {calls:?}"), calls_field.data_type())?;
                let now_index = match now {
                    Some(now) => {
                        let (index, field) = find(now)?;
                        if !matches!(
                            field.data_type(),
                            DataType::Float64 | DataType::Int64 | DataType::Null
                        ) {
                            return Err(PyTypeError::new_err(format!(
                                "column {now:?} is of type {}; recorded instants must be float64 or int64 epoch milliseconds",
                                field.data_type()
                            )));
                        }
                        Some(index)
                    }
                    None => None,
                };
                Some((calls_index, now_index))
            }
            (other, Some(_), _) => {
                return Err(PyValueError::new_err(format!(
                    "calls=... names a column of a table, but the input is a single array of type {other}"
                )))
            }
        };
        let velocity = match (field.data_type(), columns.velocity) {
            (_, None) => None,
            (DataType::Struct(fields), Some(name)) => {
                let (index, found) = fields.find(name).ok_or_else(|| {
                    PyValueError::new_err(format!("no velocity column {name:?}"))
                })?;
                check_json_column(&format!("column {name:?}"), found.data_type())?;
                Some(index)
            }
            (other, Some(_)) => {
                return Err(PyValueError::new_err(format!(
                    "velocity=... names a column of a table, but the input is a single array of type {other}"
                )))
            }
        };
        let inputs = Inputs::of(field, columns.column, max_depth)?;
        Ok(Layout {
            inputs,
            calls,
            velocity,
        })
    }
}

impl Inputs {
    fn of(field: &Field, column: Option<&str>, max_depth: usize) -> PyResult<Inputs> {
        let DataType::Struct(fields) = field.data_type() else {
            if let Some(name) = column {
                return Err(PyValueError::new_err(format!(
                    "column={name:?} names a column of a table, but the input is a single array of type {}",
                    field.data_type()
                )));
            }
            check_json_column("the input array", field.data_type())?;
            return Ok(Inputs::Json(None));
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        if let Some(name) = column {
            let (index, field) = fields.find(name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "no column {name:?}; the input's columns are {names:?}"
                ))
            })?;
            check_json_column(&format!("column {name:?}"), field.data_type())?;
            return Ok(Inputs::Json(Some(index)));
        }
        if let [only] = fields.as_ref() {
            if !ROOTS.contains(&only.name().as_str()) {
                check_json_column(&format!("column {:?}", only.name()), only.data_type())?;
                return Ok(Inputs::Json(Some(0)));
            }
        }
        let mut roots = [None; 4];
        for (slot, root) in roots.iter_mut().zip(ROOTS) {
            if let Some((index, field)) = fields.find(root) {
                if !matches!(field.data_type(), DataType::Struct(_) | DataType::Null) {
                    return Err(PyTypeError::new_err(format!(
                        "column {root:?} is of type {}; a root column must be a struct",
                        field.data_type()
                    )));
                }
                // The document is depth 1, its roots depth 2.
                check_value_type(root, field.data_type(), 2, max_depth)?;
                *slot = Some(index);
            }
        }
        if roots.iter().all(Option::is_none) {
            return Err(PyValueError::new_err(format!(
                "which column holds the inputs? The input's columns are {names:?}: name a JSON column with column=..., or give struct columns named event, ctx, system, db"
            )));
        }
        Ok(Inputs::Roots(roots))
    }
}

/// Refuse a JSON column of a type that holds no text.
fn check_json_column(what: &str, data_type: &DataType) -> PyResult<()> {
    match data_type {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::Null => Ok(()),
        other => Err(PyTypeError::new_err(format!(
            "{what} is of type {other}; a column of JSON documents must be utf8, large_utf8, utf8_view, binary, large_binary or binary_view"
        ))),
    }
}

/// Refuse, before any row is read, a type [`to_json`] does not convert, repeated field
/// names (an object has each key once) and nesting beyond the engine's input depth.
fn check_value_type(path: &str, data_type: &DataType, depth: usize, max: usize) -> PyResult<()> {
    let nested = |what: &str| -> PyResult<()> {
        if depth > max {
            return Err(PyValueError::new_err(format!(
                "{path} nests {what} {depth} deep, more than the engine's input depth limit of {max}"
            )));
        }
        Ok(())
    };
    match data_type {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => Ok(()),
        DataType::Struct(fields) => {
            nested("objects")?;
            let mut seen = std::collections::HashSet::new();
            for field in fields {
                if !seen.insert(field.name()) {
                    return Err(PyValueError::new_err(format!(
                        "{path} has two fields named {:?}; an object has each key once",
                        field.name()
                    )));
                }
                let inner = format!("{path}.{}", field.name());
                check_value_type(&inner, field.data_type(), depth + 1, max)?;
            }
            Ok(())
        }
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            nested("arrays")?;
            check_value_type(&format!("{path}[]"), item.data_type(), depth + 1, max)
        }
        DataType::Map(entries, _) => {
            nested("objects")?;
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(unsupported(path, data_type));
            };
            let (Some(key), Some(value)) = (kv.first(), kv.get(1)) else {
                return Err(unsupported(path, data_type));
            };
            if !matches!(
                key.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return Err(PyTypeError::new_err(format!(
                    "{path} is a map with keys of type {}; an object's keys must be strings",
                    key.data_type()
                )));
            }
            check_value_type(&format!("{path}{{}}"), value.data_type(), depth + 1, max)
        }
        other => Err(unsupported(path, other)),
    }
}

fn unsupported(path: &str, data_type: &DataType) -> PyErr {
    PyTypeError::new_err(format!(
        "{path} is of type {data_type}, which has no JSON form here: cast it to a string, a number, a bool, a struct, a list or a map first"
    ))
}

/// Decide one chunk: its rows split into contiguous ranges, one per thread, each range's
/// decisions a record batch, returned in row order.
fn decide_chunk(
    engine: &Engine,
    layout: &Layout,
    chunk: &ArrayRef,
    hash: RulesetHash,
    threads: usize,
) -> PyResult<Vec<RecordBatch>> {
    let mut rows = Rows::new(layout, chunk.as_ref())?;
    // Root columns are converted to documents only where the plan may read them (the
    // paths dicts are read at; `Plan::input_reads`), or not at all: read as leaves where
    // they lie.
    let plan = engine.plan();
    rows.reads = Some(PlanReads::of(&plan, engine.needs_whole_input(), None));
    if let RowsFrom::Roots(roots) = &rows.inputs {
        if !engine.needs_whole_input() {
            rows.leaves = Some(LeafColumns::of(&plan, roots));
        }
    }
    let len = chunk.len();
    let workers = threads.min(len.div_ceil(MIN_ROWS_PER_THREAD)).max(1);
    let per_worker = len.div_ceil(workers);
    let decide = |start: usize| {
        let end = (start + per_worker).min(len);
        let mut out = Out::with_capacity(end - start);
        for row in start..end {
            rows.decide(engine, row, hash, &mut out);
        }
        out.finish()
    };
    let batches: Vec<Result<RecordBatch, ArrowError>> = if workers == 1 {
        vec![decide(0)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..len)
                .step_by(per_worker)
                .map(|start| scope.spawn(move || decide(start)))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(ArrowError::ComputeError("a worker thread panicked".into()))
                    })
                })
                .collect()
        })
    };
    batches
        .into_iter()
        .map(|batch| {
            batch.map_err(|e| PyRuntimeError::new_err(format!("building the decisions: {e}")))
        })
        .collect()
}

/// One chunk's rows, typed once so that each row is read without dispatch on the schema.
struct Rows<'a> {
    /// Nulls of the enclosing struct array, when the input is one.
    outer: Option<&'a StructArray>,
    inputs: RowsFrom<'a>,
    /// The recorded answers of each row's host calls, and the instant its `now()` read.
    calls: Option<(JsonColumn<'a>, Option<&'a dyn Array>)>,
    /// Each row's velocity counts.
    velocity: Option<JsonColumn<'a>>,
    /// What the plan may read of an input, when root columns need convert only that.
    reads: Option<PlanReads>,
    /// Where the plan's read paths lie in the root columns, when rows are read as
    /// leaves (struct columns, an engine that does not audit).
    leaves: Option<LeafColumns<'a>>,
    /// Where each row's `event.type` lies in the root columns, resolved once per chunk.
    event_type: Option<PathAt<'a>>,
}

/// The serving plan's read paths of each event type, each resolved once per chunk to the
/// arrays it runs through: a row's leaves are then read where they lie (strings borrowed
/// from the Arrow buffers, numbers as they are), and no document is built
/// (`Engine::evaluate_leaves`).
struct LeafColumns<'a> {
    by_type: std::collections::HashMap<String, Option<PathsAt<'a>>>,
    other: Option<PathsAt<'a>>,
}

/// One event type's layout and, per path, its arrays (`None`: no column has that path,
/// so it is absent in every row). `None` for the whole type when a path runs through a
/// column that is not a struct (a map's keys differ per row): such rows are converted
/// into documents instead.
struct PathsAt<'a> {
    layout: acs_engine::LeafLayout,
    paths: Vec<Option<PathAt<'a>>>,
}

/// A path's array, resolved once per chunk: the null masks of the structs on the way
/// and of the end (a null anywhere there leaves the path absent), and the end typed, so
/// that a row's leaf is read without asking the array its type again.
struct PathAt<'a> {
    nulls: Vec<&'a NullBuffer>,
    len: usize,
    end: End<'a>,
}

/// The array at a path's end, by the types rows commonly hold; any other type (narrow
/// integers, containers) is read through `scalar` and `to_json`, as a document would be.
enum End<'a> {
    Bool(&'a BooleanArray),
    Int64(&'a Int64Array),
    Int32(&'a Int32Array),
    Float64(&'a Float64Array),
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Other(&'a dyn Array),
}

impl<'a> End<'a> {
    fn of(array: &'a dyn Array) -> End<'a> {
        let typed = match array.data_type() {
            DataType::Boolean => array.as_boolean_opt().map(End::Bool),
            DataType::Int64 => array.as_primitive_opt::<Int64Type>().map(End::Int64),
            DataType::Int32 => array.as_primitive_opt::<Int32Type>().map(End::Int32),
            DataType::Float64 => array.as_primitive_opt::<Float64Type>().map(End::Float64),
            DataType::Utf8 => array.as_string_opt::<i32>().map(End::Utf8),
            DataType::LargeUtf8 => array.as_string_opt::<i64>().map(End::LargeUtf8),
            DataType::Utf8View => array.as_string_view_opt().map(End::Utf8View),
            _ => None,
        };
        typed.unwrap_or(End::Other(array))
    }

    /// The value at `row` (not null), as `scalar` and `to_json` read it.
    fn leaf(&self, row: usize) -> Result<acs_engine::Leaf<'a>, String> {
        use acs_engine::Leaf;
        Ok(match *self {
            End::Bool(array) => Leaf::Bool(array.value(row)),
            End::Int64(array) => Leaf::Integer(array.value(row)),
            End::Int32(array) => Leaf::Integer(array.value(row).into()),
            End::Float64(array) => finite(array.value(row)),
            End::Utf8(array) => Leaf::Str(array.value(row)),
            End::LargeUtf8(array) => Leaf::Str(array.value(row)),
            End::Utf8View(array) => Leaf::Str(array.value(row)),
            // Containers, and integers beyond i64, as the document conversion builds them.
            End::Other(array) => match scalar(array, row)? {
                Some(leaf) => leaf,
                None => Leaf::Value(to_json(array, row)?),
            },
        })
    }
}

/// JSON has no NaN nor infinities: they read as null.
fn finite(f: f64) -> acs_engine::Leaf<'static> {
    if f.is_finite() {
        acs_engine::Leaf::Float(f)
    } else {
        acs_engine::Leaf::Null
    }
}

impl<'a> LeafColumns<'a> {
    fn of(plan: &acs_engine::Plan, roots: &[(&'static str, &'a dyn Array)]) -> LeafColumns<'a> {
        let resolve = |event_type: Option<&str>| {
            let layout = plan.leaf_layout(event_type);
            let paths = layout
                .paths()
                .iter()
                .map(|path| PathAt::of(roots, path))
                .collect::<Option<Vec<_>>>()?;
            Some(PathsAt { layout, paths })
        };
        LeafColumns {
            by_type: plan
                .event_types()
                .into_iter()
                .map(|t| (t.to_owned(), resolve(Some(t))))
                .collect(),
            other: resolve(None),
        }
    }

    fn for_type(&self, event_type: Option<&str>) -> Option<&PathsAt<'a>> {
        match event_type.and_then(|t| self.by_type.get(t)) {
            Some(found) => found.as_ref(),
            None => self.other.as_ref(),
        }
    }
}

impl<'a> PathAt<'a> {
    /// `Some(None)`: no column has `path`; `None`: it runs through a column that is not a
    /// struct.
    fn of(roots: &[(&'static str, &'a dyn Array)], path: &[String]) -> Option<Option<PathAt<'a>>> {
        let Some((root, keys)) = path.split_first() else {
            return Some(None);
        };
        let Some((_, mut end)) = roots.iter().find(|(name, _)| name == root).copied() else {
            return Some(None);
        };
        let mut on_the_way = Vec::with_capacity(keys.len());
        for key in keys {
            match end.data_type() {
                DataType::Struct(_) => {
                    let object = end.as_struct_opt()?;
                    on_the_way.push(object);
                    match object.column_by_name(key) {
                        Some(child) => end = child.as_ref(),
                        None => return Some(None),
                    }
                }
                // What is no object in any row has no fields: the path is absent.
                DataType::Boolean
                | DataType::Null
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::List(_)
                | DataType::LargeList(_)
                | DataType::FixedSizeList(_, _) => return Some(None),
                t if t.is_numeric() => return Some(None),
                _ => return None,
            }
        }
        let nulls = on_the_way
            .into_iter()
            .filter_map(|object: &'a StructArray| object.nulls())
            .chain(end.nulls())
            .collect();
        Some(Some(PathAt {
            nulls,
            len: end.len(),
            end: End::of(end),
        }))
    }

    /// The leaf at row `row`, as the document conversion reads it (`to_json`).
    fn leaf(&self, row: usize) -> Result<acs_engine::Leaf<'a>, String> {
        if self.absent(row) {
            return Ok(acs_engine::Leaf::Absent);
        }
        self.end.leaf(row)
    }

    /// The text at row `row`, when the path ends in a string column and the row has one.
    fn text(&self, row: usize) -> Option<&'a str> {
        if self.absent(row) {
            return None;
        }
        match self.end {
            End::Utf8(array) => Some(array.value(row)),
            End::LargeUtf8(array) => Some(array.value(row)),
            End::Utf8View(array) => Some(array.value(row)),
            _ => None,
        }
    }

    fn absent(&self, row: usize) -> bool {
        row >= self.len || self.nulls.iter().any(|nulls| nulls.is_null(row))
    }
}

/// A scalar of `array` at `row` (not null) as a leaf, strings borrowed from the buffer;
/// `None` for a type that is no scalar here (containers, integers beyond i64).
fn scalar(array: &dyn Array, row: usize) -> Result<Option<acs_engine::Leaf<'_>>, String> {
    use acs_engine::Leaf;
    let mismatch = || format!("unexpected array for type {}", array.data_type());
    let integer = |i: Option<i64>| i.map(Leaf::Integer).ok_or_else(mismatch);
    let float = finite;
    Ok(Some(match array.data_type() {
        DataType::Boolean => Leaf::Bool(array.as_boolean_opt().ok_or_else(mismatch)?.value(row)),
        DataType::Int8 => integer(integer_at::<Int8Type>(array, row))?,
        DataType::Int16 => integer(integer_at::<Int16Type>(array, row))?,
        DataType::Int32 => integer(integer_at::<Int32Type>(array, row))?,
        DataType::Int64 => integer(integer_at::<Int64Type>(array, row))?,
        DataType::UInt8 => integer(integer_at::<UInt8Type>(array, row))?,
        DataType::UInt16 => integer(integer_at::<UInt16Type>(array, row))?,
        DataType::UInt32 => integer(integer_at::<UInt32Type>(array, row))?,
        DataType::Float32 => float(f64::from(
            array
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(mismatch)?
                .value(row),
        )),
        DataType::Float64 => float(
            array
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(mismatch)?
                .value(row),
        ),
        DataType::Utf8 => Leaf::Str(
            array
                .as_string_opt::<i32>()
                .ok_or_else(mismatch)?
                .value(row),
        ),
        DataType::LargeUtf8 => Leaf::Str(
            array
                .as_string_opt::<i64>()
                .ok_or_else(mismatch)?
                .value(row),
        ),
        DataType::Utf8View => {
            Leaf::Str(array.as_string_view_opt().ok_or_else(mismatch)?.value(row))
        }
        _ => return Ok(None),
    }))
}

/// The integer of a primitive array of type `T` at `row`, for types every value of which
/// an `i64` holds (`UInt64` is not one); `None` when `array` is not of `T`.
fn integer_at<T>(array: &dyn Array, row: usize) -> Option<i64>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    array.as_primitive_opt::<T>().map(|a| a.value(row).into())
}

enum RowsFrom<'a> {
    Json(JsonColumn<'a>),
    Roots(Vec<(&'static str, &'a dyn Array)>),
}

/// What one row holds.
enum RowInput<'a> {
    /// JSON text, read in place.
    Json(&'a [u8]),
    /// A document built from root columns.
    Document(Value),
    /// Why the row holds no input.
    Invalid(String),
}

impl<'a> Rows<'a> {
    fn new(layout: &Layout, chunk: &'a dyn Array) -> PyResult<Rows<'a>> {
        let mismatch = || PyRuntimeError::new_err("a chunk of the input differs from its schema");
        let table = chunk.as_struct_opt();
        let column = |index: usize| -> PyResult<&'a dyn Array> {
            let table = table.ok_or_else(mismatch)?;
            Ok(table.columns().get(index).ok_or_else(mismatch)?.as_ref())
        };
        let inputs = match &layout.inputs {
            Inputs::Json(None) => RowsFrom::Json(JsonColumn::new(chunk).ok_or_else(mismatch)?),
            Inputs::Json(Some(index)) => {
                RowsFrom::Json(JsonColumn::new(column(*index)?).ok_or_else(mismatch)?)
            }
            Inputs::Roots(indexes) => {
                let mut roots = Vec::with_capacity(4);
                for (name, index) in ROOTS.into_iter().zip(indexes) {
                    if let Some(index) = index {
                        roots.push((name, column(*index)?));
                    }
                }
                RowsFrom::Roots(roots)
            }
        };
        let calls = match layout.calls {
            Some((calls, now)) => Some((
                JsonColumn::new(column(calls)?).ok_or_else(mismatch)?,
                now.map(column).transpose()?,
            )),
            None => None,
        };
        let velocity = match layout.velocity {
            Some(index) => Some(JsonColumn::new(column(index)?).ok_or_else(mismatch)?),
            None => None,
        };
        let outer = match layout.inputs {
            Inputs::Json(None) => None,
            _ => Some(table.ok_or_else(mismatch)?),
        };
        let event_type = match &inputs {
            RowsFrom::Roots(roots) => {
                PathAt::of(roots, &["event".to_owned(), "type".to_owned()]).flatten()
            }
            RowsFrom::Json(_) => None,
        };
        Ok(Rows {
            outer,
            inputs,
            calls,
            velocity,
            reads: None,
            leaves: None,
            event_type,
        })
    }

    /// Row `row`'s velocity counts, when the rows carry them (a row with none made no
    /// event): `Err` when they cannot be read.
    fn counts(&self, row: usize) -> Option<Result<SharedStore, String>> {
        let column = self.velocity.as_ref()?;
        let value = match column.get(row) {
            None => Value::Array(Vec::new()),
            Some(json) => match serde_json::from_slice(json) {
                Ok(value) => value,
                Err(e) => return Some(Err(format!("velocity counts: {e}"))),
            },
        };
        Some(backtest::recorded_counts(&value).map_err(|e| e.to_string()))
    }

    /// The input document of row `row`, when it holds one (the events of a backtest's
    /// timeline are read from documents).
    fn document(&self, engine: &Engine, row: usize) -> Option<Value> {
        match self.input(row) {
            RowInput::Invalid(_) => None,
            RowInput::Document(document) => Some(document),
            RowInput::Json(json) => engine.parse_input(json).ok(),
        }
    }

    /// The input of row `row`.
    fn input(&self, row: usize) -> RowInput<'a> {
        self.input_reading(row, None)
    }

    /// The input of row `row`, root columns converted only where `reads` says the plan
    /// may read them (all of them when `None`).
    fn input_reading(&self, row: usize, reads: Option<&Reads>) -> RowInput<'a> {
        if self.outer.is_some_and(|table| table.is_null(row)) {
            return RowInput::Invalid("the row is null".to_owned());
        }
        match &self.inputs {
            RowsFrom::Json(column) => match column.get(row) {
                None => RowInput::Invalid("the input is null".to_owned()),
                Some(json) => RowInput::Json(json),
            },
            RowsFrom::Roots(roots) => {
                let mut document = Map::new();
                for (name, column) in roots {
                    let part = match reads {
                        None => Some(&Reads::All),
                        Some(Reads::All) => Some(&Reads::All),
                        Some(Reads::Keys(keys)) => keys
                            .iter()
                            .find(|key| key.name == *name)
                            .map(|key| &key.below),
                    };
                    let Some(part) = part else {
                        continue;
                    };
                    if null_at(*column, row) {
                        continue;
                    }
                    match to_json_reading(*column, row, part) {
                        Ok(value) => {
                            document.insert((*name).to_owned(), value);
                        }
                        Err(e) => return RowInput::Invalid(format!("{name}: {e}")),
                    }
                }
                RowInput::Document(Value::Object(document))
            }
        }
    }

    /// Row `row`'s leaves at the read paths of its event type, with where they were read;
    /// `None` when the row is not read as leaves (a null row, a path through a map).
    #[allow(clippy::type_complexity, reason = "a private helper's one result")]
    fn leaves_of(
        &self,
        row: usize,
    ) -> Option<Result<(&PathsAt<'a>, Vec<acs_engine::Leaf<'a>>), String>> {
        if self.outer.is_some_and(|table| table.is_null(row)) {
            return None;
        }
        let at = self.leaves.as_ref()?.for_type(self.event_type(row))?;
        let mut leaves = Vec::with_capacity(at.paths.len());
        for (path, name) in at.paths.iter().zip(at.layout.paths()) {
            leaves.push(match path {
                None => acs_engine::Leaf::Absent,
                Some(path) => match path.leaf(row) {
                    Ok(leaf) => leaf,
                    Err(e) => return Some(Err(format!("{}: {e}", name.join(".")))),
                },
            });
        }
        Some(Ok((at, leaves)))
    }

    /// Row `row`'s `event.type` when its root columns give it as text.
    fn event_type(&self, row: usize) -> Option<&'a str> {
        self.event_type.as_ref()?.text(row)
    }

    /// The recorded answers of row `row`'s host calls and its recorded instant, when the
    /// rows carry them: `Err` when they cannot be read.
    fn recorded(&self, row: usize) -> Option<Result<(RecordedCalls, Option<f64>), String>> {
        let (calls, now) = self.calls.as_ref()?;
        let calls = match calls.get(row) {
            None => RecordedCalls::new(),
            Some(json) => match RecordedCalls::from_json(json) {
                Ok(calls) => calls,
                Err(e) => return Some(Err(e.to_string())),
            },
        };
        let now = now.and_then(|array| {
            if row >= array.len() || array.is_null(row) {
                return None;
            }
            if let Some(floats) = array.as_primitive_opt::<Float64Type>() {
                return Some(floats.value(row));
            }
            #[allow(clippy::cast_precision_loss, reason = "epoch milliseconds fit in 2^53")]
            array
                .as_primitive_opt::<Int64Type>()
                .map(|ints| ints.value(row) as f64)
        });
        Some(Ok((calls, now)))
    }

    /// Decide row `row` into `out`.
    fn decide(&self, engine: &Engine, row: usize, hash: RulesetHash, out: &mut Out) {
        let counts = match self.counts(row) {
            Some(Err(message)) => return out.error(&message, hash),
            Some(Ok(counts)) => Some(counts),
            None => None,
        };
        let recorded = self.recorded(row);
        if recorded.is_none() && counts.is_none() {
            if let Some(leaves) = self.leaves_of(row) {
                match leaves {
                    Err(message) => return out.error(&message, hash),
                    Ok((at, leaves)) => match engine.evaluate_leaves(&at.layout, leaves) {
                        Ok(Some(decision)) => return out.decision(&decision),
                        Err(e) => return out.error(&e.to_string(), hash),
                        // The plan changed since the chunk was read: as a document, below.
                        Ok(None) => {}
                    },
                }
            }
            let reads = self.reads.as_ref();
            let cut = reads.and_then(|r| r.for_type(self.event_type(row)));
            return match self.input_reading(row, cut) {
                RowInput::Invalid(message) => out.error(&message, hash),
                RowInput::Json(json) => match engine.evaluate_json(json) {
                    Ok(decision) => out.decision(&decision),
                    Err(e) => out.error(&e.to_string(), hash),
                },
                RowInput::Document(document) => {
                    let decision = engine.evaluate_owned(document);
                    match reads {
                        // A plan that a reload put in place meanwhile may read more.
                        Some(reads) if cut.is_some() && decision.generation != reads.generation => {
                            match self.input(row) {
                                RowInput::Document(whole) => {
                                    out.decision(&engine.evaluate_owned(whole))
                                }
                                _ => out.decision(&decision),
                            }
                        }
                        _ => out.decision(&decision),
                    }
                }
            };
        }
        let input = self.input(row);
        let document = match input {
            RowInput::Invalid(message) => return out.error(&message, hash),
            RowInput::Document(document) => document,
            RowInput::Json(json) => match engine.parse_input(json) {
                Ok(document) => document,
                Err(e) => return out.error(&e.to_string(), hash),
            },
        };
        let plan = engine.plan();
        match (recorded, counts) {
            (Some(Err(message)), _) => out.error(&message, hash),
            // Counts the recording holds are those production saw: they win.
            (Some(Ok((calls, now))), Some(counts)) if !calls.has_counts() => {
                let calls = calls.with_counts(counts);
                out.decision(&backtest::replay(&plan, &document, &calls, now));
            }
            (Some(Ok((calls, now))), _) => {
                out.decision(&backtest::replay(&plan, &document, &calls, now));
            }
            (None, Some(counts)) => {
                out.decision(&backtest::decide_with_counts(&plan, &document, &counts));
            }
            (None, None) => {} // decided above
        }
    }

    /// Count row `row` as line `line` of a backtest.
    fn count(&self, engine: &Engine, row: usize, line: u64, part: &mut BacktestPart) {
        let input = self.input(row);
        let counts = match self.counts(row) {
            Some(Err(message)) => return part.add_invalid(line, &message),
            Some(Ok(counts)) => Some(counts),
            None => None,
        };
        let counts = counts.as_ref();
        let recorded = match self.recorded(row) {
            Some(Err(message)) => return part.add_invalid(line, &message),
            Some(Ok(recorded)) => Some(recorded),
            None => None,
        };
        let calls = recorded.as_ref().map(|(calls, now)| (calls, *now));
        match input {
            RowInput::Invalid(message) => part.add_document(line, Err(&message), None, None),
            // A blank line is blank, recorded calls or not (`acs replay` skips it).
            RowInput::Json(json) if json.iter().all(u8::is_ascii_whitespace) => {
                part.add_json(line, json);
            }
            // Without recordings, the line is read as `acs replay` reads it.
            RowInput::Json(json) if calls.is_none() => part.add_json_counted(line, json, counts),
            RowInput::Json(json) => match engine.parse_input(json) {
                Ok(document) => part.add_document(line, Ok(&document), calls, counts),
                Err(e) => part.add_invalid(line, &e.to_string()),
            },
            RowInput::Document(document) => part.add_document(line, Ok(&document), calls, counts),
        }
    }
}

/// The velocity events of every row of `data` (a backtest's input, as `count_arrow`
/// reads it; the `numbers` column numbers the rows), one output row per event: `line`,
/// `counter`, `key`, `at` (epoch ms, null when the row gives none), `id`, and `read`:
/// true for a count the row's rules read of a key it does not count in (not an event).
pub fn events_arrow(
    py: Python<'_>,
    engine: &Engine,
    backtest: &acs_engine::backtest::Backtest,
    data: &Bound<'_, PyAny>,
    columns: &Columns<'_>,
    numbers: &str,
) -> PyResult<PyRecordBatch> {
    let reader = arrow_input(py, data)?.into_reader()?;
    let field = reader.field();
    let layout = Layout::of(&field, columns, engine.limits().max_input_depth)?;
    let index = match field.data_type() {
        DataType::Struct(fields) => fields.find(numbers).map(|(index, _)| index),
        _ => None,
    }
    .ok_or_else(|| PyValueError::new_err(format!("no line column {numbers:?}")))?;
    let mut lines = arrow_array::builder::Int64Builder::new();
    let mut counters = StringBuilder::new();
    let mut keys = StringBuilder::new();
    let mut instants = arrow_array::builder::Float64Builder::new();
    let mut ids = StringBuilder::new();
    let mut reads = arrow_array::builder::BooleanBuilder::new();
    for chunk in reader {
        let chunk = chunk.map_err(|e| PyValueError::new_err(format!("reading the input: {e}")))?;
        let rows = Rows::new(&layout, chunk.as_ref())?;
        let numbered = chunk
            .as_struct_opt()
            .and_then(|table| table.columns().get(index))
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| {
                PyTypeError::new_err(format!("line column {numbers:?} must be int64"))
            })?;
        py.detach(|| {
            for row in 0..chunk.len() {
                if numbered.is_null(row) {
                    continue;
                }
                let Some(document) = rows.document(engine, row) else {
                    continue;
                };
                let events = backtest.events(&document).into_iter().map(|e| (e, false));
                let read = backtest.reads(&document).into_iter().map(|e| (e, true));
                for (event, read) in events.chain(read) {
                    lines.append_value(numbered.value(row));
                    counters.append_value(&event.counter);
                    keys.append_value(&event.key);
                    instants.append_option(event.at);
                    ids.append_option(event.id.as_deref());
                    reads.append_value(read);
                }
            }
        });
    }
    let batch = RecordBatch::try_new(
        events_schema(),
        vec![
            Arc::new(lines.finish()),
            Arc::new(counters.finish()),
            Arc::new(keys.finish()),
            Arc::new(instants.finish()),
            Arc::new(ids.finish()),
            Arc::new(reads.finish()),
        ],
    )
    .map_err(|e| PyRuntimeError::new_err(format!("assembling the events: {e}")))?;
    Ok(PyRecordBatch::new(batch))
}

/// The schema of [`events_arrow`]'s output, which [`counts_arrow`] reads.
pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("line", DataType::Int64, false),
        Field::new("counter", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("at", DataType::Float64, true),
        Field::new("id", DataType::Utf8, true),
        Field::new("read", DataType::Boolean, false),
    ]))
}

/// The counts each event of `data` (rows of [`events_schema`], holding every event of
/// their counters and keys: a Spark partition after a shuffle by counter and key) reads,
/// in the timeline of those events: one output row per event, `line` and `velocity` (a
/// JSON object `{"counter", "key", "windows", "counts"}`).
pub fn counts_arrow(
    py: Python<'_>,
    backtest: &acs_engine::backtest::Backtest,
    data: &Bound<'_, PyAny>,
) -> PyResult<PyRecordBatch> {
    let reader = arrow_input(py, data)?.into_reader()?;
    let mut timeline = backtest.timeline();
    let wrong = || {
        PyTypeError::new_err(
            "events must have the columns line int64, counter string, key string, at float64, id string, read bool",
        )
    };
    for chunk in reader {
        let chunk = chunk.map_err(|e| PyValueError::new_err(format!("reading the events: {e}")))?;
        let table = chunk.as_struct_opt().ok_or_else(wrong)?;
        let column = |name: &str| table.column_by_name(name).ok_or_else(wrong);
        let lines = column("line")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(wrong)?;
        let counters = column("counter")?
            .as_string_opt::<i32>()
            .ok_or_else(wrong)?;
        let keys = column("key")?.as_string_opt::<i32>().ok_or_else(wrong)?;
        let instants = column("at")?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(wrong)?;
        let ids = column("id")?.as_string_opt::<i32>().ok_or_else(wrong)?;
        let reads = column("read")?.as_boolean_opt().ok_or_else(wrong)?;
        for row in 0..chunk.len() {
            if lines.is_null(row) || counters.is_null(row) || keys.is_null(row) {
                continue;
            }
            let at = instants.is_valid(row).then(|| instants.value(row));
            let id = ids.is_valid(row).then(|| ids.value(row).to_owned());
            let event = CountedEvent::new(counters.value(row), keys.value(row), id, at);
            let line = u64::try_from(lines.value(row)).unwrap_or_default();
            if reads.is_valid(row) && reads.value(row) {
                timeline.add_read(line, event);
            } else {
                timeline.add(line, [event]);
            }
        }
    }
    let (lines, velocity) = py.detach(|| {
        let sealed = timeline.seal();
        let mut lines = arrow_array::builder::Int64Builder::new();
        let mut velocity = StringBuilder::new();
        sealed.each_event(|event| {
            let windows: Vec<String> = event.windows.iter().map(ToString::to_string).collect();
            let json = serde_json::json!({
                "counter": event.counter,
                "key": event.key,
                "windows": windows,
                "counts": event.counts,
            });
            lines.append_value(i64::try_from(event.line).unwrap_or(i64::MAX));
            velocity.append_value(json.to_string());
        });
        (lines.finish(), velocity.finish())
    });
    let schema = Arc::new(Schema::new(vec![
        Field::new("line", DataType::Int64, false),
        Field::new("velocity", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(lines), Arc::new(velocity)])
        .map_err(|e| PyRuntimeError::new_err(format!("assembling the counts: {e}")))?;
    Ok(PyRecordBatch::new(batch))
}

/// Count every row of `data` (a backtest's input, in any Arrow form: see the module doc)
/// into `part`, numbering them from `first_line`; the number of rows.
///
/// With `numbers`, the column of that name numbers the rows instead (int64, 1-based, no
/// nulls): the rows' order then does not matter.
pub fn count_arrow(
    py: Python<'_>,
    engine: &Engine,
    part: &mut BacktestPart,
    data: &Bound<'_, PyAny>,
    columns: &Columns<'_>,
    numbers: Option<&str>,
    first_line: u64,
) -> PyResult<u64> {
    let reader = arrow_input(py, data)?.into_reader()?;
    let field = reader.field();
    let layout = Layout::of(&field, columns, engine.limits().max_input_depth)?;
    let numbers = match numbers {
        None => None,
        Some(name) => {
            let found = match field.data_type() {
                DataType::Struct(fields) => fields.find(name),
                _ => None,
            };
            let Some((index, numbers)) = found else {
                return Err(PyValueError::new_err(format!("no line column {name:?}")));
            };
            if numbers.data_type() != &DataType::Int64 {
                return Err(PyTypeError::new_err(format!(
                    "line column {name:?} is of type {}; line numbers are int64",
                    numbers.data_type()
                )));
            }
            Some((name, index))
        }
    };
    let mut line = first_line;
    let mut counted = 0;
    for chunk in reader {
        let chunk = chunk.map_err(|e| PyValueError::new_err(format!("reading the input: {e}")))?;
        let rows = Rows::new(&layout, chunk.as_ref())?;
        let numbered = match numbers {
            Some((name, index)) => {
                let column = chunk
                    .as_struct_opt()
                    .and_then(|table| table.columns().get(index))
                    .and_then(|c| c.as_primitive_opt::<Int64Type>())
                    .ok_or_else(|| {
                        PyRuntimeError::new_err("a chunk of the input differs from its schema")
                    })?;
                if column.null_count() > 0 {
                    return Err(PyValueError::new_err(format!(
                        "line column {name:?} has {} null rows",
                        column.null_count()
                    )));
                }
                if let Some(bad) = column.values().iter().find(|&&n| n < 1) {
                    return Err(PyValueError::new_err(format!(
                        "line column {name:?} holds {bad}; line numbers start at 1"
                    )));
                }
                Some(column)
            }
            None => None,
        };
        py.detach(|| {
            for row in 0..chunk.len() {
                let number = numbered.map_or(line, |column| {
                    u64::try_from(column.value(row)).unwrap_or_default()
                });
                rows.count(engine, row, number, part);
                line += 1;
            }
        });
        counted += chunk.len() as u64;
    }
    Ok(counted)
}

/// A column of JSON documents, by its physical type.
enum JsonColumn<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    Binary(&'a arrow_array::BinaryArray),
    LargeBinary(&'a arrow_array::LargeBinaryArray),
    BinaryView(&'a arrow_array::BinaryViewArray),
    Null,
}

impl<'a> JsonColumn<'a> {
    fn new(array: &'a dyn Array) -> Option<JsonColumn<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => JsonColumn::Utf8(array.as_string_opt()?),
            DataType::LargeUtf8 => JsonColumn::LargeUtf8(array.as_string_opt()?),
            DataType::Utf8View => JsonColumn::Utf8View(array.as_string_view_opt()?),
            DataType::Binary => JsonColumn::Binary(array.as_binary_opt()?),
            DataType::LargeBinary => JsonColumn::LargeBinary(array.as_binary_opt()?),
            DataType::BinaryView => JsonColumn::BinaryView(array.as_binary_view_opt()?),
            DataType::Null => JsonColumn::Null,
            _ => return None,
        })
    }

    /// The bytes of row `row`, borrowed from the Arrow buffer; `None` when it is null.
    fn get(&self, row: usize) -> Option<&'a [u8]> {
        fn at<A: Array>(array: &A, row: usize) -> bool {
            row < array.len() && array.is_valid(row)
        }
        match self {
            JsonColumn::Utf8(a) => at(*a, row).then(|| a.value(row).as_bytes()),
            JsonColumn::LargeUtf8(a) => at(*a, row).then(|| a.value(row).as_bytes()),
            JsonColumn::Utf8View(a) => at(*a, row).then(|| a.value(row).as_bytes()),
            JsonColumn::Binary(a) => at(*a, row).then(|| a.value(row)),
            JsonColumn::LargeBinary(a) => at(*a, row).then(|| a.value(row)),
            JsonColumn::BinaryView(a) => at(*a, row).then(|| a.value(row)),
            JsonColumn::Null => None,
        }
    }
}

/// The JSON value of `array` at `row` (see the table in the module doc). The types were
/// checked by [`check_value_type`]; one that was not is an error, never a panic.
fn to_json(array: &dyn Array, row: usize) -> Result<Value, String> {
    if row >= array.len() {
        return Err(format!("row {row} is beyond the array's {}", array.len()));
    }
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    if let Some(leaf) = scalar(array, row)? {
        return Ok(match leaf {
            acs_engine::Leaf::Bool(b) => Value::Bool(b),
            acs_engine::Leaf::Integer(i) => Value::from(i),
            acs_engine::Leaf::Float(f) => float(f),
            acs_engine::Leaf::Str(text) => Value::String(text.to_owned()),
            // `scalar` gives no other kind of leaf.
            _ => Value::Null,
        });
    }
    let mismatch = || format!("unexpected array for type {}", array.data_type());
    Ok(match array.data_type() {
        DataType::Null => Value::Null,
        DataType::UInt64 => int(array.as_primitive_opt::<UInt64Type>(), row, mismatch)?,
        DataType::Struct(_) => {
            let array = array.as_struct_opt().ok_or_else(mismatch)?;
            let mut object = Map::new();
            for (field, column) in array.fields().iter().zip(array.columns()) {
                if null_at(column.as_ref(), row) {
                    continue;
                }
                object.insert(field.name().clone(), to_json(column.as_ref(), row)?);
            }
            Value::Object(object)
        }
        DataType::List(_) => list(array.as_list_opt::<i32>().ok_or_else(mismatch)?, row)?,
        DataType::LargeList(_) => list(array.as_list_opt::<i64>().ok_or_else(mismatch)?, row)?,
        DataType::FixedSizeList(_, size) => {
            let array = array.as_fixed_size_list_opt().ok_or_else(mismatch)?;
            let size = usize::try_from(*size).map_err(|_| mismatch())?;
            let start = row.checked_mul(size).ok_or_else(mismatch)?;
            let values = array.values();
            let items = (start..start.saturating_add(size))
                .map(|i| to_json(values.as_ref(), i))
                .collect::<Result<_, _>>()?;
            Value::Array(items)
        }
        DataType::Map(_, _) => {
            let array = array.as_map_opt().ok_or_else(mismatch)?;
            let (start, end) = bounds(array.value_offsets(), row).ok_or_else(mismatch)?;
            let (keys, values) = (array.keys(), array.values());
            let mut object = Map::new();
            for i in start..end {
                let Value::String(key) = to_json(keys.as_ref(), i)? else {
                    return Err(format!(
                        "a key of a map of type {} is null",
                        array.data_type()
                    ));
                };
                object.insert(key, to_json(values.as_ref(), i)?);
            }
            Value::Object(object)
        }
        other => return Err(format!("type {other} has no JSON form here")),
    })
}

/// [`to_json`] of only the members of structs that `reads` names.
fn to_json_reading(array: &dyn Array, row: usize, reads: &Reads) -> Result<Value, String> {
    let Reads::Keys(keys) = reads else {
        return to_json(array, row);
    };
    let Some(object) = array.as_struct_opt() else {
        return to_json(array, row);
    };
    if row >= array.len() || array.is_null(row) {
        return to_json(array, row);
    }
    let mut document = Map::new();
    for (field, column) in object.fields().iter().zip(object.columns()) {
        let Some(part) = keys
            .iter()
            .find(|key| key.name == *field.name())
            .map(|key| &key.below)
        else {
            continue;
        };
        if null_at(column.as_ref(), row) {
            continue;
        }
        document.insert(
            field.name().clone(),
            to_json_reading(column.as_ref(), row, part)?,
        );
    }
    Ok(Value::Object(document))
}

/// Whether `array` has no value at `row` (a row beyond it included: Arrow's own check
/// panics there).
fn null_at(array: &dyn Array, row: usize) -> bool {
    row >= array.len() || array.is_null(row)
}

fn int<T>(
    array: Option<&arrow_array::PrimitiveArray<T>>,
    row: usize,
    mismatch: impl Fn() -> String,
) -> Result<Value, String>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: Into<Value>,
{
    Ok(array.ok_or_else(mismatch)?.value(row).into())
}

fn float(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn list<O: OffsetSizeTrait>(
    array: &arrow_array::GenericListArray<O>,
    row: usize,
) -> Result<Value, String> {
    let (start, end) = bounds(array.value_offsets(), row)
        .ok_or_else(|| format!("row {row} of a list has no offsets"))?;
    let values = array.values();
    let items = (start..end)
        .map(|i| to_json(values.as_ref(), i))
        .collect::<Result<_, _>>()?;
    Ok(Value::Array(items))
}

/// The range of child rows of list row `row`.
fn bounds<O: OffsetSizeTrait>(offsets: &[O], row: usize) -> Option<(usize, usize)> {
    let start = offsets.get(row)?.as_usize();
    let end = offsets.get(row + 1)?.as_usize();
    (start <= end).then_some((start, end))
}

/// The output's columns (see the module doc).
fn output_schema() -> SchemaRef {
    let list = DataType::List(item_field());
    Arc::new(Schema::new(vec![
        Field::new("verdict", DataType::Utf8, false),
        Field::new("code", DataType::Utf8, true),
        Field::new("rule_id", DataType::Utf8, true),
        Field::new("matched_ids", list.clone(), false),
        Field::new("shadow_matched_ids", list.clone(), false),
        Field::new("errors", list, false),
        Field::new("ruleset_hash", DataType::Utf8, false),
    ]))
}

fn item_field() -> FieldRef {
    Arc::new(Field::new("item", DataType::Utf8, false))
}

/// The output columns of a range of rows, built as the rows are decided.
struct Out {
    verdict: StringBuilder,
    code: StringBuilder,
    rule_id: StringBuilder,
    matched: ListBuilder<StringBuilder>,
    shadow: ListBuilder<StringBuilder>,
    errors: ListBuilder<StringBuilder>,
    hash: StringBuilder,
}

impl Out {
    fn with_capacity(rows: usize) -> Out {
        let list =
            || ListBuilder::with_capacity(StringBuilder::new(), rows).with_field(item_field());
        // Verdicts and hashes are short and fixed; ids average well under 32 bytes.
        Out {
            verdict: StringBuilder::with_capacity(rows, rows * 8),
            code: StringBuilder::with_capacity(rows, rows * 8),
            rule_id: StringBuilder::with_capacity(rows, rows * 8),
            matched: list(),
            shadow: list(),
            errors: list(),
            hash: StringBuilder::with_capacity(rows, rows * 71),
        }
    }

    fn decision(&mut self, decision: &Decision) {
        match &decision.verdict {
            Verdict::Rejected(rejection) => {
                self.verdict.append_value("rejected");
                self.code.append_option(rejection.code());
                self.rule_id.append_value(rejection.rule_id());
            }
            Verdict::Allowed => {
                self.verdict.append_value("allowed");
                self.code.append_null();
                self.rule_id.append_null();
            }
        }
        for m in &decision.matched {
            self.matched.values().append_value(m.id());
        }
        self.matched.append(true);
        for m in &decision.shadow_matched {
            self.shadow.values().append_value(m.id());
        }
        self.shadow.append(true);
        let messages = self.errors.values();
        for e in &decision.errors {
            // Written straight into the builder's buffer: no string per error. Writing to
            // a builder cannot fail; the empty value closes the one written.
            let _ = write!(messages, "{}: {}", e.rule_id, e.message);
            messages.append_value("");
        }
        self.errors.append(true);
        self.hash.append_value(decision.ruleset_hash.as_str());
    }

    /// A row that could not be decided.
    fn error(&mut self, message: &str, hash: RulesetHash) {
        self.verdict.append_value("error");
        self.code.append_null();
        self.rule_id.append_null();
        self.matched.append(true);
        self.shadow.append(true);
        self.errors.values().append_value(message);
        self.errors.append(true);
        self.hash.append_value(hash.as_str());
    }

    fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            output_schema(),
            vec![
                Arc::new(self.verdict.finish()),
                Arc::new(self.code.finish()),
                Arc::new(self.rule_id.finish()),
                Arc::new(self.matched.finish()),
                Arc::new(self.shadow.finish()),
                Arc::new(self.errors.finish()),
                Arc::new(self.hash.finish()),
            ],
        )
    }
}
